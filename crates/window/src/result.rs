//! What a fired window reports, and the merge of its panes that it is computed from.

use hashbrown::HashTable;
use serde::{Deserialize, Serialize};

use crate::agg::{add_status, Agg, PageStat, Sketch};
use crate::hll::Hll;

/// A count by status code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCount {
    /// HTTP status code.
    pub code: u16,
    /// Requests with that status.
    pub count: u64,
}

/// Requests by status class. `other` holds absent statuses (`-`) and codes outside 100..=599.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusClasses {
    /// 1xx responses.
    #[serde(rename = "1xx")]
    pub informational: u64,
    /// 2xx responses.
    #[serde(rename = "2xx")]
    pub success: u64,
    /// 3xx responses.
    #[serde(rename = "3xx")]
    pub redirection: u64,
    /// 4xx responses.
    #[serde(rename = "4xx")]
    pub client_error: u64,
    /// 5xx responses.
    #[serde(rename = "5xx")]
    pub server_error: u64,
    /// Everything else.
    pub other: u64,
}

/// A key (page, method, endpoint) with its count. Keys are the log's bytes as lossy UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCount {
    /// The key.
    pub key: String,
    /// Its count.
    pub count: u64,
}

/// A client with its traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCount {
    /// Client address or host name as written in the log (lossy UTF-8).
    pub client: String,
    /// Requests.
    pub requests: u64,
    /// Response bytes.
    pub bytes: u64,
}

/// Summary of a distribution from a DDSketch. `count`, `min`, `max` and `mean` are exact;
/// quantiles are within 1 % relative error ([`crate::QUANTILE_RELATIVE_ERROR`]) and rounded to
/// the nearest integer. All but `count` are absent when nothing was observed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    /// Observations.
    pub count: u64,
    /// Smallest observation.
    pub min: Option<u64>,
    /// Median.
    pub p50: Option<u64>,
    /// 90th percentile.
    pub p90: Option<u64>,
    /// 99th percentile.
    pub p99: Option<u64>,
    /// Largest observation.
    pub max: Option<u64>,
    /// Mean.
    pub mean: Option<f64>,
}

impl Quantiles {
    pub(crate) fn of(s: &Sketch) -> Quantiles {
        let s = &s.0;
        let count = s.count() as u64;
        if count == 0 {
            return Quantiles::default();
        }
        let min = s.min().map(|v| v.round() as u64);
        let max = s.max().map(|v| v.round() as u64);
        // A sketch's bucket value can lie outside what was seen (one 2,936-byte response has
        // a p50 of 2,952); the exact extremes bound every quantile.
        let q = |x: f64| {
            s.quantile(x).ok().flatten().map(|v| {
                let v = v.max(0.0).round() as u64;
                v.clamp(min.unwrap_or(v), max.unwrap_or(v).max(min.unwrap_or(v)))
            })
        };
        Quantiles {
            count,
            min,
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            max,
            mean: s.sum().map(|v| v / count as f64),
        }
    }
}

/// One emitted window: a plain record with stable field names, for JSON lines and tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowResult {
    /// Window start, seconds since the Unix epoch (UTC), inclusive.
    pub window_start: i64,
    /// Window end, seconds since the Unix epoch (UTC), exclusive.
    pub window_end: i64,
    /// `window_start` as RFC 3339 (`1995-07-01T04:00:00Z`).
    pub window_start_rfc3339: String,
    /// `window_end` as RFC 3339.
    pub window_end_rfc3339: String,
    /// 0 for the first emission; each late update re-emits the window with the next number.
    pub revision: u32,
    /// Whether this replaces an earlier emission of the same window (`revision > 0`).
    pub update: bool,
    /// The engine's watermark when the window was emitted.
    pub watermark: i64,
    /// Requests.
    pub requests: u64,
    /// Response bytes (`-` counts as 0).
    pub bytes: u64,
    /// Requests by status code, by code.
    pub status: Vec<StatusCount>,
    /// Requests by status class.
    pub status_classes: StatusClasses,
    /// Requests by method, most frequent first. `-` counts requests without a method; `OTHER`
    /// the methods beyond the first 32 distinct ones of a pane.
    pub methods: Vec<KeyCount>,
    /// 404 responses.
    pub not_found: u64,
    /// 5xx responses.
    pub server_errors: u64,
    /// Most requested pages (path without query), most first, ties by name.
    pub top_pages: Vec<KeyCount>,
    /// Busiest clients, most requests first, ties by name.
    pub top_clients: Vec<ClientCount>,
    /// Endpoints with the most error responses (status 400 to 599).
    pub top_error_endpoints: Vec<KeyCount>,
    /// Distinct clients, estimated by HyperLogLog (standard error 0.81 %,
    /// [`crate::hll::STANDARD_ERROR`]).
    pub unique_clients: u64,
    /// Response sizes in bytes (lines with a size only).
    pub size: Quantiles,
    /// Request times in microseconds (formats that log one only).
    pub request_time_us: Quantiles,
    /// Late lines (too late to count anywhere) the engine had seen when this was emitted.
    pub late_total: u64,
}

/// Per-client counts over a window.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ClientAcc {
    pub requests: u64,
    pub bytes: u64,
    pub not_found: u64,
    pub auth: u64,
}

/// A window's panes merged, with keys borrowed from the panes.
pub(crate) struct Merged<'a> {
    pub panes: Vec<&'a Agg>,
    pub requests: u64,
    pub bytes: u64,
    pub status: Vec<(u16, u64)>,
    pub no_status: u64,
    pub methods: Vec<(&'a [u8], u64)>,
    pub other_methods: u64,
    pub no_method: u64,
    /// (client, hash, counts).
    pub clients: HashTable<(&'a [u8], u64, ClientAcc)>,
    pub pages: HashTable<(&'a [u8], u64, PageStat)>,
    pub hll: Hll,
    pub size: Sketch,
    pub request_time: Sketch,
}

impl<'a> Merged<'a> {
    pub fn empty() -> Merged<'a> {
        Merged {
            panes: Vec::new(),
            requests: 0,
            bytes: 0,
            status: Vec::new(),
            no_status: 0,
            methods: Vec::new(),
            other_methods: 0,
            no_method: 0,
            clients: HashTable::new(),
            pages: HashTable::new(),
            hll: Hll::new(),
            size: Sketch::new(),
            request_time: Sketch::new(),
        }
    }

    /// Refills with the merge of `panes`, keeping the table allocations of the last use.
    pub fn fill(&mut self, panes: Vec<&'a Agg>) {
        let m = self;
        m.requests = 0;
        m.bytes = 0;
        m.status.clear();
        m.no_status = 0;
        m.methods.clear();
        m.other_methods = 0;
        m.no_method = 0;
        m.clients.clear();
        m.pages.clear();
        m.hll.clear();
        m.size = Sketch::new();
        m.request_time = Sketch::new();
        for p in &panes {
            m.requests += p.requests;
            m.bytes += p.bytes;
            add_status(&mut m.status, &p.status);
            m.no_status += p.no_status;
            for (k, v) in &p.methods {
                match m.methods.iter_mut().find(|(x, _)| **x == **k) {
                    Some((_, c)) => *c += v,
                    None => m.methods.push((k, *v)),
                }
            }
            m.other_methods += p.other_methods;
            m.no_method += p.no_method;
            m.clients.reserve(p.clients.len(), |e| e.1);
            for s in p.clients.iter() {
                let key: &'a [u8] = &s.key;
                let e = m
                    .clients
                    .entry(s.hash, |e| e.1 == s.hash && e.0 == key, |e| e.1)
                    .or_insert((key, s.hash, ClientAcc::default()))
                    .into_mut();
                e.2.requests += s.value.requests;
                e.2.bytes += s.value.bytes;
                e.2.not_found += s.value.not_found;
                e.2.auth += s.value.auth;
            }
            m.pages.reserve(p.pages.len(), |e| e.1);
            for s in p.pages.iter() {
                let key: &'a [u8] = &s.key;
                let e = m
                    .pages
                    .entry(s.hash, |e| e.1 == s.hash && e.0 == key, |e| e.1)
                    .or_insert((key, s.hash, PageStat::default()))
                    .into_mut();
                e.2.hits += s.value.hits;
                e.2.errors += s.value.errors;
            }
            m.hll.merge(&p.hll);
            m.size.merge(&p.size);
            m.request_time.merge(&p.request_time);
        }
        m.panes = panes;
    }

    pub fn server_errors(&self) -> u64 {
        self.status
            .iter()
            .filter(|(c, _)| (500..600).contains(c))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn result(
        &self,
        start: i64,
        end: i64,
        revision: u32,
        watermark: i64,
        top_n: usize,
        late_total: u64,
    ) -> WindowResult {
        let mut status = Vec::new();
        let mut classes = StatusClasses {
            other: self.no_status,
            ..StatusClasses::default()
        };
        let mut codes = self.status.clone();
        codes.sort_unstable();
        for (code, c) in codes {
            status.push(StatusCount { code, count: c });
            match code {
                100..=199 => classes.informational += c,
                200..=299 => classes.success += c,
                300..=399 => classes.redirection += c,
                400..=499 => classes.client_error += c,
                500..=599 => classes.server_error += c,
                _ => classes.other += c,
            }
        }
        let mut methods: Vec<(&[u8], u64)> = self.methods.clone();
        if self.no_method > 0 {
            methods.push((b"-", self.no_method));
        }
        if self.other_methods > 0 {
            methods.push((b"OTHER", self.other_methods));
        }
        let methods = top(methods, usize::MAX);

        let top_pages = top(self.pages.iter().map(|e| (e.0, e.2.hits)), top_n);
        let top_errors = top(
            self.pages
                .iter()
                .filter(|e| e.2.errors > 0)
                .map(|e| (e.0, e.2.errors)),
            top_n,
        );
        let top_clients = top_by(self.clients.iter().map(|e| (e.0, e.2)), top_n, |c| {
            c.requests
        })
        .into_iter()
        .map(|(k, c)| ClientCount {
            client: lossy(k),
            requests: c.requests,
            bytes: c.bytes,
        })
        .collect();

        WindowResult {
            window_start: start,
            window_end: end,
            window_start_rfc3339: rfc3339(start),
            window_end_rfc3339: rfc3339(end),
            revision,
            update: revision > 0,
            watermark,
            requests: self.requests,
            bytes: self.bytes,
            status,
            status_classes: classes,
            methods: key_counts(methods),
            not_found: self
                .status
                .iter()
                .find(|(c, _)| *c == 404)
                .map_or(0, |(_, n)| *n),
            server_errors: self.server_errors(),
            top_pages: key_counts(top_pages),
            top_clients,
            top_error_endpoints: key_counts(top_errors),
            unique_clients: self.hll.estimate().round() as u64,
            size: Quantiles::of(&self.size),
            request_time_us: Quantiles::of(&self.request_time),
            late_total,
        }
    }
}

fn key_counts(v: Vec<(&[u8], u64)>) -> Vec<KeyCount> {
    v.into_iter()
        .map(|(k, c)| KeyCount {
            key: lossy(k),
            count: c,
        })
        .collect()
}

pub(crate) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The `n` largest counts, largest first, ties by key (so the order never depends on hashing).
pub(crate) fn top<'a>(
    items: impl IntoIterator<Item = (&'a [u8], u64)>,
    n: usize,
) -> Vec<(&'a [u8], u64)> {
    top_by(items, n, |c| *c)
}

pub(crate) fn top_by<'a, V>(
    items: impl IntoIterator<Item = (&'a [u8], V)>,
    n: usize,
    count: impl Fn(&V) -> u64,
) -> Vec<(&'a [u8], V)> {
    let mut v: Vec<(&'a [u8], V)> = items.into_iter().collect();
    let cmp =
        |a: &(&[u8], V), b: &(&[u8], V)| count(&b.1).cmp(&count(&a.1)).then_with(|| a.0.cmp(b.0));
    if n == 0 {
        return Vec::new();
    }
    if v.len() > n {
        v.select_nth_unstable_by(n - 1, cmp);
        v.truncate(n);
    }
    v.sort_unstable_by(cmp);
    v
}

/// `secs` since the epoch as RFC 3339 in UTC (`1995-07-01T04:00:00Z`).
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    let days = i32::try_from(days).unwrap_or(if days < 0 { i32::MIN / 2 } else { i32::MAX / 2 });
    let (y, m, d) = hitstream_format::time::civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        );
    }
    let y = y as u32;
    let mut b = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, v: u32, width: usize| {
        let mut v = v;
        for i in (0..width).rev() {
            b[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, y, 4);
    put(5, m, 2);
    put(8, d, 2);
    put(11, rem / 3600, 2);
    put(14, rem % 3600 / 60, 2);
    put(17, rem % 60, 2);
    String::from_utf8_lossy(&b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(804_571_201), "1995-07-01T04:00:01Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(-62_135_596_800), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn quantiles_stay_within_the_observed_range() {
        let mut one = Sketch::new();
        one.add(2936.0);
        let q = Quantiles::of(&one);
        assert_eq!(
            (q.min, q.p50, q.p90, q.p99, q.max),
            (Some(2936), Some(2936), Some(2936), Some(2936), Some(2936))
        );
        let mut some = Sketch::new();
        for v in [1.0, 2936.0, 2937.0, 100_003.0] {
            some.add(v);
        }
        let q = Quantiles::of(&some);
        for p in [q.p50, q.p90, q.p99] {
            assert!((1..=100_003).contains(&p.unwrap()), "{q:?}");
        }
    }

    #[test]
    fn top_is_deterministic() {
        let items = vec![(&b"b"[..], 2), (b"a", 2), (b"c", 5), (b"d", 1)];
        assert_eq!(
            top(items.clone(), 3),
            vec![(&b"c"[..], 5), (b"a", 2), (b"b", 2)]
        );
        assert_eq!(top(items.clone(), 0), vec![]);
        assert_eq!(top(items, 10).len(), 4);
    }
}
