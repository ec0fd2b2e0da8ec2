//! Report renderers: terminal tables, JSON, CSV files and a self-contained HTML page.

mod csv_out;
pub mod html;
pub mod table;

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

/// Writes to a file, or to stdout (a closed pipe is not an error).
pub fn to_file_or_stdout(out: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    match out {
        Some(p) => {
            std::fs::write(p, bytes).with_context(|| format!("cannot write `{}`", p.display()))
        }
        None => {
            let mut o = std::io::stdout().lock();
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
            eprintln!("wrote {} CSV files to {}", files, dir.display());
            Ok(())
        }
        OutputKind::Html => to_file_or_stdout(out, html::render(report).as_bytes()),
    }
}
