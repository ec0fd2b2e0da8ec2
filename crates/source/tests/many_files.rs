//! More matched files than `max_open_files`, and symbolic links: every line of every file
//! once with at most the cap open, parked files read again when they grow, a waiting file
//! that goes away reported, and links skipped unless `follow_symlinks`.

mod common;

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use hitstream_source::{Checkpoint, FileSource, FileSourceConfig, Poll, SourceError};

fn append(p: &Path, s: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .unwrap();
    f.write_all(s.as_bytes()).unwrap();
}

fn block(from: u64, to: u64) -> String {
    (from..to).map(|n| numbered(n) + "\n").collect()
}

/// Open descriptors of this process that name a file under `dir`.
fn open_under(dir: &Path) -> usize {
    fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter(|e| fs::read_link(e.path()).is_ok_and(|t| t.starts_with(dir)))
        .count()
}

/// Polls until every number below `total` was seen or `limit` passed; counts each number
/// and checks the open files at every step.
fn drain(
    src: &mut FileSource,
    cp: &mut Checkpoint,
    seen: &mut BTreeMap<u64, u32>,
    total: u64,
    dir: &Path,
    cap: usize,
    limit: Duration,
) -> usize {
    let start = Instant::now();
    let mut most_open = 0;
    while (seen.len() as u64) < total && start.elapsed() < limit {
        if let Poll::Batch(b) = src.poll(Duration::from_millis(50)) {
            for g in lines_of(&b) {
                *seen.entry(number_of(&g.text)).or_default() += 1;
            }
            cp.apply(&b);
        }
        let open = src.watched_files().len();
        assert!(open <= cap, "{open} files open, the cap is {cap}");
        most_open = most_open.max(open_under(dir));
    }
    most_open
}

#[test]
fn more_files_than_the_cap_are_all_read_once_with_at_most_the_cap_open() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cap = 16;
    let per = 3;
    let files = 400u64;
    for f in 0..files {
        fs::write(
            d.join(format!("app.log.{f:04}")),
            block(f * per, f * per + per),
        )
        .unwrap();
    }
    let live = d.join("app.log");
    let mut next = files * per;
    append(&live, &block(next, next + 5));
    next += 5;
    let cfg = FileSourceConfig {
        max_open_files: cap,
        ..fast(&d.join("app.log*"))
    };
    let mut cp = Checkpoint::new();
    let mut src = FileSource::new(cfg.clone(), &cp).unwrap();
    let mut seen = BTreeMap::new();
    let most = drain(
        &mut src,
        &mut cp,
        &mut seen,
        next,
        d,
        cap,
        Duration::from_secs(30),
    );
    assert_eq!(seen.len() as u64, next, "every line of every file");
    assert!(seen.values().all(|&c| c == 1), "no line twice");
    assert!(most <= cap, "{most} descriptors open under the directory");
    let parked = src.stats().files_parked;
    assert!(parked >= files - cap as u64, "{parked} parked");

    // Closed files are read again when they grow; the live file is rotated by rename.
    for f in [0u64, 7, 399] {
        append(&d.join(format!("app.log.{f:04}")), &block(next, next + 2));
        next += 2;
    }
    append(&live, &block(next, next + 4));
    next += 4;
    fs::rename(&live, d.join("app.log.9999")).unwrap();
    append(&live, &block(next, next + 3));
    next += 3;
    drain(
        &mut src,
        &mut cp,
        &mut seen,
        next,
        d,
        cap,
        Duration::from_secs(30),
    );
    assert_eq!(seen.len() as u64, next, "lines appended to closed files");
    assert!(seen.values().all(|&c| c == 1), "no line twice");
    for p in src.take_problems() {
        assert!(
            !matches!(p, SourceError::Unread { .. }),
            "nothing went away: {p}"
        );
    }

    // A restart from the checkpoint reads nothing again, opening no more than the cap.
    drop(src);
    let mut src = FileSource::new(cfg, &cp).unwrap();
    append(&live, &block(next, next + 1));
    next += 1;
    drain(
        &mut src,
        &mut cp,
        &mut seen,
        next,
        d,
        cap,
        Duration::from_secs(30),
    );
    assert_eq!(seen.len() as u64, next);
    assert!(
        seen.values().all(|&c| c == 1),
        "no line twice after a restart"
    );
}

#[test]
fn non_follow_reads_more_files_than_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for f in 0..120u64 {
        fs::write(d.join(format!("a{f:03}.log")), block(f * 2, f * 2 + 2)).unwrap();
    }
    let cfg = FileSourceConfig {
        max_open_files: 4,
        ..FileSourceConfig::new([d.join("*.log").to_string_lossy()])
    };
    let got = read_all(cfg, &mut Checkpoint::new());
    let mut n: Vec<u64> = got.iter().map(|g| number_of(&g.text)).collect();
    n.sort_unstable();
    assert_eq!(n, (0..240).collect::<Vec<_>>());
}

#[test]
fn a_waiting_file_that_goes_away_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The first file takes the only slot for a while (many small batches, and it keeps
    // growing); the second waits and is deleted before it is opened.
    fs::write(d.join("a.log"), block(0, 200)).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    fs::write(d.join("b.log"), block(1000, 1010)).unwrap();
    let cfg = FileSourceConfig {
        max_open_files: 1,
        max_batch_lines: 1,
        ..fast(&d.join("*.log"))
    };
    let mut src = FileSource::new(cfg, &Checkpoint::new()).unwrap();
    assert!(matches!(src.poll(Duration::from_secs(5)), Poll::Batch(_)));
    fs::remove_file(d.join("b.log")).unwrap();
    let mut problems = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        src.poll(Duration::from_millis(20));
        problems.extend(src.take_problems());
        if problems
            .iter()
            .any(|p| matches!(p, SourceError::Unread { .. }))
        {
            break;
        }
    }
    let unread: Vec<String> = problems
        .iter()
        .filter(|p| matches!(p, SourceError::Unread { .. }))
        .map(ToString::to_string)
        .collect();
    assert!(
        matches!(&unread[..], [m] if m.contains("b.log") && m.contains("max_open_files")),
        "{problems:?}"
    );
}

#[test]
fn symlinks_are_skipped_and_reported_once_unless_followed() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("passwd");
    fs::write(&secret, "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("access.log"), block(0, 3)).unwrap();
    std::os::unix::fs::symlink(&secret, d.join("access.log.1")).unwrap();
    // A literal path that is a link is skipped too.
    std::os::unix::fs::symlink(&secret, d.join("named.log")).unwrap();
    let patterns = [
        d.join("access.log*").to_string_lossy().into_owned(),
        d.join("named.log").to_string_lossy().into_owned(),
    ];

    let cfg = FileSourceConfig {
        poll_interval_ms: 5,
        glob_interval_ms: 10,
        ..FileSourceConfig::new(patterns.clone())
    };
    let mut src = FileSource::new(cfg.clone(), &Checkpoint::new()).unwrap();
    let mut got = Vec::new();
    let mut problems = Vec::new();
    let start = Instant::now();
    // Many expansions of the patterns: the links are reported once each.
    while start.elapsed() < Duration::from_millis(500) {
        if let Poll::Batch(b) = src.poll(Duration::from_millis(20)) {
            got.extend(lines_of(&b));
        }
        problems.extend(src.take_problems());
    }
    assert_eq!(texts(&got), block(0, 3).lines().collect::<Vec<_>>());
    let links: Vec<&SourceError> = problems
        .iter()
        .filter(|p| matches!(p, SourceError::Symlink { .. }))
        .collect();
    assert_eq!(links.len(), 2, "{problems:?}");
    assert!(links[0].to_string().contains("--follow-symlinks"));
    assert_eq!(src.stats().symlinks_skipped, 2);

    // A link is not found by re-reading either.
    let followed = FileSourceConfig {
        follow_symlinks: true,
        ..cfg.clone()
    };
    let mut src = FileSource::new(followed.follow(false), &Checkpoint::new()).unwrap();
    let mut got = Vec::new();
    let mut extents = Vec::new();
    while let Poll::Batch(b) = src.poll(Duration::from_secs(5)) {
        if !b.is_empty() {
            extents.push(b.file_extent().unwrap());
        }
        got.extend(lines_of(&b));
    }
    let secret_lines = got.iter().filter(|g| g.text.starts_with("root:")).count();
    assert_eq!(
        secret_lines, 1,
        "followed: the link's file is read, once for both links (one identity)"
    );
    let secret_extent = extents
        .iter()
        .find(|e| e.path.ends_with("access.log.1") || e.path.ends_with("named.log"))
        .unwrap();
    let mut r = hitstream_source::Rereader::new(&cfg).unwrap();
    assert!(r.reread(secret_extent).is_err(), "not through a link");
    let mut r = hitstream_source::Rereader::new(&FileSourceConfig {
        follow_symlinks: true,
        ..cfg
    })
    .unwrap();
    assert_eq!(r.reread(secret_extent).unwrap().len(), 1);
}

#[test]
fn the_live_file_stays_open_while_other_files_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let live = d.join("access.log");
    for f in 0..40u64 {
        fs::write(d.join(format!("old.log.{f:03}")), block(f * 2, f * 2 + 2)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(20));
    append(&live, &block(100_000, 100_001));
    let cfg = FileSourceConfig {
        max_open_files: 3,
        ..fast(&d.join("*.log*"))
    };
    let mut src = FileSource::new(cfg, &Checkpoint::new()).unwrap();
    // The live file is written every 5 ms and new files keep coming, so files wait for a
    // slot all along.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (d, live, stop) = (d.clone(), live.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 100_001;
            let mut f = 1000;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                append(&live, &block(n, n + 1));
                n += 1;
                if n % 2 == 0 {
                    fs::write(d.join(format!("new.log.{f}")), block(f * 2, f * 2 + 2)).unwrap();
                    f += 1;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let start = Instant::now();
    let mut seen_live = false;
    let mut absent = 0;
    let mut waited = 0;
    while start.elapsed() < Duration::from_secs(3) {
        src.poll(Duration::from_millis(10));
        let open: Vec<_> = src.watched_files().into_iter().map(|w| w.path).collect();
        assert!(open.len() <= 3);
        if open.contains(&live) {
            seen_live = true;
        } else if seen_live {
            absent += 1;
        }
        waited += usize::from(open.len() == 3);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert!(seen_live, "the live file was read");
    assert!(src.stats().files_parked > 40, "{:?}", src.stats());
    assert!(waited > 0);
    assert_eq!(absent, 0, "the live file was closed while it was written");
}
