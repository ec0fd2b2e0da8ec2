//! Lines over the line limit (issue 23): whatever their length, with or without a newline,
//! plain or gzip, from a file or a stream, each one comes out as one line cut to the limit
//! and marked truncated, and the offsets account for every byte.

mod common;

use std::fs;
use std::io::{Cursor, Write};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;
use hitstream_source::{
    Batch, Checkpoint, FileSource, FileSourceConfig, LineLimits, Poll, StreamSource, MAX_LINE_BYTES,
};

const MIB: usize = 1 << 20;

/// The sizes of issue 23: around the limit, around two batches, the two sizes that were
/// counted and lost (2,162,688 and 2,162,689 bytes), and much larger.
const SIZES: [usize; 8] = [
    MIB - 1,
    MIB,
    MIB + 1,
    2 * MIB,
    2_162_688,
    2_162_689,
    3 * MIB + 12_345,
    10 * MIB,
];

/// The sizes also tried compressed: gzip is slow in a debug build, and the binary's tests
/// (cli/tests/long_lines.rs) try `.gz` files of every size.
const GZ_SIZES: [usize; 3] = [MIB + 1, 2_162_688, 2_162_689];

/// A line of `n` bytes whose every position is recognisable, so a head from the wrong place
/// shows.
fn long_line(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 23) as u8).collect()
}

/// [`content`] compressed. Gzip members back to back are one stream (RFC 1952, and what
/// `gzip` makes of concatenated files); the long line is a pattern of period 23, so it is
/// made of one compressed block of a multiple of 23 bytes, repeated, and the rest: gzip is
/// slow in a debug build.
fn gz_content(n: usize, around: bool, newline: bool) -> Vec<u8> {
    const BLOCK: usize = 23 * 45_590;
    static BLOCK_GZ: OnceLock<Vec<u8>> = OnceLock::new();
    let block = BLOCK_GZ.get_or_init(|| gzip(&long_line(BLOCK)));
    let mut long = Vec::new();
    for _ in 0..n / BLOCK {
        long.extend_from_slice(block);
    }
    long.extend_from_slice(&gzip(&long_line(n % BLOCK)));
    if !around && !newline {
        return long;
    }
    let mut c = Vec::new();
    if around {
        c.extend_from_slice(&gzip(b"before\n"));
    }
    c.extend_from_slice(&long);
    let mut tail = Vec::new();
    if around {
        tail.extend_from_slice(b"\nafter");
    }
    if newline {
        tail.push(b'\n');
    }
    c.extend_from_slice(&gzip(&tail));
    c
}

/// A delivered line: its text, and whether it was cut.
type Line = (Vec<u8>, bool);

fn take(b: &Batch, out: &mut Vec<Line>) {
    for (i, l) in b.lines().enumerate() {
        out.push((l.to_vec(), b.truncated().contains(&i)));
    }
}

/// What the source must deliver for `content`: "before", the long line (cut), "after".
fn expected(n: usize) -> Vec<Line> {
    vec![
        (b"before".to_vec(), false),
        (long_line(n.min(MAX_LINE_BYTES)), n > MAX_LINE_BYTES),
        (b"after".to_vec(), false),
    ]
}

/// "before\n", a line of `n` bytes, then "\nafter" with or without a final newline; or the
/// long line alone, with or without a newline.
fn content(n: usize, around: bool, newline: bool) -> Vec<u8> {
    let mut c = Vec::new();
    if around {
        c.extend_from_slice(b"before\n");
    }
    c.extend_from_slice(&long_line(n));
    if around {
        c.extend_from_slice(b"\nafter");
    }
    if newline {
        c.push(b'\n');
    }
    c
}

fn expect_for(n: usize, around: bool) -> Vec<Line> {
    let e = expected(n);
    if around {
        e
    } else {
        vec![e[1].clone()]
    }
}

/// Reads a file in non-follow mode: the lines, and the offset the checkpoint ends at.
fn read_file(path: &Path) -> (Vec<Line>, u64) {
    let cfg = FileSourceConfig::new([path.to_string_lossy()]).follow(false);
    let mut cp = Checkpoint::new();
    let mut src = FileSource::new(cfg, &cp).unwrap();
    let mut out = Vec::new();
    loop {
        match src.poll(Duration::from_secs(10)) {
            Poll::Batch(b) => {
                take(&b, &mut out);
                cp.apply(&b);
            }
            Poll::Idle => panic!("idle in non-follow mode"),
            Poll::End => break,
        }
    }
    assert!(src.take_problems().is_empty());
    let offset = cp.files.values().map(|p| p.offset).max().unwrap_or(0);
    (out, offset)
}

fn read_stream(bytes: Vec<u8>) -> (Vec<Line>, u64) {
    let mut src = StreamSource::new("t", Cursor::new(bytes), LineLimits::default());
    let mut out = Vec::new();
    let mut end = 0;
    loop {
        match src.poll(Duration::from_secs(10)) {
            Poll::Batch(b) => {
                assert_eq!(b.start_offset(), end);
                end = b.end_offset();
                take(&b, &mut out);
            }
            Poll::Idle => panic!("idle on a finished stream"),
            Poll::End => break,
        }
    }
    (out, end)
}

fn short(lines: &[Line]) -> Vec<(usize, bool)> {
    lines.iter().map(|(l, t)| (l.len(), *t)).collect()
}

/// Before the fix, a bounded file whose last line was over the limit and more than about
/// two batches long ended the source with nothing delivered ("0 lines").
#[test]
fn bounded_files_deliver_every_long_line_plain_and_gz() {
    let dir = tempfile::tempdir().unwrap();
    for n in SIZES {
        for around in [false, true] {
            for newline in [false, true] {
                let c = content(n, around, newline);
                let want = expect_for(n, around);
                let plain = dir.path().join(format!("p-{n}-{around}-{newline}.log"));
                fs::write(&plain, &c).unwrap();
                let (got, offset) = read_file(&plain);
                let what = format!("plain {n} bytes, around {around}, newline {newline}");
                assert_eq!(short(&got), short(&want), "{what}");
                assert!(got == want, "{what}: wrong text");
                assert_eq!(offset, c.len() as u64, "{what}");

                if !GZ_SIZES.contains(&n) {
                    continue;
                }
                let gz = dir.path().join(format!("g-{n}-{around}-{newline}.log.gz"));
                fs::write(&gz, gz_content(n, around, newline)).unwrap();
                let (got, offset) = read_file(&gz);
                let what = format!("gz {n} bytes, around {around}, newline {newline}");
                assert_eq!(short(&got), short(&want), "{what}");
                assert!(got == want, "{what}: wrong text");
                assert_eq!(offset, c.len() as u64, "{what}");
            }
        }
    }
}

/// stdin (`run --file -`) and any stream: the same lines, plain and gzip.
#[test]
fn streams_deliver_every_long_line_plain_and_gz() {
    for n in SIZES {
        for around in [false, true] {
            for newline in [false, true] {
                let c = content(n, around, newline);
                let want = expect_for(n, around);
                let what = format!("{n} bytes, around {around}, newline {newline}");
                let (got, end) = read_stream(c.clone());
                assert!(got == want, "plain {what}: {:?}", short(&got));
                assert_eq!(end, c.len() as u64, "plain {what}");
                if !GZ_SIZES.contains(&n) {
                    continue;
                }
                let (got, end) = read_stream(gz_content(n, around, newline));
                assert!(got == want, "gz {what}: {:?}", short(&got));
                assert_eq!(end, c.len() as u64, "gz {what}");
            }
        }
    }
}

/// A live file: the unterminated line waits for its newline (it may still be written),
/// holding only its head; when the newline comes, it is delivered cut, with the line after
/// it, and the checkpoint covers every byte.
#[test]
fn a_followed_file_waits_for_the_newline_of_a_long_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("access.log");
    fs::write(&p, b"before\n").unwrap();
    let mut cp = Checkpoint::new();
    let mut src = FileSource::new(fast(&p), &cp).unwrap();
    let mut out = Vec::new();
    let poll_for = |src: &mut FileSource, cp: &mut Checkpoint, out: &mut Vec<Line>, d| {
        let start = Instant::now();
        while start.elapsed() < d {
            match src.poll(Duration::from_millis(20)) {
                Poll::Batch(b) => {
                    take(&b, out);
                    cp.apply(&b);
                }
                Poll::Idle => {}
                Poll::End => panic!("a followed file ended"),
            }
        }
    };
    poll_for(&mut src, &mut cp, &mut out, Duration::from_millis(300));
    assert_eq!(out, vec![(b"before".to_vec(), false)]);
    // Written in pieces, as a slow writer would.
    let n = 5 * MIB + 7;
    let line = long_line(n);
    let mut f = fs::OpenOptions::new().append(true).open(&p).unwrap();
    for piece in line.chunks(MIB / 2) {
        f.write_all(piece).unwrap();
        poll_for(&mut src, &mut cp, &mut out, Duration::from_millis(30));
    }
    poll_for(&mut src, &mut cp, &mut out, Duration::from_millis(300));
    assert_eq!(out.len(), 1, "a line without its newline was delivered");
    f.write_all(b"\nafter\n").unwrap();
    let start = Instant::now();
    while out.len() < 3 && start.elapsed() < Duration::from_secs(10) {
        poll_for(&mut src, &mut cp, &mut out, Duration::from_millis(50));
    }
    assert!(out == expected(n), "{:?}", short(&out));
    let offset = cp.files.values().map(|p| p.offset).max().unwrap();
    assert_eq!(offset, fs::metadata(&p).unwrap().len());
}
