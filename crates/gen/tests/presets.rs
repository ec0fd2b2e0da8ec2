//! Every line of every preset parses cleanly, and parses back to what was generated.

use std::collections::HashMap;

use hitstream_format::{FormatSpec, Outcome, Parser, Record, Text, PRESETS};
use hitstream_gen::{parse_weighted_paths, Actor, GenConfig, Generator, PathSource};

/// Generates `n` lines of `format`, parses each one and compares it with the generator's
/// record of it.
fn roundtrip(format: &str, config: GenConfig, n: usize) {
    let spec = FormatSpec::from_str_any(format).unwrap();
    let parser = Parser::new(spec.clone());
    let mut g = Generator::new(GenConfig {
        format: format.into(),
        ..config
    })
    .unwrap();
    let mut line = Vec::with_capacity(1024);
    let mut actors = HashMap::new();
    for i in 0..n {
        line.clear();
        g.next_line(&mut line);
        let mut rec = Record::new();
        let outcome = parser.parse(&line, &mut rec);
        let shown = String::from_utf8_lossy(&line);
        assert_eq!(outcome, Outcome::Ok, "{format} line {i}: {shown}");
        let h = g.last_hit().unwrap();
        *actors.entry(h.actor).or_insert(0) += 1;
        let t = rec.time.unwrap();
        assert_eq!((t.utc, t.offset), (h.time.utc, h.time.offset), "{shown}");
        assert_eq!(rec.client(), Some(h.client), "{shown}");
        assert_eq!(rec.method(), Some(h.method), "{shown}");
        assert_eq!(rec.get(Text::Uri), Some(h.target), "{shown}");
        assert_eq!(rec.path(), Some(h.path()), "{shown}");
        assert_eq!(rec.get(Text::Query), h.query(), "{shown}");
        assert_eq!(rec.get(Text::Protocol), Some(h.protocol), "{shown}");
        assert_eq!(rec.status, Some(h.status), "{shown}");
        assert_eq!(rec.bytes, h.bytes, "{shown}");
        assert_eq!(rec.get(Text::User), Some(h.user), "{shown}");
        let has = |k| spec.has(&k);
        use hitstream_format::FieldKind as K;
        if has(K::Referer) {
            assert_eq!(rec.get(Text::Referer), Some(h.referer), "{shown}");
            assert_eq!(rec.get(Text::UserAgent), Some(h.user_agent), "{shown}");
        }
        if has(K::Vhost) {
            assert_eq!(rec.get(Text::Vhost), Some(h.vhost), "{shown}");
            assert_eq!(rec.port, Some(h.port), "{shown}");
        }
        if has(K::XForwardedFor) {
            assert_eq!(
                rec.get(Text::XForwardedFor),
                Some(h.x_forwarded_for),
                "{shown}"
            );
        }
    }
    for a in [Actor::Browser, Actor::Crawler, Actor::Tool, Actor::Scanner] {
        assert!(
            actors.get(&a).copied().unwrap_or(0) > 0,
            "{format}: no {a:?} lines"
        );
    }
}

#[test]
fn every_preset_parses_ok_and_round_trips() {
    for p in PRESETS {
        roundtrip(p.name, GenConfig::default(), 20_000);
    }
}

#[test]
fn every_preset_round_trips_with_weighted_paths_and_an_offset() {
    let paths =
        parse_weighted_paths("/product1=50,/product2=25,/search?q=shoes=15,/a/b.html=10").unwrap();
    for p in PRESETS {
        let config = GenConfig {
            seed: 99,
            tz_offset: -4 * 3600,
            paths: PathSource::Weighted(paths.clone()),
            ..GenConfig::default()
        };
        roundtrip(p.name, config, 20_000);
    }
}

#[test]
fn nasa_writes_host_names_and_http_1_0() {
    let mut g = Generator::new(GenConfig {
        format: "nasa".into(),
        ..GenConfig::default()
    })
    .unwrap();
    let mut buf = Vec::new();
    g.fill(&mut buf, 5_000);
    let text = String::from_utf8(buf).unwrap();
    let names = text
        .lines()
        .filter(|l| l.split(' ').next().unwrap().ends_with(".com"))
        .count();
    assert!(names > 1_000, "{names}");
    assert!(text.lines().all(|l| l.contains(" HTTP/1.0\" ")));
}

fn generate(config: GenConfig, n: u64) -> Vec<u8> {
    let mut buf = Vec::new();
    Generator::new(config).unwrap().fill(&mut buf, n);
    buf
}

#[test]
fn same_seed_same_bytes() {
    for p in PRESETS {
        let c = GenConfig {
            format: p.name.into(),
            seed: 42,
            ..GenConfig::default()
        };
        let a = generate(c.clone(), 30_000);
        assert_eq!(a, generate(c.clone(), 30_000), "{}", p.name);
        // Through write_to, in chunks, the bytes are the same too.
        let mut w = Vec::new();
        let n = Generator::new(GenConfig {
            count: Some(30_000),
            ..c.clone()
        })
        .unwrap()
        .write_to(&mut w)
        .unwrap();
        assert_eq!(n, 30_000);
        assert_eq!(a, w);
        assert_ne!(
            a,
            generate(GenConfig { seed: 43, ..c }, 30_000),
            "{}",
            p.name
        );
    }
}

#[test]
fn weighted_shares_hold_over_100k_lines() {
    let spec = "/product1=50,/product2=25,/product3=15,/product4=8,/product5=2";
    let paths = parse_weighted_paths(spec).unwrap();
    for scanners in [0, 2] {
        let c = GenConfig {
            count: Some(100_000),
            paths: PathSource::Weighted(paths.clone()),
            scanners,
            ..GenConfig::default()
        };
        let buf = generate(c, 100_000);
        let parser = Parser::new(FormatSpec::from_str_any("combined").unwrap());
        let mut counts: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut rec = Record::new();
        for line in buf.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            assert_eq!(parser.parse(line, &mut rec), Outcome::Ok);
            *counts.entry(rec.path().unwrap().to_vec()).or_default() += 1;
        }
        let listed: u32 = paths
            .iter()
            .map(|p| counts.get(p.path.as_bytes()).copied().unwrap_or(0))
            .sum();
        if scanners == 0 {
            assert_eq!(listed, 100_000, "only the listed paths");
        } else {
            assert!(
                listed < 100_000 && listed > 95_000,
                "scanners add their probes: {listed}"
            );
        }
        for p in &paths {
            let share = f64::from(counts[p.path.as_bytes()]) * 100.0 / f64::from(listed);
            assert!(
                (share - p.weight).abs() < 0.6,
                "{}: {share:.2}% vs {}%",
                p.path,
                p.weight
            );
        }
    }
}
