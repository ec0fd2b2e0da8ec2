//! Model test of tailing under rotation and truncation.
//!
//! A writer thread appends numbered lines to `access.log` (sometimes a line in two writes)
//! and, at random points, rotates it in one of three ways:
//!
//! - rename to `access.log.N` (still matched), keep writing a few lines to the old handle
//!   (as nginx does until it reopens), then create a new `access.log`;
//! - copytruncate: copy to `access.log.N`, truncate the original in place, keep writing;
//! - rename out of the patterns (`archive/N.log`) and end the old file with a line without
//!   `\n`, which must be delivered once the file is idle.
//!
//! Rotated files in the patterns are gzipped at the next rotation (delaycompress), written
//! straight to `access.log.N.gz` in pieces so that the source sees incomplete gzip, and the
//! plain file is deleted. Meanwhile the source follows `access.log*`. The model: every line
//! written is delivered exactly once, intact, and in order within each file identity.
//!
//! Every batch's extent is recorded; at the end each is read again with a [`Rereader`] and
//! must give the same lines from wherever its file has gone (renamed, copied, gzipped,
//! archived).
//!
//! The one constraint on the writer is that of any polling follower: a file renamed out of
//! the patterns must have been under them for at least a glob interval.

mod common;

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use hitstream_source::{
    Batch, Checkpoint, FileSource, FileSourceConfig, Fingerprint, Poll, Rereader,
};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn open_append(p: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .unwrap()
}

/// Writes `bytes` as a gzip file in a few pieces, with pauses, then deletes `plain`.
fn gzip_slowly(plain: &Path, rng: &mut Rng) {
    let bytes = fs::read(plain).unwrap();
    let gz = gzip(&bytes);
    let mut name = plain.as_os_str().to_owned();
    name.push(".gz");
    let mut f = File::create(PathBuf::from(name)).unwrap();
    let pieces = 1 + rng.below(3) as usize;
    let step = gz.len().div_ceil(pieces);
    for chunk in gz.chunks(step) {
        f.write_all(chunk).unwrap();
        f.flush().unwrap();
        thread::sleep(Duration::from_millis(rng.below(15)));
    }
    drop(f);
    fs::remove_file(plain).unwrap();
}

/// Runs the writer; returns the numbers of all lines written.
fn writer(dir: PathBuf, seed: u64, total: u64, stop: Arc<AtomicBool>) -> u64 {
    let mut rng = Rng(seed | 1);
    let log = dir.join("access.log");
    let mut out = open_append(&log);
    let mut n = 0u64;
    let mut rotation = 0u32;
    let mut to_gzip: Vec<PathBuf> = Vec::new();
    let mut next_rotation = 200 + rng.below(600);
    let mut file_born = Instant::now();
    let write_line = |f: &mut File, n: u64, rng: &mut Rng| {
        let line = numbered(n) + "\n";
        if rng.below(40) == 0 {
            let cut = 1 + rng.below(line.len() as u64 - 1) as usize;
            f.write_all(&line.as_bytes()[..cut]).unwrap();
            thread::sleep(Duration::from_micros(300));
            f.write_all(&line.as_bytes()[cut..]).unwrap();
        } else {
            f.write_all(line.as_bytes()).unwrap();
        }
    };
    while n < total && !stop.load(Ordering::Relaxed) {
        write_line(&mut out, n, &mut rng);
        n += 1;
        if n.is_multiple_of(64) {
            thread::sleep(Duration::from_millis(1));
        }
        if n == next_rotation {
            next_rotation = n + 200 + rng.below(800);
            rotation += 1;
            // delaycompress: compress the previous rotation's file now.
            for p in to_gzip.drain(..) {
                gzip_slowly(&p, &mut rng);
            }
            let kind = rng.below(3);
            if std::env::var_os("MODEL_DEBUG").is_some() {
                eprintln!("rotation {rotation} kind {kind} at line {n}");
            }
            match kind {
                0 => {
                    let rotated = dir.join(format!("access.log.{rotation}"));
                    fs::rename(&log, &rotated).unwrap();
                    for _ in 0..rng.below(6) {
                        write_line(&mut out, n, &mut rng);
                        n += 1;
                    }
                    out = open_append(&log);
                    file_born = Instant::now();
                    to_gzip.push(rotated);
                }
                1 => {
                    let rotated = dir.join(format!("access.log.{rotation}"));
                    fs::copy(&log, &rotated).unwrap();
                    out.set_len(0).unwrap();
                    to_gzip.push(rotated);
                }
                _ => {
                    // A file must be seen under the patterns before it is renamed out of
                    // them: a polling follower cannot see a file that lived there for less
                    // than one glob interval. Real rotations are hours apart; here a
                    // generous multiple of the interval, for loaded machines.
                    let min_life = Duration::from_millis(300);
                    if let Some(wait) = min_life.checked_sub(file_born.elapsed()) {
                        thread::sleep(wait);
                    }
                    let rotated = dir.join(format!("archive/{rotation}.log"));
                    fs::rename(&log, &rotated).unwrap();
                    for _ in 0..rng.below(4) {
                        write_line(&mut out, n, &mut rng);
                        n += 1;
                    }
                    // The last line of the old file has no newline.
                    out.write_all(numbered(n).as_bytes()).unwrap();
                    n += 1;
                    out = open_append(&log);
                    file_born = Instant::now();
                }
            }
        }
    }
    n
}

fn run_model(seed: u64, total: u64, max_batch_lines: usize) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    fs::create_dir(d.join("archive")).unwrap();
    fs::write(d.join("access.log"), "").unwrap();
    let cfg = FileSourceConfig {
        max_batch_lines,
        ..fast(&d.join("access.log*"))
    };
    let mut src = FileSource::new(cfg.clone(), &Checkpoint::new()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut w = Some({
        let (d, stop) = (d.clone(), stop.clone());
        thread::spawn(move || writer(d, seed, total, stop))
    });
    let mut got: Vec<(Fingerprint, u64)> = Vec::new();
    let mut batches: Vec<Batch> = Vec::new();
    let mut cp = Checkpoint::new();
    let start = Instant::now();
    let mut written = None;
    let mut quiet_since = Instant::now();
    loop {
        match src.poll(Duration::from_millis(20)) {
            Poll::Batch(b) => {
                let Some(fp) = b.positions().first().map(|p| p.fingerprint) else {
                    panic!("file batch without a position")
                };
                for l in b.lines() {
                    let text = std::str::from_utf8(l).unwrap();
                    got.push((fp, number_of(text)));
                }
                if !b.is_empty() {
                    quiet_since = Instant::now();
                }
                cp.apply(&b);
                if !b.is_empty() {
                    batches.push(b);
                }
            }
            Poll::Idle => {}
            Poll::End => unreachable!("follow mode does not end"),
        }
        if w.as_ref().is_some_and(|h| h.is_finished()) {
            written = Some(w.take().unwrap().join().unwrap());
            quiet_since = Instant::now();
        }
        if let Some(total) = written {
            // Wait until all lines are in, then a while longer to catch duplicates.
            if got.len() as u64 >= total && quiet_since.elapsed() > Duration::from_millis(600) {
                break;
            }
        }
        if start.elapsed() > Duration::from_secs(60) {
            stop.store(true, Ordering::Relaxed);
            break;
        }
    }
    let total =
        written.unwrap_or_else(|| panic!("writer did not finish; {} lines seen", got.len()));
    let mut seen = vec![0u32; total as usize];
    for &(_, n) in &got {
        seen[n as usize] += 1;
    }
    let missing: Vec<usize> = (0..seen.len()).filter(|&i| seen[i] == 0).collect();
    if std::env::var_os("MODEL_DEBUG").is_some() {
        let mut ranges = Vec::new();
        for &m in &missing {
            match ranges.last_mut() {
                Some((_, e)) if *e + 1 == m => *e = m,
                _ => ranges.push((m, m)),
            }
        }
        eprintln!("missing ranges {ranges:?}");
        eprintln!("watched {:?}", src.watched_files());
        for e in fs::read_dir(&d)
            .unwrap()
            .chain(fs::read_dir(d.join("archive")).unwrap())
        {
            let e = e.unwrap();
            eprintln!("{:?} {}", e.path(), e.metadata().unwrap().len());
        }
    }
    let twice: Vec<usize> = (0..seen.len()).filter(|&i| seen[i] > 1).collect();
    assert!(
        missing.is_empty() && twice.is_empty(),
        "seed {seed}: {} missing (first {:?}), {} duplicated (first {:?}); problems: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)],
        twice.len(),
        &twice[..twice.len().min(10)],
        src.take_problems()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    // In order within each file identity.
    let mut last: HashMap<Fingerprint, u64> = HashMap::new();
    for &(fp, n) in &got {
        if let Some(&prev) = last.get(&fp) {
            assert!(n > prev, "seed {seed}: {n} after {prev} in {fp}");
        }
        last.insert(fp, n);
    }
    let stats = src.stats();
    assert!(stats.files_opened > 3, "{stats:?}");
    // Files renamed out of the patterns went to `archive/`: recovery would look there too.
    let mut reread_cfg = cfg.clone();
    reread_cfg
        .include
        .push(d.join("archive/*.log").to_string_lossy().into_owned());
    let mut r = Rereader::new(&reread_cfg).unwrap();
    for b in &batches {
        let ext = b.file_extent().unwrap();
        let again = r
            .reread(&ext)
            .unwrap_or_else(|e| panic!("seed {seed}: {ext:?}: {e}"));
        assert!(
            again.lines().eq(b.lines()) && again.truncated() == b.truncated(),
            "seed {seed}: {ext:?} read again differs"
        );
    }
}

#[test]
fn model_rotation_seed_1() {
    run_model(0x9E37_79B9_7F4A_7C15, 12_000, 64);
}

#[test]
fn model_rotation_seed_2_small_batches() {
    run_model(0xD1B5_4A32_D192_ED03, 8_000, 3);
}

#[test]
fn model_rotation_seed_3() {
    run_model(0x2545_F491_4F6C_DD1D, 12_000, 4096);
}
