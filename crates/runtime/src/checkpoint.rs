//! The checkpoint: source positions, counters, the last durable epoch and the window
//! engine's state, in one file written atomically (temp file, fsync, rename, fsync of the
//! directory), so they always move together.

use std::path::{Path, PathBuf};

use hitstream_source::Checkpoint;
use hitstream_window::Engine;

use crate::error::RuntimeError;
use crate::stats::Counters;

const CHECKPOINT_FILE: &str = "checkpoint.bin";
const CHECKPOINT_MAGIC: &[u8] = b"HSRUN1\n";

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    positions: Checkpoint,
    counters: Counters,
    /// The last epoch whose output is durable (0: none yet).
    #[serde(default)]
    epoch: u64,
}

/// What a checkpoint holds.
pub(crate) struct Saved {
    pub positions: Checkpoint,
    pub counters: Counters,
    pub engine: Engine,
    pub epoch: u64,
}

fn path(dir: &Path) -> PathBuf {
    dir.join(CHECKPOINT_FILE)
}

pub(crate) fn save(
    dir: &Path,
    positions: &Checkpoint,
    counters: &Counters,
    engine: &Engine,
    epoch: u64,
) -> Result<(), RuntimeError> {
    let header = serde_json::to_vec(&Header {
        positions: positions.clone(),
        counters: counters.clone(),
        epoch,
    })
    .expect("a checkpoint header serializes");
    let snap = engine.snapshot();
    let mut buf = Vec::with_capacity(header.len() + snap.len() + 32);
    buf.extend_from_slice(CHECKPOINT_MAGIC);
    buf.extend_from_slice(&(header.len() as u64).to_le_bytes());
    buf.extend_from_slice(&header);
    buf.extend_from_slice(&snap);
    let path = path(dir);
    hitstream_source::write_atomic(&path, &buf).map_err(|source| RuntimeError::State {
        what: "checkpoint",
        path,
        source,
    })
}

/// What a checkpoint says of the runs that made it, read without restoring their state: for
/// a caller that tells what a resumed run added ("nothing new since ...").
#[derive(Debug, Clone)]
pub struct SavedSummary {
    /// The counters as saved, summed over every run since the checkpoint began.
    pub counters: Counters,
    /// When the checkpoint file was last written (its modification time).
    pub saved_at: Option<std::time::SystemTime>,
}

/// The [`SavedSummary`] of the checkpoint in `dir`, `None` when there is none yet.
pub fn saved_summary(dir: &Path) -> Result<Option<SavedSummary>, RuntimeError> {
    let path = path(dir);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(RuntimeError::State {
                what: "checkpoint",
                path,
                source,
            })
        }
    };
    let saved_at = file.metadata().and_then(|m| m.modified()).ok();
    let bad = |detail: String| RuntimeError::Damaged {
        what: "checkpoint",
        path: path.clone(),
        detail,
    };
    // Only the header: the window state after it can be large.
    use std::io::Read;
    let mut head = vec![0u8; CHECKPOINT_MAGIC.len() + 8];
    let mut r = std::io::BufReader::new(file);
    r.read_exact(&mut head)
        .map_err(|_| bad("cut short".into()))?;
    let rest = head
        .strip_prefix(CHECKPOINT_MAGIC)
        .ok_or_else(|| bad("no checkpoint header".into()))?;
    let n = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes"));
    let mut header = Vec::new();
    r.take(n)
        .read_to_end(&mut header)
        .map_err(|e| bad(e.to_string()))?;
    if header.len() as u64 != n {
        return Err(bad("cut short".into()));
    }
    let h: Header = serde_json::from_slice(&header).map_err(|e| bad(e.to_string()))?;
    Ok(Some(SavedSummary {
        counters: h.counters,
        saved_at,
    }))
}

pub(crate) fn load(dir: &Path) -> Result<Option<Saved>, RuntimeError> {
    let path = path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(RuntimeError::State {
                what: "checkpoint",
                path,
                source,
            })
        }
    };
    let bad = |detail: String| RuntimeError::Damaged {
        what: "checkpoint",
        path: path.clone(),
        detail,
    };
    let rest = bytes
        .strip_prefix(CHECKPOINT_MAGIC)
        .ok_or_else(|| bad("no checkpoint header".into()))?;
    if rest.len() < 8 {
        return Err(bad("cut short".into()));
    }
    let n = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes")) as usize;
    let header = rest.get(8..8 + n).ok_or_else(|| bad("cut short".into()))?;
    let h: Header = serde_json::from_slice(header).map_err(|e| bad(e.to_string()))?;
    let engine = Engine::restore(&rest[8 + n..]).map_err(|e| bad(e.to_string()))?;
    Ok(Some(Saved {
        positions: h.positions,
        counters: h.counters,
        engine,
        epoch: h.epoch,
    }))
}
