//! Listening sources and the spool under hostile load, with real sockets and files: a flood
//! of idle connections beside a real sender, connections that never send, a spool whose
//! consumer falls behind (TCP senders are pushed back, nothing is lost, the spool stays
//! under its cap), a full disk, and a `malformed.log` at its cap.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use hitstream_source::spool::{self, reader_config, SpoolConfig};
use hitstream_source::{
    Checkpoint, FileSource, FileSourceConfig, Poll, Source, SpoolWriter, Spooler, SyslogConfig,
    SyslogSource, TcpConfig, TcpSource,
};

fn gather(src: &mut dyn Source, want: usize, within: Duration) -> Vec<String> {
    let start = Instant::now();
    let mut lines = Vec::new();
    while lines.len() < want && start.elapsed() < within {
        if let Poll::Batch(b) = src.poll(Duration::from_millis(50)) {
            lines.extend(b.lines().map(|l| String::from_utf8_lossy(l).into_owned()));
        }
    }
    lines
}

fn idle_flood(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    // Connections the source closes (evicted) stay open on this side: that is the point.
    (0..n)
        .filter_map(|_| TcpStream::connect(addr).ok())
        .collect()
}

#[test]
fn a_flood_of_idle_connections_does_not_lock_out_a_real_sender() {
    let mut cfg = TcpConfig::new("127.0.0.1:0");
    cfg.max_connections = 32;
    let mut src = TcpSource::bind(cfg).unwrap();
    let addr = src.local_addr();
    let flood = idle_flood(addr, 100);
    // Let the acceptor take them all in.
    let start = Instant::now();
    while src.stats().connections < 100 && start.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(20));
    }
    let mut real = TcpStream::connect(addr).unwrap();
    let text: String = (0..10).map(|i| numbered(i) + "\n").collect();
    real.write_all(text.as_bytes()).unwrap();
    let got = gather(&mut src, 10, Duration::from_secs(10));
    assert_eq!(got.len(), 10, "the real sender's lines: {got:?}");
    // Evicted connections close at their reader's next tick.
    let start = Instant::now();
    while src.stats().open > 32 && start.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(200));
    }
    let st = src.stats();
    assert!(st.evicted >= 69, "{st:?}");
    assert!(st.open <= 32, "{st:?}");
    assert_eq!(st.refused, 0, "{st:?}");
    drop(flood);
}

#[test]
fn silent_connections_are_closed_after_the_idle_timeout_and_their_lines_delivered() {
    let mut cfg = TcpConfig::new("127.0.0.1:0");
    cfg.idle_timeout = Duration::from_millis(300);
    let mut src = TcpSource::bind(cfg).unwrap();
    let addr = src.local_addr();
    let mut conns = idle_flood(addr, 5);
    // One sent half a line and then nothing: it is kept when the connection is closed.
    conns[0].write_all(b"half a line").unwrap();
    let got = gather(&mut src, 1, Duration::from_secs(5));
    assert_eq!(got, vec!["half a line".to_string()]);
    let start = Instant::now();
    while src.stats().open > 0 && start.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(20));
    }
    let st = src.stats();
    assert_eq!((st.open, st.idle_closed), (0, 5), "{st:?}");
    // The peer sees the close.
    let mut b = [0u8; 1];
    conns[1]
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    assert_eq!(std::io::Read::read(&mut conns[1], &mut b).unwrap(), 0);
}

#[test]
fn syslog_over_tcp_has_the_same_cap() {
    let mut src = SyslogSource::bind(SyslogConfig {
        tcp: Some("127.0.0.1:0".into()),
        max_connections: 8,
        ..SyslogConfig::default()
    })
    .unwrap();
    let addr = src.tcp_addr().unwrap();
    let flood = idle_flood(addr, 40);
    let start = Instant::now();
    while src.stats().connections < 40 && start.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(20));
    }
    let mut real = TcpStream::connect(addr).unwrap();
    real.write_all(b"<190>Nov 21 23:12:01 web1 nginx: the real line\n")
        .unwrap();
    let got = gather(&mut src, 1, Duration::from_secs(10));
    assert_eq!(got, vec!["the real line".to_string()]);
    assert!(src.stats().evicted >= 32, "{:?}", src.stats());
    drop(flood);
}

/// Reads the spool like the pipeline does, persisting positions and removing consumed
/// segments every `every`, until `want` lines came; tracks the most bytes the spool held.
fn consume(
    dir: &Path,
    cp: &mut Checkpoint,
    want: usize,
    every: Duration,
    within: Duration,
) -> (Vec<String>, u64) {
    let rcfg = FileSourceConfig {
        poll_interval_ms: 5,
        glob_interval_ms: 20,
        ..reader_config(dir)
    };
    let mut reader = FileSource::new(rcfg, cp).unwrap();
    let mut got = Vec::new();
    let mut most = 0;
    let start = Instant::now();
    let mut last_cp = Instant::now();
    while got.len() < want && start.elapsed() < within {
        if let Poll::Batch(b) = reader.poll(Duration::from_millis(20)) {
            got.extend(b.lines().map(|l| String::from_utf8_lossy(l).into_owned()));
            cp.apply(&b);
        }
        most = most.max(spool_bytes(dir));
        if last_cp.elapsed() >= every {
            spool::remove_consumed(dir, cp).unwrap();
            last_cp = Instant::now();
        }
    }
    (got, most)
}

fn spool_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("spool-"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

#[test]
fn a_full_spool_pushes_tcp_senders_back_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let mut scfg = SpoolConfig::new(&spool_dir);
    scfg.max_bytes = 64 << 10;
    scfg.segment_bytes = 16 << 10;
    let mut tcfg = TcpConfig::new("127.0.0.1:0");
    tcfg.limits.max_batch_bytes = 8 << 10;
    let tcp = TcpSource::bind(tcfg).unwrap();
    let addr = tcp.local_addr();
    let spooler = Spooler::spawn(tcp, SpoolWriter::open(scfg).unwrap()).unwrap();
    // About 1.4 MB, twenty times the cap, from two senders.
    let n = 20_000u64;
    let senders: Vec<_> = (0..2)
        .map(|c| {
            thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                for chunk in (0..n / 2).collect::<Vec<_>>().chunks(500) {
                    let text: String = chunk
                        .iter()
                        .map(|i| numbered(c * n / 2 + i) + "\n")
                        .collect();
                    s.write_all(text.as_bytes()).unwrap();
                }
            })
        })
        .collect();
    // A consumer that removes consumed segments only now and then, like checkpoints.
    let mut cp = Checkpoint::new();
    let (got, most) = consume(
        &spool_dir,
        &mut cp,
        n as usize,
        Duration::from_millis(300),
        Duration::from_secs(40),
    );
    for s in senders {
        s.join().unwrap();
    }
    let mut nums: Vec<u64> = got.iter().map(|l| number_of(l)).collect();
    nums.sort();
    assert_eq!(nums.len(), n as usize);
    nums.dedup();
    assert_eq!(nums, (0..n).collect::<Vec<_>>());
    let st = spooler.stats();
    assert!(st.full_pauses > 0, "the spool never filled: {st:?}");
    // The cap, plus the segment being filled, plus a batch written before the look.
    let bound = (64 << 10) + (16 << 10) + (8 << 10);
    assert!(
        most <= bound,
        "the spool held {most} bytes (cap 64 KiB): {st:?}"
    );
    drop(spooler);
}

#[test]
fn malformed_log_stops_growing_at_its_cap_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let mut scfg = SpoolConfig::new(&spool_dir);
    scfg.malformed_max_bytes = 4096;
    let src = SyslogSource::bind(SyslogConfig {
        tcp: Some("127.0.0.1:0".into()),
        ..SyslogConfig::default()
    })
    .unwrap();
    let addr = src.tcp_addr().unwrap();
    let spooler = Spooler::spawn(src, SpoolWriter::open(scfg).unwrap()).unwrap();
    let mut s = TcpStream::connect(addr).unwrap();
    for i in 0..400 {
        writeln!(s, "junk frame number {i:05} without a priority").unwrap();
        if i % 50 == 0 {
            s.flush().unwrap();
            thread::sleep(Duration::from_millis(20));
        }
    }
    writeln!(s, "<190>Nov 21 23:12:01 web1 nginx: a good line").unwrap();
    drop(s);
    let start = Instant::now();
    while spooler.lines() < 1 && start.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(200));
    let problems = spooler.take_problems();
    let st = spooler.stop();
    let size = std::fs::metadata(spool_dir.join("malformed.log"))
        .unwrap()
        .len();
    assert!(size <= 4096, "{size}");
    assert!(st.malformed > 0 && st.malformed_dropped > 0, "{st:?}");
    assert_eq!(st.malformed + st.malformed_dropped, 400, "{st:?}");
    let warned = problems
        .iter()
        .filter(|p| p.to_string().contains("reached its cap"))
        .count();
    assert_eq!(warned, 1, "{problems:?}");
}

/// A tmpfs of `kib` KiB at `dir`, unmounted on drop; None where mounting is not allowed.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(dir: &Path, kib: u64) -> Option<SmallDisk> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| SmallDisk(dir.to_path_buf()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_retried_and_loses_nothing_sent_over_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let Some(_disk) = SmallDisk::mount(&spool_dir, 512) else {
        eprintln!("skipped: cannot mount a small tmpfs here (needs root)");
        return;
    };
    let mut scfg = SpoolConfig::new(&spool_dir);
    scfg.segment_bytes = 32 << 10;
    let mut tcfg = TcpConfig::new("127.0.0.1:0");
    tcfg.limits.max_batch_bytes = 16 << 10;
    let tcp = TcpSource::bind(tcfg).unwrap();
    let addr = tcp.local_addr();
    let spooler = Spooler::spawn(tcp, SpoolWriter::open(scfg).unwrap()).unwrap();
    // About 1.5 MB through a 512 KiB disk: it fills, writes fail, the consumer frees space.
    let n = 20_000u64;
    let sender = thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        for chunk in (0..n).collect::<Vec<_>>().chunks(200) {
            let text: String = chunk.iter().map(|i| numbered(*i) + "\n").collect();
            s.write_all(text.as_bytes()).unwrap();
        }
    });
    // The consumer starts late, so that the disk fills first.
    thread::sleep(Duration::from_secs(1));
    let mut cp = Checkpoint::new();
    let (got, _) = consume(
        &spool_dir,
        &mut cp,
        n as usize,
        Duration::from_millis(200),
        Duration::from_secs(40),
    );
    sender.join().unwrap();
    let problems = spooler.take_problems();
    let st = spooler.stop();
    let mut nums: Vec<u64> = got.iter().map(|l| number_of(l)).collect();
    nums.sort();
    assert_eq!(nums.len(), n as usize, "{st:?}");
    nums.dedup();
    assert_eq!(nums, (0..n).collect::<Vec<_>>(), "{st:?}");
    assert!(st.write_errors > 0, "the disk never filled: {st:?}");
    assert!(
        problems.iter().any(|p| p.to_string().contains("retrying")),
        "{problems:?}"
    );
}

#[test]
fn udp_datagrams_dropped_while_the_spool_is_full_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    let mut scfg = SpoolConfig::new(&spool_dir);
    scfg.max_bytes = 16 << 10;
    scfg.segment_bytes = 4 << 10;
    let src = SyslogSource::bind(SyslogConfig {
        udp: Some("127.0.0.1:0".into()),
        channel_capacity: 1,
        ..SyslogConfig::default()
    })
    .unwrap();
    let addr = src.udp_addr().unwrap();
    let stats = src.stats_handle();
    // Nobody consumes the spool: it fills, reading stops, the socket's buffer fills.
    let spooler = Spooler::spawn(src, SpoolWriter::open(scfg).unwrap()).unwrap();
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let sent = 30_000u64;
    for i in 0..sent {
        let msg = format!("<190>Nov 21 23:12:01 web1 nginx: {}", numbered(i));
        tx.send_to(msg.as_bytes(), addr).unwrap();
    }
    let start = Instant::now();
    while stats.get().udp_kernel_drops == 0 && start.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(50));
    }
    let st = stats.get();
    assert!(spooler.stats().full, "{:?}", spooler.stats());
    assert!(st.udp_kernel_drops > 0, "{st:?}");
    // The rest waits in the socket's buffer.
    assert!(st.datagrams + st.udp_kernel_drops <= sent, "{st:?}");
    // Stopping with a full spool does not hang on the blocked receiving thread.
    let t = Instant::now();
    drop(spooler);
    assert!(t.elapsed() < Duration::from_secs(5));
}
