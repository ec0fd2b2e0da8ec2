//! The partial aggregate: what one thread has seen. Partials merge, so any split of the input
//! gives the same totals.

use hashbrown::HashMap;
use hitstream_format::{Oddity, Outcome, Record, RejectReason, Text, ODDITY_COUNT};

use crate::filter::{Clock, Filter, TimeBasis};

pub(crate) type Map<V> = HashMap<Box<[u8]>, V, foldhash::fast::RandomState>;

/// Options that change what is counted.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Count endpoints with their query string.
    pub keep_query: bool,
    /// Which records to keep.
    pub filter: Filter,
    /// Clock for day and hour buckets.
    pub basis: TimeBasis,
}

/// A reject kept as an example for the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RejectSample {
    /// Input name.
    pub source: String,
    /// 1-based line number in that input.
    pub line: u64,
    /// Reason code.
    pub reason: String,
    /// Reason, in words.
    pub detail: String,
    /// The raw line (lossy UTF-8, cut at 300 bytes).
    pub text: String,
}

/// How many reject examples a report keeps.
pub const REJECT_SAMPLES: usize = 5;

#[derive(Debug, Clone, Default)]
pub(crate) struct HostStat {
    pub hits: u64,
    pub bytes: u64,
    pub not_found: u64,
    /// Local days (sorted) on which the host was seen.
    pub days: Vec<i32>,
}

impl HostStat {
    #[inline]
    fn see_day(&mut self, day: i32) {
        match self.days.last() {
            Some(&d) if d == day => {}
            Some(&d) if d < day => self.days.push(day),
            None => self.days.push(day),
            _ => {
                if let Err(i) = self.days.binary_search(&day) {
                    self.days.insert(i, day);
                }
            }
        }
    }

    fn merge(&mut self, o: HostStat) {
        self.hits += o.hits;
        self.bytes += o.bytes;
        self.not_found += o.not_found;
        for d in o.days {
            self.see_day(d);
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EndpointStat {
    pub hits: u64,
    pub bytes: u64,
    /// Error responses: status 400 to 599.
    pub errors: u64,
    /// Responses with a status other than 200 (the classic lab's "error endpoints"); a line
    /// without a status is not counted.
    pub non_200: u64,
    pub not_found: u64,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct DayStat {
    pub requests: u64,
    pub bytes: u64,
    pub not_found: u64,
    pub hours: [u64; 24],
}

/// Exact distribution of a non-negative quantity: a histogram over distinct values, so memory
/// grows with distinct values, not with the number of observations.
#[derive(Debug, Clone, Default)]
pub(crate) struct Dist {
    pub count: u64,
    pub sum: u128,
    pub sum_sq: f64,
    pub min: u64,
    pub max: u64,
    pub hist: HashMap<u64, u64, foldhash::fast::RandomState>,
}

impl Dist {
    #[inline]
    pub fn add(&mut self, v: u64) {
        if self.count == 0 || v < self.min {
            self.min = v;
        }
        if v > self.max {
            self.max = v;
        }
        self.count += 1;
        self.sum += u128::from(v);
        self.sum_sq += (v as f64) * (v as f64);
        *self.hist.entry(v).or_insert(0) += 1;
    }

    fn merge(&mut self, o: Dist) {
        if o.count == 0 {
            return;
        }
        if self.count == 0 || o.min < self.min {
            self.min = o.min;
        }
        self.max = self.max.max(o.max);
        self.count += o.count;
        self.sum += o.sum;
        self.sum_sq += o.sum_sq;
        for (k, v) in o.hist {
            *self.hist.entry(k).or_insert(0) += v;
        }
    }

    /// Nearest-rank quantiles for each `q` in (0, 1].
    pub fn quantiles(&self, qs: &[f64]) -> Vec<u64> {
        let mut vals: Vec<(u64, u64)> = self.hist.iter().map(|(k, v)| (*k, *v)).collect();
        vals.sort_unstable();
        qs.iter()
            .map(|q| {
                let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count.max(1));
                let mut seen = 0;
                for (v, c) in &vals {
                    seen += c;
                    if seen >= rank {
                        return *v;
                    }
                }
                0
            })
            .collect()
    }

    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    /// Population standard deviation.
    pub fn stddev(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let m = self.mean();
        (self.sum_sq / self.count as f64 - m * m).max(0.0).sqrt()
    }
}

/// Whether a status is an error: 4xx (client) or 5xx (server). This is the one meaning of
/// "errors" in every report, table, chart and SQL query of hitstream.
#[inline]
pub fn is_error(status: u16) -> bool {
    (400..=599).contains(&status)
}

#[inline]
fn bump(map: &mut Map<u64>, key: &[u8]) {
    // One hash per line; the key is copied only when it is new.
    *map.entry_ref(key).or_insert(0) += 1;
}

#[inline]
fn entry<'m, V: Default>(map: &'m mut Map<V>, key: &[u8]) -> &'m mut V {
    map.entry_ref(key).or_default()
}

/// Everything one thread has counted. Feed it records with [`Partial::add`], rejects with
/// [`Partial::reject`], then [`Partial::merge`] the partials and build a
/// [`crate::Report`].
#[derive(Debug, Clone)]
pub struct Partial {
    pub(crate) keep_query: bool,
    pub(crate) filter: Filter,
    pub(crate) clock: Clock,
    pub(crate) lines: u64,
    pub(crate) ok: u64,
    pub(crate) degraded: u64,
    pub(crate) rejected: u64,
    pub(crate) filtered: u64,
    pub(crate) oddities: [u64; ODDITY_COUNT],
    pub(crate) reject_reasons: [u64; RejectReason::CODES.len()],
    pub(crate) reject_samples: Vec<RejectSample>,
    pub(crate) requests: u64,
    pub(crate) bytes: u64,
    pub(crate) size: Dist,
    pub(crate) size_absent: u64,
    pub(crate) status: Box<[u64; 1000]>,
    pub(crate) no_status: u64,
    pub(crate) methods: Vec<(Box<[u8]>, u64)>,
    pub(crate) no_method: u64,
    pub(crate) protocols: Vec<(Box<[u8]>, u64)>,
    pub(crate) hosts: Map<HostStat>,
    pub(crate) endpoints: Map<EndpointStat>,
    pub(crate) not_found_endpoints: Map<u64>,
    pub(crate) referers: Map<u64>,
    /// Requests whose referer was `-` or empty.
    pub(crate) no_referer: u64,
    pub(crate) user_agents: Map<u64>,
    pub(crate) vhosts: Map<u64>,
    pub(crate) days: HashMap<i32, DayStat, foldhash::fast::RandomState>,
    pub(crate) hour_of_day: [u64; 24],
    pub(crate) not_found_hour_of_day: [u64; 24],
    pub(crate) request_time: Dist,
    pub(crate) first: Option<i64>,
    pub(crate) last: Option<i64>,
    pub(crate) first_local: Option<i64>,
    pub(crate) last_local: Option<i64>,
    pub(crate) has_referer: bool,
    pub(crate) has_user_agent: bool,
    pub(crate) has_vhost: bool,
}

impl Partial {
    /// An empty partial.
    pub fn new(opts: &Options) -> Partial {
        Partial {
            keep_query: opts.keep_query,
            filter: opts.filter.clone(),
            clock: Clock::new(opts.basis.clone()),
            lines: 0,
            ok: 0,
            degraded: 0,
            rejected: 0,
            filtered: 0,
            oddities: [0; ODDITY_COUNT],
            reject_reasons: [0; RejectReason::CODES.len()],
            reject_samples: Vec::new(),
            requests: 0,
            bytes: 0,
            size: Dist::default(),
            size_absent: 0,
            status: Box::new([0; 1000]),
            no_status: 0,
            methods: Vec::new(),
            no_method: 0,
            protocols: Vec::new(),
            hosts: Map::default(),
            endpoints: Map::default(),
            not_found_endpoints: Map::default(),
            referers: Map::default(),
            no_referer: 0,
            user_agents: Map::default(),
            vhosts: Map::default(),
            days: HashMap::default(),
            hour_of_day: [0; 24],
            not_found_hour_of_day: [0; 24],
            request_time: Dist::default(),
            first: None,
            last: None,
            first_local: None,
            last_local: None,
            has_referer: false,
            has_user_agent: false,
            has_vhost: false,
        }
    }

    /// Counts a line that was rejected. `sample` is called only while examples are still
    /// wanted, so callers build no strings for the bulk of rejects.
    pub fn reject(&mut self, reason: &RejectReason, sample: impl FnOnce() -> RejectSample) {
        self.lines += 1;
        self.rejected += 1;
        let code = reason.code();
        let i = RejectReason::CODES
            .iter()
            .position(|c| *c == code)
            .unwrap_or(0);
        self.reject_reasons[i] += 1;
        if self.reject_samples.len() < REJECT_SAMPLES {
            self.reject_samples.push(sample());
        }
    }

    /// Counts a parsed line (ok or degraded). Returns false when the filters dropped it.
    #[inline]
    pub fn add(&mut self, rec: &Record<'_>, outcome: &Outcome) -> bool {
        self.lines += 1;
        match outcome {
            Outcome::Ok => self.ok += 1,
            Outcome::Degraded(d) => {
                self.degraded += 1;
                for o in d.iter() {
                    self.oddities[o as usize] += 1;
                }
            }
            Outcome::Rejected(_) => {
                // Callers route rejects to `reject`; count anyway rather than lose it.
                self.rejected += 1;
                return false;
            }
        }
        let Some(t) = rec.time else {
            // Every usable record has a time (formats without one are refused), so this is
            // unreachable in practice; count it as filtered rather than panic.
            self.filtered += 1;
            return false;
        };
        let local = self.clock.local_seconds(&t);
        if !self.filter.is_empty() && !self.filter.passes(rec, local) {
            self.filtered += 1;
            return false;
        }
        self.requests += 1;
        self.first = Some(self.first.map_or(t.utc, |f| f.min(t.utc)));
        self.last = Some(self.last.map_or(t.utc, |l| l.max(t.utc)));
        self.first_local = Some(self.first_local.map_or(local, |f| f.min(local)));
        self.last_local = Some(self.last_local.map_or(local, |l| l.max(local)));
        let day = local.div_euclid(86_400) as i32;
        let hour = (local.rem_euclid(86_400) / 3600) as usize;

        let bytes = rec.bytes.unwrap_or(0);
        self.bytes += bytes;
        match rec.bytes {
            Some(b) => self.size.add(b),
            None => self.size_absent += 1,
        }
        let status = rec.status;
        let not_found = status == Some(404);
        match status {
            Some(s) if s < 1000 => self.status[usize::from(s)] += 1,
            _ => self.no_status += 1,
        }
        match rec.method() {
            Some(m) => match self.methods.iter_mut().find(|(k, _)| **k == *m) {
                Some((_, c)) => *c += 1,
                None => self.methods.push((m.into(), 1)),
            },
            None => self.no_method += 1,
        }
        if let Some(p) = rec.get(Text::Protocol) {
            // Junk protocols are few in practice; cap the list so garbage cannot grow it.
            let n = self.protocols.len();
            match self.protocols.iter_mut().find(|(k, _)| **k == *p) {
                Some((_, c)) => *c += 1,
                None if n < 64 => self.protocols.push((p.into(), 1)),
                None => {}
            }
        }

        let ds = self.days.entry(day).or_default();
        ds.requests += 1;
        ds.bytes += bytes;
        ds.hours[hour] += 1;
        self.hour_of_day[hour] += 1;
        if not_found {
            ds.not_found += 1;
            self.not_found_hour_of_day[hour] += 1;
        }

        let client = rec.client().unwrap_or(b"-");
        let hs = entry(&mut self.hosts, client);
        hs.hits += 1;
        hs.bytes += bytes;
        hs.see_day(day);
        if not_found {
            hs.not_found += 1;
        }

        if rec.method().is_some() {
            let key = if self.keep_query {
                rec.get(Text::Uri)
            } else {
                rec.path()
            }
            .filter(|p| !p.is_empty())
            .unwrap_or(b"/");
            let es = entry(&mut self.endpoints, key);
            es.hits += 1;
            es.bytes += bytes;
            if status.is_some_and(is_error) {
                es.errors += 1;
            }
            if status.is_some_and(|s| s != 200) {
                es.non_200 += 1;
            }
            if not_found {
                es.not_found += 1;
                bump(&mut self.not_found_endpoints, key);
            }
        }

        if let Some(r) = rec.get(Text::Referer) {
            self.has_referer = true;
            if r != b"-" && !r.is_empty() {
                bump(&mut self.referers, r);
            } else {
                self.no_referer += 1;
            }
        }
        if let Some(ua) = rec.get(Text::UserAgent) {
            self.has_user_agent = true;
            bump(&mut self.user_agents, ua);
        }
        // `$http_host` and `%{Host}i` name the virtual host as well as `$server_name` and `%v`
        // do, and `--vhost` already reads either: the panel must show what the filter keeps.
        if let Some(v) = rec.get(Text::Vhost).or_else(|| rec.get(Text::Host)) {
            self.has_vhost = true;
            bump(&mut self.vhosts, v);
        }
        if let Some(us) = rec.request_time_us {
            self.request_time.add(us);
        }
        true
    }

    /// Adds everything `other` counted.
    pub fn merge(&mut self, other: Partial) {
        self.lines += other.lines;
        self.ok += other.ok;
        self.degraded += other.degraded;
        self.rejected += other.rejected;
        self.filtered += other.filtered;
        for (a, b) in self.oddities.iter_mut().zip(other.oddities) {
            *a += b;
        }
        for (a, b) in self.reject_reasons.iter_mut().zip(other.reject_reasons) {
            *a += b;
        }
        for s in other.reject_samples {
            if self.reject_samples.len() < REJECT_SAMPLES {
                self.reject_samples.push(s);
            }
        }
        self.requests += other.requests;
        self.bytes += other.bytes;
        self.size.merge(other.size);
        self.size_absent += other.size_absent;
        for (a, b) in self.status.iter_mut().zip(other.status.iter()) {
            *a += b;
        }
        self.no_status += other.no_status;
        merge_small(&mut self.methods, other.methods);
        self.no_method += other.no_method;
        merge_small(&mut self.protocols, other.protocols);
        for (k, v) in other.hosts {
            match self.hosts.get_mut(&k) {
                Some(h) => h.merge(v),
                None => {
                    self.hosts.insert(k, v);
                }
            }
        }
        for (k, v) in other.endpoints {
            let e = self.endpoints.entry(k).or_default();
            e.hits += v.hits;
            e.bytes += v.bytes;
            e.errors += v.errors;
            e.non_200 += v.non_200;
            e.not_found += v.not_found;
        }
        merge_counts(&mut self.not_found_endpoints, other.not_found_endpoints);
        merge_counts(&mut self.referers, other.referers);
        self.no_referer += other.no_referer;
        merge_counts(&mut self.user_agents, other.user_agents);
        merge_counts(&mut self.vhosts, other.vhosts);
        for (k, v) in other.days {
            let d = self.days.entry(k).or_default();
            d.requests += v.requests;
            d.bytes += v.bytes;
            d.not_found += v.not_found;
            for (a, b) in d.hours.iter_mut().zip(v.hours) {
                *a += b;
            }
        }
        for (a, b) in self.hour_of_day.iter_mut().zip(other.hour_of_day) {
            *a += b;
        }
        for (a, b) in self
            .not_found_hour_of_day
            .iter_mut()
            .zip(other.not_found_hour_of_day)
        {
            *a += b;
        }
        self.request_time.merge(other.request_time);
        self.first = min_opt(self.first, other.first);
        self.last = max_opt(self.last, other.last);
        self.first_local = min_opt(self.first_local, other.first_local);
        self.last_local = max_opt(self.last_local, other.last_local);
        self.has_referer |= other.has_referer;
        self.has_user_agent |= other.has_user_agent;
        self.has_vhost |= other.has_vhost;
    }

    /// Lines seen so far (all outcomes).
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Count of one oddity.
    pub fn oddity(&self, o: Oddity) -> u64 {
        self.oddities[o as usize]
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn merge_small(a: &mut Vec<(Box<[u8]>, u64)>, b: Vec<(Box<[u8]>, u64)>) {
    for (k, v) in b {
        match a.iter_mut().find(|(x, _)| *x == k) {
            Some((_, c)) => *c += v,
            None => a.push((k, v)),
        }
    }
}

fn merge_counts(a: &mut Map<u64>, b: Map<u64>) {
    if a.is_empty() {
        *a = b;
        return;
    }
    for (k, v) in b {
        *a.entry(k).or_insert(0) += v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_nearest_rank() {
        let mut d = Dist::default();
        for v in 1..=100 {
            d.add(v);
        }
        assert_eq!(d.quantiles(&[0.5, 0.9, 0.99, 1.0]), vec![50, 90, 99, 100]);
        assert_eq!(d.min, 1);
        assert_eq!(d.max, 100);
        assert!((d.mean() - 50.5).abs() < 1e-9);
        // Population stddev of 1..=100.
        assert!((d.stddev() - 28.866_070_047_722_12).abs() < 1e-6);
    }

    #[test]
    fn host_days_stay_sorted() {
        let mut h = HostStat::default();
        for d in [5, 5, 7, 3, 7, 6, 1] {
            h.see_day(d);
        }
        assert_eq!(h.days, vec![1, 3, 5, 6, 7]);
    }
}
