//! `hitstream report daily`: the day's top pages and the full analysis set of `analyze` for
//! that day, computed from the lake, printed, and appended to the `reports` table. The
//! same report can be scheduled inside `hitstream run` (`[report] daily_at`).
//!
//! `hitstream report range`: the full analysis set of a range of days (or of the whole
//! lake), printed in any output of `analyze` (HTML included) and, with `--tables`, stored as
//! one Delta table per section (`analysis_status`, `analysis_hosts`, ...; see
//! [`hitstream_lake::ReportTable`]).
//!
//! The analysis set is computed by reading the `requests` rows back into records and
//! counting them exactly as `analyze` counts parsed lines, so the two agree on the same
//! input; the top pages of the daily report come from one SQL query.

use std::path::PathBuf;

use anyhow::{bail, Context};
use hitstream_analyze::{Meta, Options, Partial, Report, TimeBasis};
use hitstream_format::{Outcome, Record};
use hitstream_lake::arrow::array::RecordBatch;
use hitstream_lake::{Lake, ReportRow, ReportTable, RequestReader, TableKind, REQUEST_TEXTS};
use jiff::tz::TimeZone;

use crate::cmd_sql::{self, Tabular};
use crate::config::{parse_hhmm, Config};

/// `hitstream report ...`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    kind: ReportKind,
}

#[derive(Debug, clap::Subcommand)]
enum ReportKind {
    /// One day: top pages and the full analysis set, from the lake.
    Daily(DailyArgs),
    /// A range of days (default: the whole lake): the full analysis set, printed as `analyze`
    /// prints it, and with --tables stored as one table per section.
    Range(RangeArgs),
}

/// Options of `hitstream report daily`.
#[derive(Debug, clap::Args)]
pub struct DailyArgs {
    /// The day: `YYYY-MM-DD`, `today` or `yesterday`, today and yesterday being those of
    /// --tz, UTC without it (for a cron job, `yesterday` is the last whole day) [default:
    /// today].
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    pub date: Option<Day>,
    /// Rows of each top list.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// Clock that defines the day: `UTC` (the default, as `analyze`, `run`'s windows and the
    /// dashboard), an offset (`+02:00`), a zone name, or `as-written` for the local time
    /// written in the log (the `day` column).
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Data directory or `file://` URL of the lake. [default: $STATE_DIRECTORY/lake,
    /// $XDG_DATA_HOME/hitstream/lake or ~/.local/share/hitstream/lake; when that does not
    /// exist and /var/lib/hitstream/lake (the service's) does, that one]
    #[arg(long = "data", value_name = "DIR")]
    pub data_flag: Option<String>,
    /// The lake: `--data`, or the default (set by `run`).
    #[arg(skip)]
    pub data: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = DailyOutput::Table)]
    pub output: DailyOutput,
    /// Write to this file (table, json, html) or directory (csv) instead of stdout.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Do not append the report to the `reports` table.
    #[arg(long)]
    pub no_save: bool,
}

/// Output formats of `report daily`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DailyOutput {
    /// Readable tables: the top pages, then the analysis set.
    Table,
    /// One JSON object: `date`, `top_pages` (an array of {path, requests}) and `report` (the
    /// analysis set, as `analyze -o json` writes it).
    Json,
    /// One CSV file per table (top_pages.csv and those of `analyze`), into a directory.
    Csv,
    /// One self-contained HTML file with SVG charts, as `report range -o html`.
    Html,
}

/// A `--date` of `report daily`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    /// This day.
    Date(jiff::civil::Date),
    /// The day in progress, on the report's clock.
    Today,
    /// The day before it: the last whole day.
    Yesterday,
}

/// Reads `--date`.
fn parse_date(s: &str) -> Result<Day, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("today") {
        return Ok(Day::Today);
    }
    if t.eq_ignore_ascii_case("yesterday") {
        return Ok(Day::Yesterday);
    }
    // jiff also reads `2024-07-25T10:00` as a date; a report is of a whole day.
    if t.len() == 10 {
        if let Ok(d) = t.parse::<jiff::civil::Date>() {
            return Ok(Day::Date(d));
        }
    }
    Err("expected YYYY-MM-DD, `today` or `yesterday`".to_string())
}

/// Options of `hitstream report range`.
#[derive(Debug, clap::Args)]
pub struct RangeArgs {
    /// First day (`YYYY-MM-DD`, included); default: the first day the lake holds.
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Last day (`YYYY-MM-DD`, included); default: the last day the lake holds.
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Rows of each top list.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// Clock that defines the days: `UTC` (the default, as `analyze`, `run`'s windows and the
    /// dashboard), an offset (`+02:00`), a zone name, or `as-written` for the local time
    /// written in the log (the `day` column).
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Data directory or `file://` URL of the lake. [default: $STATE_DIRECTORY/lake,
    /// $XDG_DATA_HOME/hitstream/lake or ~/.local/share/hitstream/lake; when that does not
    /// exist and /var/lib/hitstream/lake (the service's) does, that one]
    #[arg(long = "data", value_name = "DIR")]
    pub data_flag: Option<String>,
    /// The lake: `--data`, or the default (set by `run`).
    #[arg(skip)]
    pub data: String,
    /// Output format, as for `analyze`.
    #[arg(short, long, value_enum, default_value_t = crate::output::OutputKind::Table)]
    pub output: crate::output::OutputKind,
    /// Write to this file (table, json, html) or directory (csv) instead of stdout.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Store each section of the analysis set as a table of the lake (`analysis_status`,
    /// `analysis_hosts`, ...), its rows named by the report (see --name). Storing a report
    /// of the same name again replaces its rows.
    #[arg(long)]
    pub tables: bool,
    /// The report's name in the `report` column of the tables; default: `FROM..TO`, the
    /// first and last day of the range.
    #[arg(long, value_name = "NAME", requires = "tables")]
    pub name: Option<String>,
}

/// Runs `hitstream report`.
pub fn run(a: ReportArgs) -> anyhow::Result<()> {
    let mut a = match a.kind {
        ReportKind::Daily(a) => a,
        ReportKind::Range(mut a) => {
            a.data = crate::state::lake_for_reading(a.data_flag.as_deref())?;
            return range(&a);
        }
    };
    a.data = crate::state::lake_for_reading(a.data_flag.as_deref())?;
    let z = zone(a.tz.as_deref()).map_err(crate::usage::wrap("--tz"))?;
    let today = || jiff::Timestamp::now().to_zoned(z.clone()).date();
    let date = match a.date {
        Some(Day::Date(d)) => d,
        None | Some(Day::Today) => today(),
        Some(Day::Yesterday) => today().yesterday()?,
    };
    print(&a, date)
}

/// Computes, stores (unless `--no-save`) and prints the daily report of `date`.
pub fn print(a: &DailyArgs, date: jiff::civil::Date) -> anyhow::Result<()> {
    let mut lake = cmd_sql::open_existing(&a.data)?;
    let daily = daily(&mut lake, date, a.top, a.tz.as_deref())?;
    if daily.rows == 0 {
        bail!(
            "the lake at `{}` has no rows for {date}{}; {}; nothing was stored",
            a.data,
            a.tz.as_deref()
                .map(|z| format!(" ({z})"))
                .unwrap_or_default(),
            days_held(&mut lake)?
        );
    }
    if !a.no_save {
        lake.append(TableKind::Reports, vec![daily.row.to_batch()])?;
    }
    match a.output {
        DailyOutput::Table => {
            let mut s = format!("Daily report for {date} (from the lake at {})\n\n", a.data);
            s.push_str(&format!("Top {} pages\n", a.top));
            s.push_str(&String::from_utf8_lossy(&cmd_sql::render(
                &daily.top_pages,
                Tabular::Table,
            )?));
            s.push('\n');
            s.push_str(&crate::output::table::render(&daily.report));
            crate::output::to_file_or_stdout(a.out.as_deref(), s.as_bytes())
        }
        DailyOutput::Json => {
            let mut v = serde_json::to_vec_pretty(&serde_json::json!({
                "date": date.to_string(),
                "top_pages": serde_json::from_str::<serde_json::Value>(&daily.row.top_pages)?,
                "report": daily.report,
            }))?;
            v.push(b'\n');
            crate::output::to_file_or_stdout(a.out.as_deref(), &v)
        }
        DailyOutput::Html => crate::output::write(
            &daily.report,
            crate::output::OutputKind::Html,
            a.out.as_deref(),
        ),
        DailyOutput::Csv => {
            let dir = a
                .out
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("hitstream-report-{date}")));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create `{}`", dir.display()))?;
            let top = dir.join("top_pages.csv");
            std::fs::write(&top, cmd_sql::render(&daily.top_pages, Tabular::Csv)?)
                .with_context(|| format!("cannot write `{}`", top.display()))?;
            crate::output::write(
                &daily.report,
                crate::output::OutputKind::Csv,
                Some(dir.as_path()),
            )
        }
    }
}

/// Which days the lake's `requests` hold, for a message ("it holds 1995-07-01 .. 1995-07-28
/// (28 days)").
fn days_held(lake: &mut Lake) -> anyhow::Result<String> {
    use hitstream_lake::arrow::array::Array;
    let b = lake.sql("SELECT DISTINCT day FROM requests ORDER BY day")?;
    let mut days = Vec::new();
    for batch in &b {
        let col = batch.column(0);
        for i in 0..col.len() {
            days.push(hitstream_lake::arrow::util::display::array_value_to_string(
                col, i,
            )?);
        }
    }
    Ok(match days.len() {
        0 => "it holds no requests yet".to_string(),
        1..=7 => format!("it holds {}", days.join(", ")),
        n => format!("it holds {} .. {} ({n} days)", days[0], days[n - 1]),
    })
}

/// A daily report.
pub struct Daily {
    /// The top pages (columns `path`, `requests`).
    pub top_pages: Vec<hitstream_lake::arrow::array::RecordBatch>,
    /// The analysis set.
    pub report: Report,
    /// The row for the `reports` table.
    pub row: ReportRow,
    /// Rows of `requests` the report read.
    pub rows: u64,
}

/// The clock of `--tz` (UTC when absent).
fn zone(tz: Option<&str>) -> anyhow::Result<TimeZone> {
    Ok(match crate::cmd_analyze::parse_tz(tz.unwrap_or("UTC"))? {
        TimeBasis::Fixed(s) => TimeZone::fixed(jiff::tz::Offset::from_seconds(s)?),
        // The days of the log's own clock have no zone to ask "today" of: UTC's today.
        TimeBasis::AsWritten => TimeZone::UTC,
        _ => TimeZone::get(tz.unwrap_or("UTC"))?,
    })
}

/// The clock that defines a report's days: `--tz`, else UTC, as for `analyze`, `run`'s
/// windows and the dashboard; None for `--tz as-written`, the `day` column (the local day
/// written in the log).
fn clock(tz: Option<&str>) -> Option<&str> {
    match tz {
        Some(t) if t.trim().eq_ignore_ascii_case("as-written") => None,
        Some(t) => Some(t),
        None => Some("UTC"),
    }
}

/// The SQL condition that selects `date`'s rows of `requests`.
fn day_filter(date: jiff::civil::Date, tz: Option<&str>) -> anyhow::Result<String> {
    let Some(tz) = clock(tz) else {
        return Ok(format!("day = '{date}'"));
    };
    let z = zone(Some(tz))?;
    let start = date.to_zoned(z.clone())?.timestamp();
    let end = date.tomorrow()?.to_zoned(z)?.timestamp();
    // `day` (the local day as written) is within a day of any clock: it prunes files.
    Ok(format!(
        "day BETWEEN '{}' AND '{}' AND time >= TIMESTAMP '{start}' AND time < TIMESTAMP '{end}'",
        date.yesterday()?,
        date.tomorrow()?
    ))
}

/// Refuses a lake without a `requests` table, with a message that says what to do.
fn ensure_requests(lake: &mut Lake) -> anyhow::Result<()> {
    if !lake.exists(TableKind::Requests)? {
        bail!(
            "the lake at `{}` has no requests table yet: store data first",
            lake.root()
        );
    }
    Ok(())
}

/// The full analysis set of the `requests` rows that `cond` selects (every row without
/// one), counted exactly as `analyze` counts parsed lines, and the number of rows read.
fn analysis(
    lake: &mut Lake,
    cond: Option<&str>,
    top: usize,
    tz: Option<&str>,
    filters: Vec<String>,
) -> anyhow::Result<(Report, u64)> {
    ensure_requests(lake)?;
    let basis = match tz {
        Some(z) => crate::cmd_analyze::parse_tz(z)?,
        None => TimeBasis::default(),
    };
    let opts = Options {
        basis,
        ..Options::default()
    };
    let mut part = Partial::new(&opts);
    let cols: Vec<&str> = ["time", "utc_offset"]
        .into_iter()
        .chain(REQUEST_TEXTS.iter().map(|(n, _)| *n))
        .chain([
            "status",
            "bytes",
            "port",
            "request_time_us",
            "upstream_time_us",
            "oddities",
        ])
        .collect();
    let mut rec = Record::new();
    let mut rows = 0u64;
    let mut query = format!("SELECT {} FROM requests", cols.join(", "));
    if let Some(c) = cond {
        query.push_str(" WHERE ");
        query.push_str(c);
    }
    lake.sql_each(&query, |b| {
        let reader = RequestReader::new(b)?;
        rows += b.num_rows() as u64;
        for row in 0..b.num_rows() {
            let odd = reader.read(row, &mut rec);
            let outcome = if odd.is_empty() {
                Outcome::Ok
            } else {
                Outcome::Degraded(odd)
            };
            part.add(&rec, &outcome);
        }
        Ok(())
    })?;
    let meta = Meta {
        inputs: vec![format!("{}requests", lake.root())],
        format: "lake".into(),
        format_definition: String::new(),
        time_basis: opts.basis.describe(),
        keep_query: false,
        top,
        filters,
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    Ok((Report::build(&part, top, meta), rows))
}

/// Computes the daily report of `date` from the lake.
pub fn daily(
    lake: &mut Lake,
    date: jiff::civil::Date,
    top: usize,
    tz: Option<&str>,
) -> anyhow::Result<Daily> {
    ensure_requests(lake)?;
    let cond = day_filter(date, tz)?;
    let top_pages = lake.sql(&format!(
        "SELECT path, count(*) AS requests FROM requests \
         WHERE {cond} AND method IS NOT NULL AND path IS NOT NULL \
         GROUP BY path ORDER BY requests DESC, path LIMIT {top}"
    ))?;
    let (report, rows) = analysis(lake, Some(&cond), top, tz, vec![format!("day {date}")])?;
    let top_json = String::from_utf8(cmd_sql::render(&top_pages, Tabular::Json)?)?;
    let row = ReportRow {
        report_date: date.to_string(),
        kind: "daily".into(),
        generated_at: jiff::Timestamp::now().as_second(),
        top_n: top as u32,
        requests: report.totals.requests,
        top_pages: top_json.trim_end().to_string(),
        report: serde_json::to_string(&report)?,
    };
    Ok(Daily {
        top_pages,
        report,
        row,
        rows,
    })
}

/// A `--from`/`--to` day.
fn parse_day(flag: &str, v: Option<&str>) -> anyhow::Result<Option<jiff::civil::Date>> {
    v.map(|d| {
        // jiff also reads `2024-07-25T10:00` as a date; a range is whole days.
        anyhow::ensure!(d.trim().len() == 10, "{flag} `{d}`: expected YYYY-MM-DD");
        d.trim()
            .parse::<jiff::civil::Date>()
            .with_context(|| format!("{flag} `{d}`: expected YYYY-MM-DD"))
    })
    .transpose()
}

/// The SQL condition that selects the rows of `requests` from day `from` to day `to`
/// (both included; either may be open), or None for every row.
fn range_filter(
    from: Option<jiff::civil::Date>,
    to: Option<jiff::civil::Date>,
    tz: Option<&str>,
) -> anyhow::Result<Option<String>> {
    if from.is_none() && to.is_none() {
        // Every row, those without a time (`unknown`) too, as `analyze` of the whole file.
        return Ok(None);
    }
    let mut c = Vec::new();
    match clock(tz) {
        None => {
            if let Some(f) = from {
                c.push(format!("day >= '{f}'"));
            }
            // `unknown` (no time) sorts after every date: an open end must not take it in.
            c.push(format!(
                "day <= '{}'",
                to.map_or("9999-12-31".to_string(), |d| d.to_string())
            ));
        }
        Some(tz) => {
            let z = zone(Some(tz))?;
            // `day` (the local day as written) is within a day of any clock: it prunes files.
            if let Some(f) = from {
                let start = f.to_zoned(z.clone())?.timestamp();
                c.push(format!("day >= '{}'", f.yesterday()?));
                c.push(format!("time >= TIMESTAMP '{start}'"));
            }
            if let Some(t) = to {
                let end = t.tomorrow()?.to_zoned(z)?.timestamp();
                c.push(format!("day <= '{}'", t.tomorrow()?));
                c.push(format!("time < TIMESTAMP '{end}'"));
            }
        }
    }
    Ok(Some(c.join(" AND ")))
}

/// `hitstream report range`.
fn range(a: &RangeArgs) -> anyhow::Result<()> {
    let from = parse_day("--from", a.from.as_deref()).map_err(crate::usage::mark)?;
    let to = parse_day("--to", a.to.as_deref()).map_err(crate::usage::mark)?;
    if let (Some(f), Some(t)) = (from, to) {
        anyhow::ensure!(
            f <= t,
            "--from {f} is after --to {t}: the range holds no day"
        );
    }
    if let Some(n) = &a.name {
        anyhow::ensure!(
            !n.trim().is_empty(),
            "--name is empty: name the report, or leave --name out for FROM..TO"
        );
    }
    if let Some(z) = &a.tz {
        crate::cmd_analyze::parse_tz(z)?;
    }
    let cond = range_filter(from, to, a.tz.as_deref())?;
    let mut lake = cmd_sql::open_existing(&a.data)?;
    let mut filters = Vec::new();
    if let Some(f) = from {
        filters.push(format!("from {f}"));
    }
    if let Some(t) = to {
        filters.push(format!("to {t}"));
    }
    let (report, _rows) = analysis(&mut lake, cond.as_deref(), a.top, a.tz.as_deref(), filters)?;
    if report.totals.requests == 0 {
        let range = match (from, to) {
            (None, None) => String::new(),
            (f, t) => format!(
                " from {} to {}",
                f.map_or("the first day".into(), |d| d.to_string()),
                t.map_or("the last day".into(), |d| d.to_string())
            ),
        };
        bail!(
            "the lake at `{}` has no requests{range}{}; {}; nothing was stored",
            a.data,
            a.tz.as_deref()
                .map(|z| format!(" ({z})"))
                .unwrap_or_default(),
            days_held(&mut lake)?
        );
    }
    let name = match &a.name {
        Some(n) => n.trim().to_string(),
        None => {
            let day = |d: Option<jiff::civil::Date>, held: Option<&hitstream_analyze::DayRow>| {
                d.map(|d| d.to_string())
                    .or_else(|| held.map(|r| r.day.clone()))
                    .unwrap_or_else(|| "unknown".into())
            };
            format!(
                "{}..{}",
                day(from, report.daily.first()),
                day(to, report.daily.last())
            )
        }
    };
    // The output first: a path it cannot write is found before the lake is changed.
    crate::output::write(&report, a.output, a.out.as_deref())?;
    if a.tables {
        let rows = report_tables(&report, &name, from, to, jiff::Timestamp::now())?;
        hitstream_lake::store_report(&lake, &name, rows)?;
        crate::verbosity::info!(
            "stored report `{name}` in {} tables of the lake at `{}` (analysis_*, rows with \
             report = '{name}')",
            ReportTable::ALL.len(),
            a.data
        );
    }
    Ok(())
}

/// The rows of each table of [`ReportTable`] for `report`, named `name`.
fn report_tables(
    r: &Report,
    name: &str,
    from: Option<jiff::civil::Date>,
    to: Option<jiff::civil::Date>,
    now: jiff::Timestamp,
) -> anyhow::Result<Vec<(ReportTable, RecordBatch)>> {
    use hitstream_lake::arrow::array::{
        ArrayRef, Float64Array, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
    };
    use std::sync::Arc;

    fn batch(
        t: ReportTable,
        name: &str,
        rows: usize,
        cols: Vec<ArrayRef>,
    ) -> anyhow::Result<(ReportTable, RecordBatch)> {
        let mut all: Vec<ArrayRef> = vec![Arc::new(StringArray::from(vec![name; rows]))];
        all.extend(cols);
        let b = RecordBatch::try_new(t.schema(), all)
            .with_context(|| format!("rows of {}", t.name()))?;
        Ok((t, b))
    }
    fn int<T>(v: &[T], f: impl Fn(&T) -> u64) -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(v.iter().map(|x| f(x) as i64)))
    }
    fn float<T>(v: &[T], f: impl Fn(&T) -> f64) -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(v.iter().map(f)))
    }
    fn text<'a, T>(v: &'a [T], f: impl Fn(&'a T) -> &'a str) -> ArrayRef {
        Arc::new(StringArray::from_iter_values(v.iter().map(f)))
    }
    fn rank<T>(v: &[T]) -> ArrayRef {
        Arc::new(Int32Array::from_iter_values(1..=v.len() as i32))
    }
    fn one_text(v: Option<String>) -> ArrayRef {
        Arc::new(StringArray::from(vec![v]))
    }
    fn one_time(v: Option<i64>) -> ArrayRef {
        Arc::new(TimestampMicrosecondArray::from(vec![v]).with_timezone("UTC"))
    }
    let micros = |s: &Option<String>| -> anyhow::Result<Option<i64>> {
        s.as_deref()
            .map(|s| {
                s.parse::<jiff::Timestamp>()
                    .map(|t| t.as_microsecond())
                    .with_context(|| format!("report time `{s}`"))
            })
            .transpose()
    };

    let t = &r.totals;
    let c = &r.content_size;
    let cs = std::slice::from_ref(c);
    let mut status: Vec<(Option<i32>, u64)> = r
        .status
        .iter()
        .map(|s| (Some(i32::from(s.status)), s.count))
        .collect();
    if r.no_status > 0 {
        // `-` as a status: the row a status count over the table should include.
        status.push((None, r.no_status));
    }
    let nf = &r.not_found;
    Ok(vec![
        batch(
            ReportTable::Reports,
            name,
            1,
            vec![
                one_text(from.map(|d| d.to_string())),
                one_text(to.map(|d| d.to_string())),
                one_text(Some(r.meta.time_basis.clone())),
                Arc::new(Int32Array::from(vec![r.meta.top as i32])),
                one_time(Some(now.as_microsecond())),
                int(&[t.requests], |x| *x),
                int(&[t.bytes], |x| *x),
                int(&[t.degraded], |x| *x),
                int(&[r.unique_hosts], |x| *x),
                int(&[nf.count], |x| *x),
                Arc::new(Int32Array::from(vec![t.days as i32])),
                one_time(micros(&t.first)?),
                one_time(micros(&t.last)?),
                one_text(t.first_local.clone()),
                one_text(t.last_local.clone()),
                one_text(Some(serde_json::to_string(r)?)),
            ],
        )?,
        batch(
            ReportTable::ContentSize,
            name,
            1,
            vec![
                int(cs, |c| c.count),
                int(cs, |c| c.absent),
                int(cs, |c| c.min),
                int(cs, |c| c.max),
                float(cs, |c| c.mean),
                float(cs, |c| c.stddev),
                int(cs, |c| c.p50),
                int(cs, |c| c.p90),
                int(cs, |c| c.p99),
            ],
        )?,
        batch(
            ReportTable::Status,
            name,
            status.len(),
            vec![
                Arc::new(Int32Array::from(
                    status.iter().map(|s| s.0).collect::<Vec<_>>(),
                )),
                int(&status, |s| s.1),
            ],
        )?,
        batch(
            ReportTable::StatusClasses,
            name,
            r.status_classes.len(),
            vec![
                text(&r.status_classes, |n| &n.name),
                int(&r.status_classes, |n| n.count),
            ],
        )?,
        batch(
            ReportTable::Methods,
            name,
            r.methods.len(),
            vec![text(&r.methods, |n| &n.name), int(&r.methods, |n| n.count)],
        )?,
        batch(
            ReportTable::Hosts,
            name,
            r.top_hosts.len(),
            vec![
                rank(&r.top_hosts),
                text(&r.top_hosts, |h| &h.host),
                int(&r.top_hosts, |h| h.requests),
                int(&r.top_hosts, |h| h.bytes),
            ],
        )?,
        batch(
            ReportTable::Endpoints,
            name,
            r.top_endpoints.len(),
            vec![
                rank(&r.top_endpoints),
                text(&r.top_endpoints, |e| &e.endpoint),
                int(&r.top_endpoints, |e| e.requests),
                int(&r.top_endpoints, |e| e.bytes),
            ],
        )?,
        batch(
            ReportTable::ErrorEndpoints,
            name,
            r.top_error_endpoints.len(),
            vec![
                rank(&r.top_error_endpoints),
                text(&r.top_error_endpoints, |e| &e.endpoint),
                int(&r.top_error_endpoints, |e| e.errors),
            ],
        )?,
        batch(
            ReportTable::Non200Endpoints,
            name,
            r.top_non_200_endpoints.len(),
            vec![
                rank(&r.top_non_200_endpoints),
                text(&r.top_non_200_endpoints, |e| &e.endpoint),
                int(&r.top_non_200_endpoints, |e| e.non_200),
            ],
        )?,
        batch(
            ReportTable::Daily,
            name,
            r.daily.len(),
            vec![
                text(&r.daily, |d| &d.day),
                int(&r.daily, |d| d.requests),
                int(&r.daily, |d| d.bytes),
                int(&r.daily, |d| d.unique_hosts),
                float(&r.daily, |d| d.avg_requests_per_host),
                int(&r.daily, |d| d.not_found),
            ],
        )?,
        batch(
            ReportTable::Hourly,
            name,
            r.hourly.len(),
            vec![
                Arc::new(Int32Array::from_iter_values(
                    r.hourly.iter().map(|h| i32::from(h.hour)),
                )),
                int(&r.hourly, |h| h.requests),
                int(&r.hourly, |h| h.not_found),
            ],
        )?,
        batch(
            ReportTable::NotFoundEndpoints,
            name,
            nf.top_endpoints.len(),
            vec![
                rank(&nf.top_endpoints),
                text(&nf.top_endpoints, |n| &n.name),
                int(&nf.top_endpoints, |n| n.count),
            ],
        )?,
        batch(
            ReportTable::NotFoundHosts,
            name,
            nf.top_hosts.len(),
            vec![
                rank(&nf.top_hosts),
                text(&nf.top_hosts, |n| &n.name),
                int(&nf.top_hosts, |n| n.count),
            ],
        )?,
    ])
}

/// The daily report scheduled inside `hitstream run`.
pub struct Schedule {
    data: String,
    tz: Option<String>,
    zone: TimeZone,
    at: u32,
    top: usize,
    /// Next run, UTC seconds.
    next: i64,
}

/// Application id of scheduled reports; the version is the day number, so a restart does
/// not store a day's scheduled report twice.
const REPORT_APP: &str = "hitstream-run/report";

impl Schedule {
    /// The schedule of `[report] daily_at`, if set.
    pub fn from_config(cfg: &Config) -> anyhow::Result<Option<Schedule>> {
        let (Some(at), Some(lake)) = (&cfg.report.daily_at, &cfg.lake) else {
            return Ok(None);
        };
        let at = parse_hhmm(at).context("[report] daily_at")?;
        let tz = cfg.report.tz.clone();
        let zone = zone(tz.as_deref()).context("[report] tz")?;
        let mut s = Schedule {
            data: lake.data.clone(),
            tz,
            zone,
            at,
            top: cfg.report.top.unwrap_or(10),
            next: 0,
        };
        s.next = s.next_after(jiff::Timestamp::now())?;
        Ok(Some(s))
    }

    fn next_after(&self, t: jiff::Timestamp) -> anyhow::Result<i64> {
        let now = t.to_zoned(self.zone.clone());
        let today = now.date();
        let time =
            jiff::civil::Time::new((self.at / 3600) as i8, ((self.at % 3600) / 60) as i8, 0, 0)?;
        let mut when = today.to_datetime(time).to_zoned(self.zone.clone())?;
        if when.timestamp() <= t {
            when = today
                .tomorrow()?
                .to_datetime(time)
                .to_zoned(self.zone.clone())?;
        }
        Ok(when.timestamp().as_second())
    }

    /// Whether the report is due.
    pub fn due(&self) -> bool {
        jiff::Timestamp::now().as_second() >= self.next
    }

    /// Makes the report of the day in progress and stores it.
    pub fn run(&mut self, note: &mut dyn FnMut(String)) -> anyhow::Result<()> {
        let t = jiff::Timestamp::from_second(self.next)?;
        let date = t.to_zoned(self.zone.clone()).date();
        let mut lake = Lake::open(&self.data)?;
        let tz = self.tz.clone().or_else(|| Some("UTC".into()));
        let d = daily(&mut lake, date, self.top, tz.as_deref())?;
        let version = i64::from(date.since(jiff::civil::date(1970, 1, 1))?.get_days());
        lake.commit(
            TableKind::Reports,
            REPORT_APP,
            version,
            vec![d.row.to_batch()],
        )?;
        note(format!(
            "daily report for {date}: {} requests, stored in the reports table",
            d.report.totals.requests
        ));
        self.next = self.next_after(t)?;
        Ok(())
    }
}

impl hitstream_runtime::Scheduled for Schedule {
    fn name(&self) -> &str {
        "the daily report"
    }

    fn due(&self) -> bool {
        Schedule::due(self)
    }

    fn run(&mut self, note: &mut dyn FnMut(String)) -> Result<(), hitstream_runtime::BoxError> {
        Ok(Schedule::run(self, note)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hhmm: &str, tz: &str) -> Schedule {
        Schedule {
            data: String::new(),
            tz: Some(tz.into()),
            zone: zone(Some(tz)).unwrap(),
            at: parse_hhmm(hhmm).unwrap(),
            top: 10,
            next: 0,
        }
    }

    #[test]
    fn the_next_run_is_today_or_tomorrow_in_the_zone() {
        let t: jiff::Timestamp = "2024-07-25T17:30:00Z".parse().unwrap();
        // 20:00 in Paris (CEST, +02:00) is 18:00 UTC.
        for (hhmm, tz, want) in [
            ("20:00", "UTC", "2024-07-25T20:00:00Z"),
            ("17:00", "UTC", "2024-07-26T17:00:00Z"),
            ("20:00", "Europe/Paris", "2024-07-25T18:00:00Z"),
        ] {
            let want = want.parse::<jiff::Timestamp>().unwrap().as_second();
            assert_eq!(at(hhmm, tz).next_after(t).unwrap(), want, "{hhmm} {tz}");
        }
    }

    fn date(s: &str) -> jiff::civil::Date {
        s.parse().unwrap()
    }

    #[test]
    fn a_range_of_days_is_a_condition_on_day_or_on_time_in_a_zone() {
        assert_eq!(range_filter(None, None, None).unwrap(), None);
        let w = Some("as-written");
        assert_eq!(
            range_filter(Some(date("1995-07-01")), Some(date("1995-07-03")), w).unwrap(),
            Some("day >= '1995-07-01' AND day <= '1995-07-03'".into())
        );
        assert_eq!(
            range_filter(Some(date("1995-07-02")), None, w).unwrap(),
            Some("day >= '1995-07-02' AND day <= '9999-12-31'".into())
        );
        // Without --tz, days are UTC days.
        assert_eq!(
            range_filter(None, Some(date("1995-07-02")), None).unwrap(),
            range_filter(None, Some(date("1995-07-02")), Some("UTC")).unwrap()
        );
        let f = range_filter(None, Some(date("1995-07-02")), Some("UTC"))
            .unwrap()
            .unwrap();
        assert_eq!(
            f,
            "day <= '1995-07-03' AND time < TIMESTAMP '1995-07-03T00:00:00Z'"
        );
        let f = range_filter(
            Some(date("1995-07-02")),
            Some(date("1995-07-02")),
            Some("-04:00"),
        )
        .unwrap()
        .unwrap();
        assert!(
            f.contains("time >= TIMESTAMP '1995-07-02T04:00:00Z'")
                && f.contains("time < TIMESTAMP '1995-07-03T04:00:00Z'")
                && f.contains("day >= '1995-07-01'"),
            "{f}"
        );
    }

    #[test]
    fn a_daily_date_is_a_whole_date_today_or_yesterday() {
        assert_eq!(parse_date("1995-07-02"), Ok(Day::Date(date("1995-07-02"))));
        assert_eq!(parse_date(" Yesterday "), Ok(Day::Yesterday));
        assert_eq!(parse_date("TODAY"), Ok(Day::Today));
        for bad in [
            "1995-07-02T10:00",
            "yesterdya",
            "1995-13-01",
            "",
            "tomorrow",
        ] {
            let e = parse_date(bad).unwrap_err();
            assert!(e.contains("`today` or `yesterday`"), "{bad}: {e}");
        }
    }

    #[test]
    fn range_days_are_whole_dates() {
        assert_eq!(
            parse_day("--from", Some("1995-07-02")).unwrap(),
            Some(date("1995-07-02"))
        );
        assert_eq!(parse_day("--to", None).unwrap(), None);
        for bad in ["1995-07-02T10:00", "July", "1995-13-01", ""] {
            let e = parse_day("--to", Some(bad)).unwrap_err().to_string();
            assert!(e.contains("--to") && e.contains("YYYY-MM-DD"), "{bad}: {e}");
        }
    }

    #[test]
    fn each_section_becomes_rows_named_by_the_report() {
        use hitstream_analyze::{EndpointRow, HostRow, NameCount, StatusCount};
        let mut r = Report {
            status: vec![
                StatusCount {
                    status: 200,
                    count: 5,
                },
                StatusCount {
                    status: 404,
                    count: 2,
                },
            ],
            no_status: 1,
            top_hosts: vec![
                HostRow {
                    host: "a".into(),
                    requests: 6,
                    bytes: 10,
                },
                HostRow {
                    host: "b".into(),
                    requests: 2,
                    bytes: 0,
                },
            ],
            top_endpoints: vec![EndpointRow {
                endpoint: "/x".into(),
                requests: 8,
                bytes: 10,
            }],
            ..Report::default()
        };
        r.not_found.count = 2;
        r.not_found.top_hosts = vec![NameCount {
            name: "b".into(),
            count: 2,
        }];
        r.totals.first = Some("1995-07-01T04:00:01Z".into());
        let now = jiff::Timestamp::from_second(1).unwrap();
        let tables = report_tables(&r, "x..y", Some(date("1995-07-01")), None, now).unwrap();
        assert_eq!(tables.len(), ReportTable::ALL.len());
        for (t, b) in &tables {
            assert_eq!(b.schema(), t.schema(), "{}", t.name());
            let names = b
                .column(0)
                .as_any()
                .downcast_ref::<hitstream_lake::arrow::array::StringArray>()
                .unwrap();
            assert!(names.iter().all(|n| n == Some("x..y")), "{}", t.name());
        }
        let rows = |want: ReportTable| {
            let b = &tables.iter().find(|(t, _)| *t == want).unwrap().1;
            hitstream_lake::arrow::util::pretty::pretty_format_batches(std::slice::from_ref(b))
                .unwrap()
                .to_string()
        };
        // The `-` status is a row with a null status.
        let st = rows(ReportTable::Status);
        assert!(st.contains("| x..y   | 404    | 2     |"), "{st}");
        assert!(st.contains("| x..y   |        | 1     |"), "{st}");
        let h = rows(ReportTable::Hosts);
        assert!(
            h.contains("| x..y   | 2    | b    | 2        | 0     |"),
            "{h}"
        );
        let idx = rows(ReportTable::Reports);
        assert!(idx.contains("1995-07-01T04:00:01Z"), "{idx}");
        assert!(idx.contains("1970-01-01T00:00:01Z"), "{idx}");
    }

    #[test]
    fn a_day_in_a_zone_is_a_time_range() {
        let d: jiff::civil::Date = "1995-07-02".parse().unwrap();
        assert_eq!(
            day_filter(d, Some("as-written")).unwrap(),
            "day = '1995-07-02'"
        );
        assert_eq!(
            day_filter(d, None).unwrap(),
            day_filter(d, Some("UTC")).unwrap()
        );
        assert!(day_filter(d, None)
            .unwrap()
            .contains("time >= TIMESTAMP '1995-07-02T00:00:00Z'"));
        let f = day_filter(d, Some("-04:00")).unwrap();
        assert!(
            f.contains("'1995-07-02T04:00:00Z'") && f.contains("'1995-07-03T04:00:00Z'"),
            "{f}"
        );
        assert!(
            f.contains("day BETWEEN '1995-07-01' AND '1995-07-03'"),
            "{f}"
        );
    }
}
