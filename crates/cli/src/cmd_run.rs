//! `hitstream run`: the long-running pipeline. Sources → parse on all cores → event-time
//! windows and alerts → console, JSON lines, live view; with checkpoints.
//!
//! Threads: one per source (each polls its source and hands batches over a bounded channel),
//! a pool of parser threads, and this coordinator. A source batch is cut into jobs of a few
//! thousand lines; each job gets the next batch spec from the engine, a parser thread turns
//! it into a `PaneBatch`, and the coordinator applies them in sequence order (at most
//! `in_flight` jobs between creation and application, which keeps results independent of
//! thread timing). Source positions are applied to the checkpoint only once every job of
//! their batch has been applied, and checkpoints are taken when no job is in flight, so a
//! checkpoint's positions and engine state always describe the same lines.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use crossbeam_channel::{Receiver, Sender};
use hitstream_format::{detect, FormatSpec, Outcome, Parser, Record};
use hitstream_lake::arrow::array::RecordBatch;
use hitstream_lake::RequestRows;
use hitstream_source::{
    spool, Batch, Checkpoint, FileSource, FileSourceConfig, LineLimits, Poll, Source, SourceError,
    SpoolConfig, SpoolWriter, Spooler, StreamSource, SyslogConfig, SyslogSource, TcpConfig,
    TcpSource,
};
use hitstream_window::{Alert, BatchSpec, Engine, EngineConfig, LateLine, PaneBatch, WindowResult};

use crate::config::{
    Config, LakeConfig, OutputConfig, SourceConfig, SourceKind, SyslogProtocol, DEFAULT_DATA,
};
use crate::lake_sink::LakeSink;
use crate::sink::{ConsoleSink, JsonlSink, LineFileSink, Sink};
use crate::tui::{self, RunStats, UiEvent};

/// Lines per parse job: big enough to amortise the hand-off, small enough to spread a source
/// batch over every core.
const JOB_LINES: usize = 1024;

/// Parse jobs between creation and application. Late lines are judged against the horizon as
/// it stood this many jobs earlier, so it is a constant, not a function of `--threads`: the
/// same input gives the same results on any machine and with any number of threads.
const IN_FLIGHT: u32 = 4;

/// Options of `hitstream run`. Flags override the config file.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Configuration file (TOML; see docs/config.md).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Follow these files or glob patterns like `tail -F` (repeatable).
    #[arg(long, value_name = "PATH")]
    pub tail: Vec<String>,
    /// Read these files or glob patterns once (repeatable; `-` is stdin). With only such
    /// inputs the run ends at the end of input, closing every window.
    #[arg(long, value_name = "PATH")]
    pub file: Vec<String>,
    /// Listen for newline-delimited lines on a TCP address (at-most-once without --spool).
    #[arg(long, value_name = "ADDR")]
    pub tcp: Option<String>,
    /// Listen for syslog on a UDP and TCP address (at-most-once without --spool).
    #[arg(long, value_name = "ADDR")]
    pub syslog: Option<String>,
    /// Spool TCP/syslog input to this directory first, so nothing is lost across restarts.
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,
    /// Log format (`auto`, a preset, or an nginx/Apache format string).
    #[arg(short, long)]
    pub format: Option<String>,
    /// Window length (`60s`, `5m`).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub window: Option<Duration>,
    /// Distance between window starts, for sliding windows (`10s`); default: tumbling.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub slide: Option<Duration>,
    /// Allowed lateness: the watermark trails the largest event time by this much.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub lateness: Option<Duration>,
    /// Advance the watermark with the clock after this long without input.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// Rows of each top-N list per window.
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// What to print on stdout per closed window: `console` tables, `jsonl`, or `none`.
    #[arg(long, value_enum)]
    pub emit: Option<Emit>,
    /// Also write window results as JSON lines to this file.
    #[arg(long, value_name = "FILE")]
    pub jsonl: Option<String>,
    /// Write alerts as JSON lines to this file (`-` for stdout); they are printed on stderr too.
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<String>,
    /// Write lines too late for any window to this file.
    #[arg(long, value_name = "FILE")]
    pub late: Option<PathBuf>,
    /// Write rejected lines with their reasons to this file.
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// Live terminal view.
    #[arg(long)]
    pub tui: bool,
    /// Checkpoint directory: a restart resumes from the last checkpoint.
    #[arg(long, value_name = "DIR")]
    pub checkpoint_dir: Option<PathBuf>,
    /// Time between checkpoints.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub checkpoint_interval: Option<Duration>,
    /// Parser threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No alerts.
    #[arg(long)]
    pub no_alerts: bool,
    /// Store parsed rows, windows, alerts and rejects in the lake at this directory or
    /// `file://` URL (exactly-once for file and tail sources).
    #[arg(long, value_name = "DIR")]
    pub data: Option<String>,
    /// Store in the lake at ./hitstream-data (or the config file's `[lake]`).
    #[arg(long)]
    pub store: bool,
    /// With the lake: keep this much history (`30d`), counted back from the newest data.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub retention: Option<Duration>,
}

/// Per-window output on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Emit {
    /// A readable table per closed window.
    Console,
    /// One JSON object per window result.
    Jsonl,
    /// Nothing (use --jsonl FILE, --tui or the alerts).
    None,
}

/// Builds the effective configuration from the file (if any) and the flags.
/// `allow_no_source`: the caller adds its own (the demo).
pub fn effective_config(a: &RunArgs, allow_no_source: bool) -> anyhow::Result<Config> {
    let mut cfg = match &a.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read config file `{}`", p.display()))?;
            Config::parse_unchecked(&text, &p.display().to_string())?
        }
        None => Config::parse_unchecked("", "(flags)")?,
    };
    let spool = a.spool.clone();
    if !a.tail.is_empty() {
        cfg.sources.push(SourceConfig::file(a.tail.clone(), true));
    }
    for f in &a.file {
        if f == "-" {
            cfg.sources.push(SourceConfig::of_kind(SourceKind::Stdin));
        } else {
            cfg.sources.push(SourceConfig::file(vec![f.clone()], false));
        }
    }
    if let Some(addr) = &a.tcp {
        let mut s = SourceConfig::of_kind(SourceKind::Tcp);
        s.listen = Some(addr.clone());
        s.spool = spool.as_ref().map(|d| d.join("tcp"));
        cfg.sources.push(s);
    }
    if let Some(addr) = &a.syslog {
        let mut s = SourceConfig::of_kind(SourceKind::Syslog);
        s.listen = Some(addr.clone());
        s.protocol = SyslogProtocol::Both;
        s.spool = spool.as_ref().map(|d| d.join("syslog"));
        cfg.sources.push(s);
    }
    if let Some(f) = &a.format {
        cfg.format = f.clone();
    }
    let w = &mut cfg.window;
    if let Some(v) = a.window {
        w.size = v;
    }
    if a.slide.is_some() {
        w.slide = a.slide;
    }
    if let Some(v) = a.lateness {
        w.lateness = v;
    }
    if let Some(v) = a.idle_timeout {
        w.idle_timeout = v;
    }
    if let Some(v) = a.top {
        w.top = v;
    }
    let o = &mut cfg.output;
    match a.emit {
        Some(Emit::Console) => o.console = true,
        Some(Emit::Jsonl) => {
            o.console = false;
            o.jsonl = Some("-".into());
        }
        Some(Emit::None) => o.console = false,
        None => {}
    }
    if a.jsonl.is_some() {
        o.jsonl = a.jsonl.clone();
    }
    if a.alerts.is_some() {
        o.alerts = a.alerts.clone();
    }
    if a.late.is_some() {
        o.late = a.late.clone();
    }
    if a.rejects.is_some() {
        o.rejects = a.rejects.clone();
    }
    if a.tui {
        o.tui = true;
    }
    if a.checkpoint_dir.is_some() {
        cfg.checkpoint.dir = a.checkpoint_dir.clone();
    }
    if let Some(i) = a.checkpoint_interval {
        cfg.checkpoint.interval = i;
    }
    if a.no_alerts {
        cfg.alert = Some(Vec::new());
    }
    if a.data.is_some() || a.store || a.retention.is_some() {
        let mut l = cfg
            .lake
            .take()
            .unwrap_or_else(|| LakeConfig::at(DEFAULT_DATA.to_string()));
        if let Some(d) = &a.data {
            l.data = d.clone();
        }
        if a.retention.is_some() {
            l.retention = a.retention;
        }
        cfg.lake = Some(l);
    }
    if let Some(l) = &cfg.lake {
        // The write-ahead record and checkpoints of a lake run live beside its tables.
        if cfg.checkpoint.dir.is_none() {
            if l.data.contains("://") && !l.data.starts_with("file://") {
                bail!(
                    "the lake `{}` is in an object store: give --checkpoint-dir DIR (a local \
                     directory for checkpoints and the write-ahead record of epochs)",
                    l.data
                );
            }
            let local = l.data.strip_prefix("file://").unwrap_or(&l.data);
            cfg.checkpoint.dir = Some(PathBuf::from(local).join("_checkpoint"));
        }
    }
    let name = a
        .config
        .as_ref()
        .map_or("(flags)".to_string(), |p| p.display().to_string());
    if allow_no_source && cfg.sources.is_empty() {
        cfg.check_without_sources(&name)?;
        return Ok(cfg);
    }
    if cfg.sources.is_empty() {
        bail!("no input: give --tail PATH, --file PATH, --tcp ADDR, --syslog ADDR or a --config file with [[source]]");
    }
    cfg.check(&name)?;
    Ok(cfg)
}

fn engine_config(cfg: &Config, in_flight: u32) -> anyhow::Result<EngineConfig> {
    let w = &cfg.window;
    let mut e = EngineConfig {
        size: w.size.as_secs().max(1),
        slide: w.slide.map_or(0, |s| s.as_secs()),
        lateness: w.lateness.as_secs(),
        top_n: w.top,
        in_flight,
        ..EngineConfig::default()
    };
    if let Some(rules) = &cfg.alert {
        e.alerts = rules.clone();
    }
    e.validate().context("window settings")?;
    Ok(e)
}

// ---------------------------------------------------------------------------------------
// Checkpoints: one file holding source positions, counters and the engine snapshot, written
// atomically so they always move together.

const CHECKPOINT_FILE: &str = "checkpoint.bin";
const CHECKPOINT_MAGIC: &[u8] = b"HSRUN1\n";

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
struct Counters {
    lines: u64,
    ok: u64,
    degraded: u64,
    rejected: u64,
    late: u64,
    windows: u64,
    alerts: u64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    positions: Checkpoint,
    counters: Counters,
    /// The last epoch whose output is durable (0: none yet).
    #[serde(default)]
    epoch: u64,
}

fn save_checkpoint(
    dir: &Path,
    positions: &Checkpoint,
    counters: &Counters,
    engine: &Engine,
    epoch: u64,
) -> anyhow::Result<()> {
    let header = serde_json::to_vec(&Header {
        positions: positions.clone(),
        counters: counters.clone(),
        epoch,
    })?;
    let snap = engine.snapshot();
    let mut buf = Vec::with_capacity(header.len() + snap.len() + 32);
    buf.extend_from_slice(CHECKPOINT_MAGIC);
    buf.extend_from_slice(&(header.len() as u64).to_le_bytes());
    buf.extend_from_slice(&header);
    buf.extend_from_slice(&snap);
    let path = dir.join(CHECKPOINT_FILE);
    hitstream_source::write_atomic(&path, &buf)
        .with_context(|| format!("writing checkpoint `{}`", path.display()))
}

/// What a checkpoint holds.
struct Loaded {
    positions: Checkpoint,
    counters: Counters,
    engine: Engine,
    epoch: u64,
}

fn load_checkpoint(dir: &Path) -> anyhow::Result<Option<Loaded>> {
    let path = dir.join(CHECKPOINT_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("reading checkpoint `{}`", path.display()))
        }
    };
    let bad = || {
        anyhow::anyhow!(
            "checkpoint `{}` is damaged or from another version",
            path.display()
        )
    };
    let rest = bytes.strip_prefix(CHECKPOINT_MAGIC).ok_or_else(bad)?;
    if rest.len() < 8 {
        return Err(bad());
    }
    let n = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes")) as usize;
    let header = rest.get(8..8 + n).ok_or_else(bad)?;
    let h: Header = serde_json::from_slice(header).map_err(|_| bad())?;
    let engine = Engine::restore(&rest[8 + n..])
        .with_context(|| format!("restoring window state from `{}`", path.display()))?;
    Ok(Some(Loaded {
        positions: h.positions,
        counters: h.counters,
        engine,
        epoch: h.epoch,
    }))
}

// ---------------------------------------------------------------------------------------
// Epochs: the work between two checkpoints. With a lake, each epoch is first written ahead
// (what was read, in which order, and the idle advances), then committed to every table
// with the application transaction (`hitstream-run`, epoch), then checkpointed. After a
// crash in between, the restart repeats the recorded epoch exactly from the previous
// checkpoint, and the tables that already hold it skip it: nothing lost, nothing twice.

const EPOCH_DIR: &str = "epochs";

/// How long a replay waits for a source to deliver lines it delivered before.
const REPLAY_WAIT: Duration = Duration::from_secs(10);

/// What one epoch read and did, in order.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
struct EpochRecord {
    epoch: u64,
    /// Source batches in the order they were cut into jobs: (source index, lines).
    batches: Vec<(usize, u64)>,
    /// The origin of each batch (a file's path when it was read): a file renamed by
    /// rotation before the replay still gives its rows the name they had.
    #[serde(default)]
    origins: Vec<String>,
    /// Idle advances of the watermark: (engine sequence number then, seconds). They follow
    /// the wall clock, so a replay takes them from here instead of recomputing them.
    idles: Vec<(u64, u64)>,
    /// The input ended (every window closed) in this epoch.
    finished: bool,
    /// Source positions at the end of the epoch.
    positions: Checkpoint,
}

impl EpochRecord {
    fn read(&mut self, source: usize, batch: &Batch) {
        self.batches.push((source, batch.len() as u64));
        self.origins.push(batch.origin_name());
    }

    fn has_work(&self) -> bool {
        !self.batches.is_empty() || !self.idles.is_empty() || self.finished
    }
}

fn epoch_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(EPOCH_DIR).join(format!("{n:010}.json"))
}

/// Checkpoint directory, last durable epoch, and the record of the epoch under way.
struct Durable {
    dir: Option<PathBuf>,
    epoch: u64,
    record: EpochRecord,
    /// Epochs are written ahead (a lake is written).
    write_ahead: bool,
}

/// Test hook: `HITSTREAM_CRASH_AT=wal:N` aborts right after epoch N's record is written,
/// `commit:N` right after its tables are committed (before the checkpoint), `wal-idle:0`
/// after the record of the first epoch with an idle advance.
fn crash_point(stage: &str, n: u64) {
    if let Ok(v) = std::env::var("HITSTREAM_CRASH_AT") {
        if v == format!("{stage}:{n}") {
            eprintln!("HITSTREAM_CRASH_AT: aborting at {v}");
            std::process::abort();
        }
    }
}

impl Durable {
    /// Closes the epoch under way: write-ahead record, commit of every sink, checkpoint.
    fn close(
        &mut self,
        positions: &Checkpoint,
        counters: &Counters,
        engine: &Engine,
        sinks: &mut Sinks,
    ) -> anyhow::Result<()> {
        let Some(dir) = self.dir.clone() else {
            return sinks.flush();
        };
        if !self.record.has_work() {
            sinks.flush()?;
            return save_checkpoint(&dir, positions, counters, engine, self.epoch);
        }
        let n = self.epoch + 1;
        let path = epoch_path(&dir, n);
        if self.write_ahead {
            self.record.epoch = n;
            self.record.positions = positions.clone();
            std::fs::create_dir_all(dir.join(EPOCH_DIR))
                .with_context(|| format!("creating `{}`", dir.join(EPOCH_DIR).display()))?;
            hitstream_source::write_atomic(&path, &serde_json::to_vec(&self.record)?)
                .with_context(|| format!("writing `{}`", path.display()))?;
            crash_point("wal", n);
            if !self.record.idles.is_empty() {
                crash_point("wal-idle", 0);
            }
        }
        sinks.commit(n)?;
        crash_point("commit", n);
        save_checkpoint(&dir, positions, counters, engine, n)?;
        self.epoch = n;
        self.record = EpochRecord::default();
        if self.write_ahead {
            remove_if_there(&path)?;
        }
        Ok(())
    }

    /// On start with a lake: finds an epoch recorded but maybe not stored everywhere, and
    /// refuses tables that hold epochs this checkpoint does not know.
    fn recover(&mut self, dir: &Path, lake: &mut LakeSink) -> anyhow::Result<Option<EpochRecord>> {
        // Records of epochs already checkpointed (a crash before their removal).
        if let Ok(rd) = std::fs::read_dir(dir.join(EPOCH_DIR)) {
            for e in rd.flatten() {
                let n = e
                    .file_name()
                    .to_str()
                    .and_then(|f| f.strip_suffix(".json"))
                    .and_then(|f| f.parse::<u64>().ok());
                if n.is_some_and(|n| n <= self.epoch) {
                    remove_if_there(&e.path())?;
                }
            }
        }
        let next = epoch_path(dir, self.epoch + 1);
        let rec = match std::fs::read(&next) {
            Ok(b) => Some(
                serde_json::from_slice::<EpochRecord>(&b)
                    .with_context(|| format!("epoch record `{}` is damaged", next.display()))?,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("reading `{}`", next.display())),
        };
        let allowed = self.epoch + u64::from(rec.is_some());
        for (kind, v) in lake.committed_epochs()? {
            if v.is_some_and(|v| v as u64 > allowed) {
                bail!(
                    "table `{}` holds epoch {} of hitstream run, but the checkpoint in `{}` is at \
                     epoch {}: another run writes to this lake, or this is not its checkpoint \
                     directory",
                    kind.name(),
                    v.unwrap_or(0),
                    dir.display(),
                    self.epoch
                );
            }
        }
        Ok(rec)
    }
}

fn remove_if_there(p: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing `{}`", p.display()))
        }
        _ => Ok(()),
    }
}

/// Repeats a recorded epoch: reads the same lines from the sources (which start at the
/// checkpoint's positions), cut into the recorded batches, with the recorded idle advances,
/// so that the engine emits what it emitted before the crash. Returns what the sources read
/// beyond the epoch, to be processed next.
fn replay_epoch(
    cfg: &Config,
    rec: &EpochRecord,
    sources: &mut [Box<dyn Source>],
    parser: &mut Option<Arc<Parser>>,
    engine: &mut Engine,
    counters: &mut Counters,
    sinks: &mut Sinks,
) -> anyhow::Result<Vec<(usize, Batch)>> {
    let rows = sinks.wants_requests();
    let mut buffered: Vec<VecDeque<Batch>> = sources.iter().map(|_| VecDeque::new()).collect();
    let mut idles = rec.idles.iter().peekable();
    let idle_due = |idles: &mut std::iter::Peekable<std::slice::Iter<'_, (u64, u64)>>,
                    engine: &mut Engine,
                    counters: &mut Counters,
                    sinks: &mut Sinks|
     -> anyhow::Result<()> {
        while let Some(&&(seq, secs)) = idles.peek() {
            if seq > engine.next_seq() {
                break;
            }
            idles.next();
            let out = engine.advance_idle(secs);
            emit(out, counters, sinks)?;
        }
        Ok(())
    };
    for (i, &(src, lines)) in rec.batches.iter().enumerate() {
        let origin: Option<Arc<str>> = rec.origins.get(i).map(|o| o.as_str().into());
        let Some(source) = sources.get_mut(src) else {
            bail!(
                "cannot repeat epoch {}: it read from source {} and this run has {} sources; \
                 run with the same sources as before",
                rec.epoch,
                src + 1,
                buffered.len()
            );
        };
        let mut need = lines as usize;
        let mut batch: Option<Batch> = None;
        let mut waited = Instant::now();
        while need > 0 {
            if let Some(mut b) = buffered[src].pop_front() {
                if b.is_empty() {
                    continue; // positions only: the record holds the positions
                }
                if b.len() > need {
                    let rest = b.split_off(need);
                    buffered[src].push_front(rest);
                }
                need -= b.len();
                match &mut batch {
                    Some(whole) => whole.append(&mut b),
                    None => batch = Some(b),
                }
                continue;
            }
            match source.poll(Duration::from_millis(100)) {
                Poll::Batch(b) => {
                    buffered[src].push_back(b);
                    waited = Instant::now();
                }
                Poll::Idle if waited.elapsed() < REPLAY_WAIT => {}
                _ => bail!(
                    "cannot repeat epoch {}: source {} now has fewer lines than when the epoch \
                     was recorded (was a file truncated or removed?); to start over, remove \
                     the checkpoint directory and the tables",
                    rec.epoch,
                    src + 1
                ),
            }
        }
        let batch = Arc::new(batch.expect("at least one line"));
        let p = match parser {
            Some(p) => p.clone(),
            None => {
                let sample: Vec<&[u8]> = batch.lines().take(DETECT_LINES).collect();
                let (made, note) = make_parser(&cfg.format, &sample)?;
                if let Some(note) = note {
                    sinks.note(note);
                }
                parser.insert(Arc::new(made)).clone()
            }
        };
        let mut from = 0;
        while from < batch.len() {
            idle_due(&mut idles, engine, counters, sinks)?;
            let to = (from + JOB_LINES).min(batch.len());
            let spec = engine.spec(engine.next_seq()).expect("the next spec");
            let done = parse_job(
                &p,
                &Job {
                    spec,
                    batch: batch.clone(),
                    from,
                    to,
                    rows,
                    origin: origin.clone(),
                },
            );
            apply_done(done, engine, counters, sinks)?;
            from = to;
        }
    }
    idle_due(&mut idles, engine, counters, sinks)?;
    if rec.finished {
        let out = engine.finish();
        emit(out, counters, sinks)?;
    }
    Ok(buffered
        .into_iter()
        .enumerate()
        .flat_map(|(i, q)| q.into_iter().map(move |b| (i, b)))
        .collect())
}

// ---------------------------------------------------------------------------------------
// Sources.

enum SourceMsg {
    Batch(usize, Batch),
    End,
    Problem(usize, SourceError),
}

/// Opened sources, their names for messages, and the spoolers feeding spooled ones.
type Opened = (Vec<Box<dyn Source>>, Vec<String>, Vec<Spooler>);

fn open_sources(cfg: &Config, positions: &Checkpoint) -> anyhow::Result<Opened> {
    let mut out: Vec<Box<dyn Source>> = Vec::new();
    let mut names = Vec::new();
    let mut spoolers = Vec::new();
    for s in &cfg.sources {
        match s.kind {
            SourceKind::File => {
                let mut fc = FileSourceConfig::new(s.paths.iter().cloned()).follow(s.follow);
                if let Some(p) = s.poll_interval {
                    fc.poll_interval_ms = p.as_millis().max(1) as u64;
                }
                let src = FileSource::new(fc, positions)
                    .with_context(|| format!("opening {}", s.paths.join(", ")))?;
                names.push(format!(
                    "{} {}",
                    if s.follow { "tail" } else { "file" },
                    s.paths.join(",")
                ));
                out.push(Box::new(src));
            }
            SourceKind::Stdin => {
                names.push("stdin".into());
                out.push(Box::new(StreamSource::stdin(LineLimits::default())));
            }
            SourceKind::Tcp | SourceKind::Syslog => {
                let addr = s.listen.clone().expect("checked");
                let kind = if s.kind == SourceKind::Tcp {
                    "tcp"
                } else {
                    "syslog"
                };
                let src = bind_net(s, &addr).with_context(|| format!("listening on {addr}"))?;
                match &s.spool {
                    Some(dir) => {
                        let writer = SpoolWriter::open(SpoolConfig::new(dir))
                            .with_context(|| format!("opening spool `{}`", dir.display()))?;
                        spoolers.push(
                            Spooler::spawn(BoxedSource(src), writer)
                                .with_context(|| format!("spooling {kind} {addr}"))?,
                        );
                        let reader = FileSource::new(spool::reader_config(dir), positions)
                            .with_context(|| format!("reading spool `{}`", dir.display()))?;
                        names.push(format!("{kind} {addr} (spooled)"));
                        out.push(Box::new(reader));
                    }
                    None => {
                        names.push(format!("{kind} {addr} (at-most-once)"));
                        out.push(src);
                    }
                }
            }
        }
    }
    Ok((out, names, spoolers))
}

/// Binds the listener of a TCP or syslog source.
fn bind_net(s: &SourceConfig, addr: &str) -> Result<Box<dyn Source>, SourceError> {
    if s.kind == SourceKind::Tcp {
        return Ok(Box::new(TcpSource::bind(TcpConfig::new(addr))?));
    }
    let (udp, tcp) = match s.protocol {
        SyslogProtocol::Udp => (Some(addr.to_string()), None),
        SyslogProtocol::Tcp => (None, Some(addr.to_string())),
        SyslogProtocol::Both => (Some(addr.to_string()), Some(addr.to_string())),
    };
    Ok(Box::new(SyslogSource::bind(SyslogConfig {
        udp,
        tcp,
        ..SyslogConfig::default()
    })?))
}

/// A boxed source as a sized one, for APIs generic over `Source`.
struct BoxedSource(Box<dyn Source>);

impl Source for BoxedSource {
    fn poll(&mut self, timeout: Duration) -> Poll {
        self.0.poll(timeout)
    }
    fn take_problems(&mut self) -> Vec<SourceError> {
        self.0.take_problems()
    }
}

fn spawn_source(
    idx: usize,
    mut src: Box<dyn Source>,
    tx: Sender<SourceMsg>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let p = src.poll(Duration::from_millis(100));
            for problem in src.take_problems() {
                if tx.send(SourceMsg::Problem(idx, problem)).is_err() {
                    return;
                }
            }
            match p {
                Poll::Batch(b) => {
                    if tx.send(SourceMsg::Batch(idx, b)).is_err() {
                        return;
                    }
                }
                Poll::Idle => {}
                Poll::End => {
                    let _ = tx.send(SourceMsg::End);
                    return;
                }
            }
        }
    })
}

// ---------------------------------------------------------------------------------------
// Parsing jobs.

struct Job {
    spec: BatchSpec,
    batch: Arc<Batch>,
    from: usize,
    to: usize,
    /// Build `requests` rows for the lake.
    rows: bool,
    /// The name to store as the rows' source, when not the batch's own (a replay).
    origin: Option<Arc<str>>,
}

struct JobDone {
    seq: u64,
    panes: PaneBatch,
    ok: u64,
    degraded: u64,
    /// `code<TAB>explanation`, the line, its byte offset.
    rejects: Vec<(String, Vec<u8>, u64)>,
    source: String,
    requests: Option<RecordBatch>,
}

fn parse_job(parser: &Parser, job: &Job) -> JobDone {
    let mut panes = PaneBatch::new(job.spec);
    let mut rec = Record::new();
    let (mut ok, mut degraded) = (0, 0);
    let mut rejects = Vec::new();
    let source = job
        .origin
        .as_deref()
        .map_or_else(|| job.batch.origin_name(), str::to_string);
    let extra_names = parser.spec().extra_names();
    let mut rows = job.rows.then(RequestRows::new);
    for i in job.from..job.to {
        let line = job.batch.line(i).unwrap_or(b"");
        match parser.parse(line, &mut rec) {
            Outcome::Rejected(r) => rejects.push((
                format!("{}\t{}", r.code(), parser.explain(&r)),
                line.to_vec(),
                job.batch.line_offset(i),
            )),
            o => {
                if matches!(o, Outcome::Ok) {
                    ok += 1;
                } else {
                    degraded += 1;
                }
                panes.add(&rec);
                if let Some(rows) = &mut rows {
                    rows.push(&rec, &extra_names, &source, Some(job.batch.line_offset(i)));
                }
            }
        }
    }
    JobDone {
        seq: job.spec.seq(),
        panes,
        ok,
        degraded,
        rejects,
        source,
        requests: rows.map(|mut r| r.finish()),
    }
}

// ---------------------------------------------------------------------------------------
// Sinks: the fan-out to every configured output (see `crate::sink`).

struct Sinks {
    outs: Vec<Box<dyn Sink>>,
    /// The live view, for notes and counters besides its sink.
    ui: Option<Sender<UiEvent>>,
}

impl Sinks {
    fn open(o: &OutputConfig, ui: Option<Sender<UiEvent>>) -> anyhow::Result<Sinks> {
        let mut outs: Vec<Box<dyn Sink>> = Vec::new();
        if o.console && !o.tui && o.jsonl.as_deref() != Some("-") {
            outs.push(Box::new(ConsoleSink::new(ui.is_none())));
        } else if ui.is_none() {
            outs.push(Box::new(ConsoleSink::alerts_only()));
        }
        if let Some(p) = &o.jsonl {
            outs.push(Box::new(JsonlSink::windows(p)?));
        }
        if let Some(p) = &o.alerts {
            outs.push(Box::new(JsonlSink::alerts(p)?));
        }
        if let Some(p) = &o.late {
            outs.push(Box::new(LineFileSink::late(p)?));
        }
        if let Some(p) = &o.rejects {
            outs.push(Box::new(LineFileSink::rejects(p)?));
        }
        if let Some(tx) = &ui {
            outs.push(Box::new(UiSink(tx.clone())));
        }
        Ok(Sinks { outs, ui })
    }

    fn window(&mut self, w: &WindowResult) -> anyhow::Result<()> {
        self.outs.iter_mut().try_for_each(|s| s.window(w))
    }

    fn alert(&mut self, a: &Alert) -> anyhow::Result<()> {
        self.outs.iter_mut().try_for_each(|s| s.alert(a))
    }

    fn late(&mut self, l: &LateLine) -> anyhow::Result<()> {
        self.outs.iter_mut().try_for_each(|s| s.late(l))
    }

    fn reject_at(
        &mut self,
        why: &str,
        line: &[u8],
        source: &str,
        offset: u64,
    ) -> anyhow::Result<()> {
        self.outs
            .iter_mut()
            .try_for_each(|s| s.reject_at(why, line, source, Some(offset)))
    }

    fn requests(&mut self, rows: RecordBatch) -> anyhow::Result<()> {
        for s in self.outs.iter_mut().filter(|s| s.wants_requests()) {
            s.requests(rows.clone())?;
        }
        Ok(())
    }

    fn wants_requests(&self) -> bool {
        self.outs.iter().any(|s| s.wants_requests())
    }

    fn buffered_rows(&self) -> usize {
        self.outs
            .iter()
            .map(|s| s.buffered_rows())
            .max()
            .unwrap_or(0)
    }

    fn commit(&mut self, epoch: u64) -> anyhow::Result<()> {
        self.outs.iter_mut().try_for_each(|s| s.commit(epoch))
    }

    /// A note for the user: on stderr, or in the live view's footer when it is up.
    fn note(&mut self, msg: String) {
        match &self.ui {
            Some(ui) => {
                let _ = ui.send(UiEvent::Message(msg));
            }
            None => eprintln!("{msg}"),
        }
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        self.outs.iter_mut().try_for_each(|s| s.flush())
    }
}

/// The live view as a sink.
struct UiSink(Sender<UiEvent>);

impl Sink for UiSink {
    fn window(&mut self, w: &WindowResult) -> anyhow::Result<()> {
        // The view may have closed already (`q`): the pipeline goes on stopping.
        let _ = self.0.send(UiEvent::Window(w.clone()));
        Ok(())
    }

    fn alert(&mut self, a: &Alert) -> anyhow::Result<()> {
        let _ = self.0.send(UiEvent::Alert(a.clone()));
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// The coordinator.

/// Source batches being parsed: positions are applied when all their jobs are.
struct Pending {
    batch: Arc<Batch>,
    last_seq: u64,
}

/// Runs `hitstream run`.
pub fn run(a: RunArgs) -> anyhow::Result<()> {
    let cfg = effective_config(&a, false)?;
    run_pipeline(
        &cfg,
        a.threads,
        Vec::new(),
        Arc::new(AtomicBool::new(false)),
    )
}

/// A source built by the caller (the demo's generator), with its name.
pub type ExtraSource = (String, Box<dyn Source>);

/// Runs the pipeline for a configuration, with extra sources besides the configured ones.
/// `stop` ends it cleanly when set (SIGINT/SIGTERM set it too).
pub fn run_pipeline(
    cfg: &Config,
    threads: Option<usize>,
    extra: Vec<ExtraSource>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .context("installing the SIGINT/SIGTERM handler")?;
    }
    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let ecfg = engine_config(cfg, IN_FLIGHT)?;

    // Resume from the checkpoint when there is one with the same window settings.
    let mut positions = Checkpoint::new();
    let mut counters = Counters::default();
    let mut engine = Engine::new(ecfg.clone()).context("window settings")?;
    let mut durable = Durable {
        dir: cfg.checkpoint.dir.clone(),
        epoch: 0,
        record: EpochRecord::default(),
        write_ahead: cfg.lake.is_some(),
    };
    if let Some(dir) = &cfg.checkpoint.dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create checkpoint directory `{}`", dir.display()))?;
        if let Some(Loaded {
            positions: p,
            counters: c,
            engine: e,
            epoch,
        }) = load_checkpoint(dir)?
        {
            if e.config() != &ecfg {
                bail!(
                    "checkpoint in `{}` was made with other window or alert settings; \
                     use another --checkpoint-dir or remove it",
                    dir.display()
                );
            }
            eprintln!(
                "resuming from checkpoint in {} ({} lines so far)",
                dir.display(),
                c.lines
            );
            positions = p;
            counters = c;
            engine = e;
            durable.epoch = epoch;
        }
    }

    let ui = if cfg.output.tui {
        let (tx, rx) = crossbeam_channel::unbounded();
        let handle = tui::spawn(rx, stop.clone()).context("starting the terminal view")?;
        Some((tx, handle))
    } else {
        None
    };
    let mut sinks = Sinks::open(&cfg.output, ui.as_ref().map(|(tx, _)| tx.clone()))?;
    // An epoch the last run recorded but may not have committed everywhere.
    let mut unfinished: Option<EpochRecord> = None;
    if let Some(l) = &cfg.lake {
        let mut lake = LakeSink::open(l)?;
        let dir = durable
            .dir
            .clone()
            .expect("a lake run has a checkpoint directory");
        unfinished = durable.recover(&dir, &mut lake)?;
        sinks.outs.push(Box::new(lake));
    }

    let (mut sources, mut names, spoolers) = open_sources(cfg, &positions)?;
    for (name, src) in extra {
        names.push(name);
        sources.push(src);
    }
    let mut parser: Option<Arc<Parser>> = None;
    let mut leftover = Vec::new();
    // Sources that can be read again from a checkpoint's positions: files (and spools).
    let replayable: Vec<bool> = cfg
        .sources
        .iter()
        .map(|s| s.kind == SourceKind::File || s.spool.is_some())
        .collect();
    let unfinished = match unfinished {
        Some(rec)
            if rec
                .batches
                .iter()
                .any(|(i, _)| !replayable.get(*i).copied().unwrap_or(false)) =>
        {
            // The lines are gone: keep what the tables hold and go on after that epoch.
            sinks.note(format!(
                "warning: epoch {} read from a source that cannot be read again (stdin, or TCP \
                 or syslog without --spool); what it had not stored is lost",
                rec.epoch
            ));
            durable.epoch = rec.epoch;
            let dir = durable
                .dir
                .clone()
                .expect("a lake run has a checkpoint directory");
            save_checkpoint(&dir, &positions, &counters, &engine, durable.epoch)?;
            remove_if_there(&epoch_path(&dir, rec.epoch))?;
            None
        }
        other => other,
    };
    if let Some(rec) = unfinished {
        sinks.note(format!(
            "repeating epoch {} (stopped before all of it was stored)",
            rec.epoch
        ));
        leftover = replay_epoch(
            cfg,
            &rec,
            &mut sources,
            &mut parser,
            &mut engine,
            &mut counters,
            &mut sinks,
        )?;
        positions = rec.positions.clone();
        durable.record = rec;
        durable.close(&positions, &counters, &engine, &mut sinks)?;
    }
    let source_count = sources.len();
    let (src_tx, src_rx) = crossbeam_channel::bounded::<SourceMsg>(4);
    let src_threads: Vec<_> = sources
        .into_iter()
        .enumerate()
        .map(|(i, s)| spawn_source(i, s, src_tx.clone(), stop.clone()))
        .collect();
    drop(src_tx);
    let sources_desc = names.join(" + ");
    if ui.is_none() {
        eprintln!("hitstream run: {sources_desc}");
    }

    let result = coordinate(
        cfg,
        Coordinated {
            src_rx: &src_rx,
            source_count,
            threads,
            stop: &stop,
            sources_desc: &sources_desc,
            parser,
            leftover,
        },
        &mut engine,
        &mut positions,
        &mut counters,
        &mut sinks,
        &mut durable,
    );
    stop.store(true, Ordering::SeqCst);
    drop(src_rx);
    for t in src_threads {
        let _ = t.join();
    }
    for s in spoolers {
        s.stop();
    }
    if let Some(ui) = &sinks.ui {
        // The last frame shows the final counts.
        let _ = ui.send(UiEvent::Stats(RunStats {
            lines: counters.lines,
            ok: counters.ok,
            degraded: counters.degraded,
            rejected: counters.rejected,
            late: counters.late,
            lines_per_sec: 0.0,
            watermark: engine.watermark(),
            sources: sources_desc.clone(),
        }));
        let _ = ui.send(UiEvent::End);
    }
    sinks.ui = None;
    if let Some((tx, handle)) = ui {
        drop(tx);
        match handle.join() {
            Ok(r) => r.context("terminal view")?,
            Err(_) => bail!("the terminal view panicked"),
        }
    }
    result?;
    eprintln!(
        "hitstream run: {} lines ({} ok, {} degraded, {} rejected, {} late), {} windows, {} alerts",
        counters.lines,
        counters.ok,
        counters.degraded,
        counters.rejected,
        counters.late,
        counters.windows,
        counters.alerts
    );
    Ok(())
}

/// The coordinator's inputs besides the state it updates.
struct Coordinated<'a> {
    src_rx: &'a Receiver<SourceMsg>,
    source_count: usize,
    threads: usize,
    stop: &'a Arc<AtomicBool>,
    sources_desc: &'a str,
    /// The parser, when a replayed epoch already made it.
    parser: Option<Arc<Parser>>,
    /// What the sources read beyond a replayed epoch: processed first.
    leftover: Vec<(usize, Batch)>,
}

fn coordinate(
    cfg: &Config,
    c: Coordinated<'_>,
    engine: &mut Engine,
    positions: &mut Checkpoint,
    counters: &mut Counters,
    sinks: &mut Sinks,
    durable: &mut Durable,
) -> anyhow::Result<()> {
    let Coordinated {
        src_rx,
        source_count,
        threads,
        stop,
        sources_desc,
        mut parser,
        leftover,
    } = c;
    let rows = sinks.wants_requests();
    let max_rows = cfg
        .lake
        .as_ref()
        .map_or(usize::MAX, |l| l.max_buffered_rows.max(1));
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

    let in_flight = engine.config().in_flight.max(1) as u64;
    let mut queue: VecDeque<(Arc<Batch>, usize)> = VecDeque::new(); // batch, next line
    let mut pending: VecDeque<Pending> = VecDeque::new();
    let mut finished: BTreeMap<u64, JobDone> = BTreeMap::new();
    for (idx, b) in leftover {
        let b = Arc::new(b);
        if b.is_empty() {
            pending.push_back(Pending {
                batch: b,
                last_seq: engine.next_seq().saturating_sub(1),
            });
        } else {
            durable.record.read(idx, &b);
            queue.push_back((b, 0));
        }
    }
    let mut next_create = engine.next_seq();
    let mut ended = 0usize;
    let mut last_input = Instant::now();
    let mut last_idle_advance = Instant::now();
    let mut last_checkpoint = Instant::now();
    // Time to close an epoch: the checkpoint interval passed, or many rows wait for a commit.
    let epoch_due = |last: Instant, sinks: &Sinks| {
        cfg.checkpoint.dir.is_some()
            && (last.elapsed() >= cfg.checkpoint.interval || sinks.buffered_rows() >= max_rows)
    };
    let mut last_stats = Instant::now();
    let mut rate_lines = counters.lines;
    let idle = cfg.window.idle_timeout;
    let mut reports = crate::cmd_report::Schedule::from_config(cfg)?;
    let needs_detection = cfg.format.trim().eq_ignore_ascii_case("auto");
    let mut first_input: Option<Instant> = None;
    let result = (|| -> anyhow::Result<()> {
        loop {
            // 1. Hand out jobs while the engine can give specs.
            while next_create < engine.next_seq() + in_flight {
                if queue.is_empty() {
                    break;
                }
                let p = match &parser {
                    Some(p) => p.clone(),
                    None => {
                        // Detection wants a fair sample: wait (briefly) for a few lines.
                        let queued: usize = queue.iter().map(|(b, _)| b.len()).sum();
                        let waited = first_input.is_some_and(|t| t.elapsed() >= DETECT_WAIT);
                        if needs_detection
                            && queued < DETECT_LINES
                            && !waited
                            && ended < source_count
                            && !stop.load(Ordering::SeqCst)
                        {
                            break;
                        }
                        let sample: Vec<&[u8]> = queue
                            .iter()
                            .flat_map(|(b, _)| b.lines())
                            .take(DETECT_LINES)
                            .collect();
                        let (made, note) = make_parser(&cfg.format, &sample)?;
                        if let Some(note) = note {
                            sinks.note(note);
                        }
                        let p = Arc::new(made);
                        parser = Some(p.clone());
                        p
                    }
                };
                let Some((batch, from)) = queue.front_mut() else {
                    break;
                };
                let to = (*from + JOB_LINES).min(batch.len());
                let spec = engine.spec(next_create).expect("spec within in_flight");
                job_tx
                    .send((
                        p,
                        Job {
                            spec,
                            batch: batch.clone(),
                            from: *from,
                            to,
                            rows,
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
            while let Some(d) = finished.remove(&engine.next_seq()) {
                apply_done(d, engine, counters, sinks)?;
                applied_any = true;
                // Positions of source batches whose every job is applied.
                while pending
                    .front()
                    .is_some_and(|p| p.last_seq < engine.next_seq())
                {
                    let p = pending.pop_front().expect("front");
                    positions.apply(&p.batch);
                }
            }

            let idle_pipeline = queue.is_empty() && next_create == engine.next_seq();
            if idle_pipeline {
                // Batches with positions but no lines (rotations) are settled here.
                while let Some(p) = pending.pop_front() {
                    positions.apply(&p.batch);
                }
                if epoch_due(last_checkpoint, sinks) {
                    durable.close(positions, counters, engine, sinks)?;
                    last_checkpoint = Instant::now();
                }
                if ended == source_count {
                    let out = engine.finish();
                    durable.record.finished = true;
                    emit(out, counters, sinks)?;
                    durable.close(positions, counters, engine, sinks)?;
                    return Ok(());
                }
                if stop.load(Ordering::SeqCst) {
                    durable.close(positions, counters, engine, sinks)?;
                    return Ok(());
                }
                if let Some(r) = &mut reports {
                    if r.due() {
                        durable.close(positions, counters, engine, sinks)?;
                        last_checkpoint = Instant::now();
                        r.run(&mut |m| sinks.note(m))?;
                    }
                }
            }

            if let Some(ui) = &sinks.ui {
                if last_stats.elapsed() >= Duration::from_millis(250) {
                    let secs = last_stats.elapsed().as_secs_f64();
                    let _ = ui.send(UiEvent::Stats(RunStats {
                        lines: counters.lines,
                        ok: counters.ok,
                        degraded: counters.degraded,
                        rejected: counters.rejected,
                        late: counters.late,
                        lines_per_sec: (counters.lines - rate_lines) as f64 / secs,
                        watermark: engine.watermark(),
                        sources: sources_desc.to_string(),
                    }));
                    rate_lines = counters.lines;
                    last_stats = Instant::now();
                }
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
                && !(parser.is_some() && epoch_due(last_checkpoint, sinks))
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
                        Ok(SourceMsg::Batch(idx, b)) => {
                            last_input = Instant::now();
                            first_input.get_or_insert(last_input);
                            let b = Arc::new(b);
                            if b.is_empty() {
                                pending.push_back(Pending { batch: b, last_seq: next_create.saturating_sub(1) });
                            } else {
                                durable.record.read(idx, &b);
                                queue.push_back((b, 0));
                            }
                        }
                        Ok(SourceMsg::End) => ended += 1,
                        Ok(SourceMsg::Problem(i, e)) => {
                            sinks.note(format!("warning: source {}: {e}", i + 1));
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
                durable.record.idles.push((engine.next_seq(), secs));
                let out = engine.advance_idle(secs);
                emit(out, counters, sinks)?;
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

/// Hands a parsed job's rows and rejects to the sinks and applies its panes.
fn apply_done(
    d: JobDone,
    engine: &mut Engine,
    counters: &mut Counters,
    sinks: &mut Sinks,
) -> anyhow::Result<()> {
    counters.ok += d.ok;
    counters.degraded += d.degraded;
    counters.rejected += d.rejects.len() as u64;
    counters.lines += d.ok + d.degraded + d.rejects.len() as u64;
    for (why, line, offset) in &d.rejects {
        sinks.reject_at(why, line, &d.source, *offset)?;
    }
    if let Some(rows) = d.requests {
        sinks.requests(rows)?;
    }
    let out = engine.apply(d.panes).context("applying a batch")?;
    emit(out, counters, sinks)
}

fn emit(
    out: hitstream_window::Output,
    counters: &mut Counters,
    sinks: &mut Sinks,
) -> anyhow::Result<()> {
    for w in &out.windows {
        counters.windows += 1;
        sinks.window(w)?;
    }
    for a in &out.alerts {
        counters.alerts += 1;
        sinks.alert(a)?;
    }
    for l in &out.late {
        counters.late += 1;
        sinks.late(l)?;
    }
    Ok(())
}

/// Lines `--format auto` looks at, and how long it waits for them.
const DETECT_LINES: usize = 200;
const DETECT_WAIT: Duration = Duration::from_secs(1);

/// The parser for the configured format, and what detection chose (to tell the user).
fn make_parser(format: &str, sample: &[&[u8]]) -> anyhow::Result<(Parser, Option<String>)> {
    if !format.trim().eq_ignore_ascii_case("auto") {
        return Ok((
            Parser::new(FormatSpec::from_str_any(format).context("format")?),
            None,
        ));
    }
    match detect(sample.iter().copied()) {
        Some(d) => Ok((Parser::new(d.spec.clone()), Some(d.describe()))),
        None => bail!(
            "--format auto: no preset parses the first lines; give the format with --format \
             (an nginx log_format or Apache LogFormat string)"
        ),
    }
}
