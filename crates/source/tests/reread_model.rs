//! Property test of re-reading: a real [`FileSource`] follows a directory while random
//! operations append lines (some oversized, some left without `\n` for a while), rotate by
//! rename (with a few lines still written to the old file, as nginx does until it reopens),
//! rotate by copytruncate, and gzip rotated files (deleting the plain one). Every batch the
//! source delivers is recorded with its extent. At the end every extent is read again, in
//! order and backwards, and must give exactly the lines, truncation marks and offsets the
//! live batch had, wherever its file has gone.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use hitstream_source::{Batch, Checkpoint, FileSource, FileSourceConfig, Poll, Rereader};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// Appends `lines` lines; with `partial`, then the first part of one more line, which
    /// the next append completes.
    Append { lines: u8, partial: bool },
    /// Renames `access.log` to `access.log.N`, writes `trailing` lines to the old file, then
    /// starts a new `access.log`.
    Rename { trailing: u8 },
    /// Copies `access.log` to `access.log.N` and truncates it.
    CopyTruncate,
    /// Compresses the oldest rotated plain file to `.gz` and deletes it.
    Gzip,
    /// Lets the source catch up.
    Poll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1u8..30, any::<bool>()).prop_map(|(lines, partial)| Op::Append { lines, partial }),
        2 => (0u8..4).prop_map(|trailing| Op::Rename { trailing }),
        2 => Just(Op::CopyTruncate),
        2 => Just(Op::Gzip),
        4 => Just(Op::Poll),
    ]
}

const MAX_LINE: usize = 160;

/// Line `n`: unique, of a length from 9 to well over [`MAX_LINE`].
fn line(n: u64) -> String {
    let len = (n * 7919 % 260) as usize;
    format!(
        "{n:08} {}",
        ((b'a' + (n % 26) as u8) as char).to_string().repeat(len)
    )
}

struct World {
    dir: PathBuf,
    next: u64,
    rotation: u32,
    /// The rest of a line whose first part `access.log` ends with.
    pending: Option<String>,
    rotated_plain: Vec<PathBuf>,
    header: bool,
}

impl World {
    fn log(&self) -> PathBuf {
        self.dir.join("access.log")
    }

    fn append(&mut self, p: &Path, lines: u8, partial: bool) {
        let mut out = String::new();
        if let Some(rest) = self.pending.take() {
            out.push_str(&rest);
        }
        for _ in 0..lines {
            out.push_str(&line(self.next));
            out.push('\n');
            self.next += 1;
        }
        if partial {
            let l = line(self.next) + "\n";
            self.next += 1;
            let cut = 1 + (self.next as usize * 31) % (l.len() - 1);
            out.push_str(&l[..cut]);
            self.pending = Some(l[cut..].to_string());
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap();
        f.write_all(out.as_bytes()).unwrap();
    }

    /// Starts `access.log` anew (empty or with a unique header line).
    fn fresh_start(&mut self, truncate_only: bool) {
        let header = if self.header {
            self.rotation += 1;
            format!("#hdr file {}\n", self.rotation)
        } else {
            String::new()
        };
        if truncate_only {
            let mut f = OpenOptions::new().write(true).open(self.log()).unwrap();
            f.set_len(0).unwrap();
            // Written at the new end, as the writer's O_APPEND handle would.
            f.write_all(header.as_bytes()).unwrap();
        } else {
            fs::write(self.log(), header).unwrap();
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Append { lines, partial } => self.append(&self.log(), lines, partial),
            Op::Rename { trailing } => {
                self.rotation += 1;
                let rotated = self.dir.join(format!("access.log.{}", self.rotation));
                fs::rename(self.log(), &rotated).unwrap();
                if trailing > 0 {
                    self.append(&rotated, trailing, false);
                }
                // A line left unfinished in the old file stays so: it is delivered when that
                // file is finished.
                self.pending = None;
                self.rotated_plain.push(rotated);
                self.fresh_start(false);
            }
            Op::CopyTruncate => {
                self.rotation += 1;
                let rotated = self.dir.join(format!("access.log.{}", self.rotation));
                fs::copy(self.log(), &rotated).unwrap();
                self.pending = None;
                self.rotated_plain.push(rotated);
                self.fresh_start(true);
            }
            Op::Gzip => {
                if self.rotated_plain.is_empty() {
                    return;
                }
                let plain = self.rotated_plain.remove(0);
                let mut name = plain.as_os_str().to_owned();
                name.push(".gz");
                fs::write(PathBuf::from(name), gzip(&fs::read(&plain).unwrap())).unwrap();
                fs::remove_file(&plain).unwrap();
            }
            Op::Poll => {}
        }
    }
}

/// Polls until the source has been idle for `quiet`; records the batches with lines.
fn drain(src: &mut FileSource, got: &mut Vec<Batch>, quiet: Duration) {
    let mut idle_since = Instant::now();
    let start = Instant::now();
    while idle_since.elapsed() < quiet && start.elapsed() < Duration::from_secs(20) {
        match src.poll(Duration::from_millis(10)) {
            Poll::Batch(b) => {
                if !b.is_empty() {
                    got.push(b);
                }
                idle_since = Instant::now();
            }
            Poll::Idle => {}
            Poll::End => unreachable!("follow mode"),
        }
    }
}

fn check(live: &Batch, again: &Batch, what: &str) -> Result<(), TestCaseError> {
    let ext = live.file_extent().unwrap();
    prop_assert_eq!(
        again.lines().collect::<Vec<_>>(),
        live.lines().collect::<Vec<_>>(),
        "{}: {:?}",
        what,
        ext
    );
    prop_assert_eq!(again.truncated(), live.truncated(), "{}: {:?}", what, ext);
    prop_assert_eq!(again.start_offset(), ext.start);
    prop_assert_eq!(again.end_offset(), ext.end);
    prop_assert_eq!(
        again.file_extent().unwrap().fingerprint,
        ext.fingerprint,
        "{}",
        what
    );
    Ok(())
}

/// What the re-reads went through, to show that a run exercised the rotations.
#[derive(Debug, Default)]
struct Seen {
    batches: usize,
    moved: usize,
    from_gz: usize,
    first_line: usize,
    truncated_lines: usize,
}

fn run(ops: &[Op], max_batch_lines: usize, header: bool) -> Result<Seen, TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let mut world = World {
        dir: d.clone(),
        next: 0,
        rotation: 0,
        pending: None,
        rotated_plain: Vec::new(),
        header,
    };
    world.fresh_start(false);
    let cfg = FileSourceConfig {
        max_batch_lines,
        max_line_bytes: MAX_LINE,
        header_prefix: header.then(|| "#hdr ".to_string()),
        ..fast(&d.join("access.log*"))
    };
    let mut src = FileSource::new(cfg.clone(), &Checkpoint::new()).unwrap();
    let mut got = Vec::new();
    for op in ops {
        world.apply(op);
        if matches!(op, Op::Poll) {
            drain(&mut src, &mut got, Duration::from_millis(40));
        }
    }
    // Long enough for deleted files to be finished (rotate_wait) and delivered.
    drain(&mut src, &mut got, Duration::from_millis(400));
    let mut r = Rereader::new(&cfg).unwrap();
    let mut seen = Seen::default();
    for (i, b) in got.iter().enumerate() {
        let ext = b.file_extent().unwrap();
        let again = r
            .reread(&ext)
            .map_err(|e| TestCaseError::fail(format!("batch {i} {ext:?}: {e}")))?;
        check(b, &again, "in order")?;
        let now = again.file_extent().unwrap().path;
        seen.batches += 1;
        seen.moved += usize::from(now != ext.path);
        seen.from_gz += usize::from(now.extension().is_some_and(|e| e == "gz"));
        seen.first_line += usize::from(!ext.fingerprint.is_head());
        seen.truncated_lines += b.truncated().len();
    }
    for b in got.iter().rev() {
        let ext = b.file_extent().unwrap();
        let again = src
            .reread(&ext)
            .map_err(|e| TestCaseError::fail(format!("backwards {ext:?}: {e}")))?;
        check(b, &again, "backwards")?;
    }
    Ok(seen)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        max_shrink_time: 60_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_recorded_extent_rereads_the_same_lines(
        ops in prop::collection::vec(op(), 1..40),
        max_batch_lines in 1usize..12,
        header in any::<bool>(),
    ) {
        let seen = run(&ops, max_batch_lines, header)?;
        if std::env::var_os("MODEL_DEBUG").is_some() {
            eprintln!("{seen:?}");
        }
    }
}

/// A fixed sequence through every kind of rotation, so the interesting paths are taken
/// whatever the random cases draw.
#[test]
fn every_rotation_kind_in_a_row() {
    let a = |lines| Op::Append {
        lines,
        partial: false,
    };
    let ops = [
        // Short: known by its first line at first.
        a(1),
        Op::Poll,
        a(5),
        Op::Poll,
        a(20),
        Op::Append {
            lines: 3,
            partial: true,
        },
        Op::Poll,
        Op::Rename { trailing: 2 },
        a(30),
        Op::Poll,
        Op::CopyTruncate,
        a(4),
        Op::Poll,
        Op::Gzip,
        a(10),
        Op::Poll,
        Op::Append {
            lines: 1,
            partial: true,
        },
        Op::CopyTruncate,
        Op::Rename { trailing: 0 },
        Op::Gzip,
        Op::Gzip,
        a(12),
        Op::Poll,
    ];
    for header in [false, true] {
        let seen = run(&ops, 3, header).unwrap();
        assert!(
            seen.moved > 0 && seen.from_gz > 0 && seen.first_line > 0 && seen.truncated_lines > 0,
            "{seen:?}"
        );
    }
}
