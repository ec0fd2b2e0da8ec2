//! `hitstream sql`: SQL (DataFusion) over the lake's tables, printed as a table, JSON or CSV.

use std::path::PathBuf;

use hitstream_lake::arrow::array::RecordBatch;
use hitstream_lake::Lake;

use crate::config::DEFAULT_DATA;

/// Output formats of `sql` and `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Tabular {
    /// A readable table.
    Table,
    /// One JSON array of objects (one per row).
    Json,
    /// CSV with a header row.
    Csv,
}

/// Options of `hitstream sql`.
#[derive(Debug, clap::Args)]
pub struct SqlArgs {
    /// The query. Tables: requests, windows, alerts, rejects, reports, and the analysis_*
    /// tables of `report range --tables` (see the README for their columns).
    /// `EXPLAIN ANALYZE SELECT ...` shows the plan and the files read.
    #[arg(value_name = "QUERY")]
    pub query: String,
    /// Data directory or `file://` URL of the lake.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA)]
    pub data: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Tabular::Table)]
    pub output: Tabular,
    /// Write to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Runs `hitstream sql`.
pub fn run(a: SqlArgs) -> anyhow::Result<()> {
    let mut lake = open_existing(&a.data)?;
    let batches = lake.sql(&a.query)?;
    let bytes = render(&batches, a.output)?;
    crate::output::to_file_or_stdout(a.out.as_deref(), &bytes)
}

/// Opens a lake that should already hold tables (a clear message when it does not).
pub fn open_existing(data: &str) -> anyhow::Result<Lake> {
    let local = data.strip_prefix("file://").unwrap_or(data);
    if !data.contains("://") || data.starts_with("file://") {
        anyhow::ensure!(
            std::path::Path::new(local).is_dir(),
            "no lake at `{data}`: store data first (`hitstream run --store ...` or \
             `hitstream analyze --store FILE`), or give --data DIR (or s3://BUCKET/PATH)"
        );
    }
    Ok(Lake::open(data)?)
}

/// Record batches in one of the tabular formats.
pub fn render(batches: &[RecordBatch], kind: Tabular) -> anyhow::Result<Vec<u8>> {
    use hitstream_lake::arrow;
    Ok(match kind {
        Tabular::Table => {
            let mut s = arrow::util::pretty::pretty_format_batches(batches)?.to_string();
            s.push('\n');
            s.into_bytes()
        }
        Tabular::Json => {
            let mut w = arrow::json::ArrayWriter::new(Vec::new());
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
            let mut v = w.into_inner();
            if v.is_empty() {
                v.extend_from_slice(b"[]");
            }
            v.push(b'\n');
            v
        }
        Tabular::Csv => {
            let mut out = Vec::new();
            {
                let mut w = arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut out);
                for b in batches {
                    w.write(b)?;
                }
            }
            out
        }
    })
}
