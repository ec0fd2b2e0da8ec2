//! Event time: out-of-order and late data, idle watermark advance, sliding against tumbling.

mod common;

use std::collections::BTreeMap;

use common::*;
use hitstream_format::Record;
use hitstream_window::{Engine, EngineConfig, LateReason};

/// The first `n` NASA lines with each line's position jittered: a line may move up to `span`
/// seconds' worth of traffic away from its place (sorted by time + a random delay in
/// 0..span).
fn shuffled(n: usize, span: i64, seed: u64) -> Vec<&'static [u8]> {
    let mut rng = Rng(seed);
    let mut v: Vec<(i64, usize, &[u8])> = nasa()[..n]
        .iter()
        .enumerate()
        .map(|(i, l)| (nasa_time(l) + rng.below(span as u64) as i64, i, &l[..]))
        .collect();
    v.sort();
    v.into_iter().map(|(_, _, l)| l).collect()
}

fn ordered(n: usize) -> Vec<&'static [u8]> {
    nasa()[..n].iter().map(|l| &l[..]).collect()
}

fn totals(run: &Run) -> BTreeMap<i64, (u64, u64, u64)> {
    run.finals()
        .into_iter()
        .map(|(s, w)| (s, (w.requests, w.bytes, w.not_found)))
        .collect()
}

#[test]
fn shuffled_within_lateness_equals_ordered() {
    let n = 40_000;
    let base = run(EngineConfig::tumbling(60, 0), &ordered(n), 2000);
    // Jitter of up to 5 minutes, lateness of 5 minutes: nothing is late, the final revision
    // of every window equals the ordered run's.
    let shuf = shuffled(n, 300, 7);
    assert_ne!(shuf, ordered(n));
    let late_run = run(EngineConfig::tumbling(60, 300), &shuf, 2000);
    assert_eq!(late_run.stats.late, 0);
    assert_eq!(late_run.stats.accepted, n as u64);
    assert_eq!(totals(&late_run), totals(&base));
    // Top lists and distinct estimates agree too (same panes, same merges).
    let (a, b) = (base.finals(), late_run.finals());
    for (s, w) in &a {
        assert_eq!(w.top_clients, b[s].top_clients);
        assert_eq!(w.top_pages, b[s].top_pages);
        assert_eq!(w.unique_clients, b[s].unique_clients);
        assert_eq!(w.size.p50, b[s].size.p50);
    }
}

#[test]
fn small_lateness_counts_every_line_once() {
    let n = 40_000;
    let shuf = shuffled(n, 300, 11);
    for lateness in [0, 10, 60] {
        let r = run(EngineConfig::tumbling(60, lateness), &shuf, 1000);
        assert!(r.stats.late > 0, "lateness {lateness}: expected late lines");
        assert_eq!(
            r.stats.accepted + r.stats.late,
            n as u64,
            "lateness {lateness}"
        );
        assert_eq!(r.late.len() as u64, r.stats.late);
        let counted: u64 = r.finals().values().map(|w| w.requests).sum();
        assert_eq!(counted, r.stats.accepted, "lateness {lateness}");
        // Late lines carry their raw text, their time, and are older than their horizon.
        for l in &r.late {
            assert_eq!(l.reason, LateReason::TooLate);
            let t = l.event_time.unwrap();
            assert!(t < l.horizon);
            assert_eq!(nasa_time(&l.line), t);
            assert!(shuf.contains(&&l.line[..]));
        }
        // Late updates (revision > 0) happen only with lateness.
        let updates = r.windows.iter().filter(|w| w.update).count();
        if lateness == 0 {
            assert_eq!(updates, 0);
        }
        assert!(r.windows.iter().all(|w| w.update == (w.revision > 0)));
        // Every window of the ordered run that kept any line is present.
        assert_eq!(r.windows.last().unwrap().late_total, r.stats.late);
    }
    // More lateness, fewer late lines.
    let l0 = run(EngineConfig::tumbling(60, 0), &shuf, 1000).stats.late;
    let l60 = run(EngineConfig::tumbling(60, 60), &shuf, 1000).stats.late;
    let l300 = run(EngineConfig::tumbling(60, 300), &shuf, 1000).stats.late;
    assert!(l0 > l60 && l60 > l300 && l300 == 0, "{l0} {l60} {l300}");
}

#[test]
fn late_event_updates_a_fired_window() {
    let mut e = Engine::new(EngineConfig::tumbling(60, 30)).unwrap();
    let lines = [
        line("a", 10, "GET", "/x", 200, 1),
        line("a", 100, "GET", "/x", 200, 1),
        // Watermark 100 - 30 = 70: window [0, 60) fires.
    ];
    let refs: Vec<&[u8]> = lines.iter().map(|l| &l[..]).collect();
    let r = feed(&mut e, &refs, 10);
    assert_eq!(r.windows.len(), 1);
    assert_eq!(
        (r.windows[0].window_start - JUL1_1995, r.windows[0].requests),
        (0, 1)
    );
    assert_eq!(r.windows[0].revision, 0);
    // A line at 20 s: its window fired, but the watermark (70) is below end + L (90).
    let r = feed(&mut e, &[&line("b", 20, "GET", "/y", 404, 1)], 10);
    assert_eq!(r.windows.len(), 1);
    let w = &r.windows[0];
    assert_eq!(
        (w.requests, w.revision, w.update, w.not_found),
        (2, 1, true, 1)
    );
    // Watermark to 130 - 30 = 100 >= 90: a line at 30 s is now late.
    let r = feed(&mut e, &[&line("c", 130, "GET", "/x", 200, 1)], 10);
    assert!(r.windows.iter().all(|w| w.window_start - JUL1_1995 == 60));
    let r = feed(&mut e, &[&line("d", 30, "GET", "/z", 200, 1)], 10);
    assert!(r.windows.is_empty());
    assert_eq!(r.late.len(), 1);
    assert_eq!(r.late[0].line, line("d", 30, "GET", "/z", 200, 1));
    assert_eq!(r.late[0].horizon - JUL1_1995, 60);
    let s = e.stats();
    assert_eq!((s.lines, s.accepted, s.late), (5, 4, 1));
}

#[test]
fn idle_advances_the_watermark() {
    let mut e = Engine::new(EngineConfig::tumbling(60, 60)).unwrap();
    // Nothing seen: idle time does nothing.
    assert!(e.advance_idle(1000).is_empty());
    assert_eq!(e.watermark(), None);
    let r = feed(
        &mut e,
        &[
            &line("a", 10, "GET", "/", 200, 1),
            &line("a", 50, "GET", "/", 200, 1),
        ],
        10,
    );
    assert!(r.windows.is_empty());
    assert_eq!(e.watermark(), Some(JUL1_1995 - 10));
    // 60 quiet seconds: watermark 50, still inside [0, 60).
    assert!(e.advance_idle(60).windows.is_empty());
    assert_eq!(e.watermark(), Some(JUL1_1995 + 50));
    // 10 more: the window fires.
    let out = e.advance_idle(10);
    assert_eq!(out.windows.len(), 1);
    assert_eq!(out.windows[0].requests, 2);
    assert_eq!(out.windows[0].watermark, JUL1_1995 + 60);
    // Input resumes: a line of the idle-fired window is still within the lateness of the
    // batch's horizon and updates it.
    let r = feed(&mut e, &[&line("b", 55, "GET", "/", 200, 1)], 10);
    assert_eq!(r.windows.len(), 1);
    assert_eq!((r.windows[0].requests, r.windows[0].revision), (3, 1));
    // A new event far ahead moves the watermark from event time again.
    feed(&mut e, &[&line("c", 1000, "GET", "/", 200, 1)], 10);
    assert_eq!(e.watermark(), Some(JUL1_1995 + 940));
    assert_eq!(e.stats().idle_advances, 2);
}

#[test]
fn finish_fires_everything_and_later_lines_are_late() {
    let mut e = Engine::new(EngineConfig::tumbling(60, 3600)).unwrap();
    let r = feed(
        &mut e,
        &[
            &line("a", 10, "GET", "/", 200, 1),
            &line("a", 500, "GET", "/", 200, 1),
        ],
        10,
    );
    assert!(r.windows.is_empty());
    let out = e.finish();
    assert_eq!(out.windows.len(), 2);
    assert_eq!(e.stats().panes, 0);
    assert!(e.finish().is_empty());
    let r = feed(&mut e, &[&line("a", 600, "GET", "/", 200, 1)], 10);
    assert!(r.windows.is_empty());
    assert_eq!(r.late.len(), 1);
}

#[test]
fn records_without_time_go_to_the_late_output() {
    let parser = hitstream_format::Parser::new(
        hitstream_format::FormatSpec::from_str_any("common").unwrap(),
    );
    let mut e = Engine::new(EngineConfig::default()).unwrap();
    let l = line("a", 10, "GET", "/", 200, 1);
    let mut rec = Record::new();
    assert!(parser.parse(&l, &mut rec).is_usable());
    rec.time = None;
    let mut b = e.new_batch();
    assert_eq!(b.add(&rec), hitstream_window::Disposition::NoTime);
    let out = e.apply(b).unwrap();
    assert_eq!(out.late.len(), 1);
    assert_eq!(out.late[0].reason, LateReason::NoTime);
    assert_eq!(out.late[0].line, l);
    assert_eq!(e.stats().no_time, 1);
}

#[test]
fn sliding_windows_count_each_event_size_over_slide_times() {
    let n = 30_000;
    let lines = ordered(n);
    let slid = run(EngineConfig::sliding(60, 10, 0), &lines, 3000);
    let ten = run(EngineConfig::tumbling(10, 0), &lines, 3000);
    let minute = run(EngineConfig::tumbling(60, 0), &lines, 3000);
    let total: u64 = slid.windows.iter().map(|w| w.requests).sum();
    assert_eq!(total, 6 * n as u64);
    let s = slid.finals();
    let t10 = ten.finals();
    for (start, w) in &s {
        assert_eq!(w.window_end - w.window_start, 60);
        assert_eq!(start.rem_euclid(10), 0);
        // A sliding window is the sum of the six ten-second windows it covers.
        let sum: u64 = (0..6)
            .filter_map(|i| t10.get(&(start + 10 * i)))
            .map(|w| w.requests)
            .sum();
        assert_eq!(w.requests, sum, "window {}", w.window_start_rfc3339);
    }
    // The sliding windows that start on a minute are the tumbling minutes, field by field.
    let m = minute.finals();
    for (start, w) in &m {
        let sw = s[start];
        assert_eq!(sw.requests, w.requests);
        assert_eq!(sw.bytes, w.bytes);
        assert_eq!(sw.status, w.status);
        assert_eq!(sw.methods, w.methods);
        assert_eq!(sw.top_pages, w.top_pages);
        assert_eq!(sw.top_clients, w.top_clients);
        assert_eq!(sw.top_error_endpoints, w.top_error_endpoints);
        assert_eq!(sw.unique_clients, w.unique_clients);
        assert_eq!(
            (sw.size.p50, sw.size.p90, sw.size.p99),
            (w.size.p50, w.size.p90, w.size.p99)
        );
    }
    // Every sliding window with traffic: those overlapping any minute with traffic.
    assert!(s.len() >= m.len() * 6 - 5);
}

#[test]
fn sliding_with_late_data_still_counts_each_event_in_every_window() {
    let n = 20_000;
    let shuf = shuffled(n, 120, 5);
    let r = run(EngineConfig::sliding(60, 20, 30), &shuf, 500);
    assert!(r.stats.late > 0);
    assert_eq!(r.stats.accepted + r.stats.late, n as u64);
    let sum: u64 = r.finals().values().map(|w| w.requests).sum();
    assert_eq!(sum, 3 * r.stats.accepted);
}

#[test]
fn memory_is_bounded_by_the_lateness() {
    // A day of synthetic traffic at one line per second: panes held stay around
    // (size + lateness) / slide, whatever the length of the run.
    let mut e = Engine::new(EngineConfig::sliding(60, 10, 30)).unwrap();
    let parser = parser();
    let mut max_panes = 0;
    let mut max_windows = 0;
    let mut emitted = 0;
    for hour in 0..24 {
        let mut b = e.new_batch();
        let mut buf = Vec::new();
        for s in 0..3600 {
            let t = hour * 3600 + s;
            buf.push(line(
                &format!("c{}", t % 97),
                t,
                "GET",
                &format!("/p{}", t % 13),
                200,
                10,
            ));
        }
        let mut rec = Record::new();
        for l in &buf {
            assert!(parser.parse(l, &mut rec).is_usable());
            b.add(&rec);
        }
        emitted += e.apply(b).unwrap().windows.len();
        // One batch per hour: the pane count peaks right after a batch, before expiry.
        let st = e.stats();
        max_panes = max_panes.max(st.panes);
        max_windows = max_windows.max(st.retained_windows);
        // 97 clients and 13 pages at most per pane.
        assert!(st.keys <= st.panes * (97 + 13), "{st:?}");
        assert!(st.sample_bytes <= st.panes * 3 * 512 * 100, "{st:?}");
    }
    assert!(max_panes <= 12, "{max_panes}");
    assert!(max_windows <= 12, "{max_windows}");
    assert!(emitted > 24 * 350);
}
