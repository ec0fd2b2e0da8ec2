//! Properties over arbitrary event orders, batchings, window shapes, lateness, batches in
//! flight and idle advances: nothing panics, every event is counted exactly once (accepted
//! into every window that holds it, or late), and a snapshot/restore anywhere changes
//! nothing.

mod common;

use std::collections::VecDeque;

use common::*;
use hitstream_format::Record;
use hitstream_window::alert::{NotFoundBurstRule, Rule, SpikeRule};
use hitstream_window::{Engine, EngineConfig, PaneBatch};
use proptest::collection::vec;
use proptest::prelude::*;

const STATUSES: [u16; 4] = [200, 404, 401, 500];

#[derive(Debug, Clone)]
struct Case {
    events: Vec<(i64, u8, u8)>,
    batch: usize,
    size: u64,
    slide: u64,
    lateness: u64,
    in_flight: u32,
    idle: Vec<Option<u64>>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        vec((0i64..1200, 0u8..6, 0u8..4), 0..250),
        1usize..40,
        prop_oneof![Just(10u64), Just(30), Just(60), Just(120)],
        prop_oneof![Just(1u64), Just(2), Just(3), Just(6)],
        prop_oneof![Just(0u64), 0u64..300],
        1u32..4,
        vec(proptest::option::weighted(0.2, 0u64..200), 0..30),
    )
        .prop_map(|(events, batch, size, div, lateness, in_flight, idle)| {
            let slide = if size % div == 0 { size / div } else { size };
            Case {
                events,
                batch,
                size,
                slide,
                lateness,
                in_flight,
                idle,
            }
        })
}

fn lines_of(c: &Case) -> Vec<Vec<u8>> {
    c.events
        .iter()
        .map(|&(t, client, st)| {
            let s = STATUSES[st as usize];
            line(
                &format!("c{client}"),
                3600 + t,
                "GET",
                &format!("/p{}", t % 7),
                s,
                t as u64,
            )
        })
        .collect()
}

/// Runs a case through a model pipeline (`in_flight` batches built ahead), optionally
/// snapshotting and restoring after batch `stop`.
fn drive(c: &Case, lines: &[Vec<u8>], stop: Option<u64>) -> Run {
    let cfg = EngineConfig {
        in_flight: c.in_flight,
        alerts: vec![
            Rule::NotFoundBurst(NotFoundBurstRule {
                threshold: 2,
                cooldown: 100,
                ..NotFoundBurstRule::default()
            }),
            Rule::Spike(SpikeRule {
                baseline_windows: 2,
                min_requests: 3,
                factor: 1.2,
                ..SpikeRule::default()
            }),
        ],
        ..EngineConfig::sliding(c.size, c.slide, c.lateness)
    };
    let parser = parser();
    let refs: Vec<&[u8]> = lines.iter().map(|l| &l[..]).collect();
    let chunks: Vec<&[&[u8]]> = refs.chunks(c.batch).collect();
    let build = |spec: hitstream_window::BatchSpec| {
        let mut b = PaneBatch::new(spec);
        let mut rec = Record::new();
        for l in chunks[spec.seq() as usize] {
            assert!(parser.parse(l, &mut rec).is_usable());
            b.add(&rec);
        }
        b
    };
    let mut e = Engine::new(cfg).unwrap();
    let specs = |e: &Engine| -> VecDeque<PaneBatch> {
        e.open_specs()
            .into_iter()
            .filter(|s| (s.seq() as usize) < chunks.len())
            .map(build)
            .collect()
    };
    let mut queue = specs(&e);
    let mut run = Run::default();
    while let Some(b) = queue.pop_front() {
        let seq = b.seq();
        let out = e.apply(b).unwrap();
        if let Some(s) = out.next_spec {
            if (s.seq() as usize) < chunks.len() {
                queue.push_back(build(s));
            }
        }
        run.absorb(out);
        if let Some(Some(idle)) = c.idle.get(seq as usize) {
            run.absorb(e.advance_idle(*idle));
        }
        if Some(seq) == stop {
            let bytes = e.snapshot();
            e = Engine::restore(&bytes).unwrap();
            queue = specs(&e);
        }
    }
    run.closed_at_end = run.windows.len();
    run.absorb(e.finish());
    run.stats = e.stats();
    run
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn every_event_is_counted_exactly_once(c in case(), stop in 0u64..20) {
        let lines = lines_of(&c);
        let n = lines.len() as u64;
        let r = drive(&c, &lines, None);
        prop_assert_eq!(r.stats.lines, n);
        prop_assert_eq!(r.stats.accepted + r.stats.late, n);
        prop_assert_eq!(r.late.len() as u64, r.stats.late);
        for l in &r.late {
            prop_assert!(l.event_time.unwrap() < l.horizon);
        }
        let per_event = c.size / c.slide;
        let finals = r.finals();
        let sum: u64 = finals.values().map(|w| w.requests).sum();
        prop_assert_eq!(sum, r.stats.accepted * per_event);
        for (i, w) in r.windows.iter().enumerate() {
            // Emitted once the watermark passed the end, or by the end of input, which
            // records the last watermark the stream reached.
            if i < r.closed_at_end {
                prop_assert!(w.window_end <= w.watermark);
            } else {
                prop_assert!(w.watermark < i64::MAX);
            }
            prop_assert_eq!(w.window_end - w.window_start, c.size as i64);
            prop_assert_eq!(w.window_start.rem_euclid(c.slide as i64), 0);
            prop_assert!(w.requests > 0);
            prop_assert!(w.unique_clients >= 1 && w.unique_clients <= 6);
        }
        // With lateness at least the whole time span, nothing is late.
        if c.lateness >= 1200 {
            prop_assert_eq!(r.stats.late, 0);
        }
        // Snapshot and restore after any batch: identical outputs.
        let resumed = drive(&c, &lines, Some(stop));
        prop_assert_eq!(&resumed, &r);
    }
}
