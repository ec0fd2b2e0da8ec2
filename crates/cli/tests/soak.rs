//! The soak test of hostile load: everything of issue "hostile load and hostile input" at
//! once, for about a minute, against the real binary.
//!
//! `run --tail` follows a log that a writer appends to and rotates by rename, with the
//! dashboard (`--http`), the lake (`--data`), a spooled TCP source and checkpoints, under an
//! open-file limit of 512. Meanwhile hostile clients: hundreds of idle and half-sent HTTP
//! connections, event streams that never read, history queries with junk parameters and
//! absurd ranges, a line dated 2099 in the log, and hundreds of idle TCP connections beside a
//! real sender. At the end `run` must still be running, its memory and open files must have
//! stayed bounded, and the lake must equal `analyze` of the same lines (the expected numbers
//! come from `analyze`, and from the lines the test wrote).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{bin, bin_under_nofile, clf_time, free_port, ok, terminate, unix_now, KillOnDrop};

/// The child's open-file limit.
const NOFILE: u64 = 512;
/// How long the writer writes.
const WRITE_FOR: Duration = Duration::from_secs(45);

/// A combined-format line; `i` chooses client, page and status.
fn line(i: u64, t: i64, via: &str) -> String {
    let status = match i % 20 {
        0 => 404,
        1 => 500,
        2 | 3 => 304,
        _ => 200,
    };
    format!(
        "10.{}.{}.{} - - [{}] \"GET /{via}/p{}?n={i} HTTP/1.1\" {status} {} \"-\" \"soak/{}\"\n",
        i % 3,
        i % 7,
        i % 50,
        clf_time(t),
        i % 40,
        100 + i % 900,
        i % 5
    )
}

/// Resident memory (KiB) and open files of a process, from /proc.
fn usage(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some((rss, fds))
}

/// One HTTP/1.1 GET on a new connection; the status and body, or `None` when refused or
/// cut.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((code, body))
}

fn sql(lake: &Path, q: &str) -> Vec<Value> {
    let o = Command::new(bin())
        .args(["sql", "--data"])
        .arg(lake)
        .args(["--output", "json", q])
        .output()
        .unwrap();
    let text = ok(o);
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .flat_map(|l| match serde_json::from_str::<Value>(l).unwrap() {
            Value::Array(a) => a,
            v => vec![v],
        })
        .collect()
}

fn count(lake: &Path) -> u64 {
    let Ok(o) = Command::new(bin())
        .args(["sql", "--data"])
        .arg(lake)
        .args(["--output", "json", "SELECT count(*) AS n FROM requests"])
        .output()
    else {
        return 0;
    };
    if !o.status.success() {
        return 0;
    }
    serde_json::from_slice::<Value>(&o.stdout)
        .ok()
        .and_then(|v| {
            let row = if v.is_array() { v[0].clone() } else { v };
            row["n"].as_u64()
        })
        .unwrap_or(0)
}

#[test]
fn hostile_clients_and_input_do_not_stop_run_or_lose_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let log = logs.join("access.log");
    std::fs::write(&log, "").unwrap();
    let lake = dir.path().join("lake");
    let http = free_port();
    let tcp = free_port();

    let child = bin_under_nofile(NOFILE)
        .arg("run")
        .arg("--tail")
        .arg(format!("{}*", log.display()))
        .arg("--tcp")
        .arg(format!("127.0.0.1:{tcp}"))
        .arg("--spool")
        .arg(dir.path().join("spool"))
        .arg("--checkpoint-dir")
        .arg(dir.path().join("ckpt"))
        .arg("--checkpoint-interval")
        .arg("2s")
        .arg("--data")
        .arg(&lake)
        .arg("--http")
        .arg(format!("127.0.0.1:{http}"))
        .args(["--format", "combined", "--window", "10s", "--emit", "none"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut run = KillOnDrop(child);
    let pid = run.0.id();
    let stderr = run.0.stderr.take().unwrap();
    let err_text = Arc::new(Mutex::new(String::new()));
    {
        let err_text = err_text.clone();
        std::thread::spawn(move || {
            let mut r = std::io::BufReader::new(stderr);
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            err_text.lock().unwrap().push_str(&s);
        });
    }
    let t = Instant::now();
    while get(http, "/api/status").is_none() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the server never answered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(Mutex::new(String::new()));
    let mut threads = Vec::new();

    // The writer: 200 lines a second for WRITE_FOR, rotated by rename every 1,500 lines,
    // with one line dated 2099 a third of the way in.
    {
        let (log, written) = (log.clone(), written.clone());
        threads.push(std::thread::spawn(move || {
            let start = Instant::now();
            let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
            let (mut i, mut rotations) = (0u64, 0);
            while start.elapsed() < WRITE_FOR {
                let mut chunk = String::new();
                for _ in 0..20 {
                    if i == 3_000 {
                        chunk.push_str(&line(i, 4_070_908_800, "future")); // 2099-01-01
                    } else {
                        chunk.push_str(&line(i, unix_now(), "tail"));
                    }
                    i += 1;
                }
                f.write_all(chunk.as_bytes()).unwrap();
                written.lock().unwrap().push_str(&chunk);
                if i % 1_500 == 0 {
                    rotations += 1;
                    std::fs::rename(&log, log.with_extension(format!("log.{rotations}"))).unwrap();
                    f = std::fs::File::create(&log).unwrap();
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }));
    }

    // Event streams that never read (more than the cap on streams).
    let mut held: Vec<TcpStream> = Vec::new();
    for _ in 0..150 {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", http)) {
            let _ = s.write_all(
                format!("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{http}\r\n\r\n").as_bytes(),
            );
            held.push(s);
        }
    }
    // Idle connections and half-sent requests to the dashboard, beyond the file limit.
    for i in 0..600 {
        match TcpStream::connect(("127.0.0.1", http)) {
            Ok(mut s) => {
                if i % 3 == 0 {
                    let _ = s.write_all(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow:");
                }
                held.push(s);
            }
            Err(_) => break,
        }
    }
    // Idle connections to the TCP source, beyond the file limit.
    let mut flood: Vec<TcpStream> = Vec::new();
    for _ in 0..600 {
        match TcpStream::connect(("127.0.0.1", tcp)) {
            Ok(s) => flood.push(s),
            Err(_) => break,
        }
    }

    // History with junk parameters and absurd ranges, until the end.
    let answers = Arc::new(Mutex::new(BTreeMap::<u16, u64>::new()));
    {
        let (stop, answers) = (stop.clone(), answers.clone());
        threads.push(std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let path = match n % 3 {
                    0 => format!("/api/history?from=0&to=4102444800&x={n}"),
                    1 => "/api/history?from=-9223372036854775808&to=9223372036854775807".into(),
                    _ => format!("/api/history/bounds?junk={n}"),
                };
                if let Some((code, body)) = get(http, &path) {
                    assert!(
                        !body.contains("Optimizer") && !body.contains("DataFusion"),
                        "{path}: {body}"
                    );
                    *answers.lock().unwrap().entry(code).or_default() += 1;
                }
                n += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
        }));
    }

    // Memory and open files, sampled until the end.
    let peak = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    {
        let (stop, peak) = (stop.clone(), peak.clone());
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some((rss, fds)) = usage(pid) {
                    peak.0.fetch_max(rss, Ordering::Relaxed);
                    peak.1.fetch_max(fds, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }));
    }

    // A real sender through the TCP flood.
    std::thread::sleep(Duration::from_secs(5));
    let mut sent = String::new();
    for i in 0..100 {
        sent.push_str(&line(10_000 + i, unix_now(), "tcp"));
    }
    let t = Instant::now();
    loop {
        let delivered = TcpStream::connect(("127.0.0.1", tcp)).and_then(|mut s| {
            s.write_all(sent.as_bytes())?;
            s.shutdown(std::net::Shutdown::Write)?;
            // The source closes the connection once it has read to the end.
            let mut sink = [0u8; 16];
            s.set_read_timeout(Some(Duration::from_secs(20)))?;
            let _ = s.read(&mut sink);
            Ok(())
        });
        if delivered.is_ok() {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the real TCP sender never got through the flood: {delivered:?}; run exited: {:?}; {} flood connections; stderr: {}",
            run.0.try_wait(),
            flood.len(),
            err_text.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    for t in threads.drain(..1) {
        t.join().unwrap();
    }
    let total = {
        let w = written.lock().unwrap();
        w.lines().count() as u64 + 100
    };
    // The lake catches up with every line while the hostile clients are still there.
    let t = Instant::now();
    let mut stored = 0;
    while t.elapsed() < Duration::from_secs(90) {
        stored = count(&lake);
        if stored >= total {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    assert!(
        run.0.try_wait().unwrap().is_none(),
        "run stopped under hostile load: {}",
        err_text.lock().unwrap()
    );
    assert_eq!(stored, total, "the lake holds {stored} of {total} lines");

    // Bounded: no more open files than the limit allows (the server refused what it could
    // not hold), and memory far below what buffering the streams would take.
    let (rss, fds) = (
        peak.0.load(Ordering::Relaxed),
        peak.1.load(Ordering::Relaxed),
    );
    eprintln!("peak: {} MiB resident, {fds} open files", rss / 1024);
    assert!(fds < NOFILE, "{fds} open files");
    assert!(rss < 400 * 1024, "{} MiB resident", rss / 1024);

    // The status says the 2099 line is from the future, and the history answered.
    let (code, status) = get(http, "/api/status").unwrap();
    assert_eq!(code, 200);
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["counters"]["future"], 1, "{status}");
    assert_eq!(status["counters"]["late"], 0, "{status}");
    // The caps were reached, and said so.
    let (_, metrics) = get(http, "/metrics").unwrap();
    let metric = |name: &str| -> f64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    for name in [
        "hitstream_http_connections_refused_total",
        "hitstream_http_streams_refused_total",
        "hitstream_net_connections_evicted_total",
    ] {
        assert!(metric(name) > 0.0, "{name} is 0:\n{metrics}");
    }
    assert_eq!(metric("hitstream_future_lines_total"), 1.0);
    let answers = answers.lock().unwrap().clone();
    assert!(answers.get(&200).copied().unwrap_or(0) > 0, "{answers:?}");
    assert!(
        answers.keys().all(|&c| c == 200 || c == 400 || c == 503),
        "{answers:?}"
    );
    drop(held);
    drop(flood);

    terminate(&mut run.0, "run", Duration::from_secs(30));

    // The lake against `analyze` of the same lines.
    let all: PathBuf = dir.path().join("all.log");
    let mut text = written.lock().unwrap().clone();
    text.push_str(&sent);
    std::fs::write(&all, text).unwrap();
    let report: Value = serde_json::from_str(&ok(Command::new(bin())
        .arg("analyze")
        .arg(&all)
        .args(["--format", "combined", "--output", "json"])
        .output()
        .unwrap()))
    .unwrap();
    let rows = sql(
        &lake,
        "SELECT count(*) AS n, sum(bytes) AS b, count(DISTINCT client) AS c, \
         count(DISTINCT query) AS d FROM requests",
    );
    let r = &rows[0];
    assert_eq!(r["n"].as_u64(), Some(total));
    assert_eq!(r["n"], report["totals"]["requests"], "{report}");
    assert_eq!(r["b"], report["totals"]["bytes"]);
    assert_eq!(r["c"], report["unique_hosts"]);
    assert_eq!(r["d"].as_u64(), Some(total), "a line stored twice");
    let by_status = sql(
        &lake,
        "SELECT CAST(status AS VARCHAR) AS s, count(*) AS n FROM requests GROUP BY status",
    );
    let lake_status: BTreeMap<String, u64> = by_status
        .iter()
        .map(|r| {
            (
                r["s"].as_str().unwrap().to_string(),
                r["n"].as_u64().unwrap(),
            )
        })
        .collect();
    let analyze_status: BTreeMap<String, u64> = report["status"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["status"].to_string(), r["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(lake_status, analyze_status);
}
