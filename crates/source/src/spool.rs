//! A local spool that makes TCP and syslog input durable before it is processed.
//!
//! Lines taken from a socket cannot be read again, so a pipeline fed directly by
//! [`TcpSource`](crate::TcpSource) or [`SyslogSource`](crate::SyslogSource) is
//! **at-most-once**: whatever was received but not yet processed when the process dies is
//! lost. With a spool, a [`Spooler`] thread appends every batch to segment files in a
//! directory and fsyncs them (after every batch, or at an interval), and the pipeline reads
//! the segments with a [`FileSource`](crate::FileSource) like any log file, with
//! checkpointed positions. From the spool on, delivery is exactly-once like files; what is
//! lost on a crash is only what had not yet been fsynced (nothing that was appended under
//! [`FsyncPolicy::EveryBatch`], at most one interval under [`FsyncPolicy::IntervalMs`]) and what
//! was still in socket buffers. Neither TCP-netcat nor syslog has acknowledgements, so the
//! sender cannot know either way.
//!
//! Segments are `spool-<16 digits>.log`, each starting with a `#hitstream-spool ...` header
//! line that makes its fingerprint unique (the reader skips it). A new segment is started at
//! every open and when the current one passes `segment_bytes`; [`remove_consumed`] deletes
//! segments a checkpoint shows fully processed. Frames rejected by syslog go to
//! `malformed.log` in the same directory, one per line: time, peer, reason code, bytes
//! (escaped).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::batch::Batch;
use crate::checkpoint::Checkpoint;
use crate::error::SourceError;
use crate::file::FileSourceConfig;
use crate::fingerprint::Fingerprint;
use crate::{Poll, Source};

/// The start of every segment's first line.
pub const SEGMENT_HEADER_PREFIX: &str = "#hitstream-spool ";

/// When the spool is fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FsyncPolicy {
    /// After every batch appended: nothing appended is lost.
    EveryBatch,
    /// At most this many milliseconds after an append: up to that much can be lost.
    IntervalMs(u64),
}

/// Configuration of a spool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// Directory of the segments (created if missing).
    pub dir: PathBuf,
    /// A new segment is started when the current one is at least this big.
    #[serde(default = "default_segment_bytes")]
    pub segment_bytes: u64,
    /// When to fsync.
    #[serde(default = "default_fsync")]
    pub fsync: FsyncPolicy,
}

fn default_segment_bytes() -> u64 {
    64 << 20
}

fn default_fsync() -> FsyncPolicy {
    FsyncPolicy::EveryBatch
}

impl SpoolConfig {
    /// Defaults for a directory: 64 MiB segments, fsync after every batch.
    pub fn new(dir: impl Into<PathBuf>) -> SpoolConfig {
        SpoolConfig {
            dir: dir.into(),
            segment_bytes: default_segment_bytes(),
            fsync: default_fsync(),
        }
    }
}

/// The configuration to read a spool directory with a [`FileSource`](crate::FileSource):
/// follow the segments, skip their headers.
pub fn reader_config(dir: &Path) -> FileSourceConfig {
    let pattern = glob::Pattern::escape(&dir.to_string_lossy()) + "/spool-*.log";
    FileSourceConfig {
        include: vec![pattern],
        header_prefix: Some(SEGMENT_HEADER_PREFIX.to_string()),
        poll_interval_ms: 100,
        ..FileSourceConfig::default()
    }
}

fn segment_name(seq: u64) -> String {
    format!("spool-{seq:016}.log")
}

/// Segments in `dir`, oldest first.
fn segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(num) = name
            .strip_prefix("spool-")
            .and_then(|r| r.strip_suffix(".log"))
        else {
            continue;
        };
        if let Ok(seq) = num.parse::<u64>() {
            out.push((seq, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Deletes the segments of `dir` that `checkpoint` shows read to their end, except the
/// newest (which may still be written). Returns how many were deleted. Call it after the
/// checkpoint has been persisted.
pub fn remove_consumed(dir: &Path, checkpoint: &Checkpoint) -> Result<usize, SourceError> {
    let err = |path: &Path, source| SourceError::Spool {
        path: path.to_path_buf(),
        source,
    };
    let segs = segments(dir).map_err(|e| err(dir, e))?;
    let mut removed = 0;
    for (_, path) in segs.iter().rev().skip(1) {
        let size = match fs::metadata(path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(err(path, e)),
        };
        let fp = Fingerprint::of_file(path).map_err(|e| err(path, e))?;
        let done = fp
            .and_then(|fp| checkpoint.get(&fp))
            .is_some_and(|p| p.offset >= size);
        if done {
            fs::remove_file(path).map_err(|e| err(path, e))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Counters of a spool writer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Lines appended.
    pub lines: u64,
    /// Bytes appended (lines and newlines).
    pub bytes: u64,
    /// fsyncs done.
    pub syncs: u64,
    /// Segments started.
    pub segments: u64,
    /// Malformed frames written to `malformed.log`.
    pub malformed: u64,
    /// Lines whose embedded `\n` (possible in octet-counted syslog) were written as `\n`
    /// text, so that they stay one line.
    pub escaped_newlines: u64,
}

/// Appends batches to the spool; see the [module documentation](self).
#[derive(Debug)]
pub struct SpoolWriter {
    cfg: SpoolConfig,
    file: File,
    path: PathBuf,
    seq: u64,
    size: u64,
    dirty: bool,
    last_sync: Instant,
    malformed: Option<File>,
    buf: Vec<u8>,
    stats: SpoolStats,
}

fn escape_into(raw: &[u8], out: &mut Vec<u8>) {
    for &b in raw {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl SpoolWriter {
    /// Opens the spool: creates the directory, ends a segment left with a partial last line
    /// (a crash mid-append) with `\n`, and starts a new segment.
    pub fn open(cfg: SpoolConfig) -> Result<SpoolWriter, SourceError> {
        let dir = cfg.dir.clone();
        let err = |path: &Path, source| SourceError::Spool {
            path: path.to_path_buf(),
            source,
        };
        fs::create_dir_all(&dir).map_err(|e| err(&dir, e))?;
        let segs = segments(&dir).map_err(|e| err(&dir, e))?;
        let mut seq = 0;
        if let Some((last, path)) = segs.last() {
            seq = *last;
            let bytes = fs::read(path).map_err(|e| err(path, e))?;
            if bytes.last().is_some_and(|&b| b != b'\n') {
                // The partial line becomes a (damaged) line of its own rather than being
                // glued to the next append; the parser will reject it with a reason.
                let mut f = OpenOptions::new()
                    .append(true)
                    .open(path)
                    .map_err(|e| err(path, e))?;
                f.write_all(b"\n").map_err(|e| err(path, e))?;
                f.sync_all().map_err(|e| err(path, e))?;
            }
        }
        let (file, path, size) = Self::create_segment(&dir, seq + 1)?;
        Ok(SpoolWriter {
            cfg,
            file,
            path,
            seq: seq + 1,
            size,
            dirty: false,
            last_sync: Instant::now(),
            malformed: None,
            buf: Vec::new(),
            stats: SpoolStats {
                segments: 1,
                ..SpoolStats::default()
            },
        })
    }

    fn create_segment(dir: &Path, seq: u64) -> Result<(File, PathBuf, u64), SourceError> {
        let path = dir.join(segment_name(seq));
        let err = |source| SourceError::Spool {
            path: path.clone(),
            source,
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let header = format!(
            "{SEGMENT_HEADER_PREFIX}segment={seq} pid={} created_ns={nanos}\n",
            std::process::id()
        );
        let mut f = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(err)?;
        f.write_all(header.as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)?;
        sync_dir(dir).map_err(|source| SourceError::Spool {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok((f, path, header.len() as u64))
    }

    /// The segment being written.
    pub fn current_segment(&self) -> &Path {
        &self.path
    }

    /// Counters.
    pub fn stats(&self) -> &SpoolStats {
        &self.stats
    }

    /// Appends a batch's lines (and its malformed frames to `malformed.log`), then fsyncs
    /// as the policy says and starts a new segment if this one is full.
    pub fn append(&mut self, batch: &Batch) -> Result<(), SourceError> {
        self.buf.clear();
        for line in batch.lines() {
            if memchr::memchr(b'\n', line).is_some() {
                self.stats.escaped_newlines += 1;
                for part in line.split(|&b| b == b'\n').enumerate() {
                    if part.0 > 0 {
                        self.buf.extend_from_slice(b"\\n");
                    }
                    self.buf.extend_from_slice(part.1);
                }
            } else {
                self.buf.extend_from_slice(line);
            }
            self.buf.push(b'\n');
        }
        if !self.buf.is_empty() {
            let path = &self.path;
            self.file
                .write_all(&self.buf)
                .map_err(|source| SourceError::Spool {
                    path: path.clone(),
                    source,
                })?;
            self.size += self.buf.len() as u64;
            self.stats.lines += batch.len() as u64;
            self.stats.bytes += self.buf.len() as u64;
            self.dirty = true;
        }
        if !batch.malformed().is_empty() {
            self.write_malformed(batch)?;
        }
        match self.cfg.fsync {
            FsyncPolicy::EveryBatch => self.sync()?,
            FsyncPolicy::IntervalMs(_) => self.tick()?,
        }
        if self.size >= self.cfg.segment_bytes {
            self.sync()?;
            let (f, p, size) = Self::create_segment(&self.cfg.dir, self.seq + 1)?;
            self.file = f;
            self.path = p;
            self.size = size;
            self.seq += 1;
            self.stats.segments += 1;
        }
        Ok(())
    }

    fn write_malformed(&mut self, batch: &Batch) -> Result<(), SourceError> {
        let path = self.cfg.dir.join("malformed.log");
        let err = |source| SourceError::Spool {
            path: path.clone(),
            source,
        };
        if self.malformed.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(err)?;
            self.malformed = Some(f);
        }
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut out = Vec::new();
        for m in batch.malformed() {
            let peer = m.peer.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
            out.extend_from_slice(format!("{secs}\t{peer}\t{}\t", m.reason.code()).as_bytes());
            escape_into(&m.raw, &mut out);
            out.push(b'\n');
        }
        let f = self.malformed.as_mut().expect("opened");
        f.write_all(&out).map_err(err)?;
        self.stats.malformed += batch.malformed().len() as u64;
        self.dirty = true;
        Ok(())
    }

    /// Under [`FsyncPolicy::IntervalMs`], fsyncs if the interval has passed since the last
    /// one. Call it when idle too.
    pub fn tick(&mut self) -> Result<(), SourceError> {
        if let FsyncPolicy::IntervalMs(ms) = self.cfg.fsync {
            if self.dirty && self.last_sync.elapsed() >= Duration::from_millis(ms) {
                self.sync()?;
            }
        }
        Ok(())
    }

    /// fsyncs what was appended.
    pub fn sync(&mut self) -> Result<(), SourceError> {
        if !self.dirty {
            return Ok(());
        }
        self.file.sync_data().map_err(|source| SourceError::Spool {
            path: self.path.clone(),
            source,
        })?;
        if let Some(m) = &self.malformed {
            m.sync_data().map_err(|source| SourceError::Spool {
                path: self.cfg.dir.join("malformed.log"),
                source,
            })?;
        }
        self.dirty = false;
        self.last_sync = Instant::now();
        self.stats.syncs += 1;
        Ok(())
    }
}

impl Drop for SpoolWriter {
    fn drop(&mut self) {
        let _ = self.sync();
    }
}

/// A thread that appends everything a source delivers to a spool.
#[derive(Debug)]
pub struct Spooler {
    stop: Arc<AtomicBool>,
    lines: Arc<AtomicU64>,
    problems: Arc<Mutex<Vec<SourceError>>>,
    handle: Option<JoinHandle<SpoolStats>>,
}

impl Spooler {
    /// Starts spooling `source` into `writer`. A failed append is retried (the source is
    /// not polled meanwhile, so senders are pushed back) and reported.
    pub fn spawn<S: Source + 'static>(
        mut source: S,
        mut writer: SpoolWriter,
    ) -> Result<Spooler, SourceError> {
        let stop = Arc::new(AtomicBool::new(false));
        let lines = Arc::new(AtomicU64::new(0));
        let problems = Arc::new(Mutex::new(Vec::new()));
        let (stop2, lines2, problems2) = (stop.clone(), lines.clone(), problems.clone());
        let dir = writer.cfg.dir.clone();
        let report = move |e: SourceError| {
            if let Ok(mut p) = problems2.lock() {
                if p.len() < 10_000 {
                    p.push(e);
                }
            }
        };
        let handle = thread::Builder::new()
            .name("hitstream-spooler".into())
            .spawn(move || {
                while !stop2.load(Ordering::Relaxed) {
                    match source.poll(Duration::from_millis(100)) {
                        Poll::Batch(b) => {
                            while let Err(e) = writer.append(&b) {
                                report(e);
                                if stop2.load(Ordering::Relaxed) {
                                    break;
                                }
                                thread::sleep(Duration::from_millis(500));
                            }
                            lines2.fetch_add(b.len() as u64, Ordering::Relaxed);
                        }
                        Poll::Idle => {
                            if let Err(e) = writer.tick() {
                                report(e);
                            }
                        }
                        Poll::End => break,
                    }
                    for e in source.take_problems() {
                        report(e);
                    }
                }
                if let Err(e) = writer.sync() {
                    report(e);
                }
                writer.stats.clone()
            })
            .map_err(|source| SourceError::Spool { path: dir, source })?;
        Ok(Spooler {
            stop,
            lines,
            problems,
            handle: Some(handle),
        })
    }

    /// Lines appended so far.
    pub fn lines(&self) -> u64 {
        self.lines.load(Ordering::Relaxed)
    }

    /// Problems of the source and of the spool since the last call.
    pub fn take_problems(&self) -> Vec<SourceError> {
        self.problems
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }

    /// Stops polling, fsyncs, and returns the writer's counters.
    pub fn stop(mut self) -> SpoolStats {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Spooler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Origin;

    fn batch(lines: &[&str]) -> Batch {
        let mut b = Batch::new(Origin::Stream { name: "t".into() });
        for l in lines {
            b.push_line(l.as_bytes(), false);
        }
        b
    }

    #[test]
    fn segments_roll_and_restart_ends_partial_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = SpoolConfig::new(dir.path());
        cfg.segment_bytes = 100;
        let mut w = SpoolWriter::open(cfg.clone()).unwrap();
        for i in 0..10 {
            w.append(&batch(&[&format!("line {i} of the spool test")]))
                .unwrap();
        }
        let segs = segments(dir.path()).unwrap();
        assert!(segs.len() > 2, "{segs:?}");
        let last = w.current_segment().to_path_buf();
        drop(w);
        // A crash mid-append leaves a partial line.
        let mut f = OpenOptions::new().append(true).open(&last).unwrap();
        f.write_all(b"partial").unwrap();
        drop(f);
        let w = SpoolWriter::open(cfg).unwrap();
        assert!(fs::read(&last).unwrap().ends_with(b"partial\n"));
        assert_ne!(w.current_segment(), last);
        // Every segment starts with a unique header.
        let heads: std::collections::HashSet<_> = segments(dir.path())
            .unwrap()
            .iter()
            .map(|(_, p)| Fingerprint::of_file(p).unwrap().unwrap())
            .collect();
        assert_eq!(heads.len(), segments(dir.path()).unwrap().len());
    }

    #[test]
    fn embedded_newlines_stay_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SpoolWriter::open(SpoolConfig::new(dir.path())).unwrap();
        w.append(&batch(&["a\nb", "c"])).unwrap();
        let text = fs::read_to_string(w.current_segment()).unwrap();
        assert!(text.ends_with("a\\nb\nc\n"), "{text}");
        assert_eq!(w.stats().escaped_newlines, 1);
    }
}
