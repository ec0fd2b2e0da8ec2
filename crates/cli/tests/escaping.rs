//! Hostile log text on the way out: escape sequences in a log must never reach a terminal raw
//! (from `run`'s windows and ALERT lines, `sql`, `report`, `analyze`, error messages), and no
//! CSV cell taken from a log may be a spreadsheet formula. All through the real binary.

mod common;

use std::path::Path;
use std::process::Command;

use common::{bin, ok};

/// Sets the terminal's title, clears the screen, a C1 CSI (as UTF-8) and a right-to-left
/// override: what an attacker puts in a user agent or a path.
const EVIL: &str = "\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m\u{202E}";

/// 30 lines of a scanner whose host name, path and user agent carry [`EVIL`] (raw, and once
/// more as nginx's `\x1B` escapes, which the parser decodes), then lines whose user agents
/// are spreadsheet formulas.
fn hostile_log(dir: &Path) -> std::path::PathBuf {
    let mut text = String::new();
    for i in 0..30 {
        let host = if i % 2 == 0 {
            format!("evil{EVIL}.example")
        } else {
            "7.7.7.7".to_string()
        };
        text.push_str(&format!(
            "{host} - - [07/Dec/2026:10:00:{i:02} +0000] \"GET /wp-{i}{EVIL}.php HTTP/1.1\" \
             404 10 \"-\" \"Mozilla{EVIL} \\x1B[31mred\\x07\"\n"
        ));
    }
    text.push_str(
        "8.8.8.8 - - [07/Dec/2026:10:01:00 +0000] \"GET / HTTP/1.1\" 200 10 \"-\" \
         \"=HYPERLINK(\\\"http://evil.example/\\\",\\\"click\\\")\"\n\
         8.8.8.8 - - [07/Dec/2026:10:01:01 +0000] \"GET / HTTP/1.1\" 200 10 \"-\" \
         \"@SUM(1+1)*cmd|' /C calc'!A0\"\n\
         8.8.8.8 - - [07/Dec/2026:10:02:00 +0000] \"GET / HTTP/1.1\" 200 10 \"-\" \"-\"\n",
    );
    let log = dir.join("hostile.log");
    std::fs::write(&log, text).unwrap();
    log
}

/// Fails unless `bytes` hold no control character but line breaks (and, when `pty`, the
/// carriage returns a terminal adds before them), no C1 control and no bidi override.
fn assert_clean(what: &str, bytes: &[u8], pty: bool) {
    let text = String::from_utf8_lossy(bytes);
    let bad: Vec<(usize, char)> = text
        .char_indices()
        .filter(|&(i, c)| {
            let line_end = c == '\n' || (pty && c == '\r' && text[i + 1..].starts_with('\n'));
            !line_end
                && (c.is_control()
                    || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{what}: {} raw control characters reach the terminal, first {:?}:\n{text}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
    assert!(!bytes.contains(&0x1b), "{what}: a raw ESC byte");
}

fn alert_config(dir: &Path, log: &Path) -> std::path::PathBuf {
    let cfg = dir.join("h.toml");
    std::fs::write(
        &cfg,
        format!(
            "format = \"combined\"\n[[source]]\ntype = \"file\"\npaths = [{:?}]\nfollow = false\n\
             [window]\nsize = \"1m\"\nlateness = \"0s\"\n\
             [[alert]]\nkind = \"client_404_burst\"\nthreshold = 5\n",
            log.display().to_string()
        ),
    )
    .unwrap();
    cfg
}

/// `run` (windows on stdout, ALERT lines on stderr), then `sql`, `report daily`, `report
/// range` and `analyze` as tables, and an error that quotes the query: none lets the escape
/// sequences of the log through, and the log text is still there, visibly replaced.
#[test]
fn log_text_reaches_the_terminal_only_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let log = hostile_log(tmp.path());
    let lake = tmp.path().join("lake");
    let cfg = alert_config(tmp.path(), &log);

    let run = Command::new(bin())
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--data")
        .arg(&lake)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "{stderr}");
    let alert = stderr
        .lines()
        .find(|l| l.starts_with("ALERT") && l.contains("evil"))
        .unwrap_or_else(|| panic!("the scanner's alert fires:\n{stderr}"));
    assert!(
        alert.contains(
            "client evil\u{fffd}]0;owned\u{fffd}\u{fffd}[2J\u{fffd}31m\u{fffd}.example had 15"
        ),
        "{alert}"
    );
    assert_clean("run stderr (ALERT lines)", &run.stderr, false);
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("/wp-"),
        "windows are printed"
    );
    assert_clean("run stdout (windows)", &run.stdout, false);

    let sql = |q: &str| {
        Command::new(bin())
            .args(["sql", "--data"])
            .arg(&lake)
            .arg(q)
            .output()
            .unwrap()
    };
    let o = sql("SELECT client, path, user_agent FROM requests ORDER BY time LIMIT 4");
    assert_clean("sql stderr", &o.stderr, false);
    let table = ok(o);
    assert!(
        table.contains("/wp-0\u{fffd}]0;owned\u{fffd}\u{fffd}[2J"),
        "{table}"
    );
    // nginx's `\x1B` escapes were decoded into the lake, and are escaped again on the way out.
    assert!(table.contains("\u{fffd}[31mred\u{fffd}"), "{table}");
    assert_clean("sql table", table.as_bytes(), false);

    // An error that quotes the query (a table name with escapes in it).
    let o = sql("SELECT * FROM \"x\u{1b}]0;owned\u{7}\"");
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("x\u{fffd}]0;owned\u{fffd}"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_clean("sql error", &o.stderr, false);

    for args in [
        &["report", "daily", "--date", "2026-12-07", "--no-save"][..],
        &["report", "range"][..],
    ] {
        let o = Command::new(bin())
            .args(args)
            .arg("--data")
            .arg(&lake)
            .output()
            .unwrap();
        assert_clean(&format!("{args:?} stderr"), &o.stderr, false);
        let text = ok(o);
        assert!(text.contains("/wp-1\u{fffd}]0;owned"), "{args:?}: {text}");
        assert_clean(&format!("{args:?}"), text.as_bytes(), false);
    }

    let o = Command::new(bin())
        .args(["analyze", "--format", "combined"])
        .arg(&log)
        .output()
        .unwrap();
    assert_clean("analyze stderr", &o.stderr, false);
    let text = ok(o);
    assert!(text.contains("Mozilla\u{fffd}]0;owned"), "{text}");
    assert_clean("analyze", text.as_bytes(), false);
}

/// Every CSV writer (`sql`, `analyze`, `report daily`) gives a user agent that is a formula a
/// leading `'`; numbers (negative ones too) and a lone `-` stay as they are.
#[test]
fn csv_cells_from_a_log_are_never_spreadsheet_formulas() {
    let tmp = tempfile::tempdir().unwrap();
    let log = hostile_log(tmp.path());
    let lake = tmp.path().join("lake");
    ok(Command::new(bin())
        .args(["run", "--format", "combined", "--no-alerts", "--file"])
        .arg(&log)
        .arg("--data")
        .arg(&lake)
        .output()
        .unwrap());
    let csv = ok(Command::new(bin())
        .args(["sql", "-o", "csv", "--data"])
        .arg(&lake)
        .arg(
            "SELECT user_agent, CAST(status AS BIGINT) - 500 AS delta FROM requests \
             WHERE client = '8.8.8.8' ORDER BY time",
        )
        .output()
        .unwrap());
    assert_eq!(
        csv,
        "user_agent,delta\n\
         \"'=HYPERLINK(\"\"http://evil.example/\"\",\"\"click\"\")\",-300\n\
         '@SUM(1+1)*cmd|' /C calc'!A0,-300\n\
         -,-300\n"
    );

    let dir = tmp.path().join("analyze-csv");
    ok(Command::new(bin())
        .args([
            "analyze", "--format", "combined", "--output", "csv", "--out",
        ])
        .arg(&dir)
        .arg(&log)
        .output()
        .unwrap());
    let agents = std::fs::read_to_string(dir.join("user_agents.csv")).unwrap();
    assert!(
        agents.contains("\"'=HYPERLINK(\"\"http://evil.example/\"\",\"\"click\"\")\",1\n"),
        "{agents}"
    );
    assert!(agents.contains("\n'@SUM(1+1)"), "{agents}");
    assert!(agents.contains("\n-,1\n"), "{agents}");

    let dir = tmp.path().join("daily-csv");
    ok(Command::new(bin())
        .args([
            "report",
            "daily",
            "--date",
            "2026-12-07",
            "--no-save",
            "-o",
            "csv",
        ])
        .arg("--data")
        .arg(&lake)
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap());
    let agents = std::fs::read_to_string(dir.join("user_agents.csv")).unwrap();
    assert!(agents.contains("\"'=HYPERLINK("), "{agents}");
    for f in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        for cell in text.lines().flat_map(|l| l.split(',')) {
            let cell = cell.trim_start_matches('"');
            assert!(
                !cell.starts_with(['=', '@']),
                "a formula cell in report daily's CSV: {cell}"
            );
        }
    }
}

/// CSV written to a pipe keeps the log's bytes (it is data); on a terminal it is cleaned
/// like every other output. The terminal is a real pseudo-terminal, from util-linux `script`.
#[test]
fn csv_on_a_terminal_is_escaped_and_in_a_pipe_is_kept() {
    let has_script = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_script {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let log = hostile_log(tmp.path());
    let lake = tmp.path().join("lake");
    ok(Command::new(bin())
        .args(["run", "--format", "combined", "--no-alerts", "--file"])
        .arg(&log)
        .arg("--data")
        .arg(&lake)
        .output()
        .unwrap());
    let query = "SELECT user_agent FROM requests WHERE client = '7.7.7.7' LIMIT 1";
    let piped = ok(Command::new(bin())
        .args(["sql", "-o", "csv", "--data"])
        .arg(&lake)
        .arg(query)
        .output()
        .unwrap());
    assert!(piped.contains(EVIL), "{piped:?}");

    let cmd = format!(
        "{} sql -o csv --data {} \"{query}\"",
        bin().display(),
        lake.display()
    );
    let o = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(shown.contains("Mozilla\u{fffd}]0;owned"), "{shown:?}");
    assert_clean("sql -o csv on a terminal", &o.stdout, true);
}
