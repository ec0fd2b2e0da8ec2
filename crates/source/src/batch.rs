//! Batches of complete lines, and the line splitter every source shares.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::checkpoint::PositionUpdate;
use crate::fingerprint::Fingerprint;
use crate::syslog::Malformed;

/// The default line limit of every source (and of `analyze`): 1 MiB. A longer line keeps its
/// first `MAX_LINE_BYTES` bytes and is marked truncated ([`Batch::truncated`]), which the
/// pipeline rejects as `line_too_long`; the rest of it, up to the newline, is skipped without
/// being buffered, so one line can never take more memory than this.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Where a batch's lines come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A file, by its path when the lines were read and its identity.
    File {
        /// The path the file had when read.
        path: PathBuf,
        /// Its identity.
        fingerprint: Fingerprint,
    },
    /// A stream such as stdin, by name.
    Stream {
        /// `stdin` or the name given.
        name: String,
    },
    /// Newline-delimited TCP connections accepted on an address.
    Tcp {
        /// The listening address.
        local: SocketAddr,
    },
    /// Syslog messages received on an address (UDP or TCP).
    Syslog {
        /// The listening address.
        local: SocketAddr,
    },
}

/// The bytes of one file a batch was read from: enough to read the same lines again after a
/// crash, from wherever rotation has moved the file since ([`Rereader`](crate::Rereader),
/// [`FileSource::reread`](crate::FileSource::reread)).
///
/// The file is named by its content's [`Fingerprint`]; the path only says where to look
/// first, because after a rename rotation the path names another file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileExtent {
    /// Identity of the file's content when the batch was read.
    pub fingerprint: Fingerprint,
    /// The path the file had when the batch was read.
    pub path: PathBuf,
    /// Content offset (decompressed, for `.gz`) of the batch's first line.
    pub start: u64,
    /// Content offset after the batch's last line.
    pub end: u64,
    /// Lines the batch had; a re-read that splits the bytes into another count is refused.
    pub lines: u64,
}

/// Complete lines from one origin, with the positions after them.
///
/// Lines are stored back to back without their `\n` (a trailing `\r` is kept: the format
/// parser deals with it). A batch may have no lines and carry only position updates (a
/// rotated file finished, a `.gz` found already read, a fingerprint upgrade): apply it all
/// the same.
#[derive(Debug, Clone)]
pub struct Batch {
    origin: Origin,
    data: Vec<u8>,
    ends: Vec<usize>,
    truncated: Vec<usize>,
    start_offset: u64,
    end_offset: u64,
    positions: Vec<PositionUpdate>,
    malformed: Vec<Malformed>,
    // Boxed: most batches have none, and batches are moved around by value.
    stream_state: Option<Box<(String, serde_json::Value)>>,
    /// Where each line came from, for lines read from Kafka (boxed like `stream_state`).
    lineage: Option<Box<crate::lineage::Lineage>>,
}

impl Batch {
    /// An empty batch.
    pub fn new(origin: Origin) -> Batch {
        Batch {
            origin,
            data: Vec::new(),
            ends: Vec::new(),
            truncated: Vec::new(),
            start_offset: 0,
            end_offset: 0,
            positions: Vec::new(),
            malformed: Vec::new(),
            stream_state: None,
            lineage: None,
        }
    }

    /// Sets where each line came from (one entry a line, in order).
    pub fn set_lineage(&mut self, lineage: crate::lineage::Lineage) {
        self.lineage = Some(Box::new(lineage));
    }

    /// Where line `i` came from, for a batch read from Kafka.
    pub fn line_source(&self, i: usize) -> Option<crate::lineage::LineSource<'_>> {
        self.lineage.as_ref()?.get(i)
    }

    /// Appends a line (without its `\n`). `truncated` marks a line cut at the maximum line
    /// length.
    pub fn push_line(&mut self, line: &[u8], truncated: bool) {
        if truncated {
            self.truncated.push(self.ends.len());
        }
        self.data.extend_from_slice(line);
        self.ends.push(self.data.len());
    }

    /// Where the lines come from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the batch has no lines (it may still carry positions).
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes of line content (without newlines).
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    /// Line `i`, without its `\n`.
    pub fn line(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.data[start..end])
    }

    /// The lines in order.
    pub fn lines(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let l = &self.data[start..end];
            start = end;
            l
        })
    }

    /// Indexes of lines cut at the maximum line length (their tail was skipped, counted in
    /// the offsets).
    pub fn truncated(&self) -> &[usize] {
        &self.truncated
    }

    /// For a file or stream: content offset before the first line of the batch.
    pub fn start_offset(&self) -> u64 {
        self.start_offset
    }

    /// For a file or stream: content offset after the last line of the batch (the offset
    /// the next batch starts at).
    pub fn end_offset(&self) -> u64 {
        self.end_offset
    }

    /// Positions to persist after processing this batch (file sources only): apply them to
    /// a [`Checkpoint`](crate::Checkpoint) with [`Checkpoint::apply`](crate::Checkpoint::apply).
    pub fn positions(&self) -> &[PositionUpdate] {
        &self.positions
    }

    /// The position of a source that is not a file (Kafka: offsets per partition), as an
    /// opaque value under the source's key, to persist after processing this batch; see
    /// [`Checkpoint::streams`](crate::Checkpoint::streams).
    pub fn stream_state(&self) -> Option<&(String, serde_json::Value)> {
        self.stream_state.as_deref()
    }

    /// Sets the position the batch carries for a source that is not a file.
    pub fn set_stream_state(&mut self, key: impl Into<String>, state: serde_json::Value) {
        self.stream_state = Some(Box::new((key.into(), state)));
    }

    /// Content offset where line `i` starts (lines are taken to end with one `\n`; after a
    /// line cut at the maximum length the figure is a lower bound).
    pub fn line_offset(&self, i: usize) -> u64 {
        let before = if i == 0 { 0 } else { self.ends[i - 1] };
        self.start_offset + (before + i) as u64
    }

    /// The bytes of the file this batch was read from, to record before processing it so
    /// that the same lines can be read again after a crash; `None` for other origins.
    ///
    /// Exact for batches as a [`FileSource`](crate::FileSource) returns them. After
    /// [`Batch::split_off`] past a truncated line the offsets are estimates (see
    /// [`Batch::line_offset`]), and a batch grown by [`Batch::append`] from another file has
    /// no single extent: record extents before splitting or merging.
    pub fn file_extent(&self) -> Option<FileExtent> {
        match &self.origin {
            Origin::File { path, fingerprint } => Some(FileExtent {
                fingerprint: *fingerprint,
                path: path.clone(),
                start: self.start_offset,
                end: self.end_offset,
                lines: self.ends.len() as u64,
            }),
            _ => None,
        }
    }

    /// A readable name of the origin: the file path, the stream name, or `tcp:ADDR` /
    /// `syslog:ADDR`.
    pub fn origin_name(&self) -> String {
        match &self.origin {
            Origin::File { path, .. } => path.display().to_string(),
            Origin::Stream { name } => name.clone(),
            Origin::Tcp { local } => format!("tcp:{local}"),
            Origin::Syslog { local } => format!("syslog:{local}"),
        }
    }

    /// Splits the batch after line `at`: this batch keeps the lines before it, the returned
    /// one gets the rest together with every position update and malformed frame (they
    /// describe the state after the last line). Replaying a recorded run uses it to cut
    /// what a source reads now at the boundaries it had before.
    pub fn split_off(&mut self, at: usize) -> Batch {
        let at = at.min(self.len());
        let cut = if at == 0 { 0 } else { self.ends[at - 1] };
        let mid = self.line_offset(at);
        let mut rest = Batch::new(self.origin.clone());
        rest.data = self.data.split_off(cut);
        rest.ends = self
            .ends
            .split_off(at)
            .into_iter()
            .map(|e| e - cut)
            .collect();
        let (keep, moved): (Vec<usize>, Vec<usize>) = self.truncated.iter().partition(|&&t| t < at);
        self.truncated = keep;
        rest.truncated = moved.into_iter().map(|t| t - at).collect();
        rest.start_offset = mid;
        rest.end_offset = self.end_offset;
        self.end_offset = mid;
        rest.positions = std::mem::take(&mut self.positions);
        rest.stream_state = self.stream_state.take();
        rest.lineage = self.lineage.as_mut().map(|l| Box::new(l.split_off(at)));
        rest.malformed = std::mem::take(&mut self.malformed);
        rest
    }

    /// Frames that were received but could not be decoded (syslog), with the reason.
    pub fn malformed(&self) -> &[Malformed] {
        &self.malformed
    }

    pub(crate) fn set_offsets(&mut self, start: u64, end: u64) {
        self.start_offset = start;
        self.end_offset = end;
    }

    pub(crate) fn set_origin(&mut self, origin: Origin) {
        self.origin = origin;
    }

    pub(crate) fn push_position(&mut self, u: PositionUpdate) {
        self.positions.push(u);
    }

    pub(crate) fn push_malformed(&mut self, m: Malformed) {
        self.malformed.push(m);
    }

    /// Moves the lines and malformed frames of `other` to the end of this batch.
    pub fn append(&mut self, other: &mut Batch) {
        let base_data = self.data.len();
        let base_lines = self.ends.len();
        self.data.extend_from_slice(&other.data);
        self.ends.extend(other.ends.iter().map(|e| e + base_data));
        self.truncated
            .extend(other.truncated.iter().map(|t| t + base_lines));
        self.malformed.append(&mut other.malformed);
        self.end_offset = self.end_offset.max(other.end_offset);
        match (&mut self.lineage, other.lineage.take()) {
            (Some(mine), Some(mut theirs)) => mine.append(&mut theirs),
            (Some(mine), None) => mine.pad(other.ends.len()),
            (None, Some(mut theirs)) => {
                let mut mine = crate::lineage::Lineage::default();
                mine.pad(base_lines);
                mine.append(&mut theirs);
                self.lineage = Some(Box::new(mine));
            }
            (None, None) => {}
        }
        other.data.clear();
        other.ends.clear();
        other.truncated.clear();
    }

    /// Whether the batch carries nothing at all (no lines, positions or malformed frames).
    pub(crate) fn is_void(&self) -> bool {
        self.ends.is_empty() && self.positions.is_empty() && self.malformed.is_empty()
    }
}

/// Limits on batches and lines.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_batch_lines: usize,
    pub max_batch_bytes: usize,
    pub max_line_bytes: usize,
}

/// Puts one line into `batch`, unless it is the header to skip; cuts it at the line limit.
///
/// The header is compared with the line as kept (cut at the limit), whether the line came
/// whole or as an oversized line whose tail was skipped: the same bytes then give the same
/// lines however they were chunked, which re-reading a recorded extent relies on.
fn emit(
    header: &mut Option<Vec<u8>>,
    headers_skipped: &mut u64,
    batch: &mut Batch,
    line: &[u8],
    cut: bool,
    lim: &Limits,
) {
    let (kept, truncated) = if line.len() > lim.max_line_bytes {
        (&line[..lim.max_line_bytes], true)
    } else {
        (line, cut)
    };
    if let Some(h) = header.take() {
        if kept.starts_with(&h) {
            *headers_skipped += 1;
            return;
        }
    }
    batch.push_line(kept, truncated);
}

/// An oversized line being skipped: its kept head and how many bytes it has so far.
#[derive(Debug)]
struct LongLine {
    head: Vec<u8>,
    /// Bytes of the line seen so far (head, skipped tail and, once complete, the `\n`).
    len: u64,
    complete: bool,
}

/// Cuts a byte stream into lines. Bytes go in with [`Splitter::push`]; complete lines come
/// out with [`Splitter::take_lines`], the last partial line with [`Splitter::take_rest`].
/// Lines longer than the limit keep their first `max_line_bytes` bytes and are marked
/// truncated; the rest is skipped without being buffered.
#[derive(Debug, Default)]
pub(crate) struct Splitter {
    buf: Vec<u8>,
    start: usize,
    long: Option<LongLine>,
    /// If set, the next complete line is skipped when it starts with this prefix.
    pub header: Option<Vec<u8>>,
    /// Header lines skipped.
    pub headers_skipped: u64,
}

impl Splitter {
    pub fn new() -> Splitter {
        Splitter::default()
    }

    /// Bytes held that are not yet out as lines (partial line, or lines over the batch
    /// limits).
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Whether a complete line is waiting.
    pub fn has_line(&self) -> bool {
        self.long.as_ref().is_some_and(|l| l.complete)
            || memchr::memchr(b'\n', &self.buf[self.start..]).is_some()
    }

    /// Forgets everything buffered.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
        self.long = None;
    }

    pub fn push(&mut self, mut data: &[u8]) {
        if let Some(l) = self.long.as_mut().filter(|l| !l.complete) {
            match memchr::memchr(b'\n', data) {
                Some(i) => {
                    l.len += i as u64 + 1;
                    l.complete = true;
                    data = &data[i + 1..];
                }
                None => {
                    l.len += data.len() as u64;
                    return;
                }
            }
        }
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Moves complete lines into `batch` while it is under the limits (at least one line if
    /// there is one). Returns the bytes consumed, newlines and skipped bytes included.
    pub fn take_lines(&mut self, batch: &mut Batch, lim: &Limits) -> u64 {
        let mut consumed = 0u64;
        if self.long.as_ref().is_some_and(|l| l.complete) {
            let l = self.long.take().expect("checked");
            emit(
                &mut self.header,
                &mut self.headers_skipped,
                batch,
                &l.head,
                true,
                lim,
            );
            consumed += l.len;
        }
        if self.long.is_some() {
            return consumed;
        }
        loop {
            if batch.len() >= lim.max_batch_lines {
                break;
            }
            let rest = &self.buf[self.start..];
            match memchr::memchr(b'\n', rest) {
                Some(nl) => {
                    let len = nl.min(lim.max_line_bytes);
                    if !batch.is_empty() && batch.bytes() + len > lim.max_batch_bytes {
                        break;
                    }
                    let s = self.start;
                    emit(
                        &mut self.header,
                        &mut self.headers_skipped,
                        batch,
                        &self.buf[s..s + nl],
                        false,
                        lim,
                    );
                    self.start += nl + 1;
                    consumed += nl as u64 + 1;
                }
                None => {
                    if rest.len() > lim.max_line_bytes {
                        self.long = Some(LongLine {
                            head: rest[..lim.max_line_bytes].to_vec(),
                            len: rest.len() as u64,
                            complete: false,
                        });
                        self.buf.clear();
                        self.start = 0;
                    }
                    break;
                }
            }
        }
        self.compact();
        consumed
    }

    /// At the end of the stream: the last line without `\n` (or an unfinished oversized
    /// line) goes into `batch`. Returns the bytes consumed.
    pub fn take_rest(&mut self, batch: &mut Batch, lim: &Limits) -> u64 {
        if let Some(l) = self.long.take() {
            emit(
                &mut self.header,
                &mut self.headers_skipped,
                batch,
                &l.head,
                true,
                lim,
            );
            self.clear();
            return l.len;
        }
        let n = self.pending();
        if n > 0 {
            emit(
                &mut self.header,
                &mut self.headers_skipped,
                batch,
                &self.buf[self.start..],
                false,
                lim,
            );
        }
        self.clear();
        n as u64
    }

    fn compact(&mut self) {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 64 * 1024 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(lines: usize, bytes: usize, line: usize) -> Limits {
        Limits {
            max_batch_lines: lines,
            max_batch_bytes: bytes,
            max_line_bytes: line,
        }
    }

    fn origin() -> Origin {
        Origin::Stream {
            name: "t".to_string(),
        }
    }

    #[test]
    fn split_off_keeps_lines_offsets_and_positions_apart() {
        let mut b = Batch::new(origin());
        for l in [&b"aa"[..], b"b", b"cccc", b"dd"] {
            b.push_line(l, false);
        }
        b.set_offsets(100, 100 + 3 + 2 + 5 + 3);
        assert_eq!(b.line_offset(2), 105);
        let rest = b.split_off(1);
        assert_eq!(b.lines().collect::<Vec<_>>(), vec![&b"aa"[..]]);
        assert_eq!(
            rest.lines().collect::<Vec<_>>(),
            vec![&b"b"[..], b"cccc", b"dd"]
        );
        assert_eq!((b.start_offset(), b.end_offset()), (100, 103));
        assert_eq!((rest.start_offset(), rest.end_offset()), (103, 113));
        assert_eq!(rest.line_offset(1), 105);
        let mut whole = rest.clone();
        let empty = whole.split_off(3);
        assert!(empty.is_empty() && whole.len() == 3);
    }

    /// Splits `data` fed in pieces of `piece` bytes; returns lines, truncation flags and the
    /// total consumed.
    fn split(data: &[u8], piece: usize, l: Limits) -> (Vec<Vec<u8>>, Vec<bool>, u64) {
        let mut s = Splitter::new();
        let mut lines = Vec::new();
        let mut flags = Vec::new();
        let mut consumed = 0;
        let mut collect = |b: &Batch| {
            for (i, line) in b.lines().enumerate() {
                lines.push(line.to_vec());
                flags.push(b.truncated().contains(&i));
            }
        };
        for chunk in data.chunks(piece.max(1)) {
            s.push(chunk);
            loop {
                let mut b = Batch::new(origin());
                consumed += s.take_lines(&mut b, &l);
                if b.is_empty() {
                    break;
                }
                assert!(b.len() <= l.max_batch_lines);
                collect(&b);
            }
        }
        let mut b = Batch::new(origin());
        consumed += s.take_rest(&mut b, &l);
        collect(&b);
        (lines, flags, consumed)
    }

    #[test]
    fn every_chunking_gives_the_same_lines() {
        let data = b"a\nbb\n\nccc\r\ndddd";
        let expect: Vec<Vec<u8>> = vec![
            b"a".to_vec(),
            b"bb".to_vec(),
            b"".to_vec(),
            b"ccc\r".to_vec(),
            b"dddd".to_vec(),
        ];
        for piece in 1..=data.len() {
            for lines in 1..4 {
                let (got, _, consumed) = split(data, piece, lim(lines, 3, 100));
                assert_eq!(got, expect, "piece {piece} lines {lines}");
                assert_eq!(consumed, data.len() as u64);
            }
        }
    }

    #[test]
    fn long_lines_are_cut_and_counted() {
        let data = b"0123456789abc\nxy\n0123456789";
        for piece in 1..=data.len() {
            let (got, flags, consumed) = split(data, piece, lim(10, 100, 4));
            assert_eq!(
                got,
                vec![b"0123".to_vec(), b"xy".to_vec(), b"0123".to_vec()],
                "piece {piece}"
            );
            assert_eq!(flags, vec![true, false, true]);
            assert_eq!(consumed, data.len() as u64);
        }
    }

    /// A line without a newline that goes on and on (a live file being written, a gzip
    /// bomb) holds only its head; the rest is counted, not buffered, and the line comes out
    /// whole once its newline arrives.
    #[test]
    fn an_unterminated_long_line_holds_only_its_head() {
        let l = lim(4096, 1 << 20, 1000);
        let mut s = Splitter::new();
        let mut b = Batch::new(origin());
        for _ in 0..1000 {
            s.push(&[b'a'; 4096]);
            assert_eq!(s.take_lines(&mut b, &l), 0);
            assert!(s.buf.capacity() <= 4096, "{}", s.buf.capacity());
            assert!(s.long.as_ref().is_some_and(|x| x.head.len() == 1000));
        }
        assert!(b.is_empty() && !s.has_line());
        s.push(b"a\nnext\n");
        assert_eq!(s.take_lines(&mut b, &l), 4096 * 1000 + 2 + 5);
        assert_eq!(
            b.lines().collect::<Vec<_>>(),
            vec![&[b'a'; 1000][..], b"next"]
        );
        assert_eq!(b.truncated(), &[0]);
    }

    #[test]
    fn header_line_is_skipped_once() {
        let mut s = Splitter::new();
        s.header = Some(b"#hs ".to_vec());
        s.push(b"#hs x\n#hs y\nz\n");
        let mut b = Batch::new(origin());
        assert_eq!(s.take_lines(&mut b, &lim(10, 100, 100)), 14);
        assert_eq!(b.lines().collect::<Vec<_>>(), vec![&b"#hs y"[..], b"z"]);
        assert_eq!(s.headers_skipped, 1);
    }

    #[test]
    fn an_oversized_header_is_skipped_however_it_is_chunked() {
        // Whole, the line went through `emit`; in small pieces it became an oversized line
        // whose tail is skipped. Both must skip it, or a re-read (other chunks) would differ.
        let data = b"#hs 0123456789\nz\n#hs 0123456789";
        for piece in 1..=data.len() {
            let mut s = Splitter::new();
            s.header = Some(b"#hs ".to_vec());
            let mut b = Batch::new(origin());
            for chunk in data.chunks(piece) {
                s.push(chunk);
                s.take_lines(&mut b, &lim(100, 1000, 6));
            }
            s.take_rest(&mut b, &lim(100, 1000, 6));
            assert_eq!(
                b.lines().collect::<Vec<_>>(),
                vec![&b"z"[..], b"#hs 01"],
                "piece {piece}"
            );
            assert_eq!((b.truncated(), s.headers_skipped), (&[1][..], 1));
        }
    }

    #[test]
    fn file_extent_of_file_batches_only() {
        let fp = Fingerprint::Head(9);
        let mut b = Batch::new(Origin::File {
            path: PathBuf::from("/l/a.log"),
            fingerprint: fp,
        });
        b.push_line(b"x", false);
        b.push_line(b"yy", false);
        b.set_offsets(10, 15);
        let e = b.file_extent().unwrap();
        assert_eq!(
            e,
            FileExtent {
                fingerprint: fp,
                path: PathBuf::from("/l/a.log"),
                start: 10,
                end: 15,
                lines: 2
            }
        );
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"fingerprint":"h:0000000000000009","path":"/l/a.log","start":10,"end":15,"lines":2}"#
        );
        assert_eq!(serde_json::from_str::<FileExtent>(&json).unwrap(), e);
        let extra = json.replace("\"lines\"", "\"extra\":1,\"lines\"");
        assert!(serde_json::from_str::<FileExtent>(&extra).is_err());
        assert_eq!(Batch::new(origin()).file_extent(), None);
    }

    #[test]
    fn batch_byte_limit_keeps_at_least_one_line() {
        let mut s = Splitter::new();
        s.push(b"aaaa\nbbbb\n");
        let mut b = Batch::new(origin());
        s.take_lines(&mut b, &lim(10, 2, 100));
        assert_eq!(b.len(), 1);
        let mut b = Batch::new(origin());
        s.take_lines(&mut b, &lim(10, 2, 100));
        assert_eq!(b.line(0), Some(&b"bbbb"[..]));
    }
}
