//! Sources as the runtime sees them: a [`RunSource`] polls batches and says whether what it
//! delivered can be read again after a crash. A replayable source names each batch by an
//! opaque, serializable extent (files: fingerprint, path when read, byte range), stored in
//! the epoch record; recovery hands the extent back to [`RunSource::reread`], which finds
//! the same lines wherever they are now (a file renamed or copied by rotation).
//!
//! The built-in sources are opened from a [`SourceSpec`]; others (the demo's generator,
//! Kafka next) come as a [`SourceSpec::Custom`] factory.

use std::path::PathBuf;
use std::time::Duration;

use hitstream_source::{
    spool, Batch, Checkpoint, FileExtent, FileSource, FileSourceConfig, Fingerprint, LineLimits,
    Poll, Source, SourceError, SpoolConfig, SpoolWriter, Spooler, StreamSource, SyslogConfig,
    SyslogSource, TcpConfig, TcpSource,
};

use hitstream_source::net::ConnLimits;
use hitstream_source::NetStatsHandle;

use crate::error::{BoxError, RuntimeError};
use crate::stats::{NetProbe, NetStatus};

/// A source of the pipeline. One thread polls it; recovery calls [`RunSource::reread`]
/// before that thread starts.
pub trait RunSource: Send {
    /// A short name for messages (`tail /var/log/nginx/access.log*`).
    fn name(&self) -> &str;

    /// Waits up to `timeout` for the next batch.
    fn poll(&mut self, timeout: Duration) -> Poll;

    /// Problems met since the last call; they do not stop the source.
    fn take_problems(&mut self) -> Vec<SourceError> {
        Vec::new()
    }

    /// Whether what this source delivered can be read again after a crash.
    fn replayable(&self) -> bool {
        false
    }

    /// The extent of a batch this source delivered, to record ahead (replayable sources).
    fn extent(&self, _batch: &Batch) -> Option<serde_json::Value> {
        None
    }

    /// Reads the lines of a recorded extent again.
    fn reread(&mut self, _extent: &serde_json::Value) -> Result<Batch, SourceError> {
        Err(SourceError::Config(format!(
            "{} cannot read its input again",
            self.name()
        )))
    }

    /// The positions in `durable` are persisted: drop what is no longer needed (consumed
    /// spool segments) and return the files whose positions can be forgotten (not seen for
    /// long: deleted rotations).
    fn checkpointed(&mut self, _durable: &Checkpoint) -> Vec<Fingerprint> {
        Vec::new()
    }

    /// How far the source is behind its input, when it can tell.
    fn lag(&self) -> Lag {
        Lag::default()
    }

    /// Listening sources: reads their connection and spool counters from any thread.
    fn net_probe(&self) -> Option<crate::stats::NetProbe> {
        None
    }

    /// The pipeline is done with the source (stop spool threads, leave a consumer group).
    /// Called after the pipeline's last epoch was stored, or failed to be: nothing the
    /// source handed over is still on its way, so a [`Barrier`] has nothing left to wait
    /// for.
    fn close(&mut self) {}

    /// Hands the source its [`Barrier`], before the first poll. A source whose parts move
    /// to other processes (a consumer group's partitions) waits on it before letting a
    /// part go, so that everything it read from the part is stored first.
    fn set_barrier(&mut self, _barrier: Barrier) {}

    /// Recovery is about to repeat an epoch. `held`: the epoch sinks hold it already (the
    /// lines are this process's own); when not, a source whose parts move between
    /// processes leaves out of [`RunSource::reread_owned`] the parts another process has
    /// stored since.
    fn before_replay(&mut self, _held: bool) {}

    /// [`RunSource::reread`], leaving out lines of parts that another process stored since
    /// the epoch was recorded (see [`RunSource::before_replay`]). Returns the batch and the
    /// number of lines left out.
    fn reread_owned(&mut self, extent: &serde_json::Value) -> Result<(Batch, u64), SourceError> {
        self.reread(extent).map(|b| (b, 0))
    }

    /// After a repeated epoch: corrects the positions it recorded where the source left
    /// parts out (their positions are no longer this process's to keep).
    fn correct_positions(&self, _positions: &mut Checkpoint) {}
}

/// What a source waits on to have everything it handed over so far stored: the pipeline
/// closes the epoch under way (write-ahead record, commit of every epoch sink,
/// checkpoint) and then answers. Without a checkpoint directory it answers at once.
#[derive(Clone)]
pub struct Barrier {
    /// The source's own channel to the coordinator: the ask comes after the batches the
    /// source handed over before it.
    pub(crate) tx: crossbeam_channel::Sender<crate::coordinator::SourceMsg>,
}

impl std::fmt::Debug for Barrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Barrier")
    }
}

impl Barrier {
    /// Blocks until the pipeline stored everything this source handed over before the
    /// call, or `timeout` passed, or the pipeline stopped. True when stored.
    pub fn wait(&self, timeout: Duration) -> bool {
        let (tx, rx) = crossbeam_channel::bounded(1);
        if self
            .tx
            .send(crate::coordinator::SourceMsg::Barrier(tx))
            .is_err()
        {
            return false;
        }
        rx.recv_timeout(timeout).unwrap_or(false)
    }
}

/// How far a source is behind its input: bytes written to files and not yet read, or records
/// in a topic not yet consumed. `None` where the source cannot tell (sockets, stdin).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Lag {
    /// Bytes not yet read (files, spools).
    pub bytes: Option<u64>,
    /// Records not yet consumed (Kafka).
    pub records: Option<u64>,
    /// Kafka: lines whose origin headers were not trusted (no valid MAC under
    /// `--origin-key`, or offsets no shipper writes), stored as new lines; since the first
    /// start. Not a lag, but written with it after every poll.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untrusted: Option<u64>,
}

/// Opens a custom source from the positions of the last checkpoint.
pub trait SourceFactory: Send {
    /// The source, starting after `positions`.
    fn open(self: Box<Self>, positions: &Checkpoint) -> Result<Box<dyn RunSource>, BoxError>;
}

impl<F> SourceFactory for F
where
    F: FnOnce(&Checkpoint) -> Result<Box<dyn RunSource>, BoxError> + Send,
{
    fn open(self: Box<Self>, positions: &Checkpoint) -> Result<Box<dyn RunSource>, BoxError> {
        self(positions)
    }
}

/// The transports a syslog source listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP datagrams.
    Udp,
    /// TCP (octet counting or newline framing).
    Tcp,
    /// Both, on the same port number.
    Both,
}

/// A source of the pipeline, as configured.
pub enum SourceSpec {
    /// Files or glob patterns, read once or followed across rotation.
    Files {
        /// Paths or patterns.
        paths: Vec<String>,
        /// Follow like `tail -F`.
        follow: bool,
        /// How often to look for new data (default 200 ms).
        poll_interval: Option<Duration>,
    },
    /// Files with every setting of the file source (the open-file cap, symbolic links,
    /// intervals); [`SourceSpec::Files`] is this with the defaults.
    FileConfig(FileSourceConfig),
    /// Standard input (cannot be read again).
    Stdin,
    /// Newline-delimited TCP on an address.
    Tcp {
        /// Listen address.
        listen: String,
        /// The spool (exactly-once from the spool on); None: at-most-once.
        spool: Option<SpoolConfig>,
        /// The cap on connections and their idle timeout.
        conn: ConnLimits,
    },
    /// Syslog over UDP and/or TCP.
    Syslog {
        /// Listen address.
        listen: String,
        /// Transports.
        transport: Transport,
        /// The spool; None: at-most-once.
        spool: Option<SpoolConfig>,
        /// The cap on TCP connections and their idle timeout.
        conn: ConnLimits,
    },
    /// Any other source.
    Custom {
        /// Its name, for messages before it is open.
        name: String,
        /// Opens it.
        factory: Box<dyn SourceFactory>,
    },
}

impl SourceSpec {
    /// Whether its lines are written as they happen, so that the wall clock bounds their
    /// times (`max_future`): every source but files read once and stdin.
    pub fn is_live(&self) -> bool {
        match self {
            SourceSpec::Files { follow, .. } => *follow,
            SourceSpec::FileConfig(c) => c.follow,
            SourceSpec::Stdin => false,
            _ => true,
        }
    }
}

impl std::fmt::Debug for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl SourceSpec {
    /// A readable name.
    pub fn name(&self) -> String {
        match self {
            SourceSpec::Files { paths, follow, .. } => {
                format!(
                    "{} {}",
                    if *follow { "tail" } else { "file" },
                    paths.join(",")
                )
            }
            SourceSpec::FileConfig(c) => {
                format!(
                    "{} {}",
                    if c.follow { "tail" } else { "file" },
                    c.include.join(",")
                )
            }
            SourceSpec::Stdin => "stdin".into(),
            SourceSpec::Tcp { listen, spool, .. } => net_name("tcp", listen, spool.is_some()),
            SourceSpec::Syslog { listen, spool, .. } => net_name("syslog", listen, spool.is_some()),
            SourceSpec::Custom { name, .. } => name.clone(),
        }
    }

    /// Opens the source, starting after `positions`.
    pub fn open(
        self,
        positions: &Checkpoint,
        forget_after: Duration,
    ) -> Result<Box<dyn RunSource>, RuntimeError> {
        let name = self.name();
        let wrap = |source: BoxError| RuntimeError::Source {
            name: name.clone(),
            source,
        };
        match self {
            SourceSpec::Files {
                paths,
                follow,
                poll_interval,
            } => {
                let mut fc = FileSourceConfig::new(paths.iter().cloned()).follow(follow);
                if let Some(p) = poll_interval {
                    fc.poll_interval_ms = p.as_millis().max(1) as u64;
                }
                let src = FileSource::new(fc, positions).map_err(|e| wrap(e.into()))?;
                Ok(Box::new(FileInput::new(name.clone(), src, forget_after)))
            }
            SourceSpec::FileConfig(fc) => {
                let src = FileSource::new(fc, positions).map_err(|e| wrap(e.into()))?;
                Ok(Box::new(FileInput::new(name.clone(), src, forget_after)))
            }
            SourceSpec::Stdin => Ok(Box::new(Stream {
                name,
                probe: None,
                inner: Box::new(StreamSource::stdin(LineLimits::default())),
            })),
            SourceSpec::Tcp {
                listen,
                spool,
                conn,
            } => {
                let mut tc = TcpConfig::new(&listen);
                tc.max_connections = conn.max_connections;
                tc.idle_timeout = conn.idle_timeout;
                let tcp = TcpSource::bind(tc).map_err(|e| wrap(e.into()))?;
                let stats = tcp.stats_handle();
                let src: Box<dyn Source> = Box::new(tcp);
                net(name.clone(), src, stats, spool, positions, forget_after).map_err(wrap)
            }
            SourceSpec::Syslog {
                listen,
                transport,
                spool,
                conn,
            } => {
                let (udp, tcp) = match transport {
                    Transport::Udp => (Some(listen.clone()), None),
                    Transport::Tcp => (None, Some(listen.clone())),
                    Transport::Both => (Some(listen.clone()), Some(listen.clone())),
                };
                let syslog = SyslogSource::bind(SyslogConfig {
                    udp,
                    tcp,
                    max_connections: conn.max_connections,
                    idle_timeout: conn.idle_timeout,
                    ..SyslogConfig::default()
                })
                .map_err(|e| wrap(e.into()))?;
                let stats = syslog.stats_handle();
                let src: Box<dyn Source> = Box::new(syslog);
                net(name.clone(), src, stats, spool, positions, forget_after).map_err(wrap)
            }
            SourceSpec::Custom { factory, .. } => factory.open(positions).map_err(wrap),
        }
    }
}

fn net_name(kind: &str, listen: &str, spooled: bool) -> String {
    if spooled {
        format!("{kind} {listen} (spooled)")
    } else {
        format!("{kind} {listen} (at-most-once)")
    }
}

fn net(
    name: String,
    src: Box<dyn Source>,
    stats: NetStatsHandle,
    spool: Option<SpoolConfig>,
    positions: &Checkpoint,
    forget_after: Duration,
) -> Result<Box<dyn RunSource>, BoxError> {
    let Some(cfg) = spool else {
        let probe = NetProbe(std::sync::Arc::new(move || NetStatus {
            connections: Some(stats.get()),
            spool: None,
        }));
        return Ok(Box::new(Stream {
            name,
            inner: src,
            probe: Some(probe),
        }));
    };
    let dir = cfg.dir.clone();
    let writer = SpoolWriter::open(cfg)?;
    let spooler = Spooler::spawn(Boxed(src), writer)?;
    let spool_stats = spooler.stats_handle();
    let probe = NetProbe(std::sync::Arc::new(move || NetStatus {
        connections: Some(stats.get()),
        spool: Some(spool_stats.get()),
    }));
    let reader = FileSource::new(spool::reader_config(&dir), positions)?;
    Ok(Box::new(Spooled {
        files: FileInput::new(name, reader, forget_after),
        dir,
        spooler: Some(spooler),
        probe,
    }))
}

/// A boxed source as a sized one, for APIs generic over `Source`.
struct Boxed(Box<dyn Source>);

impl Source for Boxed {
    fn poll(&mut self, timeout: Duration) -> Poll {
        self.0.poll(timeout)
    }
    fn take_problems(&mut self) -> Vec<SourceError> {
        self.0.take_problems()
    }
}

/// A source that cannot be read again (stdin, sockets without a spool, a generator).
pub struct Stream {
    name: String,
    inner: Box<dyn Source>,
    probe: Option<NetProbe>,
}

impl Stream {
    /// Wraps any [`Source`] as a source that cannot be read again.
    pub fn new(name: impl Into<String>, inner: Box<dyn Source>) -> Stream {
        Stream {
            name: name.into(),
            inner,
            probe: None,
        }
    }
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl RunSource for Stream {
    fn name(&self) -> &str {
        &self.name
    }
    fn poll(&mut self, timeout: Duration) -> Poll {
        self.inner.poll(timeout)
    }
    fn take_problems(&mut self) -> Vec<SourceError> {
        self.inner.take_problems()
    }
    fn net_probe(&self) -> Option<NetProbe> {
        self.probe.clone()
    }
}

/// Files: replayable by fingerprint and byte range.
pub struct FileInput {
    name: String,
    src: FileSource,
    forget_after: Duration,
    problems: Vec<SourceError>,
}

impl FileInput {
    /// A file source; positions of files not seen under its patterns for `forget_after`
    /// are dropped from the checkpoint.
    pub fn new(name: String, src: FileSource, forget_after: Duration) -> FileInput {
        FileInput {
            name,
            src,
            forget_after,
            problems: Vec::new(),
        }
    }
}

impl std::fmt::Debug for FileInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl RunSource for FileInput {
    fn name(&self) -> &str {
        &self.name
    }
    fn poll(&mut self, timeout: Duration) -> Poll {
        self.src.poll(timeout)
    }
    fn take_problems(&mut self) -> Vec<SourceError> {
        let mut p = std::mem::take(&mut self.problems);
        p.extend(self.src.take_problems());
        p
    }
    fn replayable(&self) -> bool {
        true
    }
    fn extent(&self, batch: &Batch) -> Option<serde_json::Value> {
        serde_json::to_value(batch.file_extent()?).ok()
    }
    fn reread(&mut self, extent: &serde_json::Value) -> Result<Batch, SourceError> {
        let e: FileExtent = serde_json::from_value(extent.clone())
            .map_err(|e| SourceError::Config(format!("a recorded file extent is damaged: {e}")))?;
        self.src.reread(&e)
    }
    fn lag(&self) -> Lag {
        Lag {
            bytes: Some(self.src.lag_bytes()),
            ..Lag::default()
        }
    }
    fn checkpointed(&mut self, durable: &Checkpoint) -> Vec<Fingerprint> {
        let mut cp = durable.clone();
        self.src.prune_checkpoint(&mut cp, self.forget_after);
        durable
            .files
            .keys()
            .filter(|k| cp.get(k).is_none())
            .copied()
            .collect()
    }
}

/// A network source written to a spool first, read back as files.
struct Spooled {
    files: FileInput,
    dir: PathBuf,
    spooler: Option<Spooler>,
    probe: NetProbe,
}

impl RunSource for Spooled {
    fn name(&self) -> &str {
        self.files.name()
    }
    fn poll(&mut self, timeout: Duration) -> Poll {
        self.files.poll(timeout)
    }
    fn take_problems(&mut self) -> Vec<SourceError> {
        let mut p = self.files.take_problems();
        if let Some(s) = &self.spooler {
            p.extend(s.take_problems());
        }
        p
    }
    fn replayable(&self) -> bool {
        true
    }
    fn extent(&self, batch: &Batch) -> Option<serde_json::Value> {
        self.files.extent(batch)
    }
    fn reread(&mut self, extent: &serde_json::Value) -> Result<Batch, SourceError> {
        self.files.reread(extent)
    }
    fn lag(&self) -> Lag {
        self.files.lag()
    }
    fn net_probe(&self) -> Option<NetProbe> {
        Some(self.probe.clone())
    }
    fn checkpointed(&mut self, durable: &Checkpoint) -> Vec<Fingerprint> {
        // Segments read to their end by a durable checkpoint are never needed again, not
        // even to repeat an epoch (which starts at that checkpoint).
        if let Err(e) = spool::remove_consumed(&self.dir, durable) {
            self.files.src_problem(e);
        }
        self.files.checkpointed(durable)
    }
    fn close(&mut self) {
        if let Some(s) = self.spooler.take() {
            s.stop();
        }
    }
}

impl FileInput {
    fn src_problem(&mut self, e: SourceError) {
        self.problems.push(e);
    }
}
