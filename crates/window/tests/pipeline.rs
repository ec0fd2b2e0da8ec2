//! Batches in flight, threads, snapshots: the engine's results are a function of the batch
//! sequence alone.

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::sync::mpsc;

use common::*;
use hitstream_format::Record;
use hitstream_window::alert::{ClientRateRule, NotFoundBurstRule, Rule, SpikeRule};
use hitstream_window::{BatchSpec, Engine, EngineConfig, PaneBatch, SnapshotError};

fn cfg(in_flight: u32) -> EngineConfig {
    EngineConfig {
        in_flight,
        alerts: vec![
            Rule::ClientRate(ClientRateRule {
                threshold: 40,
                cooldown: 300,
                ..ClientRateRule::default()
            }),
            Rule::NotFoundBurst(NotFoundBurstRule {
                threshold: 1,
                cooldown: 120,
                ..NotFoundBurstRule::default()
            }),
            Rule::Spike(SpikeRule {
                factor: 1.5,
                baseline_windows: 5,
                min_requests: 10,
                ..SpikeRule::default()
            }),
        ],
        ..EngineConfig::sliding(60, 20, 45)
    }
}

/// NASA lines, locally shuffled so that some are late and some update fired windows.
fn input(n: usize) -> Vec<&'static [u8]> {
    let mut rng = Rng(3);
    let mut v: Vec<(i64, usize, &[u8])> = nasa()[..n]
        .iter()
        .enumerate()
        .map(|(i, l)| (nasa_time(l) + rng.below(300) as i64, i, &l[..]))
        .collect();
    v.sort();
    v.into_iter().map(|(_, _, l)| l).collect()
}

fn build(spec: BatchSpec, lines: &[&[u8]]) -> PaneBatch {
    let parser = parser();
    let mut rec = Record::new();
    let mut b = PaneBatch::new(spec);
    for l in lines {
        if parser.parse(l, &mut rec).is_usable() {
            b.add(&rec);
        }
    }
    b
}

/// A single-threaded model of a pipeline with `in_flight` batches built ahead of the
/// applier. `stop_after`: snapshot after applying that batch, throw the engine and the
/// batches in flight away, restore, rebuild them, and go on.
fn pipelined(lines: &[&[u8]], batch: usize, in_flight: u32, stop_after: Option<u64>) -> Run {
    let chunks: Vec<&[&[u8]]> = lines.chunks(batch).collect();
    let mut e = Engine::new(cfg(in_flight)).unwrap();
    let mut queue: VecDeque<PaneBatch> = e
        .open_specs()
        .into_iter()
        .filter(|s| (s.seq() as usize) < chunks.len())
        .map(|s| build(s, chunks[s.seq() as usize]))
        .collect();
    let mut run = Run::default();
    while let Some(b) = queue.pop_front() {
        let seq = b.seq();
        let out = e.apply(b).unwrap();
        if let Some(s) = out.next_spec {
            if (s.seq() as usize) < chunks.len() {
                queue.push_back(build(s, chunks[s.seq() as usize]));
            }
        }
        run.absorb(out);
        if Some(seq) == stop_after {
            let bytes = e.snapshot();
            drop(e);
            queue.clear();
            e = Engine::restore(&bytes).unwrap();
            assert_eq!(
                e.snapshot(),
                bytes,
                "restore then snapshot gives the same bytes"
            );
            assert_eq!(e.next_seq(), seq + 1);
            queue = e
                .open_specs()
                .into_iter()
                .filter(|s| (s.seq() as usize) < chunks.len())
                .map(|s| build(s, chunks[s.seq() as usize]))
                .collect();
        }
    }
    run.absorb(e.finish());
    run.stats = e.stats();
    run
}

#[test]
fn snapshot_restore_mid_stream_gives_the_same_outputs() {
    let lines = input(20_000);
    for in_flight in [1, 3] {
        let whole = pipelined(&lines, 700, in_flight, None);
        // With batches in flight the horizon lags: fewer (here no) late lines, more updates.
        assert!(whole.stats.late > 0 || in_flight > 1, "{:?}", whole.stats);
        assert!(whole.stats.updates_emitted > 0, "{:?}", whole.stats);
        assert!(whole.alerts.len() > 3, "{}", whole.alerts.len());
        for stop in [0, 9, 25] {
            let resumed = pipelined(&lines, 700, in_flight, Some(stop));
            assert_eq!(
                resumed.windows, whole.windows,
                "in_flight {in_flight}, stop {stop}"
            );
            assert_eq!(
                resumed.alerts, whole.alerts,
                "in_flight {in_flight}, stop {stop}"
            );
            assert_eq!(
                resumed.late, whole.late,
                "in_flight {in_flight}, stop {stop}"
            );
            assert_eq!(resumed.stats, whole.stats);
        }
    }
}

#[test]
fn more_batches_in_flight_accept_at_least_as_much() {
    let lines = input(30_000);
    let one = pipelined(&lines, 500, 1, None);
    let four = pipelined(&lines, 500, 4, None);
    assert!(four.stats.late <= one.stats.late);
    for r in [&one, &four] {
        assert_eq!(r.stats.accepted + r.stats.late, 30_000);
        let sum: u64 = r.finals().values().map(|w| w.requests).sum();
        assert_eq!(sum, 3 * r.stats.accepted);
    }
}

#[test]
fn corrupt_snapshots_are_refused() {
    let lines = input(5_000);
    let mut e = Engine::new(cfg(2)).unwrap();
    feed(&mut e, &lines, 1000);
    let bytes = e.snapshot();
    assert!(matches!(
        Engine::restore(b"nope"),
        Err(SnapshotError::Header(_))
    ));
    let mut bad = bytes.clone();
    let n = bad.len();
    bad[n / 2] ^= 1;
    assert!(matches!(
        Engine::restore(&bad),
        Err(SnapshotError::Checksum)
    ));
    let mut bad = bytes.clone();
    bad[7] = 99;
    assert!(matches!(
        Engine::restore(&bad),
        Err(SnapshotError::Version(99))
    ));
    assert!(Engine::restore(&bytes[..n - 1]).is_err());
    assert!(Engine::restore(&bytes).is_ok());
}

#[test]
fn out_of_order_and_foreign_batches_are_refused() {
    let mut e = Engine::new(cfg(2)).unwrap();
    let specs = e.open_specs();
    assert_eq!(specs.len(), 2);
    let b1 = PaneBatch::new(specs[1]);
    assert!(matches!(
        e.apply(b1),
        Err(hitstream_window::ApplyError::OutOfOrder {
            expected: 0,
            got: 1
        })
    ));
    let other = Engine::new(EngineConfig::tumbling(30, 0)).unwrap();
    assert!(e.apply(other.new_batch()).is_err());
    assert!(e.apply(PaneBatch::new(specs[0])).is_ok());
    assert_eq!(e.spec(0), None);
    assert!(e.spec(2).is_some());
    assert_eq!(e.spec(3), None);
}

#[test]
fn pane_batches_cross_threads() {
    fn send<T: Send>() {}
    send::<PaneBatch>();
    send::<Engine>();
    send::<BatchSpec>();
}

/// A real multi-threaded pipeline: a dispatcher hands specs and chunks to two workers, which
/// build batches in parallel; the applier reorders them by sequence number, applies them and
/// sends each new spec back. Whatever the timing, the outputs equal the sequential model's.
#[test]
fn threaded_pipeline_is_deterministic() {
    let lines = input(30_000);
    let chunks: Vec<&[&[u8]]> = lines.chunks(600).collect();
    let in_flight = 4;
    let expected = pipelined(&lines, 600, in_flight, None);
    for _ in 0..3 {
        let mut e = Engine::new(cfg(in_flight)).unwrap();
        let mut run = Run::default();
        std::thread::scope(|s| {
            let (spec_tx, spec_rx) = mpsc::channel::<BatchSpec>();
            let (job_tx, job_rx) = mpsc::channel::<BatchSpec>();
            let job_rx = std::sync::Arc::new(std::sync::Mutex::new(job_rx));
            let (done_tx, done_rx) = mpsc::channel::<PaneBatch>();
            for spec in e.open_specs() {
                spec_tx.send(spec).unwrap();
            }
            // Dispatcher: one job per spec while input lasts.
            let n = chunks.len();
            s.spawn(move || {
                for spec in spec_rx {
                    if spec.seq() as usize >= n {
                        break;
                    }
                    job_tx.send(spec).unwrap();
                }
            });
            // Workers.
            for _ in 0..2 {
                let job_rx = job_rx.clone();
                let done_tx = done_tx.clone();
                let chunks = &chunks;
                s.spawn(move || loop {
                    let job = job_rx.lock().unwrap().recv();
                    let Ok(spec) = job else { break };
                    done_tx
                        .send(build(spec, chunks[spec.seq() as usize]))
                        .unwrap();
                });
            }
            drop(done_tx);
            // Applier: in sequence order.
            let mut waiting: BTreeMap<u64, PaneBatch> = BTreeMap::new();
            let mut applied = 0;
            while applied < n {
                let b = done_rx.recv().unwrap();
                waiting.insert(b.seq(), b);
                while let Some(b) = waiting.remove(&e.next_seq()) {
                    let out = e.apply(b).unwrap();
                    applied += 1;
                    if let Some(spec) = out.next_spec {
                        let _ = spec_tx.send(spec);
                    }
                    run.absorb(out);
                }
            }
            drop(spec_tx);
        });
        run.absorb(e.finish());
        run.stats = e.stats();
        assert_eq!(run, expected);
    }
}
