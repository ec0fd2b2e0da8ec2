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
//!
//! **Bounds.** The segments not yet removed may hold at most [`SpoolConfig::max_bytes`]
//! (default [`DEFAULT_MAX_BYTES`]). Above it the [`Spooler`] stops reading from its source
//! until the pipeline has consumed segments and they were removed: the connection threads
//! then block, TCP flow control pushes back on the senders, and nothing sent over TCP is
//! lost. UDP has no flow control: datagrams that arrive meanwhile are dropped by the kernel
//! once the socket's receive buffer is full (counted by the kernel in `/proc/net/udp`,
//! `netstat -su` "receive buffer errors"). The spool can pass the cap by at most one batch
//! and one segment. A failed write (a full disk) is undone, reported, and retried with a
//! growing delay (up to [`MAX_RETRY_DELAY`]); reading waits meanwhile, so the same
//! backpressure applies and the pipeline goes on. `malformed.log` is capped at
//! [`SpoolConfig::malformed_max_bytes`] (default [`DEFAULT_MALFORMED_MAX_BYTES`]): past it,
//! malformed frames are still counted ([`SpoolStats::malformed_dropped`]) but no longer kept,
//! and one warning says so.

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

/// Default of [`SpoolConfig::max_bytes`]: 1 GiB of unconsumed segments.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// Default of [`SpoolConfig::malformed_max_bytes`]: 64 MiB of kept malformed frames.
pub const DEFAULT_MALFORMED_MAX_BYTES: u64 = 64 << 20;

/// The longest wait between two attempts of a failed spool write.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// How often a spool that fills again and again says so.
const FULL_NOTE_EVERY: Duration = Duration::from_secs(60);

/// How often the spooler looks at the directory while it holds back.
const FULL_CHECK: Duration = Duration::from_millis(100);

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
    /// Most bytes of segments not yet consumed and removed (default
    /// [`DEFAULT_MAX_BYTES`]); above it reading from the source waits (see the
    /// [module documentation](self)).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// Most bytes of `malformed.log` (default [`DEFAULT_MALFORMED_MAX_BYTES`]); past it
    /// malformed frames are counted, not kept.
    #[serde(default = "default_malformed_max_bytes")]
    pub malformed_max_bytes: u64,
}

fn default_max_bytes() -> u64 {
    DEFAULT_MAX_BYTES
}

fn default_malformed_max_bytes() -> u64 {
    DEFAULT_MALFORMED_MAX_BYTES
}

fn default_segment_bytes() -> u64 {
    64 << 20
}

fn default_fsync() -> FsyncPolicy {
    FsyncPolicy::EveryBatch
}

impl SpoolConfig {
    /// Defaults for a directory: 64 MiB segments, fsync after every batch, 1 GiB of
    /// unconsumed segments, 64 MiB of `malformed.log`.
    pub fn new(dir: impl Into<PathBuf>) -> SpoolConfig {
        SpoolConfig {
            dir: dir.into(),
            segment_bytes: default_segment_bytes(),
            fsync: default_fsync(),
            max_bytes: default_max_bytes(),
            malformed_max_bytes: default_malformed_max_bytes(),
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

/// Bytes of the segments in `dir` (what the spool holds on disk).
fn held_bytes(dir: &Path) -> io::Result<u64> {
    let mut n = 0;
    for (_, p) in segments(dir)? {
        match fs::metadata(&p) {
            Ok(m) => n += m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Counters of a spool writer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
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
    /// Bytes of segments on disk, not yet consumed and removed, at the last look.
    pub held_bytes: u64,
    /// The cap on those bytes.
    pub max_bytes: u64,
    /// Whether reading from the source waits now because the spool is full.
    pub full: bool,
    /// Times reading waited because the spool was full.
    pub full_pauses: u64,
    /// Milliseconds reading waited because the spool was full, in all.
    pub full_ms: u64,
    /// Malformed frames counted but not kept: `malformed.log` was at its cap (or could not
    /// be written).
    pub malformed_dropped: u64,
    /// Failed writes or fsyncs (a full disk), each retried.
    pub write_errors: u64,
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
    malformed_size: u64,
    buf: Vec<u8>,
    stats: SpoolStats,
    /// Bytes of a new segment before any line (its header): a segment this size is empty.
    header_len: u64,
    /// When `stats.held_bytes` was last measured on disk.
    held_at: Option<Instant>,
    /// Problems that did not stop an append (malformed.log at its cap or failing).
    warnings: Vec<SourceError>,
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
        let malformed_size = fs::metadata(dir.join("malformed.log")).map_or(0, |m| m.len());
        let max_bytes = cfg.max_bytes;
        Ok(SpoolWriter {
            cfg,
            file,
            path,
            seq: seq + 1,
            size,
            dirty: false,
            last_sync: Instant::now(),
            malformed: None,
            malformed_size,
            buf: Vec::new(),
            stats: SpoolStats {
                segments: 1,
                max_bytes,
                ..SpoolStats::default()
            },
            header_len: size,
            held_at: None,
            warnings: Vec::new(),
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
        let written = f
            .write_all(header.as_bytes())
            .and_then(|()| f.sync_all())
            .and_then(|()| sync_dir(dir));
        if let Err(source) = written {
            // A full disk: the next attempt creates the segment again, from nothing.
            let _ = fs::remove_file(&path);
            return Err(err(source));
        }
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
        self.write(batch)?;
        self.settle()
    }

    /// Problems that did not stop an append, since the last call.
    pub fn take_warnings(&mut self) -> Vec<SourceError> {
        std::mem::take(&mut self.warnings)
    }

    /// Whether the segments not yet removed hold more than the cap. Looks at the directory
    /// at most every [`FULL_CHECK`] (between looks, what was appended is added). When full,
    /// the segment being written is ended if it holds lines, so that once it is consumed
    /// it can be removed and room comes back.
    pub fn is_full(&mut self) -> Result<bool, SourceError> {
        if self.held_at.is_none_or(|t| t.elapsed() >= FULL_CHECK) {
            self.stats.held_bytes =
                held_bytes(&self.cfg.dir).map_err(|source| SourceError::Spool {
                    path: self.cfg.dir.clone(),
                    source,
                })?;
            self.held_at = Some(Instant::now());
        }
        let full = self.stats.held_bytes > self.cfg.max_bytes;
        if full && self.size > self.header_len {
            self.roll()?;
        }
        Ok(full)
    }

    /// Writes a batch: all its lines or, on an error, none (what was written of them is
    /// cut off again), so that the batch can be written again.
    pub fn write(&mut self, batch: &Batch) -> Result<(), SourceError> {
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
            if let Err(source) = self.file.write_all(&self.buf) {
                // A partial line would be glued to the retry's first line: cut it off.
                self.stats.write_errors += 1;
                let _ = self.file.set_len(self.size);
                return Err(SourceError::Spool {
                    path: self.path.clone(),
                    source,
                });
            }
            self.size += self.buf.len() as u64;
            self.stats.held_bytes += self.buf.len() as u64;
            self.stats.lines += batch.len() as u64;
            self.stats.bytes += self.buf.len() as u64;
            self.dirty = true;
        }
        if !batch.malformed().is_empty() {
            if let Err(e) = self.write_malformed(batch) {
                // The lines are written; the frames are counted (here and by the source)
                // and the reason reported, rather than the batch written twice.
                self.stats.malformed_dropped += batch.malformed().len() as u64;
                self.warnings.push(e);
            }
        }
        Ok(())
    }

    /// fsyncs as the policy says and starts a new segment if this one is full. Can be
    /// called again after an error.
    pub fn settle(&mut self) -> Result<(), SourceError> {
        let r = match self.cfg.fsync {
            FsyncPolicy::EveryBatch => self.sync(),
            FsyncPolicy::IntervalMs(_) => self.tick(),
        };
        if r.is_err() {
            self.stats.write_errors += 1;
            return r;
        }
        if self.size >= self.cfg.segment_bytes {
            if let Err(e) = self.roll() {
                self.stats.write_errors += 1;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Ends the current segment and starts the next.
    fn roll(&mut self) -> Result<(), SourceError> {
        self.sync()?;
        let (f, p, size) = Self::create_segment(&self.cfg.dir, self.seq + 1)?;
        self.file = f;
        self.path = p;
        self.size = size;
        self.seq += 1;
        self.stats.segments += 1;
        self.stats.held_bytes += size;
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
        let n = batch.malformed().len() as u64;
        if self.malformed_size + out.len() as u64 > self.cfg.malformed_max_bytes {
            if self.stats.malformed_dropped == 0 {
                self.warnings.push(SourceError::SpoolState {
                    path: path.clone(),
                    what: format!(
                        "reached its cap of {} bytes: further malformed frames are counted, \
                         not kept (move the file away and restart to keep them again)",
                        self.cfg.malformed_max_bytes
                    ),
                });
            }
            self.stats.malformed_dropped += n;
            return Ok(());
        }
        let f = self.malformed.as_mut().expect("opened");
        if let Err(source) = f.write_all(&out) {
            let _ = f.set_len(self.malformed_size);
            return Err(err(source));
        }
        self.malformed_size += out.len() as u64;
        self.stats.malformed += n;
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

/// A shared view of a [`Spooler`]'s counters.
#[derive(Debug, Clone)]
pub struct SpoolStatsHandle(Arc<Mutex<SpoolStats>>);

impl SpoolStatsHandle {
    /// The counters now.
    pub fn get(&self) -> SpoolStats {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// A thread that appends everything a source delivers to a spool.
#[derive(Debug)]
pub struct Spooler {
    stop: Arc<AtomicBool>,
    lines: Arc<AtomicU64>,
    problems: Arc<Mutex<Vec<SourceError>>>,
    stats: Arc<Mutex<SpoolStats>>,
    handle: Option<JoinHandle<SpoolStats>>,
}

/// Runs `op` until it succeeds or `stop` is set, waiting longer after each failure (from
/// 100 ms up to [`MAX_RETRY_DELAY`]). The first failure of a streak is reported with the
/// promise of a retry; the rest only counted (by `op`'s writer). False when stopped first.
fn retry(
    dir: &Path,
    stop: &AtomicBool,
    report: &dyn Fn(SourceError),
    mut op: impl FnMut() -> Result<(), SourceError>,
) -> bool {
    let mut delay = Duration::from_millis(100);
    let mut first = true;
    loop {
        match op() {
            Ok(()) => {
                if !first {
                    report(SourceError::SpoolState {
                        path: dir.to_path_buf(),
                        what: "can be written again; reading goes on".into(),
                    });
                }
                return true;
            }
            Err(e) => {
                if first {
                    report(SourceError::SpoolState {
                        path: dir.to_path_buf(),
                        what: format!(
                            "{e}; not reading from the source, retrying with backoff up to \
                             every {} s",
                            MAX_RETRY_DELAY.as_secs()
                        ),
                    });
                    first = false;
                }
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
                thread::sleep(delay);
                delay = (delay * 2).min(MAX_RETRY_DELAY);
            }
        }
    }
}

impl Spooler {
    /// Starts spooling `source` into `writer`. A failed append is retried with backoff
    /// (the source is not polled meanwhile, so senders are pushed back) and reported; so is
    /// a full spool (see the [module documentation](self)).
    pub fn spawn<S: Source + 'static>(
        mut source: S,
        mut writer: SpoolWriter,
    ) -> Result<Spooler, SourceError> {
        let stop = Arc::new(AtomicBool::new(false));
        let lines = Arc::new(AtomicU64::new(0));
        let problems = Arc::new(Mutex::new(Vec::new()));
        let stats = Arc::new(Mutex::new(writer.stats.clone()));
        let (stop2, lines2, problems2) = (stop.clone(), lines.clone(), problems.clone());
        let stats2 = stats.clone();
        let dir2 = writer.cfg.dir.clone();
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
                let publish = |w: &SpoolWriter| {
                    if let Ok(mut s) = stats2.lock() {
                        *s = w.stats.clone();
                    }
                };
                let mut full_since: Option<Instant> = None;
                let mut last_full_note: Option<Instant> = None;
                let mut full_error = false;
                while !stop2.load(Ordering::Relaxed) {
                    // Backpressure: while the spool holds more than its cap, the source is
                    // not polled, its threads block, and TCP senders are pushed back.
                    let full = match writer.is_full() {
                        Ok(f) => {
                            full_error = false;
                            f
                        }
                        Err(e) => {
                            if !full_error {
                                report(e);
                                full_error = true;
                            }
                            false
                        }
                    };
                    if full {
                        if full_since.is_none() {
                            full_since = Some(Instant::now());
                            writer.stats.full = true;
                            writer.stats.full_pauses += 1;
                            // A pipeline that keeps up only just fills it again and again:
                            // the first time is said, then once a minute at most.
                            if last_full_note.is_none_or(|t| t.elapsed() >= FULL_NOTE_EVERY) {
                                last_full_note = Some(Instant::now());
                                report(SourceError::SpoolState {
                                    path: writer.cfg.dir.clone(),
                                    what: format!(
                                        "holds {} bytes, more than its cap of {} \
                                         (--spool-max-bytes): not reading from the source until \
                                         the pipeline consumed some ({} times so far)",
                                        writer.stats.held_bytes,
                                        writer.cfg.max_bytes,
                                        writer.stats.full_pauses
                                    ),
                                });
                            }
                        }
                        if let Err(e) = writer.tick() {
                            report(e);
                        }
                        publish(&writer);
                        thread::sleep(FULL_CHECK);
                        continue;
                    }
                    if let Some(t) = full_since.take() {
                        writer.stats.full = false;
                        writer.stats.full_ms += t.elapsed().as_millis() as u64;
                    }
                    match source.poll(Duration::from_millis(100)) {
                        Poll::Batch(b) => {
                            let written = retry(&dir2, &stop2, &report, || writer.write(&b));
                            if written {
                                lines2.fetch_add(b.len() as u64, Ordering::Relaxed);
                                retry(&dir2, &stop2, &report, || writer.settle());
                            } else if !b.is_empty() {
                                report(SourceError::SpoolState {
                                    path: writer.cfg.dir.clone(),
                                    what: format!(
                                        "stopped while the spool could not be written: {} lines \
                                         received were not spooled",
                                        b.len()
                                    ),
                                });
                            }
                        }
                        Poll::Idle => {
                            if let Err(e) = writer.tick() {
                                report(e);
                            }
                        }
                        Poll::End => break,
                    }
                    for e in writer.take_warnings() {
                        report(e);
                    }
                    for e in source.take_problems() {
                        report(e);
                    }
                    publish(&writer);
                }
                if let Err(e) = writer.sync() {
                    report(e);
                }
                if let Some(t) = full_since.take() {
                    writer.stats.full_ms += t.elapsed().as_millis() as u64;
                }
                publish(&writer);
                writer.stats.clone()
            })
            .map_err(|source| SourceError::Spool { path: dir, source })?;
        Ok(Spooler {
            stop,
            lines,
            problems,
            stats,
            handle: Some(handle),
        })
    }

    /// The writer's counters, as of its last batch or look at the directory.
    pub fn stats(&self) -> SpoolStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// A handle to read the counters from another thread.
    pub fn stats_handle(&self) -> SpoolStatsHandle {
        SpoolStatsHandle(self.stats.clone())
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
