//! Listening sources with real senders on 127.0.0.1 (free ports): newline TCP from several
//! connections (and `nc` when installed), syslog over UDP and TCP in both RFC formats and
//! both TCP framings (and `logger` from util-linux when installed), malformed frames kept
//! with a reason, and the spool that makes TCP input survive a restart.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use hitstream_source::spool::{self, reader_config, FsyncPolicy, SpoolConfig};
use hitstream_source::{
    Checkpoint, FileSource, Malformed, Poll, Source, SpoolWriter, Spooler, SyslogConfig,
    SyslogReject, SyslogSource, TcpConfig, TcpSource,
};

/// Polls `src` until `want` lines (and `want_bad` malformed frames) came, or 10 s passed.
fn gather(src: &mut dyn Source, want: usize, want_bad: usize) -> (Vec<String>, Vec<Malformed>) {
    let start = Instant::now();
    let (mut lines, mut bad) = (Vec::new(), Vec::new());
    while (lines.len() < want || bad.len() < want_bad) && start.elapsed() < Duration::from_secs(10)
    {
        if let Poll::Batch(b) = src.poll(Duration::from_millis(100)) {
            lines.extend(b.lines().map(|l| String::from_utf8_lossy(l).into_owned()));
            bad.extend(b.malformed().iter().cloned());
        }
    }
    (lines, bad)
}

fn which(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn send_tcp(addr: SocketAddr, bytes: &[u8]) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(bytes).unwrap();
}

#[test]
fn tcp_lines_from_many_connections_in_order_per_connection() {
    let mut src = TcpSource::bind(TcpConfig::new("127.0.0.1:0")).unwrap();
    let addr = src.local_addr();
    let senders: Vec<_> = (0..4)
        .map(|c| {
            thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                let text: String = (0..500).map(|i| format!("conn{c} {i:05}\n")).collect();
                let mut text = text.into_bytes();
                if c == 0 {
                    text.extend_from_slice(b"conn0 last-without-newline");
                }
                // Odd-sized writes split lines across reads.
                for chunk in text.chunks(97 + c * 13) {
                    s.write_all(chunk).unwrap();
                }
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    let mut want = 2001;
    let nc = which("nc");
    if nc {
        let mut child = Command::new("nc")
            .args(["-N", "127.0.0.1", &addr.port().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let text: String = (0..100).map(|i| format!("nc {i:05}\n")).collect();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success());
        want += 100;
    }
    let (lines, bad) = gather(&mut src, want, 0);
    assert!(bad.is_empty());
    assert_eq!(lines.len(), want);
    let mut per: HashMap<String, Vec<String>> = HashMap::new();
    for l in &lines {
        let (conn, rest) = l.split_once(' ').unwrap();
        per.entry(conn.to_string())
            .or_default()
            .push(rest.to_string());
    }
    for c in 0..4 {
        let mut expect: Vec<String> = (0..500).map(|i| format!("{i:05}")).collect();
        if c == 0 {
            expect.push("last-without-newline".into());
        }
        assert_eq!(per[&format!("conn{c}")], expect, "connection {c}");
    }
    if nc {
        assert_eq!(per["nc"].len(), 100);
    }
    assert_eq!(src.stats().connections, 4 + u64::from(nc));
}

const NGINX_LINE: &str =
    r#"1.2.3.4 - - [21/Nov/2024:23:12:01 +0000] "GET /index.html HTTP/1.1" 200 612 "-" "curl/8.5""#;

#[test]
fn syslog_udp_rfc3164_rfc5424_and_malformed() {
    let mut src = SyslogSource::bind(SyslogConfig {
        udp: Some("127.0.0.1:0".into()),
        ..SyslogConfig::default()
    })
    .unwrap();
    let addr = src.udp_addr().unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    // As nginx sends it with `access_log syslog:server=...,tag=nginx combined;`.
    tx.send_to(
        format!("<190>Nov 21 23:12:01 web1 nginx: {NGINX_LINE}").as_bytes(),
        addr,
    )
    .unwrap();
    tx.send_to(
        format!("<190>1 2024-11-21T23:12:01.5+00:00 web1 nginx 77 - - {NGINX_LINE}\n").as_bytes(),
        addr,
    )
    .unwrap();
    tx.send_to(b"not syslog at all", addr).unwrap();
    tx.send_to(b"<13>Nov 99 99:99:99 h t: x", addr).unwrap();
    let (lines, bad) = gather(&mut src, 2, 2);
    assert_eq!(lines, vec![NGINX_LINE, NGINX_LINE]);
    let reasons: Vec<_> = bad.iter().map(|m| m.reason).collect();
    assert_eq!(
        reasons,
        vec![SyslogReject::MissingPri, SyslogReject::BadTimestamp]
    );
    assert_eq!(bad[0].raw, b"not syslog at all");
    assert_eq!(bad[0].peer, Some(tx.local_addr().unwrap()));
    let st = src.stats();
    assert_eq!((st.datagrams, st.malformed), (4, 2));
}

#[test]
fn a_udp_burst_is_gathered_into_few_batches_and_kept_while_the_reader_is_slow() {
    let mut src = SyslogSource::bind(SyslogConfig {
        udp: Some("127.0.0.1:0".into()),
        ..SyslogConfig::default()
    })
    .unwrap();
    let addr = src.udp_addr().unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let n = 5000;
    for i in 0..n {
        let msg = format!("<190>Nov 21 23:12:01 web1 nginx: {NGINX_LINE} {i}");
        tx.send_to(msg.as_bytes(), addr).unwrap();
    }
    // A slow reader: the datagrams wait in the socket's buffer and the batch channel.
    let start = Instant::now();
    let (mut lines, mut batches) = (0, 0);
    while lines < n && start.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(20));
        if let Poll::Batch(b) = src.poll(Duration::from_millis(100)) {
            lines += b.len();
            batches += 1;
        }
    }
    assert_eq!(lines, n, "lost {} of {n} datagrams", n - lines);
    // One batch per datagram would be 5000.
    assert!(batches <= 100, "{batches} batches for {n} datagrams");
}

#[test]
fn syslog_tcp_octet_counting_newline_framing_and_malformed() {
    let mut src = SyslogSource::bind(SyslogConfig {
        tcp: Some("127.0.0.1:0".into()),
        ..SyslogConfig::default()
    })
    .unwrap();
    let addr = src.tcp_addr().unwrap();
    let a = format!("<190>Nov 21 23:12:01 web1 nginx: {NGINX_LINE}");
    let b = format!("<190>1 2024-11-21T23:12:01Z web1 nginx - - [x@1 a=\"]\"] {NGINX_LINE}");
    let mut stream = Vec::new();
    stream.extend_from_slice(format!("{} {a}", a.len()).as_bytes());
    stream.extend_from_slice(format!("{} {b}", b.len()).as_bytes());
    // Newline framing on another connection, with a bad frame in the middle.
    send_tcp(addr, &stream);
    send_tcp(addr, format!("{a}\ngarbage\n{b}\n").as_bytes());
    let (lines, bad) = gather(&mut src, 4, 1);
    assert_eq!(lines, vec![NGINX_LINE; 4]);
    assert_eq!(bad.len(), 1);
    assert_eq!(
        (bad[0].reason, bad[0].raw.as_slice()),
        (SyslogReject::MissingPri, &b"garbage"[..])
    );
}

#[test]
fn syslog_from_util_linux_logger() {
    if !which("logger") {
        eprintln!("logger not installed; skipped");
        return;
    }
    let mut src = SyslogSource::bind(SyslogConfig {
        udp: Some("127.0.0.1:0".into()),
        tcp: Some("127.0.0.1:0".into()),
        ..SyslogConfig::default()
    })
    .unwrap();
    let (udp, tcp) = (src.udp_addr().unwrap(), src.tcp_addr().unwrap());
    let runs: &[(&str, u16, &[&str])] = &[
        ("udp 3164", udp.port(), &["--udp", "--rfc3164"]),
        ("udp 5424", udp.port(), &["--udp", "--rfc5424"]),
        ("tcp 3164", tcp.port(), &["--tcp", "--rfc3164"]),
        ("tcp 5424", tcp.port(), &["--tcp", "--rfc5424"]),
        (
            "tcp 5424 octet",
            tcp.port(),
            &["--tcp", "--rfc5424", "--octet-count"],
        ),
    ];
    for (name, port, flags) in runs {
        let status = Command::new("logger")
            .args([
                "--server",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "-t",
                "nginx",
            ])
            .args(*flags)
            .arg(NGINX_LINE)
            .status()
            .unwrap();
        assert!(status.success(), "{name}");
        let (lines, bad) = gather(&mut src, 1, 0);
        assert!(bad.is_empty(), "{name}: {bad:?}");
        assert_eq!(lines, vec![NGINX_LINE], "{name}");
    }
}

fn read_spool(
    src: &mut FileSource,
    cp: &mut Checkpoint,
    cp_path: &Path,
    out: &mut Vec<String>,
    want: usize,
) {
    let start = Instant::now();
    while out.len() < want && start.elapsed() < Duration::from_secs(10) {
        if let Poll::Batch(b) = src.poll(Duration::from_millis(100)) {
            out.extend(b.lines().map(|l| String::from_utf8_lossy(l).into_owned()));
            cp.apply(&b);
            cp.save_atomic(cp_path).unwrap();
        }
    }
}

fn numbered_lines(from: u64, to: u64) -> String {
    (from..to).map(|n| numbered(n) + "\n").collect()
}

#[test]
fn spooled_tcp_survives_restarts_of_reader_and_listener() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let cp_path = dir.path().join("cp.json");
    let mut scfg = SpoolConfig::new(&spool_dir);
    scfg.segment_bytes = 4096;
    let tcp = TcpSource::bind(TcpConfig::new("127.0.0.1:0")).unwrap();
    let addr = tcp.local_addr();
    let spooler = Spooler::spawn(tcp, SpoolWriter::open(scfg.clone()).unwrap()).unwrap();
    send_tcp(addr, numbered_lines(0, 300).as_bytes());
    let rcfg = hitstream_source::FileSourceConfig {
        poll_interval_ms: 5,
        glob_interval_ms: 20,
        max_batch_lines: 16,
        ..reader_config(&spool_dir)
    };
    let mut cp = Checkpoint::new();
    let mut reader = FileSource::new(rcfg.clone(), &cp).unwrap();
    let mut got = Vec::new();
    read_spool(&mut reader, &mut cp, &cp_path, &mut got, 150);
    drop(reader); // the consumer dies after persisting ~150 lines
    let stats = spooler.stop(); // and the listener goes down too
    assert_eq!(stats.lines, 300);
    assert!(stats.segments > 1 && stats.syncs > 0, "{stats:?}");
    // Restart both: a new listener appends to a new segment of the same spool.
    let tcp = TcpSource::bind(TcpConfig::new("127.0.0.1:0")).unwrap();
    let addr = tcp.local_addr();
    let spooler = Spooler::spawn(tcp, SpoolWriter::open(scfg).unwrap()).unwrap();
    send_tcp(addr, numbered_lines(300, 500).as_bytes());
    let mut cp = Checkpoint::load(&cp_path).unwrap();
    let mut got: Vec<String> = got;
    let mut reader = FileSource::new(rcfg, &cp).unwrap();
    read_spool(&mut reader, &mut cp, &cp_path, &mut got, 500);
    let mut n: Vec<u64> = got.iter().map(|l| number_of(l)).collect();
    n.sort();
    assert_eq!(n, (0..500).collect::<Vec<_>>());
    // Segments read to their end (all but the newest) can go.
    let before = std::fs::read_dir(&spool_dir).unwrap().count();
    let removed = spool::remove_consumed(&spool_dir, &cp).unwrap();
    assert!(removed >= 2, "{removed} of {before}");
    drop(spooler);
}

#[test]
fn spooled_syslog_keeps_malformed_frames_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let src = SyslogSource::bind(SyslogConfig {
        udp: Some("127.0.0.1:0".into()),
        ..SyslogConfig::default()
    })
    .unwrap();
    let addr = src.udp_addr().unwrap();
    let mut scfg = SpoolConfig::new(&spool_dir);
    scfg.fsync = FsyncPolicy::IntervalMs(50);
    let spooler = Spooler::spawn(src, SpoolWriter::open(scfg).unwrap()).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.send_to(
        format!("<190>Nov 21 23:12:01 web1 nginx: {NGINX_LINE}").as_bytes(),
        addr,
    )
    .unwrap();
    tx.send_to(b"junk\x01", addr).unwrap();
    let start = Instant::now();
    while spooler.lines() < 1 && start.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(200));
    let stats = spooler.stop();
    assert_eq!((stats.lines, stats.malformed), (1, 1));
    let malformed = std::fs::read_to_string(spool_dir.join("malformed.log")).unwrap();
    assert!(
        malformed.contains("\tmissing_pri\tjunk\\x01\n"),
        "{malformed}"
    );
    let mut cp = Checkpoint::new();
    let got = read_all(reader_config(&spool_dir), &mut cp);
    assert_eq!(texts(&got), vec![NGINX_LINE]);
}
