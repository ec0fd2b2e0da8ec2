//! The engine: applies batches in order, keeps panes, moves the watermark, fires windows,
//! evaluates alert rules, expires state, and snapshots all of it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::agg::{Agg, AggSnap};
use crate::alert::{evaluate, Alert, Cooldowns, WindowCtx};
use crate::batch::{align, BatchSpec, LateLine, LateReason, PaneBatch};
use crate::config::{ConfigError, EngineConfig};
use crate::result::{Merged, WindowResult};

mod v2;

/// What one step of the engine produced, in a deterministic order: windows as they fired
/// (oldest start first), alerts in the order of their windows (then rule, then key), late
/// lines in input order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// Windows fired by this step: first emissions (`revision == 0`) and updates.
    pub windows: Vec<WindowResult>,
    /// Alerts raised on those windows.
    pub alerts: Vec<Alert>,
    /// Lines that no window counts: the applied batch's late lines in input order, then
    /// lines judged `future` by this step (held suspects, in the order they were read).
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
    /// Not a window-engine snapshot.
    #[error("not a hitstream window snapshot (header {0:02x?})")]
    Header(Vec<u8>),
    /// A window-engine snapshot of a format version this build cannot read (a newer one).
    #[error(
        "window snapshot of format version {0}; this hitstream reads versions 2 (migrated) \
         and {SNAPSHOT_VERSION}: go on with the hitstream that wrote it, or start from a new \
         checkpoint directory (with a lake, a new lake too: its tables know the epochs of \
         this checkpoint)"
    )]
    Version(u8),
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
pub const SNAPSHOT_VERSION: u8 = 3;
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
    /// Records too far ahead of the event clock (in the late output, reason `future`).
    pub future: u64,
    /// Suspects held now, neither counted nor judged yet (gauge).
    pub held: u64,
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

/// What the spec of a batch is derived from: the state after some earlier batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Bounds {
    watermark: Option<i64>,
    hold_after: i64,
}

const NO_BOUNDS: Bounds = Bounds {
    watermark: None,
    hold_after: i64::MAX,
};

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
    /// `recent[i]` is what the spec of batch `next_seq + i` is derived from: the state after
    /// batch `next_seq + i - in_flight` was applied.
    recent: VecDeque<Bounds>,
    /// The latest wall-clock reading ([`Engine::observe_clock`]); None: not a live run.
    wall: Option<i64>,
    /// Suspects (lines beyond a batch's `hold_after`), by pane, and their lines in the order
    /// they were read.
    held: BTreeMap<i64, Agg>,
    held_lines: Vec<LateLine>,
    /// Ordinary lines applied since the first of the held suspects.
    normal_since_hold: u64,
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
            recent: std::iter::repeat_n(NO_BOUNDS, cfg.in_flight as usize).collect(),
            wall: None,
            held: BTreeMap::new(),
            held_lines: Vec::new(),
            normal_since_hold: 0,
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
            held: self.held_lines.len() as u64,
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
        let b = *self.recent.get(i)?;
        Some(BatchSpec {
            seq,
            horizon: self.horizon_of(b.watermark),
            hold_after: b.hold_after,
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
            held,
            held_lines,
            ..
        } = batch;
        self.stats.batches += 1;
        self.stats.lines += lines;
        self.stats.accepted += accepted;
        for l in &late {
            match l.reason {
                LateReason::TooLate => self.stats.late += 1,
                LateReason::NoTime => self.stats.no_time += 1,
                LateReason::Future => self.stats.future += 1,
            }
        }
        if let Some(m) = max_time {
            self.max_seen = Some(self.max_seen.map_or(m, |x| x.max(m)));
        }
        panes.sort_unstable_by_key(|(p, _)| *p);
        for (p, agg) in panes {
            self.merge_pane(p, agg, true);
        }
        let mut out = Output {
            late,
            ..Output::default()
        };
        self.take_held(held, held_lines, lines);
        self.judge_held(false, &mut out.late);
        self.move_watermark();
        self.recent.pop_front();
        self.recent.push_back(self.bounds());
        self.next_seq += 1;

        self.fire(&mut out);
        self.expire();
        out.next_spec = self.spec(self.next_seq + self.recent.len() as u64 - 1);
        Ok(out)
    }

    fn move_watermark(&mut self) {
        if !self.finished {
            if let Some(m) = self.max_seen {
                let w = m.saturating_sub(self.lateness);
                self.watermark = Some(self.watermark.map_or(w, |x| x.max(w)));
            }
        }
    }

    /// Merges one pane's aggregate into the panes and marks its windows for firing.
    fn merge_pane(&mut self, p: i64, agg: Agg, fresh: bool) {
        self.first_pane = Some(self.first_pane.map_or(p, |f| f.min(p)));
        match self.panes.entry(p) {
            std::collections::btree_map::Entry::Occupied(mut o) => {
                o.get_mut()
                    .merge(agg, self.cfg.busy_sample_after, self.cfg.sample_bytes)
            }
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(if fresh {
                    agg.into_pane(self.cfg.busy_sample_after)
                } else {
                    agg
                });
            }
        }
        for j in 0..self.size / self.slide {
            self.pending.insert(p - j * self.slide);
        }
    }

    /// The stream's own clock: the largest event time counted, or the watermark plus the
    /// lateness once idle time moved it further.
    fn stream_clock(&self) -> Option<i64> {
        let idle = self.watermark.map(|w| w.saturating_add(self.lateness));
        match (self.max_seen, idle) {
            (Some(m), Some(i)) => Some(m.max(i)),
            (m, i) => m.or(i),
        }
    }

    /// Newest time the wall clock allows (`i64::MAX`: no bound).
    fn wall_bound(&self) -> i64 {
        match (self.wall, self.cfg.max_future) {
            (Some(w), f) if f > 0 => w.saturating_add_unsigned(f),
            _ => i64::MAX,
        }
    }

    /// Newest time the stream's own clock allows (`i64::MAX`: no bound).
    fn jump_bound(&self) -> i64 {
        match (self.stream_clock(), self.cfg.max_jump) {
            (Some(c), j) if j > 0 && c != i64::MAX => c.saturating_add_unsigned(j),
            _ => i64::MAX,
        }
    }

    /// What the next spec is derived from. Its batch is applied up to `in_flight` batches
    /// later, when the clock may have moved on: over a sparse log (a few lines a minute)
    /// that is more than `max_jump`, and most of its lines would be held only to be counted
    /// at once. So the batch's bound also allows the distance the clock moved over the last
    /// batches in flight (at most another `max_jump`); the engine judges the suspects
    /// against its own clock when it applies them.
    fn bounds(&self) -> Bounds {
        let jump = self.jump_bound();
        let moved = match (
            self.stream_clock(),
            self.recent.front().and_then(|b| b.watermark),
        ) {
            (Some(c), Some(w)) if jump != i64::MAX => c
                .saturating_sub(w.saturating_add(self.lateness))
                .clamp(0, i64::try_from(self.cfg.max_jump).unwrap_or(i64::MAX)),
            _ => 0,
        };
        Bounds {
            watermark: self.watermark,
            hold_after: if self.finished {
                i64::MAX
            } else {
                self.wall_bound().min(jump.saturating_add(moved))
            },
        }
    }

    /// Takes a batch's suspects into the engine's.
    fn take_held(&mut self, held: Vec<(i64, Agg)>, lines: Vec<LateLine>, batch_lines: u64) {
        let n = lines.len() as u64;
        if let Some(first) = lines.first() {
            if self.held_lines.is_empty() {
                // Ordinary lines after the first suspect of this batch.
                self.normal_since_hold = batch_lines.saturating_sub(first.index + n);
            } else {
                self.normal_since_hold += batch_lines.saturating_sub(n);
            }
        } else if !self.held_lines.is_empty() {
            self.normal_since_hold += batch_lines;
        }
        for (p, agg) in held {
            match self.held.entry(p) {
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    o.get_mut()
                        .merge(agg, self.cfg.busy_sample_after, self.cfg.sample_bytes)
                }
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(agg.into_pane(self.cfg.busy_sample_after));
                }
            }
        }
        self.held_lines.extend(lines);
    }

    /// Judges the held suspects: beyond the wall clock they are `future` for good; when
    /// enough of them agree the stream's clock jumps to them; when enough ordinary lines
    /// followed them they are `future`; whatever the (moved) clock now covers is counted.
    /// `end`: the input ended, the larger group wins.
    fn judge_held(&mut self, end: bool, late: &mut Vec<LateLine>) {
        if self.held_lines.is_empty() {
            return;
        }
        let wall = self.wall_bound();
        let beyond: Vec<i64> = self
            .held
            .range(wall.saturating_add(1)..)
            .map(|(p, _)| *p)
            .collect();
        for p in beyond {
            self.drop_held(p, late);
        }
        // Suspects the clock reaches by now (it moved since their batch was made) are
        // ordinary lines after all.
        let reached = self.release_held(i64::MIN, wall, late);
        if !self.held_lines.is_empty() {
            self.normal_since_hold += reached;
        }
        let held = self.held_lines.len() as u64;
        let normal = self.normal_since_hold;
        let k = self.cfg.jump_confirm;
        if held > 0 && (end || held >= k || normal >= k) {
            if held > normal {
                // Time really moved: to the suspects' median, so that a few wild ones among
                // them cannot take the clock along.
                let mut times: Vec<i64> = self
                    .held_lines
                    .iter()
                    .filter_map(|l| l.event_time)
                    .collect();
                times.sort_unstable();
                let median = times[times.len() / 2];
                let limit = if end || self.cfg.max_jump == 0 {
                    i64::MAX
                } else {
                    median.saturating_add_unsigned(self.cfg.max_jump)
                };
                self.release_held(limit, wall, late);
                self.normal_since_hold = 0;
            } else {
                let all: Vec<i64> = self.held.keys().copied().collect();
                for p in all {
                    self.drop_held(p, late);
                }
            }
        }
        if self.held_lines.is_empty() {
            self.normal_since_hold = 0;
        }
    }

    /// Counts the held panes up to `limit` or the clock's reach, whichever is further, and
    /// never past `wall`: oldest first, each one counted may move the clock. Returns the
    /// lines counted.
    fn release_held(&mut self, limit: i64, wall: i64, late: &mut Vec<LateLine>) -> u64 {
        let mut limit = limit.max(self.jump_bound());
        let mut counted = 0;
        while let Some((&p, _)) = self.held.first_key_value() {
            if p > limit.min(wall) {
                break;
            }
            let agg = self.held.remove(&p).expect("first key");
            let lines = self.take_held_lines(p);
            let horizon = self.horizon_of(self.watermark);
            if p < horizon {
                // Idle time moved the watermark past them meanwhile.
                for mut l in lines {
                    l.reason = LateReason::TooLate;
                    l.horizon = horizon;
                    self.stats.late += 1;
                    late.push(l);
                }
                continue;
            }
            counted += lines.len() as u64;
            self.stats.accepted += lines.len() as u64;
            if let Some(m) = lines.iter().filter_map(|l| l.event_time).max() {
                self.max_seen = Some(self.max_seen.map_or(m, |x| x.max(m)));
            }
            self.merge_pane(p, agg, false);
            limit = limit.max(self.jump_bound());
        }
        counted
    }

    /// The held lines of pane `p`, removed.
    fn take_held_lines(&mut self, p: i64) -> Vec<LateLine> {
        let (slide, offset) = (self.slide, self.cfg.align_offset);
        let in_pane = |l: &LateLine| l.event_time.is_some_and(|t| align(t, slide, offset) == p);
        let taken = self
            .held_lines
            .iter()
            .filter(|l| in_pane(l))
            .cloned()
            .collect();
        self.held_lines.retain(|l| !in_pane(l));
        taken
    }

    /// Gives up the suspects of pane `p`: they go to the late output as `future`.
    fn drop_held(&mut self, p: i64, late: &mut Vec<LateLine>) {
        self.held.remove(&p);
        for l in self.take_held_lines(p) {
            self.stats.future += 1;
            late.push(l);
        }
    }

    /// Feeds the wall clock (UTC seconds) to the engine, for the `max_future` bound. Like an
    /// idle advance it is an input: for exactly-once replay, log it and repeat it at the same
    /// place. It bounds the batches whose specs become available from now on; the first
    /// reading bounds the specs available already too, so give it before handing any out.
    pub fn observe_clock(&mut self, now: i64) {
        let first = self.wall.is_none();
        self.wall = Some(self.wall.map_or(now, |w| w.max(now)));
        if first && !self.finished {
            let wall = self.wall_bound();
            for b in self.recent.iter_mut() {
                b.hold_after = b.hold_after.min(wall);
            }
        }
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
        // The suspects are judged first: the larger group wins.
        self.judge_held(true, &mut out.late);
        self.finished = true;
        // The windows closed by the end of input carry the last watermark the stream
        // reached: `i64::MAX` only closes them, it is no time a reader could show.
        let reached = self.watermark;
        self.watermark = Some(i64::MAX);
        self.fire_as(&mut out, reached);
        self.panes.clear();
        self.emitted.clear();
        self.pending.clear();
        self.history.clear();
        self.cooldowns.clear();
        for b in self.recent.iter_mut() {
            *b = Bounds {
                watermark: Some(i64::MAX),
                hold_after: i64::MAX,
            };
        }
        out
    }

    /// Emits the pending windows the watermark has passed, oldest first.
    fn fire(&mut self, out: &mut Output) {
        self.fire_as(out, self.watermark);
    }

    /// [`Engine::fire`], with `shown` as the watermark the windows record.
    fn fire_as(&mut self, out: &mut Output, shown: Option<i64>) {
        let Some(w) = self.watermark else {
            return;
        };
        let shown = shown.unwrap_or(w);
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
            out.windows.push(merged.result(
                s,
                end,
                revision,
                shown,
                self.cfg.top_n,
                self.stats.late,
            ));
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
        let h = self.horizon_of(self.recent[0].watermark);
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
            wall: self.wall,
            held: self.held.iter().map(|(p, a)| (*p, a.to_snap())).collect(),
            held_lines: self.held_lines.clone(),
            normal_since_hold: self.normal_since_hold,
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
    ///
    /// Snapshots of format version 2 (hitstream before the event-clock bounds) are migrated:
    /// the state is the one version 3 would have after the same lines, unique-client
    /// registers included (see the `v2` module), with the event-clock bounds as a fresh
    /// engine has them.
    pub fn restore(bytes: &[u8]) -> Result<Engine, SnapshotError> {
        let header = &bytes[..bytes.len().min(16)];
        if bytes.len() < 16 || &bytes[..7] != MAGIC {
            return Err(SnapshotError::Header(header.to_vec()));
        }
        let sum = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
        let payload = &bytes[16..];
        let s: EngineSnap = match bytes[7] {
            SNAPSHOT_VERSION => {
                if checksum(payload) != sum {
                    return Err(SnapshotError::Checksum);
                }
                postcard::from_bytes(payload)?
            }
            v2::VERSION => v2::decode(payload, sum)?,
            v => return Err(SnapshotError::Version(v)),
        };
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
        e.wall = s.wall;
        for (p, a) in s.held {
            if !aligned(p) {
                return Err(SnapshotError::Invalid(
                    "held pane start not aligned to the slide",
                ));
            }
            let agg = Agg::from_snap(a).ok_or(SnapshotError::Invalid("held pane aggregate"))?;
            e.held.insert(p, agg);
        }
        if !s.held_lines.iter().all(|l| {
            l.event_time
                .is_some_and(|t| e.held.contains_key(&align(t, e.slide, e.cfg.align_offset)))
        }) {
            return Err(SnapshotError::Invalid("held line without its pane"));
        }
        e.held_lines = s.held_lines;
        e.normal_since_hold = s.normal_since_hold;
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
    recent: Vec<Bounds>,
    panes: Vec<(i64, AggSnap)>,
    emitted: Vec<(i64, u32)>,
    pending: Vec<i64>,
    history: Vec<(i64, u64)>,
    first_pane: Option<i64>,
    cooldowns: Vec<(String, Vec<u8>, i64)>,
    stats: EngineStats,
    finished: bool,
    wall: Option<i64>,
    held: Vec<(i64, AggSnap)>,
    held_lines: Vec<LateLine>,
    normal_since_hold: u64,
}
