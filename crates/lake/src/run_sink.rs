//! The lake as an epoch sink of the run pipeline: rows of an epoch are buffered in memory
//! and committed to the Delta tables when the epoch closes, each table with the application
//! transaction (`hitstream-run`, epoch). A table that already holds the epoch (a crash
//! between two tables' commits) is skipped, so repeating an epoch stores nothing twice.
//!
//! Upkeep runs between epochs: compaction on a schedule, and retention relative to the
//! newest data seen (so that loading an old log does not delete it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use deltalake::arrow::array::RecordBatch;
use hitstream_format::Record;
use hitstream_runtime::{
    BoxError, EncodedRows, EpochSink, PartStore, Reject, RowEncoder, RowWriter, SharedPart,
};
use hitstream_source::Checkpoint;
use hitstream_window::{Alert, WindowResult};

use crate::lake::{Lake, LakeError, WindowShape, WINDOW_INFO};
use hitstream_rows::{utc_day, AlertRows, RejectRows, RequestRows, TableKind, WindowRows};

/// Application id of the run pipeline's commits.
pub const RUN_APP: &str = "hitstream-run";

/// Upkeep of a [`LakeSink`].
#[derive(Debug, Clone, Default)]
pub struct RunSinkOptions {
    /// Compaction (and retention) every this long; None: never.
    pub optimize_every: Option<Duration>,
    /// Keep this much history, counted back from the newest data seen.
    pub retention: Option<Duration>,
    /// The run's windows, stored with its `requests` commits: the merged view of several
    /// processes' windows reads them there.
    pub window: Option<WindowShape>,
}

/// Which shared parts moved in an epoch, from the positions where it began and ends
/// (`hitstream_kafka::shared_parts` for a consumer group's partitions).
pub type PartsOf = Box<dyn Fn(&Checkpoint, &Checkpoint) -> Vec<SharedPart> + Send>;

/// Buffers an epoch's rows and commits them to the lake.
pub struct LakeSink {
    name: String,
    lake: Lake,
    location: String,
    /// The application id of this process's commits.
    app: String,
    parts_of: Option<PartsOf>,
    /// Positions of shared parts to store with the epoch under commit.
    parts: Vec<SharedPart>,
    window: Option<WindowShape>,
    requests: Vec<RecordBatch>,
    request_rows: usize,
    windows: WindowRows,
    alerts: AlertRows,
    rejects: RejectRows,
    optimize_every: Option<Duration>,
    last_optimize: Instant,
    retention: Option<Duration>,
    /// Newest event time seen (UTC seconds): the reference for retention.
    newest: Option<i64>,
}

impl LakeSink {
    /// Opens the lake at `location` (a directory or URL) and creates its tables.
    pub fn open(location: &str, opts: RunSinkOptions) -> Result<LakeSink, LakeError> {
        let mut lake = Lake::open(location)?;
        // The pipeline waits for each epoch's commit: encode it on every core.
        lake.set_write_threads(std::thread::available_parallelism().map_or(2, |n| n.get()));
        lake.create_tables()?;
        Ok(LakeSink {
            name: format!("the lake at `{location}`"),
            lake,
            location: location.to_string(),
            app: RUN_APP.to_string(),
            parts_of: None,
            parts: Vec::new(),
            window: opts.window,
            requests: Vec::new(),
            request_rows: 0,
            windows: WindowRows::new(),
            alerts: AlertRows::new(),
            rejects: RejectRows::new(),
            optimize_every: opts.optimize_every,
            last_optimize: Instant::now(),
            retention: opts.retention,
            newest: None,
        })
    }
}

impl LakeSink {
    /// Makes this sink one of several processes that share the lake (the members of a
    /// consumer group): its commits go under `hitstream-run/INSTANCE`, so each process keeps
    /// its own epochs, and the positions of the parts that `parts_of` finds moved in an
    /// epoch are stored in the same commit as the epoch's `requests` rows.
    pub fn shared(mut self, instance: &str, parts_of: PartsOf) -> LakeSink {
        self.app = format!("{RUN_APP}/{instance}");
        self.parts_of = Some(parts_of);
        self
    }

    /// The application id of this sink's commits.
    pub fn app(&self) -> &str {
        &self.app
    }

    /// Where the positions this sink stores are read back, for the sources whose parts
    /// move between the processes sharing it.
    pub fn part_store(&self) -> Result<Arc<dyn PartStore>, LakeError> {
        Ok(Arc::new(LakeParts(std::sync::Mutex::new(Lake::open(
            &self.location,
        )?))))
    }
}

/// The positions of shared parts as stored in `requests`.
struct LakeParts(std::sync::Mutex<Lake>);

impl PartStore for LakeParts {
    fn load(&self, keys: &[String]) -> Result<Vec<SharedPart>, BoxError> {
        let mut lake = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Ok(lake.stored_parts(TableKind::Requests, keys)?)
    }
}

/// Builds `requests` rows on the parser threads.
struct RequestEncoder;

struct RequestWriter(RequestRows);

impl RowEncoder for RequestEncoder {
    fn writer(&self) -> Box<dyn RowWriter> {
        Box::new(RequestWriter(RequestRows::new()))
    }
}

impl RowWriter for RequestWriter {
    fn push(&mut self, rec: &Record<'_>, extra_names: &[&str], source: &str, offset: u64) {
        self.0.push(rec, extra_names, source, Some(offset));
    }

    fn push_from(
        &mut self,
        rec: &Record<'_>,
        extra_names: &[&str],
        source: &str,
        offset: u64,
        from: Option<hitstream_source::LineSource<'_>>,
    ) {
        match from {
            // A Kafka line's place in its batch is no position anywhere: the lineage
            // columns say where it came from, and `offset` stays null.
            Some(f) => self.0.push_from(
                rec,
                extra_names,
                source,
                None,
                Some(hitstream_rows::KafkaLineage {
                    topic: f.topic,
                    partition: f.partition,
                    offset: f.offset,
                    line: f.index,
                    origin: f.origin,
                }),
            ),
            None => self.0.push(rec, extra_names, source, Some(offset)),
        }
    }

    fn finish(mut self: Box<Self>) -> EncodedRows {
        EncodedRows(Box::new(self.0.finish()))
    }
}

impl std::fmt::Debug for LakeSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl EpochSink for LakeSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn committed_epoch(&mut self) -> Result<Option<u64>, BoxError> {
        let mut held: Option<u64> = None;
        for kind in TableKind::ALL {
            if kind == TableKind::Reports {
                continue;
            }
            if let Some(v) = self.lake.committed(kind, &self.app)? {
                held = Some(held.map_or(v as u64, |h| h.max(v as u64)));
            }
        }
        Ok(held)
    }

    fn encoder(&self) -> Option<Arc<dyn RowEncoder>> {
        Some(Arc::new(RequestEncoder))
    }

    fn rows(&mut self, rows: EncodedRows) -> Result<(), BoxError> {
        let rows = rows
            .0
            .downcast::<RecordBatch>()
            .map_err(|_| "rows of another encoder")?;
        self.request_rows += rows.num_rows();
        self.requests.push(*rows);
        Ok(())
    }

    fn window(&mut self, w: &WindowResult) -> Result<(), BoxError> {
        self.newest = Some(self.newest.map_or(w.window_end, |n| n.max(w.window_end)));
        self.windows.push(w);
        Ok(())
    }

    fn alert(&mut self, a: &Alert) -> Result<(), BoxError> {
        self.alerts.push(a);
        Ok(())
    }

    fn reject(&mut self, r: &Reject<'_>) -> Result<(), BoxError> {
        // As in `requests`: a Kafka line's place in its batch is no position; the lineage
        // columns say where it came from.
        let from = r.from.map(|f| hitstream_rows::KafkaLineage {
            topic: f.topic,
            partition: f.partition,
            offset: f.offset,
            line: f.index,
            origin: f.origin,
        });
        let offset = if from.is_some() { None } else { r.offset };
        self.rejects
            .push_from(r.source, offset, r.code, r.explanation, r.line, from);
        Ok(())
    }

    fn buffered_rows(&self) -> usize {
        self.request_rows
    }

    fn positions(&mut self, start: &Checkpoint, end: &Checkpoint) -> Result<(), BoxError> {
        self.parts = match &self.parts_of {
            Some(f) => f(start, end),
            None => Vec::new(),
        };
        Ok(())
    }

    fn commit(&mut self, epoch: u64) -> Result<(), BoxError> {
        let n = epoch as i64;
        let tables = [
            (TableKind::Requests, std::mem::take(&mut self.requests)),
            (TableKind::Windows, vec![self.windows.finish()]),
            (TableKind::Alerts, vec![self.alerts.finish()]),
            (TableKind::Rejects, vec![self.rejects.finish()]),
        ];
        self.request_rows = 0;
        // The parts' positions go with the rows they end: the next owner of a partition
        // starts where these rows end.
        let parts = std::mem::take(&mut self.parts);
        for (kind, batches) in tables {
            let mut info = serde_json::Map::new();
            let parts: &[SharedPart] = if kind == TableKind::Requests {
                if let Some(w) = &self.window {
                    info.insert(
                        WINDOW_INFO.into(),
                        serde_json::to_value(w).expect("a window shape serializes"),
                    );
                }
                &parts
            } else {
                &[]
            };
            self.lake
                .commit_parts(kind, &self.app, n, batches, parts, info)
                .map_err(|e| {
                    if hitstream_runtime::is_disk_full(&e) {
                        format!(
                            "no space left on device while committing epoch {n} to `{}`; \
                             nothing was lost: restart when there is room",
                            kind.name()
                        )
                    } else {
                        format!("committing epoch {n}: {e}")
                    }
                })?;
        }
        Ok(())
    }

    /// Compaction and retention, every `optimize_interval`.
    fn upkeep(&mut self) -> Result<Vec<String>, BoxError> {
        let mut notes = Vec::new();
        let Some(every) = self.optimize_every else {
            return Ok(notes);
        };
        if self.last_optimize.elapsed() < every {
            return Ok(notes);
        }
        self.last_optimize = Instant::now();
        if let (Some(keep), Some(newest)) = (self.retention, self.newest) {
            let day = utc_day(newest - keep.as_secs() as i64);
            let s = self
                .lake
                .retain_from(&day)
                .map_err(|e| format!("applying the retention: {e}"))?;
            if s.rows_deleted > 0 {
                notes.push(format!(
                    "lake: retention removed {} rows before {day}",
                    s.rows_deleted
                ));
            }
        }
        let s = self
            .lake
            .optimize()
            .map_err(|e| format!("compacting the lake: {e}"))?;
        if s.files_removed > 0 {
            notes.push(format!(
                "lake: compacted {} files into {}",
                s.files_removed, s.files_added
            ));
        }
        Ok(notes)
    }
}
