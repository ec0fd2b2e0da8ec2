//! Long runs stay bounded: a spooled TCP source deletes the segments a checkpoint shows
//! consumed, and the checkpoint forgets files deleted for good.

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use hitstream_runtime::{Pipeline, PipelineSpec, SourceSpec};
use hitstream_source::SpoolConfig;
use hitstream_window::EngineConfig;

fn spec(state: &Path) -> PipelineSpec {
    let mut s = PipelineSpec::new(
        "common",
        EngineConfig {
            size: 60,
            alerts: Vec::new(),
            ..EngineConfig::default()
        },
    );
    s.checkpoint_dir = Some(state.to_path_buf());
    s.checkpoint_interval = Duration::from_millis(100);
    s.threads = 2;
    s
}

fn line(n: u64) -> String {
    format!(
        "10.1.{}.{} - - [25/Jul/2024:10:{:02}:{:02} +0000] \"GET /item/{n} HTTP/1.1\" 200 512\n",
        n % 200,
        n % 251,
        (n / 6000) % 60,
        (n / 100) % 60
    )
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn a_spooled_run_deletes_consumed_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let spool = tmp.path().join("spool");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cfg = SpoolConfig::new(&spool);
    cfg.segment_bytes = 64 * 1024;
    let h = Pipeline::new(spec(&tmp.path().join("state")))
        .source(SourceSpec::Tcp {
            listen: addr.clone(),
            spool: Some(cfg),
            conn: Default::default(),
        })
        .start()
        .unwrap();
    let mut conn = None;
    assert!(wait_until(Duration::from_secs(10), || {
        conn = TcpStream::connect(&addr).ok();
        conn.is_some()
    }));
    let mut conn = conn.unwrap();
    // About 8 MB in 40 chunks over some seconds: 128 segments' worth.
    let (chunks, per) = (40u64, 2000u64);
    let mut sent_bytes = 0;
    let mut peak = 0;
    for c in 0..chunks {
        let text: String = (c * per..(c + 1) * per).map(line).collect();
        sent_bytes += text.len() as u64;
        conn.write_all(text.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        peak = peak.max(dir_bytes(&spool));
    }
    drop(conn);
    let total = chunks * per;
    assert!(
        wait_until(Duration::from_secs(60), || {
            peak = peak.max(dir_bytes(&spool));
            h.status().counters.lines >= total
        }),
        "{} of {total} lines",
        h.status().counters.lines
    );
    // A checkpoint after the last line, then the segments it consumed are gone.
    let epoch = h.status().checkpoints;
    assert!(wait_until(Duration::from_secs(10), || h
        .status()
        .checkpoints
        > epoch + 2));
    std::thread::sleep(Duration::from_millis(300));
    let left = dir_bytes(&spool);
    h.stop();
    let st = h.wait().unwrap();
    assert_eq!(st.counters.lines, total);
    assert!(
        left <= 3 * 64 * 1024,
        "{left} bytes left in the spool after everything was consumed (peak {peak})"
    );
    // Segments go while input still comes, not only at the end.
    assert!(
        peak < sent_bytes / 2,
        "the spool peaked at {peak} bytes for {sent_bytes} sent"
    );
}

#[test]
fn positions_of_files_deleted_for_good_are_forgotten() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    for i in 1..=5u64 {
        let text: String = (i * 100..i * 100 + 50).map(line).collect();
        std::fs::write(logs.join(format!("access.log.{i}")), text).unwrap();
    }
    let mut s = spec(&tmp.path().join("state"));
    s.forget_files_after = Duration::from_millis(500);
    let h = Pipeline::new(s)
        .source(SourceSpec::Files {
            paths: vec![logs.join("access.log*").display().to_string()],
            follow: true,
            poll_interval: Some(Duration::from_millis(20)),
        })
        .start()
        .unwrap();
    assert!(wait_until(Duration::from_secs(20), || {
        let st = h.status();
        st.counters.lines == 250 && st.checkpoint_files == 5
    }));
    for i in 1..=5 {
        std::fs::remove_file(logs.join(format!("access.log.{i}"))).unwrap();
    }
    // Deleted files are closed once idle (rotate_wait, 5 s), then forgotten.
    let forgotten = wait_until(Duration::from_secs(30), || h.status().checkpoint_files == 0);
    let st = h.status();
    h.stop();
    h.wait().unwrap();
    assert!(
        forgotten,
        "{} files still in the checkpoint",
        st.checkpoint_files
    );
}
