//! Snapshots of format version 2, written by hitstream before version 3 (up to commit
//! 35cb7e1), read so that an upgrade goes on from an existing checkpoint instead of
//! refusing it (and, with a lake, refusing the lake: its tables know the checkpoint's
//! epochs, so a new checkpoint directory over the same lake is refused too).
//!
//! Version 3 changed three things, each undone here:
//! - the checksum and the client hash were foldhash, now XXH3-64: the checksum is verified
//!   with foldhash, and the HyperLogLog registers are rebuilt with the new hash from each
//!   pane's client map ([`crate::agg::AggSnap::rehash_clients`]), which holds every client
//!   the pane counted, so the registers are exactly those version 3 would have made from
//!   the same lines;
//! - the engine stats gained `future` and `held` (in the middle of the struct): both 0;
//! - the event-clock bounds: no wall-clock reading, no held suspects, and the specs already
//!   derived (`recent`) keep their watermark with no bound on the stream's clock, as version
//!   2 handed them out. Their `in_flight` batches are the only ones after the upgrade that
//!   do not hold lines far ahead of the stream's clock; later ones do.

use std::hash::BuildHasher;

use serde::Deserialize;

use super::{Bounds, EngineSnap, EngineStats, SnapshotError, NO_BOUNDS};
use crate::agg::AggSnap;

/// The format version this module reads.
pub(super) const VERSION: u8 = 2;

/// The checksum of version 2: foldhash's quality hash with the fixed seed `0x68_69_74_73` of
/// the payload as a byte slice (its length, then its bytes: `Hash for [u8]`), as
/// `keymap::hash_key` computed it then.
///
/// foldhash is used here ONLY to verify version-2 snapshots. Its documentation rules out
/// persisting its output, which may change between versions of the crate; that is why
/// version 3 uses XXH3. Cargo.lock pins the foldhash that wrote them (0.1.5, as at 35cb7e1);
/// should an update change its output, version-2 checkpoints would fail this check, and
/// `tests/upgrade_v2.rs` (a snapshot written by 35cb7e1) fails first.
fn checksum(payload: &[u8]) -> u64 {
    const HASHER: foldhash::quality::FixedState =
        foldhash::quality::FixedState::with_seed(0x68_69_74_73);
    HASHER.hash_one(payload)
}

/// [`EngineSnap`] of version 2, field for field (postcard is not self-describing: the
/// layout is the order and the types of the fields).
#[derive(Deserialize)]
struct EngineSnapV2 {
    config: String,
    next_seq: u64,
    max_seen: Option<i64>,
    watermark: Option<i64>,
    recent: Vec<Option<i64>>,
    panes: Vec<(i64, AggSnap)>,
    emitted: Vec<(i64, u32)>,
    pending: Vec<i64>,
    history: Vec<(i64, u64)>,
    first_pane: Option<i64>,
    cooldowns: Vec<(String, Vec<u8>, i64)>,
    stats: EngineStatsV2,
    finished: bool,
}

/// [`EngineStats`] of version 2 (without `future` and `held`).
#[derive(Deserialize)]
struct EngineStatsV2 {
    batches: u64,
    lines: u64,
    accepted: u64,
    late: u64,
    no_time: u64,
    windows_emitted: u64,
    updates_emitted: u64,
    alerts: u64,
    idle_advances: u64,
    panes: u64,
    retained_windows: u64,
    keys: u64,
    sample_bytes: u64,
}

/// Verifies and decodes a version-2 payload into the state version 3 has for it.
pub(super) fn decode(payload: &[u8], sum: u64) -> Result<EngineSnap, SnapshotError> {
    if checksum(payload) != sum {
        return Err(SnapshotError::Checksum);
    }
    let s: EngineSnapV2 = postcard::from_bytes(payload)?;
    let t = s.stats;
    Ok(EngineSnap {
        config: s.config,
        next_seq: s.next_seq,
        max_seen: s.max_seen,
        watermark: s.watermark,
        recent: s
            .recent
            .into_iter()
            .map(|watermark| Bounds {
                watermark,
                ..NO_BOUNDS
            })
            .collect(),
        panes: s
            .panes
            .into_iter()
            .map(|(p, mut a)| {
                a.rehash_clients();
                (p, a)
            })
            .collect(),
        emitted: s.emitted,
        pending: s.pending,
        history: s.history,
        first_pane: s.first_pane,
        cooldowns: s.cooldowns,
        stats: EngineStats {
            batches: t.batches,
            lines: t.lines,
            accepted: t.accepted,
            late: t.late,
            no_time: t.no_time,
            future: 0,
            held: 0,
            windows_emitted: t.windows_emitted,
            updates_emitted: t.updates_emitted,
            alerts: t.alerts,
            idle_advances: t.idle_advances,
            panes: t.panes,
            retained_windows: t.retained_windows,
            keys: t.keys,
            sample_bytes: t.sample_bytes,
        },
        finished: s.finished,
        wall: None,
        held: Vec::new(),
        held_lines: Vec::new(),
        normal_since_hold: 0,
    })
}
