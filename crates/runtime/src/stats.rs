//! One set of counters for the whole pipeline, and the [`Status`] snapshot that the live
//! view, the console summary and the metrics read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Counts since the first start (they are checkpointed, so a restart goes on counting).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Lines read and parsed (ok + degraded + rejected).
    pub lines: u64,
    /// Lines parsed cleanly.
    pub ok: u64,
    /// Lines parsed with a recorded oddity.
    pub degraded: u64,
    /// Lines rejected with a reason.
    pub rejected: u64,
    /// Lines too late for their window.
    pub late: u64,
    /// Lines too far ahead of the event clock (`--max-future`, `--max-jump`): stored like
    /// every line, written to the late file with reason `future`, counted by no window.
    #[serde(default)]
    pub future: u64,
    /// Window results emitted (updates included).
    pub windows: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Lines of a repeated epoch that could not be read again (a file deleted before the
    /// restart, a socket): reported, and missing from sinks that had not stored them.
    #[serde(default)]
    pub lost: u64,
    /// Degraded lines by oddity name (a line with two oddities counts under both): when
    /// most lines share one, the format is probably wrong.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub oddities: BTreeMap<String, u64>,
    /// Rejected lines by reason code (`format_mismatch`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub reject_reasons: BTreeMap<String, u64>,
}

/// One source, as the status shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceStatus {
    /// Its name (`tail /var/log/nginx/access.log*`).
    pub name: String,
    /// Whether its lines can be read again after a crash (files, spools).
    pub replayable: bool,
    /// Its input ended.
    pub ended: bool,
    /// How far it is behind its input, at the last status.
    pub lag: crate::source::Lag,
    /// Listening sources: their connections and spool, at the last status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net: Option<NetStatus>,
    /// Reads `net` (set by the pipeline from [`crate::RunSource::net_probe`]).
    #[serde(skip)]
    pub probe: Option<NetProbe>,
}

/// The connections and the spool of a listening source (`--tcp`, `--syslog`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NetStatus {
    /// Connections, lines and datagrams received.
    pub connections: Option<hitstream_source::NetStats>,
    /// The spool, when there is one.
    pub spool: Option<hitstream_source::spool::SpoolStats>,
}

/// Reads a listening source's counters from any thread (the source itself lives on its
/// own thread).
#[derive(Clone)]
pub struct NetProbe(pub std::sync::Arc<dyn Fn() -> NetStatus + Send + Sync>);

impl NetProbe {
    /// The counters now.
    pub fn get(&self) -> NetStatus {
        (self.0)()
    }
}

impl std::fmt::Debug for NetProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NetProbe")
    }
}

impl PartialEq for NetProbe {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for NetProbe {}

/// Where the pipeline stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Opening, recovering.
    #[default]
    Starting,
    /// Reading input.
    Running,
    /// Stopping: draining, the last checkpoint.
    Stopping,
    /// Done.
    Ended,
}

/// A snapshot of the pipeline: what the live view shows and the metrics export.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Status {
    /// The phase.
    pub phase: Phase,
    /// Counters (since the first start, across restarts).
    pub counters: Counters,
    /// Lines per second over the last status interval.
    pub lines_per_sec: f64,
    /// The watermark (UTC seconds), once there is one. After the input ended it stays at the
    /// last one the events moved it to: closing every window moves the engine's watermark to
    /// the end of time, which is no time a user can read (see `input_ended`).
    pub watermark: Option<i64>,
    /// The input ended and every window was closed: no watermark delay applies any more.
    pub input_ended: bool,
    /// The last durable epoch.
    pub epoch: u64,
    /// Checkpoints taken by this process.
    pub checkpoints: u64,
    /// Unix seconds of the last checkpoint taken by this process.
    pub last_checkpoint: Option<i64>,
    /// Epoch commits to the epoch sinks by this process.
    pub commits: u64,
    /// Seconds spent in those commits, in all.
    pub commit_seconds: f64,
    /// Seconds the last commit took.
    pub last_commit_seconds: Option<f64>,
    /// Rows waiting for the next epoch sink commit.
    pub buffered_rows: usize,
    /// Files with a position in the checkpoint.
    pub checkpoint_files: usize,
    /// Parse jobs applied by this process.
    pub jobs: u64,
    /// The sources.
    pub sources: Vec<SourceStatus>,
}

impl Status {
    /// The sources' names joined for a one-line description.
    pub fn sources_desc(&self) -> String {
        self.sources
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(" + ")
    }
}
