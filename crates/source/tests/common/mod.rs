//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use hitstream_source::{
    Batch, Checkpoint, FileSource, FileSourceConfig, Fingerprint, Origin, Poll,
};

/// A line as delivered: the file identity it came from and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Got {
    pub fp: Option<Fingerprint>,
    pub text: String,
}

pub fn lines_of(b: &Batch) -> Vec<Got> {
    let fp = match b.origin() {
        Origin::File { fingerprint, .. } => Some(*fingerprint),
        _ => None,
    };
    b.lines()
        .map(|l| Got {
            fp,
            text: String::from_utf8_lossy(l).into_owned(),
        })
        .collect()
}

/// A fast follow configuration over `pattern`.
pub fn fast(pattern: &Path) -> FileSourceConfig {
    FileSourceConfig {
        poll_interval_ms: 5,
        glob_interval_ms: 20,
        rotate_wait_ms: 150,
        ..FileSourceConfig::new([pattern.to_string_lossy()])
    }
}

/// Polls until `done` says so or `limit` passes; applies every batch to `cp`.
pub fn collect_until(
    src: &mut FileSource,
    cp: &mut Checkpoint,
    out: &mut Vec<Got>,
    limit: Duration,
    done: impl Fn(&[Got]) -> bool,
) {
    let start = Instant::now();
    while !done(out) && start.elapsed() < limit {
        match src.poll(Duration::from_millis(50)) {
            Poll::Batch(b) => {
                out.extend(lines_of(&b));
                cp.apply(&b);
            }
            Poll::Idle => {}
            Poll::End => break,
        }
    }
}

/// Reads everything in non-follow mode.
pub fn read_all(cfg: FileSourceConfig, cp: &mut Checkpoint) -> Vec<Got> {
    let mut src = FileSource::new(cfg.follow(false), cp).unwrap();
    let mut out = Vec::new();
    loop {
        match src.poll(Duration::from_secs(10)) {
            Poll::Batch(b) => {
                out.extend(lines_of(&b));
                cp.apply(&b);
            }
            Poll::Idle => panic!("idle in non-follow mode"),
            Poll::End => return out,
        }
    }
}

pub fn texts(v: &[Got]) -> Vec<String> {
    v.iter().map(|g| g.text.clone()).collect()
}

/// Numbered line `n` with a deterministic body of varying length.
pub fn numbered(n: u64) -> String {
    let len = 20 + (n * 37 % 90) as usize;
    let c = (b'a' + (n % 26) as u8) as char;
    format!("{n:08} {}", c.to_string().repeat(len))
}

/// The number of a line made by [`numbered`], checking its body.
pub fn number_of(line: &str) -> u64 {
    let n: u64 = line[..8]
        .parse()
        .unwrap_or_else(|_| panic!("bad line {line:?}"));
    assert_eq!(line, numbered(n), "damaged line");
    n
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

pub fn data_dir() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")
}
