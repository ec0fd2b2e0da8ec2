//! What the pipeline hands its results to.
//!
//! - An [`Output`] receives window results, alerts, late and rejected lines as they come,
//!   and is flushed before every checkpoint (files of JSON lines, the late and rejects
//!   files). Across a crash it is at-least-once: what came after the last checkpoint is
//!   handed over again after the restart.
//! - An [`EpochSink`] stores an epoch (the work between two checkpoints) as a unit and says
//!   which epochs it holds, so recovery can skip what it already stored: exactly-once (the
//!   lake; a transactional Kafka producer next). Epochs handed to [`EpochSink::commit`]
//!   strictly increase.
//!
//! Every method but the name has a default, so a sink implements only what it stores.

use std::any::Any;
use std::sync::Arc;

use hitstream_format::Record;
use hitstream_source::Checkpoint;
use hitstream_window::{Alert, LateLine, WindowResult};

use crate::error::BoxError;

/// A line that could not be parsed, with where it was read and why.
#[derive(Debug, Clone, Copy)]
pub struct Reject<'a> {
    /// The file or stream it was read from.
    pub source: &'a str,
    /// Byte offset of the line in its source, when known.
    pub offset: Option<u64>,
    /// The reason code (`format_mismatch`, `bad_timestamp` ...).
    pub code: &'a str,
    /// What was wrong, for a person.
    pub explanation: &'a str,
    /// The line as read.
    pub line: &'a [u8],
    /// Where it came from, for a line read from Kafka (topic, partition, offset, origin).
    pub from: Option<hitstream_source::LineSource<'a>>,
}

/// An output that receives results as they are made.
pub trait Output: Send {
    /// A short name for messages (`jsonl windows.jsonl`).
    fn name(&self) -> &str;

    /// A window was emitted (first emission, or an update with a higher `revision`).
    fn window(&mut self, _w: &WindowResult) -> Result<(), BoxError> {
        Ok(())
    }

    /// An alert rule fired.
    fn alert(&mut self, _a: &Alert) -> Result<(), BoxError> {
        Ok(())
    }

    /// A line arrived too late for any window (or had no time).
    fn late(&mut self, _l: &LateLine) -> Result<(), BoxError> {
        Ok(())
    }

    /// A line could not be parsed.
    fn reject(&mut self, _r: &Reject<'_>) -> Result<(), BoxError> {
        Ok(())
    }

    /// Makes everything handed over so far durable; called before every checkpoint.
    fn flush(&mut self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// Rows built by a [`RowWriter`] on a parser thread, handed to the sink whose
/// [`RowEncoder`] made them. The sink downcasts them to its own type.
pub struct EncodedRows(pub Box<dyn Any + Send>);

impl std::fmt::Debug for EncodedRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncodedRows(..)")
    }
}

/// Makes per-job row writers: parsed lines are encoded for a sink on the parser threads,
/// where the cores are, instead of on the coordinator.
pub trait RowEncoder: Send + Sync {
    /// A writer for one parse job's lines.
    fn writer(&self) -> Box<dyn RowWriter>;
}

/// Encodes the parsed lines of one parse job.
pub trait RowWriter: Send {
    /// Adds a parsed line; `extra_names` are the format's extra fields, `source` and
    /// `offset` say where the line was read.
    fn push(&mut self, rec: &Record<'_>, extra_names: &[&str], source: &str, offset: u64);

    /// [`push`](RowWriter::push) of a line whose batch says where it came from (a line read
    /// from Kafka: topic, partition, offset, the shipper's origin). The default ignores it.
    fn push_from(
        &mut self,
        rec: &Record<'_>,
        extra_names: &[&str],
        source: &str,
        offset: u64,
        _from: Option<hitstream_source::LineSource<'_>>,
    ) {
        self.push(rec, extra_names, source, offset);
    }

    /// The rows of the job.
    fn finish(self: Box<Self>) -> EncodedRows;
}

/// A sink that stores epochs as units and knows which it holds.
///
/// The pipeline hands it an epoch's results, then [`EpochSink::pre_commit`] and
/// [`EpochSink::commit`] with the epoch number once the epoch is recorded ahead; the
/// checkpoint follows. After a crash, recovery asks [`EpochSink::committed_epoch`]: a sink
/// that holds the repeated epoch must skip its commit (idempotence keyed by the epoch).
pub trait EpochSink: Send {
    /// A short name for messages (`lake /var/lib/hitstream`).
    fn name(&self) -> &str;

    /// The highest epoch this sink holds (None: none yet).
    fn committed_epoch(&mut self) -> Result<Option<u64>, BoxError>;

    /// Closes epoch `epoch`: makes its results durable, idempotently (an epoch it holds
    /// already is skipped).
    fn commit(&mut self, epoch: u64) -> Result<(), BoxError>;

    /// The source positions where the epoch about to be committed began (`start`) and
    /// ends (`end`). A sink that several processes share stores the positions of parts
    /// that move between them (a consumer group's partitions) in the same commit as the
    /// epoch's rows, so that the next owner of a part starts where the stored rows end.
    fn positions(&mut self, _start: &Checkpoint, _end: &Checkpoint) -> Result<(), BoxError> {
        Ok(())
    }

    /// First step of a two-step commit (a transactional producer flushes here); the
    /// default does nothing.
    fn pre_commit(&mut self, _epoch: u64) -> Result<(), BoxError> {
        Ok(())
    }

    /// The encoder for parsed lines, when the sink stores them.
    fn encoder(&self) -> Option<Arc<dyn RowEncoder>> {
        None
    }

    /// Parsed lines encoded by this sink's [`RowEncoder`].
    fn rows(&mut self, _rows: EncodedRows) -> Result<(), BoxError> {
        Ok(())
    }

    /// A window was emitted.
    fn window(&mut self, _w: &WindowResult) -> Result<(), BoxError> {
        Ok(())
    }

    /// An alert rule fired.
    fn alert(&mut self, _a: &Alert) -> Result<(), BoxError> {
        Ok(())
    }

    /// A line could not be parsed.
    fn reject(&mut self, _r: &Reject<'_>) -> Result<(), BoxError> {
        Ok(())
    }

    /// Rows waiting for the next commit: many close the epoch early.
    fn buffered_rows(&self) -> usize {
        0
    }

    /// Housekeeping between epochs (compaction, retention); returns notes for the user.
    fn upkeep(&mut self) -> Result<Vec<String>, BoxError> {
        Ok(Vec::new())
    }
}

/// Work run between epochs on a schedule (the daily report).
pub trait Scheduled: Send {
    /// A short name for messages.
    fn name(&self) -> &str;

    /// Whether it should run now.
    fn due(&self) -> bool;

    /// Runs it; `note` tells the user what it did.
    fn run(&mut self, note: &mut dyn FnMut(String)) -> Result<(), BoxError>;
}

/// The position of a part of a source that moves between processes (a partition of a
/// consumer group's topic), as a shared epoch sink stores it with an epoch's rows.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedPart {
    /// Names the part across processes (`kafka/TOPIC/PARTITION`).
    pub key: String,
    /// The next position to read in the part: everything before it is stored.
    pub next: i64,
    /// What else the source keeps about the part (origin high-water marks), when known.
    pub state: Option<serde_json::Value>,
    /// The stored position the epoch goes on from, as this process last knew it: a later
    /// stored position means another process stored the part meanwhile (a partition's
    /// next owner, while this process repeated an epoch or had stopped answering), and the
    /// commit is refused rather than store the same lines twice. None: this process knew of
    /// no stored position.
    pub after: Option<i64>,
}

/// Where a shared epoch sink keeps the positions of parts (see [`EpochSink::positions`]):
/// the next owner of a part reads them when the part is handed to it.
pub trait PartStore: Send + Sync {
    /// The stored positions of these parts (those never stored are absent).
    fn load(&self, keys: &[String]) -> Result<Vec<SharedPart>, BoxError>;
}
