//! The per-thread side: a [`PaneBatch`] is what one worker builds from one input batch.

use hitstream_format::Record;
use serde::{Deserialize, Serialize};

use crate::agg::Agg;

/// What a worker needs to build batch `seq`: its sequence number, the horizon it classifies
/// late lines against, and the pane geometry. Get it from [`crate::Engine::spec`] or from
/// [`crate::Output::next_spec`]; it is small and `Copy`, so send it to any thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchSpec {
    pub(crate) seq: u64,
    pub(crate) horizon: i64,
    /// Lines newer than this are suspects (see [`crate::EngineConfig::max_jump`]).
    pub(crate) hold_after: i64,
    pub(crate) slide: i64,
    pub(crate) offset: i64,
    pub(crate) sample_bytes: usize,
}

impl BatchSpec {
    /// The batch's sequence number: batches are applied in this order.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The oldest event time (UTC seconds) this batch accepts; older lines are late.
    pub fn horizon(&self) -> i64 {
        self.horizon
    }

    /// The newest event time (UTC seconds) this batch counts at once; newer lines are held
    /// as suspects for the engine to judge (`i64::MAX`: no bound).
    pub fn hold_after(&self) -> i64 {
        self.hold_after
    }

    /// Start of the pane holding event time `t`.
    #[inline]
    pub fn pane_start(&self, t: i64) -> i64 {
        align(t, self.slide, self.offset)
    }
}

/// Start of the slide-sized pane holding `t`.
#[inline]
pub(crate) fn align(t: i64, slide: i64, offset: i64) -> i64 {
    let x = i128::from(t) - i128::from(offset);
    let s = i128::from(slide);
    let a = x.div_euclid(s) * s + i128::from(offset);
    a.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Why a line is in the late output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LateReason {
    /// Its event time is older than the horizon: every window it belongs to is closed for
    /// good.
    TooLate,
    /// The record has no event time (formats without a time field), so no window can hold it.
    NoTime,
    /// Its event time is too far ahead: more than `max_future` past the wall clock (live
    /// sources), or more than `max_jump` past the stream's own clock without enough lines
    /// confirming the jump. One such line must not move the watermark: no window counts it.
    Future,
}

impl LateReason {
    /// Stable short code.
    pub fn code(self) -> &'static str {
        match self {
            LateReason::TooLate => "too_late",
            LateReason::NoTime => "no_time",
            LateReason::Future => "future",
        }
    }
}

/// A line that no window counts, kept for the late output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateLine {
    /// Sequence number of its batch.
    pub batch: u64,
    /// Position of the line among the records fed to its batch (0-based).
    pub index: u64,
    /// Event time (UTC seconds), when the record has one.
    pub event_time: Option<i64>,
    /// The batch's horizon: the oldest event time it accepted.
    pub horizon: i64,
    /// Why it is late.
    pub reason: LateReason,
    /// The raw line, as read (without its line ending).
    pub line: Vec<u8>,
}

/// What became of a record fed to a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Counted in a pane.
    Accepted,
    /// Too late: kept for the late output.
    Late,
    /// No event time: kept for the late output.
    NoTime,
    /// Ahead of the batch's [`BatchSpec::hold_after`]: held for the engine, which either
    /// counts it (the stream's clock caught up, or enough lines confirmed the jump) or puts
    /// it in the late output as [`LateReason::Future`].
    Held,
}

/// The partial aggregate of one input batch, built on a worker thread and handed to
/// [`crate::Engine::apply`]. Feed it usable records ([`hitstream_format::Outcome::is_usable`]);
/// rejected lines belong to the reject output, not here.
#[derive(Debug)]
pub struct PaneBatch {
    pub(crate) spec: BatchSpec,
    /// Panes by start, in order of first appearance.
    pub(crate) panes: Vec<(i64, Agg)>,
    /// Index of `panes` by start, for batches that jump between panes.
    index: hashbrown::HashMap<i64, usize, foldhash::fast::FixedState>,
    cur: usize,
    pub(crate) late: Vec<LateLine>,
    pub(crate) lines: u64,
    pub(crate) accepted: u64,
    /// Largest event time among the accepted records.
    pub(crate) max_time: Option<i64>,
    /// Suspects' panes (few: a batch rarely holds many), and the suspects themselves.
    pub(crate) held: Vec<(i64, Agg)>,
    pub(crate) held_lines: Vec<LateLine>,
}

impl PaneBatch {
    /// An empty batch for `spec`.
    pub fn new(spec: BatchSpec) -> PaneBatch {
        PaneBatch {
            spec,
            panes: Vec::new(),
            index: hashbrown::HashMap::default(),
            cur: 0,
            late: Vec::new(),
            lines: 0,
            accepted: 0,
            max_time: None,
            held: Vec::new(),
            held_lines: Vec::new(),
        }
    }

    /// The batch's spec.
    pub fn spec(&self) -> BatchSpec {
        self.spec
    }

    /// Its sequence number.
    pub fn seq(&self) -> u64 {
        self.spec.seq
    }

    /// Records fed so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Records counted in a pane.
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// Lines kept for the late output so far.
    pub fn late(&self) -> &[LateLine] {
        &self.late
    }

    /// Counts one parsed record (its raw line is `rec.line()`). No allocation unless the
    /// record brings a key (client, page, method) new to this batch's pane, or is late.
    #[inline]
    pub fn add(&mut self, rec: &Record<'_>) -> Disposition {
        let index = self.lines;
        self.lines += 1;
        let Some(t) = rec.time else {
            self.push_late(rec, index, None, LateReason::NoTime);
            return Disposition::NoTime;
        };
        let t = t.utc;
        if t < self.spec.horizon {
            self.push_late(rec, index, Some(t), LateReason::TooLate);
            return Disposition::Late;
        }
        if t > self.spec.hold_after {
            self.hold(rec, index, t);
            return Disposition::Held;
        }
        if self.max_time.is_none_or(|m| t > m) {
            self.max_time = Some(t);
        }
        let p = self.spec.pane_start(t);
        let i = match self.panes.get(self.cur) {
            Some((s, _)) if *s == p => self.cur,
            _ => match self.index.get(&p) {
                Some(&i) => i,
                None => {
                    self.panes.push((p, Agg::new()));
                    self.index.insert(p, self.panes.len() - 1);
                    self.panes.len() - 1
                }
            },
        };
        self.cur = i;
        self.panes[i].1.add(rec, self.spec.sample_bytes);
        self.accepted += 1;
        Disposition::Accepted
    }

    /// Lines held as suspects so far.
    pub fn held(&self) -> &[LateLine] {
        &self.held_lines
    }

    #[cold]
    fn hold(&mut self, rec: &Record<'_>, index: u64, t: i64) {
        let p = self.spec.pane_start(t);
        let i = match self.held.iter().position(|(s, _)| *s == p) {
            Some(i) => i,
            None => {
                self.held.push((p, Agg::new()));
                self.held.len() - 1
            }
        };
        self.held[i].1.add(rec, self.spec.sample_bytes);
        self.held_lines.push(LateLine {
            batch: self.spec.seq,
            index,
            event_time: Some(t),
            horizon: self.spec.horizon,
            reason: LateReason::Future,
            line: rec.line().to_vec(),
        });
    }

    #[cold]
    fn push_late(&mut self, rec: &Record<'_>, index: u64, t: Option<i64>, reason: LateReason) {
        self.late.push(LateLine {
            batch: self.spec.seq,
            index,
            event_time: t,
            horizon: self.spec.horizon,
            reason,
            line: rec.line().to_vec(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_floors() {
        assert_eq!(align(125, 60, 0), 120);
        assert_eq!(align(-1, 60, 0), -60);
        assert_eq!(align(125, 60, 30), 90);
        assert_eq!(align(i64::MAX, 60, 0) % 60, 0);
        assert_eq!(align(i64::MIN, 60, 0), i64::MIN);
    }
}
