//! Opening inputs (plain or gzip, detected by content; `-` for stdin) and cutting them into
//! chunks that end on line boundaries, so threads can parse chunks independently.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;
use flate2::bufread::MultiGzDecoder;

/// Counts the raw bytes read from a file, for progress.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// An input name: a path or `-`.
pub fn display_name(p: &str) -> String {
    if p == "-" {
        "(stdin)".to_string()
    } else {
        p.to_string()
    }
}

/// Opens an input for reading decompressed bytes. `progress` counts raw bytes read.
pub fn open(path: &str, progress: Arc<AtomicU64>) -> anyhow::Result<Box<dyn Read + Send>> {
    let raw: Box<dyn Read + Send> = if path == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(File::open(path).with_context(|| format!("cannot open input `{path}`"))?)
    };
    let mut br = BufReader::with_capacity(
        256 * 1024,
        Counting {
            inner: raw,
            read: progress,
        },
    );
    let head = br
        .fill_buf()
        .with_context(|| format!("cannot read input `{path}`"))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(MultiGzDecoder::new(br)))
    } else {
        Ok(Box::new(br))
    }
}

/// Whether stdin carries lines someone sent on purpose: a pipe, a socket or a redirected
/// file. A terminal and `/dev/null` (character devices), or a closed stdin, do not.
pub fn stdin_is_data() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::FileTypeExt;
    let Ok(fd) = io::stdin().as_fd().try_clone_to_owned() else {
        return false;
    };
    let Ok(meta) = File::from(fd).metadata() else {
        return false;
    };
    let t = meta.file_type();
    t.is_fifo() || t.is_socket() || t.is_file()
}

/// Size on disk of a file input (0 for stdin or on error), for the progress bar.
pub fn size_of(path: &str) -> u64 {
    if path == "-" {
        0
    } else {
        std::fs::metadata(Path::new(path)).map_or(0, |m| m.len())
    }
}

/// A line the [`Chunker`] cut at the line limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    /// Where the kept head ends in the chunk (the index of its `\n`, or the chunk's end for a
    /// last line without one).
    pub end: usize,
    /// Bytes of the line skipped after the head (its `\n` not included).
    pub skipped: u64,
}

/// Reads a stream into buffers of about `target` bytes that end after a `\n` (or at the end of
/// the stream). A line longer than `target` makes its chunk longer, up to the line limit: a
/// line longer than `max_line` keeps its first `max_line` bytes (reported as a [`Cut`]) and
/// the rest up to its newline is read and dropped, so no input, not even one line without a
/// newline in a gzip bomb, takes more than about `target + max_line` bytes of memory.
pub struct Chunker {
    inner: Box<dyn Read + Send>,
    carry: Vec<u8>,
    target: usize,
    max_line: usize,
    eof: bool,
    /// Bytes skipped so far of an over-long line whose newline has not come yet.
    skipping: Option<u64>,
    scratch: Vec<u8>,
    cuts: Vec<Cut>,
}

impl Chunker {
    /// A chunker over a stream, with `run`'s line limit
    /// ([`MAX_LINE_BYTES`](hitstream_source::MAX_LINE_BYTES)).
    pub fn new(inner: Box<dyn Read + Send>, target: usize) -> Chunker {
        Chunker::with_line_limit(inner, target, hitstream_source::MAX_LINE_BYTES)
    }

    /// A chunker whose lines are cut at `max_line` bytes.
    pub fn with_line_limit(inner: Box<dyn Read + Send>, target: usize, max_line: usize) -> Chunker {
        Chunker {
            inner,
            carry: Vec::new(),
            target: target.max(1),
            max_line: max_line.max(1),
            eof: false,
            skipping: None,
            scratch: Vec::new(),
            cuts: Vec::new(),
        }
    }

    /// The lines cut in the chunk last returned by [`Chunker::next_into`], in order.
    pub fn take_cuts(&mut self) -> Vec<Cut> {
        std::mem::take(&mut self.cuts)
    }

    /// Fills `buf` (its old contents are overwritten) with the next chunk. Returns false at
    /// the end.
    pub fn next_into(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        self.cuts.clear();
        // Recycled buffers keep their length: overwriting instead of clearing avoids zeroing
        // megabytes per chunk when the buffer is grown back to the target.
        let mut filled = self.carry.len();
        if buf.len() < filled {
            buf.resize(filled, 0);
        }
        buf[..filled].copy_from_slice(&self.carry);
        self.carry.clear();
        if self.eof {
            buf.truncate(filled);
            return Ok(filled > 0);
        }
        // Start of the line not yet complete; the carry holds no `\n`.
        let mut line_start = 0;
        loop {
            if let Some(skipped) = self.skipping {
                if self.scratch.len() < 64 * 1024 {
                    self.scratch.resize(64 * 1024, 0);
                }
                match self.inner.read(&mut self.scratch) {
                    Ok(0) => {
                        self.skipping = None;
                        self.cuts.push(Cut {
                            end: filled,
                            skipped,
                        });
                        self.eof = true;
                    }
                    Ok(n) => match memchr::memchr(b'\n', &self.scratch[..n]) {
                        None => self.skipping = Some(skipped + n as u64),
                        Some(j) => {
                            self.skipping = None;
                            self.cuts.push(Cut {
                                end: filled,
                                skipped: skipped + j as u64,
                            });
                            let rest = n - j - 1;
                            if buf.len() < filled + 1 + rest {
                                buf.resize(filled + 1 + rest, 0);
                            }
                            buf[filled] = b'\n';
                            filled += 1;
                            line_start = filled;
                            buf[filled..filled + rest].copy_from_slice(&self.scratch[j + 1..n]);
                            let from = filled;
                            filled += rest;
                            self.cut_long(buf, &mut line_start, &mut filled, from);
                        }
                    },
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        buf.truncate(filled);
                        return Err(e);
                    }
                }
            } else {
                let want = self.target.max(filled + 64 * 1024);
                if buf.len() < want {
                    buf.resize(want, 0);
                }
                match self.inner.read(&mut buf[filled..want]) {
                    Ok(0) => self.eof = true,
                    Ok(n) => {
                        let from = filled;
                        filled += n;
                        self.cut_long(buf, &mut line_start, &mut filled, from);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        buf.truncate(filled);
                        return Err(e);
                    }
                }
            }
            if self.eof {
                buf.truncate(filled);
                return Ok(filled > 0);
            }
            // Fill up to the target, so chunks are big enough to amortise the hand-off; a
            // chunk waits for the end of an over-long line it holds the head of.
            if self.skipping.is_none() && line_start > 0 && filled >= self.target {
                self.carry.extend_from_slice(&buf[line_start..filled]);
                buf.truncate(line_start);
                return Ok(true);
            }
        }
    }

    /// Cuts the lines of `buf[..filled]` longer than the limit, looking for newlines from
    /// `from` (the line starting at `line_start` has none before). Moves `line_start` after
    /// the last newline; a last line over the limit keeps its head and starts skipping.
    fn cut_long(
        &mut self,
        buf: &mut [u8],
        line_start: &mut usize,
        filled: &mut usize,
        from: usize,
    ) {
        let max = self.max_line;
        let mut pos = from;
        loop {
            if *filled - *line_start <= max {
                // No line here can be over the limit: only find the last newline.
                if let Some(j) = memchr::memrchr(b'\n', &buf[pos..*filled]) {
                    *line_start = pos + j + 1;
                }
                return;
            }
            match memchr::memchr(b'\n', &buf[pos..*filled]) {
                Some(j) => {
                    let mut nl = pos + j;
                    if nl - *line_start > max {
                        let drop = nl - *line_start - max;
                        buf.copy_within(nl..*filled, *line_start + max);
                        *filled -= drop;
                        nl -= drop;
                        self.cuts.push(Cut {
                            end: nl,
                            skipped: drop as u64,
                        });
                    }
                    *line_start = nl + 1;
                    pos = *line_start;
                }
                None => {
                    let drop = *filled - *line_start - max;
                    *filled = *line_start + max;
                    self.skipping = Some(drop as u64);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunks with their cuts, read with a reader that returns at most `piece` bytes a call.
    fn chunks_cut(
        data: &[u8],
        target: usize,
        max_line: usize,
        piece: usize,
    ) -> Vec<(Vec<u8>, Vec<Cut>)> {
        struct Pieces(io::Cursor<Vec<u8>>, usize);
        impl Read for Pieces {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(self.1);
                self.0.read(&mut buf[..n])
            }
        }
        let r = Pieces(io::Cursor::new(data.to_vec()), piece);
        let mut c = Chunker::with_line_limit(Box::new(r), target, max_line);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while c.next_into(&mut buf).unwrap() {
            out.push((buf.clone(), c.take_cuts()));
        }
        out
    }

    fn chunks(data: &[u8], target: usize) -> Vec<Vec<u8>> {
        chunks_cut(data, target, usize::MAX / 2, usize::MAX)
            .into_iter()
            .map(|(c, cuts)| {
                assert!(cuts.is_empty());
                c
            })
            .collect()
    }

    /// What the chunks say, line by line: (text kept, bytes skipped), and the input length
    /// they account for.
    fn lines_of(cs: &[(Vec<u8>, Vec<Cut>)]) -> (Vec<(Vec<u8>, u64)>, u64) {
        let mut out = Vec::new();
        let mut total = 0;
        for (c, cuts) in cs {
            total += c.len() as u64 + cuts.iter().map(|x| x.skipped).sum::<u64>();
            let mut cuts = cuts.iter().peekable();
            let mut start = 0;
            while start < c.len() {
                let end = memchr::memchr(b'\n', &c[start..]).map_or(c.len(), |p| start + p);
                let skipped = cuts.next_if(|x| x.end == end).map_or(0, |x| x.skipped);
                out.push((c[start..end].to_vec(), skipped));
                start = end + 1;
            }
            assert!(cuts.next().is_none(), "a cut matches no line end");
        }
        (out, total)
    }

    #[test]
    fn chunks_end_on_lines_and_lose_nothing() {
        let data: Vec<u8> = (0..5000)
            .flat_map(|i| format!("line {i} {}\n", "x".repeat(i % 37)).into_bytes())
            .collect();
        for target in [1, 7, 100, 4096, 1 << 20] {
            let cs = chunks(&data, target);
            assert_eq!(cs.concat(), data, "target {target}");
            for c in &cs[..cs.len() - 1] {
                assert_eq!(c.last(), Some(&b'\n'));
            }
        }
    }

    #[test]
    fn long_line_under_the_limit_stays_whole() {
        let mut data = vec![b'a'; 3 << 20];
        data.extend_from_slice(b"\nshort\nlast");
        let cs = chunks(&data, 64 * 1024);
        assert_eq!(cs.concat(), data);
        assert!(
            cs[0].len() > 3 << 20,
            "the long line stays whole in one chunk"
        );
        assert_eq!(cs[0][3 << 20], b'\n');
    }

    /// Every chunking of the reads gives the same lines, each over-long line cut to its head
    /// with the rest counted, and the chunks account for every byte of the input.
    #[test]
    fn lines_over_the_limit_keep_their_head_and_count_the_rest() {
        let body = |n: usize, c: u8| -> Vec<u8> { (0..n).map(|i| c + (i % 7) as u8).collect() };
        let mut data = Vec::new();
        let mut expect = Vec::new();
        for (n, c) in [
            (3, b'a'),
            (10, b'h'),
            (11, b'o'),
            (40, b'A'),
            (0, b'x'),
            (25, b'a'),
        ] {
            let line = body(n, c);
            data.extend_from_slice(&line);
            data.push(b'\n');
            expect.push((line[..n.min(10)].to_vec(), n.saturating_sub(10) as u64));
        }
        // The last line has no newline, and is over the limit.
        data.extend_from_slice(&body(33, b'0'));
        expect.push((body(10, b'0'), 23));
        for target in [1, 5, 16, 64, 1000] {
            for piece in [1, 2, 3, 7, 11, 64, 10_000] {
                let cs = chunks_cut(&data, target, 10, piece);
                let (got, total) = lines_of(&cs);
                assert_eq!(got, expect, "target {target} piece {piece}");
                assert_eq!(total, data.len() as u64, "target {target} piece {piece}");
                for (c, _) in &cs[..cs.len() - 1] {
                    assert_eq!(c.last(), Some(&b'\n'));
                }
            }
        }
    }

    /// One line without a newline, far over the limit: memory stays at the limit whatever
    /// the line's length (the gzip bomb of issue 23 made `analyze` allocate 2 GiB).
    #[test]
    fn an_endless_line_is_not_buffered() {
        struct Endless(u64);
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = (buf.len() as u64).min(self.0) as usize;
                buf[..n].fill(b'a');
                self.0 -= n as u64;
                Ok(n)
            }
        }
        let len = 64u64 << 20;
        let mut c = Chunker::with_line_limit(Box::new(Endless(len)), 2 << 20, 1 << 20);
        let mut buf = Vec::new();
        assert!(c.next_into(&mut buf).unwrap());
        assert_eq!(buf.len(), 1 << 20);
        assert!(buf.capacity() <= 4 << 20, "{}", buf.capacity());
        assert_eq!(
            c.take_cuts(),
            vec![Cut {
                end: 1 << 20,
                skipped: len - (1 << 20)
            }]
        );
        assert!(!c.next_into(&mut buf).unwrap());
    }
}
