//! The deployment examples under `examples/`, run end to end as a user runs them, with smaller
//! sizes: real nginx servers (Debian's, installed by scripts/test), the real broker, and the
//! binary under test. Each example checks its results against numbers it counts itself from
//! the source log (awk, python) and exits non-zero when a check fails; this test also reads
//! its PASS lines, so a check that silently stopped running fails here.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::bin;

/// One example at a time: each runs servers, a broker and several hitstream processes.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `examples/NAME/run.sh` with `env`; returns its stdout after checking that it passed
/// and printed each of `checks` as a PASS line.
fn example(name: &str, env: &[(&str, &str)], checks: &[&str]) -> String {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(repo().join("examples").join(name).join("run.sh"))
        .env("HITSTREAM", bin())
        .env("HITSTREAM_DATA", repo().join("../shared/data"))
        .env("WORK", tmp.path())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let logs = || {
        let mut s = String::new();
        for e in walk(tmp.path()) {
            if e.extension().is_some_and(|x| x == "err" || x == "log") {
                let text = std::fs::read_to_string(&e).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                s += &format!("\n--- {}\n", e.display());
                for l in tail.into_iter().rev() {
                    s += l;
                    s.push('\n');
                }
            }
        }
        s
    };
    assert!(
        out.status.success() && stdout.contains("all checks passed"),
        "examples/{name} failed ({}):\n{stdout}\n{stderr}{}",
        out.status,
        logs()
    );
    assert!(!stdout.contains("FAIL "), "{stdout}");
    for c in checks {
        assert!(
            stdout.lines().any(|l| l.starts_with(&format!("PASS {c}"))),
            "no `PASS {c}` in:\n{stdout}"
        );
    }
    stdout
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn nginx_load_balancer_to_kafka_top_pages_and_daily_report() {
    let out = example(
        "nginx-kafka",
        &[("COUNT", "6000"), ("RATE", "1500")],
        &[
            "requests sent = lines logged by nginx",
            "raw rows (group raw) = lines logged",
            "raw rows = the log's lines, one for one",
            "rows via syslog = lines logged",
            "window requests (group top) = lines logged",
            "top 3 pages per minute = nginx log per minute",
            "shares of the top pages",
            "daily report = analyze of the nginx log",
        ],
    );
    // gen --http's summary and the console tables are what a user reads.
    assert!(out.contains("requests by path"), "{out}");
    assert!(out.contains("/product1"), "{out}");
}

#[test]
fn nasa_replay_over_tcp_to_kafka_windows_and_days() {
    example(
        "nasa-tcp-kafka",
        &[("LIMIT", "60000"), ("SPEED", "20000")],
        &[
            "rows by day = lines by day in the file",
            "rows = lines that parse",
            "a window for every minute of the file",
            "methods per minute = the file's",
            "top 5 hosts per minute = the file's",
            "unique hosts per minute",
        ],
    );
}

#[test]
fn kafka_run_killed_with_sigkill_and_restarted_stores_every_line_once() {
    example(
        "kafka-restart",
        &[("KILLS", "3")],
        &[
            "run killed with SIGKILL while storing, times: 3",
            "rows = requests in the file (nothing lost)",
            "rows = the file's lines, one for one",
            "status counts = analyze",
            "window requests (highest revision of each) = requests",
        ],
    );
}
