//! Log sources of hitstream: files (read once or followed across rotation, with
//! checkpoints), stdin, newline-delimited TCP, syslog over UDP and TCP, and a spool that
//! makes network input durable.
//!
//! Every source hands out [`Batch`]es of complete lines through [`Source::poll`], which
//! waits at most a given time so the caller can run its timers (watermarks, flushes) while
//! input is quiet. A line is `\n`-terminated; a last line without `\n` is delivered only when
//! no more can come (end of a file in non-follow mode, a file rotated away, a closed
//! connection, the end of stdin).
//!
//! # Exactly-once from files
//!
//! [`FileSource`] knows files by a [`Fingerprint`] of their first bytes, not by path, so
//! rotation by rename, copytruncate and compression of rotated files neither lose nor repeat
//! lines. Each batch carries the position after it ([`Batch::positions`]). The source never
//! persists anything: the consumer processes a batch, applies its positions to a
//! [`Checkpoint`] ([`Checkpoint::apply`]) and persists that checkpoint *together with its own
//! state* (atomically: [`Checkpoint::save_atomic`] writes a temp file, fsyncs, renames and
//! fsyncs the directory). After a crash, a source built from the last persisted checkpoint
//! reads exactly the lines after it: batches processed but not persisted come again, and are
//! processed again from the same state.
//!
//! A consumer that instead writes ahead which batches an epoch read records each batch's
//! [`FileExtent`] ([`Batch::file_extent`]: fingerprint, byte range, line count) and after a
//! crash re-reads exactly those extents with [`FileSource::reread`] (or a [`Rereader`]): each
//! is found by fingerprint wherever rotation has moved it (renamed, copied by copytruncate,
//! compressed) and split into the same lines, or the re-read fails saying which file is gone
//! or changed; the path alone would name another file after a rotation.
//!
//! # Network input
//!
//! [`TcpSource`] and [`SyslogSource`] cannot re-read what they received, so on their own
//! they are **at-most-once**. Run them into a [`spool`] ([`Spooler`]) and read the spool with
//! a [`FileSource`] to get the file guarantees from the moment a line is fsynced.
//!
//! # Example: follow with checkpoints
//!
//! ```
//! use std::time::Duration;
//! use hitstream_source::{Checkpoint, FileSource, FileSourceConfig, Poll};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let log = dir.path().join("access.log");
//! std::fs::write(&log, "line 1\nline 2\npartial").unwrap();
//! let cp_path = dir.path().join("checkpoint.json");
//!
//! // Start from the last persisted positions (none on the first run).
//! let mut cp = Checkpoint::load_or_default(&cp_path).unwrap();
//! let cfg = FileSourceConfig {
//!     poll_interval_ms: 10,
//!     ..FileSourceConfig::new([dir.path().join("access.log*").to_string_lossy()])
//! };
//! let mut src = FileSource::new(cfg, &cp).unwrap();
//! let mut seen = Vec::new();
//! while seen.len() < 2 {
//!     match src.poll(Duration::from_millis(200)) {
//!         Poll::Batch(b) => {
//!             // 1. process the lines ...
//!             seen.extend(b.lines().map(|l| String::from_utf8_lossy(l).into_owned()));
//!             // 2. ... then persist the positions with the state they produced.
//!             cp.apply(&b);
//!             cp.save_atomic(&cp_path).unwrap();
//!         }
//!         Poll::Idle => { /* run timers */ }
//!         Poll::End => break,
//!     }
//! }
//! // `partial` has no `\n` yet: a follower waits for the rest of it.
//! assert_eq!(seen, ["line 1", "line 2"]);
//! for problem in src.take_problems() {
//!     eprintln!("{problem}");
//! }
//! ```

#![warn(missing_docs)]

mod batch;
mod checkpoint;
mod error;
pub mod file;
mod fingerprint;
mod lineage;
pub mod net;
mod nofile;
pub mod reread;
pub mod spool;
pub mod stream;
pub mod syslog;

use std::time::Duration;

pub use batch::{Batch, FileExtent, Origin, MAX_LINE_BYTES};
pub use checkpoint::{write_atomic, Checkpoint, FilePosition, PositionUpdate, CHECKPOINT_VERSION};
pub use error::SourceError;
pub use file::{matching_files, FileSource, FileSourceConfig, FileStats, StartAt, WatchedFile};
pub use fingerprint::{BadFingerprint, Fingerprint, FINGERPRINT_BYTES};
pub use lineage::{LineSource, LineSourceBuf, Lineage};
pub use net::{NetStats, NetStatsHandle, TcpConfig, TcpSource};
pub use nofile::open_file_limit;
pub use reread::Rereader;
pub use spool::{FsyncPolicy, SpoolConfig, SpoolWriter, Spooler};
pub use stream::{LineLimits, StreamSource};
pub use syslog::{
    Malformed, SyslogConfig, SyslogMessage, SyslogProtocol, SyslogReject, SyslogSource,
};

/// What [`Source::poll`] returns.
#[derive(Debug)]
pub enum Poll {
    /// Lines (or only positions) to process.
    Batch(Batch),
    /// Nothing arrived within the timeout.
    Idle,
    /// The input is finished (non-follow files, end of stdin); later polls return `End`
    /// again.
    End,
}

/// A source of batches of lines.
pub trait Source: Send {
    /// Waits up to `timeout` for the next batch.
    fn poll(&mut self, timeout: Duration) -> Poll;

    /// Problems met since the last call (unreadable files, truncations, connection
    /// errors). They do not stop the source.
    fn take_problems(&mut self) -> Vec<SourceError> {
        Vec::new()
    }
}
