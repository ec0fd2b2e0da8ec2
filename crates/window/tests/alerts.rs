//! Alert rules on synthetic bursts: each rule fires where it should, nowhere else, with its
//! explanation and sample lines, and cooldown turns one incident into one alert.

mod common;

use common::*;
use hitstream_window::alert::{
    AuthBurstRule, ClientRateRule, ErrorRatioRule, NotFoundBurstRule, Rule, SpikeRule,
};
use hitstream_window::{Alert, EngineConfig};

const MIN: i64 = 60;

/// Background: five clients, ten requests a minute each, all 200.
fn background(minutes: std::ops::Range<i64>, out: &mut Vec<(i64, Vec<u8>)>) {
    for m in minutes {
        for c in 0..5 {
            for i in 0..10 {
                let t = m * MIN + (c * 10 + i) % 60;
                out.push((
                    t,
                    line(
                        &format!("user{c}.example.com"),
                        t,
                        "GET",
                        &format!("/page{i}"),
                        200,
                        1000,
                    ),
                ));
            }
        }
    }
}

fn burst(
    out: &mut Vec<(i64, Vec<u8>)>,
    minute: i64,
    n: i64,
    client: &str,
    method: &str,
    path: &str,
    status: u16,
) {
    for i in 0..n {
        let t = minute * MIN + i * 60 / n.max(1);
        out.push((t, line(client, t, method, &format!("{path}{i}"), status, 0)));
    }
}

fn sorted(mut v: Vec<(i64, Vec<u8>)>) -> Vec<Vec<u8>> {
    v.sort_by_key(|(t, _)| *t);
    v.into_iter().map(|(_, l)| l).collect()
}

fn config(lateness: u64) -> EngineConfig {
    EngineConfig {
        alerts: vec![
            Rule::ClientRate(ClientRateRule::default()),
            Rule::NotFoundBurst(NotFoundBurstRule::default()),
            Rule::AuthBurst(AuthBurstRule::default()),
            Rule::ErrorRatio(ErrorRatioRule::default()),
            Rule::Spike(SpikeRule::default()),
        ],
        ..EngineConfig::tumbling(60, lateness)
    }
}

fn summary(a: &[Alert]) -> Vec<(i64, &str, &str)> {
    a.iter()
        .map(|a| {
            (
                (a.window_start - JUL1_1995) / MIN,
                a.rule.as_str(),
                a.key.as_str(),
            )
        })
        .collect()
}

#[test]
fn every_rule_fires_on_its_burst_with_cooldown() {
    let mut v = Vec::new();
    background(0..70, &mut v);
    // A scanner for three minutes: one incident.
    for m in 5..8 {
        burst(&mut v, m, 50, "scan.evil", "GET", "/wp-admin", 404);
    }
    // Password guessing.
    burst(&mut v, 12, 30, "bf.evil", "POST", "/login", 401);
    // One client hammering (also a traffic spike: 750 requests against a mean of 50).
    burst(&mut v, 15, 700, "hot.example.com", "GET", "/api", 200);
    // Server errors: 30 of 140 requests.
    burst(&mut v, 20, 60, "user9.example.com", "GET", "/ok", 200);
    burst(&mut v, 20, 30, "user8.example.com", "GET", "/broken", 500);
    // The scanner again after a quiet gap longer than the cooldown: a second incident.
    burst(&mut v, 25, 50, "scan.evil", "GET", "/wp-admin", 404);
    // And a third incident that lasts 21 minutes (longer than the cooldown): one alert.
    for m in 40..61 {
        burst(&mut v, m, 50, "scan.evil", "GET", "/wp-admin", 404);
    }
    let lines = sorted(v);
    let refs: Vec<&[u8]> = lines.iter().map(|l| &l[..]).collect();
    let r = run(config(0), &refs, 97);

    assert_eq!(
        summary(&r.alerts),
        vec![
            (5, "client_404_burst", "scan.evil"),
            (12, "client_auth_burst", "bf.evil"),
            (15, "client_rate", "hot.example.com"),
            (15, "traffic_spike", "*"),
            (20, "server_error_ratio", "*"),
            (25, "client_404_burst", "scan.evil"),
            (40, "client_404_burst", "scan.evil"),
        ]
    );
    assert_eq!(r.stats.alerts, 7);

    let a = &r.alerts[0];
    // Every one of the scanner's 50 requests got a 404: above the floor of 20 and above half
    // of its requests (25).
    assert_eq!(
        (a.kind.as_str(), a.observed, a.threshold),
        ("client_404_burst", 50.0, 25.0)
    );
    assert_eq!(a.window_start_rfc3339, "1995-07-01T00:05:00Z");
    assert_eq!(a.window_end_rfc3339, "1995-07-01T00:06:00Z");
    assert!(
        a.explanation.contains("scan.evil") && a.explanation.contains("50 404 responses"),
        "{}",
        a.explanation
    );
    assert_eq!(a.samples.len(), 3);
    assert!(
        a.samples
            .iter()
            .all(|s| s.starts_with("scan.evil ") && s.contains("\" 404 ")),
        "{:?}",
        a.samples
    );

    let bf = &r.alerts[1];
    // 30 401s of 30 requests: above the floor of 10 and half of its requests (15).
    assert_eq!((bf.observed, bf.threshold), (30.0, 15.0));
    assert!(bf
        .samples
        .iter()
        .all(|s| s.contains("POST /login") && s.contains(" 401 ")));
    assert_eq!(bf.samples.len(), 3);

    let hot = &r.alerts[2];
    // 700 of the window's 750 requests: above the floor of 600, which is more than a fifth
    // of the window (150).
    assert_eq!((hot.observed, hot.threshold), (700.0, 600.0));
    assert!(
        hot.explanation.contains("700 requests")
            && hot
                .explanation
                .contains("93.3% of the window's 750 requests"),
        "{}",
        hot.explanation
    );
    assert_eq!(hot.samples.len(), 3);
    assert!(hot
        .samples
        .iter()
        .all(|s| s.starts_with("hot.example.com ")));

    let spike = &r.alerts[3];
    assert_eq!(spike.observed, 750.0);
    // The baseline is minutes 5..=14: seven at 50 requests, the scanner's three at 100,
    // minute 12 at 80: mean 68.
    assert_eq!(spike.threshold, 3.0 * 68.0);
    assert!(
        spike.explanation.contains("previous 10 windows"),
        "{}",
        spike.explanation
    );
    assert!(!spike.samples.is_empty());

    let ratio = &r.alerts[4];
    assert!((ratio.observed - 30.0 / 140.0).abs() < 1e-12);
    assert_eq!(ratio.threshold, 0.05);
    assert!(
        ratio.explanation.contains("30 of 140"),
        "{}",
        ratio.explanation
    );
    assert_eq!(ratio.samples.len(), 3);
    assert!(ratio.samples.iter().all(|s| s.contains(" 500 ")));

    // Alert JSON has stable field names.
    let j = serde_json::to_value(&r.alerts[0]).unwrap();
    for f in [
        "rule",
        "kind",
        "key",
        "observed",
        "threshold",
        "window_start",
        "window_end",
        "explanation",
        "samples",
    ] {
        assert!(j.get(f).is_some(), "{f}");
    }
}

#[test]
fn quiet_traffic_raises_nothing() {
    let mut v = Vec::new();
    background(0..120, &mut v);
    let lines = sorted(v);
    let refs: Vec<&[u8]> = lines.iter().map(|l| &l[..]).collect();
    let r = run(config(0), &refs, 500);
    assert!(r.alerts.is_empty(), "{:?}", summary(&r.alerts));
    assert_eq!(r.windows.len(), 120);
}

#[test]
fn updates_do_not_alert_twice_and_can_alert_late() {
    for cooldown in [0, 600] {
        let cfg = EngineConfig {
            alerts: vec![Rule::NotFoundBurst(NotFoundBurstRule {
                cooldown,
                ..NotFoundBurstRule::default()
            })],
            ..EngineConfig::tumbling(60, 120)
        };
        let mut e = hitstream_window::Engine::new(cfg).unwrap();
        // Minute 0: 25 404s (alert), minute 12: 15 404s (below 20).
        let mut v = Vec::new();
        burst(&mut v, 0, 25, "scan", "GET", "/x", 404);
        burst(&mut v, 12, 15, "scan", "GET", "/y", 404);
        background(0..16, &mut v);
        let lines = sorted(v);
        let refs: Vec<&[u8]> = lines.iter().map(|l| &l[..]).collect();
        let r = feed(&mut e, &refs, 1000);
        assert_eq!(summary(&r.alerts), vec![(0, "client_404_burst", "scan")]);
        // Late lines (within the lateness) for minute 12, which now has 25 404s: its update
        // alerts (12 minutes after the first incident, beyond the cooldown).
        let mut late = Vec::new();
        burst(&mut late, 12, 10, "scan", "GET", "/z", 404);
        let late = sorted(late);
        let refs: Vec<&[u8]> = late.iter().map(|l| &l[..]).collect();
        let r2 = feed(&mut e, &refs, 1000);
        assert_eq!(r2.windows.len(), 1);
        assert_eq!(r2.windows[0].revision, 1);
        assert_eq!(
            summary(&r2.alerts),
            vec![(12, "client_404_burst", "scan")],
            "cooldown {cooldown}"
        );
        assert_eq!(r2.alerts[0].revision, 1);
        assert_eq!(r2.alerts[0].observed, 25.0);
        // More late lines for minute 12: re-emitted again, no second alert.
        let r3 = feed(&mut e, &refs[..3], 1000);
        assert_eq!(r3.windows.len(), 1);
        assert_eq!(r3.windows[0].revision, 2);
        assert!(r3.alerts.is_empty(), "cooldown {cooldown}");
    }
}

#[test]
fn sliding_windows_and_cooldown_make_one_alert_per_incident() {
    let mut v = Vec::new();
    background(0..30, &mut v);
    burst(&mut v, 10, 40, "scan", "GET", "/x", 404);
    let lines = sorted(v);
    let refs: Vec<&[u8]> = lines.iter().map(|l| &l[..]).collect();
    let cfg = EngineConfig {
        alerts: vec![Rule::NotFoundBurst(NotFoundBurstRule::default())],
        ..EngineConfig::sliding(60, 10, 0)
    };
    let r = run(cfg.clone(), &refs, 100);
    // The 40 404s are spread over minute 10 (at 600 + floor(1.5 i) s). The windows starting
    // at 550, 560, ..., 650 hold 7, 14, 20, 27, 34, 40, 33, 26, 20, 13, 6 of them: five are
    // above 20, and with the cooldown only the first (starting at 580) alerts.
    assert_eq!(r.alerts.len(), 1);
    assert_eq!(r.alerts[0].observed, 27.0);
    assert_eq!(r.alerts[0].window_start - JUL1_1995, 580);
    // Without cooldown, every overlapping window above the threshold alerts.
    let cfg = EngineConfig {
        alerts: vec![Rule::NotFoundBurst(NotFoundBurstRule {
            cooldown: 0,
            ..NotFoundBurstRule::default()
        })],
        ..cfg
    };
    let r = run(cfg, &refs, 100);
    let obs: Vec<f64> = r.alerts.iter().map(|a| a.observed).collect();
    assert_eq!(obs, vec![27.0, 34.0, 40.0, 33.0, 26.0]);
}

#[test]
fn default_rules_deserialize_with_units() {
    let cfg: EngineConfig = serde_json::from_str(
        r#"{"size":"1m","alerts":[{"kind":"client_rate","threshold":5,"cooldown":"2m"}]}"#,
    )
    .unwrap();
    cfg.validate().unwrap();
    assert_eq!(
        cfg.alerts,
        vec![Rule::ClientRate(ClientRateRule {
            threshold: 5,
            cooldown: 120,
            ..ClientRateRule::default()
        })]
    );
}

/// `n` requests of `client` spread over `minute`, `bad` of them (evenly spread) answered
/// with `status`, the rest with 200.
fn mixed(out: &mut Vec<(i64, Vec<u8>)>, minute: i64, client: &str, n: i64, status: u16, bad: i64) {
    for i in 0..n {
        let t = minute * MIN + i * 60 / n.max(1);
        let s = if (i + 1) * bad / n > i * bad / n {
            status
        } else {
            200
        };
        out.push((t, line(client, t, "GET", &format!("/p{}", i % 7), s, 10)));
    }
}

fn client_rules(share: f64, ratio: f64) -> EngineConfig {
    EngineConfig {
        alerts: vec![
            Rule::ClientRate(ClientRateRule {
                share,
                ..ClientRateRule::default()
            }),
            Rule::NotFoundBurst(NotFoundBurstRule {
                ratio,
                ..NotFoundBurstRule::default()
            }),
            Rule::AuthBurst(AuthBurstRule {
                ratio,
                ..AuthBurstRule::default()
            }),
        ],
        ..EngineConfig::tumbling(60, 0)
    }
}

#[test]
fn on_a_busy_site_only_clients_that_stand_out_alert() {
    // Three minutes of a busy site: 40 ordinary clients at 740 to 1,519 requests a minute,
    // 3 % of their pages 404s and 20 to 39 403s: every one of them is above the fixed floors
    // (600 requests, 20 404s, 10 401/403s). Among them, minute 1: a scanner (45 requests, 40 of
    // them 404s) and a password guesser (24 401s of 30 requests); minute 2: one client with a
    // third of the window.
    let mut v = Vec::new();
    for m in 0..3 {
        for c in 0..40 {
            let client = format!("10.0.0.{c}");
            mixed(
                &mut v,
                m,
                &client,
                700 + c * 20,
                404,
                (700 + c * 20) * 3 / 100,
            );
            mixed(&mut v, m, &client, 40 + c, 403, (40 + c) / 2);
        }
    }
    mixed(&mut v, 1, "scan.evil", 45, 404, 40);
    mixed(&mut v, 1, "bf.evil", 30, 401, 24);
    mixed(&mut v, 2, "hot.evil", 22_000, 200, 0);
    let lines = sorted(v);
    let refs: Vec<&[u8]> = lines.iter().map(|l| &l[..]).collect();

    let r = run(client_rules(0.2, 0.5), &refs, 997);
    assert_eq!(
        summary(&r.alerts),
        vec![
            (1, "client_404_burst", "scan.evil"),
            (1, "client_auth_burst", "bf.evil"),
            (2, "client_rate", "hot.evil"),
        ]
    );
    let scan = &r.alerts[0];
    assert_eq!((scan.observed, scan.threshold), (40.0, 22.5));
    assert!(
        scan.explanation.contains("40 404 responses")
            && scan.explanation.contains("(88.9% of its 45 requests)")
            && scan
                .explanation
                .contains("above the threshold of 20 and 50% of its requests"),
        "{}",
        scan.explanation
    );
    let hot = &r.alerts[2];
    let window = 22_000.0 + (0..40).map(|c| 740.0 + 21.0 * c as f64).sum::<f64>();
    assert_eq!(hot.observed, 22_000.0);
    assert!(
        (hot.threshold - 0.2 * window).abs() < 1e-6,
        "{}",
        hot.threshold
    );

    // The same traffic with fixed thresholds (share and ratio 0, the rules before they
    // scaled): every ordinary client alerts, once per rule (the cooldown joins the minutes).
    let fixed = run(client_rules(0.0, 0.0), &refs, 997);
    let ordinary = fixed
        .alerts
        .iter()
        .filter(|a| a.key.starts_with("10.0.0."))
        .count();
    assert_eq!(ordinary, 3 * 40, "alerts of ordinary clients");
}

#[test]
fn a_spike_needs_a_baseline_with_traffic() {
    // Traffic in one minute an hour (as in elastic-apache-logs-2015), 120 requests each time:
    // the ten one-minute windows before each busy minute are empty, there is no baseline.
    let mut v = Vec::new();
    for h in 0..6 {
        mixed(&mut v, h * 60 + 5, "a.example", 120, 200, 0);
    }
    let lines = sorted(v);
    let refs: Vec<&[u8]> = lines.iter().map(|l| &l[..]).collect();
    let spike = |min_baseline_windows| EngineConfig {
        alerts: vec![Rule::Spike(SpikeRule {
            min_baseline_windows,
            ..SpikeRule::default()
        })],
        ..EngineConfig::tumbling(60, 0)
    };
    let r = run(spike(8), &refs, 97);
    assert!(r.alerts.is_empty(), "{:?}", summary(&r.alerts));
    assert_eq!(r.windows.len(), 6);
    // Without that requirement (0), every busy minute after the first hour is a "spike"
    // against a mean of 0.
    let r = run(spike(0), &refs, 97);
    assert_eq!(r.alerts.len(), 5, "{:?}", summary(&r.alerts));
    assert_eq!(r.alerts[0].threshold, 0.0);

    // A baseline with traffic in 8 of its 10 windows is judged, with 7 it is not.
    for (quiet, alerts) in [(2, 1), (3, 0)] {
        let mut v = Vec::new();
        background(0..(10 - quiet), &mut v);
        burst(&mut v, 10, 400, "hot.example.com", "GET", "/api", 200);
        let lines = sorted(v);
        let refs: Vec<&[u8]> = lines.iter().map(|l| &l[..]).collect();
        let cfg = spike(8);
        let mut e = hitstream_window::Engine::new(cfg).unwrap();
        // Data from the start of the baseline: the quiet windows are the last ones before
        // the spike.
        let r = run_engine(&mut e, &refs, 97);
        assert_eq!(r.alerts.len(), alerts, "{quiet} quiet windows");
        if alerts == 1 {
            assert!(
                r.alerts[0].explanation.contains("(8 with traffic;"),
                "{}",
                r.alerts[0].explanation
            );
        }
    }
}

mod scale {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// The relative bounds do not move with the traffic: with the absolute floors at 0,
        /// the same clients alert when every line comes `k` times.
        #[test]
        fn relative_bounds_are_scale_free(
            clients in proptest::collection::vec((1i64..40, 0i64..40, 0i64..40), 1..12),
            k in 2usize..5,
        ) {
            let mut v = Vec::new();
            for (i, &(ok, nf, auth)) in clients.iter().enumerate() {
                let c = format!("c{i}");
                burst(&mut v, 0, ok, &c, "GET", "/", 200);
                burst(&mut v, 0, nf, &c, "GET", "/gone", 404);
                burst(&mut v, 0, auth, &c, "POST", "/login", 401);
            }
            let lines = sorted(v);
            let many: Vec<Vec<u8>> = lines
                .iter()
                .flat_map(|l| std::iter::repeat_n(l.clone(), k))
                .collect();
            let cfg = EngineConfig {
                alerts: vec![
                    Rule::ClientRate(ClientRateRule { threshold: 0, ..ClientRateRule::default() }),
                    Rule::NotFoundBurst(NotFoundBurstRule { threshold: 0, ..NotFoundBurstRule::default() }),
                    Rule::AuthBurst(AuthBurstRule { threshold: 0, ..AuthBurstRule::default() }),
                ],
                ..EngineConfig::tumbling(60, 0)
            };
            let keys = |ls: &[Vec<u8>]| {
                let refs: Vec<&[u8]> = ls.iter().map(|l| &l[..]).collect();
                let r = run(cfg.clone(), &refs, 101);
                r.alerts.iter().map(|a| (a.rule.clone(), a.key.clone())).collect::<Vec<_>>()
            };
            prop_assert_eq!(keys(&lines), keys(&many));
        }
    }
}
