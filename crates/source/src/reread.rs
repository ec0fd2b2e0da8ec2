//! Reading a recorded [`FileExtent`] again, from wherever its file is now.
//!
//! A consumer that writes ahead which batches an epoch read must get exactly those lines
//! again after a crash. A path cannot say where they are: after a rename rotation
//! `access.log` is another file, after copytruncate the old content lives only in the copy,
//! and logrotate later compresses that. So the file is looked up by the fingerprint of its
//! content, in this order:
//!
//! 1. the path recorded in the extent (the file has usually not moved);
//! 2. files already seen under the patterns that had the fingerprint (recovery re-reads
//!    many extents of the same rotated file in a row);
//! 3. every file the include patterns match now, minus the excludes, `.gz` included (by the
//!    fingerprint of its decompressed content).
//!
//! What is known of each path (device, inode, size, mtime and the fingerprints its content
//! answers to) is kept and only computed again when the file's metadata changes, so a long
//! recovery costs a `stat` per candidate and per extent, not a fingerprint of every file.
//!
//! A file matches a [`Fingerprint::Head`] by its first [`FINGERPRINT_BYTES`] bytes and a
//! [`Fingerprint::FirstLine`] by its first line, also when it has grown past
//! [`FINGERPRINT_BYTES`] since (the live source has upgraded its identity, the extent kept
//! the old one). Bytes are only taken from a file whose content, checked on the handle that
//! is read, has the extent's fingerprint; of a plain file it is checked again after the
//! read, so a file truncated and rewritten meanwhile is not taken for the old one.
//!
//! The bytes `[start, end)` are split by the same line splitter and line limit as the live
//! reading, so lines come out the same: cut at `max_line_bytes` and marked truncated, the
//! `header_prefix` line skipped only when the extent starts at 0 (where the live reading
//! checked it), and a last line without `\n` at `end` delivered as a line, since the live
//! reading delivered it only at a file's end. A plain file is read with `pread` from
//! `start`; a `.gz` has to be decompressed from its start, but decoders are kept (a few, as
//! the live source reads several `.gz` in turns), so extents of a `.gz` re-read in the order
//! they were read decompress it once.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::batch::{Batch, FileExtent, Limits, Origin, Splitter};
use crate::error::SourceError;
use crate::file::{
    compile_patterns, gz_reader, is_gzip, is_pattern, read_full, DevIno, FileSourceConfig, GzReader,
};
use crate::fingerprint::{Fingerprint, FINGERPRINT_BYTES};

/// Bytes read at a time: large enough that a big extent costs few syscalls, small enough
/// that the buffer does not matter next to the batch.
const CHUNK: usize = 1 << 20;

/// Decoders kept open: the live source reads the `.gz` files it finds at once in turns, so
/// the extents of an epoch alternate between a few of them.
const GZ_CURSORS: usize = 8;

/// The fingerprints the live source can have given to content starting with `head`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Keys([Option<Fingerprint>; 3]);

impl Keys {
    fn of(head: &[u8]) -> Keys {
        // A short file without `\n` read at its end is known by its whole content.
        let whole = if head.len() < FINGERPRINT_BYTES {
            Fingerprint::from_head(head, true)
        } else {
            None
        };
        Keys([
            Fingerprint::from_head(head, false),
            // Recorded while the file was short; it may have grown past the head since.
            Fingerprint::first_line(head),
            whole,
        ])
    }

    fn matches(&self, fp: Fingerprint) -> bool {
        self.0.contains(&Some(fp))
    }
}

/// What is known of the file at a path, valid while its metadata is unchanged.
#[derive(Debug, Clone)]
struct Probe {
    id: DevIno,
    size: u64,
    mtime: Option<SystemTime>,
    gz: bool,
    keys: Keys,
}

/// A decoder left where the last extent of a `.gz` ended.
struct GzCursor {
    id: DevIno,
    size: u64,
    mtime: Option<SystemTime>,
    decoder: Box<GzReader>,
    /// The first decompressed bytes, checked against the fingerprint; they also serve an
    /// extent starting in them, which the decoder is already past.
    head: Vec<u8>,
    /// Decompressed offset of the decoder.
    pos: u64,
}

/// How often the expensive steps ran (for tests of the caching).
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    expansions: u64,
    gz_opened: u64,
}

/// Reads recorded [`FileExtent`]s again, finding each file by its fingerprint wherever
/// rotation has moved it; see the [module documentation](self).
///
/// Build one per recovery and use it for every extent: it keeps what it learns of the files
/// under the patterns and the last few `.gz` decoders between calls.
/// [`FileSource::reread`](crate::FileSource::reread) has one built in.
pub struct Rereader {
    include: Vec<String>,
    excludes: Vec<glob::Pattern>,
    follow_symlinks: bool,
    max_line_bytes: usize,
    header: Option<Vec<u8>>,
    probes: HashMap<PathBuf, Probe>,
    /// Decoders left by recent extents, least recently used first.
    gz: Vec<GzCursor>,
    buf: Vec<u8>,
    counts: Counts,
}

impl std::fmt::Debug for Rereader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rereader")
            .field("include", &self.include)
            .field("known_paths", &self.probes.len())
            .field("open_gz", &self.gz.len())
            .finish()
    }
}

/// Content lines of an extent as the live reading split them.
struct Collect {
    split: Splitter,
    batch: Batch,
    lim: Limits,
}

impl Collect {
    fn push(&mut self, data: &[u8]) {
        self.split.push(data);
        self.split.take_lines(&mut self.batch, &self.lim);
    }
}

/// Reads `buf.len()` bytes at `offset` unless the file ends first; returns the count.
fn pread_full(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], offset + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn plain_head(file: &File) -> io::Result<Vec<u8>> {
    let mut head = vec![0u8; FINGERPRINT_BYTES];
    let n = pread_full(file, &mut head, 0)?;
    head.truncate(n);
    Ok(head)
}

fn gz_head(file: &Arc<File>) -> io::Result<(Box<GzReader>, Vec<u8>)> {
    let mut decoder = Box::new(gz_reader(file));
    let mut head = vec![0u8; FINGERPRINT_BYTES];
    let (n, _) = read_full(&mut decoder, &mut head)?;
    head.truncate(n);
    Ok((decoder, head))
}

fn stat_of(m: &Metadata) -> (DevIno, u64, Option<SystemTime>) {
    ((m.dev(), m.ino()), m.len(), m.modified().ok())
}

impl Rereader {
    /// A rereader over the files `cfg` reads: its include and exclude patterns, its
    /// `max_line_bytes` and `header_prefix` (the other fields do not change which lines an
    /// extent holds). Use the configuration the extents were read with. Fails on invalid
    /// patterns or a zero line limit.
    pub fn new(cfg: &FileSourceConfig) -> Result<Rereader, SourceError> {
        let excludes = compile_patterns(cfg)?;
        if cfg.max_line_bytes == 0 {
            return Err(SourceError::Config(
                "max_line_bytes must be positive".into(),
            ));
        }
        Ok(Rereader::with_excludes(cfg, excludes))
    }

    /// For a [`FileSource`](crate::FileSource), which has checked `cfg` already.
    pub(crate) fn with_excludes(cfg: &FileSourceConfig, excludes: Vec<glob::Pattern>) -> Rereader {
        Rereader {
            include: cfg.include.clone(),
            excludes,
            follow_symlinks: cfg.follow_symlinks,
            max_line_bytes: cfg.max_line_bytes,
            header: cfg.header_prefix.as_ref().map(|h| h.as_bytes().to_vec()),
            probes: HashMap::new(),
            gz: Vec::new(),
            buf: Vec::new(),
            counts: Counts::default(),
        }
    }

    /// Closes the files kept between extents (the `.gz` decoders); the next extent of such
    /// a file decompresses it from its start again.
    pub fn release_files(&mut self) {
        self.gz.clear();
    }

    /// Reads the lines of `extent` again: content bytes `[start, end)` of the file whose
    /// content has `extent.fingerprint`, found at the recorded path or, failing that, under
    /// the patterns.
    ///
    /// The batch has the same lines and truncation marks as the one the extent was taken
    /// from, origin [`Origin::File`] with the path the file has *now* and the recorded
    /// fingerprint, offsets `start` and `end`, and no position updates: positions stay the
    /// caller's business. An empty extent (a batch that only carried positions) needs no
    /// file and gives an empty batch at the recorded path.
    ///
    /// Errors: [`SourceError::Gone`] when no file has the fingerprint any more;
    /// [`SourceError::Shrunk`] when it holds fewer bytes than `end`;
    /// [`SourceError::Changed`] when the range splits into another number of lines than
    /// `extent.lines`; [`SourceError::Open`], [`SourceError::Read`] or
    /// [`SourceError::Gzip`] when the file cannot be read. When several files have the
    /// fingerprint (a copy not yet truncated, a `.gz` being made of a rotated file), the
    /// first that yields the extent wins and otherwise the first failure is returned.
    pub fn reread(&mut self, extent: &FileExtent) -> Result<Batch, SourceError> {
        let fp = extent.fingerprint;
        if extent.start > extent.end {
            return Err(SourceError::Config(format!(
                "extent of `{}` (file {fp}) starts at {} after its end {}",
                extent.path.display(),
                extent.start,
                extent.end
            )));
        }
        if extent.start == extent.end {
            if extent.lines != 0 {
                return Err(SourceError::Changed {
                    path: extent.path.clone(),
                    fingerprint: fp,
                    expected: extent.lines,
                    found: 0,
                });
            }
            let mut b = Batch::new(Origin::File {
                path: extent.path.clone(),
                fingerprint: fp,
            });
            b.set_offsets(extent.start, extent.end);
            return Ok(b);
        }
        let mut tried: HashSet<DevIno> = HashSet::new();
        let mut failure = None;
        for round in 0..3 {
            let paths = match round {
                0 => vec![extent.path.clone()],
                1 => self.known_with(fp),
                _ => {
                    self.expand();
                    self.known_with(fp)
                }
            };
            for path in paths {
                let Some(probe) = self.probe(&path) else {
                    continue;
                };
                if !probe.keys.matches(fp) || !tried.insert(probe.id) {
                    continue;
                }
                match self.read_from(&path, probe.id, extent) {
                    Ok(Some(b)) => return Ok(b),
                    Ok(None) => {}
                    Err(e) => {
                        failure.get_or_insert(e);
                    }
                }
            }
        }
        Err(failure.unwrap_or_else(|| SourceError::Gone {
            path: extent.path.clone(),
            fingerprint: fp,
        }))
    }

    /// Paths last seen with content of fingerprint `fp`, plain files first: they are read
    /// from the middle with `pread`, and while logrotate writes the `.gz` of a rotated file
    /// the plain one is the complete copy.
    fn known_with(&self, fp: Fingerprint) -> Vec<PathBuf> {
        let mut v: Vec<(bool, &PathBuf)> = self
            .probes
            .iter()
            .filter(|(_, p)| p.keys.matches(fp))
            .map(|(path, p)| (p.gz, path))
            .collect();
        v.sort();
        v.into_iter().map(|(_, p)| p.clone()).collect()
    }

    /// Expands the patterns and probes every match; paths no longer matched are forgotten,
    /// so what is kept stays as big as the log directory.
    fn expand(&mut self) {
        self.counts.expansions += 1;
        let mut found: Vec<PathBuf> = Vec::new();
        for pat in &self.include {
            if is_pattern(pat) {
                if let Ok(paths) = glob::glob(pat) {
                    // Unreadable directories are the live source's to report.
                    found.extend(paths.flatten());
                }
            } else {
                found.push(PathBuf::from(pat));
            }
        }
        found.retain(|p| !self.excludes.iter().any(|e| e.matches_path(p)));
        let keep: HashSet<&PathBuf> = found.iter().collect();
        self.probes.retain(|p, _| keep.contains(p));
        for p in &found {
            self.probe(p);
        }
    }

    /// What the file at `path` is now; fingerprinted again only if its metadata changed.
    fn probe(&mut self, path: &Path) -> Option<Probe> {
        // A symbolic link is read only where the live source reads it.
        let look = if self.follow_symlinks {
            fs::metadata(path)
        } else {
            fs::symlink_metadata(path)
        };
        let m = match look {
            Ok(m) if m.is_file() => m,
            _ => {
                self.probes.remove(path);
                return None;
            }
        };
        let (id, size, mtime) = stat_of(&m);
        if let Some(p) = self.probes.get(path) {
            if p.id == id && p.size == size && p.mtime == mtime {
                return Some(p.clone());
            }
        }
        // An unreadable file (or a `.gz` still being written) answers to no fingerprint
        // until its metadata changes.
        let (gz, keys) = match File::open(path) {
            Ok(f) => {
                let gz = is_gzip(path, &f);
                let head = if gz {
                    gz_head(&Arc::new(f)).map(|(_, h)| h)
                } else {
                    plain_head(&f)
                };
                (gz, head.map(|h| Keys::of(&h)).unwrap_or_default())
            }
            Err(_) => (false, Keys::default()),
        };
        let p = Probe {
            id,
            size,
            mtime,
            gz,
            keys,
        };
        self.probes.insert(path.to_path_buf(), p.clone());
        Some(p)
    }

    /// Reads the extent from the file at `path`, probed as `id`; `None` if the file turns
    /// out not to have the extent's fingerprint or not to be that file any more (replaced
    /// since it was probed).
    fn read_from(
        &mut self,
        path: &Path,
        id: DevIno,
        extent: &FileExtent,
    ) -> Result<Option<Batch>, SourceError> {
        let open_err = |source| SourceError::Open {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(open_err)?;
        let m = file.metadata().map_err(open_err)?;
        if stat_of(&m).0 != id {
            // Replaced since it was probed (by another file, or a symbolic link).
            self.probes.remove(path);
            return Ok(None);
        }
        let gz = is_gzip(path, &file);
        let mut split = Splitter::new();
        if extent.start == 0 {
            // The live reading checked the first line of a file read from its start only.
            split.header = self.header.clone();
        }
        let mut out = Collect {
            split,
            batch: Batch::new(Origin::File {
                path: path.to_path_buf(),
                fingerprint: extent.fingerprint,
            }),
            // Batch limits only decide where the live reading cut batches, not the lines.
            lim: Limits {
                max_batch_lines: usize::MAX,
                max_batch_bytes: usize::MAX,
                max_line_bytes: self.max_line_bytes,
            },
        };
        let want = (extent.end - extent.start).min(CHUNK as u64) as usize;
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        let read = if gz {
            self.read_gz(Arc::new(file), &m, path, extent, &mut out)?
        } else {
            self.read_plain(&file, &m, path, extent, &mut out)?
        };
        if !read {
            return Ok(None);
        }
        let Collect {
            mut split,
            mut batch,
            lim,
        } = out;
        // The live reading delivered a last line without `\n` only at a file's end, which
        // is where its extent ends.
        split.take_rest(&mut batch, &lim);
        if batch.len() as u64 != extent.lines {
            return Err(SourceError::Changed {
                path: path.to_path_buf(),
                fingerprint: extent.fingerprint,
                expected: extent.lines,
                found: batch.len() as u64,
            });
        }
        batch.set_offsets(extent.start, extent.end);
        Ok(Some(batch))
    }

    fn read_plain(
        &mut self,
        file: &File,
        m: &Metadata,
        path: &Path,
        extent: &FileExtent,
        out: &mut Collect,
    ) -> Result<bool, SourceError> {
        let fp = extent.fingerprint;
        let read_err = |offset, source| SourceError::Read {
            path: path.to_path_buf(),
            offset,
            source,
        };
        let shrunk = |found| SourceError::Shrunk {
            path: path.to_path_buf(),
            fingerprint: fp,
            expected: extent.end,
            found,
        };
        let head = plain_head(file).map_err(|e| read_err(0, e))?;
        if !Keys::of(&head).matches(fp) {
            return Ok(false);
        }
        if m.len() < extent.end {
            return Err(shrunk(m.len()));
        }
        let mut pos = extent.start;
        while pos < extent.end {
            let want = (extent.end - pos).min(self.buf.len() as u64) as usize;
            let n = match file.read_at(&mut self.buf[..want], pos) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_err(pos, e)),
            };
            if n == 0 {
                let size = file.metadata().map_or(pos, |m| m.len());
                return Err(shrunk(size.min(pos)));
            }
            out.push(&self.buf[..n]);
            pos += n as u64;
        }
        // Read first, then check again: a file truncated and written again during the read
        // (copytruncate) may have handed out another content's bytes.
        let head = plain_head(file).map_err(|e| read_err(0, e))?;
        Ok(Keys::of(&head).matches(fp))
    }

    fn read_gz(
        &mut self,
        file: Arc<File>,
        m: &Metadata,
        path: &Path,
        extent: &FileExtent,
        out: &mut Collect,
    ) -> Result<bool, SourceError> {
        let (id, size, mtime) = stat_of(m);
        // A decoder of this very file, not past the start or still at the end of the head
        // it kept. One of another state of the file is of no use any more.
        self.gz
            .retain(|c| c.id != id || (c.size == size && c.mtime == mtime));
        let usable = self
            .gz
            .iter()
            .position(|c| c.id == id && (c.pos <= extent.start || c.pos == c.head.len() as u64));
        let mut cursor = match usable {
            Some(i) => self.gz.remove(i),
            None => {
                self.gz.retain(|c| c.id != id);
                self.counts.gz_opened += 1;
                let (decoder, head) = gz_head(&file).map_err(|source| SourceError::Gzip {
                    path: path.to_path_buf(),
                    offset: 0,
                    source,
                })?;
                if !Keys::of(&head).matches(extent.fingerprint) {
                    return Ok(false);
                }
                GzCursor {
                    id,
                    size,
                    mtime,
                    decoder,
                    pos: head.len() as u64,
                    head,
                }
            }
        };
        let r = gz_range(&mut cursor, &mut self.buf, path, extent, out);
        // Where a decoder stands after an error is unknown: it is dropped.
        if r.is_ok() {
            if self.gz.len() >= GZ_CURSORS {
                self.gz.remove(0);
            }
            self.gz.push(cursor);
        }
        r.map(|()| true)
    }
}

/// Decompresses `[start, end)` of the extent from the cursor into `out`.
fn gz_range(
    c: &mut GzCursor,
    buf: &mut [u8],
    path: &Path,
    extent: &FileExtent,
    out: &mut Collect,
) -> Result<(), SourceError> {
    let gz_err = |offset, source| SourceError::Gzip {
        path: path.to_path_buf(),
        offset,
        source,
    };
    let shrunk = |found| SourceError::Shrunk {
        path: path.to_path_buf(),
        fingerprint: extent.fingerprint,
        expected: extent.end,
        found,
    };
    let mut pos = extent.start;
    let head_len = c.head.len() as u64;
    if pos < head_len {
        // Only a decoder still at `head_len` gets here (see the reuse condition).
        let to = extent.end.min(head_len);
        out.push(&c.head[pos as usize..to as usize]);
        pos = to;
    }
    if pos < extent.end && c.pos < pos {
        let skip = pos - c.pos;
        let k = io::copy(&mut (&mut c.decoder).take(skip), &mut io::sink())
            .map_err(|e| gz_err(c.pos, e))?;
        c.pos += k;
        if k < skip {
            return Err(shrunk(c.pos));
        }
    }
    while pos < extent.end {
        let want = (extent.end - pos).min(buf.len() as u64) as usize;
        let n = match c.decoder.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(gz_err(c.pos, e)),
        };
        if n == 0 {
            return Err(shrunk(c.pos));
        }
        out.push(&buf[..n]);
        pos += n as u64;
        c.pos += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Checkpoint, FileSource, Poll};
    use std::io::Write;
    use std::time::Duration;

    fn lines(n: std::ops::Range<u32>) -> String {
        n.map(|i| format!("{i:05} {}\n", "x".repeat((i % 40) as usize)))
            .collect()
    }

    fn read_batches(cfg: &FileSourceConfig) -> Vec<Batch> {
        let mut src = FileSource::new(cfg.clone().follow(false), &Checkpoint::new()).unwrap();
        let mut out = Vec::new();
        while let Poll::Batch(b) = src.poll(Duration::from_secs(5)) {
            out.push(b);
        }
        out
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn a_rotated_file_is_looked_up_once_and_a_gz_decompressed_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("access.log");
        fs::write(&log, lines(0..300)).unwrap();
        let cfg = FileSourceConfig {
            max_batch_lines: 10,
            ..FileSourceConfig::new([dir.path().join("access.log*").to_string_lossy()])
        };
        let mut batches = read_batches(&cfg);
        // A last batch carries only the position of the finished file.
        batches.retain(|b| !b.is_empty());
        assert_eq!(batches.len(), 30);
        // Rotated and compressed; a new file at the old path.
        let rotated = dir.path().join("access.log.1.gz");
        fs::write(&rotated, gzip(&fs::read(&log).unwrap())).unwrap();
        fs::write(&log, lines(1000..1010)).unwrap();
        let mut r = Rereader::new(&cfg).unwrap();
        for b in &batches {
            let again = r.reread(&b.file_extent().unwrap()).unwrap();
            assert_eq!(
                again.lines().collect::<Vec<_>>(),
                b.lines().collect::<Vec<_>>()
            );
            assert_eq!(again.origin_name(), rotated.display().to_string());
        }
        assert_eq!(
            r.counts.expansions, 1,
            "later extents found in what is known"
        );
        assert_eq!(r.counts.gz_opened, 1, "in order: one decoder for all");
        // Out of order, the decoder starts over.
        r.reread(&batches[3].file_extent().unwrap()).unwrap();
        r.reread(&batches[1].file_extent().unwrap()).unwrap();
        assert_eq!(r.counts.gz_opened, 3);
        assert_eq!(r.counts.expansions, 1);
    }

    #[test]
    fn extents_of_gz_files_read_in_turns_keep_a_decoder_each() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = FileSourceConfig {
            max_batch_lines: 10,
            ..FileSourceConfig::new([dir.path().join("*.log*").to_string_lossy()])
        };
        for (name, from) in [("a.log", 0), ("b.log", 5000)] {
            fs::write(dir.path().join(name), lines(from..from + 100)).unwrap();
        }
        let batches: Vec<Batch> = read_batches(&cfg)
            .into_iter()
            .filter(|b| !b.is_empty())
            .collect();
        for name in ["a.log", "b.log"] {
            let p = dir.path().join(name);
            fs::write(p.with_extension("log.gz"), gzip(&fs::read(&p).unwrap())).unwrap();
            fs::remove_file(p).unwrap();
        }
        let (a, b): (Vec<&Batch>, Vec<&Batch>) = batches
            .iter()
            .partition(|x| x.origin_name().ends_with("a.log"));
        assert_eq!((a.len(), b.len()), (10, 10));
        let mut r = Rereader::new(&cfg).unwrap();
        for (x, y) in a.iter().zip(&b) {
            for live in [x, y] {
                let again = r.reread(&live.file_extent().unwrap()).unwrap();
                assert!(again.lines().eq(live.lines()));
                assert!(again.origin_name().ends_with(".gz"));
            }
        }
        assert_eq!(r.counts.gz_opened, 2);
    }
}
