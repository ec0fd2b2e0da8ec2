//! `hitstream report daily`: the day's top pages and the full analysis set of `analyze` for
//! that day, computed from the lake, printed, and appended to the `reports` table. The
//! same report can be scheduled inside `hitstream run` (`[report] daily_at`).
//!
//! The analysis set is computed by reading the day's `requests` rows back into records and
//! counting them exactly as `analyze` counts parsed lines, so the two agree on the same
//! input; the top pages come from one SQL query.

use std::path::PathBuf;

use anyhow::{bail, Context};
use hitstream_analyze::{Meta, Options, Partial, Report, TimeBasis};
use hitstream_format::{Outcome, Record};
use hitstream_lake::{Lake, ReportRow, RequestReader, TableKind, REQUEST_TEXTS};
use jiff::tz::TimeZone;

use crate::cmd_sql::{self, Tabular};
use crate::config::{parse_hhmm, Config, DEFAULT_DATA};

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
}

/// Options of `hitstream report daily`.
#[derive(Debug, clap::Args)]
pub struct DailyArgs {
    /// The day (`YYYY-MM-DD`); default: today in --tz (UTC without it).
    #[arg(long, value_name = "DATE")]
    pub date: Option<String>,
    /// Rows of each top list.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// Clock that defines the day: `UTC`, an offset (`+02:00`) or a zone name. Default: the
    /// local time written in the log (the `day` column).
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Data directory or `file://` URL of the lake.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA)]
    pub data: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Tabular::Table)]
    pub output: Tabular,
    /// Write to this file (table, json) or directory (csv) instead of stdout.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Do not append the report to the `reports` table.
    #[arg(long)]
    pub no_save: bool,
}

/// Runs `hitstream report`.
pub fn run(a: ReportArgs) -> anyhow::Result<()> {
    let ReportKind::Daily(a) = a.kind;
    let date = match &a.date {
        Some(d) => d
            .parse::<jiff::civil::Date>()
            .with_context(|| format!("--date `{d}`: expected YYYY-MM-DD"))?,
        None => jiff::Timestamp::now()
            .to_zoned(zone(a.tz.as_deref())?)
            .date(),
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
        Tabular::Table => {
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
        Tabular::Json => {
            let mut v = serde_json::to_vec_pretty(&serde_json::json!({
                "date": date.to_string(),
                "top_pages": serde_json::from_str::<serde_json::Value>(&daily.row.top_pages)?,
                "report": daily.report,
            }))?;
            v.push(b'\n');
            crate::output::to_file_or_stdout(a.out.as_deref(), &v)
        }
        Tabular::Csv => {
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
        _ => TimeZone::get(tz.unwrap_or("UTC"))?,
    })
}

/// The SQL condition that selects `date`'s rows of `requests`.
fn day_filter(date: jiff::civil::Date, tz: Option<&str>) -> anyhow::Result<String> {
    let Some(tz) = tz else {
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

/// Computes the daily report of `date` from the lake.
pub fn daily(
    lake: &mut Lake,
    date: jiff::civil::Date,
    top: usize,
    tz: Option<&str>,
) -> anyhow::Result<Daily> {
    if !lake.exists(TableKind::Requests)? {
        bail!(
            "the lake at `{}` has no requests table yet: store data first",
            lake.root()
        );
    }
    let cond = day_filter(date, tz)?;
    let top_pages = lake.sql(&format!(
        "SELECT path, count(*) AS requests FROM requests \
         WHERE {cond} AND method IS NOT NULL AND path IS NOT NULL \
         GROUP BY path ORDER BY requests DESC, path LIMIT {top}"
    ))?;
    let basis = match tz {
        Some(z) => crate::cmd_analyze::parse_tz(z)?,
        None => TimeBasis::AsWritten,
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
    lake.sql_each(
        &format!("SELECT {} FROM requests WHERE {cond}", cols.join(", ")),
        |b| {
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
        },
    )?;
    let meta = Meta {
        inputs: vec![format!("{}requests", lake.root())],
        format: "lake".into(),
        format_definition: String::new(),
        time_basis: opts.basis.describe(),
        keep_query: false,
        top,
        filters: vec![format!("day {date}")],
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let report = Report::build(&part, top, meta);
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

    #[test]
    fn a_day_in_a_zone_is_a_time_range() {
        let d: jiff::civil::Date = "1995-07-02".parse().unwrap();
        assert_eq!(day_filter(d, None).unwrap(), "day = '1995-07-02'");
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
