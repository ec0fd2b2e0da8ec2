//! `hitstream demo`, the README's first command: generated traffic through the pipeline into
//! a lake, window tables and alerts on the console, the dashboard's URL, and the daily report
//! of the same lake at the end.

use std::process::Command;

mod common;
use common::{bin, ok};

#[test]
fn demo_streams_into_a_lake_serves_the_dashboard_and_ends_with_the_daily_report() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let o = Command::new(bin())
        .args([
            "demo",
            "--duration",
            "6s",
            "--window",
            "2s",
            "--rate",
            "500",
        ])
        .args(["--http", "127.0.0.1:0", "--data"])
        .arg(&lake)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let out = ok(o);
    assert!(err.contains("dashboard: http://127.0.0.1:"), "{err}");
    assert!(out.contains("── "), "window tables: {out}");
    assert!(out.contains("Daily report for"), "{out}");
    assert!(
        err.contains("ALERT client_404_burst"),
        "the scanners' alert: {err}"
    );

    // The report counts what the stream stored: the summary's lines, the lake's rows.
    let summary = summary_lines(&err);
    assert!(summary > 1000, "{err}");
    assert_eq!(
        sql(&lake, "SELECT count(*) FROM requests"),
        summary.to_string()
    );
    assert_eq!(
        sql(&lake, "SELECT requests FROM reports"),
        summary.to_string()
    );
    assert!(
        out.contains(&format!("{summary}")) || out.contains(&group(summary)),
        "the report's total: {out}"
    );
}

/// The line count of the run's summary on stderr (`hitstream run: N lines (...`).
fn summary_lines(err: &str) -> u64 {
    err.lines()
        .filter(|l| l.contains(" lines ("))
        .find_map(|l| l.strip_prefix("hitstream run: "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no summary line: {err}"))
}

/// The last value `sql` prints for `query` over the lake.
fn sql(lake: &std::path::Path, query: &str) -> String {
    let out = ok(Command::new(bin())
        .args(["sql", "-o", "csv", "--data"])
        .arg(lake)
        .arg(query)
        .output()
        .unwrap());
    out.lines().last().unwrap().trim().to_string()
}

/// `12345` as the tables print it (`12,345`).
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `demo --kafka`: the same traffic through a broker the demo starts itself (the real one
/// scripts/test installs, found through `HITSTREAM_TANSU` or `~/.cargo/bin`). Every line the
/// stream stored went through the topic, and the windows closed before the end hold them all.
#[test]
fn demo_through_kafka_stores_every_line_and_closes_its_windows() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let o = Command::new(bin())
        .args([
            "demo",
            "--kafka",
            "--duration",
            "5s",
            "--window",
            "2s",
            "--rate",
            "500",
            "--no-http",
            "--data",
        ])
        .arg(&lake)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let out = ok(o);
    assert!(err.contains("Kafka-protocol broker on 127.0.0.1:"), "{err}");
    assert!(err.contains("hitstream run: kafka hitstream-demo"), "{err}");
    assert!(out.contains("── "), "window tables: {out}");
    assert!(out.contains("Daily report for"), "{out}");
    let summary = summary_lines(&err);
    // 5 s at 500 lines/s.
    assert!(summary > 1500, "{err}");
    assert_eq!(
        sql(&lake, "SELECT count(*) FROM requests"),
        summary.to_string()
    );
    assert_eq!(
        sql(&lake, "SELECT sum(value) FROM (SELECT value, row_number() OVER (PARTITION BY window_start ORDER BY revision DESC) AS r FROM windows WHERE metric = 'requests') WHERE r = 1"),
        summary.to_string(),
        "the last windows closed before the demo ended"
    );
}
