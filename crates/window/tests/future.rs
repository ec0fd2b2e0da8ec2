//! The event clock against lines from the future: one line dated 2099 (a wrong clock on one
//! server, a forged time) must not move the watermark, live (bounded by the wall clock) or in
//! a replay (bounded by the stream's own times), while a real jump of a log's time (a
//! server back after an outage) is followed without losing a line.

mod common;

use common::*;
use hitstream_format::Record;
use hitstream_window::{Engine, EngineConfig, LateReason, SnapshotError};

const POISON: &[u8] = b"evil.example - - [01/Jan/2099:00:00:00 +0000] \"GET /x HTTP/1.0\" 200 1";

/// The first `n` NASA lines, with the 2099 line inserted after line `at` when given.
fn nasa_lines(n: usize, poison_at: Option<usize>) -> Vec<&'static [u8]> {
    let mut v: Vec<&[u8]> = nasa()[..n].iter().map(|l| &l[..]).collect();
    if let Some(at) = poison_at {
        v.insert(at, POISON);
    }
    v
}

/// `line` with its time moved `secs` later (NASA's `[dd/Jul/1995:HH:MM:SS -0400]`).
fn shifted(line: &[u8], secs: i64) -> Vec<u8> {
    let t = nasa_time(line) + secs - 4 * 3600 - JUL1_1995;
    let s = String::from_utf8_lossy(line);
    let open = s.find('[').unwrap();
    let close = s.find(']').unwrap();
    let (d, r) = (t / 86_400, t % 86_400);
    format!(
        "{}[{:02}/Jul/1995:{:02}:{:02}:{:02} -0400{}",
        &s[..open],
        d + 1,
        r / 3600,
        r % 3600 / 60,
        r % 60,
        &s[close..]
    )
    .into_bytes()
}

/// Window results compared, the first difference shown briefly. The watermark at emission
/// is left out: it follows the batch boundaries, which one more line moves.
fn same_windows(a: &[hitstream_window::WindowResult], b: &[hitstream_window::WindowResult]) {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let y0 = hitstream_window::WindowResult {
            watermark: x.watermark,
            ..y.clone()
        };
        assert!(
            *x == y0,
            "window {i} differs: start {} rev {} req {} wm {} late {} / start {} rev {} req {} wm {} late {}",
            x.window_start, x.revision, x.requests, x.watermark, x.late_total,
            y.window_start, y.revision, y.requests, y.watermark, y.late_total
        );
    }
    assert_eq!(a.len(), b.len(), "number of window emissions");
}

fn cfg() -> EngineConfig {
    EngineConfig::tumbling(60, 10)
}

/// Without the bounds (the engine before them), one line is enough to blind the windows.
fn unbounded() -> EngineConfig {
    EngineConfig {
        max_future: 0,
        max_jump: 0,
        ..cfg()
    }
}

#[test]
fn a_replay_with_one_line_from_2099_counts_like_one_without() {
    let n = 20_000;
    let clean = run(cfg(), &nasa_lines(n, None), 1000);
    let poisoned = run(cfg(), &nasa_lines(n, Some(n / 2)), 1000);
    assert_eq!(poisoned.stats.future, 1);
    assert_eq!(poisoned.stats.held, 0);
    assert_eq!(poisoned.stats.late, clean.stats.late);
    assert_eq!(poisoned.stats.accepted, clean.stats.accepted);
    same_windows(&poisoned.windows, &clean.windows);
    assert_eq!(poisoned.alerts, clean.alerts);
    let future: Vec<_> = poisoned
        .late
        .iter()
        .filter(|l| l.reason == LateReason::Future)
        .collect();
    assert_eq!(future.len(), 1);
    assert_eq!(future[0].line, POISON);
    assert_eq!(future[0].reason.code(), "future");

    // What the bound prevents: every later line late, the windows blind.
    let blind = run(unbounded(), &nasa_lines(n, Some(n / 2)), 1000);
    assert!(blind.stats.late > (n / 3) as u64, "{:?}", blind.stats);
}

#[test]
fn a_real_jump_of_the_log_time_is_followed_without_loss() {
    // The NASA log resumed 38 hours later (as after the 1995 hurricane outage), with a 2099
    // line among the first lines after the gap.
    let n = 20_000;
    let gap = 38 * 3600 + 17 * 60;
    let moved: Vec<Vec<u8>> = nasa()[n / 2..n].iter().map(|l| shifted(l, gap)).collect();
    let mut lines: Vec<&[u8]> = nasa()[..n / 2].iter().map(|l| &l[..]).collect();
    let plain: Vec<&[u8]> = lines
        .iter()
        .copied()
        .chain(moved.iter().map(|l| &l[..]))
        .collect();
    lines.extend(moved[..20].iter().map(|l| &l[..]));
    lines.push(POISON);
    lines.extend(moved[20..].iter().map(|l| &l[..]));

    let reference = run(unbounded(), &plain, 1000);
    assert_eq!(reference.stats.late, 0);
    let bounded = run(cfg(), &plain, 1000);
    assert_eq!(bounded.stats.future, 0);
    same_windows(&bounded.windows, &reference.windows);
    let poisoned = run(cfg(), &lines, 1000);
    assert_eq!(poisoned.stats.future, 1);
    assert_eq!(poisoned.stats.late, 0);
    same_windows(&poisoned.windows, &reference.windows);

    // A gap at the very end of the input, shorter than `jump_confirm`: the end decides, and
    // the larger group (here the lines after the gap) wins.
    let tail: Vec<&[u8]> = plain[..n / 2]
        .iter()
        .copied()
        .chain(moved[..30].iter().map(|l| &l[..]))
        .collect();
    let t = run(cfg(), &tail, 1000);
    assert_eq!((t.stats.future, t.stats.late), (0, 0));
    assert_eq!(t.stats.accepted, tail.len() as u64);
    same_windows(&t.windows, &run(unbounded(), &tail, 1000).windows);
}

/// Lines of a live source: `t` seconds after 1995-07-01, with the wall clock read as each
/// batch is made.
fn live(cfg: EngineConfig, batches: &[Vec<Vec<u8>>], now: &[i64]) -> Run {
    let parser = parser();
    let mut e = Engine::new(cfg).unwrap();
    let mut out = Run::default();
    let mut rec = Record::new();
    for (b, &now) in batches.iter().zip(now) {
        e.observe_clock(now);
        let mut pb = e.new_batch();
        for l in b {
            assert!(parser.parse(l, &mut rec).is_usable());
            pb.add(&rec);
        }
        out.absorb(e.apply(pb).unwrap());
    }
    out.absorb(e.finish());
    out.stats = e.stats();
    out
}

#[test]
fn live_one_line_from_2099_then_a_scanner_the_alert_fires() {
    // Ten minutes of ordinary traffic, a line per second, read as it is written (a batch of
    // ten lines every ten seconds); one line dated 2099 in the middle; then a scanner: 25
    // 404s in one minute.
    let mut batches = Vec::new();
    let mut now = Vec::new();
    for s in 0..60i64 {
        let mut b: Vec<Vec<u8>> = (0..10)
            .map(|i| line("10.0.0.1", s * 10 + i, "GET", "/index.html", 200, 100))
            .collect();
        if s == 20 {
            b.insert(5, POISON.to_vec());
        }
        if (42..47).contains(&s) {
            for i in 0..5 {
                let t = s * 10 + i;
                b.push(line("scanner", t, "GET", &format!("/wp-{t}.php"), 404, 0));
            }
        }
        batches.push(b);
        now.push(JUL1_1995 + s * 10 + 10);
    }
    let r = live(cfg(), &batches, &now);
    assert_eq!((r.stats.future, r.stats.late), (1, 0), "{:?}", r.stats);
    assert!(
        r.alerts.iter().any(|a| a.rule == "client_404_burst"),
        "{:?}",
        r.alerts
    );
    // The wall clock bound alone does it (the first lines of a live source too).
    let wall_only = live(
        EngineConfig {
            max_jump: 0,
            ..cfg()
        },
        &batches,
        &now,
    );
    same_windows(&wall_only.windows, &r.windows);
    assert_eq!(wall_only.stats.future, 1);

    // Without the bounds the windows go blind: no alert, every later line late.
    let blind = live(unbounded(), &batches, &now);
    assert!(blind.stats.late > 300, "{:?}", blind.stats);
    assert!(blind.alerts.iter().all(|a| a.rule != "client_404_burst"));
}

#[test]
fn live_lines_a_little_ahead_of_the_wall_clock_are_counted() {
    // A server whose clock is two minutes fast is within `max_future` (5 minutes).
    let b = vec![
        vec![line("a", 100, "GET", "/", 200, 1)],
        vec![line("fast", 220, "GET", "/", 200, 1)],
    ];
    let r = live(cfg(), &b, &[JUL1_1995 + 100, JUL1_1995 + 100]);
    assert_eq!((r.stats.future, r.stats.accepted), (0, 2));
    // Ten minutes fast is beyond it, in the first batch of a run too.
    let b = vec![vec![
        line("fast", 700, "GET", "/", 200, 1),
        line("a", 100, "GET", "/", 200, 1),
    ]];
    let r = live(cfg(), &b, &[JUL1_1995 + 100]);
    assert_eq!((r.stats.future, r.stats.accepted), (1, 1));
}

#[test]
fn held_lines_survive_a_snapshot_and_restore_gives_the_same_results() {
    // Snapshots taken after every batch, each continued by a restored engine: the suspects
    // held across them are judged as in one uninterrupted run.
    let n = 6_000;
    let gap = 5 * 3600;
    let mut lines: Vec<Vec<u8>> = nasa()[..n / 2].to_vec();
    lines.push(POISON.to_vec());
    lines.extend(nasa()[n / 2..n].iter().map(|l| shifted(l, gap)));
    let refs: Vec<&[u8]> = lines.iter().map(|l| &l[..]).collect();
    let cfg = EngineConfig {
        in_flight: 3,
        ..cfg()
    };
    let whole = run(cfg.clone(), &refs, 37);
    assert_eq!(whole.stats.future, 1);

    let parser = parser();
    let mut rec = Record::new();
    let mut e = Engine::new(cfg).unwrap();
    let mut pieces = Run::default();
    let mut saw_held = false;
    for chunk in refs.chunks(37) {
        let mut b = e.new_batch();
        for l in chunk {
            if parser.parse(l, &mut rec).is_usable() {
                b.add(&rec);
            }
        }
        pieces.absorb(e.apply(b).unwrap());
        saw_held |= e.stats().held > 0;
        e = Engine::restore(&e.snapshot()).unwrap();
    }
    pieces.absorb(e.finish());
    assert!(saw_held, "the test should hold suspects across snapshots");
    same_windows(&pieces.windows, &whole.windows);
    assert_eq!(pieces.late, whole.late);
    assert_eq!(e.stats(), whole.stats);
}

#[test]
fn a_snapshot_of_an_unreadable_version_is_refused_with_its_version() {
    // Version 2 is migrated (tests/upgrade_v2.rs); a newer one cannot be read.
    let e = Engine::new(cfg()).unwrap();
    let mut bytes = e.snapshot();
    bytes[7] = 4;
    match Engine::restore(&bytes) {
        Err(e @ SnapshotError::Version(4)) => {
            let text = e.to_string();
            assert!(text.contains("version 4"), "{text}");
            assert!(text.contains("new checkpoint"), "{text}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn batches_built_ahead_judge_the_2099_line_alike() {
    // As the pipeline runs: `in_flight` batches built before the applier gets to them.
    use std::collections::VecDeque;
    let n = 30_000;
    let lines = nasa_lines(n, Some(n / 2));
    let chunks: Vec<&[&[u8]]> = lines.chunks(1024).collect();
    let parser = parser();
    let build = |spec: hitstream_window::BatchSpec| {
        let mut rec = Record::new();
        let mut b = hitstream_window::PaneBatch::new(spec);
        for l in chunks[spec.seq() as usize] {
            if parser.parse(l, &mut rec).is_usable() {
                b.add(&rec);
            }
        }
        b
    };
    let mut e = Engine::new(EngineConfig {
        in_flight: 4,
        ..cfg()
    })
    .unwrap();
    let mut queue: VecDeque<_> = e.open_specs().into_iter().map(&build).collect();
    let mut r = Run::default();
    while let Some(b) = queue.pop_front() {
        let out = e.apply(b).unwrap();
        if let Some(s) = out.next_spec.filter(|s| (s.seq() as usize) < chunks.len()) {
            queue.push_back(build(s));
        }
        r.absorb(out);
    }
    r.absorb(e.finish());
    let st = e.stats();
    assert_eq!((st.future, st.late, st.held), (1, 0, 0), "{st:?}");
    assert!(r.windows.iter().all(|w| w.window_start < 4_000_000_000));
}
