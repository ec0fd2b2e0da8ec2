//! The pipeline: a builder ([`Pipeline`]) that takes the validated settings, the sources,
//! outputs, epoch sinks and scheduled work, and a [`Handle`] to the running pipeline with
//! `stop`, `status` and `subscribe`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use hitstream_window::{Alert, EngineConfig, WindowResult};

use crate::coordinator;
use crate::error::RuntimeError;
use crate::sink::{EpochSink, Output, Scheduled};
use crate::source::SourceSpec;
use crate::stats::Status;

/// Parse jobs between creation and application. Late lines are judged against the horizon as
/// it stood this many jobs earlier, so it is a constant, not a function of the thread count:
/// the same input gives the same results on any machine and with any number of threads.
pub const IN_FLIGHT: u32 = 4;

/// The validated settings of a pipeline.
#[derive(Debug, Clone)]
pub struct PipelineSpec {
    /// `auto`, a preset name, or an nginx/Apache format string.
    pub format: String,
    /// Windows, lateness, top N, alert rules.
    pub engine: EngineConfig,
    /// Advance the watermark with the clock after this long without input.
    pub idle_timeout: Duration,
    /// Where checkpoints and epoch records live; None: no checkpoints.
    pub checkpoint_dir: Option<PathBuf>,
    /// Time between checkpoints (and epochs).
    pub checkpoint_interval: Duration,
    /// Parser threads.
    pub threads: usize,
    /// Close an epoch early when epoch sinks hold this many rows.
    pub max_buffered_rows: usize,
    /// Drop a file's position from the checkpoint once it has not been seen under the
    /// patterns for this long (a rotated file deleted for good).
    pub forget_files_after: Duration,
}

impl PipelineSpec {
    /// Settings with defaults for everything but the format and windows.
    pub fn new(format: impl Into<String>, engine: EngineConfig) -> PipelineSpec {
        PipelineSpec {
            format: format.into(),
            engine,
            idle_timeout: Duration::from_secs(5),
            checkpoint_dir: None,
            checkpoint_interval: Duration::from_secs(10),
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_buffered_rows: 200_000,
            forget_files_after: Duration::from_secs(24 * 3600),
        }
    }

    fn validate(&mut self, has_epoch_sinks: bool) -> Result<(), RuntimeError> {
        self.engine.in_flight = IN_FLIGHT;
        self.engine
            .validate()
            .map_err(|e| RuntimeError::Config(format!("window settings: {e}")))?;
        self.threads = self.threads.max(1);
        self.max_buffered_rows = self.max_buffered_rows.max(1);
        if has_epoch_sinks && self.checkpoint_dir.is_none() {
            return Err(RuntimeError::Config(
                "an epoch sink needs a checkpoint directory for its write-ahead record".into(),
            ));
        }
        Ok(())
    }
}

/// What subscribers receive, in the order the pipeline made it.
#[derive(Debug, Clone)]
pub enum Event {
    /// A window was emitted (or updated: `revision` > 0).
    Window(Arc<WindowResult>),
    /// An alert rule fired.
    Alert(Arc<Alert>),
    /// A note for the user (format detected, a source problem, an epoch repeated).
    Note(Arc<str>),
    /// Epoch `epoch` is durable (checkpointed).
    Checkpoint {
        /// The epoch.
        epoch: u64,
    },
    /// The pipeline ended; nothing follows.
    End,
}

/// State shared between the pipeline thread and its handles.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub status: Mutex<Status>,
    pub subscribers: Mutex<Vec<Sender<Event>>>,
}

impl Shared {
    pub fn publish(&self, ev: Event) {
        let mut subs = self.subscribers.lock().expect("subscribers lock");
        // A subscriber that went away is dropped; the pipeline goes on.
        subs.retain(|s| s.send(ev.clone()).is_ok());
    }

    pub fn subscribe(&self) -> Receiver<Event> {
        let (tx, rx) = crossbeam_channel::unbounded();
        self.subscribers.lock().expect("subscribers lock").push(tx);
        rx
    }
}

/// Reads a pipeline's status and subscribes to its events from any thread (the HTTP
/// server's handlers, a metrics exporter), before or after the start.
#[derive(Debug, Clone)]
pub struct Watch(Arc<Shared>);

impl Watch {
    /// The latest status.
    pub fn status(&self) -> Status {
        self.0.status.lock().expect("status lock").clone()
    }

    /// A stream of what the pipeline emits from now on.
    pub fn subscribe(&self) -> Receiver<Event> {
        self.0.subscribe()
    }
}

/// Stops a pipeline from anywhere (a signal handler, the live view, a test).
#[derive(Debug, Clone)]
pub struct Stopper(Arc<AtomicBool>);

impl Stopper {
    /// Asks the pipeline to stop: it drains what is in flight, closes the epoch and
    /// checkpoints.
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A pipeline to build: settings, then sources, outputs and sinks, then [`Pipeline::start`].
///
/// ```no_run
/// use hitstream_runtime::{Event, Pipeline, PipelineSpec, SourceSpec};
/// use hitstream_window::EngineConfig;
///
/// let spec = PipelineSpec::new("combined", EngineConfig { size: 60, ..EngineConfig::default() });
/// let mut p = Pipeline::new(spec).source(SourceSpec::Files {
///     paths: vec!["/var/log/nginx/access.log*".into()],
///     follow: true,
///     poll_interval: None,
/// });
/// let events = p.subscribe();
/// let handle = p.start().unwrap();
/// for ev in events.iter() {
///     match ev {
///         Event::Window(w) => println!("{} requests", w.requests),
///         Event::End => break,
///         _ => {}
///     }
/// }
/// handle.wait().unwrap();
/// ```
pub struct Pipeline {
    spec: PipelineSpec,
    sources: Vec<SourceSpec>,
    outputs: Vec<Box<dyn Output>>,
    sinks: Vec<Box<dyn EpochSink>>,
    scheduled: Vec<Box<dyn Scheduled>>,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("spec", &self.spec)
            .field("sources", &self.sources)
            .field("outputs", &self.outputs.len())
            .field("sinks", &self.sinks.len())
            .finish()
    }
}

impl Pipeline {
    /// A pipeline with these settings and nothing plugged in yet.
    pub fn new(spec: PipelineSpec) -> Pipeline {
        Pipeline {
            spec,
            sources: Vec::new(),
            outputs: Vec::new(),
            sinks: Vec::new(),
            scheduled: Vec::new(),
            shared: Arc::new(Shared::default()),
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Adds a source.
    pub fn source(mut self, s: SourceSpec) -> Pipeline {
        self.sources.push(s);
        self
    }

    /// Adds an output.
    pub fn output(mut self, o: Box<dyn Output>) -> Pipeline {
        self.outputs.push(o);
        self
    }

    /// Adds an epoch sink.
    pub fn epoch_sink(mut self, s: Box<dyn EpochSink>) -> Pipeline {
        self.sinks.push(s);
        self
    }

    /// Adds work to run between epochs when due.
    pub fn scheduled(mut self, s: Box<dyn Scheduled>) -> Pipeline {
        self.scheduled.push(s);
        self
    }

    /// A stream of everything the pipeline emits from its start (recovery included).
    pub fn subscribe(&mut self) -> Receiver<Event> {
        self.shared.subscribe()
    }

    /// What reads the status and events from other threads.
    pub fn watch(&self) -> Watch {
        Watch(self.shared.clone())
    }

    /// What stops the pipeline once started.
    pub fn stopper(&self) -> Stopper {
        Stopper(self.stop.clone())
    }

    /// Starts the pipeline on its own threads. Errors of opening and recovery come from
    /// [`Handle::wait`]; bad settings fail here.
    pub fn start(mut self) -> Result<Handle, RuntimeError> {
        self.spec.validate(!self.sinks.is_empty())?;
        if self.sources.is_empty() {
            return Err(RuntimeError::Config("no sources".into()));
        }
        {
            let mut st = self.shared.status.lock().expect("status lock");
            st.sources = self
                .sources
                .iter()
                .map(|s| crate::stats::SourceStatus {
                    name: s.name(),
                    replayable: false,
                    ended: false,
                    lag: crate::source::Lag::default(),
                    net: None,
                    probe: None,
                })
                .collect();
        }
        let shared = self.shared.clone();
        let stop = self.stop.clone();
        let parts = coordinator::Parts {
            spec: self.spec,
            sources: self.sources,
            outputs: self.outputs,
            sinks: self.sinks,
            scheduled: self.scheduled,
            shared: self.shared,
            stop: self.stop,
        };
        let thread = std::thread::Builder::new()
            .name("hitstream-pipeline".into())
            .spawn(move || coordinator::run(parts))
            .map_err(|e| RuntimeError::Config(format!("starting the pipeline thread: {e}")))?;
        Ok(Handle {
            stop: Stopper(stop),
            shared,
            thread,
        })
    }
}

/// A running pipeline.
#[derive(Debug)]
pub struct Handle {
    stop: Stopper,
    shared: Arc<Shared>,
    thread: JoinHandle<Result<Status, RuntimeError>>,
}

impl Handle {
    /// Asks the pipeline to stop (it checkpoints first); see [`Handle::wait`].
    pub fn stop(&self) {
        self.stop.stop();
    }

    /// What stops the pipeline, for another thread.
    pub fn stopper(&self) -> Stopper {
        self.stop.clone()
    }

    /// Where the pipeline stands now.
    pub fn status(&self) -> Status {
        self.shared.status.lock().expect("status lock").clone()
    }

    /// A stream of what the pipeline emits from now on.
    pub fn subscribe(&self) -> Receiver<Event> {
        self.shared.subscribe()
    }

    /// Whether the pipeline has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    /// Waits for the end (of bounded input, or after [`Handle::stop`]) and returns the last
    /// status.
    pub fn wait(self) -> Result<Status, RuntimeError> {
        self.thread.join().map_err(|_| RuntimeError::Panicked)?
    }
}
