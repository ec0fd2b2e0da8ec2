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
    assert_eq!(
        (a.kind.as_str(), a.observed, a.threshold),
        ("client_404_burst", 50.0, 20.0)
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
    assert_eq!((bf.observed, bf.threshold), (30.0, 10.0));
    assert!(bf
        .samples
        .iter()
        .all(|s| s.contains("POST /login") && s.contains(" 401 ")));
    assert_eq!(bf.samples.len(), 3);

    let hot = &r.alerts[2];
    assert_eq!((hot.observed, hot.threshold), (700.0, 600.0));
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
