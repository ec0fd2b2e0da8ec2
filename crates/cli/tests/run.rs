//! End-to-end tests of `hitstream run`: the real binary over real files, sockets, rotation
//! and kill -9, with expected numbers computed independently of the window engine.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{
    append_log, bin, data, free_port, nasa_text, rotate_by_copytruncate, terminate, wait_for_port,
    wait_or_kill, NASA,
};

fn windows(jsonl: &str) -> Vec<Value> {
    jsonl
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The latest emission of every window, by start.
fn latest(ws: &[Value]) -> BTreeMap<i64, Value> {
    let mut m: BTreeMap<i64, Value> = BTreeMap::new();
    for w in ws {
        let s = w["window_start"].as_i64().unwrap();
        let rev = w["revision"].as_u64().unwrap();
        if m.get(&s)
            .is_none_or(|o| o["revision"].as_u64().unwrap() <= rev)
        {
            m.insert(s, w.clone());
        }
    }
    m
}

/// Requests per window (latest emission of each, by start) once `done` says the output is
/// complete, or whatever is there after `limit`.
fn wait_for_windows(out: &Path, limit: Duration, done: impl Fn(&[u64]) -> bool) -> Vec<u64> {
    let t = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let ws = latest(&windows(&std::fs::read_to_string(out).unwrap_or_default()));
        let per: Vec<u64> = ws
            .values()
            .map(|w| w["requests"].as_u64().unwrap())
            .collect();
        if done(&per) || t.elapsed() > limit {
            return per;
        }
    }
}

/// Per-minute request counts straight from the timestamp text, independent of hitstream.
fn minutes_by_text(text: &[u8]) -> HashMap<String, u64> {
    let mut m = HashMap::new();
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let open = line.iter().position(|&b| b == b'[').unwrap();
        // `01/Jul/1995:00:00` — day, month, year, hour and minute.
        let key = String::from_utf8_lossy(&line[open + 1..open + 18]).into_owned();
        *m.entry(key).or_default() += 1;
    }
    m
}

#[test]
fn nasa_minutes_match_an_independent_count() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("w.jsonl");
    let st = Command::new(bin())
        .args([
            "run",
            "--no-state",
            "--window",
            "60s",
            "--emit",
            "none",
            "--no-alerts",
            "--file",
        ])
        .arg(data(NASA))
        .arg("--jsonl")
        .arg(&out)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let ws = latest(&windows(&std::fs::read_to_string(&out).unwrap()));
    let expected = minutes_by_text(&nasa_text());
    // Every minute with traffic is one window (the log is in order: no updates).
    assert_eq!(ws.len(), expected.len());
    let total: u64 = ws.values().map(|w| w["requests"].as_u64().unwrap()).sum();
    assert_eq!(total, 200_000);
    // All of NASA is at -0400: the window starting at 04:00Z is 00:00 local on July 1st.
    let first = ws.values().next().unwrap();
    assert_eq!(first["window_start_rfc3339"], "1995-07-01T04:00:00Z");
    assert_eq!(
        first["requests"].as_u64().unwrap(),
        expected["01/Jul/1995:00:00"]
    );
    for w in ws.values() {
        let start = w["window_start"].as_i64().unwrap() - 4 * 3600;
        let (days, secs) = (start.div_euclid(86_400), start.rem_euclid(86_400));
        // 1995-07-01 is day 9312 since the epoch.
        let key = format!(
            "{:02}/Jul/1995:{:02}:{:02}",
            days - 9312 + 1,
            secs / 3600,
            secs % 3600 / 60
        );
        assert_eq!(
            w["requests"].as_u64().unwrap(),
            expected[&key],
            "minute {key}"
        );
    }
    let stderr = String::from_utf8_lossy(&st.stderr);
    assert!(stderr.contains("200000 lines"), "{stderr}");
}

#[test]
fn kill_9_and_restart_count_every_line_once() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("nasa.log");
    // First 60k lines: a few seconds of work for a debug build, time enough to kill it.
    let text = nasa_text();
    let cut = text
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(59_999)
        .unwrap()
        .0;
    std::fs::write(&log, &text[..=cut]).unwrap();
    let expected = minutes_by_text(&text[..=cut]);

    let run = |dir: &Path, out: &Path| {
        Command::new(bin())
            .args(["run", "--window", "60s", "--emit", "none", "--no-alerts"])
            .args(["--checkpoint-interval", "20ms", "--threads", "2", "--file"])
            .arg(&log)
            .arg("--checkpoint-dir")
            .arg(dir)
            .arg("--jsonl")
            .arg(out)
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };

    // The truth: one uninterrupted run.
    let clean_out = tmp.path().join("clean.jsonl");
    let mut c = run(&tmp.path().join("clean-state"), &clean_out);
    assert!(wait_or_kill(&mut c, "hitstream run", Duration::from_secs(120)).success());
    let clean = latest(&windows(&std::fs::read_to_string(&clean_out).unwrap()));
    assert_eq!(
        clean
            .values()
            .map(|w| w["requests"].as_u64().unwrap())
            .sum::<u64>(),
        60_000
    );
    assert_eq!(clean.len(), expected.len());

    // The same with kill -9 at pseudo-random moments, restarting each time.
    let state = tmp.path().join("state");
    let out = tmp.path().join("crashy.jsonl");
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut kills = 0;
    for _ in 0..60 {
        let mut c = run(&state, &out);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(30 + seed % 300));
        if c.try_wait().unwrap().is_some() {
            break;
        }
        c.kill().unwrap(); // SIGKILL
        c.wait().unwrap();
        kills += 1;
        if kills >= 12 {
            break;
        }
    }
    let mut c = run(&state, &out);
    assert!(wait_or_kill(&mut c, "hitstream run", Duration::from_secs(120)).success());
    assert!(kills > 0, "the run was never killed: make the input larger");
    let crashy = latest(&windows(&std::fs::read_to_string(&out).unwrap()));
    // Windows emitted before a crash and after the last checkpoint are emitted again on
    // restart (at-least-once output, same content): the latest emission of every window
    // equals the uninterrupted run, so no line was lost or counted twice.
    assert_eq!(crashy.len(), clean.len(), "after {kills} kills");
    for (s, w) in &clean {
        assert_eq!(
            crashy[s]["requests"], w["requests"],
            "window {} after {kills} kills",
            w["window_start_rfc3339"]
        );
        assert_eq!(crashy[s]["top_clients"], w["top_clients"]);
    }
}

fn line(min: u32, sec: u32, client: &str, path: &str, status: u16) -> String {
    format!(
        "{client} - - [01/Jan/2025:10:{min:02}:{sec:02} +0000] \"GET {path} HTTP/1.1\" {status} 100 \"-\" \"test\"\n"
    )
}

#[test]
fn tail_follows_rename_and_copytruncate_rotation() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("access.log");
    std::fs::write(&log, "").unwrap();
    let out = tmp.path().join("w.jsonl");
    let mut child = Command::new(bin())
        .args([
            "run",
            "--no-state",
            "--format",
            "combined",
            "--window",
            "60s",
            "--lateness",
            "0s",
        ])
        .args(["--emit", "none", "--no-alerts", "--tail"])
        .arg(tmp.path().join("access.log*").to_str().unwrap())
        .arg("--jsonl")
        .arg(&out)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut written = 0u64;
    // Minute 0 in the first file.
    for i in 0..50 {
        append_log(&log, &line(0, i % 60, "1.1.1.1", "/a", 200));
        written += 1;
    }
    std::thread::sleep(Duration::from_millis(600));
    // Rotation by rename, then more lines in a new file.
    std::fs::rename(&log, tmp.path().join("access.log.1")).unwrap();
    for i in 0..30 {
        append_log(&log, &line(1, i, "2.2.2.2", "/b", 404));
        written += 1;
    }
    std::thread::sleep(Duration::from_millis(600));
    // Rotation by copytruncate.
    rotate_by_copytruncate(&log, &tmp.path().join("access.log.2"));
    for i in 0..20 {
        append_log(&log, &line(2, i, "3.3.3.3", "/c", 200));
        written += 1;
    }
    // A line far ahead closes every earlier window.
    std::thread::sleep(Duration::from_millis(600));
    append_log(&log, &line(30, 0, "9.9.9.9", "/z", 200));
    // The far-ahead line's own window may close too, when the idle timeout moves the
    // watermark: count minutes 0-2 only.
    let first3 = |per: &[u64]| per.iter().take(3).sum::<u64>();
    let total = first3(&wait_for_windows(&out, Duration::from_secs(30), |per| {
        first3(per) >= written
    }));
    assert!(terminate(&mut child, "hitstream run", Duration::from_secs(30)).success());
    assert_eq!(total, written, "every line of minutes 0-2 counted once");
    let ws = latest(&windows(&std::fs::read_to_string(&out).unwrap()));
    let per: Vec<u64> = ws
        .values()
        .map(|w| w["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(per[..3], [50, 30, 20]);
}

#[test]
fn tcp_source_with_a_real_sender() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("w.jsonl");
    let port = free_port();
    let mut child = Command::new(bin())
        .args([
            "run",
            "--no-state",
            "--format",
            "combined",
            "--window",
            "60s",
            "--lateness",
            "0s",
        ])
        .args(["--emit", "none", "--no-alerts", "--tcp"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--jsonl")
        .arg(&out)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port);
    let mut payload = String::new();
    for i in 0..40 {
        payload.push_str(&line(0, i, "4.4.4.4", "/t", 200));
    }
    payload.push_str(&line(30, 0, "9.9.9.9", "/z", 200));
    // Prefer netcat when the machine has it: a sender that is not ours.
    let nc = Command::new("nc")
        .arg("-h")
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if nc {
        let mut p = Command::new("nc")
            .args(["-N", "127.0.0.1", &port.to_string()])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        p.stdin
            .take()
            .unwrap()
            .write_all(payload.as_bytes())
            .unwrap();
        p.wait().unwrap();
    } else {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(payload.as_bytes()).unwrap();
    }
    let total: u64 = wait_for_windows(&out, Duration::from_secs(20), |per| {
        per.iter().sum::<u64>() >= 40
    })
    .iter()
    .sum();
    assert!(terminate(&mut child, "hitstream run", Duration::from_secs(20)).success());
    assert_eq!(total, 40);
}

#[test]
fn syslog_source_rfc3164_and_5424_over_udp() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("w.jsonl");
    let port = free_port();
    let mut child = Command::new(bin())
        .args([
            "run",
            "--no-state",
            "--format",
            "combined",
            "--window",
            "60s",
            "--lateness",
            "0s",
        ])
        .args(["--emit", "none", "--no-alerts", "--syslog"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--jsonl")
        .arg(&out)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port); // the TCP side of the syslog listener
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..10 {
        let l = line(0, i, "5.5.5.5", "/s", 200);
        // nginx `access_log syslog:` sends RFC 3164.
        let f = format!("<190>Jan  1 10:00:{i:02} web1 nginx: {}", l.trim_end());
        sock.send_to(f.as_bytes(), ("127.0.0.1", port)).unwrap();
        let l = line(0, 30 + i, "6.6.6.6", "/s", 200);
        let f = format!(
            "<190>1 2025-01-01T10:00:{:02}Z web1 nginx - - - {}",
            30 + i,
            l.trim_end()
        );
        sock.send_to(f.as_bytes(), ("127.0.0.1", port)).unwrap();
    }
    let f = format!(
        "<190>Jan  1 10:30:00 web1 nginx: {}",
        line(30, 0, "9.9.9.9", "/z", 200).trim_end()
    );
    sock.send_to(f.as_bytes(), ("127.0.0.1", port)).unwrap();
    let total: u64 = wait_for_windows(&out, Duration::from_secs(20), |per| {
        per.iter().sum::<u64>() >= 20
    })
    .iter()
    .sum();
    assert!(terminate(&mut child, "hitstream run", Duration::from_secs(20)).success());
    assert_eq!(total, 20);
}

#[test]
fn config_errors_name_file_line_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("hitstream.toml");
    std::fs::write(
        &cfg,
        "[[source]]\ntype = \"file\"\npaths = [\"x.log\"]\n\n[window]\nsize = \"1m\"\nsizee = \"2m\"\n",
    )
    .unwrap();
    let o = Command::new(bin())
        .args(["run", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("hitstream.toml") && e.contains("line 7") && e.contains("sizee"),
        "{e}"
    );
}

#[test]
fn bounded_run_from_a_config_with_alerts() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("a.log");
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&line(0, i, "7.7.7.7", &format!("/wp-{i}.php"), 404));
    }
    for i in 0..10 {
        text.push_str(&line(1, i, "8.8.8.8", "/", 200));
    }
    std::fs::write(&log, text).unwrap();
    let cfg = tmp.path().join("h.toml");
    std::fs::write(
        &cfg,
        format!(
            "format = \"combined\"\n[[source]]\ntype = \"file\"\npaths = [{:?}]\nfollow = false\n\
             [window]\nsize = \"1m\"\nlateness = \"0s\"\n\
             [[alert]]\nkind = \"client_404_burst\"\nthreshold = 20\n\
             [output]\nconsole = false\njsonl = {:?}\nalerts = {:?}\n",
            log.display().to_string(),
            tmp.path().join("w.jsonl").display().to_string(),
            tmp.path().join("a.jsonl").display().to_string()
        ),
    )
    .unwrap();
    let o = Command::new(bin())
        .args(["run", "--no-state", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ws = latest(&windows(
        &std::fs::read_to_string(tmp.path().join("w.jsonl")).unwrap(),
    ));
    let per: Vec<u64> = ws
        .values()
        .map(|w| w["requests"].as_u64().unwrap())
        .collect();
    assert_eq!(per, vec![40, 10]);
    let alerts = windows(&std::fs::read_to_string(tmp.path().join("a.jsonl")).unwrap());
    assert_eq!(alerts.len(), 1, "one incident, one alert");
    assert_eq!(alerts[0]["kind"], "client_404_burst");
    assert_eq!(alerts[0]["key"], "7.7.7.7");
    assert_eq!(alerts[0]["observed"].as_f64().unwrap(), 40.0);
    assert!(!alerts[0]["samples"].as_array().unwrap().is_empty());
}

#[test]
fn tail_with_rotation_and_kill_9_counts_every_line_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    std::fs::create_dir(&dir).unwrap();
    let log = dir.join("access.log");
    std::fs::write(&log, "").unwrap();
    let state = tmp.path().join("state");
    let out = tmp.path().join("w.jsonl");
    let pattern = dir.join("access.log*").to_str().unwrap().to_string();
    let start = |state: &Path, out: &Path| {
        Command::new(bin())
            .args([
                "run",
                "--format",
                "combined",
                "--window",
                "60s",
                "--lateness",
                "0s",
            ])
            .args(["--idle-timeout", "1h", "--emit", "none", "--no-alerts"])
            .args(["--checkpoint-interval", "30ms", "--tail", &pattern])
            .arg("--checkpoint-dir")
            .arg(state)
            .arg("--jsonl")
            .arg(out)
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };

    // The writer: 20 minutes of event time, 60 lines a minute, rotated by rename every 300
    // lines and by copytruncate once, while the reader is killed and restarted.
    let writer_dir = dir.clone();
    let writer = std::thread::spawn(move || {
        let log = writer_dir.join("access.log");
        let mut rotations = 0;
        for n in 0..1200u32 {
            let (min, sec) = (n / 60, n % 60);
            append_log(
                &log,
                &line(min, sec, &format!("10.0.{}.{}", n % 7, n % 13), "/p", 200),
            );
            if n % 300 == 299 {
                rotations += 1;
                if rotations == 2 {
                    let copy = writer_dir.join(format!("access.log.ct{rotations}"));
                    rotate_by_copytruncate(&log, &copy);
                } else {
                    std::fs::rename(&log, writer_dir.join(format!("access.log.{rotations}")))
                        .unwrap();
                }
            }
            std::thread::sleep(Duration::from_millis(8));
        }
    });

    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut kills = 0;
    let mut child = start(&state, &out);
    while !writer.is_finished() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(100 + seed % 400));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        child = start(&state, &out);
    }
    writer.join().unwrap();
    // A line far ahead closes every window of the 20 minutes.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&log)
        .unwrap();
    f.write_all(line(50, 0, "9.9.9.9", "/z", 200).as_bytes())
        .unwrap();
    drop(f);
    let per = wait_for_windows(&out, Duration::from_secs(60), |per| per.len() >= 20);
    assert!(terminate(&mut child, "hitstream run", Duration::from_secs(30)).success());
    assert!(kills >= 3, "only {kills} kills");
    assert_eq!(
        per.len(),
        20,
        "20 minutes of windows after {kills} kills: {per:?}"
    );
    assert!(
        per.iter().all(|c| *c == 60),
        "every minute has its 60 lines, none lost or doubled, after {kills} kills: {per:?}"
    );
}

#[test]
fn spooled_tcp_survives_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("w.jsonl");
    let spool = tmp.path().join("spool");
    let state = tmp.path().join("state");
    let start = |port: u16| {
        Command::new(bin())
            .args([
                "run",
                "--format",
                "combined",
                "--window",
                "60s",
                "--lateness",
                "0s",
            ])
            .args(["--idle-timeout", "1h", "--emit", "none", "--no-alerts"])
            .args(["--checkpoint-interval", "50ms", "--tcp"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--spool")
            .arg(&spool)
            .arg("--checkpoint-dir")
            .arg(&state)
            .arg("--jsonl")
            .arg(&out)
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let send = |port: u16, text: &str| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(text.as_bytes()).unwrap();
    };
    let port = free_port();
    let mut child = start(port);
    wait_for_port(port);
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&line(0, i, "4.4.4.4", "/t", 200));
    }
    send(port, &text);
    // Let the lines reach the spool, then stop hard: the open window lives only in the
    // checkpoint and the spool.
    std::thread::sleep(Duration::from_millis(800));
    child.kill().unwrap();
    child.wait().unwrap();
    let port = free_port();
    let mut child = start(port);
    wait_for_port(port);
    send(port, &line(30, 0, "9.9.9.9", "/z", 200));
    let per = wait_for_windows(&out, Duration::from_secs(20), |per| {
        per.first().is_some_and(|n| *n >= 40)
    });
    let first = per.first().copied().unwrap_or(0);
    assert!(terminate(&mut child, "hitstream run", Duration::from_secs(20)).success());
    assert_eq!(first, 40, "the 40 spooled lines survive kill -9");
}

#[test]
fn out_of_order_input_gives_the_same_results_on_any_thread_count() {
    // The first 20,000 NASA lines (about 5 hours), shuffled: each line swapped with one up to
    // 400 lines (several minutes) away, by a fixed pseudo-random sequence.
    let text = nasa_text();
    let mut lines: Vec<&[u8]> = text.split(|&b| b == b'\n').take(20_000).collect();
    let mut seed = 0x0123_4567_89ab_cdefu64;
    for i in 0..lines.len() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let j = (i + (seed % 400) as usize).min(lines.len() - 1);
        lines.swap(i, j);
    }
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("shuffled.log");
    std::fs::write(&f, lines.join(&b'\n')).unwrap();
    let mut outputs = Vec::new();
    for threads in ["1", "2", "3"] {
        let late = tmp.path().join(format!("late-{threads}.txt"));
        let o = Command::new(bin())
            .args([
                "run",
                "--no-state",
                "--window",
                "60s",
                "--lateness",
                "60s",
                "--emit",
                "jsonl",
            ])
            .args(["--no-alerts", "--threads", threads, "--file"])
            .arg(&f)
            .arg("--late")
            .arg(&late)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = String::from_utf8(o.stdout).unwrap();
        let counted: u64 = latest(&windows(&text))
            .values()
            .map(|w| w["requests"].as_u64().unwrap())
            .sum();
        let late_lines = std::fs::read_to_string(&late).unwrap().lines().count() as u64;
        // Every line is in a window or in the late output, never both, never neither.
        assert_eq!(counted + late_lines, 20_000, "threads {threads}");
        assert!(late_lines > 0, "lines moved minutes back must be late here");
        assert!(
            text.contains("\"update\":true"),
            "late lines within lateness update windows"
        );
        outputs.push(text);
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
}
