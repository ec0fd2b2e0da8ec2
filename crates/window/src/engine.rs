//! The engine: applies batches in order, keeps panes, moves the watermark, fires windows,
//! evaluates alert rules, expires state, and snapshots all of it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::agg::{Agg, AggSnap};
use crate::alert::{evaluate, Alert, Cooldowns, WindowCtx};
use crate::batch::{align, BatchSpec, LateLine, LateReason, PaneBatch};
use crate::config::{ConfigError, EngineConfig};
use crate::result::{Merged, WindowResult};

/// What one step of the engine produced, in a deterministic order: windows as they fired
/// (oldest start first), alerts in the order of their windows (then rule, then key), late
/// lines in input order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// Windows fired by this step: first emissions (`revision == 0`) and updates.
    pub windows: Vec<WindowResult>,
    /// Alerts raised on those windows.
    pub alerts: Vec<Alert>,
    /// Lines of the applied batch that no window counts.
    pub late: Vec<LateLine>,
    /// After [`Engine::apply`]: the spec of batch `seq + in_flight`, which became available
    /// with this batch (hand it to the thread that starts batches).
    pub next_spec: Option<BatchSpec>,
}

impl Output {
    /// Whether nothing was produced.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty() && self.alerts.is_empty() && self.late.is_empty()
    }
}

/// Why a batch could not be applied. Both are pipeline bugs; the engine state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// Batches must be applied in sequence order.
    #[error("batch {got} applied out of order: the engine expects batch {expected}")]
    OutOfOrder {
        /// The sequence number the engine expects.
        expected: u64,
        /// The batch's sequence number.
        got: u64,
    },
    /// The batch was built from a spec this engine did not hand out (another engine, or a
    /// state before a restore).
    #[error("batch {seq} was built for horizon {got}, but the engine's spec for it has horizon {expected}")]
    SpecMismatch {
        /// The batch's sequence number.
        seq: u64,
        /// The horizon the engine expects.
        expected: i64,
        /// The batch's horizon.
        got: i64,
    },
}

/// Why a snapshot could not be restored.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Not a window-engine snapshot, or one of another format version.
    #[error("not a hitstream window snapshot of version {SNAPSHOT_VERSION} (header {0:02x?})")]
    Header(Vec<u8>),
    /// The checksum does not match: the bytes were damaged.
    #[error("snapshot checksum mismatch: the data is damaged")]
    Checksum,
    /// The payload does not decode.
    #[error("snapshot does not decode: {0}")]
    Decode(#[from] postcard::Error),
    /// The configuration inside is invalid.
    #[error("snapshot holds an invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// The state inside is inconsistent.
    #[error("snapshot state is inconsistent: {0}")]
    Invalid(&'static str),
}

/// Format version of [`Engine::snapshot`].
pub const SNAPSHOT_VERSION: u8 = 2;
const MAGIC: &[u8; 7] = b"HSWINDW";

/// Counters and gauges of an engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineStats {
    /// Batches applied.
    pub batches: u64,
    /// Records fed to those batches.
    pub lines: u64,
    /// Records counted in panes.
    pub accepted: u64,
    /// Records too late for any window (in the late output).
    pub late: u64,
    /// Records without an event time (in the late output).
    pub no_time: u64,
    /// Window emissions (first emissions and updates).
    pub windows_emitted: u64,
    /// Of those, updates (`revision > 0`).
    pub updates_emitted: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Calls to [`Engine::advance_idle`] that moved the watermark.
    pub idle_advances: u64,
    /// Panes held now (gauge).
    pub panes: u64,
    /// Windows whose state is held now (gauge).
    pub retained_windows: u64,
    /// Client and page entries held across all panes (gauge): what memory grows with.
    pub keys: u64,
    /// Bytes of raw sample lines held across all panes (gauge).
    pub sample_bytes: u64,
}

/// The event-time window engine. See the crate documentation for the model.
#[derive(Debug)]
pub struct Engine {
    cfg: EngineConfig,
    size: i64,
    slide: i64,
    lateness: i64,
    next_seq: u64,
    max_seen: Option<i64>,
    watermark: Option<i64>,
    /// `recent[i]` is the watermark the spec of batch `next_seq + i` is derived from: the one
    /// after batch `next_seq + i - in_flight` was applied.
    recent: VecDeque<Option<i64>>,
    panes: BTreeMap<i64, Agg>,
    /// Window start to the number of emissions so far.
    emitted: BTreeMap<i64, u32>,
    /// Windows whose panes changed since they were last emitted.
    pending: BTreeSet<i64>,
    /// Requests of emitted windows, by start (for spike baselines).
    history: BTreeMap<i64, u64>,
    first_pane: Option<i64>,
    cooldowns: Cooldowns,
    stats: EngineStats,
    finished: bool,
}

impl Engine {
    /// An engine with nothing seen yet.
    pub fn new(cfg: EngineConfig) -> Result<Engine, ConfigError> {
        cfg.validate()?;
        Ok(Engine::with_valid(cfg))
    }

    fn with_valid(cfg: EngineConfig) -> Engine {
        Engine {
            size: cfg.size as i64,
            slide: cfg.effective_slide() as i64,
            lateness: cfg.lateness as i64,
            next_seq: 0,
            max_seen: None,
            watermark: None,
            recent: std::iter::repeat_n(None, cfg.in_flight as usize).collect(),
            panes: BTreeMap::new(),
            emitted: BTreeMap::new(),
            pending: BTreeSet::new(),
            history: BTreeMap::new(),
            first_pane: None,
            cooldowns: Cooldowns::new(),
            stats: EngineStats::default(),
            finished: false,
            cfg,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// The watermark (UTC seconds): largest event time seen minus the lateness, or further
    /// when idle time or [`Engine::finish`] moved it. `None` before the first event.
    pub fn watermark(&self) -> Option<i64> {
        self.watermark
    }

    /// The oldest event time a batch started now would accept (`i64::MIN` before the first
    /// event, `i64::MAX` after [`Engine::finish`]).
    pub fn horizon(&self) -> i64 {
        self.horizon_of(self.watermark)
    }

    /// Sequence number of the next batch to apply.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Whether [`Engine::finish`] was called (every later line is late).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Counters and gauges (the gauges walk the panes: call it per batch, not per line).
    pub fn stats(&self) -> EngineStats {
        EngineStats {
            panes: self.panes.len() as u64,
            retained_windows: self.emitted.len() as u64,
            keys: self
                .panes
                .values()
                .map(|a| (a.clients.len() + a.pages.len()) as u64)
                .sum(),
            sample_bytes: self.panes.values().map(|a| a.text.len() as u64).sum(),
            ..self.stats
        }
    }

    fn horizon_of(&self, w: Option<i64>) -> i64 {
        match w {
            None => i64::MIN,
            Some(i64::MAX) => i64::MAX,
            Some(w) => align(
                w.saturating_sub(self.lateness),
                self.slide,
                self.cfg.align_offset,
            ),
        }
    }

    /// The spec of batch `seq`, available for `next_seq() <= seq < next_seq() + in_flight`:
    /// batch `n` classifies against the horizon as it stood after batch `n - in_flight` was
    /// applied, so a pipeline that keeps at most `in_flight` batches between creating and
    /// applying them gets the same results however its threads run.
    pub fn spec(&self, seq: u64) -> Option<BatchSpec> {
        let i = usize::try_from(seq.checked_sub(self.next_seq)?).ok()?;
        let w = *self.recent.get(i)?;
        Some(BatchSpec {
            seq,
            horizon: self.horizon_of(w),
            slide: self.slide,
            offset: self.cfg.align_offset,
            sample_bytes: self.cfg.sample_bytes,
        })
    }

    /// Every spec available now (`in_flight` of them): what a pipeline starts with, after
    /// [`Engine::new`] or [`Engine::restore`].
    pub fn open_specs(&self) -> Vec<BatchSpec> {
        (0..self.recent.len() as u64)
            .filter_map(|i| self.spec(self.next_seq + i))
            .collect()
    }

    /// An empty batch for the next sequence number (single-threaded use).
    pub fn new_batch(&self) -> PaneBatch {
        let spec = self
            .spec(self.next_seq)
            .expect("the next batch's spec is always available");
        PaneBatch::new(spec)
    }

    /// Applies the next batch: merges its panes, moves the watermark to (largest event time
    /// seen - lateness), emits every window the watermark has passed whose content changed
    /// (first emissions and updates), evaluates alert rules on them, and expires state no
    /// later batch can touch.
    pub fn apply(&mut self, batch: PaneBatch) -> Result<Output, ApplyError> {
        if batch.spec.seq != self.next_seq {
            return Err(ApplyError::OutOfOrder {
                expected: self.next_seq,
                got: batch.spec.seq,
            });
        }
        let expected = self
            .spec(self.next_seq)
            .expect("the next batch's spec is always available");
        if batch.spec != expected {
            return Err(ApplyError::SpecMismatch {
                seq: batch.spec.seq,
                expected: expected.horizon,
                got: batch.spec.horizon,
            });
        }
        let PaneBatch {
            mut panes,
            late,
            lines,
            accepted,
            max_time,
            ..
        } = batch;
        self.stats.batches += 1;
        self.stats.lines += lines;
        self.stats.accepted += accepted;
        for l in &late {
            match l.reason {
                LateReason::TooLate => self.stats.late += 1,
                LateReason::NoTime => self.stats.no_time += 1,
            }
        }
        if let Some(m) = max_time {
            self.max_seen = Some(self.max_seen.map_or(m, |x| x.max(m)));
        }
        panes.sort_unstable_by_key(|(p, _)| *p);
        let per_window = self.size / self.slide;
        for (p, agg) in panes {
            self.first_pane = Some(self.first_pane.map_or(p, |f| f.min(p)));
            match self.panes.entry(p) {
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    o.get_mut()
                        .merge(agg, self.cfg.busy_sample_after, self.cfg.sample_bytes)
                }
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(agg.into_pane(self.cfg.busy_sample_after));
                }
            }
            for j in 0..per_window {
                self.pending.insert(p - j * self.slide);
            }
        }
        if !self.finished {
            if let Some(m) = self.max_seen {
                let w = m.saturating_sub(self.lateness);
                self.watermark = Some(self.watermark.map_or(w, |x| x.max(w)));
            }
        }
        self.recent.pop_front();
        self.recent.push_back(self.watermark);
        self.next_seq += 1;

        let mut out = Output {
            late,
            ..Output::default()
        };
        self.fire(&mut out);
        self.expire();
        out.next_spec = self.spec(self.next_seq + self.recent.len() as u64 - 1);
        Ok(out)
    }

    /// Moves the watermark forward by `elapsed` seconds of processing time during which the
    /// input was quiet, firing the windows it passes. The caller decides when input counts as
    /// idle. Does nothing before the first event. For exactly-once replay, an idle advance is
    /// an input like a batch: log it and repeat it at the same place.
    pub fn advance_idle(&mut self, elapsed: u64) -> Output {
        let mut out = Output::default();
        let (Some(w), false) = (self.watermark, self.finished) else {
            return out;
        };
        if elapsed == 0 {
            return out;
        }
        self.watermark = Some(w.saturating_add(i64::try_from(elapsed).unwrap_or(i64::MAX)));
        self.stats.idle_advances += 1;
        self.fire(&mut out);
        self.expire();
        out
    }

    /// End of input: moves the watermark to the end of time so every window fires, then
    /// drops all window state. Lines applied afterwards are all late.
    pub fn finish(&mut self) -> Output {
        let mut out = Output::default();
        if self.finished {
            return out;
        }
        self.finished = true;
        self.watermark = Some(i64::MAX);
        self.fire(&mut out);
        self.panes.clear();
        self.emitted.clear();
        self.pending.clear();
        self.history.clear();
        self.cooldowns.clear();
        for w in self.recent.iter_mut() {
            *w = Some(i64::MAX);
        }
        out
    }

    /// Emits the pending windows the watermark has passed, oldest first.
    fn fire(&mut self, out: &mut Output) {
        let Some(w) = self.watermark else {
            return;
        };
        let limit = w.saturating_sub(self.size);
        let ready: Vec<i64> = self.pending.range(..=limit).copied().collect();
        let mut merged = Merged::empty();
        for s in ready {
            self.pending.remove(&s);
            let end = s.saturating_add(self.size);
            let list: Vec<&Agg> = self.panes.range(s..end).map(|(_, a)| a).collect();
            if list.is_empty() {
                continue;
            }
            merged.fill(list);
            let rev = self.emitted.entry(s).or_insert(0);
            let revision = *rev;
            *rev += 1;
            out.windows
                .push(merged.result(s, end, revision, w, self.cfg.top_n, self.stats.late));
            self.history.insert(s, merged.requests);
            let before = out.alerts.len();
            evaluate(
                &self.cfg.alerts,
                &WindowCtx {
                    start: s,
                    end,
                    revision,
                    merged: &merged,
                    history: &self.history,
                    first_pane: self.first_pane,
                },
                &mut self.cooldowns,
                &mut out.alerts,
            );
            self.stats.alerts += (out.alerts.len() - before) as u64;
            self.stats.windows_emitted += 1;
            if revision > 0 {
                self.stats.updates_emitted += 1;
            }
        }
    }

    /// Drops panes and window state that no batch still to come can touch.
    fn expire(&mut self) {
        let h = self.horizon_of(self.recent[0]);
        if h == i64::MIN {
            return;
        }
        // A window [s, s + size) can change only through a pane >= h; drop s + size <= h.
        let cut = h.saturating_sub(self.size).saturating_add(1);
        self.panes = self.panes.split_off(&cut);
        self.emitted = self.emitted.split_off(&cut);
        debug_assert!(self.pending.range(..cut).next().is_none());
        self.pending = self.pending.split_off(&cut);
        let baseline = self
            .cfg
            .alerts
            .iter()
            .map(|r| i64::from(r.baseline_windows()))
            .max()
            .unwrap_or(0);
        let hcut = cut.saturating_sub(baseline.saturating_mul(self.size));
        self.history = self.history.split_off(&hcut);
        let cooldown: BTreeMap<&str, u64> = self
            .cfg
            .alerts
            .iter()
            .map(|r| (r.name(), r.cooldown()))
            .collect();
        // A window still to be emitted ends after h, so an older incident cannot hold it back.
        self.cooldowns.retain(|(name, _), last| {
            cooldown
                .get(name.as_str())
                .is_some_and(|c| last.saturating_add_unsigned(*c) >= h)
        });
    }

    /// All state (configuration included) as bytes, for a checkpoint. Equal states give equal
    /// bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let snap = EngineSnap {
            config: serde_json::to_string(&self.cfg).expect("config serializes"),
            next_seq: self.next_seq,
            max_seen: self.max_seen,
            watermark: self.watermark,
            recent: self.recent.iter().copied().collect(),
            panes: self.panes.iter().map(|(p, a)| (*p, a.to_snap())).collect(),
            emitted: self.emitted.iter().map(|(k, v)| (*k, *v)).collect(),
            pending: self.pending.iter().copied().collect(),
            history: self.history.iter().map(|(k, v)| (*k, *v)).collect(),
            first_pane: self.first_pane,
            cooldowns: self
                .cooldowns
                .iter()
                .map(|((r, k), v)| (r.clone(), k.clone(), *v))
                .collect(),
            stats: self.stats,
            finished: self.finished,
        };
        let payload = postcard::to_allocvec(&snap).expect("in-memory serialization cannot fail");
        let mut out = Vec::with_capacity(payload.len() + 16);
        out.extend_from_slice(MAGIC);
        out.push(SNAPSHOT_VERSION);
        out.extend_from_slice(&checksum(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }

    /// An engine in the state [`Engine::snapshot`] saved. Continuing it gives exactly the
    /// outputs the original would have given.
    pub fn restore(bytes: &[u8]) -> Result<Engine, SnapshotError> {
        let header = &bytes[..bytes.len().min(16)];
        if bytes.len() < 16 || &bytes[..7] != MAGIC || bytes[7] != SNAPSHOT_VERSION {
            return Err(SnapshotError::Header(header.to_vec()));
        }
        let sum = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
        let payload = &bytes[16..];
        if checksum(payload) != sum {
            return Err(SnapshotError::Checksum);
        }
        let s: EngineSnap = postcard::from_bytes(payload)?;
        let config: EngineConfig = serde_json::from_str(&s.config)
            .map_err(|_| SnapshotError::Invalid("configuration does not decode"))?;
        config.validate()?;
        let mut e = Engine::with_valid(config);
        if s.recent.len() != e.recent.len() {
            return Err(SnapshotError::Invalid(
                "watermark ring length differs from in_flight",
            ));
        }
        let aligned = |p: i64| align(p, e.slide, e.cfg.align_offset) == p;
        e.next_seq = s.next_seq;
        e.max_seen = s.max_seen;
        e.watermark = s.watermark;
        e.recent = s.recent.into_iter().collect();
        for (p, a) in s.panes {
            if !aligned(p) {
                return Err(SnapshotError::Invalid(
                    "pane start not aligned to the slide",
                ));
            }
            let agg = Agg::from_snap(a).ok_or(SnapshotError::Invalid("pane aggregate"))?;
            e.panes.insert(p, agg);
        }
        e.emitted = s.emitted.into_iter().collect();
        e.pending = s.pending.into_iter().collect();
        e.history = s.history.into_iter().collect();
        if !e
            .pending
            .iter()
            .chain(e.emitted.keys())
            .all(|s| aligned(*s))
        {
            return Err(SnapshotError::Invalid(
                "window start not aligned to the slide",
            ));
        }
        e.first_pane = s.first_pane;
        e.cooldowns = s
            .cooldowns
            .into_iter()
            .map(|(r, k, v)| ((r, k), v))
            .collect();
        e.stats = s.stats;
        e.finished = s.finished;
        Ok(e)
    }
}

/// Checksum of a snapshot's payload: XXH3-64 with seed 0, a hash with a fixed, versioned
/// specification (persisted, so never a hash whose output may change with a crate update).
fn checksum(b: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(b)
}

#[derive(Serialize, Deserialize)]
struct EngineSnap {
    /// As JSON: rules are an internally tagged enum, which a binary format cannot decode.
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
    stats: EngineStats,
    finished: bool,
}
