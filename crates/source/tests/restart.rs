//! Restart from a persisted checkpoint: the source is dropped at some point (as a kill
//! would stop it), some batches having been processed and persisted and some processed
//! but not persisted; a new source built from the saved checkpoint must deliver exactly the
//! lines after the persisted positions — nothing lost, nothing twice — also when files were
//! rotated, truncated or compressed while it was down.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::*;
use hitstream_source::{Checkpoint, FileSource, FileSourceConfig, Poll};

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

fn sorted_numbers(v: &[Got]) -> Vec<u64> {
    let mut n: Vec<u64> = v.iter().map(|g| number_of(&g.text)).collect();
    n.sort();
    n
}

/// Consumes `persisted` batches (persisting after each), then `unpersisted` more (processed
/// but not persisted), then drops the source. Returns the lines of the persisted batches.
fn run_then_kill(
    cfg: &FileSourceConfig,
    cp_path: &Path,
    persisted: usize,
    unpersisted: usize,
) -> Vec<Got> {
    let mut cp = Checkpoint::load_or_default(cp_path).unwrap();
    let mut src = FileSource::new(cfg.clone(), &cp).unwrap();
    let mut kept = Vec::new();
    let mut batches = 0;
    while batches < persisted + unpersisted {
        match src.poll(Duration::from_millis(300)) {
            Poll::Batch(b) => {
                if batches < persisted {
                    kept.extend(lines_of(&b));
                    cp.apply(&b);
                    cp.save_atomic(cp_path).unwrap();
                }
                batches += 1;
            }
            Poll::Idle | Poll::End => break,
        }
    }
    drop(src);
    kept
}

#[test]
fn every_kill_point_in_a_rotated_set() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("access.log.2.gz"), gzip(block(0, 40).as_bytes())).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    fs::write(d.join("access.log.1"), block(40, 80)).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    fs::write(d.join("access.log"), block(80, 119) + &numbered(119)).unwrap();
    let cfg = FileSourceConfig {
        max_batch_lines: 7,
        ..FileSourceConfig::new([d.join("access.log*").to_string_lossy()])
    }
    .follow(false);
    let truth: Vec<u64> = (0..120).collect();
    // 18 batches of 7 lines (with the file ends); kill after every one of them.
    for persisted in 0..20 {
        for unpersisted in [0, 1, 3] {
            let cp_path = d.join(format!("cp-{persisted}-{unpersisted}.json"));
            let mut all = run_then_kill(&cfg, &cp_path, persisted, unpersisted);
            let mut cp = Checkpoint::load_or_default(&cp_path).unwrap();
            all.extend(read_all(cfg.clone(), &mut cp));
            assert_eq!(
                sorted_numbers(&all),
                truth,
                "kill after {persisted} persisted + {unpersisted} unpersisted batches"
            );
        }
    }
}

#[test]
fn restart_after_rename_rotation_while_down() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("access.log");
    let cp_path = d.join("cp.json");
    append(&log, &block(0, 100));
    let cfg = FileSourceConfig {
        max_batch_lines: 10,
        ..fast(&d.join("access.log*"))
    };
    let mut all = run_then_kill(&cfg, &cp_path, 4, 2);
    assert_eq!(all.len(), 40);
    // While down: more lines, rotation by rename, new file; then the old one compressed.
    append(&log, &block(100, 150));
    fs::rename(&log, d.join("access.log.1")).unwrap();
    append(&log, &block(150, 200));
    let mut cp = Checkpoint::load(&cp_path).unwrap();
    let mut src = FileSource::new(cfg.clone(), &cp).unwrap();
    collect_until(&mut src, &mut cp, &mut all, Duration::from_secs(5), |g| {
        g.len() >= 200
    });
    collect_until(
        &mut src,
        &mut cp,
        &mut all,
        Duration::from_millis(300),
        |_| false,
    );
    assert_eq!(sorted_numbers(&all), (0..200).collect::<Vec<_>>());
}

#[test]
fn restart_after_copytruncate_while_down() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("access.log");
    let cp_path = d.join("cp.json");
    append(&log, &block(0, 100));
    let cfg = FileSourceConfig {
        max_batch_lines: 10,
        ..fast(&d.join("access.log*"))
    };
    let mut all = run_then_kill(&cfg, &cp_path, 4, 3);
    append(&log, &block(100, 120));
    fs::copy(&log, d.join("access.log.1")).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&log, &block(120, 150));
    let mut cp = Checkpoint::load(&cp_path).unwrap();
    let mut src = FileSource::new(cfg, &cp).unwrap();
    collect_until(&mut src, &mut cp, &mut all, Duration::from_secs(5), |g| {
        g.len() >= 150
    });
    collect_until(
        &mut src,
        &mut cp,
        &mut all,
        Duration::from_millis(300),
        |_| false,
    );
    assert_eq!(sorted_numbers(&all), (0..150).collect::<Vec<_>>());
}

#[test]
fn restart_continues_inside_a_file_compressed_while_down() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let one = d.join("access.log.1");
    let cp_path = d.join("cp.json");
    append(&one, &block(0, 100));
    let cfg = FileSourceConfig {
        max_batch_lines: 10,
        ..fast(&d.join("access.log*"))
    };
    let mut all = run_then_kill(&cfg, &cp_path, 3, 1);
    // logrotate compresses it while we are down: the rest comes from the .gz.
    fs::write(d.join("access.log.2.gz"), gzip(&fs::read(&one).unwrap())).unwrap();
    fs::remove_file(&one).unwrap();
    let mut cp = Checkpoint::load(&cp_path).unwrap();
    let mut src = FileSource::new(cfg, &cp).unwrap();
    collect_until(&mut src, &mut cp, &mut all, Duration::from_secs(5), |g| {
        g.len() >= 100
    });
    collect_until(
        &mut src,
        &mut cp,
        &mut all,
        Duration::from_millis(300),
        |_| false,
    );
    assert_eq!(sorted_numbers(&all), (0..100).collect::<Vec<_>>());
}

#[test]
fn restart_of_a_short_file_that_grew_past_the_fingerprint_while_down() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("access.log");
    let cp_path = d.join("cp.json");
    append(&log, &block(0, 2));
    assert!(fs::metadata(&log).unwrap().len() < 256);
    let cfg = fast(&log);
    let mut all = run_then_kill(&cfg, &cp_path, 1, 0);
    assert_eq!(all.len(), 2);
    append(&log, &block(2, 30));
    let mut cp = Checkpoint::load(&cp_path).unwrap();
    let mut src = FileSource::new(cfg, &cp).unwrap();
    collect_until(&mut src, &mut cp, &mut all, Duration::from_secs(5), |g| {
        g.len() >= 30
    });
    collect_until(
        &mut src,
        &mut cp,
        &mut all,
        Duration::from_millis(200),
        |_| false,
    );
    assert_eq!(sorted_numbers(&all), (0..30).collect::<Vec<_>>());
    assert_eq!(cp.len(), 1);
    assert!(cp.files.keys().all(|k| k.is_head()));
}

#[test]
fn prune_forgets_files_gone_for_good_but_not_open_ones() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    append(&d.join("access.log"), &block(0, 10));
    append(&d.join("access.log.1"), &block(10, 20));
    let mut cp = Checkpoint::new();
    let mut src = FileSource::new(fast(&d.join("access.log*")), &cp).unwrap();
    let mut all = Vec::new();
    collect_until(&mut src, &mut cp, &mut all, Duration::from_secs(5), |g| {
        g.len() >= 20
    });
    assert_eq!(cp.len(), 2);
    fs::remove_file(d.join("access.log.1")).unwrap();
    collect_until(
        &mut src,
        &mut cp,
        &mut all,
        Duration::from_millis(400),
        |_| false,
    );
    assert_eq!(src.prune_checkpoint(&mut cp, Duration::from_millis(100)), 1);
    assert_eq!(cp.len(), 1);
    assert_eq!(src.prune_checkpoint(&mut cp, Duration::from_millis(100)), 0);
}
