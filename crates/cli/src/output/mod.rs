//! Report renderers: terminal tables, JSON, CSV files and a self-contained HTML page.

mod csv_out;
pub mod html;
pub mod table;

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use hitstream_analyze::Report;

/// Output formats of `analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputKind {
    /// Readable tables for a terminal.
    Table,
    /// One JSON document (schema `hitstream.analyze/1`).
    Json,
    /// One CSV file per table, into a directory.
    Csv,
    /// One self-contained HTML file with SVG charts.
    Html,
}

// `is_unsafe_char` is re-exported for the tests of the renderers that check their output.
#[allow(unused_imports)]
pub use crate::text::{clean, clean_lines, is_unsafe_char};

/// How a report names the clock of its day and hour buckets, for headings: `UTC` (the
/// default), `time as written in the log` (`--tz as-written`), an offset or a zone name.
pub fn clock_label(basis: &str) -> String {
    match basis {
        "as-written" => "time as written in the log".to_string(),
        b => b.to_string(),
    }
}

/// First characters that make a spreadsheet read a CSV cell as a formula (OWASP, "CSV
/// Injection"): `=`, `+`, `-`, `@`, tab and carriage return.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A text cell of CSV output that no spreadsheet runs as a formula: a cell from a log that
/// begins with one of [`FORMULA_START`] (a user agent `=HYPERLINK(...)`, a path `@SUM(...)`)
/// gets a leading `'`, as OWASP recommends; the spreadsheet then shows it as text. Left as
/// they are: a lone `-` (the logs' "absent", not a formula) and a plain decimal number such as
/// `-12.5` (a spreadsheet reads it as that number, never as a formula). Numeric columns are
/// never changed.
pub fn csv_text(s: &str) -> Cow<'_, str> {
    match s.chars().next() {
        Some(c) if FORMULA_START.contains(&c) && s != "-" && !is_plain_number(s) => {
            Cow::Owned(format!("'{s}"))
        }
        _ => Cow::Borrowed(s),
    }
}

/// `[+-]digits[.digits][e[+-]digits]`, at least one digit before the exponent.
fn is_plain_number(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |i: &mut usize| {
        let from = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - from
    };
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let mut n = digits(&mut i);
    if b.get(i) == Some(&b'.') {
        i += 1;
        n += digits(&mut i);
    }
    if n == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Writes to a file, or to stdout (a closed pipe is not an error). Data written to a file or a
/// pipe is left as it is (a CSV cell keeps the log's bytes); on a terminal, every output
/// (CSV and HTML too) goes through [`clean_lines`], so that no log text drives the terminal.
pub fn to_file_or_stdout(out: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    match out {
        Some(p) => {
            std::fs::write(p, bytes).with_context(|| format!("cannot write `{}`", p.display()))
        }
        None => {
            use std::io::IsTerminal;
            let mut o = std::io::stdout().lock();
            let shown;
            let bytes = if o.is_terminal() {
                shown = clean_lines(&String::from_utf8_lossy(bytes)).into_owned();
                shown.as_bytes()
            } else {
                bytes
            };
            match o.write_all(bytes).and_then(|_| o.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.context("writing to stdout"),
            }
        }
    }
}

/// Writes a report in the chosen format to `out` (a file, a directory for CSV, or stdout).
pub fn write(report: &Report, kind: OutputKind, out: Option<&Path>) -> anyhow::Result<()> {
    match kind {
        OutputKind::Table => to_file_or_stdout(out, table::render(report).as_bytes()),
        OutputKind::Json => {
            let mut s = serde_json::to_vec_pretty(report).context("serialising the report")?;
            s.push(b'\n');
            to_file_or_stdout(out, &s)
        }
        OutputKind::Csv => {
            let dir = out.unwrap_or(Path::new("hitstream-csv"));
            let files = csv_out::write_dir(report, dir)?;
            crate::verbosity::info!("wrote {} CSV files to {}", files, dir.display());
            Ok(())
        }
        OutputKind::Html => to_file_or_stdout(out, html::render(report).as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_text_keeps_no_control_character() {
        assert_eq!(clean("plain · text ü"), "plain · text ü");
        assert!(matches!(clean("plain"), Cow::Borrowed(_)));
        // C0 (ESC, BEL, CR, TAB, NUL), DEL, C1 (CSI U+009B), bidi overrides and isolates.
        assert_eq!(
            clean("a\u{1b}]0;t\u{7}b\u{1b}[2J\r\t\0\u{7f}\u{9b}\u{202E}\u{2066}c"),
            "a\u{fffd}]0;t\u{fffd}b\u{fffd}[2J\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}c"
        );
        assert_eq!(clean("a\nb"), "a\u{fffd}b");
        assert_eq!(clean_lines("a\u{1b}\nb\n"), "a\u{fffd}\nb\n");
    }

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_get_a_quote() {
        for evil in [
            "=HYPERLINK(\"http://x\",\"y\")",
            "+1+cmd|' /C calc'!A0",
            "-2+3",
            "@SUM(A1:A9)",
            "\t=1",
            "\r=1",
            "--",
            "-e",
            "+",
        ] {
            assert_eq!(csv_text(evil), format!("'{evil}"), "{evil:?}");
        }
        for fine in [
            "-",
            "-12",
            "-12.5",
            "+3",
            "-.5",
            "-1e5",
            "1=1",
            "Mozilla/5.0",
            "",
            " =1",
        ] {
            assert_eq!(csv_text(fine), fine, "{fine:?}");
        }
    }
}
