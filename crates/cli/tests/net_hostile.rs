//! `hitstream run --tcp` under hostile load, the real binary on loopback: 1,100 idle
//! connections under a 1,024 open-file limit beside a real sender, and a spool whose cap is
//! reached while a sender pushes far more than it holds.

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{bin_under_nofile, free_port, http_get_ok, stderr_lines, terminate, wait_for_port};

/// A combined-format line at minute `min` of 2024-03-01 10:00, second `sec`.
fn line(min: u32, sec: u32, n: u64) -> String {
    format!(
        "10.0.{}.{} - - [01/Mar/2024:10:{min:02}:{sec:02} +0000] \"GET /n/{n} HTTP/1.1\" 200 512 \"-\" \"net-test\"\n",
        n / 250 % 250,
        n % 250
    )
}

/// Requests per window (the latest emission of each) in a `--jsonl` file.
fn requests(out: &Path) -> Vec<u64> {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let mut latest: std::collections::BTreeMap<i64, (u64, u64)> = Default::default();
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        let w: Value = serde_json::from_str(l).unwrap();
        let start = w["window_start"].as_i64().unwrap();
        let rev = w["revision"].as_u64().unwrap();
        let n = w["requests"].as_u64().unwrap();
        let e = latest.entry(start).or_insert((rev, n));
        if rev >= e.0 {
            *e = (rev, n);
        }
    }
    latest.values().map(|v| v.1).collect()
}

fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done()
}

/// `hitstream run ARGS` under an open-file limit of 1,024, its stderr gathered on a thread.
fn start(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = bin_under_nofile(1024)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = stderr_lines(&mut child);
    (child, rx)
}

fn stop(mut child: Child, stderr: &mpsc::Receiver<String>) -> String {
    let status = terminate(&mut child, "hitstream run", Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(100));
    let text: String = stderr.try_iter().map(|l| l + "\n").collect();
    assert!(status.success(), "run failed: {status}\n{text}");
    text
}

/// This test opens more sockets than a 1,024 limit allows: raise its own soft limit to the
/// hard one where that is lower (util-linux `prlimit`). False when it stays too low.
fn enough_files_for_the_test(need: u64) -> bool {
    let me = std::process::id().to_string();
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3).map(str::to_string));
    if soft.as_deref() == Some("unlimited") {
        return true;
    }
    if soft.and_then(|s| s.parse::<u64>().ok()).unwrap_or(0) >= need {
        return true;
    }
    let hard = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4).map(str::to_string))
        .unwrap_or_default();
    let _ = Command::new("prlimit")
        .args(["--pid", &me, &format!("--nofile={hard}:{hard}")])
        .status();
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .is_some_and(|s| s == "unlimited" || s.parse::<u64>().is_ok_and(|n| n >= need))
}

#[test]
fn a_real_sender_gets_through_1100_idle_connections_under_a_1024_file_limit() {
    if !enough_files_for_the_test(1300) {
        eprintln!("skipped: this test process cannot open 1,300 sockets");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("w.jsonl");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let http_port = free_port();
    let http = format!("127.0.0.1:{http_port}");
    let out_s = out.to_str().unwrap();
    let (child, stderr) = start(&[
        "run",
        "--no-state",
        "--format",
        "combined",
        "--window",
        "60s",
        "--lateness",
        "0s",
        "--idle-timeout",
        "1h",
        "--emit",
        "none",
        "--no-alerts",
        "--tcp",
        &addr,
        "--jsonl",
        out_s,
        "--http",
        &http,
    ]);
    wait_for_port(port);
    wait_for_port(http_port);
    // 1,100 connections that send nothing and stay open on this side.
    let mut flood = Vec::new();
    for _ in 0..1100 {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => flood.push(s),
            Err(e) => panic!("connection {} failed: {e}", flood.len()),
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    // A real sender: 10 lines of minute 0, and one of minute 30 that closes minute 0.
    let mut real = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut text: String = (0..10).map(|i| line(0, i as u32, i)).collect();
    text.push_str(&line(30, 0, 99));
    real.write_all(text.as_bytes()).unwrap();
    drop(real);
    wait_for(Duration::from_secs(20), || {
        requests(&out).first().is_some_and(|n| *n >= 10)
    });
    let per = requests(&out);
    // The counters in /metrics, while the flood is still connected.
    let metrics = http_get_ok(http_port, "/metrics");
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name) && l.contains("source=\"tcp "))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /metrics:\n{metrics}"))
    };
    let (accepted, evicted, open) = (
        value("hitstream_net_connections_accepted_total"),
        value("hitstream_net_connections_evicted_total"),
        value("hitstream_net_connections_open"),
    );
    let seen = format!("accepted {accepted}, evicted {evicted}, open {open}");
    assert!(accepted >= 1101.0, "{seen}");
    // All but the real sender and the probes that waited for the port, which closed by
    // themselves, were evicted or are open.
    assert!(evicted + open >= 1100.0 - 1.0, "{seen}");
    assert!(open <= 2.0 * 256.0, "{seen}");
    let mut child = child;
    assert!(
        child.try_wait().unwrap().is_none(),
        "run stopped during the flood: {}",
        stderr.try_iter().collect::<Vec<_>>().join("\n")
    );
    drop(flood);
    let text = stop(child, &stderr);
    assert_eq!(
        per.first().copied(),
        Some(10),
        "the real sender's 10 lines, in windows {per:?}\n{text}"
    );
    // The status line on stop tells what happened to the idle ones.
    let status = text
        .lines()
        .find(|l| l.contains("connections ("))
        .unwrap_or_else(|| panic!("no connection status line:\n{text}"));
    assert!(status.contains("evicted"), "{status}");
}

#[test]
fn a_full_spool_pushes_back_and_run_loses_no_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("w.jsonl");
    let spool = tmp.path().join("spool");
    let state = tmp.path().join("state");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let (child, stderr) = start(&[
        "run",
        "--format",
        "combined",
        "--window",
        "60s",
        "--lateness",
        "0s",
        "--idle-timeout",
        "1h",
        "--emit",
        "none",
        "--no-alerts",
        "--checkpoint-interval",
        "200ms",
        "--tcp",
        &addr,
        "--spool",
        spool.to_str().unwrap(),
        "--spool-max-bytes",
        "262144",
        "--spool-segment-bytes",
        "65536",
        "--checkpoint-dir",
        state.to_str().unwrap(),
        "--jsonl",
        out.to_str().unwrap(),
    ]);
    wait_for_port(port);
    // 30,000 lines (about 3.2 MB, twelve times the cap) in minute 0, then one that closes it.
    let n = 30_000u64;
    let sender = std::thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
            let text: String = chunk
                .iter()
                .map(|i| line(0, (*i % 60) as u32, *i))
                .collect();
            s.write_all(text.as_bytes()).unwrap();
        }
        s.write_all(line(30, 0, n).as_bytes()).unwrap();
    });
    // The spool's size while the sender pushes: the cap, a segment, a batch (1 MiB at most).
    let dir = spool.join("tcp");
    let mut most = 0u64;
    let t = Instant::now();
    while !sender.is_finished() && t.elapsed() < Duration::from_secs(60) {
        let held: u64 = std::fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().starts_with("spool-"))
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        most = most.max(held);
        std::thread::sleep(Duration::from_millis(20));
    }
    sender.join().unwrap();
    wait_for(Duration::from_secs(30), || {
        requests(&out).first().is_some_and(|c| *c >= n)
    });
    let per = requests(&out);
    let text = stop(child, &stderr);
    assert_eq!(per.first().copied(), Some(n), "{per:?}\n{text}");
    assert!(
        most <= 262_144 + 65_536 + (1 << 20),
        "the spool held {most} bytes\n{text}"
    );
    let status = text
        .lines()
        .find(|l| l.contains("connections (") && l.contains("spool "))
        .unwrap_or_else(|| panic!("no spool status line:\n{text}"));
    assert!(status.contains("pauses when full"), "{status}\n{text}");
}
