//! Reading and following files: paths and glob patterns, identity by fingerprint, rotation
//! by rename and by copytruncate, `.gz` read once, positions for exactly-once consumers.
//!
//! # How following works
//!
//! Every `poll_interval_ms` each open file is read from where it was left (`pread`); every
//! `glob_interval_ms` the patterns are expanded again to find new files. Files are known by
//! [`Fingerprint`], open files also by device and inode:
//!
//! - **Rename** (`access.log` → `access.log.1`, new `access.log`): the open handle keeps
//!   reading the old file to its end; the new file at the path is a new identity, read from
//!   its start. A file that no longer matches any pattern (renamed elsewhere, deleted) is read
//!   to its end and closed once it has not grown for `rotate_wait_ms`; its last line without
//!   `\n` is delivered then.
//! - **Copytruncate**: a file whose size drops below the read position, or whose first bytes
//!   change, was truncated: it is read again from 0 as a new identity. The copy has the old
//!   identity, so if it matches the patterns it is read from the old position: nothing is
//!   lost and nothing repeated (except what copytruncate itself loses between copy and
//!   truncate, or when the copy is outside the patterns). A followed file that gets a new
//!   identity is read only after the patterns are expanded once more: a copy made just
//!   before (its older lines) is then known and read first.
//! - **`.gz`** (by name or by magic bytes) is decompressed and read once to its end, never
//!   followed; its fingerprint is that of its decompressed content, so `access.log.2.gz`
//!   made from an `access.log.1` already read is only checked, not read again. An incomplete
//!   `.gz` (still being written) is tried again when its size changes.
//! - Two files with the same fingerprint (a copy of a file being read) are not read at the
//!   same time: the second waits until the first is closed or truncated, then goes on from
//!   the first one's position.
//!
//! - Files are read oldest first (rotated away, then by modification time): a newer file is
//!   read when the older ones are at their end, so a backlog of rotated files is read in
//!   the order it was written.
//!
//! Without `follow`, every file found by one expansion of the patterns is read to its end
//! in order of modification time (oldest first), and [`Poll::End`] follows.
//!
//! # Many files: at most `max_open_files` open
//!
//! A log directory can hold thousands of rotated files, more than a process may open. At
//! most [`FileSourceConfig::max_open_files`] (default [`MAX_OPEN_FILES`], 256) are open at
//! once; the others wait in a queue, oldest first, and are opened as slots free up. When
//! files wait, open plain files that are at their end are closed ("parked"), those with the
//! oldest modification time first; a parked file is known by device and inode and opened
//! again when a later expansion of the patterns sees its size or modification time change
//! (it is then found again by its fingerprint and read on from its position). A file that
//! grew within `rotate_wait_ms` (the live file) is parked only when every open file is
//! such a file and at its end, so a live file stays open and its rotation is followed on the
//! handle as above.
//! Files not at their end are never closed: they are read to their end, oldest first, and
//! the queue moves on. A parked or waiting file that goes away (deleted, renamed out of the
//! patterns) before its last bytes were read is reported
//! ([`SourceError::Unread`]), not silently lost. Below the cap nothing is parked.
//!
//! Re-reading an epoch's extents ([`FileSource::reread`]) opens each file only for the
//! read; the few `.gz` decoders it keeps between extents are dropped at the next poll.
//!
//! # Symbolic links
//!
//! A path or match that is a symbolic link is skipped unless
//! [`FileSourceConfig::follow_symlinks`] is set, and reported once
//! ([`SourceError::Symlink`]): whoever can write in a log directory could otherwise make
//! the pipeline read any file it can read (and store its lines as rejects). Only the last
//! component is checked; directories in a pattern are followed as the system does. A file
//! is opened only if the handle is the very file that was looked at (same device and inode),
//! so a path swapped for a link meanwhile is not read.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{self, File, Metadata};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};

use crate::batch::{Batch, FileExtent, Limits, Origin, Splitter};
use crate::checkpoint::{Checkpoint, FilePosition, PositionUpdate};
use crate::error::SourceError;
use crate::fingerprint::{Fingerprint, FINGERPRINT_BYTES};
use crate::reread::Rereader;
use crate::{Poll, Source};

/// Where to start in a file that has no saved position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartAt {
    /// From the first byte.
    #[default]
    Beginning,
    /// After the last complete line of files found by the first expansion of the patterns
    /// (files appearing later are read from their start). `.gz` files are read whole.
    End,
}

/// Configuration of a [`FileSource`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileSourceConfig {
    /// Paths or glob patterns (`/var/log/nginx/access.log*`). A path without wildcards may
    /// not exist yet in follow mode.
    pub include: Vec<String>,
    /// Glob patterns of paths to leave out (matched against the whole path).
    pub exclude: Vec<String>,
    /// Follow files like `tail -F`; when false, read every file once and end.
    pub follow: bool,
    /// How often to look for new data in open files, in milliseconds.
    pub poll_interval_ms: u64,
    /// How often to expand the patterns again to find new and rotated files, in
    /// milliseconds.
    pub glob_interval_ms: u64,
    /// How long a file that no longer matches the patterns (renamed away, deleted) stays
    /// open after it last grew, in milliseconds, in case the writer still appends to it.
    pub rotate_wait_ms: u64,
    /// Most lines in one batch.
    pub max_batch_lines: usize,
    /// Most bytes of line content in one batch (a single longer line is a batch of its own).
    pub max_batch_bytes: usize,
    /// Longer lines are cut to this length and marked truncated; their tail is skipped.
    /// Default [`MAX_LINE_BYTES`](crate::MAX_LINE_BYTES) (1 MiB).
    pub max_line_bytes: usize,
    /// Where to start in files with no saved position.
    pub start_at: StartAt,
    /// When set, a first line of a file that starts with this text is skipped (counted, not
    /// delivered). The spool uses it for the header that makes each segment unique.
    pub header_prefix: Option<String>,
    /// Most files open at once (default [`MAX_OPEN_FILES`], 256). More matched files wait,
    /// oldest first; files at their end are closed for them and opened again when they
    /// change. Keep it well below the process's open-file limit (`ulimit -n`, often 1024).
    pub max_open_files: usize,
    /// Read paths and matches that are symbolic links (default false: they are skipped and
    /// reported once).
    pub follow_symlinks: bool,
}

/// Default of [`FileSourceConfig::max_open_files`]: a quarter of the usual open-file limit
/// of 1024, leaving the rest to the checkpoint, the lake, sockets and the HTTP server.
pub const MAX_OPEN_FILES: usize = 256;

impl Default for FileSourceConfig {
    fn default() -> Self {
        FileSourceConfig {
            include: Vec::new(),
            exclude: Vec::new(),
            follow: true,
            poll_interval_ms: 200,
            glob_interval_ms: 1000,
            rotate_wait_ms: 5000,
            max_batch_lines: 4096,
            max_batch_bytes: 1 << 20,
            max_line_bytes: crate::MAX_LINE_BYTES,
            start_at: StartAt::Beginning,
            header_prefix: None,
            max_open_files: MAX_OPEN_FILES,
            follow_symlinks: false,
        }
    }
}

impl FileSourceConfig {
    /// Defaults (follow mode) for these paths or patterns.
    pub fn new<I, S>(include: I) -> FileSourceConfig
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        FileSourceConfig {
            include: include.into_iter().map(Into::into).collect(),
            ..FileSourceConfig::default()
        }
    }

    /// The same, in follow mode or not.
    pub fn follow(mut self, follow: bool) -> FileSourceConfig {
        self.follow = follow;
        self
    }

    fn limits(&self) -> Limits {
        Limits {
            max_batch_lines: self.max_batch_lines,
            max_batch_bytes: self.max_batch_bytes,
            max_line_bytes: self.max_line_bytes,
        }
    }
}

/// Counters of a [`FileSource`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileStats {
    /// Files opened.
    pub files_opened: u64,
    /// Files closed (read to the end after rotation, `.gz` finished, non-follow end).
    pub files_closed: u64,
    /// Truncations seen (copytruncate).
    pub truncations: u64,
    /// Lines delivered.
    pub lines: u64,
    /// Lines cut at `max_line_bytes`.
    pub truncated_lines: u64,
    /// Header lines skipped (`header_prefix`).
    pub headers_skipped: u64,
    /// `.gz` files found already read (by fingerprint and size) and skipped.
    pub gz_skipped: u64,
    /// Files closed at their end to let waiting files open (`max_open_files`); also counted
    /// in `files_closed`.
    pub files_parked: u64,
    /// Symbolic links skipped (`follow_symlinks` off), counted once per path.
    pub symlinks_skipped: u64,
}

/// What the source knows about one open file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedFile {
    /// Path it was last seen at.
    pub path: PathBuf,
    /// Identity, once the file has one.
    pub fingerprint: Option<Fingerprint>,
    /// Offset after the last delivered line.
    pub offset: u64,
    /// No longer matches the patterns (rotated away or deleted); closed when idle.
    pub rotated_away: bool,
    /// Gzip-compressed.
    pub compressed: bool,
}

pub(crate) type DevIno = (u64, u64);

/// `Read` over a file at an independent position (`pread`), so several readers can share a
/// handle.
pub(crate) struct AtReader {
    file: Arc<File>,
    pos: u64,
}

impl Read for AtReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

pub(crate) type GzReader = MultiGzDecoder<BufReader<AtReader>>;

pub(crate) fn gz_reader(file: &Arc<File>) -> GzReader {
    MultiGzDecoder::new(BufReader::with_capacity(
        64 * 1024,
        AtReader {
            file: file.clone(),
            pos: 0,
        },
    ))
}

/// Reads up to `buf.len()` bytes, stopping early only at the end. Returns the bytes read and
/// whether the end (clean) was reached.
pub(crate) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<(usize, bool)> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => return Ok((n, true)),
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((n, false))
}

struct Watched {
    path: PathBuf,
    id: DevIno,
    file: Arc<File>,
    gz: bool,
    decoder: Option<Box<GzReader>>,
    fp: Option<Fingerprint>,
    replaces: Option<Fingerprint>,
    /// Content offset after the last delivered line.
    offset: u64,
    /// Content offset up to which bytes went into the splitter.
    read_pos: u64,
    split: Splitter,
    gone: bool,
    /// Size when found by the first expansion of the patterns (for [`StartAt::End`]).
    startup_size: Option<u64>,
    last_data: Instant,
    /// Size on disk at the last look.
    size: u64,
    closed: bool,
    /// The last look found nothing more to read (end of file, or no identity yet).
    at_end: bool,
    /// Content bytes known to exist at that look: a parked file is opened again when its
    /// size differs.
    seen_len: u64,
    /// When data last came after the file had been read to its end: it is being written.
    grew_at: Option<Instant>,
    /// Resolved as a new identity: read only after the next expansion of the patterns.
    wait_scan: bool,
    /// Modification time at the last expansion of the patterns.
    mtime: Option<SystemTime>,
}

/// A file found by an expansion of the patterns, waiting for an open slot.
struct Queued {
    path: PathBuf,
    id: DevIno,
    size: u64,
    mtime: Option<SystemTime>,
    /// Size when found by the first expansion (for [`StartAt::End`]).
    startup_size: Option<u64>,
}

/// A file closed at its end to free a slot; opened again when it changes.
struct Parked {
    path: PathBuf,
    /// Content bytes it had when closed.
    len: u64,
    mtime: Option<SystemTime>,
    fp: Option<Fingerprint>,
    /// Bytes after the last delivered line (a last line without `\n`).
    unread: u64,
}

enum ReadOutcome {
    Data,
    Eof,
    Truncated,
    Failed(SourceError),
}

enum Resolve {
    /// Identity and start position set.
    Resolved,
    /// No identity yet (too short, no complete line).
    NotYet,
    /// Another open file has the same identity; try again later.
    Deferred,
    /// Nothing to read (already-read `.gz`, error): closed.
    Closed,
}

enum Step {
    Batch(Batch),
    Progress,
    Nothing,
}

/// Reads and follows files; see the [module documentation](self).
///
/// The source delivers [`Batch`]es of complete lines with the position after them and keeps
/// in memory what it has delivered; it never writes a checkpoint. Start it from the
/// consumer's last persisted [`Checkpoint`] so that exactly the lines after it are read.
pub struct FileSource {
    cfg: FileSourceConfig,
    excludes: Vec<glob::Pattern>,
    limits: Limits,
    known: HashMap<Fingerprint, FilePosition>,
    last_seen: HashMap<Fingerprint, Instant>,
    watched: Vec<Watched>,
    done_gz: HashMap<DevIno, (u64, Fingerprint)>,
    failed: HashMap<DevIno, (u64, Option<SystemTime>)>,
    missing_reported: HashSet<String>,
    problems: Vec<SourceError>,
    scratch: Vec<u8>,
    last_scan: Option<Instant>,
    /// Expand the patterns at the next poll, whatever the interval (after a truncation).
    rescan: bool,
    stats: FileStats,
    rereader: Rereader,
    /// Files waiting for an open slot, oldest first.
    queue: VecDeque<Queued>,
    /// Files closed at their end, by device and inode.
    parked: HashMap<DevIno, Parked>,
}

impl std::fmt::Debug for FileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSource")
            .field("include", &self.cfg.include)
            .field("follow", &self.cfg.follow)
            .field("open_files", &self.watched.len())
            .field("waiting", &self.queue.len())
            .field("parked", &self.parked.len())
            .field("known", &self.known.len())
            .finish()
    }
}

pub(crate) fn is_pattern(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// The regular files a glob pattern matches now (symbolic links to files only with
/// `follow_symlinks`, as the source reads them), for a caller that checks its inputs before
/// a run: a source that reads once ends at once on a pattern that matches nothing.
pub fn matching_files(pattern: &str, follow_symlinks: bool) -> Result<Vec<PathBuf>, SourceError> {
    let paths = glob::glob(pattern).map_err(|source| SourceError::Pattern {
        pattern: pattern.to_string(),
        source,
    })?;
    Ok(paths
        .filter_map(Result::ok)
        .filter(|p| {
            let meta = if follow_symlinks {
                fs::metadata(p)
            } else {
                fs::symlink_metadata(p)
            };
            meta.is_ok_and(|m| m.is_file())
        })
        .collect())
}

/// Checks `cfg.include` and compiles `cfg.exclude`.
pub(crate) fn compile_patterns(cfg: &FileSourceConfig) -> Result<Vec<glob::Pattern>, SourceError> {
    for p in &cfg.include {
        glob::Pattern::new(p).map_err(|source| SourceError::Pattern {
            pattern: p.clone(),
            source,
        })?;
    }
    cfg.exclude
        .iter()
        .map(|p| {
            glob::Pattern::new(p).map_err(|source| SourceError::Pattern {
                pattern: p.clone(),
                source,
            })
        })
        .collect()
}

/// Whether a file is read as gzip: by its name, or by the magic bytes (a rotated file
/// compressed under a name without `.gz`).
pub(crate) fn is_gzip(path: &Path, file: &File) -> bool {
    let mut magic = [0u8; 2];
    path.extension().is_some_and(|e| e == "gz")
        || matches!(file.read_at(&mut magic, 0), Ok(2) if magic == [0x1f, 0x8b])
}

impl FileSource {
    /// A source over `cfg.include`, starting from `checkpoint` (use
    /// [`Checkpoint::new`] for a first start). Fails on invalid patterns or limits.
    pub fn new(cfg: FileSourceConfig, checkpoint: &Checkpoint) -> Result<FileSource, SourceError> {
        let excludes = compile_patterns(&cfg)?;
        if cfg.max_batch_lines == 0
            || cfg.max_batch_bytes == 0
            || cfg.max_line_bytes == 0
            || cfg.max_open_files == 0
        {
            return Err(SourceError::Config(
                "max_batch_lines, max_batch_bytes, max_line_bytes and max_open_files must be positive".into(),
            ));
        }
        let now = Instant::now();
        Ok(FileSource {
            limits: cfg.limits(),
            rereader: Rereader::with_excludes(&cfg, excludes.clone()),
            excludes,
            known: checkpoint.files.clone().into_iter().collect(),
            last_seen: checkpoint.files.keys().map(|k| (*k, now)).collect(),
            watched: Vec::new(),
            done_gz: HashMap::new(),
            failed: HashMap::new(),
            missing_reported: HashSet::new(),
            problems: Vec::new(),
            scratch: Vec::new(),
            last_scan: None,
            rescan: false,
            stats: FileStats::default(),
            queue: VecDeque::new(),
            parked: HashMap::new(),
            cfg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &FileSourceConfig {
        &self.cfg
    }

    /// Counters.
    pub fn stats(&self) -> FileStats {
        let mut s = self.stats.clone();
        s.headers_skipped += self
            .watched
            .iter()
            .map(|w| w.split.headers_skipped)
            .sum::<u64>();
        s
    }

    /// The open files.
    pub fn watched_files(&self) -> Vec<WatchedFile> {
        self.watched
            .iter()
            .filter(|w| !w.closed)
            .map(|w| WatchedFile {
                path: w.path.clone(),
                fingerprint: w.fp,
                offset: w.offset,
                rotated_away: w.gone,
                compressed: w.gz,
            })
            .collect()
    }

    /// Bytes on disk not yet delivered, over the open plain files, as of the last look at
    /// their sizes: how far the source is behind its input. Compressed files are left out
    /// (their offsets count content, not bytes on disk), and so are files waiting for one of
    /// `max_open_files` (their positions are known only once they are opened).
    pub fn lag_bytes(&self) -> u64 {
        self.watched
            .iter()
            .filter(|w| !w.closed && !w.gz)
            .map(|w| w.size.saturating_sub(w.offset))
            .sum()
    }

    /// Positions of everything delivered so far (the checkpoint the source started from,
    /// advanced by every batch returned). This is *not* what is durable: persist what the
    /// consumer has processed, with [`Checkpoint::apply`].
    pub fn delivered(&self) -> Checkpoint {
        Checkpoint {
            files: self.known.iter().map(|(k, v)| (*k, v.clone())).collect(),
            ..Checkpoint::default()
        }
    }

    /// Removes from `checkpoint` (and from the source's memory) the files that have not
    /// been seen under the patterns for `older_than` and are not open. Files that vanish for
    /// good (deleted rotations) would otherwise stay in the checkpoint forever. Choose
    /// `older_than` well above the glob interval; a pruned file that comes back is read
    /// again from its start.
    pub fn prune_checkpoint(&mut self, checkpoint: &mut Checkpoint, older_than: Duration) -> usize {
        let open: HashSet<Fingerprint> = self
            .watched
            .iter()
            .filter_map(|w| w.fp)
            .chain(self.parked.values().filter_map(|p| p.fp))
            .collect();
        let last_seen = &self.last_seen;
        let keep = |fp: &Fingerprint| {
            open.contains(fp) || last_seen.get(fp).is_none_or(|t| t.elapsed() < older_than)
        };
        let gone: HashSet<Fingerprint> = checkpoint
            .files
            .keys()
            .chain(self.known.keys())
            .filter(|fp| !keep(fp))
            .copied()
            .collect();
        let before = checkpoint.len();
        checkpoint.retain(|fp, _| !gone.contains(fp));
        self.known.retain(|fp, _| !gone.contains(fp));
        self.last_seen.retain(|fp, _| !gone.contains(fp));
        before - checkpoint.len()
    }

    /// Reads the lines of `extent` again, from the file that has its content now, wherever
    /// rotation has moved it; see [`Rereader::reread`], which this delegates to. The source's
    /// own reading and positions are not touched, so recovery can re-run the recorded batches
    /// of an epoch with this source and then go on polling it.
    pub fn reread(&mut self, extent: &FileExtent) -> Result<Batch, SourceError> {
        self.rereader.reread(extent)
    }

    /// Problems met since the last call (unreadable files, truncations, bad `.gz`). They
    /// do not stop the source.
    pub fn take_problems(&mut self) -> Vec<SourceError> {
        std::mem::take(&mut self.problems)
    }

    /// Waits up to `timeout` for the next batch. [`Poll::End`] only without `follow`, once
    /// every file has been read.
    pub fn poll(&mut self, timeout: Duration) -> Poll {
        // Recovery re-reads before the first poll; its decoders are not needed after it.
        self.rereader.release_files();
        let deadline = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            let scan_due = match self.last_scan {
                None => true,
                Some(t) => {
                    self.cfg.follow
                        && (self.rescan
                            || now.duration_since(t)
                                >= Duration::from_millis(self.cfg.glob_interval_ms))
                }
            };
            if scan_due {
                self.scan();
            }
            match self.step() {
                Step::Batch(b) => return Poll::Batch(b),
                Step::Progress => {
                    if self.cfg.follow && Instant::now() >= deadline {
                        return Poll::Idle;
                    }
                    continue;
                }
                Step::Nothing => {}
            }
            if !self.cfg.follow && self.queue.is_empty() {
                // Every file at its end made progress (closed); nothing left means done. Files
                // still waiting for an owner that will not finish cannot be read.
                for w in self.watched.iter_mut().filter(|w| !w.closed) {
                    w.closed = true;
                    self.stats.files_closed += 1;
                }
                self.watched.clear();
                return Poll::End;
            }
            let now = Instant::now();
            if now >= deadline {
                return Poll::Idle;
            }
            let nap = Duration::from_millis(self.cfg.poll_interval_ms.max(1)).min(deadline - now);
            std::thread::sleep(nap);
        }
    }

    /// Records a problem found while expanding the patterns, once per path (they would
    /// otherwise repeat at every expansion).
    fn report_once(&mut self, e: SourceError) {
        let key = match &e {
            SourceError::Open { path, .. } => path.to_string_lossy().into_owned(),
            other => other.to_string(),
        };
        if self.missing_reported.insert(key) {
            self.problems.push(e);
        }
    }

    fn excluded(&self, p: &Path) -> bool {
        self.excludes.iter().any(|e| e.matches_path(p))
    }

    fn scan(&mut self) {
        self.rescan = false;
        let now = Instant::now();
        let first = self.last_scan.is_none();
        self.last_scan = Some(now);
        let mut found: Vec<(PathBuf, Metadata)> = Vec::new();
        // A directory or file that could not be looked at (out of descriptors, no
        // permission) says nothing about the files in it: none of them is taken as gone.
        let mut incomplete = false;
        let include = self.cfg.include.clone();
        for pat in &include {
            let before = found.len();
            if is_pattern(pat) {
                let Ok(paths) = glob::glob(pat) else { continue };
                for entry in paths {
                    match entry {
                        Ok(p) => match self.look(&p) {
                            Ok(Some(m)) => found.push((p, m)),
                            Ok(None) => {}
                            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                            Err(source) => {
                                incomplete = true;
                                self.problems.push(SourceError::Open { path: p, source })
                            }
                        },
                        Err(e) => {
                            incomplete = true;
                            let path = e.path().to_path_buf();
                            self.report_once(SourceError::Open {
                                path,
                                source: e.into(),
                            })
                        }
                    }
                }
            } else {
                let p = PathBuf::from(pat);
                match self.look(&p) {
                    Ok(Some(m)) => found.push((p, m)),
                    Ok(None) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        if !self.cfg.follow && self.missing_reported.insert(pat.clone()) {
                            self.problems.push(SourceError::NotFound { path: p });
                        }
                    }
                    Err(source) => {
                        incomplete = true;
                        self.report_once(SourceError::Open { path: p, source })
                    }
                }
            }
            // Following a path that does not exist yet is right (the server creates it
            // later), but a typo would otherwise wait in silence.
            if first && self.cfg.follow && found.len() == before {
                self.report_once(SourceError::NoMatchYet {
                    pattern: pat.clone(),
                });
            }
        }
        let mut seen_ids: HashSet<DevIno> = HashSet::new();
        let mut candidates = Vec::new();
        let queued: HashMap<DevIno, usize> = self
            .queue
            .iter()
            .enumerate()
            .map(|(i, q)| (q.id, i))
            .collect();
        for (p, m) in found {
            if !m.is_file() || self.excluded(&p) {
                continue;
            }
            let id = (m.dev(), m.ino());
            if !seen_ids.insert(id) {
                continue;
            }
            if let Some(w) = self.watched.iter_mut().find(|w| w.id == id && !w.closed) {
                if w.path != p {
                    w.path = p;
                }
                w.gone = false;
                w.mtime = m.modified().ok();
                if let Some(fp) = w.fp {
                    self.last_seen.insert(fp, now);
                }
                continue;
            }
            if let Some(&i) = queued.get(&id) {
                let q = &mut self.queue[i];
                q.path = p;
                (q.size, q.mtime) = (m.len(), m.modified().ok());
                continue;
            }
            if let Some(pk) = self.parked.get_mut(&id) {
                if pk.len == m.len() && pk.mtime == m.modified().ok() {
                    pk.path = p;
                    if let Some(fp) = pk.fp {
                        self.last_seen.insert(fp, now);
                    }
                    continue;
                }
                // Written (or truncated) since it was closed: read it again.
                self.parked.remove(&id);
            }
            if let Some(&(size, fp)) = self.done_gz.get(&id) {
                if size == m.len() {
                    self.last_seen.insert(fp, now);
                    continue;
                }
                self.done_gz.remove(&id);
            }
            if let Some(&(size, mtime)) = self.failed.get(&id) {
                if size == m.len() && mtime == m.modified().ok() {
                    continue;
                }
                self.failed.remove(&id);
            }
            candidates.push((p, m, id));
        }
        if incomplete {
            // Keep what is known of the files not seen: the next expansion decides.
            seen_ids.extend(self.watched.iter().map(|w| w.id));
            seen_ids.extend(self.done_gz.keys());
            seen_ids.extend(self.failed.keys());
            seen_ids.extend(self.parked.keys());
            seen_ids.extend(self.queue.iter().map(|q| q.id));
        }
        for w in self.watched.iter_mut() {
            if !seen_ids.contains(&w.id) {
                w.gone = true;
            }
        }
        // Forget finished and failed files that are no longer there.
        self.done_gz.retain(|id, _| seen_ids.contains(id));
        self.failed.retain(|id, _| seen_ids.contains(id));
        // A closed or waiting file that went away cannot be read to its end any more (an
        // open one could, on its handle): say so.
        let mut unread = Vec::new();
        self.parked.retain(|id, pk| {
            let keep = seen_ids.contains(id);
            if !keep && pk.unread > 0 {
                unread.push((pk.path.clone(), pk.unread));
            }
            keep
        });
        self.queue.retain(|q| {
            let keep = seen_ids.contains(&q.id);
            if !keep {
                unread.push((q.path.clone(), q.size));
            }
            keep
        });
        for (path, bytes) in unread {
            self.problems.push(SourceError::Unread { path, bytes });
        }
        self.queue
            .extend(candidates.into_iter().map(|(path, m, id)| Queued {
                path,
                id,
                size: m.len(),
                mtime: m.modified().ok(),
                startup_size: first.then_some(m.len()),
            }));
        self.queue
            .make_contiguous()
            .sort_by(|a, b| (a.mtime, &a.path).cmp(&(b.mtime, &b.path)));
        // Scanned: files resolved as new identities may be read now.
        for w in &mut self.watched {
            w.wait_scan = false;
        }
    }

    /// The metadata of the file at `p` for the scan; `None` for a symbolic link that is not
    /// to be followed (reported once).
    fn look(&mut self, p: &Path) -> io::Result<Option<Metadata>> {
        let m = fs::symlink_metadata(p)?;
        if !m.file_type().is_symlink() {
            return Ok(Some(m));
        }
        if self.cfg.follow_symlinks {
            return fs::metadata(p).map(Some);
        }
        if self
            .missing_reported
            .insert(format!("symlink {}", p.display()))
        {
            self.stats.symlinks_skipped += 1;
            self.problems.push(SourceError::Symlink {
                path: p.to_path_buf(),
            });
        }
        Ok(None)
    }

    /// Opens waiting files while there are free slots, oldest first.
    fn fill(&mut self) {
        let cap = self.cfg.max_open_files;
        while self.watched.iter().filter(|w| !w.closed).count() < cap && !self.queue.is_empty() {
            let Some(q) = self.queue.pop_front() else {
                break;
            };
            if !self.adopt(q) {
                break;
            }
        }
    }

    /// With files waiting and no free slot, closes open files at their end to make room
    /// (see the module documentation for which).
    fn evict(&mut self) {
        let open = self.watched.iter().filter(|w| !w.closed).count();
        if self.queue.is_empty() || !self.cfg.follow || open < self.cfg.max_open_files {
            return;
        }
        let live = Duration::from_millis(self.cfg.rotate_wait_ms);
        let all_at_end = self.watched.iter().all(|w| w.closed || w.at_end);
        let mut idx: Vec<(bool, bool, Option<SystemTime>, usize)> = self
            .watched
            .iter()
            .enumerate()
            .filter(|(_, w)| !w.closed && w.at_end && !w.gz && !w.gone)
            .map(|(i, w)| {
                let growing = w.grew_at.is_some_and(|t| t.elapsed() < live);
                (growing, w.offset < w.seen_len, w.mtime, i)
            })
            .collect();
        // A file being written is closed only when every open file is: the cap is then full
        // of them, and the waiting files must still get their turn.
        if idx.iter().any(|&(growing, ..)| !growing) || !all_at_end {
            idx.retain(|&(growing, ..)| !growing);
        }
        idx.sort();
        for (_, _, _, i) in idx.into_iter().take(self.queue.len()) {
            // Looked at now: a change after this look opens the file again.
            let mtime = self.watched[i]
                .file
                .metadata()
                .and_then(|m| m.modified())
                .ok();
            self.park(i, mtime);
        }
    }

    fn park(&mut self, i: usize, mtime: Option<SystemTime>) {
        let w = &mut self.watched[i];
        self.parked.insert(
            w.id,
            Parked {
                path: w.path.clone(),
                len: w.seen_len,
                mtime,
                fp: w.fp,
                unread: w.seen_len.saturating_sub(w.offset),
            },
        );
        w.closed = true;
        self.stats.files_closed += 1;
        self.stats.files_parked += 1;
    }

    /// Opens a waiting file. False when no more files can be opened now (the process is
    /// out of file descriptors): the file waits again.
    fn adopt(&mut self, q: Queued) -> bool {
        let Queued {
            path,
            id,
            size,
            mtime,
            startup_size,
        } = q;
        let file = match File::open(&path) {
            Ok(f) => f,
            // Out of descriptors (EMFILE, ENFILE): a passing shortage, not a bad file.
            Err(e) if matches!(e.raw_os_error(), Some(23 | 24)) => {
                self.report_once(SourceError::Open {
                    path: path.clone(),
                    source: e,
                });
                self.queue.push_front(Queued {
                    path,
                    id,
                    size,
                    mtime,
                    startup_size,
                });
                return false;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !self.cfg.follow {
                    self.problems
                        .push(SourceError::Unread { path, bytes: size });
                    return true;
                }
                // Moved since the scan (the next one finds it where it is) or deleted (the
                // next one reports it): it waits for that scan, which comes at once.
                self.rescan = true;
                self.queue.push_front(Queued {
                    path,
                    id,
                    size,
                    mtime,
                    startup_size,
                });
                return false;
            }
            Err(source) => {
                self.failed.insert(id, (size, mtime));
                self.problems.push(SourceError::Open { path, source });
                return true;
            }
        };
        // The handle must be the file the scan looked at: a path replaced meanwhile (by
        // another file, or by a symbolic link) is looked at again by the next scan.
        match file.metadata() {
            Ok(m) if (m.dev(), m.ino()) == id => {}
            _ => {
                self.rescan = true;
                return true;
            }
        }
        let gz = is_gzip(&path, &file);
        let mut split = Splitter::new();
        split.header = self
            .cfg
            .header_prefix
            .as_ref()
            .map(|h| h.as_bytes().to_vec());
        self.stats.files_opened += 1;
        self.watched.push(Watched {
            path,
            id,
            file: Arc::new(file),
            gz,
            decoder: None,
            fp: None,
            replaces: None,
            offset: 0,
            read_pos: 0,
            split,
            gone: false,
            startup_size,
            last_data: Instant::now(),
            size,
            closed: false,
            at_end: false,
            seen_len: 0,
            grew_at: None,
            wait_scan: false,
            mtime,
        });
        true
    }

    /// One unit of work on some file: a batch, a state change, or nothing to do.
    fn step(&mut self) -> Step {
        self.evict();
        for w in self.watched.iter().filter(|w| w.closed) {
            self.stats.headers_skipped += w.split.headers_skipped;
        }
        self.watched.retain(|w| !w.closed);
        self.fill();
        let n = self.watched.len();
        if n == 0 {
            return Step::Nothing;
        }
        let order: Vec<usize> = if self.cfg.follow {
            // Oldest first: files rotated away, then by modification time. Under a backlog
            // (a restart, a burst) the rotated files' older lines come before the live file's
            // newer ones, so event time moves forward instead of jumping between files and
            // pushing the older lines past the allowed lateness. A file at its end yields
            // nothing and the next one is read, so newer files wait only for real backlog.
            let mut idx: Vec<(bool, Option<SystemTime>, usize)> = self
                .watched
                .iter()
                .enumerate()
                // Modification times as of the last expansion of the patterns (a second
                // old at most): a look at every open file for every batch would cost more
                // than the reading when many files are open.
                .map(|(i, w)| (!w.gone, w.mtime, i))
                .collect();
            idx.sort();
            idx.into_iter().map(|(_, _, i)| i).collect()
        } else {
            // One file after the other, oldest first.
            (0..n).collect()
        };
        for i in order {
            // Once an expansion is due, files are only given identities until it has run:
            // it may find older files (a copytruncate's copy) to read first.
            if self.cfg.follow && self.rescan && self.watched[i].fp.is_some() {
                continue;
            }
            match self.step_one(i) {
                Step::Batch(b) => return Step::Batch(b),
                Step::Progress => return Step::Progress,
                Step::Nothing => {}
            }
        }
        if self.cfg.follow && self.rescan {
            // Files resolved as new identities wait for an expansion: have it now.
            return Step::Progress;
        }
        Step::Nothing
    }

    /// Whether content with this identity was read before (a parked file opened again).
    fn known_before(&self, fp: Fingerprint) -> bool {
        self.known.contains_key(&fp)
    }

    /// Whether file `i`, at its end, is finished: non-follow mode, or rotated away and idle.
    fn finishing(&self, i: usize) -> bool {
        let w = &self.watched[i];
        !self.cfg.follow
            || (w.gone && w.last_data.elapsed() >= Duration::from_millis(self.cfg.rotate_wait_ms))
    }

    fn head(w: &Watched) -> io::Result<(Vec<u8>, bool)> {
        let mut head = vec![0u8; FINGERPRINT_BYTES];
        let (n, end) = if w.gz {
            let mut r = gz_reader(&w.file);
            read_full(&mut r, &mut head)?
        } else {
            let n = w.file.read_at(&mut head, 0)?;
            let mut n = n;
            // read_at may return short reads; complete them.
            while n < FINGERPRINT_BYTES {
                match w.file.read_at(&mut head[n..], n as u64)? {
                    0 => break,
                    k => n += k,
                }
            }
            (n, false)
        };
        head.truncate(n);
        Ok((head, end))
    }

    /// Gives file `i` its identity and start position.
    fn resolve(&mut self, i: usize, final_: bool) -> Resolve {
        let (head, gz_end) = match Self::head(&self.watched[i]) {
            Ok(h) => h,
            Err(source) => {
                let w = &self.watched[i];
                if w.gz {
                    // An incomplete .gz: wait until it changes.
                    self.fail(
                        i,
                        SourceError::Gzip {
                            path: w.path.clone(),
                            offset: 0,
                            source,
                        },
                    );
                } else {
                    self.fail(
                        i,
                        SourceError::Read {
                            path: w.path.clone(),
                            offset: 0,
                            source,
                        },
                    );
                }
                return Resolve::Closed;
            }
        };
        let w = &self.watched[i];
        let Some(fp) = Fingerprint::from_head(&head, final_ || (w.gz && gz_end)) else {
            if w.gz && gz_end {
                // An empty .gz: look again only if it changes.
                let (id, size) = (w.id, w.size);
                self.failed.insert(
                    id,
                    (size, w.file.metadata().ok().and_then(|m| m.modified().ok())),
                );
                self.watched[i].closed = true;
                self.stats.files_closed += 1;
                return Resolve::Closed;
            }
            // Too short for an identity: all of it is in `head`.
            self.watched[i].seen_len = head.len() as u64;
            return Resolve::NotYet;
        };
        let alt = if fp.is_head() {
            Fingerprint::first_line(&head)
        } else {
            None
        };
        let owned = self.watched.iter().enumerate().any(|(j, o)| {
            j != i && !o.closed && o.fp.is_some() && (o.fp == Some(fp) || o.fp == alt)
        });
        if owned {
            return Resolve::Deferred;
        }
        let size = w.file.metadata().map(|m| m.len()).unwrap_or(w.size);
        let (offset, replaces, known) = if let Some(p) = self.known.get(&fp) {
            (p.offset, None, Some(p.clone()))
        } else if let Some(p) = alt.and_then(|a| self.known.get(&a)) {
            (p.offset, alt, Some(p.clone()))
        } else {
            let off = match w.startup_size {
                Some(at_start) if self.cfg.start_at == StartAt::End && !w.gz => {
                    last_line_end(&w.file, at_start.min(size)).unwrap_or(0)
                }
                _ => 0,
            };
            (off, None, None)
        };
        let w = &mut self.watched[i];
        w.size = size;
        self.last_seen.insert(fp, Instant::now());
        if w.gz {
            if let Some(p) = &known {
                if p.complete && p.compressed && p.size == size {
                    // Already read to its end before: nothing to do.
                    self.stats.gz_skipped += 1;
                    self.done_gz.insert(w.id, (size, fp));
                    w.closed = true;
                    self.stats.files_closed += 1;
                    return Resolve::Closed;
                }
            }
        }
        let mut offset = offset;
        if !w.gz && offset > size {
            // Shorter than what was read: truncated while we were away.
            self.problems.push(SourceError::Truncated {
                path: w.path.clone(),
                offset,
            });
            self.stats.truncations += 1;
            offset = 0;
        }
        w.fp = Some(fp);
        w.replaces = replaces;
        w.offset = offset;
        w.read_pos = offset;
        w.decoder = None;
        w.split.clear();
        if offset != 0 {
            w.split.header = None;
        }
        Resolve::Resolved
    }

    /// Records a problem with file `i` and closes it; it is tried again when it changes.
    fn fail(&mut self, i: usize, e: SourceError) {
        let w = &mut self.watched[i];
        let (size, mtime) = match w.file.metadata() {
            Ok(m) => (m.len(), m.modified().ok()),
            Err(_) => (w.size, None),
        };
        self.failed.insert(w.id, (size, mtime));
        w.closed = true;
        self.stats.files_closed += 1;
        self.problems.push(e);
    }

    /// Checks that the file still starts with the content it was identified by.
    fn check_identity(w: &mut Watched) -> io::Result<bool> {
        let Some(fp) = w.fp else { return Ok(true) };
        let (head, _) = Self::head(w)?;
        match fp {
            Fingerprint::Head(_) => Ok(Fingerprint::from_head(&head, false) == Some(fp)),
            Fingerprint::FirstLine(_) => {
                // A short file without `\n` read at its end was identified by its whole
                // content.
                let now =
                    Fingerprint::first_line(&head).or_else(|| Fingerprint::from_head(&head, true));
                if now != Some(fp) {
                    return Ok(false);
                }
                if head.len() >= FINGERPRINT_BYTES {
                    // Long enough now: upgrade the identity.
                    w.fp = Fingerprint::from_head(&head, false);
                    if w.replaces.is_none() {
                        w.replaces = Some(fp);
                    }
                }
                Ok(true)
            }
        }
    }

    fn read_more(&mut self, i: usize) -> ReadOutcome {
        let want = self
            .limits
            .max_batch_bytes
            .saturating_sub(self.watched[i].split.pending())
            .clamp(64 * 1024, 4 << 20);
        if self.scratch.len() < want {
            self.scratch.resize(want, 0);
        }
        let w = &mut self.watched[i];
        let buf = &mut self.scratch[..want];
        if w.gz {
            if w.decoder.is_none() {
                let mut d = Box::new(gz_reader(&w.file));
                match io::copy(&mut (&mut d).take(w.read_pos), &mut io::sink()) {
                    Ok(k) if k == w.read_pos => {}
                    Ok(k) => {
                        // Shorter than the saved position: nothing more to read.
                        w.read_pos = k;
                        w.offset = w.offset.min(k);
                    }
                    Err(source) => {
                        return ReadOutcome::Failed(SourceError::Gzip {
                            path: w.path.clone(),
                            offset: w.read_pos,
                            source,
                        })
                    }
                }
                w.decoder = Some(d);
            }
            let d = w.decoder.as_mut().expect("just set");
            return match d.read(buf) {
                Ok(0) => ReadOutcome::Eof,
                Ok(n) => {
                    w.split.push(&buf[..n]);
                    w.read_pos += n as u64;
                    w.last_data = Instant::now();
                    ReadOutcome::Data
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => ReadOutcome::Data,
                Err(source) => ReadOutcome::Failed(SourceError::Gzip {
                    path: w.path.clone(),
                    offset: w.read_pos,
                    source,
                }),
            };
        }
        match w.file.read_at(buf, w.read_pos) {
            Ok(0) => match w.file.metadata() {
                Ok(m) => {
                    w.size = m.len();
                    if m.len() < w.read_pos {
                        ReadOutcome::Truncated
                    } else {
                        ReadOutcome::Eof
                    }
                }
                Err(source) => ReadOutcome::Failed(SourceError::Read {
                    path: w.path.clone(),
                    offset: w.read_pos,
                    source,
                }),
            },
            Ok(n) => {
                // Read first, then check identity: if the file was truncated and written
                // again before or during the read, the head has changed and the bytes are
                // thrown away.
                match Self::check_identity(w) {
                    Ok(true) => {}
                    Ok(false) => return ReadOutcome::Truncated,
                    Err(source) => {
                        return ReadOutcome::Failed(SourceError::Read {
                            path: w.path.clone(),
                            offset: 0,
                            source,
                        })
                    }
                }
                w.split.push(&buf[..n]);
                w.read_pos += n as u64;
                w.size = w.size.max(w.read_pos);
                w.last_data = Instant::now();
                ReadOutcome::Data
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => ReadOutcome::Data,
            Err(source) => ReadOutcome::Failed(SourceError::Read {
                path: w.path.clone(),
                offset: w.read_pos,
                source,
            }),
        }
    }

    fn truncated(&mut self, i: usize) {
        // copytruncate copies before it truncates: look for the copy now, so the old
        // content's tail (read from the copy) comes before the new content at the path.
        self.rescan = true;
        let w = &mut self.watched[i];
        self.problems.push(SourceError::Truncated {
            path: w.path.clone(),
            offset: w.offset,
        });
        self.stats.truncations += 1;
        w.fp = None;
        w.replaces = None;
        w.offset = 0;
        w.read_pos = 0;
        w.split.clear();
        w.split.header = self
            .cfg
            .header_prefix
            .as_ref()
            .map(|h| h.as_bytes().to_vec());
        w.startup_size = None;
        w.last_data = Instant::now();
    }

    fn step_one(&mut self, i: usize) -> Step {
        if self.watched[i].closed || self.watched[i].wait_scan {
            return Step::Nothing;
        }
        if self.watched[i].fp.is_none() {
            let final_ = if self.watched[i].gz {
                false
            } else {
                // The whole content serves as the first line only when it will not grow.
                let at_end = self.watched[i]
                    .file
                    .metadata()
                    .is_ok_and(|m| m.len() < FINGERPRINT_BYTES as u64);
                at_end && self.finishing(i)
            };
            match self.resolve(i, final_) {
                // A new identity at a followed path may be a copytruncate's new content
                // whose copy (the older lines) appeared since the last expansion, or any
                // file created meanwhile. Expand the patterns before reading it, so older
                // files found now are read first.
                // A file found again by a known identity (a parked file opened again) goes
                // on at once. The other files are resolved in the same pass, so one
                // expansion serves them all.
                Resolve::Resolved
                    if self.cfg.follow
                        && !self.watched[i].gone
                        && !self.watched[i].fp.is_some_and(|fp| self.known_before(fp)) =>
                {
                    self.rescan = true;
                    self.watched[i].wait_scan = true;
                    return Step::Nothing;
                }
                Resolve::Resolved => {}
                Resolve::Closed => return Step::Progress,
                Resolve::Deferred => return Step::Nothing,
                Resolve::NotYet => {
                    self.watched[i].at_end = true;
                    if self.finishing(i) {
                        // No identity and none will come (an empty file): close it.
                        self.watched[i].closed = true;
                        self.stats.files_closed += 1;
                        return Step::Progress;
                    }
                    return Step::Nothing;
                }
            }
        }
        let fp = self.watched[i].fp.expect("resolved");
        let origin = Origin::File {
            path: self.watched[i].path.clone(),
            fingerprint: fp,
        };
        let mut batch = Batch::new(origin);
        let start = self.watched[i].offset;
        let lim = self.limits;
        let mut consumed = self.watched[i].split.take_lines(&mut batch, &lim);
        let mut close = false;
        let mut complete = false;
        let mut reads = 0;
        // Bytes read that gave no line yet (the skipped tail of an over-long line) are
        // progress all the same: without it, four such reads looked like "nothing to read",
        // which ends a bounded source and lost the line.
        let mut read_any = false;
        while batch.len() < lim.max_batch_lines
            && batch.bytes() < lim.max_batch_bytes
            && !self.watched[i].split.has_line()
            && reads < 4
        {
            reads += 1;
            match self.read_more(i) {
                ReadOutcome::Data => {
                    read_any = true;
                    let w = &mut self.watched[i];
                    if w.at_end {
                        w.grew_at = Some(Instant::now());
                        w.at_end = false;
                    }
                    consumed += self.watched[i].split.take_lines(&mut batch, &lim);
                }
                ReadOutcome::Eof => {
                    let w = &mut self.watched[i];
                    w.at_end = true;
                    w.seen_len = w.read_pos;
                    if w.gz || self.finishing(i) {
                        consumed += self.watched[i].split.take_rest(&mut batch, &lim);
                        close = true;
                        complete = self.watched[i].gz;
                    }
                    break;
                }
                ReadOutcome::Truncated => {
                    if batch.is_empty() && consumed == 0 {
                        self.truncated(i);
                        return Step::Progress;
                    }
                    // Deliver what was taken before; the truncation is seen again next time.
                    break;
                }
                ReadOutcome::Failed(e) => {
                    let w = &mut self.watched[i];
                    if w.gz {
                        // Deliver the complete lines decoded before the error; the rest
                        // is tried again when the file changes.
                        consumed += w.split.take_lines(&mut batch, &lim);
                        w.split.clear();
                    }
                    self.fail(i, e);
                    break;
                }
            }
        }
        let fp = self.watched[i].fp.unwrap_or(fp);
        let w = &mut self.watched[i];
        w.offset += consumed;
        let had_replaces = w.replaces.is_some();
        if batch.is_empty() && consumed == 0 && !had_replaces && !close {
            if w.closed || read_any {
                return Step::Progress;
            }
            return Step::Nothing;
        }
        let position = FilePosition {
            offset: w.offset,
            path: w.path.clone(),
            size: if w.gz { w.size } else { w.size.max(w.offset) },
            compressed: w.gz,
            complete,
        };
        let replaces = w.replaces.take();
        if let Some(r) = replaces {
            self.known.remove(&r);
            self.last_seen.remove(&r);
        }
        self.known.insert(fp, position.clone());
        self.last_seen.insert(fp, Instant::now());
        batch.set_offsets(start, w.offset);
        batch.push_position(PositionUpdate {
            fingerprint: fp,
            position,
            replaces,
        });
        batch.set_origin(Origin::File {
            path: w.path.clone(),
            fingerprint: fp,
        });
        self.stats.lines += batch.len() as u64;
        self.stats.truncated_lines += batch.truncated().len() as u64;
        if close && !w.closed {
            w.closed = true;
            self.stats.files_closed += 1;
            if complete {
                self.done_gz.insert(w.id, (w.size, fp));
            }
        }
        Step::Batch(batch)
    }
}

/// Offset after the last `\n` of the first `size` bytes of a file (0 if none).
fn last_line_end(file: &File, size: u64) -> io::Result<u64> {
    let mut end = size;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let len = (end - start) as usize;
        let n = file.read_at(&mut buf[..len], start)?;
        if let Some(i) = memchr::memrchr(b'\n', &buf[..n]) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

impl Source for FileSource {
    fn poll(&mut self, timeout: Duration) -> Poll {
        FileSource::poll(self, timeout)
    }

    fn take_problems(&mut self) -> Vec<SourceError> {
        FileSource::take_problems(self)
    }
}
