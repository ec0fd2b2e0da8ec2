//! The hitstream pipeline as a library: sources → parse on all cores → event-time windows
//! and alerts → outputs, epoch sinks and subscribers; with checkpoints, a write-ahead
//! record of epochs and exact recovery after a crash.
//!
//! A [`Pipeline`] is built from validated settings ([`PipelineSpec`]), sources
//! ([`SourceSpec`]: files, stdin, TCP, syslog, spools, or any [`RunSource`] through a
//! factory), [`Output`]s (at-least-once: JSON lines, late and rejects files), [`EpochSink`]s
//! (exactly-once: they commit an epoch as a unit and say which epochs they hold: the lake)
//! and [`Scheduled`] work (the daily report). [`Pipeline::start`] returns a [`Handle`] with
//! `stop()`, `status()` and `subscribe()`: the console, the live view and the HTTP server
//! all read the same stream of [`Event`]s and the same [`Status`].
//!
//! # Exactly-once
//!
//! The work between two checkpoints is an epoch. With an epoch sink, each epoch is first
//! recorded ahead (its source batches by their *extents* — for files the fingerprint, the
//! path when read and the byte range — in order, with the idle advances of the watermark),
//! then committed to every epoch sink (keyed by the epoch number), then checkpointed with
//! the source positions and the window state in one atomic file. After a kill -9 at any
//! moment, the restart loads the checkpoint, repeats the recorded epoch by reading each
//! extent again wherever the file is now (renamed by rotation, or the copy copytruncate
//! left), and the sinks that hold it already skip it. Sources that cannot be read again
//! (stdin, sockets without a spool) are at-most-once; what could not be read again is
//! reported and counted ([`Counters::lost`]).
//!
//! # Example
//!
//! ```
//! use std::io::Write;
//! use hitstream_runtime::{Event, Pipeline, PipelineSpec, SourceSpec};
//! use hitstream_window::EngineConfig;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let log = dir.path().join("access.log");
//! let mut f = std::fs::File::create(&log).unwrap();
//! for s in 0..90 {
//!     writeln!(f, "10.0.0.1 - - [25/Jul/2024:10:00:{:02} +0000] \"GET /a HTTP/1.1\" 200 5", s % 60).unwrap();
//! }
//! let spec = PipelineSpec::new("common", EngineConfig { size: 60, ..EngineConfig::default() });
//! let mut p = Pipeline::new(spec).source(SourceSpec::Files {
//!     paths: vec![log.display().to_string()],
//!     follow: false,
//!     poll_interval: None,
//! });
//! let events = p.subscribe();
//! let status = p.start().unwrap().wait().unwrap();
//! assert_eq!(status.counters.lines, 90);
//! let requests: u64 = events
//!     .iter()
//!     .filter_map(|e| match e { Event::Window(w) => Some(w.requests), _ => None })
//!     .sum();
//! assert_eq!(requests, 90);
//! ```

mod checkpoint;
mod coordinator;
mod epoch;
mod error;
pub mod output;
mod parse;
mod pipeline;
mod sink;
mod source;
mod stats;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use checkpoint::{saved_summary, SavedSummary};
pub use error::{is_disk_full, BoxError, RuntimeError};
pub use pipeline::{Event, Handle, Pipeline, PipelineSpec, Stopper, Watch, IN_FLIGHT};
pub use sink::{
    EncodedRows, EpochSink, Output, PartStore, Reject, RowEncoder, RowWriter, Scheduled, SharedPart,
};
pub use source::{
    Barrier, FileInput, Lag, RunSource, SourceFactory, SourceSpec, Stream, Transport,
};
pub use stats::{Counters, NetProbe, NetStatus, Phase, SourceStatus, Status};
