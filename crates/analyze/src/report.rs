//! The finished analysis: plain data, serialisable as the documented JSON schema
//! (`hitstream.analyze/1`, see docs/analyze-json.md).

use hitstream_format::time::{civil_from_days, format_day};
use hitstream_format::{Oddity, RejectReason};
use serde::Serialize;

use crate::classify::{AgentKind, Classifier};
use crate::partial::{Map, Partial, RejectSample};

/// Name of the JSON schema this report follows.
pub const SCHEMA: &str = "hitstream.analyze/1";

/// A key and how often it occurred.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NameCount {
    /// The key (lossy UTF-8 for bytes that are not).
    pub name: String,
    /// Occurrences.
    pub count: u64,
}

/// Where the report came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Meta {
    /// Input names in the order read (`-` for stdin).
    pub inputs: Vec<String>,
    /// Format name (`combined`, `custom`...).
    pub format: String,
    /// The format definition.
    pub format_definition: String,
    /// Clock of day/hour buckets: `as-written`, an offset, or a zone name.
    pub time_basis: String,
    /// Whether endpoints keep their query string.
    pub keep_query: bool,
    /// N of the top-N tables.
    pub top: usize,
    /// Filters in force, as given.
    pub filters: Vec<String>,
    /// hitstream version.
    pub version: String,
}

/// Line and request totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Lines read.
    pub lines: u64,
    /// Parsed cleanly.
    pub ok: u64,
    /// Parsed with oddities.
    pub degraded: u64,
    /// Not usable.
    pub rejected: u64,
    /// Parsed but outside the filters.
    pub filtered: u64,
    /// Requests analysed (ok + degraded − filtered).
    pub requests: u64,
    /// Response bytes (`-` counted as 0).
    pub bytes: u64,
    /// Earliest request, as a UTC instant (RFC 3339).
    pub first: Option<String>,
    /// Latest request, as a UTC instant (RFC 3339).
    pub last: Option<String>,
    /// Earliest request in the bucket clock (`YYYY-MM-DD HH:MM:SS`).
    pub first_local: Option<String>,
    /// Latest request in the bucket clock.
    pub last_local: Option<String>,
    /// Distinct days with requests.
    pub days: usize,
}

/// Distribution of response sizes over requests that had one.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SizeStats {
    /// Requests with a size.
    pub count: u64,
    /// Requests with size `-`.
    pub absent: u64,
    /// Smallest.
    pub min: u64,
    /// Largest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
    /// Population standard deviation.
    pub stddev: f64,
    /// Median (nearest rank).
    pub p50: u64,
    /// 90th percentile (nearest rank).
    pub p90: u64,
    /// 99th percentile (nearest rank).
    pub p99: u64,
}

/// Request times, when the format has them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TimeStats {
    /// Requests with a time.
    pub count: u64,
    /// Fastest, ms.
    pub min_ms: f64,
    /// Slowest, ms.
    pub max_ms: f64,
    /// Mean, ms.
    pub mean_ms: f64,
    /// Population standard deviation, ms.
    pub stddev_ms: f64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
}

/// One status code.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusCount {
    /// The code.
    pub status: u16,
    /// Requests.
    pub count: u64,
}

/// One client.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostRow {
    /// Client address or name as logged.
    pub host: String,
    /// Requests.
    pub requests: u64,
    /// Response bytes.
    pub bytes: u64,
}

/// One endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointRow {
    /// Path (with query under `--keep-query`).
    pub endpoint: String,
    /// Requests.
    pub requests: u64,
    /// Response bytes.
    pub bytes: u64,
}

/// One endpoint's responses other than 200.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorRow {
    /// Path.
    pub endpoint: String,
    /// Responses with a status other than 200.
    pub errors: u64,
}

/// One day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayRow {
    /// `YYYY-MM-DD` in the bucket clock.
    pub day: String,
    /// Requests.
    pub requests: u64,
    /// Response bytes.
    pub bytes: u64,
    /// Distinct clients that day.
    pub unique_hosts: u64,
    /// Requests per distinct client that day.
    pub avg_requests_per_host: f64,
    /// 404 responses.
    pub not_found: u64,
}

/// One hour of the day (over all days).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourRow {
    /// 0..=23 in the bucket clock.
    pub hour: u8,
    /// Requests.
    pub requests: u64,
    /// 404 responses.
    pub not_found: u64,
}

/// One hour of one day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineRow {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// 0..=23.
    pub hour: u8,
    /// Requests.
    pub requests: u64,
}

/// A day's count of something.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayCount {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Count.
    pub count: u64,
}

/// The 404 analysis.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NotFound {
    /// 404 responses.
    pub count: u64,
    /// Endpoints most often not found.
    pub top_endpoints: Vec<NameCount>,
    /// Clients that hit most 404s.
    pub top_hosts: Vec<NameCount>,
    /// 404s per day.
    pub daily: Vec<DayCount>,
    /// 404s per hour of day (24 entries).
    pub hourly: Vec<u64>,
}

/// Crawler and tool shares, when the format has user agents.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Agents {
    /// Requests with a user agent field.
    pub requests: u64,
    /// From crawlers and bots.
    pub bots: u64,
    /// bots / requests.
    pub bot_share: f64,
    /// From tools and libraries (and `-`).
    pub tools: u64,
    /// tools / requests.
    pub tool_share: f64,
    /// From everything else (browsers).
    pub others: u64,
    /// Busiest bot user agents.
    pub top_bots: Vec<NameCount>,
}

/// The full analysis set.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Where it came from.
    pub meta: Meta,
    /// Totals.
    pub totals: Totals,
    /// Degraded lines by oddity (a line may have several).
    pub degraded: Vec<NameCount>,
    /// Rejected lines by reason.
    pub rejected: Vec<NameCount>,
    /// A few rejected lines.
    pub reject_samples: Vec<RejectSample>,
    /// Response sizes.
    pub content_size: SizeStats,
    /// Requests per status code, ascending.
    pub status: Vec<StatusCount>,
    /// Requests per status class (`1xx`..`5xx`, `other`).
    pub status_classes: Vec<NameCount>,
    /// Requests whose status was `-`.
    pub no_status: u64,
    /// Requests per method, descending; `(none)` for requests without one.
    pub methods: Vec<NameCount>,
    /// Requests per protocol.
    pub protocols: Vec<NameCount>,
    /// Distinct clients.
    pub unique_hosts: u64,
    /// Busiest clients.
    pub top_hosts: Vec<HostRow>,
    /// Most requested endpoints.
    pub top_endpoints: Vec<EndpointRow>,
    /// Endpoints with most responses other than 200.
    pub top_error_endpoints: Vec<ErrorRow>,
    /// Per day.
    pub daily: Vec<DayRow>,
    /// Per hour of day, 24 rows.
    pub hourly: Vec<HourRow>,
    /// Per hour of each day.
    pub timeline: Vec<TimelineRow>,
    /// 404s.
    pub not_found: NotFound,
    /// Top referers, when the format has them.
    pub top_referers: Option<Vec<NameCount>>,
    /// Top user agents, when the format has them.
    pub top_user_agents: Option<Vec<NameCount>>,
    /// Crawler share, when the format has user agents.
    pub agents: Option<Agents>,
    /// Request times, when the format has them.
    pub request_time: Option<TimeStats>,
    /// Requests per virtual host, when the format has them.
    pub vhosts: Option<Vec<NameCount>>,
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The `n` largest entries by count, ties broken by key so output is stable.
fn top_by<V, K: Ord>(
    map: &Map<V>,
    n: usize,
    key: impl Fn(&V) -> u64,
    tie: impl Fn(&[u8]) -> K,
) -> Vec<(&[u8], &V)> {
    let mut v: Vec<(&[u8], &V)> = map
        .iter()
        .filter(|(_, x)| key(x) > 0)
        .map(|(k, x)| (&**k, x))
        .collect();
    let cmp = |a: &(&[u8], &V), b: &(&[u8], &V)| {
        key(b.1)
            .cmp(&key(a.1))
            .then_with(|| tie(a.0).cmp(&tie(b.0)))
    };
    if v.len() > n && n > 0 {
        v.select_nth_unstable_by(n - 1, cmp);
        v.truncate(n);
    }
    v.sort_unstable_by(cmp);
    v.truncate(n);
    v
}

fn top_counts(map: &Map<u64>, n: usize) -> Vec<NameCount> {
    top_by(map, n, |c| *c, |k| k.to_vec())
        .into_iter()
        .map(|(k, c)| NameCount {
            name: lossy(k),
            count: *c,
        })
        .collect()
}

fn fmt_local(secs: i64) -> String {
    let day = secs.div_euclid(86_400) as i32;
    let s = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(day);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

fn fmt_utc(secs: i64) -> String {
    let mut s = fmt_local(secs);
    s.replace_range(10..11, "T");
    s.push('Z');
    s
}

impl Report {
    /// Builds the report from a (merged) partial.
    pub fn build(p: &Partial, top: usize, meta: Meta) -> Report {
        let mut days: Vec<i32> = p.days.keys().copied().collect();
        days.sort_unstable();

        let mut uniq_per_day: std::collections::HashMap<i32, u64> = Default::default();
        for h in p.hosts.values() {
            for d in &h.days {
                *uniq_per_day.entry(*d).or_default() += 1;
            }
        }

        let daily = days
            .iter()
            .map(|d| {
                let s = &p.days[d];
                let u = uniq_per_day.get(d).copied().unwrap_or(0);
                DayRow {
                    day: format_day(*d),
                    requests: s.requests,
                    bytes: s.bytes,
                    unique_hosts: u,
                    avg_requests_per_host: if u == 0 {
                        0.0
                    } else {
                        s.requests as f64 / u as f64
                    },
                    not_found: s.not_found,
                }
            })
            .collect();
        let timeline = days
            .iter()
            .flat_map(|d| {
                let s = &p.days[d];
                (0..24u8)
                    .filter(|h| s.hours[*h as usize] > 0)
                    .map(move |h| TimelineRow {
                        day: format_day(*d),
                        hour: h,
                        requests: s.hours[h as usize],
                    })
            })
            .collect();
        let hourly = (0..24u8)
            .map(|h| HourRow {
                hour: h,
                requests: p.hour_of_day[h as usize],
                not_found: p.not_found_hour_of_day[h as usize],
            })
            .collect();

        let status: Vec<StatusCount> = p
            .status
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(s, c)| StatusCount {
                status: s as u16,
                count: *c,
            })
            .collect();
        let mut classes = [0u64; 6];
        for s in &status {
            let c = usize::from(s.status / 100);
            classes[if (1..=5).contains(&c) { c - 1 } else { 5 }] += s.count;
        }
        let status_classes = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"]
            .iter()
            .zip(classes)
            .filter(|(n, c)| *c > 0 || **n != "other")
            .map(|(n, c)| NameCount {
                name: n.to_string(),
                count: c,
            })
            .collect();

        let mut methods: Vec<NameCount> = p
            .methods
            .iter()
            .map(|(k, c)| NameCount {
                name: lossy(k),
                count: *c,
            })
            .collect();
        if p.no_method > 0 {
            methods.push(NameCount {
                name: "(none)".into(),
                count: p.no_method,
            });
        }
        methods.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
        let mut protocols: Vec<NameCount> = p
            .protocols
            .iter()
            .map(|(k, c)| NameCount {
                name: lossy(k),
                count: *c,
            })
            .collect();
        protocols.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));

        let top_hosts = top_by(&p.hosts, top, |h| h.hits, |k| k.to_vec())
            .into_iter()
            .map(|(k, h)| HostRow {
                host: lossy(k),
                requests: h.hits,
                bytes: h.bytes,
            })
            .collect();
        let top_endpoints = top_by(&p.endpoints, top, |e| e.hits, |k| k.to_vec())
            .into_iter()
            .map(|(k, e)| EndpointRow {
                endpoint: lossy(k),
                requests: e.hits,
                bytes: e.bytes,
            })
            .collect();
        let top_error_endpoints = top_by(&p.endpoints, top, |e| e.errors, |k| k.to_vec())
            .into_iter()
            .map(|(k, e)| ErrorRow {
                endpoint: lossy(k),
                errors: e.errors,
            })
            .collect();

        let nf_count = p.status[404];
        let not_found = NotFound {
            count: nf_count,
            top_endpoints: top_counts(&p.not_found_endpoints, top),
            top_hosts: top_by(&p.hosts, top, |h| h.not_found, |k| k.to_vec())
                .into_iter()
                .map(|(k, h)| NameCount {
                    name: lossy(k),
                    count: h.not_found,
                })
                .collect(),
            daily: days
                .iter()
                .map(|d| DayCount {
                    day: format_day(*d),
                    count: p.days[d].not_found,
                })
                .collect(),
            hourly: p.not_found_hour_of_day.to_vec(),
        };

        let qs = p.size.quantiles(&[0.5, 0.9, 0.99]);
        let content_size = SizeStats {
            count: p.size.count,
            absent: p.size_absent,
            min: p.size.min,
            max: p.size.max,
            mean: p.size.mean(),
            stddev: p.size.stddev(),
            p50: qs[0],
            p90: qs[1],
            p99: qs[2],
        };

        let request_time = (p.request_time.count > 0).then(|| {
            let q = p.request_time.quantiles(&[0.5, 0.9, 0.99]);
            let ms = |us: u64| us as f64 / 1000.0;
            TimeStats {
                count: p.request_time.count,
                min_ms: ms(p.request_time.min),
                max_ms: ms(p.request_time.max),
                mean_ms: p.request_time.mean() / 1000.0,
                stddev_ms: p.request_time.stddev() / 1000.0,
                p50_ms: ms(q[0]),
                p90_ms: ms(q[1]),
                p99_ms: ms(q[2]),
            }
        });

        let agents = p.has_user_agent.then(|| {
            let mut a = Agents::default();
            let mut bots: Map<u64> = Map::default();
            let classifier = Classifier::new();
            for (ua, c) in &p.user_agents {
                a.requests += c;
                match classifier.classify(ua) {
                    AgentKind::Bot => {
                        a.bots += c;
                        bots.insert(ua.clone(), *c);
                    }
                    AgentKind::Tool => a.tools += c,
                    AgentKind::Other => a.others += c,
                }
            }
            if a.requests > 0 {
                a.bot_share = a.bots as f64 / a.requests as f64;
                a.tool_share = a.tools as f64 / a.requests as f64;
            }
            a.top_bots = top_counts(&bots, top);
            a
        });

        let degraded = Oddity::ALL
            .iter()
            .filter(|o| p.oddities[**o as usize] > 0)
            .map(|o| NameCount {
                name: o.name().to_string(),
                count: p.oddities[*o as usize],
            })
            .collect();
        let rejected = RejectReason::CODES
            .iter()
            .enumerate()
            .filter(|(i, _)| p.reject_reasons[*i] > 0)
            .map(|(i, c)| NameCount {
                name: c.to_string(),
                count: p.reject_reasons[i],
            })
            .collect();

        Report {
            schema: SCHEMA.to_string(),
            meta,
            totals: Totals {
                lines: p.lines,
                ok: p.ok,
                degraded: p.degraded,
                rejected: p.rejected,
                filtered: p.filtered,
                requests: p.requests,
                bytes: p.bytes,
                first: p.first.map(fmt_utc),
                last: p.last.map(fmt_utc),
                first_local: p.first_local.map(fmt_local),
                last_local: p.last_local.map(fmt_local),
                days: days.len(),
            },
            degraded,
            rejected,
            reject_samples: p.reject_samples.clone(),
            content_size,
            status,
            status_classes,
            no_status: p.no_status,
            methods,
            protocols,
            unique_hosts: p.hosts.len() as u64,
            top_hosts,
            top_endpoints,
            top_error_endpoints,
            daily,
            hourly,
            timeline,
            not_found,
            top_referers: p.has_referer.then(|| top_counts(&p.referers, top)),
            top_user_agents: p.has_user_agent.then(|| top_counts(&p.user_agents, top)),
            agents,
            request_time,
            vhosts: p.has_vhost.then(|| top_counts(&p.vhosts, top.max(20))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formats() {
        assert_eq!(fmt_utc(804_571_201), "1995-07-01T04:00:01Z");
        assert_eq!(fmt_local(804_571_201 - 14_400), "1995-07-01 00:00:01");
    }
}
