//! The lake of hitstream: Delta Lake tables (`requests`, `windows`, `alerts`, `rejects`,
//! `reports`) under one data root, written with exactly-once appends and read with SQL.
//!
//! This is the only crate that links delta-rs and DataFusion; the parser, window engine and
//! sources stay free of them. [`AsyncLake`] is the lake for async code (an HTTP server's
//! handlers, any `#[tokio::main]` program): its operations are `async fn`s that run on the
//! caller's runtime and keep Parquet encoding off its worker threads. [`Lake`] is the same lake
//! behind a blocking facade (it owns a Tokio runtime) so that the pipeline threads and the
//! commands of `hitstream` call it like any other sink; it panics when called inside a
//! runtime, so async code uses [`AsyncLake`].
//!
//! Exactly-once: every append carries a Delta application transaction (`txn` action: app id
//! and version). [`AsyncLake::commit`] (and so [`Lake::commit`]) reads the table's recorded
//! version for the app id first and skips a version it already holds, so a batch replayed
//! after a crash is never stored twice. delta-rs records the version but does not refuse a
//! stale one; the check here is what makes the append idempotent. One writer per app id and
//! table.
//!
//! ```no_run
//! use hitstream_lake::{Lake, RequestRows, TableKind};
//! let mut lake = Lake::open("./hitstream-data")?;
//! let rows = RequestRows::new(); // push parsed records into it
//! let mut rows = rows;
//! lake.commit(TableKind::Requests, "hitstream-load/x", 1, vec![rows.finish()])?;
//! let out = lake.sql("SELECT day, count(*) FROM requests GROUP BY day")?;
//! # Ok::<(), hitstream_lake::LakeError>(())
//! ```
//!
//! The same from async code:
//!
//! ```no_run
//! use hitstream_lake::{AsyncLake, RequestRows, TableKind};
//! # async fn f() -> Result<(), hitstream_lake::LakeError> {
//! let mut lake = AsyncLake::open("./hitstream-data").await?;
//! let mut rows = RequestRows::new(); // push parsed records into it
//! lake.commit(TableKind::Requests, "hitstream-load/x", 1, vec![rows.finish()]).await?;
//! let out = lake.sql("SELECT day, count(*) FROM requests GROUP BY day").await?;
//! # Ok(())
//! # }
//! ```
//!
//! [`LakeSink`] is the lake as an epoch sink of the `hitstream-runtime` pipeline (`hitstream
//! run --data`): an epoch's rows and results are committed with the application transaction
//! (`hitstream-run`, epoch), so a repeated epoch is stored once.

mod lake;
mod panic;
mod run_sink;
mod tables;

pub use deltalake::arrow;
pub use hitstream_rows::{
    day_of, timestamp, utc_day, AlertRows, KafkaLineage, RejectRows, ReportRow, RequestReader,
    RequestRows, ShapeError, TableKind, WindowRows, LINEAGE_COLUMNS, REQUEST_TEXTS,
};
pub use lake::{
    register_merged_windows, AsyncLake, Lake, LakeError, MaintainStats, WindowShape, MERGED_VIEW,
};
pub use panic::hide_writer_abort_panics;
pub use run_sink::{LakeSink, PartsOf, RunSinkOptions, RUN_APP};
pub use tables::{
    register_report_tables, replace_report_rows, store_report, ReportTable, REPORT_COLUMN,
};
