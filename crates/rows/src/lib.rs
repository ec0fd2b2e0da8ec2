//! The rows of hitstream's lake tables as Arrow record batches: the tables' schemas, the
//! column builders that turn parsed lines, window results, alerts and rejects into batches,
//! and the reader that turns a `requests` row back into a [`hitstream_format::Record`].
//!
//! This is the lake's per-line code, kept apart from the Delta and query engine crates (which
//! `hitstream-lake` links) so that it stays small, depends on Arrow alone, and is built at full
//! optimization while the query engine is optimized for size (see the workspace's release
//! profile).

mod rows;
mod schema;

pub use rows::{
    day_of, utc_day, AlertRows, KafkaLineage, RejectRows, ReportRow, RequestReader, RequestRows,
    WindowRows,
};
pub use schema::{timestamp, TableKind, LINEAGE_COLUMNS, REQUEST_TEXTS};

/// A batch read back does not have the shape of its table (a column missing or of another
/// type); the message names the column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ShapeError(pub String);
