//! The lake of hitstream: Delta Lake tables (`requests`, `windows`, `alerts`, `rejects`,
//! `reports`) under one data root, written with exactly-once appends and read with SQL.
//!
//! This is the only crate that links delta-rs and DataFusion; the parser, window engine and
//! sources stay free of them. [`Lake`] is a blocking facade (it owns a Tokio runtime) so that
//! the pipeline threads of `hitstream` call it like any other sink.
//!
//! Exactly-once: every append carries a Delta application transaction (`txn` action: app id
//! and version). [`Lake::commit`] reads the table's recorded version for the app id first and
//! skips a version it already holds, so a batch replayed after a crash is never stored twice.
//! delta-rs records the version but does not refuse a stale one; the check here is what makes
//! the append idempotent. One writer per app id and table.
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

mod lake;
mod rows;
mod schema;

pub use deltalake::arrow;
pub use lake::{Lake, LakeError, MaintainStats};
pub use rows::{
    day_of, utc_day, AlertRows, RejectRows, ReportRow, RequestReader, RequestRows, WindowRows,
};
pub use schema::{timestamp, TableKind, REQUEST_TEXTS};
