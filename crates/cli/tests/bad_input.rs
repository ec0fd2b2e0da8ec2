//! What a new user meets when input, queries or the disk are wrong: each case exits with the
//! right code and one clear message, and nothing is stored that should not be.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{bin, nasa_lines, nasa_text, ok, stderr_of as stderr};

/// A lake holding one July 1995 day of NASA lines (the first `n` lines of the log).
fn small_lake(dir: &Path, n: usize) -> PathBuf {
    let log = dir.join("access.log");
    std::fs::write(&log, nasa_lines(n)).unwrap();
    let lake = dir.join("lake");
    ok(Command::new(bin())
        .args([
            "analyze", "-q", "-o", "json", "--format", "common", "--store", "--data",
        ])
        .arg(&lake)
        .arg(&log)
        .output()
        .unwrap());
    lake
}

fn sql(lake: &Path, q: &str) -> Output {
    Command::new(bin())
        .args(["sql", "-o", "json", "--data"])
        .arg(lake)
        .arg(q)
        .output()
        .unwrap()
}

fn count(lake: &Path, table: &str) -> u64 {
    let v: Vec<Value> = serde_json::from_str(&ok(sql(
        lake,
        &format!("SELECT count(*) AS n FROM {table}"),
    )))
    .unwrap();
    v[0]["n"].as_u64().unwrap()
}

#[test]
fn sql_is_read_only() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = small_lake(tmp.path(), 1000);
    assert_eq!(count(&lake, "requests"), 1000);
    for stmt in [
        "INSERT INTO requests (client) VALUES ('x')",
        "DROP TABLE requests",
        "CREATE TABLE t AS SELECT 1",
        "DELETE FROM requests",
        "COPY (SELECT 1) TO '/tmp/hitstream-copy-test.csv'",
        "SET datafusion.execution.batch_size = 1",
        "EXPLAIN ANALYZE INSERT INTO requests (client) VALUES ('x')",
    ] {
        let o = sql(&lake, stmt);
        let err = stderr(&o);
        assert!(!o.status.success(), "{stmt} was accepted: {err}");
        assert!(
            err.starts_with("error: ") && err.contains("read-only"),
            "{stmt}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{stmt}: {err}");
    }
    assert!(!Path::new("/tmp/hitstream-copy-test.csv").exists());
    assert_eq!(count(&lake, "requests"), 1000);
    // Queries of every kind still run.
    for q in [
        "SELECT count(*) FROM requests",
        "WITH t AS (SELECT status FROM requests) SELECT count(*) FROM t",
        "EXPLAIN SELECT count(*) FROM requests",
        "DESCRIBE requests",
        "SHOW TABLES",
        "VALUES (1)",
    ] {
        ok(sql(&lake, q));
    }
    let tables = ok(sql(&lake, "SHOW TABLES"));
    assert!(tables.contains("\"requests\""), "{tables}");
}

#[test]
fn a_query_error_is_printed_once() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = small_lake(tmp.path(), 10);
    let o = sql(&lake, "select nope from requests");
    let err = stderr(&o);
    assert!(!o.status.success());
    assert!(err.contains("nope"), "{err}");
    assert_eq!(err.matches("Valid fields").count(), 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_daily_report_of_a_day_without_rows_fails_and_stores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = small_lake(tmp.path(), 1000);
    let before = if Path::new(&lake).join("reports").exists() {
        count(&lake, "reports")
    } else {
        0
    };
    let o = Command::new(bin())
        .args(["report", "daily", "--date", "2099-01-01", "--data"])
        .arg(&lake)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("no rows for 2099-01-01"), "{err}");
    assert!(err.contains("1995-07-01"), "names the days held: {err}");
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let after = if Path::new(&lake).join("reports").exists() {
        count(&lake, "reports")
    } else {
        0
    };
    assert_eq!(after, before);
    // A day that has rows still reports and stores.
    ok(Command::new(bin())
        .args(["report", "daily", "--date", "1995-07-01", "--data"])
        .arg(&lake)
        .output()
        .unwrap());
    assert_eq!(count(&lake, "reports"), before + 1);
}

#[test]
fn analyze_fails_when_nothing_parses_and_warns_when_most_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let text = nasa_text();
    let log = tmp.path().join("nasa.log");
    std::fs::write(&log, &text[..200_000]).unwrap();
    // NASA's lines are Common Log Format: an nginx format with a trailing field rejects them.
    let wrong = r#"$remote_addr [$time_local] "$request" $status $body_bytes_sent $request_time"#;
    let o = Command::new(bin())
        .args(["analyze", "-o", "json", "--format", wrong])
        .arg(&log)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("none of the"), "{err}");
    assert!(
        err.contains("--format common"),
        "suggests the detected format: {err}"
    );
    assert!(o.stdout.is_empty());

    // Two thirds garbage: a report, and a loud warning.
    let good = &text[..20_000];
    let mut mixed = good.to_vec();
    for _ in 0..2 {
        for l in good.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            mixed.extend_from_slice(b"garbage ");
            mixed.extend_from_slice(&l[..l.len() / 3]);
            mixed.push(b'\n');
        }
    }
    std::fs::write(&log, &mixed).unwrap();
    let o = Command::new(bin())
        .args(["analyze", "-o", "json", "--format", "common"])
        .arg(&log)
        .output()
        .unwrap();
    let err = stderr(&o);
    let report: Value = serde_json::from_str(&ok(o)).unwrap();
    assert!(report["totals"]["ok"].as_u64().unwrap() > 0);
    assert!(err.contains("MOST LINES WERE REJECTED"), "{err}");
}

#[test]
fn tail_of_a_path_that_does_not_exist_says_it_waits() {
    let tmp = tempfile::tempdir().unwrap();
    let err_path = tmp.path().join("stderr");
    let pattern = tmp.path().join("nonexistent/*.log");
    let mut child = Command::new(bin())
        .args(["run", "--no-state", "--format", "common", "--tail"])
        .arg(&pattern)
        .arg("--jsonl")
        .arg(tmp.path().join("out.jsonl"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut err = String::new();
    while Instant::now() < deadline {
        err = std::fs::read_to_string(&err_path).unwrap_or_default();
        if err.contains("no file matches") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Still running (it waits), and it said so once.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(child.try_wait().unwrap().is_none(), "the run ended: {err}");
    child.kill().unwrap();
    child.wait().unwrap();
    let err = std::fs::read_to_string(&err_path).unwrap();
    assert_eq!(err.matches("no file matches").count(), 1, "{err}");
    assert!(err.contains(&*pattern.to_string_lossy()), "{err}");
}

/// A small tmpfs at `dir` (the test runs as root on the CI machines); `None` where mounting
/// is not allowed.
fn small_disk(dir: &Path, size: &str) -> Option<SmallDisk> {
    std::fs::create_dir_all(dir).unwrap();
    let o = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .output()
        .ok()?;
    o.status.success().then(|| SmallDisk(dir.to_path_buf()))
}

struct SmallDisk(PathBuf);

impl SmallDisk {
    fn grow(&self, size: &str) {
        let o = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_gives_one_clear_error_and_a_restart_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("nasa.log");
    std::fs::write(&log, nasa_text()).unwrap();
    let Some(disk) = small_disk(&tmp.path().join("disk"), "3m") else {
        eprintln!("skipped: mounting a small tmpfs is not allowed here");
        return;
    };
    let lake = disk.0.join("lake");
    let run = || {
        Command::new(bin())
            .args(["run", "--format", "common", "--emit", "none", "--file"])
            .arg(&log)
            .arg("--data")
            .arg(&lake)
            .args(["--checkpoint-interval", "200ms"])
            .stdout(Stdio::null())
            .output()
            .unwrap()
    };
    let o = run();
    let err = stderr(&o);
    assert!(!o.status.success(), "the run fit in 3 MB: {err}");
    assert!(err.contains("no space left on device"), "{err}");
    assert!(err.contains("nothing was lost"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("backtrace"), "{err}");

    disk.grow("400m");
    let o = run();
    ok(o);
    let v: Vec<Value> = serde_json::from_str(&ok(sql(
        &lake,
        "SELECT count(*) AS n, count(DISTINCT \"offset\") AS d FROM requests",
    )))
    .unwrap();
    let lines = nasa_text().iter().filter(|b| **b == b'\n').count() as u64;
    assert_eq!(v[0]["n"].as_u64(), Some(lines));
    assert_eq!(v[0]["d"].as_u64(), Some(lines));
}
