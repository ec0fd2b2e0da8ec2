//! Upgrades: a window snapshot of format version 2, written by hitstream before version 3
//! (foldhash checksum and client hash, no event-clock bounds), is migrated on restore, so an
//! existing checkpoint (and the lake whose tables know its epochs) goes on after an upgrade.
//!
//! `golden/snapshot-v2.bin` was written by the OLD code, not by hand: hitstream at commit
//! 35cb7e1 (format version 2) ran an engine over `before()` of `golden/snapshot-v2-input.rs`
//! and saved its snapshot; it then restored it, fed `after()`, finished, and saved the
//! windows, alerts and counters in `golden/snapshot-v2-expected.json`. Never rewrite them
//! with this build: they stand for checkpoints that exist in the field.

mod common;
#[path = "golden/snapshot-v2-input.rs"]
mod input;

use common::{feed, Run};
use hitstream_window::{Engine, SnapshotError};
use serde_json::Value;

const V2: &[u8] = include_bytes!("golden/snapshot-v2.bin");
const EXPECTED: &str = include_str!("golden/snapshot-v2-expected.json");

fn refs(lines: &[Vec<u8>]) -> Vec<&[u8]> {
    lines.iter().map(|l| &l[..]).collect()
}

/// Feeds `after()` to `e` and finishes it.
fn go_on(mut e: Engine) -> (Run, Engine) {
    let after = input::after();
    let mut run = feed(&mut e, &refs(&after), input::BATCH);
    run.absorb(e.finish());
    run.stats = e.stats();
    (run, e)
}

#[test]
fn a_v2_snapshot_restores_and_goes_on_as_the_old_engine_did() {
    assert_eq!(V2[7], 2, "the fixture is a version-2 snapshot");
    let e = Engine::restore(V2).expect("a version-2 snapshot is migrated");
    assert_eq!(e.config(), &input::config());
    let (run, _) = go_on(e);
    let expected: Value = serde_json::from_str(EXPECTED).unwrap();

    assert_eq!(
        serde_json::to_value(&run.alerts).unwrap(),
        expected["alerts"]
    );
    assert_eq!(run.late.len() as u64, expected["late"].as_u64().unwrap());
    let stats = serde_json::to_value(run.stats).unwrap();
    for (k, v) in expected["stats"].as_object().unwrap() {
        assert_eq!(&stats[k], v, "stats.{k}");
    }
    assert_eq!(run.stats.future, 0);
    assert_eq!(run.stats.held, 0);

    let got = serde_json::to_value(&run.windows).unwrap();
    let (got, want) = (
        got.as_array().unwrap(),
        expected["windows"].as_array().unwrap(),
    );
    assert_eq!(got.len(), want.len(), "windows emitted");
    for (g, w) in got.iter().zip(want) {
        // Everything but the unique-client estimate is exact. The estimate is of the same
        // clients, hashed with XXH3 now and with foldhash then: two HyperLogLogs of the same
        // set with different hashes differ within the sketch's error (0.81 % standard error),
        // not more. A window whose registers mixed both hashes would count the clients seen
        // on both sides of the upgrade twice.
        let (mut g, mut w) = (g.clone(), w.clone());
        let gu = g["unique_clients"].take().as_u64().unwrap() as f64;
        let wu = w["unique_clients"].take().as_u64().unwrap() as f64;
        // The old engine recorded `i64::MAX` as the watermark of the windows the end of
        // input closed; they now carry the last watermark the stream reached.
        if w["watermark"].as_i64() == Some(i64::MAX) {
            let reached = g["watermark"].take().as_i64().unwrap();
            assert!(reached < g["window_end"].as_i64().unwrap());
            w["watermark"].take();
        }
        assert_eq!(g, w, "window {}", w["window_start"]);
        assert!(
            (gu - wu).abs() <= 3.0 * 0.008125 * wu + 1.0,
            "window {}: {gu} unique clients, the old engine said {wu}",
            w["window_start"]
        );
    }
}

#[test]
fn a_migrated_v2_snapshot_is_the_state_version_3_has_after_the_same_lines() {
    let migrated = Engine::restore(V2).expect("a version-2 snapshot is migrated");
    let mut fresh = Engine::new(input::config()).unwrap();
    let before = input::before();
    feed(&mut fresh, &refs(&before), input::BATCH);
    assert_eq!(migrated.stats(), fresh.stats());
    assert_eq!(migrated.next_seq(), fresh.next_seq());

    // The unique-client sketch of every pane (its `Debug` gives the estimate in full, a
    // function of every register's value) is the one version 3 built. (Whether it is held
    // sparse or dense in memory depends on its history, not on its registers.)
    assert_eq!(estimates(&migrated), estimates(&fresh));
    assert!(
        sketches(&migrated)
            .iter()
            .any(|s| s.contains("dense: true")),
        "a dense sketch among them: {:?}",
        sketches(&migrated)
    );
    // Once the specs derived before the upgrade are used up (`in_flight` batches: version 2
    // handed them out without a bound on the stream's clock), the bytes differ only in where
    // a pane's sample lines sit in its arena: the order in which a merge meets clients
    // follows their hash, and no output depends on it. So the sizes agree.
    let after = input::after();
    let (mut m, mut f) = (
        Engine::restore(V2).unwrap(),
        Engine::restore(&fresh.snapshot()).unwrap(),
    );
    let n = input::BATCH * input::config().in_flight as usize;
    feed(&mut m, &refs(&after[..n]), input::BATCH);
    feed(&mut f, &refs(&after[..n]), input::BATCH);
    assert_eq!(m.snapshot().len(), f.snapshot().len());
    assert_eq!(estimates(&m), estimates(&f));

    let (a, a_end) = go_on(migrated);
    let (b, b_end) = go_on(fresh);
    // Unique clients included: the registers rebuilt from the client maps are the ones the
    // new hash makes.
    assert_eq!(a, b);
    let uniques: Vec<u64> = a.windows.iter().map(|w| w.unique_clients).collect();
    assert!(
        uniques.iter().any(|u| *u > 2_000),
        "a dense sketch: {uniques:?}"
    );
    assert_eq!(a_end.snapshot(), b_end.snapshot());
}

/// The `Debug` of every HyperLogLog of an engine's panes.
fn sketches(e: &Engine) -> Vec<String> {
    let dbg = format!("{e:?}");
    dbg.match_indices("Hll {")
        .map(|(i, _)| {
            let end = dbg[i..].find('}').expect("closed") + i;
            dbg[i..=end].to_string()
        })
        .collect()
}

/// The unique-client estimate of every pane, in full.
fn estimates(e: &Engine) -> Vec<String> {
    sketches(e)
        .iter()
        .map(|s| s[s.find("estimate").expect("an estimate")..].to_string())
        .collect()
}

#[test]
fn a_damaged_v2_snapshot_is_refused() {
    let mut bytes = V2.to_vec();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    let e = Engine::restore(&bytes).expect_err("damage is found");
    assert!(matches!(e, SnapshotError::Checksum), "{e}");
}

#[test]
fn other_versions_are_refused_by_name() {
    for v in [1u8, 4] {
        let mut bytes = V2.to_vec();
        bytes[7] = v;
        let e = Engine::restore(&bytes).expect_err("not readable");
        assert!(matches!(e, SnapshotError::Version(x) if x == v), "{e}");
        let msg = e.to_string();
        assert!(msg.contains(&format!("version {v}")), "{msg}");
    }
}
