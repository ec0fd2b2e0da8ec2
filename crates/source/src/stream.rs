//! A bounded stream (stdin, or any reader) as batches of lines.
//!
//! A thread reads the stream (gzip is recognised by its magic bytes and decompressed) and
//! hands chunks to [`StreamSource::poll`], so the caller can wait with a timeout and run
//! its timers while the stream is quiet. A stream cannot be re-read: batches carry byte
//! offsets but no positions to checkpoint.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use flate2::bufread::MultiGzDecoder;

use crate::batch::{Batch, Limits, Origin, Splitter};
use crate::error::SourceError;
use crate::{Poll, Source};

/// Limits of a stream, TCP or syslog source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineLimits {
    /// Most lines in one batch.
    pub max_batch_lines: usize,
    /// Most bytes of line content in one batch.
    pub max_batch_bytes: usize,
    /// Longer lines are cut to this length and marked truncated; the rest up to the newline
    /// is skipped without being buffered. Default [`MAX_LINE_BYTES`](crate::MAX_LINE_BYTES)
    /// (1 MiB).
    pub max_line_bytes: usize,
}

impl Default for LineLimits {
    fn default() -> Self {
        LineLimits {
            max_batch_lines: 4096,
            max_batch_bytes: 1 << 20,
            max_line_bytes: crate::MAX_LINE_BYTES,
        }
    }
}

impl LineLimits {
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            max_batch_lines: self.max_batch_lines.max(1),
            max_batch_bytes: self.max_batch_bytes.max(1),
            max_line_bytes: self.max_line_bytes.max(1),
        }
    }
}

enum Msg {
    Data(Vec<u8>),
    Error(io::Error),
}

/// Lines from a stream; see the [module documentation](self).
pub struct StreamSource {
    name: String,
    rx: Receiver<Msg>,
    split: Splitter,
    limits: Limits,
    offset: u64,
    eof: bool,
    ended: bool,
    problems: Vec<SourceError>,
}

impl std::fmt::Debug for StreamSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSource")
            .field("name", &self.name)
            .field("offset", &self.offset)
            .field("ended", &self.ended)
            .finish()
    }
}

impl StreamSource {
    /// Lines from standard input.
    pub fn stdin(limits: LineLimits) -> StreamSource {
        StreamSource::new("stdin", io::stdin(), limits)
    }

    /// Lines from any reader, named `name` in batches and errors.
    pub fn new(name: &str, reader: impl Read + Send + 'static, limits: LineLimits) -> StreamSource {
        let (tx, rx) = mpsc::sync_channel::<Msg>(8);
        let thread_name = format!("hitstream-read-{name}");
        let spawned = thread::Builder::new().name(thread_name).spawn(move || {
            let mut br = BufReader::with_capacity(64 * 1024, reader);
            let gz = match br.fill_buf() {
                Ok(head) => head.starts_with(&[0x1f, 0x8b]),
                Err(e) => {
                    let _ = tx.send(Msg::Error(e));
                    return;
                }
            };
            let mut r: Box<dyn Read> = if gz {
                Box::new(MultiGzDecoder::new(br))
            } else {
                Box::new(br)
            };
            loop {
                let mut buf = vec![0u8; 64 * 1024];
                match r.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.send(Msg::Data(buf)).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.send(Msg::Error(e));
                        return;
                    }
                }
            }
        });
        let mut problems = Vec::new();
        if let Err(source) = spawned {
            problems.push(SourceError::Stream {
                name: name.to_string(),
                source,
            });
        }
        StreamSource {
            name: name.to_string(),
            rx,
            split: Splitter::new(),
            limits: limits.limits(),
            offset: 0,
            eof: false,
            ended: false,
            problems,
        }
    }

    /// Read errors since the last call.
    pub fn take_problems(&mut self) -> Vec<SourceError> {
        std::mem::take(&mut self.problems)
    }

    /// Bytes consumed so far (decompressed).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn take(&mut self, batch: &mut Batch) {
        self.offset += self.split.take_lines(batch, &self.limits);
    }

    fn on_msg(&mut self, m: Msg) {
        match m {
            Msg::Data(d) => self.split.push(&d),
            Msg::Error(source) => {
                self.problems.push(SourceError::Stream {
                    name: self.name.clone(),
                    source,
                });
                self.eof = true;
            }
        }
    }

    /// Waits up to `timeout` for the next batch; [`Poll::End`] after the last line.
    pub fn poll(&mut self, timeout: Duration) -> Poll {
        if self.ended {
            return Poll::End;
        }
        let deadline = Instant::now() + timeout;
        let mut batch = Batch::new(Origin::Stream {
            name: self.name.clone(),
        });
        let start = self.offset;
        loop {
            self.take(&mut batch);
            let full = batch.len() >= self.limits.max_batch_lines
                || batch.bytes() >= self.limits.max_batch_bytes
                || self.split.has_line();
            if full {
                break;
            }
            if self.eof {
                self.offset += self.split.take_rest(&mut batch, &self.limits);
                if batch.is_empty() {
                    self.ended = true;
                    return Poll::End;
                }
                break;
            }
            match self.rx.try_recv() {
                Ok(m) => {
                    self.on_msg(m);
                    continue;
                }
                Err(TryRecvError::Disconnected) => {
                    self.eof = true;
                    continue;
                }
                Err(TryRecvError::Empty) => {}
            }
            if !batch.is_empty() {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                return Poll::Idle;
            }
            match self.rx.recv_timeout(deadline - now) {
                Ok(m) => self.on_msg(m),
                Err(RecvTimeoutError::Disconnected) => self.eof = true,
                Err(RecvTimeoutError::Timeout) => return Poll::Idle,
            }
        }
        batch.set_offsets(start, self.offset);
        Poll::Batch(batch)
    }
}

impl Source for StreamSource {
    fn poll(&mut self, timeout: Duration) -> Poll {
        StreamSource::poll(self, timeout)
    }

    fn take_problems(&mut self) -> Vec<SourceError> {
        StreamSource::take_problems(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn all(mut s: StreamSource) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            match s.poll(Duration::from_secs(5)) {
                Poll::Batch(b) => {
                    out.extend(b.lines().map(|l| String::from_utf8_lossy(l).into_owned()))
                }
                Poll::Idle => panic!("idle on a finished stream"),
                Poll::End => return out,
            }
        }
    }

    #[test]
    fn plain_and_gzip_streams() {
        let text = b"a\nb\nlast".to_vec();
        let lim = LineLimits {
            max_batch_lines: 1,
            ..LineLimits::default()
        };
        assert_eq!(
            all(StreamSource::new("t", io::Cursor::new(text.clone()), lim)),
            vec!["a", "b", "last"]
        );
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&text).unwrap();
        let gz = e.finish().unwrap();
        assert_eq!(
            all(StreamSource::new("t", io::Cursor::new(gz), lim)),
            vec!["a", "b", "last"]
        );
        assert!(all(StreamSource::new("t", io::empty(), lim)).is_empty());
    }

    #[test]
    fn offsets_cover_the_stream() {
        let mut s = StreamSource::new(
            "t",
            io::Cursor::new(b"one\ntwo\n".to_vec()),
            LineLimits::default(),
        );
        let mut end = 0;
        while let Poll::Batch(b) = s.poll(Duration::from_secs(5)) {
            assert_eq!(b.start_offset(), end);
            end = b.end_offset();
        }
        assert_eq!(end, 8);
    }
}
