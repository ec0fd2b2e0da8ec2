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

/// Size on disk of a file input (0 for stdin or on error), for the progress bar.
pub fn size_of(path: &str) -> u64 {
    if path == "-" {
        0
    } else {
        std::fs::metadata(Path::new(path)).map_or(0, |m| m.len())
    }
}

/// Reads a stream into buffers of about `target` bytes that end after a `\n` (or at the end of
/// the stream). A line longer than `target` makes its chunk longer: lines are never split.
pub struct Chunker {
    inner: Box<dyn Read + Send>,
    carry: Vec<u8>,
    target: usize,
    eof: bool,
}

impl Chunker {
    /// A chunker over a stream.
    pub fn new(inner: Box<dyn Read + Send>, target: usize) -> Chunker {
        Chunker {
            inner,
            carry: Vec::new(),
            target,
            eof: false,
        }
    }

    /// Fills `buf` (its old contents are overwritten) with the next chunk. Returns false at
    /// the end.
    pub fn next_into(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
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
        loop {
            let old = filled;
            let want = self.target.max(filled + 64 * 1024);
            if buf.len() < want {
                buf.resize(want, 0);
            }
            // Fill up to the target, so chunks are big enough to amortise the hand-off.
            while filled < want {
                match self.inner.read(&mut buf[filled..want]) {
                    Ok(0) => {
                        self.eof = true;
                        break;
                    }
                    Ok(n) => filled += n,
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
            if let Some(nl) = memchr::memrchr(b'\n', &buf[old..filled]) {
                let cut = old + nl + 1;
                self.carry.extend_from_slice(&buf[cut..filled]);
                buf.truncate(cut);
                return Ok(true);
            }
            // No line end yet: a very long line; keep reading into the same chunk.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(data: &[u8], target: usize) -> Vec<Vec<u8>> {
        let mut c = Chunker::new(Box::new(io::Cursor::new(data.to_vec())), target);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while c.next_into(&mut buf).unwrap() {
            out.push(buf.clone());
        }
        out
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
    fn long_line_and_no_final_newline() {
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
}
