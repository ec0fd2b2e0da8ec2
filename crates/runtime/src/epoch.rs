//! The write-ahead record of epochs. An epoch is the work between two checkpoints. With an
//! epoch sink, each epoch is first recorded (which source batches, by their extents, in
//! which order, and the idle advances of the watermark), then committed to every epoch
//! sink, then checkpointed. After a crash in between, the restart repeats the recorded
//! epoch exactly from the previous checkpoint, and the sinks that already hold it skip it.

use std::path::{Path, PathBuf};

use hitstream_source::{Batch, Checkpoint};
use serde::{Deserialize, Serialize};

use crate::error::RuntimeError;

const EPOCH_DIR: &str = "epochs";

/// One source batch of an epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordedBatch {
    /// Index of the source in the pipeline.
    pub source: usize,
    /// Lines in the batch.
    pub lines: u64,
    /// The name its rows are stored under (a file's path when it was read).
    pub origin: String,
    /// Where to read it again (replayable sources), as the source described it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extent: Option<serde_json::Value>,
}

/// What one epoch read and did, in order.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EpochRecord {
    pub epoch: u64,
    /// Source batches in the order they were cut into jobs.
    pub batches: Vec<RecordedBatch>,
    /// Idle advances of the watermark: (engine sequence number then, seconds). They follow
    /// the wall clock, so a replay takes them from here instead of recomputing them.
    pub idles: Vec<(u64, u64)>,
    /// Wall-clock readings fed to the engine (live sources): (engine sequence number then,
    /// Unix seconds). Like idle advances they are taken from here by a replay.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clocks: Vec<(u64, i64)>,
    /// The input ended (every window closed) in this epoch.
    pub finished: bool,
    /// Source positions at the end of the epoch.
    pub positions: Checkpoint,
}

impl EpochRecord {
    pub fn read(&mut self, source: usize, batch: &Batch, extent: Option<serde_json::Value>) {
        self.batches.push(RecordedBatch {
            source,
            lines: batch.len() as u64,
            origin: batch.origin_name(),
            extent,
        });
    }

    pub fn has_work(&self) -> bool {
        !self.batches.is_empty() || !self.idles.is_empty() || self.finished
    }
}

/// The directory of epoch records.
#[derive(Debug, Clone)]
pub(crate) struct EpochLog {
    dir: PathBuf,
}

fn state_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RuntimeError {
    let path = path.to_path_buf();
    move |source| RuntimeError::State { what, path, source }
}

impl EpochLog {
    pub fn new(checkpoint_dir: &Path) -> EpochLog {
        EpochLog {
            dir: checkpoint_dir.join(EPOCH_DIR),
        }
    }

    fn path(&self, n: u64) -> PathBuf {
        self.dir.join(format!("{n:010}.json"))
    }

    /// Writes the record of epoch `rec.epoch` durably.
    pub fn write(&self, rec: &EpochRecord) -> Result<(), RuntimeError> {
        std::fs::create_dir_all(&self.dir).map_err(state_err("epoch directory", &self.dir))?;
        let path = self.path(rec.epoch);
        let bytes = serde_json::to_vec(rec).expect("an epoch record serializes");
        hitstream_source::write_atomic(&path, &bytes).map_err(state_err("epoch record", &path))
    }

    pub fn remove(&self, n: u64) -> Result<(), RuntimeError> {
        remove_if_there(&self.path(n))
    }

    /// Removes the records of epochs up to `durable` (a crash before their removal) and
    /// returns the record of epoch `durable + 1`, if there is one.
    pub fn unfinished(&self, durable: u64) -> Result<Option<EpochRecord>, RuntimeError> {
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            for e in rd.flatten() {
                let n = e
                    .file_name()
                    .to_str()
                    .and_then(|f| f.strip_suffix(".json"))
                    .and_then(|f| f.parse::<u64>().ok());
                if n.is_some_and(|n| n <= durable) {
                    remove_if_there(&e.path())?;
                }
            }
        }
        let next = self.path(durable + 1);
        match std::fs::read(&next) {
            Ok(b) => serde_json::from_slice::<EpochRecord>(&b)
                .map(Some)
                .map_err(|e| RuntimeError::Damaged {
                    what: "epoch record",
                    path: next,
                    detail: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(state_err("epoch record", &next)(e)),
        }
    }
}

fn remove_if_there(p: &Path) -> Result<(), RuntimeError> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(state_err("epoch record", p)(e)),
        _ => Ok(()),
    }
}
