//! The finished analysis: plain data, serialisable as the documented JSON schema
//! (`hitstream.analyze/1`, see docs/analyze-json.md).

use hitstream_format::time::{civil_from_days, format_day};
use hitstream_format::{Oddity, RejectReason};
use serde::Serialize;

use crate::classify::{AgentKind, Classifier, CRAWLER};
use crate::geo::GeoReport;
use crate::partial::{Map, Partial, RejectSample};
use crate::platform::PlatformParser;
use crate::url::{referring_site, static_extension, Referrer};

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

/// A key, how often it occurred, and its share of the panel's requests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShareCount {
    /// The key.
    pub name: String,
    /// Requests.
    pub count: u64,
    /// count / the panel's requests (0 when there are none).
    pub share: f64,
}

/// Browsers and operating systems from the user agents (woothee), when the format has them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Platforms {
    /// Requests with a user agent field (shares are of this).
    pub requests: u64,
    /// Distinct user agents parsed.
    pub distinct_agents: u64,
    /// Top browsers (and crawlers) by name; `unknown` for `-` and unrecognised agents.
    pub browsers: Vec<ShareCount>,
    /// Top browsers by name and major version (`Chrome 120`).
    pub browser_versions: Vec<ShareCount>,
    /// Top operating systems; `unknown` when the agent names none.
    pub operating_systems: Vec<ShareCount>,
    /// Requests by device category (`pc`, `smartphone`, `mobilephone`, `crawler`, `appliance`,
    /// `misc`, `unknown`).
    pub categories: Vec<ShareCount>,
}

/// Requests for one static-file extension.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExtensionRow {
    /// Lower-case extension (`png`).
    pub extension: String,
    /// Requests.
    pub requests: u64,
    /// Response bytes.
    pub bytes: u64,
}

/// Static files (by the path's extension, see `STATIC_EXTENSIONS`) versus everything else.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StaticDynamic {
    /// Requests for static files.
    pub static_requests: u64,
    /// Response bytes of static files.
    pub static_bytes: u64,
    /// All other requests (pages, scripts, APIs, and requests without a path).
    pub dynamic_requests: u64,
    /// Response bytes of all other requests.
    pub dynamic_bytes: u64,
    /// static_requests / requests.
    pub static_share: f64,
    /// Static requests by extension, descending.
    pub extensions: Vec<ExtensionRow>,
    /// Most requested static files.
    pub top_static_files: Vec<EndpointRow>,
}

/// Referring sites: the host of the referer, when the format has referers.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReferringSites {
    /// Requests with a referer field (shares are of this).
    pub requests: u64,
    /// Requests with referer `-` or empty (direct visits, bookmarks, bots).
    pub direct: u64,
    /// Requests whose referer names no host (`javascript:...`, `about:blank`, junk).
    pub no_host: u64,
    /// Distinct referring hosts.
    pub distinct_sites: u64,
    /// Top referring hosts (lower case, without port).
    pub top_sites: Vec<ShareCount>,
}

/// Requests on one weekday, by hour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekdayRow {
    /// `Mon` .. `Sun`, in the bucket clock.
    pub weekday: String,
    /// Requests that weekday.
    pub requests: u64,
    /// Requests per hour of day, 24 entries.
    pub hours: Vec<u64>,
}

/// Requests in the busiest weekday-hour cell (0 when there are none): what heat maps shade
/// against.
pub fn busiest_hour(rows: &[WeekdayRow]) -> u64 {
    rows.iter()
        .flat_map(|r| r.hours.iter())
        .copied()
        .max()
        .unwrap_or(0)
}

/// Weekday names, Monday first.
pub const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Weekday (0 = Monday) of a day number counted from 1970-01-01 (a Thursday).
pub fn weekday(day: i32) -> usize {
    (i64::from(day) + 3).rem_euclid(7) as usize
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
    /// Error responses: status 400 to 599 (lines without a status are not errors).
    pub errors: u64,
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

/// One endpoint's error responses (4xx and 5xx).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorRow {
    /// Path.
    pub endpoint: String,
    /// Responses with a status from 400 to 599.
    pub errors: u64,
}

/// One endpoint's responses with a status other than 200 (redirects, 304s and partial
/// content included): the classic lab's "error endpoints", under a name that says what it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Non200Row {
    /// Path.
    pub endpoint: String,
    /// Responses with a status other than 200 (lines without a status are not counted).
    pub non_200: u64,
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
    /// Endpoints with most error responses (4xx and 5xx).
    pub top_error_endpoints: Vec<ErrorRow>,
    /// Endpoints with most responses other than 200.
    pub top_non_200_endpoints: Vec<Non200Row>,
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
    /// Browsers and operating systems, when the format has user agents.
    pub platforms: Option<Platforms>,
    /// Static files versus dynamic requests.
    pub static_dynamic: StaticDynamic,
    /// Referring sites, when the format has referers.
    pub referring_sites: Option<ReferringSites>,
    /// Requests by weekday and hour of day (7 rows, Monday first), in the bucket clock.
    pub weekday_hourly: Vec<WeekdayRow>,
    /// Countries and autonomous systems; `null` unless a GeoIP database was given.
    pub geo: Option<GeoReport>,
}

fn shares(counts: std::collections::HashMap<String, u64>, of: u64, n: usize) -> Vec<ShareCount> {
    let mut v: Vec<ShareCount> = counts
        .into_iter()
        .map(|(name, count)| ShareCount {
            share: if of == 0 {
                0.0
            } else {
                count as f64 / of as f64
            },
            name,
            count,
        })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    v.truncate(n);
    v
}

/// Requests per browser, browser version, OS and category, and per kind of client.
#[derive(Default)]
struct PlatformCounts {
    browsers: std::collections::HashMap<String, u64>,
    versions: std::collections::HashMap<String, u64>,
    oses: std::collections::HashMap<String, u64>,
    categories: std::collections::HashMap<String, u64>,
    bots: u64,
    tools: u64,
    others: u64,
    /// Requests per bot user agent.
    bot_agents: Vec<(Box<[u8]>, u64)>,
}

impl PlatformCounts {
    fn of(agents: &[(&[u8], u64)]) -> PlatformCounts {
        let parser = PlatformParser::new();
        let classifier = Classifier::new();
        let mut out = PlatformCounts::default();
        for (ua, c) in agents {
            let pl = parser.parse(ua);
            let version = if pl.major.is_empty() {
                pl.browser.clone()
            } else {
                format!("{} {}", pl.browser, pl.major)
            };
            // One verdict per agent for both panels: a bot is a crawler, and only bots are.
            let kind = classifier.classify_with_category(ua, &pl.category);
            let category = match kind {
                AgentKind::Bot => {
                    out.bots += c;
                    out.bot_agents.push(((*ua).into(), *c));
                    CRAWLER.to_string()
                }
                AgentKind::Tool => {
                    out.tools += c;
                    pl.category
                }
                AgentKind::Other => {
                    out.others += c;
                    pl.category
                }
            };
            *out.versions.entry(version).or_default() += c;
            *out.browsers.entry(pl.browser).or_default() += c;
            *out.oses.entry(pl.os).or_default() += c;
            *out.categories.entry(category).or_default() += c;
        }
        out
    }

    fn merge(&mut self, o: PlatformCounts) {
        for (a, b) in [
            (&mut self.browsers, o.browsers),
            (&mut self.versions, o.versions),
            (&mut self.oses, o.oses),
            (&mut self.categories, o.categories),
        ] {
            for (k, v) in b {
                *a.entry(k).or_default() += v;
            }
        }
        self.bots += o.bots;
        self.tools += o.tools;
        self.others += o.others;
        self.bot_agents.extend(o.bot_agents);
    }
}

/// Distinct agents above which parsing is spread over threads (a parse takes microseconds).
const PARALLEL_AGENTS: usize = 512;

/// The two panels read from user agents: the kinds of client, and browsers, systems and
/// device categories. Each distinct agent is parsed and classified once, for both.
fn user_agent_panels(p: &Partial, top: usize) -> (Agents, Platforms) {
    let agents: Vec<(&[u8], u64)> = p.user_agents.iter().map(|(k, c)| (&**k, *c)).collect();
    let requests = agents.iter().map(|a| a.1).sum();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let counts = if agents.len() < PARALLEL_AGENTS || threads < 2 {
        PlatformCounts::of(&agents)
    } else {
        let per = agents.len().div_ceil(threads);
        std::thread::scope(|s| {
            let parts: Vec<_> = agents
                .chunks(per)
                .map(|c| s.spawn(move || PlatformCounts::of(c)))
                .collect();
            let mut all = PlatformCounts::default();
            for h in parts {
                match h.join() {
                    Ok(c) => all.merge(c),
                    Err(e) => std::panic::resume_unwind(e),
                }
            }
            all
        })
    };
    let share = |n: u64| {
        if requests == 0 {
            0.0
        } else {
            n as f64 / requests as f64
        }
    };
    let bots: Map<u64> = counts.bot_agents.into_iter().collect();
    let kinds = Agents {
        requests,
        bots: counts.bots,
        bot_share: share(counts.bots),
        tools: counts.tools,
        tool_share: share(counts.tools),
        others: counts.others,
        top_bots: top_counts(&bots, top),
    };
    let platforms = Platforms {
        requests,
        distinct_agents: agents.len() as u64,
        browsers: shares(counts.browsers, requests, top),
        browser_versions: shares(counts.versions, requests, top),
        operating_systems: shares(counts.oses, requests, top),
        categories: shares(counts.categories, requests, usize::MAX),
    };
    (kinds, platforms)
}

fn static_dynamic(p: &Partial, top: usize) -> StaticDynamic {
    let mut exts: std::collections::HashMap<&'static str, (u64, u64)> = Default::default();
    let mut files: Vec<(&[u8], u64, u64)> = Vec::new();
    let (mut requests, mut bytes) = (0, 0);
    for (path, e) in &p.endpoints {
        if let Some(ext) = static_extension(path) {
            requests += e.hits;
            bytes += e.bytes;
            let x = exts.entry(ext).or_default();
            x.0 += e.hits;
            x.1 += e.bytes;
            files.push((path, e.hits, e.bytes));
        }
    }
    files.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    files.truncate(top);
    let mut extensions: Vec<ExtensionRow> = exts
        .into_iter()
        .map(|(e, (r, b))| ExtensionRow {
            extension: e.to_string(),
            requests: r,
            bytes: b,
        })
        .collect();
    extensions.sort_by(|a, b| {
        b.requests
            .cmp(&a.requests)
            .then_with(|| a.extension.cmp(&b.extension))
    });
    StaticDynamic {
        static_requests: requests,
        static_bytes: bytes,
        dynamic_requests: p.requests.saturating_sub(requests),
        dynamic_bytes: p.bytes.saturating_sub(bytes),
        static_share: if p.requests == 0 {
            0.0
        } else {
            requests as f64 / p.requests as f64
        },
        extensions,
        top_static_files: files
            .into_iter()
            .map(|(k, r, b)| EndpointRow {
                endpoint: lossy(k),
                requests: r,
                bytes: b,
            })
            .collect(),
    }
}

fn referring_sites(p: &Partial, top: usize) -> ReferringSites {
    let mut sites: std::collections::HashMap<String, u64> = Default::default();
    let mut no_host = 0;
    let mut requests = p.no_referer;
    for (r, c) in &p.referers {
        requests += c;
        match referring_site(r) {
            Referrer::Site(h) => *sites.entry(h).or_default() += c,
            Referrer::NoHost => no_host += c,
            // Never stored, but a stray one still counts where it belongs.
            Referrer::Direct => requests -= c,
        }
    }
    ReferringSites {
        requests,
        direct: p.no_referer,
        no_host,
        distinct_sites: sites.len() as u64,
        top_sites: shares(sites, requests, top),
    }
}

fn weekday_hourly(p: &Partial) -> Vec<WeekdayRow> {
    let mut grid = [[0u64; 24]; 7];
    for (d, s) in &p.days {
        for (a, b) in grid[weekday(*d)].iter_mut().zip(s.hours) {
            *a += b;
        }
    }
    WEEKDAYS
        .iter()
        .zip(grid)
        .map(|(w, hours)| WeekdayRow {
            weekday: w.to_string(),
            requests: hours.iter().sum(),
            hours: hours.to_vec(),
        })
        .collect()
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
        let top_non_200_endpoints = top_by(&p.endpoints, top, |e| e.non_200, |k| k.to_vec())
            .into_iter()
            .map(|(k, e)| Non200Row {
                endpoint: lossy(k),
                non_200: e.non_200,
            })
            .collect();
        let errors = p.status[400..600].iter().sum();

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

        let (agents, platforms) = if p.has_user_agent {
            let (a, pl) = user_agent_panels(p, top);
            (Some(a), Some(pl))
        } else {
            (None, None)
        };

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
                errors,
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
            top_non_200_endpoints,
            daily,
            hourly,
            timeline,
            not_found,
            top_referers: p.has_referer.then(|| top_counts(&p.referers, top)),
            top_user_agents: p.has_user_agent.then(|| top_counts(&p.user_agents, top)),
            agents,
            request_time,
            vhosts: p.has_vhost.then(|| top_counts(&p.vhosts, top.max(20))),
            platforms,
            static_dynamic: static_dynamic(p, top),
            referring_sites: p.has_referer.then(|| referring_sites(p, top)),
            weekday_hourly: weekday_hourly(p),
            geo: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partial::Options;
    use crate::TimeBasis;
    use hitstream_format::{FormatSpec, Parser, Record};
    use proptest::prelude::*;

    fn partial_of(lines: &[String], opts: &Options) -> Partial {
        let parser = Parser::new(FormatSpec::from_str_any("combined").unwrap());
        let mut rec = Record::new();
        let mut p = Partial::new(opts);
        for l in lines {
            let outcome = parser.parse(l.as_bytes(), &mut rec);
            assert!(outcome.is_usable(), "{l}");
            p.add(&rec, &outcome);
        }
        p
    }

    fn line(time: &str, path: &str, bytes: u64, referer: &str, ua: &str) -> String {
        format!("10.0.0.1 - - [{time}] \"GET {path} HTTP/1.1\" 200 {bytes} \"{referer}\" \"{ua}\"")
    }

    const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const FIREFOX: &str =
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:27.0) Gecko/20100101 Firefox/27.0";
    const GOOGLEBOT: &str =
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

    #[test]
    fn weekdays() {
        assert_eq!(WEEKDAYS[weekday(0)], "Thu"); // 1970-01-01
        assert_eq!(WEEKDAYS[weekday(-1)], "Wed");
        assert_eq!(WEEKDAYS[weekday(19_723)], "Mon"); // 2024-01-01
        assert_eq!(WEEKDAYS[weekday(9_312)], "Sat"); // 1995-07-01
    }

    #[test]
    fn heatmap_buckets_follow_the_clock() {
        let lines = [
            line("01/Jul/1995:00:00:01 -0400", "/", 1, "-", "-"),
            line("02/Jan/2024:23:30:00 -0400", "/", 1, "-", "-"),
            line("02/Jan/2024:23:40:00 -0400", "/", 1, "-", "-"),
        ];
        let as_written = Options {
            basis: TimeBasis::AsWritten,
            ..Options::default()
        };
        let r = Report::build(&partial_of(&lines, &as_written), 10, Meta::default());
        assert_eq!(r.weekday_hourly.len(), 7);
        let at = |r: &Report, wd: &str, h: usize| {
            r.weekday_hourly
                .iter()
                .find(|w| w.weekday == wd)
                .unwrap()
                .hours[h]
        };
        // As written: Saturday 00h, Tuesday 23h.
        assert_eq!(at(&r, "Sat", 0), 1);
        assert_eq!(at(&r, "Tue", 23), 2);
        assert_eq!(r.weekday_hourly[1].requests, 2);
        let total: u64 = r.weekday_hourly.iter().map(|w| w.requests).sum();
        assert_eq!(total, 3);
        // In UTC (the default): Saturday 04h, Wednesday 03h.
        let utc = Options::default();
        let r = Report::build(&partial_of(&lines, &utc), 10, Meta::default());
        assert_eq!(at(&r, "Sat", 4), 1);
        assert_eq!(at(&r, "Wed", 3), 2);
        assert_eq!(at(&r, "Tue", 23), 0);
    }

    #[test]
    fn panels_by_hand() {
        let t = "01/Jan/2024:10:00:00 +0000";
        let lines = [
            line(t, "/", 100, "https://www.Google.com/search?q=x", CHROME),
            line(
                t,
                "/style.css?v=2",
                10,
                "https://example.org:8443/a",
                CHROME,
            ),
            line(t, "/logo.PNG", 20, "-", FIREFOX),
            line(t, "/logo.PNG", 20, "", FIREFOX),
            line(t, "/robots.txt", 5, "javascript:alert(1)", GOOGLEBOT),
            line(t, "/index.php?img=a.png", 50, "http://www.google.com/", "-"),
        ];
        let r = Report::build(
            &partial_of(&lines, &Options::default()),
            10,
            Meta::default(),
        );
        let sd = &r.static_dynamic;
        assert_eq!((sd.static_requests, sd.static_bytes), (4, 55));
        assert_eq!((sd.dynamic_requests, sd.dynamic_bytes), (2, 150));
        assert!((sd.static_share - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(sd.extensions[0].extension, "png");
        assert_eq!(sd.extensions[0].requests, 2);
        assert_eq!(sd.top_static_files[0].endpoint, "/logo.PNG");
        assert_eq!(sd.top_static_files.len(), 3);

        let rs = r.referring_sites.as_ref().unwrap();
        assert_eq!(rs.requests, 6);
        assert_eq!(rs.direct, 2);
        assert_eq!(rs.no_host, 1);
        assert_eq!(rs.distinct_sites, 2);
        assert_eq!(rs.top_sites[0].name, "www.google.com");
        assert_eq!(rs.top_sites[0].count, 2);
        assert_eq!(rs.top_sites[1].name, "example.org");

        let pl = r.platforms.as_ref().unwrap();
        assert_eq!(pl.requests, 6);
        assert_eq!(pl.distinct_agents, 4);
        let get = |v: &[ShareCount], n: &str| v.iter().find(|s| s.name == n).map(|s| s.count);
        assert_eq!(get(&pl.browsers, "Chrome"), Some(2));
        assert_eq!(get(&pl.browsers, "Firefox"), Some(2));
        assert_eq!(get(&pl.browsers, "Googlebot"), Some(1));
        assert_eq!(get(&pl.browsers, "unknown"), Some(1));
        assert_eq!(get(&pl.browser_versions, "Chrome 120"), Some(2));
        assert_eq!(get(&pl.operating_systems, "Windows 10"), Some(2));
        assert_eq!(get(&pl.operating_systems, "Linux"), Some(2));
        assert_eq!(get(&pl.operating_systems, "unknown"), Some(2));
        assert_eq!(get(&pl.categories, "crawler"), Some(1));
        let b = pl.browsers.iter().find(|s| s.name == "Chrome").unwrap();
        assert!((b.share - 2.0 / 6.0).abs() < 1e-12);
        assert!(r.geo.is_none());
    }

    #[test]
    fn many_agents_parse_in_parallel_alike() {
        let t = "01/Jan/2024:10:00:00 +0000";
        let lines: Vec<String> = (0..PARALLEL_AGENTS as u64 * 2)
            .map(|i| {
                let ua = match i % 3 {
                    0 => format!(
                        "Mozilla/5.0 (Windows NT 10.0) Chrome/{}.0 Safari/537.36",
                        i % 90
                    ),
                    1 => format!(
                        "Mozilla/5.0 (X11; Linux x86_64; rv:{i}.0) Gecko/20100101 Firefox/{i}.0"
                    ),
                    _ => format!("tool-{i}"),
                };
                line(t, "/", 1, "-", &ua)
            })
            .collect();
        let p = partial_of(&lines, &Options::default());
        assert!(p.user_agents.len() >= PARALLEL_AGENTS);
        let (_, got) = user_agent_panels(&p, 1000);
        let agents: Vec<(&[u8], u64)> = p.user_agents.iter().map(|(k, c)| (&**k, *c)).collect();
        let seq = PlatformCounts::of(&agents);
        assert_eq!(got.browsers, shares(seq.browsers, got.requests, 1000));
        assert_eq!(got.operating_systems, shares(seq.oses, got.requests, 1000));
        assert_eq!(got.requests, lines.len() as u64);
        let firefox = got.browsers.iter().find(|b| b.name == "Firefox").unwrap();
        assert_eq!(firefox.count, lines.len() as u64 / 3);
    }

    #[test]
    fn formats_without_referers_or_agents() {
        let parser = Parser::new(FormatSpec::from_str_any("common").unwrap());
        let mut rec = Record::new();
        let mut p = Partial::new(&Options::default());
        let l = br#"h1 - - [01/Jul/1995:00:00:01 -0400] "GET /a.gif HTTP/1.0" 200 10"#;
        let o = parser.parse(l, &mut rec);
        p.add(&rec, &o);
        let r = Report::build(&p, 10, Meta::default());
        assert!(r.platforms.is_none() && r.referring_sites.is_none());
        assert_eq!(r.static_dynamic.static_requests, 1);
    }

    #[test]
    fn geo_counts_each_client_once() {
        let parser = Parser::new(FormatSpec::from_str_any("common").unwrap());

        let mut p = Partial::new(&Options::default());
        for h in [
            "8.8.8.8",
            "8.8.8.8",
            "1.1.1.1",
            "piweba3y.prodigy.com",
            "10.1.1.1",
            "X.X.X.X",
        ] {
            let l = format!(r#"{h} - - [01/Jul/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 1"#);
            let mut rec = Record::new();
            let o = parser.parse(l.as_bytes(), &mut rec);
            p.add(&rec, &o);
        }
        let calls = std::cell::Cell::new(0);
        let lookup = |ip: std::net::IpAddr| {
            calls.set(calls.get() + 1);
            match ip.to_string().as_str() {
                "8.8.8.8" => crate::GeoInfo {
                    country: Some("us".into()),
                    asn: Some(15169),
                    as_org: Some("GOOGLE".into()),
                },
                "1.1.1.1" => crate::GeoInfo {
                    country: Some("AU".into()),
                    ..Default::default()
                },
                _ => crate::GeoInfo::default(),
            }
        };
        let g = GeoReport::build(&p, &lookup, 10, vec!["test".into()]);
        assert_eq!(calls.get(), 3, "one look-up per distinct IP client");
        assert_eq!((g.requests, g.clients), (6, 5));
        assert_eq!(g.countries[0].country, "unknown");
        assert_eq!((g.countries[0].requests, g.countries[0].clients), (3, 3));
        assert_eq!(g.countries[1].country, "US");
        assert_eq!(g.countries[1].requests, 2);
        assert_eq!(
            (g.unknown_country_requests, g.unknown_country_clients),
            (3, 3)
        );
        let asns = g.asns.unwrap();
        assert_eq!(asns[0].name, "unknown");
        assert_eq!(asns[0].requests, 4);
        assert_eq!(asns[1].name, "AS15169");
        assert_eq!(asns[1].organization.as_deref(), Some("GOOGLE"));
        // A country-only database gives no AS table.
        let only = |_: std::net::IpAddr| crate::GeoInfo {
            country: Some("NL".into()),
            ..Default::default()
        };
        let g = GeoReport::build(&p, &only, 1, vec![]);
        assert!(g.asns.is_none());
        assert_eq!(g.countries.len(), 1);
        assert_eq!(g.countries[0].country, "NL");
        assert_eq!(g.countries[0].requests, 4);
        assert_eq!(g.unknown_country_requests, 2);
    }

    const UAS: &[&str] = &[CHROME, FIREFOX, GOOGLEBOT, "-", "curl/8.0", "\\xff junk"];
    const REFS: &[&str] = &[
        "-",
        "",
        "https://www.google.com/",
        "http://Example.org:8080/x",
        "javascript:alert(1)",
        "http://[2001:db8::1]/",
    ];
    const PATHS: &[&str] = &["/", "/a.css", "/b.PNG?x=1", "/api/v1", "/f.woff2", "/p.php"];

    proptest! {
        // Any split of the lines over partials, merged in any grouping, gives the report of
        // one partial that saw every line.
        #[test]
        fn merge_is_associative_for_new_panels(
            rows in proptest::collection::vec(
                (0..UAS.len(), 0..REFS.len(), 0..PATHS.len(), 1u32..=28, 0u32..24, 0u64..1000, 0usize..3),
                0..60,
            )
        ) {
            let mut parts: [Vec<String>; 3] = Default::default();
            let mut all = Vec::new();
            for (ua, rf, path, day, hour, bytes, part) in rows {
                let l = line(&format!("{day:02}/Feb/2024:{hour:02}:17:00 +0100"), PATHS[path], bytes, REFS[rf], UAS[ua]);
                parts[part].push(l.clone());
                all.push(l);
            }
            let opts = Options::default();
            let whole = Report::build(&partial_of(&all, &opts), 5, Meta::default());
            let [a, b, c] = parts.map(|p| partial_of(&p, &opts));
            let mut left = a.clone();
            left.merge(b.clone());
            left.merge(c.clone());
            let mut bc = b;
            bc.merge(c);
            let mut right = a;
            right.merge(bc);
            let left = Report::build(&left, 5, Meta::default());
            let right = Report::build(&right, 5, Meta::default());
            prop_assert_eq!(&left.platforms, &whole.platforms);
            prop_assert_eq!(&left.static_dynamic, &whole.static_dynamic);
            prop_assert_eq!(&left.referring_sites, &whole.referring_sites);
            prop_assert_eq!(&left.weekday_hourly, &whole.weekday_hourly);
            prop_assert_eq!(&right, &left);
            let heat: u64 = whole.weekday_hourly.iter().map(|w| w.requests).sum();
            prop_assert_eq!(heat, whole.totals.requests);
            let sd = &whole.static_dynamic;
            prop_assert_eq!(sd.static_requests + sd.dynamic_requests, whole.totals.requests);
            prop_assert_eq!(sd.static_bytes + sd.dynamic_bytes, whole.totals.bytes);
            if let Some(rs) = &whole.referring_sites {
                let sites: u64 = rs.top_sites.iter().map(|s| s.count).sum();
                prop_assert_eq!(rs.direct + rs.no_host + sites, whole.totals.requests);
            }
        }
    }

    #[test]
    fn errors_are_4xx_and_5xx_and_non_200_is_its_own_table() {
        let t = "01/Jan/2024:10:00:00 +0000";
        let with = |path: &str, status: u16| {
            format!("10.0.0.1 - - [{t}] \"GET {path} HTTP/1.1\" {status} 1 \"-\" \"-\"")
        };
        let lines = [
            with("/style.css", 304),
            with("/style.css", 304),
            with("/style.css", 200),
            with("/gone", 404),
            with("/gone", 410),
            with("/boom", 500),
            with("/moved", 301),
            with("/part", 206),
        ];
        let r = Report::build(
            &partial_of(&lines, &Options::default()),
            10,
            Meta::default(),
        );
        assert_eq!(r.totals.errors, 3);
        let errs: Vec<(&str, u64)> = r
            .top_error_endpoints
            .iter()
            .map(|e| (e.endpoint.as_str(), e.errors))
            .collect();
        assert_eq!(errs, vec![("/gone", 2), ("/boom", 1)]);
        let non: Vec<(&str, u64)> = r
            .top_non_200_endpoints
            .iter()
            .map(|e| (e.endpoint.as_str(), e.non_200))
            .collect();
        assert_eq!(
            non,
            vec![
                ("/gone", 2),
                ("/style.css", 2),
                ("/boom", 1),
                ("/moved", 1),
                ("/part", 1)
            ]
        );
    }

    #[test]
    fn bots_and_crawlers_are_one_count() {
        let t = "01/Jan/2024:10:00:00 +0000";
        let lines = [
            line(t, "/", 1, "-", GOOGLEBOT),
            line(t, "/", 1, "-", CHROME),
            // woothee names feed readers crawlers; the needles do not.
            line(
                t,
                "/",
                1,
                "-",
                "UniversalFeedParser/4.2-pre-314-svn +http://feedparser.org/",
            ),
            // The needles name scanners woothee does not know.
            line(t, "/", 1, "-", "Mozilla/5.0 zgrab/0.x"),
            line(t, "/", 1, "-", "curl/8.0"),
        ];
        let r = Report::build(
            &partial_of(&lines, &Options::default()),
            10,
            Meta::default(),
        );
        let a = r.agents.as_ref().unwrap();
        let crawler = r
            .platforms
            .as_ref()
            .unwrap()
            .categories
            .iter()
            .find(|c| c.name == CRAWLER)
            .map_or(0, |c| c.count);
        assert_eq!(a.bots, 3);
        assert_eq!(crawler, a.bots);
        assert_eq!(a.bots + a.tools + a.others, 5);
    }

    #[test]
    fn the_host_header_fills_the_vhost_panel() {
        let parser = Parser::new(
            FormatSpec::nginx(
                r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_host""#,
            )
            .unwrap(),
        );
        let mut p = Partial::new(&Options::default());
        for h in ["a.example", "b.example", "a.example"] {
            let l =
                format!(r#"1.2.3.4 - - [01/Jan/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "{h}""#);
            let mut rec = Record::new();
            let o = parser.parse(l.as_bytes(), &mut rec);
            assert!(o.is_usable());
            p.add(&rec, &o);
        }
        let r = Report::build(&p, 10, Meta::default());
        let v = r.vhosts.expect("a vhost panel");
        assert_eq!((v[0].name.as_str(), v[0].count), ("a.example", 2));
        assert_eq!((v[1].name.as_str(), v[1].count), ("b.example", 1));
    }

    #[test]
    fn time_formats() {
        assert_eq!(fmt_utc(804_571_201), "1995-07-01T04:00:01Z");
        assert_eq!(fmt_local(804_571_201 - 14_400), "1995-07-01 00:00:01");
    }
}
