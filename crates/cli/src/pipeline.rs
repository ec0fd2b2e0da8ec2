//! From a checked [`Config`] to a running `hitstream-runtime` pipeline: the settings, the
//! sources, the outputs and the lake; then the console or the live view read its events
//! until it ends. `run` and `demo` both come through here.

use std::time::{Duration, Instant};

use anyhow::Context;
use hitstream_runtime::output::{JsonKind, JsonLines, LineFile};
use hitstream_runtime::{Event, Handle, Pipeline, PipelineSpec, SourceSpec, Status, Transport};
use hitstream_window::EngineConfig;

use crate::config::{Config, SourceKind, SyslogProtocol};
use crate::tui::{self, RunStats, UiEvent};

fn engine_config(cfg: &Config) -> anyhow::Result<EngineConfig> {
    let w = &cfg.window;
    let mut e = EngineConfig {
        size: w.size.as_secs().max(1),
        slide: w.slide.map_or(0, |s| s.as_secs()),
        lateness: w.lateness.as_secs(),
        top_n: w.top,
        max_future: w.max_future.as_secs(),
        max_jump: w.max_jump.as_secs(),
        jump_confirm: w.jump_confirm,
        in_flight: hitstream_runtime::IN_FLIGHT,
        ..EngineConfig::default()
    };
    if let Some(rules) = &cfg.alert {
        e.alerts = rules.clone();
    }
    e.validate().context("window settings")?;
    Ok(e)
}

/// The runtime's settings for a configuration.
pub fn spec(cfg: &Config, threads: Option<usize>) -> anyhow::Result<PipelineSpec> {
    let mut s = PipelineSpec::new(cfg.format.clone(), engine_config(cfg)?);
    s.idle_timeout = cfg.window.idle_timeout;
    s.checkpoint_dir = cfg.checkpoint.dir.clone();
    s.checkpoint_interval = cfg.checkpoint.interval;
    s.forget_files_after = cfg.checkpoint.forget_after;
    if let Some(t) = threads {
        s.threads = t.max(1);
    }
    if let Some(l) = &cfg.lake {
        s.max_buffered_rows = l.max_buffered_rows.max(1);
    }
    Ok(s)
}

/// The configured sources; Kafka sources read their partitions' positions from `store`
/// when the lake is shared by a consumer group.
pub fn sources(
    cfg: &Config,
    store: Option<&std::sync::Arc<dyn hitstream_runtime::PartStore>>,
) -> Vec<SourceSpec> {
    let spool = |s: &crate::config::SourceConfig| {
        s.spool.as_ref().map(|d| {
            let mut c = hitstream_source::SpoolConfig::new(d);
            if let Some(b) = s.spool_segment_bytes {
                c.segment_bytes = b.max(1);
            }
            if let Some(b) = s.spool_max_bytes {
                c.max_bytes = b;
            }
            if let Some(b) = s.malformed_max_bytes {
                c.malformed_max_bytes = b;
            }
            c
        })
    };
    let conn = |s: &crate::config::SourceConfig| {
        let mut c = hitstream_source::net::ConnLimits::default();
        if let Some(n) = s.max_connections {
            c.max_connections = n;
        }
        if let Some(d) = s.connection_idle_timeout {
            c.idle_timeout = d;
        }
        c
    };
    cfg.sources
        .iter()
        .map(|s| match s.kind {
            SourceKind::File => SourceSpec::FileConfig(file_config(s)),
            SourceKind::Stdin => SourceSpec::Stdin,
            SourceKind::Tcp => SourceSpec::Tcp {
                listen: s.listen.clone().expect("checked"),
                spool: spool(s),
                conn: conn(s),
            },
            SourceKind::Syslog => SourceSpec::Syslog {
                listen: s.listen.clone().expect("checked"),
                transport: match s.protocol {
                    SyslogProtocol::Udp => Transport::Udp,
                    SyslogProtocol::Tcp => Transport::Tcp,
                    SyslogProtocol::Both => Transport::Both,
                },
                spool: spool(s),
                conn: conn(s),
            },
            SourceKind::Kafka => kafka_source(s, store.cloned()),
        })
        .collect()
}

/// The file source's settings of a `[[source]]` of type `file`.
pub fn file_config(s: &crate::config::SourceConfig) -> hitstream_source::FileSourceConfig {
    let mut c = hitstream_source::FileSourceConfig::new(s.paths.iter().cloned()).follow(s.follow);
    if let Some(p) = s.poll_interval {
        c.poll_interval_ms = p.as_millis().max(1) as u64;
    }
    if let Some(n) = s.max_open_files {
        c.max_open_files = n;
    }
    c.follow_symlinks = s.follow_symlinks;
    c
}

/// A Kafka topic as a source of the runtime.
fn kafka_source(
    s: &crate::config::SourceConfig,
    store: Option<std::sync::Arc<dyn hitstream_runtime::PartStore>>,
) -> SourceSpec {
    let mut conn = hitstream_kafka::Connection::new(s.brokers.clone().expect("checked"));
    conn.options = s.options.clone().into_iter().collect();
    let mut kc = hitstream_kafka::KafkaSourceConfig::new(
        conn,
        s.topic.clone().expect("checked"),
        s.group.clone().unwrap_or_else(|| "hitstream".into()),
    );
    kc.stop_at_end = s.stop_at_end;
    if let Some(j) = s.max_origin_jump {
        kc.max_origin_jump = Some(j);
    }
    if let Some(n) = s.max_origins {
        kc.max_origins = n.max(1);
    }
    let origin_key = s.origin_key.clone();
    kc.store = store;
    let name = format!("kafka {}", kc.topic);
    SourceSpec::Custom {
        name,
        factory: Box::new(move |positions: &hitstream_source::Checkpoint| {
            if let Some(path) = &origin_key {
                kc.origin_key = Some(hitstream_kafka::OriginKey::from_file(path)?);
            }
            let src = hitstream_kafka::KafkaSource::open(kc, positions)?;
            Ok(Box::new(src) as Box<dyn hitstream_runtime::RunSource>)
        }),
    }
}

/// Notes of the runtime that only inform (what runs, where it resumes, the format it
/// detected): `-q` hides them. Every other note (a warning, a file deleted before its end,
/// lines that cannot be read again) is always shown.
fn informational(note: &str) -> bool {
    [
        "hitstream run: ",
        "resuming from checkpoint",
        "repeating epoch",
        "format: auto-detected",
    ]
    .iter()
    .any(|p| note.starts_with(p))
}

/// The pipeline of a configuration, with extra sources (the demo's generator), and the
/// notes to show once something reads them.
pub fn build(
    cfg: &Config,
    threads: Option<usize>,
    extra: Vec<SourceSpec>,
) -> anyhow::Result<(Pipeline, Vec<String>)> {
    let mut p = Pipeline::new(spec(cfg, threads)?);
    let mut notes = Vec::new();
    // The lake first: with a Kafka source, the partitions' positions are read from it.
    let mut sink = None;
    let mut store = None;
    if let Some(l) = &cfg.lake {
        let e = engine_config(cfg)?;
        let opts = hitstream_lake::RunSinkOptions {
            optimize_every: (!l.optimize_interval.is_zero()).then_some(l.optimize_interval),
            retention: l.retention,
            window: Some(hitstream_lake::WindowShape {
                size: e.size,
                slide: e.slide,
                offset: e.align_offset,
                top: e.top_n as u64,
            }),
        };
        let mut s = hitstream_lake::LakeSink::open(&l.data, opts)
            .with_context(|| format!("opening the lake `{}`", l.data))?;
        let kafka = cfg.sources.iter().any(|s| s.kind == SourceKind::Kafka);
        if let (true, Some(dir)) = (kafka, &cfg.checkpoint.dir) {
            // Every member of a consumer group may write to this lake: each commits under
            // an id of its own, kept with its checkpoints, and stores its partitions'
            // positions with its rows.
            let id = instance_id(dir)?;
            s = s.shared(&id, Box::new(hitstream_kafka::shared_parts));
            store = Some(
                s.part_store()
                    .with_context(|| format!("opening the lake `{}`", l.data))?,
            );
        }
        sink = Some(s);
    }
    for s in sources(cfg, store.as_ref()).into_iter().chain(extra) {
        p = p.source(s);
    }
    let o = &cfg.output;
    let boxed = |e: hitstream_runtime::BoxError| anyhow::anyhow!(e);
    if let Some(path) = &o.jsonl {
        let out = JsonLines::open(path, JsonKind::Windows).map_err(boxed)?;
        notes.extend(out.repaired.clone());
        p = p.output(Box::new(out));
    }
    if let Some(path) = &o.alerts {
        let out = JsonLines::open(path, JsonKind::Alerts).map_err(boxed)?;
        notes.extend(out.repaired.clone());
        p = p.output(Box::new(out));
    }
    if let Some(path) = &o.late {
        let out = LineFile::late(path).map_err(boxed)?;
        notes.extend(out.repaired.clone());
        p = p.output(Box::new(out));
    }
    if let Some(path) = &o.rejects {
        let out = LineFile::rejects(path).map_err(boxed)?;
        notes.extend(out.repaired.clone());
        p = p.output(Box::new(out));
    }
    if o.results_topic.is_some() || o.alerts_topic.is_some() {
        let conn = hitstream_kafka::Connection::new(o.kafka_brokers.clone().expect("checked"));
        let out = hitstream_kafka::KafkaOutput::new(
            &conn,
            o.results_topic.clone(),
            o.alerts_topic.clone(),
        )
        .map_err(|e| anyhow::anyhow!("kafka output: {e}"))?;
        p = p.output(Box::new(out));
    }
    if let Some(sink) = sink {
        p = p.epoch_sink(Box::new(sink));
    }
    if let Some(s) = crate::cmd_report::Schedule::from_config(cfg)? {
        p = p.scheduled(Box::new(s));
    }
    Ok((p, notes))
}

/// This process's id among the processes that write one lake, made once and kept in the
/// checkpoint directory (so a restart goes on under the same id).
fn instance_id(dir: &std::path::Path) -> anyhow::Result<String> {
    use std::hash::{BuildHasher, Hasher};
    let path = dir.join("instance");
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading `{}`", path.display())),
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    // RandomState is seeded from the OS: two processes (or machines) get different ids.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    let id = format!("{:016x}", h.finish());
    hitstream_source::write_atomic(&path, id.as_bytes())
        .with_context(|| format!("writing `{}`", path.display()))?;
    Ok(id)
}

/// Runs the pipeline of a configuration to its end (bounded input, Ctrl-C, SIGTERM, `q` in
/// the live view), with the console or the live view reading its events.
pub fn run(cfg: &Config, threads: Option<usize>, extra: Vec<SourceSpec>) -> anyhow::Result<()> {
    run_with(cfg, threads, extra, None)
}

/// Called on its own thread once the pipeline runs, with what stops it and what watches it:
/// for a caller that decides when an unbounded source is done (the demo through Kafka).
pub type OnStart = Box<dyn FnOnce(hitstream_runtime::Stopper, hitstream_runtime::Watch) + Send>;

/// [`run`], and `on_start` once the pipeline runs.
pub fn run_with(
    cfg: &Config,
    threads: Option<usize>,
    extra: Vec<SourceSpec>,
    on_start: Option<OnStart>,
) -> anyhow::Result<()> {
    run_inner(cfg, threads, extra, on_start, None).map(|_| ())
}

/// [`run`] for `hitstream run`, which may go on from saved state: its summary then counts
/// what this run read, and says so when that is nothing. Returns the counts of this run,
/// for the checks of its exit status.
pub fn run_resuming(
    cfg: &Config,
    threads: Option<usize>,
    resume: Option<crate::state::Resume>,
) -> anyhow::Result<hitstream_runtime::Counters> {
    run_inner(cfg, threads, Vec::new(), None, resume)
}

fn run_inner(
    cfg: &Config,
    threads: Option<usize>,
    extra: Vec<SourceSpec>,
    on_start: Option<OnStart>,
    resume: Option<crate::state::Resume>,
) -> anyhow::Result<hitstream_runtime::Counters> {
    let (mut p, notes) = build(cfg, threads, extra)?;
    let watch = p.watch();
    let events = p.subscribe();
    let stopper = p.stopper();
    {
        let s = stopper.clone();
        ctrlc::set_handler(move || s.stop()).context("installing the SIGINT/SIGTERM handler")?;
    }
    let o = &cfg.output;
    let server = match cfg
        .http
        .server(cfg.lake.as_ref().map(|l| l.data.as_str()))?
    {
        Some(sc) => {
            let live = hitstream_server::Live::watch(p.watch());
            let s = hitstream_server::Server::start(&sc, live).context("the dashboard")?;
            crate::verbosity::info!("dashboard: {}", s.url());
            Some(s)
        }
        None => None,
    };
    let handle = p.start()?;
    if let Some(f) = on_start {
        let s = stopper.clone();
        std::thread::spawn(move || f(s, watch));
    }
    if o.tui {
        let ui = run_tui(&handle, events, notes);
        if ui.is_err() {
            handle.stop();
        }
        let end = handle.wait();
        drop(server);
        ui?;
        let st = end.map_err(|e| state_error(e, resume.as_ref()))?;
        return Ok(summary(&st, resume.as_ref()));
    }
    // Windows as tables on stdout, unless JSON lines go there; alerts and notes on stderr.
    let windows = o.console && o.jsonl.as_deref() != Some("-");
    for n in notes {
        eprintln!("{}", crate::output::clean_lines(&n));
    }
    let console = std::thread::spawn(move || console(events, windows));
    let end = handle.wait();
    let _ = console.join();
    // The dashboard stops with the pipeline: open event streams end, then the server.
    drop(server);
    let st = end.map_err(|e| state_error(e, resume.as_ref()))?;
    Ok(summary(&st, resume.as_ref()))
}

/// A run that cannot go on from its state (made with other window or alert settings, or
/// another run's) names the way out.
fn state_error(
    e: hitstream_runtime::RuntimeError,
    resume: Option<&crate::state::Resume>,
) -> anyhow::Error {
    match (&e, resume) {
        // Another process holds the directory: removing it would be the wrong advice.
        (hitstream_runtime::RuntimeError::Recovery(m), Some(r))
            if m.contains("in use by another hitstream process") =>
        {
            let hint = if r.default {
                " (another run follows the same sources: stop it, or give --no-state)"
            } else {
                ""
            };
            anyhow::Error::new(e)
                .context(format!("cannot use the state in {}{hint}", r.dir.display()))
        }
        (hitstream_runtime::RuntimeError::Recovery(_), Some(r)) => {
            anyhow::Error::new(e).context(format!(
                "cannot go on from the state in {} ({})",
                r.dir.display(),
                r.fix
            ))
        }
        _ => e.into(),
    }
}

/// What this run added to the counters it resumed with (the counts the summary prints;
/// the rest as they are now).
fn since(
    now: &hitstream_runtime::Counters,
    before: &hitstream_runtime::Counters,
) -> hitstream_runtime::Counters {
    let mut d = now.clone();
    d.lines = now.lines.saturating_sub(before.lines);
    d.ok = now.ok.saturating_sub(before.ok);
    d.degraded = now.degraded.saturating_sub(before.degraded);
    d.rejected = now.rejected.saturating_sub(before.rejected);
    d.late = now.late.saturating_sub(before.late);
    d.future = now.future.saturating_sub(before.future);
    d.windows = now.windows.saturating_sub(before.windows);
    d.alerts = now.alerts.saturating_sub(before.alerts);
    d.lost = now.lost.saturating_sub(before.lost);
    for (m, b) in [
        (&mut d.oddities, &before.oddities),
        (&mut d.reject_reasons, &before.reject_reasons),
    ] {
        for (k, v) in m.iter_mut() {
            *v = v.saturating_sub(b.get(k).copied().unwrap_or(0));
        }
        m.retain(|_, v| *v > 0);
    }
    d
}

/// Prints the end-of-run summary; returns the counts of this run.
fn summary(st: &Status, resume: Option<&crate::state::Resume>) -> hitstream_runtime::Counters {
    // A run that went on from saved state reports what it read itself, then the totals:
    // two runs in a row must not look as if they had both read everything.
    let before = resume.and_then(|r| r.before.as_ref());
    let this;
    let c = match before {
        Some(b) => {
            this = since(&st.counters, &b.counters);
            &this
        }
        None => &st.counters,
    };
    let lost = if c.lost > 0 {
        format!(", {} lost", c.lost)
    } else {
        String::new()
    };
    let future = if c.future > 0 {
        format!(", {} future", c.future)
    } else {
        String::new()
    };
    for s in &st.sources {
        if let Some(n) = s.probe.as_ref().map(hitstream_runtime::NetProbe::get) {
            crate::verbosity::info!("{}", crate::cmd_run::net_line(&s.name, &n));
        }
    }
    let totals = match before {
        Some(_) => format!(
            " in this run; {} lines, {} windows, {} alerts in all since the state began",
            st.counters.lines, st.counters.windows, st.counters.alerts
        ),
        None => String::new(),
    };
    crate::verbosity::info!(
        "hitstream run: {} lines ({} ok, {} degraded, {} rejected{future}, {} late{lost}), {} windows, {} alerts{totals}",
        c.lines, c.ok, c.degraded, c.rejected, c.late, c.windows, c.alerts
    );
    if let (Some(r), Some(b)) = (resume, before) {
        if c.lines == 0 {
            let at = b
                .saved_at
                .map_or_else(|| "the last run".to_string(), crate::state::when);
            crate::verbosity::info!("hitstream run: nothing new since {at}; {}", r.again);
        }
    }
    let untrusted: u64 = st.sources.iter().filter_map(|s| s.lag.untrusted).sum();
    if untrusted > 0 {
        eprintln!(
            "hitstream run: {untrusted} Kafka lines had origin headers that were not trusted \
             (stored as new lines, not checked for repeats; see --origin-key)"
        );
    }
    c.clone()
}

/// The console: one reader of the pipeline's events.
fn console(events: crossbeam_channel::Receiver<Event>, windows: bool) {
    use std::io::Write;
    for ev in events.iter() {
        match ev {
            Event::Window(w) if windows => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(crate::console::render_window(&w).as_bytes());
                let _ = out.flush();
            }
            Event::Alert(a) => eprintln!("{}", crate::console::render_alert(&a)),
            // The error that ends the run is also what `main` prints, once, as it exits.
            Event::Note(n) if n.starts_with("error: ") => {}
            // Notes can quote paths and lines.
            Event::Note(n) if informational(&n) => {
                crate::verbosity::info!("{}", crate::output::clean_lines(&n))
            }
            Event::Note(n) => eprintln!("{}", crate::output::clean_lines(&n)),
            Event::End => return,
            _ => {}
        }
    }
}

/// The live view: another reader of the same events, with the status for its header.
fn run_tui(
    handle: &Handle,
    events: crossbeam_channel::Receiver<Event>,
    notes: Vec<String>,
) -> anyhow::Result<()> {
    let status = || handle.status();
    let (tx, rx) = crossbeam_channel::unbounded();
    let quit = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let view = tui::spawn(rx, quit.clone()).context("starting the terminal view")?;
    for n in notes {
        let _ = tx.send(UiEvent::Message(n));
    }
    let stats = |st: &Status| {
        UiEvent::Stats(RunStats {
            lines: st.counters.lines,
            ok: st.counters.ok,
            degraded: st.counters.degraded,
            rejected: st.counters.rejected,
            late: st.counters.late,
            lines_per_sec: st.lines_per_sec,
            watermark: st.watermark,
            sources: st.sources_desc(),
        })
    };
    let mut last = Instant::now();
    loop {
        if quit.load(std::sync::atomic::Ordering::SeqCst) {
            handle.stop();
        }
        match events.recv_timeout(Duration::from_millis(100)) {
            Ok(Event::Window(w)) => {
                let _ = tx.send(UiEvent::Window((*w).clone()));
            }
            Ok(Event::Alert(a)) => {
                let _ = tx.send(UiEvent::Alert((*a).clone()));
            }
            Ok(Event::Note(n)) => {
                let _ = tx.send(UiEvent::Message(n.to_string()));
            }
            Ok(Event::Checkpoint { .. }) => {}
            Ok(Event::End) | Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
        }
        if last.elapsed() >= Duration::from_millis(250) {
            let _ = tx.send(stats(&status()));
            last = Instant::now();
        }
    }
    // The last frame shows the final counts.
    let mut last_status = status();
    last_status.lines_per_sec = 0.0;
    let _ = tx.send(stats(&last_status));
    let _ = tx.send(UiEvent::End);
    drop(tx);
    match view.join() {
        Ok(r) => r.context("terminal view"),
        Err(_) => anyhow::bail!("the terminal view panicked"),
    }
}
