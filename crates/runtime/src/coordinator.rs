//! The coordinator: owns the engine, positions, counters and sinks; hands parse jobs to the
//! pool and applies them in sequence order; closes epochs; recovers.
//!
//! Threads: one per source (each polls its source and hands batches over a bounded
//! channel), a pool of parser threads, and this coordinator. A source batch is cut into jobs
//! of [`JOB_LINES`] lines; each job gets the next batch spec from the engine, a parser thread
//! turns it into a `PaneBatch`, and the coordinator applies them in sequence order (at most
//! `in_flight` jobs between creation and application, which keeps results independent of
//! thread timing). Source positions are applied once every job of their batch has been
//! applied, and epochs close when no job is in flight, so a checkpoint's positions and engine
//! state always describe the same lines.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use hitstream_format::Parser;
use hitstream_source::{Batch, Checkpoint, Fingerprint, Poll, SourceError};
use hitstream_window::{Engine, Output as EngineOutput};

use crate::checkpoint;
use crate::epoch::{EpochLog, EpochRecord};
use crate::error::RuntimeError;
use crate::parse::{
    make_parser, needs_detection, parse_job, Encoders, Job, JobDone, DETECT_LINES, DETECT_WAIT,
    JOB_LINES,
};
use crate::pipeline::{Event, PipelineSpec, Shared};
use crate::sink::{EpochSink, Output, Reject, Scheduled};
use crate::source::{Lag, RunSource, SourceSpec};
use crate::stats::{Counters, Phase, SourceStatus, Status};

pub(crate) struct Parts {
    pub spec: PipelineSpec,
    pub sources: Vec<SourceSpec>,
    pub outputs: Vec<Box<dyn Output>>,
    pub sinks: Vec<Box<dyn EpochSink>>,
    pub scheduled: Vec<Box<dyn Scheduled>>,
    pub shared: Arc<Shared>,
    pub stop: Arc<AtomicBool>,
}

pub(crate) enum SourceMsg {
    Batch(usize, Batch, Option<serde_json::Value>),
    End(usize),
    Problem(usize, SourceError),
    Forget(Vec<Fingerprint>),
    /// A source waits until what it handed over is stored (see [`crate::Barrier`]).
    Barrier(Sender<bool>),
}

/// The state the coordinator updates.
struct Core {
    spec: PipelineSpec,
    engine: Engine,
    positions: Checkpoint,
    /// The positions of the last checkpoint: where the epoch under way began.
    durable_positions: Checkpoint,
    counters: Counters,
    outputs: Vec<Box<dyn Output>>,
    sinks: Vec<Box<dyn EpochSink>>,
    encoders: Encoders,
    shared: Arc<Shared>,
    /// The last durable epoch.
    epoch: u64,
    /// The last epoch each sink was asked to commit, to check that epochs increase.
    committed: Vec<u64>,
    record: EpochRecord,
    log: Option<EpochLog>,
    dir: Option<PathBuf>,
    /// Sources' control channels: told about each durable checkpoint.
    controls: Vec<Sender<Arc<Checkpoint>>>,
    /// Each source's lag, written by its thread after every poll.
    lags: Vec<Arc<Mutex<Lag>>>,
    checkpoints: u64,
    last_checkpoint: Option<i64>,
    /// Epoch commits to the sinks by this process, and their total and last duration.
    commits: u64,
    commit_seconds: f64,
    last_commit_seconds: Option<f64>,
    jobs: u64,
    /// A source is live: the wall clock bounds event times (`max_future`).
    live: bool,
    /// The watermark just before the end of input closed every window.
    last_watermark: Option<i64>,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Hands one result to every output and epoch sink, naming the one that fails.
macro_rules! fan_out {
    ($core:ident, $method:ident, $arg:expr) => {{
        for o in &mut $core.outputs {
            o.$method($arg)
                .map_err(|e| RuntimeError::sink(o.name(), e))?;
        }
        for s in &mut $core.sinks {
            s.$method($arg)
                .map_err(|e| RuntimeError::sink(s.name(), e))?;
        }
    }};
}

impl Core {
    fn note(&self, msg: String) {
        self.shared.publish(Event::Note(msg.into()));
    }

    fn emit(&mut self, out: EngineOutput) -> Result<(), RuntimeError> {
        for w in out.windows {
            self.counters.windows += 1;
            fan_out!(self, window, &w);
            self.shared.publish(Event::Window(Arc::new(w)));
        }
        for a in out.alerts {
            self.counters.alerts += 1;
            fan_out!(self, alert, &a);
            self.shared.publish(Event::Alert(Arc::new(a)));
        }
        for l in &out.late {
            if l.reason == hitstream_window::LateReason::Future {
                self.counters.future += 1;
            } else {
                self.counters.late += 1;
            }
            for o in &mut self.outputs {
                o.late(l).map_err(|e| RuntimeError::sink(o.name(), e))?;
            }
        }
        Ok(())
    }

    /// Hands a parsed job's rows and rejects to the sinks and applies its panes.
    fn apply_done(&mut self, d: JobDone) -> Result<(), RuntimeError> {
        let c = &mut self.counters;
        c.ok += d.ok;
        c.degraded += d.degraded;
        c.rejected += d.rejects.len() as u64;
        c.lines += d.ok + d.degraded + d.rejects.len() as u64;
        for (o, n) in hitstream_format::Oddity::ALL.iter().zip(d.oddities) {
            if n > 0 {
                *c.oddities.entry(o.name().to_string()).or_default() += n;
            }
        }
        for r in &d.rejects {
            *c.reject_reasons.entry(r.code.to_string()).or_default() += 1;
        }
        self.jobs += 1;
        for r in &d.rejects {
            let rej = Reject {
                source: &d.source,
                offset: Some(r.offset),
                code: r.code,
                explanation: &r.explanation,
                line: &r.line,
                from: r.from.as_ref().map(|f| f.as_source()),
            };
            fan_out!(self, reject, &rej);
        }
        for (s, rows) in self.sinks.iter_mut().zip(d.rows) {
            if let Some(rows) = rows {
                s.rows(rows).map_err(|e| RuntimeError::sink(s.name(), e))?;
            }
        }
        let out = self
            .engine
            .apply(d.panes)
            .map_err(|e| RuntimeError::Engine(e.to_string()))?;
        self.emit(out)
    }

    /// Feeds the wall clock to the engine, and records it for a replay of the epoch.
    fn observe_clock(&mut self) {
        let now = unix_now();
        if self.log.is_some() {
            self.record.clocks.push((self.engine.next_seq(), now));
        }
        self.engine.observe_clock(now);
    }

    fn buffered_rows(&self) -> usize {
        self.sinks
            .iter()
            .map(|s| s.buffered_rows())
            .max()
            .unwrap_or(0)
    }

    fn flush_outputs(&mut self) -> Result<(), RuntimeError> {
        for o in &mut self.outputs {
            o.flush().map_err(|e| RuntimeError::sink(o.name(), e))?;
        }
        Ok(())
    }

    fn save(&mut self, epoch: u64) -> Result<(), RuntimeError> {
        let dir = self.dir.clone().expect("checked by the caller");
        checkpoint::save(&dir, &self.positions, &self.counters, &self.engine, epoch)?;
        self.checkpoints += 1;
        self.last_checkpoint = Some(unix_now());
        self.durable_positions = self.positions.clone();
        let durable = Arc::new(self.positions.clone());
        for c in &self.controls {
            let _ = c.send(durable.clone());
        }
        Ok(())
    }

    /// Closes the epoch under way: write-ahead record, commit of every epoch sink,
    /// checkpoint.
    fn close_epoch(&mut self) -> Result<(), RuntimeError> {
        if self.dir.is_none() {
            return self.flush_outputs();
        }
        self.flush_outputs()?;
        if !self.record.has_work() {
            // The engine state saved holds the clock readings.
            self.record.clocks.clear();
            return self.save(self.epoch);
        }
        let n = self.epoch + 1;
        if let Some(log) = &self.log {
            self.record.epoch = n;
            self.record.positions = self.positions.clone();
            log.write(&self.record)?;
        }
        for (i, s) in self.sinks.iter_mut().enumerate() {
            // Epochs handed to a sink strictly increase (RisingWave's sink writer asserts
            // the same): anything else would be a bug here, not bad input.
            assert!(
                n > self.committed[i],
                "epoch {n} after {}",
                self.committed[i]
            );
            s.positions(&self.durable_positions, &self.positions)
                .map_err(|e| RuntimeError::sink(s.name(), e))?;
            s.pre_commit(n)
                .map_err(|e| RuntimeError::sink(s.name(), e))?;
        }
        let started = std::time::Instant::now();
        for (i, s) in self.sinks.iter_mut().enumerate() {
            s.commit(n).map_err(|e| RuntimeError::sink(s.name(), e))?;
            self.committed[i] = n;
        }
        let took = started.elapsed().as_secs_f64();
        self.commits += 1;
        self.commit_seconds += took;
        self.last_commit_seconds = Some(took);
        self.save(n)?;
        self.epoch = n;
        self.record = EpochRecord::default();
        if let Some(log) = &self.log {
            log.remove(n)?;
        }
        self.shared.publish(Event::Checkpoint { epoch: n });
        for s in &mut self.sinks {
            let notes = s.upkeep().map_err(|e| RuntimeError::sink(s.name(), e))?;
            for m in notes {
                self.shared.publish(Event::Note(m.into()));
            }
        }
        Ok(())
    }

    fn status(&self, sources: &[SourceStatus], rate: f64, phase: Phase) -> Status {
        Status {
            phase,
            counters: self.counters.clone(),
            lines_per_sec: rate,
            // `finish` moves the engine's watermark to i64::MAX, the end of time: never shown.
            watermark: self
                .engine
                .watermark()
                .filter(|w| *w != i64::MAX)
                .or(self.last_watermark),
            input_ended: self.engine.is_finished(),
            epoch: self.epoch,
            checkpoints: self.checkpoints,
            last_checkpoint: self.last_checkpoint,
            commits: self.commits,
            commit_seconds: self.commit_seconds,
            last_commit_seconds: self.last_commit_seconds,
            buffered_rows: self.buffered_rows(),
            checkpoint_files: self.positions.len(),
            jobs: self.jobs,
            sources: sources.to_vec(),
        }
    }

    fn publish_status(&self, sources: &[SourceStatus], rate: f64, phase: Phase) {
        let st = self.status(sources, rate, phase);
        *self.shared.status.lock().expect("status lock") = st;
    }

    fn parser_for(
        &self,
        parser: &mut Option<Arc<Parser>>,
        sample: &[&[u8]],
    ) -> Result<Arc<Parser>, RuntimeError> {
        if let Some(p) = parser {
            return Ok(p.clone());
        }
        let (made, note) = make_parser(&self.spec.format, sample)?;
        if let Some(n) = note {
            self.note(n);
        }
        Ok(parser.insert(Arc::new(made)).clone())
    }

    /// Repeats a recorded epoch: reads each recorded batch again by its extent, in the
    /// recorded order, with the recorded idle advances, so that the engine emits what it
    /// emitted before the crash. Batches that cannot be read again are reported and
    /// counted as lost.
    fn replay(
        &mut self,
        rec: &EpochRecord,
        sources: &mut [Box<dyn RunSource>],
        parser: &mut Option<Arc<Parser>>,
    ) -> Result<(), RuntimeError> {
        // Idle advances and clock readings, in order (the two commute at one place).
        let mut inputs: Vec<(u64, ReplayInput)> = rec
            .idles
            .iter()
            .map(|&(seq, secs)| (seq, ReplayInput::Idle(secs)))
            .chain(
                rec.clocks
                    .iter()
                    .map(|&(seq, now)| (seq, ReplayInput::Clock(now))),
            )
            .collect();
        inputs.sort_by_key(|(seq, _)| *seq);
        let mut idles = inputs.into_iter().peekable();
        let mut lost: BTreeMap<String, (u64, String)> = BTreeMap::new();
        let mut handed_off = 0u64;
        for b in &rec.batches {
            while let Some(&(seq, input)) = idles.peek() {
                if seq > self.engine.next_seq() {
                    break;
                }
                idles.next();
                self.replay_input(input)?;
            }
            let Some(source) = sources.get_mut(b.source) else {
                return Err(RuntimeError::Recovery(format!(
                    "cannot repeat epoch {}: it read from source {} and this run has {} \
                     sources; run with the same sources as before",
                    rec.epoch,
                    b.source + 1,
                    sources.len()
                )));
            };
            let reread = match (&b.extent, source.replayable()) {
                (Some(ext), true) => source.reread_owned(ext).map_err(|e| e.to_string()),
                _ => Err(format!(
                    "{} cannot be read again (stdin, or TCP or syslog without --spool)",
                    source.name()
                )),
            };
            let batch = match reread {
                Ok((batch, left_out)) if batch.len() as u64 + left_out == b.lines => {
                    handed_off += left_out;
                    batch
                }
                Ok((batch, _)) => {
                    let why = format!(
                        "{} now gives {} lines where it gave {}",
                        b.origin,
                        batch.len(),
                        b.lines
                    );
                    let e = lost.entry(b.origin.clone()).or_default();
                    e.0 += b.lines;
                    e.1 = why;
                    continue;
                }
                Err(why) => {
                    let e = lost.entry(b.origin.clone()).or_default();
                    e.0 += b.lines;
                    e.1 = why;
                    continue;
                }
            };
            let batch = Arc::new(batch);
            let sample: Vec<&[u8]> = batch.lines().take(DETECT_LINES).collect();
            let p = self.parser_for(parser, &sample)?;
            let origin: Arc<str> = b.origin.as_str().into();
            let mut from = 0;
            while from < batch.len() {
                while let Some(&(seq, input)) = idles.peek() {
                    if seq > self.engine.next_seq() {
                        break;
                    }
                    idles.next();
                    self.replay_input(input)?;
                }
                let to = (from + JOB_LINES).min(batch.len());
                let spec = self
                    .engine
                    .spec(self.engine.next_seq())
                    .expect("the next spec");
                let done = parse_job(
                    &p,
                    &Job {
                        spec,
                        batch: batch.clone(),
                        from,
                        to,
                        encoders: self.encoders.clone(),
                        origin: Some(origin.clone()),
                    },
                );
                self.apply_done(done)?;
                from = to;
            }
        }
        for (_, input) in idles {
            self.replay_input(input)?;
        }
        if rec.finished {
            self.last_watermark = self.engine.watermark();
            let out = self.engine.finish();
            self.emit(out)?;
        }
        if handed_off > 0 {
            self.note(format!(
                "epoch {}: {handed_off} lines were stored by another process of the group \
                 meanwhile (their partitions moved to it) and are left out of the repeat",
                rec.epoch
            ));
        }
        for (origin, (lines, why)) in lost {
            self.counters.lost += lines;
            self.note(format!(
                "warning: epoch {}: {lines} lines of {origin} cannot be read again ({why}); \
                 sinks that had not stored them miss them",
                rec.epoch
            ));
        }
        Ok(())
    }
}

/// An input of a recorded epoch besides its batches.
#[derive(Debug, Clone, Copy)]
enum ReplayInput {
    Idle(u64),
    Clock(i64),
}

impl Core {
    fn replay_input(&mut self, input: ReplayInput) -> Result<(), RuntimeError> {
        match input {
            ReplayInput::Idle(secs) => {
                let out = self.engine.advance_idle(secs);
                self.emit(out)
            }
            ReplayInput::Clock(now) => {
                self.engine.observe_clock(now);
                Ok(())
            }
        }
    }
}

fn spawn_source(
    idx: usize,
    mut src: Box<dyn RunSource>,
    tx: Sender<SourceMsg>,
    control: Receiver<Arc<Checkpoint>>,
    stop: Arc<AtomicBool>,
    lag: Arc<Mutex<Lag>>,
) -> std::thread::JoinHandle<Box<dyn RunSource>> {
    src.set_barrier(crate::source::Barrier { tx: tx.clone() });
    std::thread::spawn(move || {
        let mut run = || {
            while !stop.load(Ordering::Relaxed) {
                while let Ok(durable) = control.try_recv() {
                    let forget = src.checkpointed(&durable);
                    if !forget.is_empty() && tx.send(SourceMsg::Forget(forget)).is_err() {
                        return;
                    }
                }
                let p = src.poll(Duration::from_millis(100));
                *lag.lock().unwrap_or_else(|e| e.into_inner()) = src.lag();
                for problem in src.take_problems() {
                    if tx.send(SourceMsg::Problem(idx, problem)).is_err() {
                        return;
                    }
                }
                match p {
                    Poll::Batch(b) => {
                        let extent = if b.is_empty() { None } else { src.extent(&b) };
                        if tx.send(SourceMsg::Batch(idx, b, extent)).is_err() {
                            return;
                        }
                    }
                    Poll::Idle => {}
                    Poll::End => {
                        let _ = tx.send(SourceMsg::End(idx));
                        return;
                    }
                }
            }
        };
        run();
        src
    })
}

/// Source batches being parsed: positions are applied when all their jobs are.
struct Pending {
    batch: Arc<Batch>,
    last_seq: u64,
}

pub(crate) fn run(parts: Parts) -> Result<Status, RuntimeError> {
    let shared = parts.shared.clone();
    let result = run_inner(parts);
    {
        let mut st = shared.status.lock().expect("status lock");
        st.phase = Phase::Ended;
    }
    if let Err(e) = &result {
        shared.publish(Event::Note(format!("error: {e}").into()));
    }
    shared.publish(Event::End);
    shared.subscribers.lock().expect("subscribers lock").clear();
    result
}

fn run_inner(parts: Parts) -> Result<Status, RuntimeError> {
    let Parts {
        spec,
        sources: source_specs,
        outputs,
        mut sinks,
        mut scheduled,
        shared,
        stop,
    } = parts;
    let mut engine = Engine::new(spec.engine.clone())
        .map_err(|e| RuntimeError::Config(format!("window settings: {e}")))?;
    let mut positions = Checkpoint::new();
    let mut counters = Counters::default();
    let mut epoch = 0;
    // Held until the run ends; the OS releases it if the process dies.
    let _lock = match &spec.checkpoint_dir {
        Some(dir) => Some(lock_dir(dir)?),
        None => None,
    };
    if let Some(dir) = &spec.checkpoint_dir {
        std::fs::create_dir_all(dir).map_err(|source| RuntimeError::State {
            what: "checkpoint directory",
            path: dir.clone(),
            source,
        })?;
        if let Some(saved) = checkpoint::load(dir)? {
            if saved.engine.config() != &spec.engine {
                return Err(RuntimeError::Recovery(format!(
                    "checkpoint in `{}` was made with other window or alert settings; use \
                     another --checkpoint-dir or remove it",
                    dir.display()
                )));
            }
            shared.publish(Event::Note(
                format!(
                    "resuming from checkpoint in {} ({} lines so far)",
                    dir.display(),
                    saved.counters.lines
                )
                .into(),
            ));
            positions = saved.positions;
            counters = saved.counters;
            engine = saved.engine;
            epoch = saved.epoch;
        }
    }
    let log = if sinks.is_empty() {
        None
    } else {
        spec.checkpoint_dir.as_deref().map(EpochLog::new)
    };
    // An epoch the last run recorded but may not have committed everywhere; sinks that
    // hold epochs the checkpoint does not know belong to another run.
    let unfinished = match &log {
        Some(l) => l.unfinished(epoch)?,
        None => None,
    };
    let allowed = epoch + u64::from(unfinished.is_some());
    let mut committed = Vec::new();
    // Whether every epoch sink holds the unfinished epoch already: its lines are then this
    // process's own, whatever other processes stored since.
    let mut held_by_all = !sinks.is_empty();
    for s in &mut sinks {
        let held = s
            .committed_epoch()
            .map_err(|e| RuntimeError::sink(s.name(), e))?;
        if let Some(h) = held.filter(|h| *h > allowed) {
            return Err(RuntimeError::Recovery(format!(
                "{} holds epoch {h} of hitstream run, but the checkpoint in `{}` is at epoch \
                 {epoch}: another run writes to it, or this is not its checkpoint directory",
                s.name(),
                spec.checkpoint_dir
                    .as_deref()
                    .map_or(String::new(), |d| d.display().to_string()),
            )));
        }
        held_by_all &= held.is_some_and(|h| h >= allowed);
        // The repeated epoch may be held already: the sink skips it, so it counts as below.
        committed.push(held.unwrap_or(0).min(epoch));
    }
    let encoders: Encoders = sinks.iter().map(|s| s.encoder()).collect();

    // Sources start where the last durable state ends: after the unfinished epoch when
    // there is one (its lines are read again by extent, not by position).
    let open_at = unfinished
        .as_ref()
        .map_or(&positions, |r| &r.positions)
        .clone();
    let live = source_specs.iter().any(SourceSpec::is_live);
    let mut sources = Vec::new();
    let mut statuses = Vec::new();
    for s in source_specs {
        let src = s.open(&open_at, spec.forget_files_after)?;
        statuses.push(SourceStatus {
            name: src.name().to_string(),
            replayable: src.replayable(),
            ended: false,
            lag: src.lag(),
            net: None,
            probe: src.net_probe(),
        });
        sources.push(src);
    }

    let mut core = Core {
        engine,
        durable_positions: positions.clone(),
        positions,
        counters,
        outputs,
        sinks,
        encoders,
        shared: shared.clone(),
        epoch,
        committed,
        record: EpochRecord::default(),
        log,
        dir: spec.checkpoint_dir.clone(),
        controls: Vec::new(),
        lags: Vec::new(),
        checkpoints: 0,
        last_checkpoint: None,
        commits: 0,
        commit_seconds: 0.0,
        last_commit_seconds: None,
        jobs: 0,
        live,
        last_watermark: None,
        spec,
    };
    core.publish_status(&statuses, 0.0, Phase::Starting);
    let mut parser: Option<Arc<Parser>> = None;
    if let Some(rec) = unfinished {
        core.note(format!(
            "repeating epoch {} (stopped before all of it was stored)",
            rec.epoch
        ));
        for s in &mut sources {
            s.before_replay(held_by_all);
        }
        core.replay(&rec, &mut sources, &mut parser)?;
        core.positions = rec.positions.clone();
        for s in &sources {
            s.correct_positions(&mut core.positions);
        }
        core.record = rec;
        core.close_epoch()?;
    }

    let source_count = sources.len();
    let (src_tx, src_rx) = crossbeam_channel::bounded::<SourceMsg>(4);
    let mut src_threads = Vec::new();
    for (i, s) in sources.into_iter().enumerate() {
        let (ctl_tx, ctl_rx) = crossbeam_channel::unbounded();
        core.controls.push(ctl_tx);
        let lag = Arc::new(Mutex::new(s.lag()));
        core.lags.push(lag.clone());
        src_threads.push(spawn_source(
            i,
            s,
            src_tx.clone(),
            ctl_rx,
            stop.clone(),
            lag,
        ));
    }
    drop(src_tx);
    core.note(format!(
        "hitstream run: {}",
        statuses
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(" + ")
    ));

    let result = coordinate(
        &mut core,
        &src_rx,
        source_count,
        &stop,
        parser,
        &mut statuses,
        &mut scheduled,
    );
    stop.store(true, Ordering::SeqCst);
    core.controls.clear();
    drop(src_rx);
    // Sources close only now, after the last epoch's commit: a consumer group's member
    // leaving the group hands its partitions on, and their next owner starts where the
    // stored rows end.
    for t in src_threads {
        if let Ok(mut src) = t.join() {
            src.close();
        }
    }
    result?;
    core.publish_status(&statuses, 0.0, Phase::Ended);
    Ok(core.status(&statuses, 0.0, Phase::Ended))
}

/// Locks a checkpoint directory for this process: two processes on one directory would
/// overwrite each other's epochs (members of a consumer group sharing a lake each need
/// their own). The OS releases the lock when the process ends, however it ends.
fn lock_dir(dir: &std::path::Path) -> Result<std::fs::File, RuntimeError> {
    std::fs::create_dir_all(dir).map_err(|source| RuntimeError::State {
        what: "checkpoint directory",
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join("lock");
    let lock = std::fs::File::create(&path).map_err(|source| RuntimeError::State {
        what: "checkpoint lock",
        path: path.clone(),
        source,
    })?;
    if lock.try_lock().is_err() {
        return Err(RuntimeError::Recovery(format!(
            "the checkpoint directory `{}` is in use by another hitstream process; give each \
             process its own --checkpoint-dir",
            dir.display()
        )));
    }
    Ok(lock)
}

fn coordinate(
    core: &mut Core,
    src_rx: &Receiver<SourceMsg>,
    source_count: usize,
    stop: &AtomicBool,
    mut parser: Option<Arc<Parser>>,
    statuses: &mut [SourceStatus],
    scheduled: &mut [Box<dyn Scheduled>],
) -> Result<(), RuntimeError> {
    let threads = core.spec.threads;
    let (job_tx, job_rx) = crossbeam_channel::unbounded::<(Arc<Parser>, Job)>();
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<JobDone>();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let job_rx = job_rx.clone();
            let done_tx = done_tx.clone();
            std::thread::spawn(move || {
                for (p, job) in job_rx.iter() {
                    if done_tx.send(parse_job(&p, &job)).is_err() {
                        return;
                    }
                }
            })
        })
        .collect();
    drop(done_tx);

    let in_flight = core.engine.config().in_flight.max(1) as u64;
    let mut queue: VecDeque<(Arc<Batch>, usize)> = VecDeque::new(); // batch, next line
    let mut pending: VecDeque<Pending> = VecDeque::new();
    let mut finished: BTreeMap<u64, JobDone> = BTreeMap::new();
    let mut next_create = core.engine.next_seq();
    let mut ended = 0usize;
    let mut last_input = Instant::now();
    let mut last_idle_advance = Instant::now();
    let mut last_checkpoint = Instant::now();
    let max_rows = core.spec.max_buffered_rows;
    let interval = core.spec.checkpoint_interval;
    let has_dir = core.dir.is_some();
    // Time to close an epoch: the checkpoint interval passed, or many rows wait for a commit.
    let epoch_due = |last: Instant, core: &Core| {
        has_dir && (last.elapsed() >= interval || core.buffered_rows() >= max_rows)
    };
    let mut last_stats = Instant::now();
    let mut rate_lines = core.counters.lines;
    let idle = core.spec.idle_timeout;
    let detect = needs_detection(&core.spec.format);
    let mut first_input: Option<Instant> = None;
    // Sources waiting for what they handed over to be stored (a partition about to go).
    let mut barriers: Vec<Sender<bool>> = Vec::new();
    // The first reading comes before any batch spec is handed out: it bounds them all.
    let mut last_clock = Instant::now();
    if core.live {
        core.observe_clock();
    }
    core.publish_status(statuses, 0.0, Phase::Running);
    let result = (|| -> Result<(), RuntimeError> {
        loop {
            if core.live && last_clock.elapsed() >= Duration::from_secs(1) {
                core.observe_clock();
                last_clock = Instant::now();
            }
            // 1. Hand out jobs while the engine can give specs.
            while next_create < core.engine.next_seq() + in_flight {
                if queue.is_empty() {
                    break;
                }
                if parser.is_none() {
                    // Detection wants a fair sample: wait (briefly) for a few lines.
                    let queued: usize = queue.iter().map(|(b, _)| b.len()).sum();
                    let waited = first_input.is_some_and(|t| t.elapsed() >= DETECT_WAIT);
                    if detect
                        && queued < DETECT_LINES
                        && !waited
                        && ended < source_count
                        && !stop.load(Ordering::SeqCst)
                    {
                        break;
                    }
                }
                let sample: Vec<&[u8]> = if parser.is_none() {
                    queue
                        .iter()
                        .flat_map(|(b, _)| b.lines())
                        .take(DETECT_LINES)
                        .collect()
                } else {
                    Vec::new()
                };
                let p = core.parser_for(&mut parser, &sample)?;
                let Some((batch, from)) = queue.front_mut() else {
                    break;
                };
                let to = (*from + JOB_LINES).min(batch.len());
                let spec = core
                    .engine
                    .spec(next_create)
                    .expect("spec within in_flight");
                job_tx
                    .send((
                        p,
                        Job {
                            spec,
                            batch: batch.clone(),
                            from: *from,
                            to,
                            encoders: core.encoders.clone(),
                            origin: None,
                        },
                    ))
                    .expect("workers alive");
                *from = to;
                next_create += 1;
                if to >= batch.len() {
                    let b = queue.pop_front().expect("front").0;
                    pending.push_back(Pending {
                        batch: b,
                        last_seq: next_create - 1,
                    });
                }
            }

            // 2. Apply finished jobs in order.
            while let Ok(d) = done_rx.try_recv() {
                finished.insert(d.seq, d);
            }
            let mut applied_any = false;
            while let Some(d) = finished.remove(&core.engine.next_seq()) {
                core.apply_done(d)?;
                applied_any = true;
                // Positions of source batches whose every job is applied.
                while pending
                    .front()
                    .is_some_and(|p| p.last_seq < core.engine.next_seq())
                {
                    let p = pending.pop_front().expect("front");
                    core.positions.apply(&p.batch);
                }
            }

            let idle_pipeline = queue.is_empty() && next_create == core.engine.next_seq();
            if idle_pipeline {
                // Batches with positions but no lines (rotations) are settled here.
                while let Some(p) = pending.pop_front() {
                    core.positions.apply(&p.batch);
                }
                if epoch_due(last_checkpoint, core) || !barriers.is_empty() {
                    core.close_epoch()?;
                    last_checkpoint = Instant::now();
                    for b in barriers.drain(..) {
                        let _ = b.send(true);
                    }
                }
                if ended == source_count {
                    core.last_watermark = core.engine.watermark();
                    let out = core.engine.finish();
                    core.record.finished = true;
                    core.emit(out)?;
                    core.close_epoch()?;
                    return Ok(());
                }
                if stop.load(Ordering::SeqCst) {
                    core.publish_status(statuses, 0.0, Phase::Stopping);
                    core.close_epoch()?;
                    return Ok(());
                }
                for s in scheduled.iter_mut() {
                    if s.due() {
                        core.close_epoch()?;
                        last_checkpoint = Instant::now();
                        let shared = core.shared.clone();
                        let name = s.name().to_string();
                        s.run(&mut |m| shared.publish(Event::Note(m.into())))
                            .map_err(|e| RuntimeError::sink(&name, e))?;
                    }
                }
            }

            if last_stats.elapsed() >= Duration::from_millis(250) {
                for (st, lag) in statuses.iter_mut().zip(&core.lags) {
                    st.lag = *lag.lock().unwrap_or_else(|e| e.into_inner());
                    st.net = st.probe.as_ref().map(crate::stats::NetProbe::get);
                }
                let secs = last_stats.elapsed().as_secs_f64();
                let rate = (core.counters.lines - rate_lines) as f64 / secs;
                core.publish_status(statuses, rate, Phase::Running);
                rate_lines = core.counters.lines;
                last_stats = Instant::now();
            }

            // 3. Wait for input or results.
            if applied_any {
                continue;
            }
            // Before the format is known, keep reading so detection gets its sample.
            // An epoch is due: stop taking input until the pipeline drains and it closes,
            // so checkpoints keep their interval under continuous input too.
            let can_take_input = (queue.len() < 2 || parser.is_none())
                && ended < source_count
                && !(parser.is_some() && epoch_due(last_checkpoint, core))
                && barriers.is_empty()
                && !stop.load(Ordering::SeqCst);
            let wait = Duration::from_millis(50);
            crossbeam_channel::select! {
                recv(done_rx) -> d => {
                    if let Ok(d) = d {
                        finished.insert(d.seq, d);
                    }
                }
                recv(if can_take_input { src_rx.clone() } else { crossbeam_channel::never() }) -> m => {
                    match m {
                        Ok(SourceMsg::Batch(idx, b, extent)) => {
                            last_input = Instant::now();
                            first_input.get_or_insert(last_input);
                            let b = Arc::new(b);
                            if b.is_empty() {
                                pending.push_back(Pending { batch: b, last_seq: next_create.saturating_sub(1) });
                            } else {
                                core.record.read(idx, &b, extent);
                                queue.push_back((b, 0));
                            }
                        }
                        Ok(SourceMsg::End(i)) => {
                            ended += 1;
                            if let Some(s) = statuses.get_mut(i) {
                                s.ended = true;
                            }
                        }
                        Ok(SourceMsg::Problem(i, e)) => {
                            core.note(format!("warning: source {}: {e}", i + 1));
                        }
                        Ok(SourceMsg::Barrier(ack)) => {
                            if has_dir {
                                barriers.push(ack);
                            } else {
                                // Nothing is stored durably without checkpoints.
                                let _ = ack.send(true);
                            }
                        }
                        Ok(SourceMsg::Forget(fps)) => {
                            // Files not seen for long: their positions go with the next
                            // checkpoint.
                            core.positions.retain(|fp, _| !fps.contains(fp));
                        }
                        Err(_) => ended = source_count,
                    }
                }
                default(wait) => {}
            }

            // 4. Quiet input: move the watermark with the clock.
            if idle_pipeline
                && last_input.elapsed() >= idle
                && last_idle_advance.elapsed() >= Duration::from_secs(1)
            {
                let secs = last_idle_advance.elapsed().as_secs().max(1);
                core.record.idles.push((core.engine.next_seq(), secs));
                let out = core.engine.advance_idle(secs);
                core.emit(out)?;
                last_idle_advance = Instant::now();
            } else if !idle_pipeline || last_input.elapsed() < idle {
                last_idle_advance = Instant::now();
            }
        }
    })();
    drop(job_tx);
    for w in workers {
        let _ = w.join();
    }
    result
}
