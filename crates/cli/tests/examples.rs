//! The deployment examples under `examples/`, run end to end as a user runs them, with smaller
//! sizes: real nginx servers (Debian's, installed by scripts/test), the real broker, and the
//! binary under test. Each example checks its results against numbers it counts itself from
//! the source log (awk, python) and exits non-zero when a check fails; this test also reads
//! its PASS lines, so a check that silently stopped running fails here.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::bin;

/// One example at a time: each runs servers, a broker and several hitstream processes.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// How long one example may take. They take well under a minute here; a hang (a server that
/// never answers, a run that never reaches the end of its topic) fails with the logs instead
/// of holding the whole test run until CI gives up on it.
const DEADLINE: Duration = Duration::from_secs(420);

/// Runs `examples/NAME/run.sh` with `env`; returns its stdout after checking that it passed
/// and printed each of `checks` as a PASS line.
fn example(name: &str, env: &[(&str, &str)], checks: &[&str]) -> String {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    // Output to files, not pipes: a server left running would hold a pipe open after the
    // script ended. Its own process group, so a timeout stops everything it started.
    let out_path = tmp.path().join("stdout.txt");
    let err_path = tmp.path().join("stderr.txt");
    let mut child = Command::new("bash")
        .arg(repo().join("examples").join(name).join("run.sh"))
        .env("HITSTREAM", bin())
        .env("HITSTREAM_DATA", repo().join("../shared/data"))
        .env("WORK", &work)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .process_group(0)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if started.elapsed() > DEADLINE {
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // Whatever the script left behind goes with its group (the script's own cleanup has
    // run when it exited normally).
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let logs = || {
        let mut s = String::new();
        for e in walk(&work) {
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
    let Some(status) = status else {
        panic!(
            "examples/{name} did not finish within {} s:\n{stdout}\n{stderr}{}",
            DEADLINE.as_secs(),
            logs()
        );
    };
    assert!(
        status.success() && stdout.contains("all checks passed"),
        "examples/{name} failed ({status}):\n{stdout}\n{stderr}{}",
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
            "run killed with SIGKILL while storing, at least twice",
            "rows = requests in the file (nothing lost)",
            "rows = the file's lines, one for one",
            "status counts = analyze",
            "window requests (highest revision of each) = requests",
        ],
    );
}

#[test]
fn kafka_to_the_nasa_analysis_set_stored_as_tables_with_charts() {
    example(
        "nasa-analysis-kafka",
        &[("LIMIT", "80000")],
        &[
            "rows = lines that parse",
            "content size min/avg/max = the file's",
            "status distribution = the file's",
            "top 10 hosts = the file's",
            "top 10 endpoints = the file's",
            "top 10 error endpoints = the file's",
            "unique hosts = the file's",
            "daily unique hosts = the file's",
            "average daily requests per host = the file's",
            "404s: count, top endpoints, top hosts = the file's",
            "the HTML report shows these numbers",
            "report and its tables = analyze of the same file",
        ],
    );
}

#[test]
fn several_machines_three_shippers_a_group_of_two_runs_and_a_lake_in_s3() {
    example(
        "several-machines",
        &[("LIMIT", "60000")],
        &[
            "rows in the S3 lake = the web servers' lines",
            "rows = the logs' lines one for one",
            "the group's merged windows = one process's windows",
            "windows in the merged view = minutes in the logs",
            "the daily report of the group's lake = one process's",
        ],
    );
}
