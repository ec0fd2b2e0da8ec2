//! The lake as an output of `hitstream run`: rows of an epoch are buffered in memory and
//! committed to the Delta tables when the epoch closes, each table with the application
//! transaction (`hitstream-run`, epoch). A table that already holds the epoch (a crash
//! between two tables' commits) is skipped, so replaying an epoch stores nothing twice.
//!
//! Upkeep runs between epochs: compaction on a schedule, retention relative to the newest
//! data seen (so that loading an old log does not delete it), and the scheduled daily report.

use std::time::{Duration, Instant};

use anyhow::Context;
use hitstream_lake::arrow::array::RecordBatch;
use hitstream_lake::{AlertRows, Lake, RejectRows, TableKind, WindowRows};
use hitstream_window::{Alert, WindowResult};

use crate::config::LakeConfig;
use crate::sink::Sink;

/// Application id of the run pipeline's commits.
pub const RUN_APP: &str = "hitstream-run";

/// Buffers an epoch's rows and commits them to the lake.
pub struct LakeSink {
    lake: Lake,
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
    /// Test hook (`HITSTREAM_TEST_COMMIT_PAUSE_MS`): a pause after each table's commit,
    /// which widens the moments between two tables' commits for crash tests to hit.
    pause: Option<Duration>,
}

impl LakeSink {
    /// Opens the lake of `cfg`.
    pub fn open(cfg: &LakeConfig) -> anyhow::Result<LakeSink> {
        let mut lake = Lake::open(&cfg.data)?;
        // The pipeline waits for each epoch's commit: encode it on every core.
        lake.set_write_threads(std::thread::available_parallelism().map_or(2, |n| n.get()));
        lake.create_tables()
            .with_context(|| format!("creating the tables in `{}`", cfg.data))?;
        Ok(LakeSink {
            lake,
            requests: Vec::new(),
            request_rows: 0,
            windows: WindowRows::new(),
            alerts: AlertRows::new(),
            rejects: RejectRows::new(),
            optimize_every: (!cfg.optimize_interval.is_zero()).then_some(cfg.optimize_interval),
            last_optimize: Instant::now(),
            retention: cfg.retention,
            newest: None,
            pause: std::env::var("HITSTREAM_TEST_COMMIT_PAUSE_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .map(Duration::from_millis),
        })
    }

    /// The last epoch each table holds, for the recovery check.
    pub fn committed_epochs(&mut self) -> anyhow::Result<Vec<(TableKind, Option<i64>)>> {
        TableKind::ALL
            .into_iter()
            .filter(|k| *k != TableKind::Reports)
            .map(|k| Ok((k, self.lake.committed(k, RUN_APP)?)))
            .collect()
    }

    /// Compaction and retention, every `optimize_interval`.
    fn upkeep(&mut self) -> anyhow::Result<()> {
        let Some(every) = self.optimize_every else {
            return Ok(());
        };
        if self.last_optimize.elapsed() < every {
            return Ok(());
        }
        self.last_optimize = Instant::now();
        if let (Some(keep), Some(newest)) = (self.retention, self.newest) {
            let day = hitstream_lake::utc_day(newest - keep.as_secs() as i64);
            let s = self
                .lake
                .retain_from(&day)
                .context("applying the retention")?;
            if s.rows_deleted > 0 {
                eprintln!(
                    "lake: retention removed {} rows before {day}",
                    s.rows_deleted
                );
            }
        }
        let s = self.lake.optimize().context("compacting the lake")?;
        if s.files_removed > 0 {
            eprintln!(
                "lake: compacted {} files into {}",
                s.files_removed, s.files_added
            );
        }
        Ok(())
    }
}

impl Sink for LakeSink {
    fn window(&mut self, w: &WindowResult) -> anyhow::Result<()> {
        self.newest = Some(self.newest.map_or(w.window_end, |n| n.max(w.window_end)));
        self.windows.push(w);
        Ok(())
    }

    fn alert(&mut self, a: &Alert) -> anyhow::Result<()> {
        self.alerts.push(a);
        Ok(())
    }

    fn reject_at(
        &mut self,
        why: &str,
        line: &[u8],
        source: &str,
        offset: Option<u64>,
    ) -> anyhow::Result<()> {
        let (code, explanation) = why.split_once('\t').unwrap_or((why, ""));
        self.rejects.push(source, offset, code, explanation, line);
        Ok(())
    }

    fn requests(&mut self, rows: RecordBatch) -> anyhow::Result<()> {
        self.request_rows += rows.num_rows();
        self.requests.push(rows);
        Ok(())
    }

    fn wants_requests(&self) -> bool {
        true
    }

    fn buffered_rows(&self) -> usize {
        self.request_rows
    }

    fn commit(&mut self, epoch: u64) -> anyhow::Result<()> {
        let n = epoch as i64;
        let tables = [
            (TableKind::Requests, std::mem::take(&mut self.requests)),
            (TableKind::Windows, vec![self.windows.finish()]),
            (TableKind::Alerts, vec![self.alerts.finish()]),
            (TableKind::Rejects, vec![self.rejects.finish()]),
        ];
        self.request_rows = 0;
        for (kind, batches) in tables {
            let committed = self
                .lake
                .commit(kind, RUN_APP, n, batches)
                .with_context(|| format!("committing epoch {n} to the lake"))?;
            if let (true, Some(p)) = (committed, self.pause) {
                std::thread::sleep(p);
            }
        }
        self.upkeep()
    }
}
