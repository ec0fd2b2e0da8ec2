//! Durable read positions: per file fingerprint, the byte offset after the last line the
//! consumer has processed.
//!
//! The source never writes a checkpoint. The consumer applies each batch's positions with
//! [`Checkpoint::apply`] after it has processed the batch, and persists the checkpoint
//! together with its own state: either as part of its own state file ([`Checkpoint`] is
//! serde), or alone with [`Checkpoint::save_atomic`] (temp file, fsync, rename, fsync of the
//! directory), so a crash leaves either the old or the new checkpoint, never a torn one.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::batch::Batch;
use crate::error::SourceError;
use crate::fingerprint::Fingerprint;

/// The checkpoint format version written by this crate.
pub const CHECKPOINT_VERSION: u32 = 1;

fn version_default() -> u32 {
    CHECKPOINT_VERSION
}

/// Where reading of one file stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePosition {
    /// Bytes of content before the next undelivered line (decompressed bytes for `.gz`).
    pub offset: u64,
    /// The path the file was last seen at (informational: identity is the fingerprint).
    pub path: PathBuf,
    /// Size on disk when the position was taken (compressed size for `.gz`).
    pub size: u64,
    /// The file is gzip-compressed.
    #[serde(default)]
    pub compressed: bool,
    /// A `.gz` file was read to its end; with an unchanged `size` it is not decompressed
    /// again after a restart.
    #[serde(default)]
    pub complete: bool,
}

/// A change of one file's position, carried by a [`Batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionUpdate {
    /// The file.
    pub fingerprint: Fingerprint,
    /// Its position after the batch.
    pub position: FilePosition,
    /// A key this one replaces: a short file's [`Fingerprint::FirstLine`] once the file has
    /// grown enough for a [`Fingerprint::Head`].
    pub replaces: Option<Fingerprint>,
}

/// Positions of every file read so far, keyed by fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Format version ([`CHECKPOINT_VERSION`]).
    #[serde(default = "version_default")]
    pub version: u32,
    /// Position per file.
    #[serde(default)]
    pub files: BTreeMap<Fingerprint, FilePosition>,
    /// Positions of sources that are not files, opaque to everything but the source (Kafka:
    /// the next offset per partition and what it has already delivered per origin), by the
    /// source's key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub streams: BTreeMap<String, serde_json::Value>,
}

impl Default for Checkpoint {
    fn default() -> Self {
        Checkpoint {
            version: CHECKPOINT_VERSION,
            files: BTreeMap::new(),
            streams: BTreeMap::new(),
        }
    }
}

impl Checkpoint {
    /// An empty checkpoint: every file is read from its start.
    pub fn new() -> Checkpoint {
        Checkpoint::default()
    }

    /// Records the positions a batch carries. Call it after the batch has been processed.
    pub fn apply(&mut self, batch: &Batch) {
        for u in batch.positions() {
            self.apply_update(u);
        }
        if let Some((key, state)) = batch.stream_state() {
            self.streams.insert(key.clone(), state.clone());
        }
    }

    /// Records one position update.
    pub fn apply_update(&mut self, u: &PositionUpdate) {
        if let Some(old) = u.replaces {
            self.files.remove(&old);
        }
        self.files.insert(u.fingerprint, u.position.clone());
    }

    /// The position of a file.
    pub fn get(&self, fp: &Fingerprint) -> Option<&FilePosition> {
        self.files.get(fp)
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file has a position.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Keeps only the files for which `keep` returns true (see
    /// [`FileSource::prune_checkpoint`](crate::FileSource::prune_checkpoint) for a safe rule).
    pub fn retain(&mut self, mut keep: impl FnMut(&Fingerprint, &FilePosition) -> bool) {
        self.files.retain(|k, v| keep(k, v));
    }

    /// Writes the checkpoint to `path` atomically: to a temp file in the same directory,
    /// fsync, rename over `path`, fsync the directory. After a crash `path` holds either the
    /// previous or this checkpoint.
    pub fn save_atomic(&self, path: impl AsRef<Path>) -> Result<(), SourceError> {
        let path = path.as_ref();
        let err = |source: io::Error| SourceError::CheckpointWrite {
            path: path.to_path_buf(),
            source,
        };
        let json = serde_json::to_vec_pretty(self).map_err(|e| err(io::Error::other(e)))?;
        write_atomic(path, &json).map_err(err)
    }

    /// Reads a checkpoint written by [`Checkpoint::save_atomic`].
    pub fn load(path: impl AsRef<Path>) -> Result<Checkpoint, SourceError> {
        let path = path.as_ref();
        let bytes = fs::read(path).map_err(|source| SourceError::CheckpointRead {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|source| SourceError::CheckpointFormat {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Like [`Checkpoint::load`], but a missing file is an empty checkpoint (first start).
    pub fn load_or_default(path: impl AsRef<Path>) -> Result<Checkpoint, SourceError> {
        let path = path.as_ref();
        match Checkpoint::load(path) {
            Err(SourceError::CheckpointRead { source, .. })
                if source.kind() == io::ErrorKind::NotFound =>
            {
                Ok(Checkpoint::default())
            }
            r => r,
        }
    }
}

/// Writes `bytes` to `path` through a temp file, fsync, rename and directory fsync.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        // The rename is durable only once the directory entry is.
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(offset: u64) -> FilePosition {
        FilePosition {
            offset,
            path: PathBuf::from("/var/log/nginx/access.log"),
            size: offset,
            compressed: false,
            complete: false,
        }
    }

    #[test]
    fn save_load_round_trip_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cp.json");
        assert_eq!(Checkpoint::load_or_default(&p).unwrap(), Checkpoint::new());
        assert!(matches!(
            Checkpoint::load(&p),
            Err(SourceError::CheckpointRead { .. })
        ));
        let mut cp = Checkpoint::new();
        cp.apply_update(&PositionUpdate {
            fingerprint: Fingerprint::Head(7),
            position: pos(10),
            replaces: None,
        });
        cp.save_atomic(&p).unwrap();
        assert_eq!(Checkpoint::load(&p).unwrap(), cp);
        // No temp file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn replaces_moves_the_key() {
        let mut cp = Checkpoint::new();
        cp.apply_update(&PositionUpdate {
            fingerprint: Fingerprint::FirstLine(1),
            position: pos(10),
            replaces: None,
        });
        cp.apply_update(&PositionUpdate {
            fingerprint: Fingerprint::Head(2),
            position: pos(300),
            replaces: Some(Fingerprint::FirstLine(1)),
        });
        assert_eq!(cp.len(), 1);
        assert_eq!(cp.get(&Fingerprint::Head(2)).unwrap().offset, 300);
    }

    #[test]
    fn bad_file_is_a_format_error_with_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cp.json");
        fs::write(&p, b"{\"files\": 3}").unwrap();
        let e = Checkpoint::load(&p).unwrap_err();
        assert!(matches!(e, SourceError::CheckpointFormat { .. }));
        assert!(e.to_string().contains("cp.json"));
    }
}
