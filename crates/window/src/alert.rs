//! Alert rules, evaluated on every fired window (first emissions and updates alike).
//!
//! Each rule compares one observed value of a window with a threshold; when it is exceeded the
//! engine emits an [`Alert`] that explains itself: rule, key (a client, or `*` for the whole
//! site), observed value, threshold, window, and up to three raw sample lines.
//!
//! **Thresholds that scale with the traffic.** A fixed count per window that suits a quiet
//! site is passed by hundreds of ordinary clients of a busy one. So a per-client rule fires
//! only when the client is above an absolute floor (`threshold`, which keeps quiet sites
//! quiet) AND stands out in a way that does not grow with the traffic: for `client_rate`, its
//! share of the window's requests (`share`); for `client_404_burst` and `client_auth_burst`,
//! the share of its own requests that got those responses (`ratio`: a scanner's probes are
//! mostly 404s at any traffic, an ordinary visitor's are not). Distance from the median
//! client (median and MAD of per-client counts) was not used: client activity is heavy-tailed,
//! so on an ordinary busy site the busiest ordinary clients lie further from the median, in
//! requests and in 404s, than a scanner does.
//!
//! **Baselines need history.** `traffic_spike` judges a window against the windows before it
//! only when enough of them had traffic (`min_baseline_windows`): a log with traffic in one
//! minute an hour has no baseline at minute scale, and an empty one would make every busy
//! minute a spike.
//!
//! **Cooldown** (per rule and key, in event time): a violation whose window end lies within
//! `cooldown` seconds of the previous violation's window end (before or after) belongs to the
//! same incident and raises no new alert; the incident's latest violation is remembered, so a
//! burst that goes on for hours is one alert, and a new alert needs a quiet gap longer than
//! the cooldown. The same window re-emitted as an update never alerts twice.
//!
//! Rules are configured as a list, each entry tagged by `kind`:
//!
//! ```
//! use hitstream_window::alert::Rule;
//! let rules: Vec<Rule> = serde_json::from_str(r#"[
//!     {"kind": "client_rate", "threshold": 1000},
//!     {"kind": "client_404_burst", "name": "scanner", "threshold": 30, "cooldown": "30m"},
//!     {"kind": "server_error_ratio", "ratio": 0.02}
//! ]"#).unwrap();
//! assert_eq!(rules[1].name(), "scanner");
//! assert_eq!(rules[2].name(), "server_error_ratio");
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::agg::{ClientSamples, Slots};
use crate::config::{de_secs, ConfigError};
use crate::result::{lossy, rfc3339, Merged};

/// Default cooldown of every rule: 10 minutes of event time.
pub const DEFAULT_COOLDOWN: u64 = 600;
/// Default [`ClientRateRule::share`]: a fifth of the window's requests. The busiest ordinary
/// client of `hitstream gen`'s 1,000 (heavy-tailed activity) makes about 6 % of them.
pub const DEFAULT_RATE_SHARE: f64 = 0.2;
/// Default `ratio` of [`NotFoundBurstRule`] and [`AuthBurstRule`]: more than half of the
/// client's own requests. Scanners' probes are mostly 404s; an ordinary client's broken
/// links and expired sessions are a few percent of its requests.
pub const DEFAULT_CLIENT_RATIO: f64 = 0.5;
/// Default [`SpikeRule::min_baseline_windows`].
pub const DEFAULT_MIN_BASELINE_WINDOWS: u32 = 8;

// New fields are left out of the serialized rule at their default, so that a configuration
// that does not set them serializes as it did before they existed: the engine's snapshot
// holds its configuration, and the bytes of a snapshot with default rules stay those of
// format version 3.
#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_default_rate_share(v: &f64) -> bool {
    v.to_bits() == DEFAULT_RATE_SHARE.to_bits()
}
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_default_client_ratio(v: &f64) -> bool {
    v.to_bits() == DEFAULT_CLIENT_RATIO.to_bits()
}
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_default_min_baseline(v: &u32) -> bool {
    *v == DEFAULT_MIN_BASELINE_WINDOWS
}

/// Requests per client per window above `threshold` and above `share` of the window's
/// requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientRateRule {
    /// Name in alerts and cooldown state. Default `client_rate`.
    pub name: String,
    /// The absolute floor: alert only when a client makes more than this many requests in
    /// one window. Default 600 (10 requests/s over the default 60 s window).
    pub threshold: u64,
    /// And only when those are more than this share of all requests of the window
    /// (0 <= share < 1; 0: the floor alone, as a fixed threshold). Default 0.2.
    #[serde(skip_serializing_if = "is_default_rate_share")]
    pub share: f64,
    /// Seconds of event time that separate incidents. Default 600.
    #[serde(deserialize_with = "de_secs")]
    pub cooldown: u64,
}

impl Default for ClientRateRule {
    fn default() -> Self {
        ClientRateRule {
            name: "client_rate".into(),
            threshold: 600,
            share: DEFAULT_RATE_SHARE,
            cooldown: DEFAULT_COOLDOWN,
        }
    }
}

/// 404 responses per client per window above `threshold` and above `ratio` of the client's
/// requests (scanners probing for paths).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotFoundBurstRule {
    /// Name in alerts and cooldown state. Default `client_404_burst`.
    pub name: String,
    /// The absolute floor: alert only when a client gets more than this many 404s in one
    /// window. Default 20.
    pub threshold: u64,
    /// And only when those are more than this share of the client's own requests in the
    /// window (0 <= ratio < 1; 0: the floor alone, as a fixed threshold). Default 0.5.
    #[serde(skip_serializing_if = "is_default_client_ratio")]
    pub ratio: f64,
    /// Seconds of event time that separate incidents. Default 600.
    #[serde(deserialize_with = "de_secs")]
    pub cooldown: u64,
}

impl Default for NotFoundBurstRule {
    fn default() -> Self {
        NotFoundBurstRule {
            name: "client_404_burst".into(),
            threshold: 20,
            ratio: DEFAULT_CLIENT_RATIO,
            cooldown: DEFAULT_COOLDOWN,
        }
    }
}

/// 401 and 403 responses per client per window above `threshold` and above `ratio` of the
/// client's requests (password guessing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthBurstRule {
    /// Name in alerts and cooldown state. Default `client_auth_burst`.
    pub name: String,
    /// The absolute floor: alert only when a client gets more than this many 401/403
    /// responses in one window. Default 10.
    pub threshold: u64,
    /// And only when those are more than this share of the client's own requests in the
    /// window (0 <= ratio < 1; 0: the floor alone, as a fixed threshold). Default 0.5.
    #[serde(skip_serializing_if = "is_default_client_ratio")]
    pub ratio: f64,
    /// Seconds of event time that separate incidents. Default 600.
    #[serde(deserialize_with = "de_secs")]
    pub cooldown: u64,
}

impl Default for AuthBurstRule {
    fn default() -> Self {
        AuthBurstRule {
            name: "client_auth_burst".into(),
            threshold: 10,
            ratio: DEFAULT_CLIENT_RATIO,
            cooldown: DEFAULT_COOLDOWN,
        }
    }
}

/// Share of 5xx responses in a window above `ratio`, once the window has `min_requests`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ErrorRatioRule {
    /// Name in alerts and cooldown state. Default `server_error_ratio`.
    pub name: String,
    /// Alert when 5xx responses / requests is above this (0 < ratio <= 1). Default 0.05.
    pub ratio: f64,
    /// Windows with fewer requests are not judged. Default 100.
    pub min_requests: u64,
    /// Seconds of event time that separate incidents. Default 600.
    #[serde(deserialize_with = "de_secs")]
    pub cooldown: u64,
}

impl Default for ErrorRatioRule {
    fn default() -> Self {
        ErrorRatioRule {
            name: "server_error_ratio".into(),
            ratio: 0.05,
            min_requests: 100,
            cooldown: DEFAULT_COOLDOWN,
        }
    }
}

/// Requests in a window above `factor` times the mean of the previous `baseline_windows`
/// windows (the non-overlapping windows just before it; windows without traffic count as 0).
/// Judged only once the engine has seen data from the start of the baseline and at least
/// `min_baseline_windows` of those windows had traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpikeRule {
    /// Name in alerts and cooldown state. Default `traffic_spike`.
    pub name: String,
    /// Alert when requests > factor x baseline mean (factor > 0). Default 3.0.
    pub factor: f64,
    /// Number of preceding windows in the baseline (1..=1000). Default 10.
    pub baseline_windows: u32,
    /// How many of the baseline's windows must have had traffic for the window to be judged
    /// (0..=1000; more than `baseline_windows` means all of them). Default 8.
    #[serde(skip_serializing_if = "is_default_min_baseline")]
    pub min_baseline_windows: u32,
    /// Windows with fewer requests are not judged. Default 100.
    pub min_requests: u64,
    /// Seconds of event time that separate incidents. Default 600.
    #[serde(deserialize_with = "de_secs")]
    pub cooldown: u64,
}

impl Default for SpikeRule {
    fn default() -> Self {
        SpikeRule {
            name: "traffic_spike".into(),
            factor: 3.0,
            baseline_windows: 10,
            min_baseline_windows: DEFAULT_MIN_BASELINE_WINDOWS,
            min_requests: 100,
            cooldown: DEFAULT_COOLDOWN,
        }
    }
}

/// One alert rule; in a config file, an object with `kind` set to the variant's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Rule {
    /// `kind = "client_rate"`.
    #[serde(rename = "client_rate")]
    ClientRate(ClientRateRule),
    /// `kind = "client_404_burst"`.
    #[serde(rename = "client_404_burst")]
    NotFoundBurst(NotFoundBurstRule),
    /// `kind = "client_auth_burst"`.
    #[serde(rename = "client_auth_burst")]
    AuthBurst(AuthBurstRule),
    /// `kind = "server_error_ratio"`.
    #[serde(rename = "server_error_ratio")]
    ErrorRatio(ErrorRatioRule),
    /// `kind = "traffic_spike"`.
    #[serde(rename = "traffic_spike")]
    Spike(SpikeRule),
}

impl Rule {
    /// One rule of each kind with default settings.
    pub fn defaults() -> Vec<Rule> {
        vec![
            Rule::ClientRate(ClientRateRule::default()),
            Rule::NotFoundBurst(NotFoundBurstRule::default()),
            Rule::AuthBurst(AuthBurstRule::default()),
            Rule::ErrorRatio(ErrorRatioRule::default()),
            Rule::Spike(SpikeRule::default()),
        ]
    }

    /// The rule's name.
    pub fn name(&self) -> &str {
        match self {
            Rule::ClientRate(r) => &r.name,
            Rule::NotFoundBurst(r) => &r.name,
            Rule::AuthBurst(r) => &r.name,
            Rule::ErrorRatio(r) => &r.name,
            Rule::Spike(r) => &r.name,
        }
    }

    /// The `kind` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Rule::ClientRate(_) => "client_rate",
            Rule::NotFoundBurst(_) => "client_404_burst",
            Rule::AuthBurst(_) => "client_auth_burst",
            Rule::ErrorRatio(_) => "server_error_ratio",
            Rule::Spike(_) => "traffic_spike",
        }
    }

    /// Cooldown in seconds.
    pub fn cooldown(&self) -> u64 {
        match self {
            Rule::ClientRate(r) => r.cooldown,
            Rule::NotFoundBurst(r) => r.cooldown,
            Rule::AuthBurst(r) => r.cooldown,
            Rule::ErrorRatio(r) => r.cooldown,
            Rule::Spike(r) => r.cooldown,
        }
    }

    pub(crate) fn baseline_windows(&self) -> u32 {
        match self {
            Rule::Spike(r) => r.baseline_windows,
            _ => 0,
        }
    }

    /// Checks the rule's values.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |field: &str, value: String, allowed: &'static str| {
            Err(ConfigError::OutOfRange {
                field: format!("alerts.{}.{field}", self.name()),
                value,
                allowed,
            })
        };
        if self.name().is_empty() || self.name().len() > 200 {
            return bad("name", format!("{:?}", self.name()), "1..=200 bytes");
        }
        if self.cooldown() > 366 * 86_400 {
            return bad("cooldown", self.cooldown().to_string(), "at most 366 days");
        }
        match self {
            Rule::ErrorRatio(r) if !(r.ratio > 0.0 && r.ratio <= 1.0) => {
                bad("ratio", r.ratio.to_string(), "0 < ratio <= 1")
            }
            Rule::Spike(r) if !(r.factor > 0.0 && r.factor.is_finite()) => {
                bad("factor", r.factor.to_string(), "a finite number > 0")
            }
            Rule::Spike(r) if !(1..=1000).contains(&r.baseline_windows) => bad(
                "baseline_windows",
                r.baseline_windows.to_string(),
                "1..=1000",
            ),
            Rule::Spike(r) if r.min_baseline_windows > 1000 => bad(
                "min_baseline_windows",
                r.min_baseline_windows.to_string(),
                "0..=1000",
            ),
            Rule::ClientRate(r) if !(0.0..1.0).contains(&r.share) => {
                bad("share", r.share.to_string(), "0 <= share < 1")
            }
            Rule::NotFoundBurst(NotFoundBurstRule { ratio, .. })
            | Rule::AuthBurst(AuthBurstRule { ratio, .. })
                if !(0.0..1.0).contains(ratio) =>
            {
                bad("ratio", ratio.to_string(), "0 <= ratio < 1")
            }
            _ => Ok(()),
        }
    }
}

/// A fired alert, with its explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The rule's name.
    pub rule: String,
    /// The rule's kind (`client_rate`, `client_404_burst`, `client_auth_burst`,
    /// `server_error_ratio`, `traffic_spike`).
    pub kind: String,
    /// The client (lossy UTF-8) for per-client rules, `*` for site-wide rules.
    pub key: String,
    /// What was observed: a count, a ratio (0..=1) or a request count.
    pub observed: f64,
    /// The threshold it exceeded: for per-client rules the larger of the rule's absolute
    /// `threshold` and its relative bound (`share` x the window's requests, or `ratio` x the
    /// client's requests); for `traffic_spike`, factor x baseline mean.
    pub threshold: f64,
    /// Window start (UTC seconds).
    pub window_start: i64,
    /// Window end (UTC seconds, exclusive).
    pub window_end: i64,
    /// Window start, RFC 3339.
    pub window_start_rfc3339: String,
    /// Window end, RFC 3339.
    pub window_end_rfc3339: String,
    /// Revision of the window emission that raised it.
    pub revision: u32,
    /// One sentence saying what happened.
    pub explanation: String,
    /// Up to three raw lines from the window that show it (lossy UTF-8, cut to
    /// `sample_bytes`).
    pub samples: Vec<String>,
}

/// Cooldown state: (rule name, key) to the window end of the incident's latest violation.
pub(crate) type Cooldowns = BTreeMap<(String, Vec<u8>), i64>;

/// A fired window as rules see it.
pub(crate) struct WindowCtx<'a, 'm> {
    pub start: i64,
    pub end: i64,
    pub revision: u32,
    pub merged: &'a Merged<'m>,
    /// Requests of earlier emitted windows, by start.
    pub history: &'a BTreeMap<i64, u64>,
    /// Earliest pane the engine has data for.
    pub first_pane: Option<i64>,
}

struct Candidate<'k> {
    rule: usize,
    key: &'k [u8],
    hash: u64,
    observed: f64,
    threshold: f64,
    explanation: String,
}

/// Evaluates `rules` on one window and appends the alerts that are not in cooldown.
pub(crate) fn evaluate(
    rules: &[Rule],
    w: &WindowCtx<'_, '_>,
    cooldowns: &mut Cooldowns,
    out: &mut Vec<Alert>,
) {
    if rules.is_empty() {
        return;
    }
    let m = w.merged;
    // Built only when some rule fires.
    let span_cell = std::cell::OnceCell::new();
    let span = || {
        span_cell
            .get_or_init(|| format!("{}..{}", rfc3339(w.start), rfc3339(w.end)))
            .clone()
    };
    let mut cands: Vec<Candidate<'_>> = Vec::new();
    let has_client_rules = rules.iter().any(|r| {
        matches!(
            r,
            Rule::ClientRate(_) | Rule::NotFoundBurst(_) | Rule::AuthBurst(_)
        )
    });
    if has_client_rules {
        for &(key, hash, c) in m.clients.iter() {
            for (i, r) in rules.iter().enumerate() {
                // (observed, absolute floor, relative bound, share that bound is of, of what)
                let (obs, floor, share, of, what) = match r {
                    Rule::ClientRate(r) => {
                        (c.requests, r.threshold, r.share, m.requests, "requests")
                    }
                    Rule::NotFoundBurst(r) => (
                        c.not_found,
                        r.threshold,
                        r.ratio,
                        c.requests,
                        "404 responses",
                    ),
                    Rule::AuthBurst(r) => (
                        c.auth,
                        r.threshold,
                        r.ratio,
                        c.requests,
                        "401/403 responses",
                    ),
                    _ => continue,
                };
                let bound = share * of as f64;
                if obs <= floor || obs as f64 <= bound {
                    continue;
                }
                let whose = if matches!(r, Rule::ClientRate(_)) {
                    "the window's"
                } else {
                    "its"
                };
                let pct = |x: f64| x * 100.0;
                let relative = if share > 0.0 {
                    format!(" and {:.0}% of {whose} requests", pct(share))
                } else {
                    String::new()
                };
                cands.push(Candidate {
                    rule: i,
                    key,
                    hash,
                    observed: obs as f64,
                    threshold: (floor as f64).max(bound),
                    explanation: format!(
                        "client {} had {obs} {what} in window {} ({:.1}% of {whose} {of} requests), above the threshold of {floor}{relative}",
                        lossy(key),
                        span(),
                        pct(obs as f64 / of.max(1) as f64),
                    ),
                });
            }
        }
    }
    for (i, r) in rules.iter().enumerate() {
        match r {
            Rule::ErrorRatio(r) => {
                let n = m.requests;
                let e = m.server_errors();
                if n == 0 || n < r.min_requests {
                    continue;
                }
                let ratio = e as f64 / n as f64;
                if ratio > r.ratio {
                    cands.push(Candidate {
                        rule: i,
                        key: b"*",
                        hash: 0,
                        observed: ratio,
                        threshold: r.ratio,
                        explanation: format!(
                            "{e} of {n} requests ({:.1}%) got a 5xx response in window {}, above {:.1}% (judged from {} requests)",
                            ratio * 100.0,
                            span(),
                            r.ratio * 100.0,
                            r.min_requests
                        ),
                    });
                }
            }
            Rule::Spike(r) => {
                let n = m.requests;
                if n < r.min_requests.max(1) {
                    continue;
                }
                let size = w.end - w.start;
                let k = i64::from(r.baseline_windows);
                let base_start = w.start - k * size;
                if w.first_pane.is_none_or(|f| f > base_start) {
                    continue;
                }
                let (mut sum, mut active) = (0u64, 0u32);
                for j in 1..=k {
                    let v = w.history.get(&(w.start - j * size)).copied().unwrap_or(0);
                    sum += v;
                    active += u32::from(v > 0);
                }
                if active < r.min_baseline_windows.min(r.baseline_windows) {
                    continue;
                }
                let mean = sum as f64 / k as f64;
                let threshold = r.factor * mean;
                if n as f64 > threshold {
                    cands.push(Candidate {
                        rule: i,
                        key: b"*",
                        hash: 0,
                        observed: n as f64,
                        threshold,
                        explanation: format!(
                            "{n} requests in window {}, {} the mean of {mean:.1} over the previous {k} windows ({active} with traffic; alert above {} x mean, from {} requests)",
                            span(),
                            if mean > 0.0 { format!("{:.1} x", n as f64 / mean) } else { "against".to_string() },
                            r.factor,
                            r.min_requests
                        ),
                    });
                }
            }
            _ => {}
        }
    }
    // Hash-map order must not leak into outputs.
    cands.sort_by(|a, b| a.rule.cmp(&b.rule).then_with(|| a.key.cmp(b.key)));
    for c in cands {
        let rule = &rules[c.rule];
        let ck = (rule.name().to_string(), c.key.to_vec());
        let cooldown = rule.cooldown();
        match cooldowns.get_mut(&ck) {
            Some(last) if last.abs_diff(w.end) <= cooldown => {
                // Same incident: remember how far it has gone.
                *last = (*last).max(w.end);
                continue;
            }
            Some(last) => *last = (*last).max(w.end),
            None => {
                cooldowns.insert(ck, w.end);
            }
        }
        let samples = samples_for(rule, &c, m);
        out.push(Alert {
            rule: rule.name().to_string(),
            kind: rule.kind().to_string(),
            key: lossy(c.key),
            observed: c.observed,
            threshold: c.threshold,
            window_start: w.start,
            window_end: w.end,
            window_start_rfc3339: rfc3339(w.start),
            window_end_rfc3339: rfc3339(w.end),
            revision: w.revision,
            explanation: c.explanation,
            samples,
        });
    }
}

fn samples_for(rule: &Rule, c: &Candidate<'_>, m: &Merged<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let pick: Option<fn(&ClientSamples) -> &Slots> = match rule {
        Rule::ClientRate(_) => Some(|s| &s.busy),
        Rule::NotFoundBurst(_) => Some(|s| &s.not_found),
        Rule::AuthBurst(_) => Some(|s| &s.auth),
        _ => None,
    };
    match (rule, pick) {
        (_, Some(pick)) => {
            for p in &m.panes {
                if let Some(s) = p.client_samples(c.key, c.hash) {
                    collect(&mut out, pick(s), &p.text);
                }
            }
        }
        (Rule::ErrorRatio(_), None) => {
            for p in &m.panes {
                collect(&mut out, &p.s5xx, &p.text);
            }
        }
        _ => {
            // A spike: lines of the busiest client, else the first lines of the window.
            if let Some(&(key, hash, _)) = m
                .clients
                .iter()
                .max_by(|a, b| a.2.requests.cmp(&b.2.requests).then_with(|| b.0.cmp(a.0)))
            {
                for p in &m.panes {
                    if let Some(s) = p.client_samples(key, hash) {
                        collect(&mut out, &s.busy, &p.text);
                    }
                }
            }
            for p in &m.panes {
                collect(&mut out, &p.first, &p.text);
            }
        }
    }
    out
}

fn collect(out: &mut Vec<String>, slots: &Slots, text: &[u8]) {
    for l in slots.lines(text) {
        if out.len() >= 3 {
            return;
        }
        out.push(lossy(l));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_from_json() {
        let r: Vec<Rule> = serde_json::from_str(
            r#"[{"kind":"traffic_spike","factor":2.5,"baseline_windows":5,"cooldown":"1h"},
                {"kind":"client_auth_burst"}]"#,
        )
        .unwrap();
        match &r[0] {
            Rule::Spike(s) => {
                assert_eq!(
                    (s.factor, s.baseline_windows, s.cooldown, s.min_requests),
                    (2.5, 5, 3600, 100)
                );
                assert_eq!(s.name, "traffic_spike");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(r[1], Rule::AuthBurst(AuthBurstRule::default()));
        for r in &r {
            r.validate().unwrap();
        }
    }

    #[test]
    fn unknown_fields_and_kinds_are_refused() {
        let e = serde_json::from_str::<Vec<Rule>>(r#"[{"kind":"client_rate","treshold":5}]"#)
            .unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        assert!(serde_json::from_str::<Vec<Rule>>(r#"[{"kind":"nope"}]"#).is_err());
        assert!(serde_json::from_str::<Vec<Rule>>(r#"[{"threshold":5}]"#).is_err());
    }

    #[test]
    fn invalid_values() {
        let r = Rule::ErrorRatio(ErrorRatioRule {
            ratio: 1.5,
            ..ErrorRatioRule::default()
        });
        assert!(r.validate().is_err());
        let r = Rule::Spike(SpikeRule {
            baseline_windows: 0,
            ..SpikeRule::default()
        });
        assert!(r.validate().is_err());
    }

    #[test]
    fn relative_bounds_are_validated() {
        for share in [-0.1, 1.0, f64::NAN] {
            let r = Rule::ClientRate(ClientRateRule {
                share,
                ..ClientRateRule::default()
            });
            let e = r.validate().unwrap_err().to_string();
            assert!(e.contains("alerts.client_rate.share"), "{e}");
        }
        for ratio in [1.5, f64::INFINITY] {
            let r = Rule::AuthBurst(AuthBurstRule {
                ratio,
                ..AuthBurstRule::default()
            });
            assert!(r.validate().is_err());
            let r = Rule::NotFoundBurst(NotFoundBurstRule {
                ratio,
                ..NotFoundBurstRule::default()
            });
            let e = r.validate().unwrap_err().to_string();
            assert!(e.contains("alerts.client_404_burst.ratio"), "{e}");
        }
        let r = Rule::Spike(SpikeRule {
            min_baseline_windows: 1001,
            ..SpikeRule::default()
        });
        assert!(r.validate().is_err());
        // 0 turns the relative bounds off; a minimum above the baseline means all of it.
        for r in [
            Rule::ClientRate(ClientRateRule {
                share: 0.0,
                ..ClientRateRule::default()
            }),
            Rule::NotFoundBurst(NotFoundBurstRule {
                ratio: 0.0,
                ..NotFoundBurstRule::default()
            }),
            Rule::Spike(SpikeRule {
                baseline_windows: 5,
                ..SpikeRule::default()
            }),
        ] {
            r.validate().unwrap();
        }
    }

    #[test]
    fn fields_at_their_default_are_not_serialized() {
        // Rules at their defaults serialize as before the relative bounds existed: snapshots
        // hold the configuration, and their bytes stay those of format version 3.
        let s = serde_json::to_string(&Rule::defaults()).unwrap();
        for f in ["share", "\"ratio\":0.5", "min_baseline_windows"] {
            assert!(!s.contains(f), "{f} in {s}");
        }
        let set = vec![
            Rule::ClientRate(ClientRateRule {
                share: 0.05,
                ..ClientRateRule::default()
            }),
            Rule::NotFoundBurst(NotFoundBurstRule {
                ratio: 0.0,
                ..NotFoundBurstRule::default()
            }),
            Rule::Spike(SpikeRule {
                min_baseline_windows: 3,
                ..SpikeRule::default()
            }),
        ];
        let s = serde_json::to_string(&set).unwrap();
        assert!(
            s.contains("\"share\":0.05")
                && s.contains("\"ratio\":0.0")
                && s.contains("\"min_baseline_windows\":3"),
            "{s}"
        );
        let back: Vec<Rule> = serde_json::from_str(&s).unwrap();
        assert_eq!(back, set);
    }

    #[test]
    fn rule_json_round_trip() {
        let all = Rule::defaults();
        let s = serde_json::to_string(&all).unwrap();
        let back: Vec<Rule> = serde_json::from_str(&s).unwrap();
        assert_eq!(back, all);
    }
}
