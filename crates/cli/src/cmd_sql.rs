//! `hitstream sql`: SQL (DataFusion) over the lake's tables, printed as a table, JSON or CSV.

use std::path::PathBuf;

use hitstream_lake::arrow::array::RecordBatch;
use hitstream_lake::Lake;

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
#[command(after_long_help = tables_help())]
pub struct SqlArgs {
    /// The query. Tables: requests, windows, alerts, rejects, reports, and the analysis_*
    /// tables of `report range --tables` (`--help` lists their columns).
    /// `EXPLAIN ANALYZE SELECT ...` shows the plan and the files read.
    #[arg(value_name = "QUERY")]
    pub query: String,
    /// Data directory or `file://` URL of the lake. [default: $STATE_DIRECTORY/lake,
    /// $XDG_DATA_HOME/hitstream/lake or ~/.local/share/hitstream/lake; when that does not
    /// exist and /var/lib/hitstream/lake (the service's) does, that one]
    #[arg(long, value_name = "DIR")]
    pub data: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Tabular::Table)]
    pub output: Tabular,
    /// Write to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// The tables and their columns, for `sql --help`: written from the schemas the lake writes
/// with, so the list cannot fall behind them (no query engine is started for it).
pub fn tables_help() -> String {
    use hitstream_lake::arrow::datatypes::Schema;
    use hitstream_lake::{ReportTable, TableKind};
    let mut out = String::from("Tables (a table exists once something wrote to it):\n");
    let table = |out: &mut String, name: &str, note: &str, schema: &Schema| {
        let cols: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| format!("{} {}", f.name(), type_name(f.data_type())))
            .collect();
        out.push_str(&format!("\n  {name}{note}:\n"));
        out.push_str(&wrap(&cols.join(", "), 6, 92));
    };
    for t in TableKind::ALL {
        let note = match t.partitions() {
            [] => String::new(),
            p => format!(" (partitioned by {})", p.join(", ")),
        };
        table(&mut out, t.name(), &note, &t.schema());
    }
    out.push_str(&format!(
        "\n  {}: the windows of every process writing the lake, merged (tumbling windows):\n{}",
        hitstream_lake::MERGED_VIEW,
        wrap(
            "window_start timestamp, window_end timestamp, metric text, key text, value int64",
            6,
            92
        )
    ));
    out.push_str(
        "\nWritten by `report range --tables`, one row set per report (column `report`):\n",
    );
    for t in ReportTable::ALL {
        table(&mut out, t.name(), "", &t.schema());
    }
    out
}

/// A column type as a user writes it in SQL.
fn type_name(t: &hitstream_lake::arrow::datatypes::DataType) -> String {
    use hitstream_lake::arrow::datatypes::DataType as D;
    match t {
        D::Utf8 | D::LargeUtf8 | D::Utf8View => "text".into(),
        D::Boolean => "boolean".into(),
        D::Int8 | D::Int16 | D::Int32 => "int32".into(),
        D::Int64 => "int64".into(),
        D::UInt8 | D::UInt16 | D::UInt32 | D::UInt64 => "uint64".into(),
        D::Float32 | D::Float64 => "double".into(),
        D::Timestamp(..) => "timestamp".into(),
        D::Date32 | D::Date64 => "date".into(),
        D::List(f) | D::LargeList(f) => format!("list<{}>", type_name(f.data_type())),
        other => other.to_string().to_lowercase(),
    }
}

/// `text` as lines of at most `width` characters, broken after commas, each indented.
fn wrap(text: &str, indent: usize, width: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_inclusive(", ") {
        if !line.is_empty() && indent + line.len() + word.trim_end().len() > width {
            out.push_str(&format!("{pad}{}\n", line.trim_end()));
            line.clear();
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{pad}{}\n", line.trim_end()));
    }
    out
}

/// Runs `hitstream sql`.
pub fn run(a: SqlArgs) -> anyhow::Result<()> {
    let data = crate::state::lake_for_reading(a.data.as_deref())?;
    let mut lake = open_existing(&data)?;
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
            let mut s = terminal_table(batches)?;
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
                for b in csv_safe(batches)? {
                    w.write(&b)?;
                }
            }
            out
        }
    })
}

/// The batches as arrow's pretty printer shows them (same borders, same cell text), with each
/// cell and column name cleaned for the terminal ([`crate::output::clean_lines`]): text from
/// a log must not reach the terminal raw. Line breaks stay (`EXPLAIN` plans use them).
fn terminal_table(batches: &[RecordBatch]) -> anyhow::Result<String> {
    use crate::output::clean_lines;
    use comfy_table::{Cell, Table};
    use hitstream_lake::arrow::util::display::{ArrayFormatter, FormatOptions};
    let mut t = Table::new();
    t.load_preset("||--+-++|    ++++++");
    let Some(first) = batches.first() else {
        return Ok(t.to_string());
    };
    t.set_header(
        first
            .schema()
            .fields()
            .iter()
            .map(|f| Cell::new(clean_lines(f.name()))),
    );
    let options = FormatOptions::default().with_display_error(true);
    for b in batches {
        let cols = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..b.num_rows() {
            t.add_row(
                cols.iter()
                    .map(|f| Cell::new(clean_lines(&f.value(row).to_string()))),
            );
        }
    }
    Ok(t.to_string())
}

/// The batches with every text cell through [`crate::output::csv_text`], so that no cell
/// from a log is a spreadsheet formula. Numeric, time and other columns are left as they are.
fn csv_safe(batches: &[RecordBatch]) -> anyhow::Result<Vec<RecordBatch>> {
    use std::sync::Arc;

    use hitstream_lake::arrow::array::{ArrayRef, AsArray, StringArray};
    use hitstream_lake::arrow::datatypes::{DataType, Field, Schema};

    fn text(t: &DataType) -> bool {
        match t {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
            DataType::Dictionary(_, v) => text(v),
            _ => false,
        }
    }
    batches
        .iter()
        .map(|b| {
            let schema = b.schema();
            let mut fields = Vec::with_capacity(b.num_columns());
            let mut cols: Vec<ArrayRef> = Vec::with_capacity(b.num_columns());
            for (f, c) in schema.fields().iter().zip(b.columns()) {
                if !text(f.data_type()) {
                    fields.push(f.as_ref().clone());
                    cols.push(c.clone());
                    continue;
                }
                let utf8 = hitstream_lake::arrow::compute::cast(c, &DataType::Utf8)?;
                let safe: StringArray = utf8
                    .as_string::<i32>()
                    .iter()
                    .map(|v| v.map(|v| crate::output::csv_text(v).into_owned()))
                    .collect();
                fields.push(
                    Field::new(f.name(), DataType::Utf8, f.is_nullable())
                        .with_metadata(f.metadata().clone()),
                );
                cols.push(Arc::new(safe));
            }
            let schema = Schema::new_with_metadata(fields, schema.metadata().clone());
            Ok(RecordBatch::try_new(Arc::new(schema), cols)?)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hitstream_lake::arrow::array::{Int64Array, StringArray, StringViewArray};
    use hitstream_lake::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch() -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("agent", DataType::Utf8, true),
            Field::new("path", DataType::Utf8View, false),
            Field::new("delta", DataType::Int64, false),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringArray::from(vec![
                    Some("=HYPERLINK(\"http://x\")"),
                    Some("x\u{1b}]0;title\u{7}\u{1b}[2J"),
                    None,
                ])),
                Arc::new(StringViewArray::from(vec!["@SUM(A1)", "-", "/ok"])),
                Arc::new(Int64Array::from(vec![-5, 3, -7])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn tables_show_log_text_without_control_characters() {
        let s = String::from_utf8(render(&[batch()], Tabular::Table).unwrap()).unwrap();
        assert!(
            !s.chars()
                .any(|c| c != '\n' && crate::output::is_unsafe_char(c)),
            "{s:?}"
        );
        assert!(s.contains("x\u{fffd}]0;title\u{fffd}\u{fffd}[2J"), "{s}");
        // Arrow's look: the same borders and cells as its pretty printer for clean text.
        let plain = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)])),
            vec![Arc::new(Int64Array::from(vec![1, -2]))],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(render(std::slice::from_ref(&plain), Tabular::Table).unwrap())
                .unwrap(),
            format!(
                "{}\n",
                hitstream_lake::arrow::util::pretty::pretty_format_batches(&[plain]).unwrap()
            )
        );
    }

    /// CSV keeps the log's bytes (it is data; on a terminal, `to_file_or_stdout` cleans it).
    #[test]
    fn csv_text_cells_are_not_formulas_and_numbers_stay_numbers() {
        let s = String::from_utf8(render(&[batch()], Tabular::Csv).unwrap()).unwrap();
        assert_eq!(
            s,
            "agent,path,delta\n\
             \"'=HYPERLINK(\"\"http://x\"\")\",'@SUM(A1),-5\n\
             x\u{1b}]0;title\u{7}\u{1b}[2J,-,3\n\
             ,/ok,-7\n"
        );
    }
}
