//! End-to-end tests of `report range`: the analysis set of a range of days computed from the
//! lake's rows, stored as one table per section (`--tables`) and written as `analyze` writes
//! it (JSON, HTML). The expected numbers are `analyze` of the same log file, never the lake
//! code under test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::{bin, nasa_lines, ok};

/// Lines of the NASA log to load: all of 1 July 1995 (64,714 lines) and part of 2 July.
const LINES: usize = 80_000;

/// Writes the first `n` lines of the NASA log to `dir/nasa.log` and stores them in
/// `dir/lake` with `run --file`; returns both paths.
fn nasa_lake(dir: &Path, n: usize) -> (PathBuf, PathBuf) {
    let log = dir.join("nasa.log");
    std::fs::write(&log, nasa_lines(n)).unwrap();
    let lake = dir.join("lake");
    ok(Command::new(bin())
        .args(["run", "--emit", "none", "--no-alerts", "--file"])
        .arg(&log)
        .arg("--data")
        .arg(&lake)
        .output()
        .unwrap());
    (log, lake)
}

fn hs(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn analyze(log: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["analyze", "-q", "-o", "json", p(log)];
    args.extend(extra);
    serde_json::from_str(&ok(hs(&args))).unwrap()
}

fn sql(lake: &Path, q: &str) -> Value {
    serde_json::from_str(&ok(hs(&["sql", "-o", "json", "--data", p(lake), q]))).unwrap()
}

/// Every number as an f64: SQL's JSON writes `2.0` where serde writes `2`, and the other
/// way round, for the same value.
fn norm(v: &Value) -> Value {
    match v {
        Value::Number(n) => serde_json::json!(n.as_f64().unwrap()),
        Value::Array(a) => Value::Array(a.iter().map(norm).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), norm(v))).collect()),
        other => other.clone(),
    }
}

/// The sections a report from the lake shares with `analyze` of the file: all but the line
/// outcomes (the lake holds requests; its rejects have no day) and the metadata.
const SECTIONS: [&str; 16] = [
    "content_size",
    "status",
    "status_classes",
    "no_status",
    "methods",
    "protocols",
    "unique_hosts",
    "top_hosts",
    "top_endpoints",
    "top_error_endpoints",
    "daily",
    "hourly",
    "timeline",
    "not_found",
    "static_dynamic",
    "weekday_hourly",
];

fn same_sections(got: &Value, want: &Value, what: &str) {
    for k in SECTIONS {
        assert_eq!(got[k], want[k], "{what}: {k}");
    }
    for k in [
        "requests",
        "bytes",
        "first",
        "last",
        "first_local",
        "last_local",
        "days",
    ] {
        assert_eq!(got["totals"][k], want["totals"][k], "{what}: totals.{k}");
    }
}

/// Compares each stored table of report `name` with the sections of `ana`.
fn tables_equal_analyze(lake: &Path, name: &str, ana: &Value) {
    let of = |cols: &str, table: &str, order: &str| {
        norm(&sql(
            lake,
            &format!("SELECT {cols} FROM {table} WHERE report = '{name}' ORDER BY {order}"),
        ))
    };
    let want = |v: &Value| norm(v);
    assert_eq!(
        of(
            "count, absent, min, max, mean, stddev, p50, p90, p99",
            "analysis_content_size",
            "count"
        ),
        want(&Value::Array(vec![ana["content_size"].clone()])),
        "content size"
    );
    assert_eq!(
        of("status, count", "analysis_status", "status"),
        want(&ana["status"]),
        "status"
    );
    assert_eq!(
        ana["no_status"], 0,
        "the NASA slice has a status on every line"
    );
    assert_eq!(
        of("class AS name, count", "analysis_status_classes", "class"),
        want(&ana["status_classes"]),
        "status classes"
    );
    assert_eq!(
        of(
            "method AS name, count",
            "analysis_methods",
            "count DESC, method"
        ),
        want(&ana["methods"]),
        "methods"
    );
    assert_eq!(
        of("host, requests, bytes", "analysis_hosts", "rank"),
        want(&ana["top_hosts"]),
        "top hosts"
    );
    assert_eq!(
        of("endpoint, requests, bytes", "analysis_endpoints", "rank"),
        want(&ana["top_endpoints"]),
        "top endpoints"
    );
    assert_eq!(
        of("endpoint, errors", "analysis_error_endpoints", "rank"),
        want(&ana["top_error_endpoints"]),
        "top error endpoints"
    );
    assert_eq!(
        of(
            "day, requests, bytes, unique_hosts, avg_requests_per_host, not_found",
            "analysis_daily",
            "day"
        ),
        want(&ana["daily"]),
        "daily hosts"
    );
    assert_eq!(
        of("hour, requests, not_found", "analysis_hourly", "hour"),
        want(&ana["hourly"]),
        "hourly"
    );
    let nf = &ana["not_found"];
    assert_eq!(
        of("endpoint AS name, count", "analysis_404_endpoints", "rank"),
        want(&nf["top_endpoints"]),
        "404 endpoints"
    );
    assert_eq!(
        of("host AS name, count", "analysis_404_hosts", "rank"),
        want(&nf["top_hosts"]),
        "404 hosts"
    );
    assert_eq!(
        of("day, not_found AS count", "analysis_daily", "day"),
        want(&nf["daily"]),
        "404 per day"
    );
    let hourly: Vec<Value> = of("not_found", "analysis_hourly", "hour")
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["not_found"].clone())
        .collect();
    assert_eq!(Value::Array(hourly), want(&nf["hourly"]), "404 per hour");
    // The index: one row, the totals, and the whole report.
    let idx = sql(
        lake,
        &format!(
            "SELECT requests, bytes, unique_hosts, not_found, days, analysis \
             FROM analysis_reports WHERE report = '{name}'"
        ),
    );
    let idx = idx.as_array().unwrap();
    assert_eq!(idx.len(), 1, "{idx:?}");
    let t = &ana["totals"];
    assert_eq!(idx[0]["requests"], t["requests"]);
    assert_eq!(idx[0]["bytes"], t["bytes"]);
    assert_eq!(idx[0]["unique_hosts"], ana["unique_hosts"]);
    assert_eq!(idx[0]["not_found"], nf["count"]);
    assert_eq!(idx[0]["days"], t["days"]);
    let stored: Value = serde_json::from_str(idx[0]["analysis"].as_str().unwrap()).unwrap();
    same_sections(&stored, ana, "the stored report");
}

/// The `<section id="ID">` elements of an HTML report.
fn html_section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<section id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no section {id}"));
    let len = html[start..].find("</section>").unwrap();
    &html[start..start + len]
}

#[test]
fn range_reports_are_stored_as_tables_equal_to_analyze_and_as_the_same_html() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, lake) = nasa_lake(tmp.path(), LINES);
    let ana = analyze(&log, &[]);
    assert_eq!(ana["totals"]["days"], 2);

    // The whole lake, stored and printed as JSON: the same sections as analyze of the file.
    let out = hs(&[
        "report",
        "range",
        "--tables",
        "-o",
        "json",
        "--data",
        p(&lake),
    ]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let rep: Value = serde_json::from_str(&ok(out)).unwrap();
    assert!(
        err.contains("stored report `1995-07-01..1995-07-02`"),
        "{err}"
    );
    same_sections(&rep, &ana, "report range -o json");
    tables_equal_analyze(&lake, "1995-07-01..1995-07-02", &ana);

    // One day, in a report of its own beside the first.
    let day = "1995-07-02";
    ok(hs(&[
        "report",
        "range",
        "--from",
        day,
        "--to",
        day,
        "--tables",
        "-o",
        "json",
        "--data",
        p(&lake),
    ]));
    let ana_day = analyze(&log, &["--from", day, "--to", day]);
    tables_equal_analyze(&lake, "1995-07-02..1995-07-02", &ana_day);
    tables_equal_analyze(&lake, "1995-07-01..1995-07-02", &ana);

    // Stored again (another top N): its rows are replaced, not added.
    ok(hs(&[
        "report",
        "range",
        "--from",
        day,
        "--to",
        day,
        "--top",
        "3",
        "--tables",
        "--data",
        p(&lake),
    ]));
    tables_equal_analyze(
        &lake,
        "1995-07-02..1995-07-02",
        &analyze(&log, &["--from", day, "--to", day, "--top", "3"]),
    );
    let reports = sql(
        &lake,
        "SELECT report, count(*) AS n FROM analysis_hosts GROUP BY report ORDER BY report",
    );
    assert_eq!(
        reports,
        serde_json::json!([
            {"report": "1995-07-01..1995-07-02", "n": 10},
            {"report": "1995-07-02..1995-07-02", "n": 3},
        ])
    );
    assert_eq!(
        sql(&lake, "SELECT count(*) AS n FROM analysis_reports"),
        serde_json::json!([{"n": 2}])
    );
    // A name of one's own.
    ok(hs(&[
        "report",
        "range",
        "--from",
        "1995-07-01",
        "--tables",
        "--name",
        "july",
        "--data",
        p(&lake),
    ]));
    tables_equal_analyze(&lake, "july", &analyze(&log, &["--from", "1995-07-01"]));

    // The HTML report: analyze's page, with the same numbers in every section they share.
    let html = tmp.path().join("range.html");
    let want_html = tmp.path().join("analyze.html");
    ok(hs(&[
        "report",
        "range",
        "-o",
        "html",
        "--out",
        p(&html),
        "--data",
        p(&lake),
    ]));
    ok(hs(&[
        "analyze",
        "-q",
        "-o",
        "html",
        "--out",
        p(&want_html),
        p(&log),
    ]));
    let (got, want) = (
        std::fs::read_to_string(&html).unwrap(),
        std::fs::read_to_string(&want_html).unwrap(),
    );
    for id in ["status", "time", "endpoints", "hosts", "notfound", "sizes"] {
        assert_eq!(
            html_section(&got, id),
            html_section(&want, id),
            "section {id}"
        );
    }
    assert!(got.contains("Distinct clients: "), "{got}");
}

fn fails(args: &[&str], says: &str) {
    let o = hs(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{args:?} succeeded");
    assert!(err.contains(says), "{args:?}: `{says}` not in: {err}");
    assert!(o.stdout.is_empty(), "{args:?} printed a report");
}

#[test]
fn bad_ranges_names_and_lakes_are_refused_with_one_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, lake) = nasa_lake(tmp.path(), 300);
    let l = p(&lake);
    fails(
        &[
            "report",
            "range",
            "--from",
            "1995-07-03",
            "--to",
            "1995-07-01",
            "--data",
            l,
        ],
        "--from 1995-07-03 is after --to 1995-07-01",
    );
    fails(
        &["report", "range", "--from", "July", "--data", l],
        "--from `July`: expected YYYY-MM-DD",
    );
    fails(
        &["report", "range", "--to", "1995-07-01T10:00", "--data", l],
        "--to `1995-07-01T10:00`: expected YYYY-MM-DD",
    );
    fails(
        &["report", "range", "--tz", "Mars/Olympus", "--data", l],
        "--tz `Mars/Olympus`",
    );
    fails(
        &["report", "range", "--tables", "--name", " ", "--data", l],
        "--name is empty",
    );
    fails(&["report", "range", "--name", "x", "--data", l], "--tables");
    fails(
        &["report", "range", "-o", "svg", "--data", l],
        "invalid value 'svg'",
    );
    // A range without requests stores nothing and says what the lake holds.
    fails(
        &[
            "report",
            "range",
            "--from",
            "2001-01-01",
            "--to",
            "2001-01-02",
            "--tables",
            "--data",
            l,
        ],
        "has no requests from 2001-01-01 to 2001-01-02; it holds 1995-07-01; nothing was stored",
    );
    assert!(!lake.join("analysis_reports").exists());
    fails(
        &["report", "range", "--data", p(&tmp.path().join("nowhere"))],
        "no lake at",
    );
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    fails(
        &["report", "range", "--data", p(&empty)],
        "has no requests table yet",
    );
    // An output that cannot be written is found before the lake changes.
    fails(
        &[
            "report",
            "range",
            "--tables",
            "-o",
            "html",
            "--out",
            p(&tmp.path().join("no/such/dir/r.html")),
            "--data",
            l,
        ],
        "cannot write",
    );
    assert!(!lake.join("analysis_reports").exists());
}
