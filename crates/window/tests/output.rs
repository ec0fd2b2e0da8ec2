//! The shape and the values of a window result: stable JSON field names, exact counts worked
//! out by hand, quantiles within the stated relative error.

mod common;

use common::*;
use hitstream_format::{FormatSpec, Parser, Record};
use hitstream_window::{Engine, EngineConfig, QUANTILE_RELATIVE_ERROR};

#[test]
fn json_field_names_are_stable() {
    let lines = [
        line("10.0.0.1", 5, "GET", "/index.html?x=1", 200, 1000),
        line("10.0.0.1", 6, "GET", "/index.html", 304, 0),
        line("10.0.0.2", 7, "POST", "/login", 401, 20),
        line("10.0.0.3", 8, "GET", "/missing", 404, 300),
        line("10.0.0.3", 9, "GET", "/missing", 404, 300),
        line("10.0.0.4", 10, "GET", "/boom", 503, 50),
    ];
    let refs: Vec<&[u8]> = lines.iter().map(|l| &l[..]).collect();
    let r = run(EngineConfig::tumbling(60, 0), &refs, 10);
    assert_eq!(r.windows.len(), 1);
    let w = &r.windows[0];
    let j = serde_json::to_value(w).unwrap();
    let keys: Vec<&str> = j.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    let mut want = vec![
        "window_start",
        "window_end",
        "window_start_rfc3339",
        "window_end_rfc3339",
        "revision",
        "update",
        "watermark",
        "requests",
        "bytes",
        "status",
        "status_classes",
        "methods",
        "not_found",
        "server_errors",
        "top_pages",
        "top_clients",
        "top_error_endpoints",
        "unique_clients",
        "size",
        "request_time_us",
        "late_total",
    ];
    want.sort_unstable();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(keys, want);
    assert_eq!(
        j["status_classes"],
        serde_json::json!({"1xx": 0, "2xx": 1, "3xx": 1, "4xx": 3, "5xx": 1, "other": 0})
    );
    assert_eq!(j["status"][0], serde_json::json!({"code": 200, "count": 1}));
    assert_eq!(
        j["methods"],
        serde_json::json!([{"key": "GET", "count": 5}, {"key": "POST", "count": 1}])
    );
    assert_eq!(
        j["top_clients"][0],
        serde_json::json!({"client": "10.0.0.1", "requests": 2, "bytes": 1000})
    );
    // By hand: pages /index.html (2, query dropped), /missing (2), /boom, /login; errors
    // (4xx and 5xx): /missing 2, /boom 1, /login 1 (the 304 of /index.html is no error).
    let pages: Vec<(&str, u64)> = w
        .top_pages
        .iter()
        .map(|k| (k.key.as_str(), k.count))
        .collect();
    assert_eq!(
        pages,
        vec![
            ("/index.html", 2),
            ("/missing", 2),
            ("/boom", 1),
            ("/login", 1)
        ]
    );
    let errs: Vec<(&str, u64)> = w
        .top_error_endpoints
        .iter()
        .map(|k| (k.key.as_str(), k.count))
        .collect();
    assert_eq!(errs, vec![("/missing", 2), ("/boom", 1), ("/login", 1)]);
    assert_eq!(
        (
            w.requests,
            w.bytes,
            w.not_found,
            w.server_errors,
            w.unique_clients
        ),
        (6, 1670, 2, 1, 4)
    );
    assert_eq!(w.window_start_rfc3339, "1995-07-01T00:00:00Z");
    assert_eq!(w.window_end_rfc3339, "1995-07-01T00:01:00Z");
    assert_eq!(w.size.count, 6);
    assert_eq!((w.size.min, w.size.max), (Some(0), Some(1000)));
    assert_eq!(w.request_time_us.count, 0);
    assert_eq!(w.request_time_us.p50, None);
    // Round trip.
    let back: hitstream_window::WindowResult = serde_json::from_value(j).unwrap();
    assert_eq!(&back, w);
}

#[test]
fn quantiles_are_within_the_stated_relative_error() {
    let parser = Parser::new(
        FormatSpec::nginx(r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent $request_time"#)
            .unwrap(),
    );
    // Sizes 1..=10000 and request times 1..=10000 ms, shuffled.
    let mut rng = Rng(9);
    let mut vals: Vec<u64> = (1..=10_000).collect();
    for i in (1..vals.len()).rev() {
        vals.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let lines: Vec<String> = vals
        .iter()
        .map(|v| {
            format!(
                "10.0.0.{} - - [01/Jul/1995:00:00:{:02} +0000] \"GET /f HTTP/1.1\" 200 {v} {}.{:03}",
                v % 200,
                v % 60,
                v / 1000,
                v % 1000
            )
        })
        .collect();
    let mut e = Engine::new(EngineConfig::tumbling(60, 0)).unwrap();
    let mut b = e.new_batch();
    let mut rec = Record::new();
    for l in &lines {
        assert!(parser.parse(l.as_bytes(), &mut rec).is_usable(), "{l}");
        b.add(&rec);
    }
    e.apply(b).unwrap();
    let w = e.finish().windows.remove(0);
    assert_eq!(w.requests, 10_000);
    // An estimate: within three standard errors (0.81 % each).
    assert!((w.unique_clients as f64 - 200.0).abs() <= 1.0 + 3.0 * 0.008125 * 200.0);
    for (q, got) in [(0.5, w.size.p50), (0.9, w.size.p90), (0.99, w.size.p99)] {
        // The value of rank floor(q (n - 1)), 0-based, of 1..=10000.
        let exact = (q * 9_999.0_f64).floor() + 1.0;
        let got = got.unwrap() as f64;
        assert!(
            (got - exact).abs() <= QUANTILE_RELATIVE_ERROR * exact + 0.5,
            "size p{}: {got} vs {exact}",
            q * 100.0
        );
        let rt = match q {
            0.5 => w.request_time_us.p50,
            0.9 => w.request_time_us.p90,
            _ => w.request_time_us.p99,
        }
        .unwrap() as f64;
        let exact_us = exact * 1000.0;
        assert!(
            (rt - exact_us).abs() <= QUANTILE_RELATIVE_ERROR * exact_us + 0.5,
            "rt {rt} vs {exact_us}"
        );
    }
    assert_eq!((w.size.min, w.size.max), (Some(1), Some(10_000)));
    assert!((w.size.mean.unwrap() - 5000.5).abs() < 1e-6);
    assert_eq!(w.request_time_us.count, 10_000);
}

#[test]
fn windows_closed_by_the_end_of_input_carry_the_last_watermark_reached() {
    let parser = Parser::new(FormatSpec::apache(r#"%h %l %u %t "%r" %>s %b"#).unwrap());
    let mut e = Engine::new(EngineConfig::tumbling(60, 0)).unwrap();
    let mut b = e.new_batch();
    let lines: Vec<String> = [0, 30, 61, 125]
        .iter()
        .map(|s| {
            format!(
                "10.0.0.1 - - [01/Jul/1995:00:{:02}:{:02} +0000] \"GET / HTTP/1.0\" 200 1",
                s / 60,
                s % 60
            )
        })
        .collect();
    let mut rec = Record::new();
    for l in &lines {
        assert!(parser.parse(l.as_bytes(), &mut rec).is_usable(), "{l}");
        b.add(&rec);
    }
    e.apply(b).unwrap();
    let reached = e.watermark().expect("events seen");
    let out = e.finish();
    assert!(!out.windows.is_empty());
    for w in &out.windows {
        assert_eq!(w.watermark, reached, "window {}", w.window_start);
        assert_ne!(w.watermark, i64::MAX);
    }
}
