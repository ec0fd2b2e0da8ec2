//! Outputs to files: JSON lines of window results or alerts, and the late and rejects
//! files. A run appends to them across restarts, so they must stay whole across a kill -9:
//! each record is built in memory and written with one `write_all` (a buffered writer only
//! flushes at record boundaries), and a file reopened for appending is first cut back to
//! its last complete line. The record cut off comes again anyway: it was emitted after the
//! last checkpoint.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use hitstream_window::{Alert, LateLine, WindowResult};

use crate::error::BoxError;
use crate::sink::{Output, Reject};

/// Opens `path` for appending after cutting a torn last line (one without its `\n`).
/// Returns the file and how many bytes were cut.
pub fn open_append_whole(path: &Path) -> io::Result<(File, u64)> {
    let mut f = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)?;
    let len = f.metadata()?.len();
    let keep = whole_prefix(&mut f, len)?;
    if keep < len {
        f.set_len(keep)?;
        f.sync_data()?;
    }
    Ok((f, len - keep))
}

/// The length of the longest prefix of the file that ends with `\n` (or is empty).
fn whole_prefix(f: &mut File, len: u64) -> io::Result<u64> {
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let n = (end - start) as usize;
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(&mut buf[..n])?;
        if let Some(i) = memrchr_nl(&buf[..n]) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

fn memrchr_nl(b: &[u8]) -> Option<usize> {
    b.iter().rposition(|&c| c == b'\n')
}

/// Where a file output writes: stdout (`-`) or a file kept whole across crashes.
enum Target {
    Stdout(io::Stdout),
    File(BufWriter<File>),
}

impl Target {
    fn open(spec: &str) -> Result<(Target, Option<String>), BoxError> {
        if spec == "-" {
            return Ok((Target::Stdout(io::stdout()), None));
        }
        let (f, cut) = open_append_whole(Path::new(spec))
            .map_err(|e| format!("cannot open output `{spec}`: {e}"))?;
        let note = (cut > 0).then(|| {
            format!(
                "{spec}: cut a torn last line of {cut} bytes (a crash in the middle of a write)"
            )
        });
        Ok((Target::File(BufWriter::with_capacity(256 * 1024, f)), note))
    }

    /// Writes one whole record (ending in `\n`).
    fn record(&mut self, rec: &[u8]) -> io::Result<()> {
        match self {
            Target::Stdout(s) => {
                let mut l = s.lock();
                l.write_all(rec)
            }
            Target::File(f) => f.write_all(rec),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Target::Stdout(s) => s.flush(),
            Target::File(f) => f.flush(),
        }
    }
}

/// What a [`JsonLines`] output writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    /// Window results.
    Windows,
    /// Alerts.
    Alerts,
}

/// JSON lines of window results or alerts, to a file (appended) or stdout (`-`).
pub struct JsonLines {
    name: String,
    out: Target,
    kind: JsonKind,
    buf: Vec<u8>,
    /// A note about the file's repair, for the caller to show.
    pub repaired: Option<String>,
}

impl JsonLines {
    /// Opens the output (`-` for stdout).
    pub fn open(spec: &str, kind: JsonKind) -> Result<JsonLines, BoxError> {
        let (out, repaired) = Target::open(spec)?;
        Ok(JsonLines {
            name: format!("jsonl {spec}"),
            out,
            kind,
            buf: Vec::new(),
            repaired,
        })
    }

    fn write<T: serde::Serialize>(&mut self, v: &T) -> Result<(), BoxError> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, v)?;
        self.buf.push(b'\n');
        self.out.record(&self.buf)?;
        // Live consumers see each result as soon as it is made.
        self.out.flush()?;
        Ok(())
    }
}

impl std::fmt::Debug for JsonLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl Output for JsonLines {
    fn name(&self) -> &str {
        &self.name
    }

    fn window(&mut self, w: &WindowResult) -> Result<(), BoxError> {
        if self.kind == JsonKind::Windows {
            self.write(w)?;
        }
        Ok(())
    }

    fn alert(&mut self, a: &Alert) -> Result<(), BoxError> {
        if self.kind == JsonKind::Alerts {
            self.write(a)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), BoxError> {
        Ok(self.out.flush()?)
    }
}

/// Raw lines with their reason, one per line: the late file
/// (`reason<TAB>event time<TAB>line`) or the rejects file
/// (`reason<TAB>explanation<TAB>line`).
pub struct LineFile {
    name: String,
    out: Target,
    late: bool,
    buf: Vec<u8>,
    /// A note about the file's repair, for the caller to show.
    pub repaired: Option<String>,
}

impl LineFile {
    /// Lines too late for any window.
    pub fn late(path: &Path) -> Result<LineFile, BoxError> {
        LineFile::open(path, true)
    }

    /// Lines that could not be parsed.
    pub fn rejects(path: &Path) -> Result<LineFile, BoxError> {
        LineFile::open(path, false)
    }

    fn open(path: &Path, late: bool) -> Result<LineFile, BoxError> {
        let spec = path.display().to_string();
        let (out, repaired) = Target::open(&spec)?;
        Ok(LineFile {
            name: format!("{} {}", if late { "late" } else { "rejects" }, spec),
            out,
            late,
            buf: Vec::new(),
            repaired,
        })
    }
}

impl std::fmt::Debug for LineFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl Output for LineFile {
    fn name(&self) -> &str {
        &self.name
    }

    fn late(&mut self, l: &LateLine) -> Result<(), BoxError> {
        if self.late {
            self.buf.clear();
            self.buf.extend_from_slice(l.reason.code().as_bytes());
            self.buf.push(b'\t');
            let t = l
                .event_time
                .map_or("-".to_string(), hitstream_window::rfc3339);
            self.buf.extend_from_slice(t.as_bytes());
            self.buf.push(b'\t');
            self.buf.extend_from_slice(&l.line);
            self.buf.push(b'\n');
            self.out.record(&self.buf)?;
        }
        Ok(())
    }

    fn reject(&mut self, r: &Reject<'_>) -> Result<(), BoxError> {
        if !self.late {
            self.buf.clear();
            self.buf.extend_from_slice(r.code.as_bytes());
            self.buf.push(b'\t');
            self.buf.extend_from_slice(r.explanation.as_bytes());
            self.buf.push(b'\t');
            self.buf.extend_from_slice(r.line);
            self.buf.push(b'\n');
            self.out.record(&self.buf)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), BoxError> {
        Ok(self.out.flush()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_tail_is_cut_back_to_the_last_whole_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.jsonl");
        std::fs::write(&p, b"{\"a\":1}\n{\"a\":2}\n{\"a\":").unwrap();
        let (mut f, cut) = open_append_whole(&p).unwrap();
        assert_eq!(cut, 5);
        f.write_all(b"{\"a\":3}\n").unwrap();
        drop(f);
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n"
        );
    }

    #[test]
    fn whole_files_and_new_files_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.jsonl");
        let (_, cut) = open_append_whole(&p).unwrap();
        assert_eq!(cut, 0);
        std::fs::write(&p, b"x\n").unwrap();
        assert_eq!(open_append_whole(&p).unwrap().1, 0);
        // A file with no newline at all is one torn line.
        std::fs::write(&p, vec![b'y'; 100_000]).unwrap();
        assert_eq!(open_append_whole(&p).unwrap().1, 100_000);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 0);
    }
}
