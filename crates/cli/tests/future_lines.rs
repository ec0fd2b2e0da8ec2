//! One line from the future, end to end with the real binary: `run --tail` of a live log
//! (bounded by the wall clock), `run --file` of a replayed old log (bounded by the log's own
//! times), and `run --kafka` from a real broker (tansu). In each, one line dated 2099 in the
//! middle is counted as `future`, kept in the late file and the lake, shown in the status and
//! `/metrics`, and the windows and alerts go on as without it.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{bin, clf_time, free_port, http_get_ok, nasa_text, ok, terminate, unix_now, Broker};
use serde_json::Value;

const POISON: &str = "evil.example - - [01/Jan/2099:00:00:00 +0000] \"GET /x HTTP/1.0\" 200 1";

/// A common-log line at `t`.
fn line(client: &str, t: i64, path: &str, status: u16) -> String {
    format!(
        "{client} - - [{}] \"GET {path} HTTP/1.0\" {status} 100\n",
        clf_time(t)
    )
}

/// Ordinary traffic at the current time, the 2099 line, then more traffic and a scanner:
/// 25 404s in one second.
fn live_traffic(write: &mut dyn FnMut(&str)) -> u64 {
    let mut n = 0;
    for i in 0..20 {
        write(&line(
            "10.0.0.1",
            unix_now(),
            &format!("/page{}", i % 4),
            200,
        ));
        n += 1;
    }
    write(&format!("{POISON}\n"));
    n += 1;
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..30 {
        write(&line(
            "10.0.0.2",
            unix_now(),
            &format!("/page{}", i % 4),
            200,
        ));
        n += 1;
    }
    let t = unix_now();
    for i in 0..25 {
        write(&line("6.6.6.6", t, &format!("/wp-admin/{i}.php"), 404));
        n += 1;
    }
    for i in 0..10 {
        write(&line(
            "10.0.0.3",
            unix_now(),
            &format!("/page{}", i % 4),
            200,
        ));
        n += 1;
    }
    n
}

/// The counts in the last summary line of a run's stderr: `(future, late)`.
fn summary_counts(stderr: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("hitstream run: ") && l.contains(" late"))
        .unwrap_or_else(|| panic!("no summary line in: {stderr}"));
    let num_before = |word: &str| -> u64 {
        line.find(word).map_or(0, |at| {
            line[..at]
                .rsplit(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap_or_else(|_| panic!("{line}"))
        })
    };
    (num_before(" future"), num_before(" late"))
}

fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let t = Instant::now();
    while !done() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits for the child to end after SIGTERM; its stderr.
fn stop(mut child: Child) -> String {
    let status = terminate(&mut child, "run", Duration::from_secs(30));
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{err}");
    err
}

fn late_file_lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn assert_one_future_line(late: &Path) {
    let lines = late_file_lines(late);
    assert_eq!(
        lines,
        vec![format!("future\t2099-01-01T00:00:00Z\t{POISON}")],
        "the late file holds the 2099 line, with its reason"
    );
}

#[test]
fn tail_one_line_from_2099_then_a_scanner_the_alert_fires() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("access.log");
    std::fs::write(&log, "").unwrap();
    let (late, alerts) = (tmp.path().join("late.txt"), tmp.path().join("alerts.jsonl"));
    let port = free_port();
    let child = Command::new(bin())
        .args(["run", "--no-state", "--format", "common", "--window", "10s"])
        .args(["--lateness", "2s", "--idle-timeout", "1s", "--emit", "none"])
        .arg("--tail")
        .arg(&log)
        .arg("--late")
        .arg(&late)
        .arg("--alerts")
        .arg(&alerts)
        .args(["--http", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(30), "the dashboard", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let written = live_traffic(&mut |l| {
        f.write_all(l.as_bytes()).unwrap();
        f.flush().unwrap();
    });
    drop(f);
    wait_until(Duration::from_secs(40), "the 404-burst alert", || {
        std::fs::read_to_string(&alerts).is_ok_and(|a| a.contains("client_404_burst"))
    });
    wait_until(Duration::from_secs(10), "every line counted", || {
        let st: Value = serde_json::from_str(&http_get_ok(port, "/api/status")).unwrap();
        st["counters"]["lines"].as_u64() == Some(written)
    });
    let st: Value = serde_json::from_str(&http_get_ok(port, "/api/status")).unwrap();
    assert_eq!(st["counters"]["future"], 1, "{st}");
    assert_eq!(st["counters"]["late"], 0, "{st}");
    let metrics = http_get_ok(port, "/metrics");
    assert!(
        metrics.contains("\nhitstream_future_lines_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nhitstream_late_lines_total 0\n"),
        "{metrics}"
    );
    let err = stop(child);
    assert_eq!(summary_counts(&err), (1, 0), "{err}");
    assert_one_future_line(&late);
    let a = std::fs::read_to_string(&alerts).unwrap();
    assert!(a.contains("6.6.6.6"), "{a}");
}

/// The first `n` NASA lines (a replay of an old log), with the 2099 line after line `at`.
fn nasa_lines(n: usize, at: Option<usize>) -> String {
    let text = String::from_utf8_lossy(&nasa_text()).into_owned();
    let mut out = String::new();
    for (i, l) in text.lines().take(n).enumerate() {
        if Some(i) == at {
            out.push_str(POISON);
            out.push('\n');
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// `run --file` of `file`: the window results (JSON lines) and the summary's (future, late).
fn replay(file: &Path, extra: &[&str], late: Option<&Path>) -> (Vec<Value>, (u64, u64)) {
    let dir = file.parent().unwrap();
    let out = dir.join(format!("w-{}.jsonl", free_port()));
    let mut c = Command::new(bin());
    c.args([
        "run",
        "--no-state",
        "--format",
        "common",
        "--window",
        "60s",
        "--emit",
        "none",
    ])
    .args(extra)
    .arg("--file")
    .arg(file)
    .arg("--jsonl")
    .arg(&out);
    if let Some(l) = late {
        c.arg("--late").arg(l);
    }
    let o = c.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    ok(o);
    // The watermark at emission follows the parse jobs' boundaries, which one more line
    // moves: compared without it.
    let ws = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| {
            let mut w: Value = serde_json::from_str(l).unwrap();
            w.as_object_mut().unwrap().remove("watermark");
            w
        })
        .collect();
    (ws, summary_counts(&err))
}

#[test]
fn file_replay_of_nasa_with_one_line_from_2099_in_the_middle() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 30_000;
    let clean = tmp.path().join("clean.log");
    let poisoned = tmp.path().join("poisoned.log");
    std::fs::write(&clean, nasa_lines(n, None)).unwrap();
    std::fs::write(&poisoned, nasa_lines(n, Some(n / 2))).unwrap();
    let late = tmp.path().join("late.txt");
    let (want, (f0, l0)) = replay(&clean, &[], None);
    assert_eq!(f0, 0);
    assert!(want.len() > 100, "{} windows", want.len());
    let (got, (f1, l1)) = replay(&poisoned, &[], Some(&late));
    assert_eq!((f1, l1), (1, l0), "one future line, the same late lines");
    assert_eq!(got, want, "the windows equal those without the 2099 line");
    assert_one_future_line(&late);
    // Whatever the thread count.
    let (one, counts) = replay(&poisoned, &["--threads", "1"], None);
    assert_eq!((one, counts), (got, (1, l0)));
    // Without the bound (the behaviour before it), the windows go blind after the line.
    let (blind, (_, late_blind)) = replay(&poisoned, &["--max-jump", "0s"], None);
    assert!(late_blind > (n / 3) as u64, "{late_blind} late");
    assert_ne!(blind, want);
}

// --- Kafka ---------------------------------------------------------------------------

#[test]
fn kafka_one_line_from_2099_in_the_middle() {
    let tmp = tempfile::tempdir().unwrap();
    let broker = Broker::start(tmp.path());
    let log = tmp.path().join("access.log");
    let mut text = String::new();
    let written = live_traffic(&mut |l| text.push_str(l));
    std::fs::write(&log, &text).unwrap();
    // One partition: the lines arrive in the order written.
    ok(Command::new(bin())
        .args(["ship", "--kafka", &broker.addr(), "--topic", "hits"])
        .args(["--create-topic", "--partitions", "1", "--file"])
        .arg(&log)
        .arg("--checkpoint-dir")
        .arg(tmp.path().join("ship"))
        .output()
        .unwrap());
    let lake = tmp.path().join("lake");
    let (late, alerts) = (tmp.path().join("late.txt"), tmp.path().join("alerts.jsonl"));
    let o = Command::new(bin())
        .args([
            "run",
            "--kafka",
            &broker.addr(),
            "--topic",
            "hits",
            "--group",
            "g",
        ])
        .args([
            "--kafka-stop-at-end",
            "--format",
            "common",
            "--emit",
            "none",
        ])
        .args([
            "--window",
            "10s",
            "--lateness",
            "2s",
            "--idle-timeout",
            "1h",
        ])
        .args(["--checkpoint-interval", "1s"])
        .arg("--data")
        .arg(&lake)
        .arg("--late")
        .arg(&late)
        .arg("--alerts")
        .arg(&alerts)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    ok(o);
    assert_eq!(summary_counts(&err), (1, 0), "{err}");
    assert_one_future_line(&late);
    let a = std::fs::read_to_string(&alerts).unwrap_or_default();
    assert!(
        a.contains("client_404_burst") && a.contains("6.6.6.6"),
        "{a}\n{err}"
    );
    // The lake still stores every line, the 2099 one included.
    let rows: Vec<Value> = serde_json::from_str(&ok(Command::new(bin())
        .args(["sql", "--output", "json", "--data"])
        .arg(&lake)
        .arg("SELECT count(*) AS n, count(CASE WHEN client = 'evil.example' THEN 1 END) AS evil FROM requests")
        .output()
        .unwrap()))
    .unwrap();
    assert_eq!(rows[0]["n"], written, "{rows:?}");
    assert_eq!(rows[0]["evil"], 1, "{rows:?}");
}
