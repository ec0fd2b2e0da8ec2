//! The analysis set stored as tables (`hitstream report range --tables`): one Delta table per
//! section of the `analyze` report, one row per item, beside the pipeline's tables under the
//! same data root.
//!
//! Every row names its report in the `report` column (by default the range, `FROM..TO`).
//! Storing a report again under the same name replaces its rows, table by table, each in one
//! Delta commit (an overwrite with a `replaceWhere` on `report`), so a reader never sees two
//! versions of a report mixed within a table and other reports are left as they are. The
//! index table, `analysis_reports`, is written last: a report it lists has all its tables.
//!
//! These tables are not part of [`TableKind`](crate::TableKind) (the pipeline neither writes
//! nor maintains them), so [`AsyncLake::session`](crate::AsyncLake::session) does not
//! register them; [`register_report_tables`] does, and the lake's queries
//! ([`Lake::sql`](crate::Lake::sql)) call it when a query names one or lists tables.

use std::sync::Arc;

use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use deltalake::datafusion::prelude::{col, lit, SessionContext};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::StructType;
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableError};
use url::Url;

use crate::{Lake, LakeError};
use hitstream_rows::timestamp;

/// The column that names a row's report, in every table of [`ReportTable`].
pub const REPORT_COLUMN: &str = "report";

/// The tables of a stored analysis set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReportTable {
    /// One row per report: its range, clock, totals and the whole report as JSON.
    Reports,
    /// Response sizes: one row per report.
    ContentSize,
    /// Requests per status code (a null `status` for `-`).
    Status,
    /// Requests per status class.
    StatusClasses,
    /// Requests per method.
    Methods,
    /// The busiest clients, ranked.
    Hosts,
    /// The most requested endpoints, ranked.
    Endpoints,
    /// The endpoints with most error responses (4xx and 5xx), ranked.
    ErrorEndpoints,
    /// The endpoints with most responses other than 200 (3xx included), ranked.
    Non200Endpoints,
    /// Per day: requests, bytes, unique clients, requests per client, 404s.
    Daily,
    /// Per hour of day: requests and 404s.
    Hourly,
    /// The endpoints most often not found, ranked.
    NotFoundEndpoints,
    /// The clients with most 404s, ranked.
    NotFoundHosts,
}

fn s(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn i64n(name: &str) -> Field {
    Field::new(name, DataType::Int64, false)
}

fn with_report(fields: Vec<Field>) -> SchemaRef {
    let mut f = vec![Field::new(REPORT_COLUMN, DataType::Utf8, false)];
    f.extend(fields);
    Arc::new(Schema::new(f))
}

impl ReportTable {
    /// Every table; the index, [`ReportTable::Reports`], last (the order of writing).
    pub const ALL: [ReportTable; 13] = [
        ReportTable::ContentSize,
        ReportTable::Status,
        ReportTable::StatusClasses,
        ReportTable::Methods,
        ReportTable::Hosts,
        ReportTable::Endpoints,
        ReportTable::ErrorEndpoints,
        ReportTable::Non200Endpoints,
        ReportTable::Daily,
        ReportTable::Hourly,
        ReportTable::NotFoundEndpoints,
        ReportTable::NotFoundHosts,
        ReportTable::Reports,
    ];

    /// The table's name: its directory under the data root and its name in SQL.
    pub fn name(self) -> &'static str {
        match self {
            ReportTable::Reports => "analysis_reports",
            ReportTable::ContentSize => "analysis_content_size",
            ReportTable::Status => "analysis_status",
            ReportTable::StatusClasses => "analysis_status_classes",
            ReportTable::Methods => "analysis_methods",
            ReportTable::Hosts => "analysis_hosts",
            ReportTable::Endpoints => "analysis_endpoints",
            ReportTable::ErrorEndpoints => "analysis_error_endpoints",
            ReportTable::Non200Endpoints => "analysis_non_200_endpoints",
            ReportTable::Daily => "analysis_daily",
            ReportTable::Hourly => "analysis_hourly",
            ReportTable::NotFoundEndpoints => "analysis_404_endpoints",
            ReportTable::NotFoundHosts => "analysis_404_hosts",
        }
    }

    /// The Arrow schema; the first column is always [`REPORT_COLUMN`]. Ranked tables have
    /// `rank` (1 for the first), so that the order of `analyze` survives a query.
    pub fn schema(self) -> SchemaRef {
        let rank = || Field::new("rank", DataType::Int32, false);
        match self {
            ReportTable::Reports => with_report(vec![
                s("from_day"),
                s("to_day"),
                Field::new("time_basis", DataType::Utf8, false),
                Field::new("top_n", DataType::Int32, false),
                Field::new("generated_at", timestamp(), false),
                i64n("requests"),
                i64n("bytes"),
                i64n("degraded"),
                i64n("unique_hosts"),
                i64n("not_found"),
                Field::new("days", DataType::Int32, false),
                Field::new("first", timestamp(), true),
                Field::new("last", timestamp(), true),
                s("first_local"),
                s("last_local"),
                Field::new("analysis", DataType::Utf8, false),
            ]),
            ReportTable::ContentSize => with_report(vec![
                i64n("count"),
                i64n("absent"),
                i64n("min"),
                i64n("max"),
                Field::new("mean", DataType::Float64, false),
                Field::new("stddev", DataType::Float64, false),
                i64n("p50"),
                i64n("p90"),
                i64n("p99"),
            ]),
            ReportTable::Status => with_report(vec![
                Field::new("status", DataType::Int32, true),
                i64n("count"),
            ]),
            ReportTable::StatusClasses => with_report(vec![
                Field::new("class", DataType::Utf8, false),
                i64n("count"),
            ]),
            ReportTable::Methods => with_report(vec![
                Field::new("method", DataType::Utf8, false),
                i64n("count"),
            ]),
            ReportTable::Hosts => with_report(vec![
                rank(),
                Field::new("host", DataType::Utf8, false),
                i64n("requests"),
                i64n("bytes"),
            ]),
            ReportTable::Endpoints => with_report(vec![
                rank(),
                Field::new("endpoint", DataType::Utf8, false),
                i64n("requests"),
                i64n("bytes"),
            ]),
            ReportTable::ErrorEndpoints => with_report(vec![
                rank(),
                Field::new("endpoint", DataType::Utf8, false),
                i64n("errors"),
            ]),
            ReportTable::Non200Endpoints => with_report(vec![
                rank(),
                Field::new("endpoint", DataType::Utf8, false),
                i64n("non_200"),
            ]),
            ReportTable::Daily => with_report(vec![
                Field::new("day", DataType::Utf8, false),
                i64n("requests"),
                i64n("bytes"),
                i64n("unique_hosts"),
                Field::new("avg_requests_per_host", DataType::Float64, false),
                i64n("not_found"),
            ]),
            ReportTable::Hourly => with_report(vec![
                Field::new("hour", DataType::Int32, false),
                i64n("requests"),
                i64n("not_found"),
            ]),
            ReportTable::NotFoundEndpoints => with_report(vec![
                rank(),
                Field::new("endpoint", DataType::Utf8, false),
                i64n("count"),
            ]),
            ReportTable::NotFoundHosts => with_report(vec![
                rank(),
                Field::new("host", DataType::Utf8, false),
                i64n("count"),
            ]),
        }
    }

    fn url(self, root: &Url) -> Url {
        root.join(&format!("{}/", self.name()))
            .expect("table names are valid URL paths")
    }

    fn err(self) -> impl Fn(DeltaTableError) -> LakeError {
        move |source| LakeError::Delta {
            table: self.name(),
            source,
        }
    }

    /// The table under `root`, if it exists.
    async fn open(self, root: &Url) -> Result<Option<DeltaTable>, LakeError> {
        let url = self.url(root);
        if let Ok(dir) = url.to_file_path() {
            // A local lake without the table: no need to ask delta-rs.
            if !dir.join("_delta_log").is_dir() {
                return Ok(None);
            }
        }
        let t = DeltaTable::try_from_url(url).await.map_err(self.err())?;
        Ok(t.version().is_some().then_some(t))
    }
}

/// Stores the rows of report `report` in `table` under the data root `root`, replacing the
/// rows that table held for that report (in one commit). The table is created when missing.
/// `batch` must have the table's schema and only rows of `report`; it may be empty (the
/// report's old rows are then removed).
pub async fn replace_report_rows(
    root: &Url,
    table: ReportTable,
    report: &str,
    batch: RecordBatch,
) -> Result<(), LakeError> {
    if batch.schema().fields() != table.schema().fields() {
        return Err(LakeError::Schema(format!(
            "rows for `{}` do not have its columns",
            table.name()
        )));
    }
    let t = match table.open(root).await? {
        Some(t) => t,
        None => {
            let url = table.url(root);
            if let Ok(dir) = url.to_file_path() {
                std::fs::create_dir_all(dir)?;
            }
            async {
                let t = DeltaTable::try_from_url(url).await?;
                let st: StructType = table.schema().as_ref().try_into_kernel()?;
                t.create()
                    .with_table_name(table.name())
                    .with_columns(st.fields().cloned())
                    .with_save_mode(SaveMode::Ignore)
                    .await
            }
            .await
            .map_err(table.err())?
        }
    };
    t.write([batch])
        .with_save_mode(SaveMode::Overwrite)
        .with_replace_where(col(REPORT_COLUMN).eq(lit(report.to_string())))
        .await
        .map_err(table.err())?;
    Ok(())
}

/// Stores a whole report: each table's rows with [`replace_report_rows`], in the order of
/// [`ReportTable::ALL`] (the index last, so that a report it lists is complete).
pub fn store_report(
    lake: &Lake,
    report: &str,
    mut tables: Vec<(ReportTable, RecordBatch)>,
) -> Result<(), LakeError> {
    tables.sort_by_key(|(t, _)| ReportTable::ALL.iter().position(|a| a == t));
    let root = lake.root().clone();
    lake.block_on(async {
        for (t, b) in tables {
            replace_report_rows(&root, t, report, b).await?;
        }
        Ok(())
    })
}

/// Registers in `ctx` every table of [`ReportTable`] that exists under the data root `root`.
/// Returns how many there were.
pub async fn register_report_tables(ctx: &SessionContext, root: &Url) -> Result<usize, LakeError> {
    let mut n = 0;
    for table in ReportTable::ALL {
        let Some(t) = table.open(root).await? else {
            continue;
        };
        let provider = async {
            t.update_datafusion_session(&ctx.state())?;
            t.table_provider().await.map_err(DeltaTableError::from)
        }
        .await
        .map_err(table.err())?;
        ctx.register_table(table.name(), provider)?;
        n += 1;
    }
    Ok(n)
}

/// Whether a query may read the report tables: it names one, or lists tables or columns.
pub(crate) fn wants_report_tables(query: &str) -> bool {
    let q = query.to_ascii_lowercase();
    let q = q.trim_start();
    q.contains("analysis_")
        || q.contains("information_schema")
        || q.starts_with("show")
        || q.starts_with("describe")
}

#[cfg(test)]
mod tests {
    use super::*;
    use deltalake::arrow::array::{Int32Array, Int64Array, StringArray};
    use deltalake::arrow::util::pretty::pretty_format_batches;

    fn status_rows(report: &str, rows: &[(i32, i64)]) -> RecordBatch {
        RecordBatch::try_new(
            ReportTable::Status.schema(),
            vec![
                Arc::new(StringArray::from(vec![report; rows.len()])),
                Arc::new(Int32Array::from(
                    rows.iter().map(|r| Some(r.0)).collect::<Vec<_>>(),
                )),
                Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap()
    }

    fn query(lake: &mut Lake, q: &str) -> String {
        pretty_format_batches(&lake.sql(q).unwrap())
            .unwrap()
            .to_string()
    }

    #[test]
    fn a_report_stored_again_replaces_only_its_own_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let q = "SELECT report, status, count FROM analysis_status ORDER BY report, status";
        let store = |lake: &Lake, r: &str, rows: &[(i32, i64)]| {
            store_report(lake, r, vec![(ReportTable::Status, status_rows(r, rows))]).unwrap()
        };
        store(&lake, "a", &[(200, 5), (404, 1)]);
        store(&lake, "b", &[(200, 7)]);
        store(&lake, "a", &[(200, 6), (304, 2)]);
        let got = query(&mut lake, q);
        let want = "\
+--------+--------+-------+
| report | status | count |
+--------+--------+-------+
| a      | 200    | 6     |
| a      | 304    | 2     |
| b      | 200    | 7     |
+--------+--------+-------+";
        assert_eq!(got, want);
        // No rows: the report's rows go, the others stay.
        store(&lake, "a", &[]);
        assert!(!query(&mut lake, q).contains("| a "));
        assert!(query(&mut lake, q).contains("| b      | 200"));
        // Names with quotes are data, not SQL.
        store(&lake, "it's", &[(500, 1)]);
        store(&lake, "it's", &[(500, 3)]);
        assert!(query(&mut lake, q).contains("| it's   | 500    | 3     |"));
        assert!(query(&mut lake, "SHOW TABLES").contains("analysis_status"));
    }

    #[test]
    fn rows_of_another_shape_are_refused_and_queries_stay_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
        let err = store_report(
            &lake,
            "a",
            vec![(ReportTable::Methods, status_rows("a", &[(200, 1)]))],
        )
        .unwrap_err();
        assert!(err.to_string().contains("analysis_methods"), "{err}");
        store_report(
            &lake,
            "a",
            vec![(ReportTable::Status, status_rows("a", &[(200, 1)]))],
        )
        .unwrap();
        let err = lake.sql("DROP TABLE analysis_status").unwrap_err();
        assert!(matches!(err, LakeError::ReadOnly(_)), "{err}");
        // Without report tables in the query, the lake's own SQL answers.
        assert_eq!(
            pretty_format_batches(&lake.sql("SELECT 1 AS one").unwrap())
                .unwrap()
                .to_string()
                .lines()
                .nth(3),
            Some("| 1   |")
        );
    }

    #[test]
    fn every_table_names_its_report_first() {
        for t in ReportTable::ALL {
            assert_eq!(t.schema().field(0).name(), REPORT_COLUMN, "{}", t.name());
            assert!(t.name().starts_with("analysis_"));
        }
        assert_eq!(ReportTable::ALL.last(), Some(&ReportTable::Reports));
    }
}
