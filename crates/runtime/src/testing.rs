//! Fault injection for crash tests (feature `testing`): an in-memory epoch sink that stores
//! each epoch once, and a wrapper that fails an epoch sink at a chosen stage of a chosen
//! epoch. A pipeline whose sink fails stops at once without a checkpoint, as after a kill
//! -9 at that moment; a new pipeline on the same checkpoint directory then recovers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use hitstream_format::Record;
use hitstream_window::{Alert, WindowResult};

use crate::error::BoxError;
use crate::sink::{EncodedRows, EpochSink, Reject, RowEncoder, RowWriter};

/// What a [`MemorySink`] holds, shared with the test.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    /// Committed epochs, in order.
    pub epochs: Vec<u64>,
    /// Stored lines: (source, byte offset, request path), in commit order.
    pub lines: Vec<StoredLine>,
    /// Stored windows.
    pub windows: Vec<WindowResult>,
    /// Stored alerts.
    pub alerts: Vec<Alert>,
    /// Stored rejects: (source, offset, code).
    pub rejects: Vec<(String, Option<u64>, String)>,
}

/// A stored line: where it was read and its request path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoredLine {
    /// The source name stored with it.
    pub source: String,
    /// Its byte offset.
    pub offset: u64,
    /// Its request path.
    pub path: String,
}

#[derive(Default)]
struct Pending {
    lines: Vec<StoredLine>,
    windows: Vec<WindowResult>,
    alerts: Vec<Alert>,
    rejects: Vec<(String, Option<u64>, String)>,
}

/// An epoch sink in memory, idempotent by epoch like the lake. Clone the store handle
/// before handing the sink to a pipeline to look at what it holds afterwards.
pub struct MemorySink {
    name: String,
    store: Arc<Mutex<MemoryStore>>,
    pending: Pending,
}

impl MemorySink {
    /// A sink over a store (share one store across restarts).
    pub fn new(store: Arc<Mutex<MemoryStore>>) -> MemorySink {
        MemorySink {
            name: "memory".into(),
            store,
            pending: Pending::default(),
        }
    }
}

struct LineEncoder;
struct LineWriter(Vec<StoredLine>);

impl RowEncoder for LineEncoder {
    fn writer(&self) -> Box<dyn RowWriter> {
        Box::new(LineWriter(Vec::new()))
    }
}

impl RowWriter for LineWriter {
    fn push(&mut self, rec: &Record<'_>, _extra: &[&str], source: &str, offset: u64) {
        self.0.push(StoredLine {
            source: source.to_string(),
            offset,
            path: String::from_utf8_lossy(rec.path().unwrap_or(b"")).into_owned(),
        });
    }
    fn finish(self: Box<Self>) -> EncodedRows {
        EncodedRows(Box::new(self.0))
    }
}

impl std::fmt::Debug for MemorySink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemorySink")
    }
}

impl EpochSink for MemorySink {
    fn name(&self) -> &str {
        &self.name
    }
    fn committed_epoch(&mut self) -> Result<Option<u64>, BoxError> {
        Ok(self.store.lock().unwrap().epochs.last().copied())
    }
    fn encoder(&self) -> Option<Arc<dyn RowEncoder>> {
        Some(Arc::new(LineEncoder))
    }
    fn rows(&mut self, rows: EncodedRows) -> Result<(), BoxError> {
        let v = rows
            .0
            .downcast::<Vec<StoredLine>>()
            .map_err(|_| "rows of another encoder")?;
        self.pending.lines.extend(*v);
        Ok(())
    }
    fn window(&mut self, w: &WindowResult) -> Result<(), BoxError> {
        self.pending.windows.push(w.clone());
        Ok(())
    }
    fn alert(&mut self, a: &Alert) -> Result<(), BoxError> {
        self.pending.alerts.push(a.clone());
        Ok(())
    }
    fn reject(&mut self, r: &Reject<'_>) -> Result<(), BoxError> {
        self.pending
            .rejects
            .push((r.source.to_string(), r.offset, r.code.to_string()));
        Ok(())
    }
    fn buffered_rows(&self) -> usize {
        self.pending.lines.len()
    }
    fn commit(&mut self, epoch: u64) -> Result<(), BoxError> {
        let p = std::mem::take(&mut self.pending);
        let mut s = self.store.lock().unwrap();
        if s.epochs.last().is_some_and(|&e| e >= epoch) {
            return Ok(()); // held already: a repeated epoch
        }
        s.epochs.push(epoch);
        s.lines.extend(p.lines);
        s.windows.extend(p.windows);
        s.alerts.extend(p.alerts);
        s.rejects.extend(p.rejects);
        Ok(())
    }
}

/// Where [`FailAt`] fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// After the epoch's record is written, before any commit.
    BeforeCommit,
    /// After the inner sink committed, before the checkpoint.
    AfterCommit,
}

/// Wraps an epoch sink and fails at `stage` of epoch `epoch` (once: the store outlives it).
#[derive(Debug)]
pub struct FailAt<S> {
    inner: S,
    stage: Stage,
    epoch: u64,
}

impl<S: EpochSink> FailAt<S> {
    /// Fails `inner` at `stage` of `epoch`.
    pub fn new(inner: S, stage: Stage, epoch: u64) -> FailAt<S> {
        FailAt {
            inner,
            stage,
            epoch,
        }
    }
}

/// The error a [`FailAt`] sink returns.
pub const INJECTED: &str = "injected crash";

impl<S: EpochSink> EpochSink for FailAt<S> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn committed_epoch(&mut self) -> Result<Option<u64>, BoxError> {
        self.inner.committed_epoch()
    }
    fn pre_commit(&mut self, epoch: u64) -> Result<(), BoxError> {
        if self.stage == Stage::BeforeCommit && epoch == self.epoch {
            return Err(INJECTED.into());
        }
        self.inner.pre_commit(epoch)
    }
    fn commit(&mut self, epoch: u64) -> Result<(), BoxError> {
        self.inner.commit(epoch)?;
        if self.stage == Stage::AfterCommit && epoch == self.epoch {
            return Err(INJECTED.into());
        }
        Ok(())
    }
    fn encoder(&self) -> Option<Arc<dyn RowEncoder>> {
        self.inner.encoder()
    }
    fn rows(&mut self, rows: EncodedRows) -> Result<(), BoxError> {
        self.inner.rows(rows)
    }
    fn window(&mut self, w: &WindowResult) -> Result<(), BoxError> {
        self.inner.window(w)
    }
    fn alert(&mut self, a: &Alert) -> Result<(), BoxError> {
        self.inner.alert(a)
    }
    fn reject(&mut self, r: &Reject<'_>) -> Result<(), BoxError> {
        self.inner.reject(r)
    }
    fn buffered_rows(&self) -> usize {
        self.inner.buffered_rows()
    }
    fn upkeep(&mut self) -> Result<Vec<String>, BoxError> {
        self.inner.upkeep()
    }
}

/// How often each request path was stored: in an exactly-once run of lines with unique
/// paths, every path once.
pub fn path_counts(lines: &[StoredLine]) -> BTreeMap<String, u32> {
    let mut m = BTreeMap::new();
    for l in lines {
        *m.entry(l.path.clone()).or_insert(0) += 1;
    }
    m
}
