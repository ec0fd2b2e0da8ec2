//! `hitstream analyze --store`: batch loading of files into the lake.
//!
//! Parser threads turn chunks into `requests` and `rejects` rows; the loader puts chunks
//! back in order and commits them in groups of about [`COMMIT_ROWS`] rows. Each commit
//! carries the application transaction (`hitstream-load/<inputs>`, n): the id names the
//! inputs (paths, sizes, modification times) and n counts commits, and the grouping depends
//! only on the input, so loading the same files again (or again after a crash) commits only
//! what is not there yet.

use std::collections::BTreeMap;
use std::hash::Hasher;

use anyhow::Context;
use crossbeam_channel::Receiver;
use hitstream_lake::arrow::array::RecordBatch;
use hitstream_lake::{Lake, TableKind};

/// Rows per commit: files of a few MB, and memory bounded to a few hundred MB.
pub const COMMIT_ROWS: usize = 1 << 18;

/// A chunk's rows: (chunk sequence number, requests, rejects).
pub type ChunkRows = (u64, RecordBatch, RecordBatch);

/// A load in progress.
pub struct Load {
    lake: Lake,
    app: String,
}

/// What a load did.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Requests rows committed now.
    pub rows: u64,
    /// Rejects rows committed now.
    pub rejects: u64,
    /// Commits made.
    pub commits: u64,
    /// Commits skipped because the lake already held them.
    pub skipped: u64,
    /// Seconds spent.
    pub secs: f64,
}

impl Loaded {
    /// One line for the user.
    pub fn describe(&self, data: &str) -> String {
        let rate = if self.secs > 0.0 {
            self.rows as f64 / self.secs
        } else {
            0.0
        };
        let mut s = format!(
            "lake {data}: stored {} requests rows and {} rejects in {} commits ({:.0} rows/s)",
            self.rows, self.rejects, self.commits, rate
        );
        if self.skipped > 0 {
            s.push_str(&format!(
                "; {} commits were already in the lake (same input loaded before)",
                self.skipped
            ));
        }
        s
    }
}

/// FNV-1a: a hash that stays the same across builds and platforms.
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// The application id of a load of `inputs`.
fn app_id(inputs: &[String]) -> String {
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    for p in inputs {
        if p == "-" {
            // stdin cannot be recognised again: every load of it is new.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            h.write(format!("stdin {now} {}", std::process::id()).as_bytes());
            continue;
        }
        let path = std::fs::canonicalize(p).unwrap_or_else(|_| p.into());
        h.write(path.to_string_lossy().as_bytes());
        if let Ok(m) = std::fs::metadata(p) {
            h.write(&m.len().to_le_bytes());
            if let Ok(t) = m.modified() {
                let t = t
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                h.write(&t.to_le_bytes());
            }
        }
        h.write(b"\0");
    }
    format!("hitstream-load/{:016x}", h.finish())
}

impl Load {
    /// Opens the lake for a load of `inputs`.
    pub fn open(data: &str, inputs: &[String]) -> anyhow::Result<Load> {
        let mut lake = Lake::open(data).with_context(|| format!("opening the lake at `{data}`"))?;
        lake.create_tables()
            .with_context(|| format!("creating the tables in `{data}`"))?;
        Ok(Load {
            lake,
            app: app_id(inputs),
        })
    }

    /// Commits chunks as they arrive, in order. On an error it keeps draining the channel
    /// (so the parser threads finish) and returns the error at the end.
    pub fn run(mut self, rx: Receiver<ChunkRows>) -> anyhow::Result<Loaded> {
        let started = std::time::Instant::now();
        let mut out = Loaded::default();
        let mut waiting: BTreeMap<u64, (RecordBatch, RecordBatch)> = BTreeMap::new();
        let mut next = 0u64;
        let mut group: (Vec<RecordBatch>, Vec<RecordBatch>, usize) = (Vec::new(), Vec::new(), 0);
        let mut version = 0i64;
        let mut failed: Option<anyhow::Error> = None;
        let done = self
            .lake
            .committed(TableKind::Requests, &self.app)?
            .unwrap_or(0);
        let mut commit = |lake: &mut Lake,
                          group: &mut (Vec<RecordBatch>, Vec<RecordBatch>, usize),
                          out: &mut Loaded|
         -> anyhow::Result<()> {
            version += 1;
            let (req, rej, _) = std::mem::take(group);
            if version <= done {
                out.skipped += 1;
                return Ok(());
            }
            let rows: usize = req.iter().map(|b| b.num_rows()).sum();
            let rejects: usize = rej.iter().map(|b| b.num_rows()).sum();
            lake.commit(TableKind::Rejects, &self.app, version, rej)?;
            lake.commit(TableKind::Requests, &self.app, version, req)?;
            out.rows += rows as u64;
            out.rejects += rejects as u64;
            out.commits += 1;
            Ok(())
        };
        for (seq, req, rej) in rx.iter() {
            if failed.is_some() {
                continue;
            }
            waiting.insert(seq, (req, rej));
            while let Some((req, rej)) = waiting.remove(&next) {
                next += 1;
                group.2 += req.num_rows() + rej.num_rows();
                group.0.push(req);
                group.1.push(rej);
                if group.2 >= COMMIT_ROWS {
                    if let Err(e) = commit(&mut self.lake, &mut group, &mut out) {
                        failed = Some(e);
                        break;
                    }
                }
            }
        }
        if let Some(e) = failed {
            return Err(e.context("loading into the lake"));
        }
        if group.2 > 0 {
            commit(&mut self.lake, &mut group, &mut out).context("loading into the lake")?;
        }
        out.secs = started.elapsed().as_secs_f64();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_files_have_the_same_id_and_stdin_never_does() {
        let f = vec!["Cargo.toml".to_string()];
        assert_eq!(app_id(&f), app_id(&f));
        assert_ne!(app_id(&f), app_id(&["src/main.rs".to_string()]));
        let s = vec!["-".to_string()];
        assert_ne!(app_id(&s), app_id(&s));
    }
}
