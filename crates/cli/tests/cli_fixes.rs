//! The command line where it used to mislead: the pipe `gen --help` suggests, one meaning of
//! `-o`, the formats `gen` accepts, `report daily`'s outputs and dates, and the messages of
//! `sql` on a directory that is not a lake, a missing table and a syntax error. Each case
//! runs the real binary and checks the message and the exit code (2 for what the user
//! typed, 1 for a failure at run time).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod common;
use common::{bin, free_port, hs_in as hs, ok, stderr_of as stderr, stdout_of as stdout};

/// The day `date -u -d WHEN` names (`today`, `yesterday`), from the system's `date`, not
/// from hitstream's clock code.
fn utc_day(when: &str) -> String {
    let o = Command::new("date")
        .args(["-u", "-d", when, "+%F"])
        .output()
        .unwrap();
    assert!(o.status.success(), "date -u -d {when}");
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// A lake filled by `analyze --store` (requests and rejects only) with `gen` traffic: `n`
/// lines starting at each of `starts`.
fn gen_lake(dir: &Path, starts: &[(&str, u64)]) -> PathBuf {
    let lake = dir.join("lake");
    for (i, (start, n)) in starts.iter().enumerate() {
        let log = dir.join(format!("gen{i}.log"));
        ok(hs(
            dir,
            &[
                "gen",
                "--count",
                &n.to_string(),
                "--start",
                start,
                "--out",
                log.to_str().unwrap(),
            ],
        ));
        ok(hs(
            dir,
            &[
                "analyze",
                "-q",
                "-o",
                "json",
                "--format",
                "combined",
                "--store",
                "--data",
                lake.to_str().unwrap(),
                log.to_str().unwrap(),
            ],
        ));
    }
    lake
}

#[test]
fn gen_piped_into_run_is_read_from_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    // The pipe of `gen --help`, between two real processes.
    let mut gen = Command::new(bin())
        .args(["gen", "--count", "3000", "--format", "nginx"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let run = Command::new(bin())
        .current_dir(tmp.path())
        .args(["run", "--emit", "jsonl", "--window", "10s", "--no-alerts"])
        .stdin(Stdio::from(gen.stdout.take().unwrap()))
        .output()
        .unwrap();
    assert!(gen.wait().unwrap().success());
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(0), "{err}");
    assert_eq!(err.matches("reading stdin").count(), 1, "{err}");
    // Every generated line is in a window: the latest emission of each, summed.
    let mut latest: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    for l in stdout(&run).lines().filter(|l| !l.trim().is_empty()) {
        let w: Value = serde_json::from_str(l).unwrap();
        let start = w["window_start"].as_i64().unwrap();
        let rev = w["revision"].as_u64().unwrap();
        let req = w["requests"].as_u64().unwrap();
        let e = latest.entry(start).or_insert((rev, req));
        if rev >= e.0 {
            *e = (rev, req);
        }
    }
    assert_eq!(latest.values().map(|v| v.1).sum::<u64>(), 3000, "{err}");

    // A pipe with nothing in it (what cron gives a job): no input, not a run of 0 lines.
    let o = Command::new(bin())
        .current_dir(tmp.path())
        .args(["run"])
        .stdin(Stdio::piped())
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no source was given and stdin was empty"),
        "{err}"
    );

    // No source and no pipe (a cron job's /dev/null): a usage error that names the pipe.
    let o = hs(tmp.path(), &["run"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no input") && err.contains("pipe lines"),
        "{err}"
    );
}

#[test]
fn gen_dash_o_is_the_output_format_and_out_is_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // `-o json` without --http: refused, and no file named `json` appears.
    let o = hs(d, &["gen", "--count", "5", "--output", "json"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--http summary") && err.contains("--out FILE"),
        "{err}"
    );
    // The old use of -o, a file: refused with the flag that takes a file now.
    let o = hs(d, &["gen", "--count", "5", "-o", "access.log"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--out access.log"), "{err}");
    // A format name given as the file: refused with a hint.
    let o = hs(d, &["gen", "--count", "5", "--out", "json"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("name of an output format") && err.contains("--out ./json"),
        "{err}"
    );
    let names: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(names.is_empty(), "gen wrote {names:?}");
    // --out FILE writes the lines.
    ok(hs(d, &["gen", "--count", "5", "--out", "five.log"]));
    assert_eq!(
        std::fs::read_to_string(d.join("five.log"))
            .unwrap()
            .lines()
            .count(),
        5
    );
    // With --http, -o json is the summary as JSON (here of requests nobody answers).
    let url = format!("http://127.0.0.1:{}", free_port());
    let o = hs(
        d,
        &[
            "gen",
            "--http",
            &url,
            "--count",
            "3",
            "--timeout",
            "2s",
            "-o",
            "json",
        ],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("got a response"), "{err}");
    let summary: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(summary["requests"].as_u64(), Some(3), "{summary}");
}

#[test]
fn gen_says_which_formats_it_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let o = hs(tmp.path(), &["gen", "--count", "5", "--format", "auto"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("gen writes one format"), "{err}");
    assert!(err.contains("combined") && err.contains("nasa"), "{err}");
    assert!(o.stdout.is_empty());
    // An unknown name: the presets gen writes, without offering `auto`.
    let o = hs(tmp.path(), &["gen", "--count", "5", "--format", "combind"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("gen writes a preset"), "{err}");
    assert!(err.contains("did you mean `combined`"), "{err}");
    assert!(!err.contains("`auto`"), "{err}");
    let help = ok(hs(tmp.path(), &["gen", "--help"]));
    assert!(help.contains("gen writes one format"), "{help}");
}

#[test]
fn report_daily_help_json_html_and_named_days() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let help = ok(hs(d, &["report", "daily", "--help"]));
    assert!(help.contains("One JSON object"), "{help}");
    assert!(!help.contains("JSON array"), "{help}");
    assert!(
        help.contains("html") && help.contains("yesterday"),
        "{help}"
    );
    assert!(help.contains("UTC without it"), "{help}");

    let (today, yesterday) = (utc_day("today"), utc_day("yesterday"));
    let lake = gen_lake(
        d,
        &[
            (&format!("{yesterday}T10:00:00Z"), 120),
            (&format!("{today}T00:00:00Z"), 70),
        ],
    );
    let lake = lake.to_str().unwrap();
    let requests = |o: &Output| -> u64 {
        let v: Value = serde_json::from_str(&ok(o.clone())).unwrap();
        assert!(v.is_object(), "{v}");
        assert!(v["top_pages"].is_array(), "{v}");
        v["report"]["totals"]["requests"].as_u64().unwrap()
    };
    let daily = |day: &str, tz: &[&str]| {
        let mut args = vec!["report", "daily", "--no-save", "-o", "json", "--date", day];
        args.extend_from_slice(tz);
        args.extend_from_slice(&["--data", lake]);
        hs(d, &args)
    };
    // gen's event time advances 100 lines/s: 120 lines at 10:00 stay in yesterday, 70
    // lines from midnight in today.
    let y = daily("yesterday", &["--tz", "UTC"]);
    assert_eq!(requests(&y), 120);
    let v: Value = serde_json::from_slice(&y.stdout).unwrap();
    assert_eq!(v["date"].as_str(), Some(yesterday.as_str()));
    assert_eq!(requests(&daily("today", &["--tz", "UTC"])), 70);
    assert_eq!(requests(&daily("yesterday", &[])), 120);
    assert_eq!(requests(&daily(&yesterday, &[])), 120);

    // HTML, as `report range` writes it.
    let page = d.join("daily.html");
    ok(hs(
        d,
        &[
            "report",
            "daily",
            "--no-save",
            "--date",
            "yesterday",
            "-o",
            "html",
            "--out",
            page.to_str().unwrap(),
            "--data",
            lake,
        ],
    ));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"));
    assert!(html.contains("<svg"), "no chart in the page");

    // A date that is none of the three: a usage error that says what is accepted.
    for bad in ["yesterdya", "2026-13-01", "07/01/1995", "1995-07-01T10:00"] {
        let o = daily(bad, &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{bad}: {err}");
        assert!(
            err.contains("YYYY-MM-DD, `today` or `yesterday`") && err.contains(bad),
            "{bad}: {err}"
        );
    }
}

#[test]
fn sql_on_a_directory_that_is_not_a_lake_or_without_the_table() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let empty = d.join("notalake");
    std::fs::create_dir(&empty).unwrap();
    let o = hs(
        d,
        &["sql", "--data", "notalake", "SELECT count(*) FROM requests"],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("holds none of hitstream's tables") && err.contains("notalake"),
        "{err}"
    );
    assert!(err.contains("hitstream run --data DIR"), "{err}");
    assert!(!err.contains("datafusion.public"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    // A lake that `analyze --store` filled has no window rows: the view says what it needs.
    let lake = gen_lake(d, &[("2026-01-01T00:00:00Z", 50)]);
    let lake = lake.to_str().unwrap();
    let o = hs(
        d,
        &["sql", "--data", lake, "SELECT count(*) FROM windows_merged"],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("no table `windows_merged`"), "{err}");
    assert!(
        err.contains("no window rows: `hitstream run --data DIR` writes them"),
        "{err}"
    );
    assert!(
        err.contains("It holds: ") && err.contains("requests") && err.contains("windows (empty)"),
        "{err}"
    );
    assert!(!err.contains("requests (empty)"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // A name that is no table of hitstream's: the names that are.
    let o = hs(d, &["sql", "--data", lake, "SELECT * FROM request"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("no table `request`"), "{err}");
    assert!(
        err.contains("hitstream's tables are requests, windows, alerts, rejects, reports"),
        "{err}"
    );
    // The lake itself answers.
    let n: Vec<Value> = serde_json::from_str(&ok(hs(
        d,
        &[
            "sql",
            "-o",
            "json",
            "--data",
            lake,
            "SELECT count(*) AS n FROM requests",
        ],
    )))
    .unwrap();
    assert_eq!(n[0]["n"].as_u64(), Some(50));
}

#[test]
fn a_sql_syntax_error_is_printed_once_and_plainly() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let lake = gen_lake(d, &[("2026-01-01T00:00:00Z", 10)]);
    let o = hs(d, &["sql", "--data", lake.to_str().unwrap(), "selec x"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim_end(),
        "error: the query is not valid SQL: Expected: an SQL statement, found: selec at \
         Line: 1, Column: 1"
    );
}
