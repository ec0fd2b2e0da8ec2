//! `hitstream ship`: a source (files followed across rotation, TCP, syslog, stdin) into a
//! Kafka topic, each position advanced only after Kafka confirmed delivery.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use hitstream_kafka::{Connection, KeyBy, ShipConfig};
use hitstream_runtime::{SourceSpec, Transport};
use hitstream_source::{Checkpoint, SpoolConfig};

/// Options of `hitstream ship`.
#[derive(Debug, Clone, clap::Args)]
pub struct ShipArgs {
    /// Settings from this TOML file (the package's is /etc/hitstream/ship.toml): each field
    /// is a flag of the same name, and a flag given here wins over the file.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Check the settings (file and flags) and the source's paths or addresses, print what
    /// would be shipped where, and exit without reading or connecting.
    #[arg(long)]
    pub check: bool,
    /// Follow these files or glob patterns like `tail -F` (repeatable).
    #[arg(long, value_name = "PATH")]
    pub tail: Vec<String>,
    /// Read these files or glob patterns once, then end (repeatable; `-` is stdin).
    #[arg(long, value_name = "PATH")]
    pub file: Vec<String>,
    /// Most files open at once [default: 256]. More matched files wait, oldest first; files
    /// read to their end are closed for them and opened again when they grow. Lowered (and
    /// said on stderr) when it does not fit the open-file limit (`ulimit -n`) with 128
    /// descriptors kept for ship itself.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_open_files: Option<u32>,
    /// Read paths and matches that are symbolic links (by default skipped and reported
    /// once).
    #[arg(long)]
    pub follow_symlinks: bool,
    /// Listen for newline-delimited lines on a TCP address.
    #[arg(long, value_name = "ADDR")]
    pub tcp: Option<String>,
    /// Listen for syslog on a UDP and TCP address.
    #[arg(long, value_name = "ADDR")]
    pub syslog: Option<String>,
    /// Spool TCP/syslog input to this directory first, so nothing is lost across restarts.
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,
    #[command(flatten)]
    pub net: crate::net::NetArgs,
    /// Kafka brokers, `host:port[,host:port]` (or `brokers` in --config).
    #[arg(
        long,
        value_name = "BROKERS",
        required_unless_present = "config",
        default_value = "",
        hide_default_value = true
    )]
    pub kafka: String,
    /// The topic (or `topic` in --config).
    #[arg(
        long,
        value_name = "TOPIC",
        required_unless_present = "config",
        default_value = "",
        hide_default_value = true
    )]
    pub topic: String,
    /// Message key: `client` (the line's first field), `none`, or `field:N`.
    #[arg(long, default_value = "client", value_parser = clap::value_parser!(KeyBy))]
    pub key: KeyBy,
    /// Compression: none, gzip, snappy, lz4 or zstd.
    #[arg(long, default_value = "lz4", value_parser = ["none", "gzip", "snappy", "lz4", "zstd"])]
    pub compression: String,
    /// Acknowledgements: all, 1 or 0.
    #[arg(long, default_value = "all", value_parser = ["all", "1", "0", "-1"])]
    pub acks: String,
    /// Turn off the idempotent producer: the Kafka hop is then at-least-once, one request
    /// in flight per broker, and the consumer's origin marks drop the repeats. For brokers
    /// whose idempotence state can outlive their data after a crash.
    #[arg(long)]
    pub no_idempotence: bool,
    /// Most bytes in one produce request per partition [default: librdkafka's `batch.size`,
    /// 1000000].
    #[arg(long, value_name = "BYTES")]
    pub batch_size: Option<usize>,
    /// How long to let a batch fill before sending (`5ms`).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "5ms")]
    pub linger: Duration,
    /// A librdkafka setting, `key=value` (repeatable: TLS, SASL, timeouts...).
    #[arg(long, value_name = "KEY=VALUE", value_parser = hitstream_kafka::parse_option)]
    pub kafka_option: Vec<(String, String)>,
    /// Create the topic when it does not exist.
    #[arg(long)]
    pub create_topic: bool,
    /// Partitions of a topic made by --create-topic.
    #[arg(long, default_value_t = 3, requires = "create_topic")]
    pub partitions: i32,
    /// Where the positions of what was delivered are kept. [default: a directory of this
    /// source and topic under $STATE_DIRECTORY/ship, $XDG_STATE_HOME/hitstream/ship or
    /// ~/.local/state/hitstream/ship]
    #[arg(long, value_name = "DIR")]
    pub checkpoint_dir: Option<PathBuf>,
    /// Keep no positions: ship every source from its start and save nothing for the next
    /// run (positions live in a temporary directory removed at the end).
    #[arg(long, conflicts_with = "checkpoint_dir")]
    pub no_state: bool,
    /// Time between checkpoints.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "1s")]
    pub checkpoint_interval: Duration,
    /// Most lines sent and not yet confirmed; reading waits above it (the bounded queue).
    #[arg(long, value_name = "LINES", default_value_t = 200_000)]
    pub max_in_flight: usize,
    /// Pack up to N lines of one partition into each message (1: a message per line, what
    /// any consumer reads). Several cost the shipper, the broker and `run` far less CPU per
    /// line; only `hitstream run` unpacks them.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=hitstream_kafka::MAX_LINES_PER_MESSAGE as i64))]
    pub lines_per_message: u32,
    /// Sign each message's origin headers with the key in this file (at least 16 bytes;
    /// give `run --origin-key` the same file): `run` then trusts those headers and no one
    /// else's.
    #[arg(long, value_name = "FILE")]
    pub origin_key: Option<PathBuf>,
    /// Print a status line on stderr every second.
    #[arg(long)]
    pub progress: bool,
}

fn source(a: &ShipArgs) -> anyhow::Result<SourceSpec> {
    let spool = |sub: &str| {
        a.spool.as_ref().map(|d| {
            let mut c = SpoolConfig::new(d.join(sub));
            if let Some(b) = a.net.spool_max_bytes {
                c.max_bytes = b;
            }
            if let Some(b) = a.net.spool_segment_bytes {
                c.segment_bytes = b;
            }
            if let Some(b) = a.net.malformed_max_bytes {
                c.malformed_max_bytes = b;
            }
            c
        })
    };
    let mut conn = hitstream_source::net::ConnLimits::default();
    if let Some(n) = a.net.tcp_max_connections {
        conn.max_connections = n as usize;
    }
    if let Some(d) = a.net.tcp_idle_timeout {
        if d.is_zero() {
            crate::usage::usage_bail!("--tcp-idle-timeout must be above 0");
        }
        conn.idle_timeout = d;
    }
    let mut specs = Vec::new();
    let files = |paths: Vec<String>, follow: bool| {
        let mut c = hitstream_source::FileSourceConfig::new(paths).follow(follow);
        if let Some(n) = a.max_open_files {
            c.max_open_files = n as usize;
        }
        c.follow_symlinks = a.follow_symlinks;
        SourceSpec::FileConfig(c)
    };
    if !a.tail.is_empty() {
        specs.push(files(a.tail.clone(), true));
    }
    let once: Vec<String> = a.file.iter().filter(|f| *f != "-").cloned().collect();
    if !once.is_empty() {
        specs.push(files(once, false));
    }
    if a.file.iter().any(|f| f == "-") {
        specs.push(SourceSpec::Stdin);
    }
    if let Some(l) = &a.tcp {
        specs.push(SourceSpec::Tcp {
            listen: l.clone(),
            spool: spool("tcp"),
            conn,
        });
    }
    if let Some(l) = &a.syslog {
        specs.push(SourceSpec::Syslog {
            listen: l.clone(),
            transport: Transport::Both,
            spool: spool("syslog"),
            conn,
        });
    }
    match specs.len() {
        0 => crate::usage::usage_bail!("no input: give --tail PATH, --file PATH, --tcp ADDR or --syslog ADDR"),
        1 => Ok(specs.pop().expect("one")),
        _ => crate::usage::usage_bail!("ship takes one kind of input per process (--tail, --file, --tcp or --syslog); run one ship per input"),
    }
}

/// The canonical descriptions of what this ship follows and where it sends it: the key of
/// its state directory.
fn describe(a: &ShipArgs) -> Vec<String> {
    let abs = crate::state::absolute;
    let mut d: Vec<String> = a.tail.iter().map(|p| format!("tail {}", abs(p))).collect();
    for f in &a.file {
        d.push(if f == "-" {
            "stdin".to_string()
        } else {
            format!("file {}", abs(f))
        });
    }
    d.extend(a.tcp.iter().map(|l| format!("tcp {l}")));
    d.extend(a.syslog.iter().map(|l| format!("syslog {l}")));
    d.push(format!("to kafka {} topic {}", a.kafka, a.topic));
    d
}

/// Where ship's positions live, said on stderr; a throwaway one is removed when dropped.
enum State {
    Kept(PathBuf),
    Throwaway(PathBuf),
}

impl State {
    fn path(&self) -> &std::path::Path {
        match self {
            State::Kept(p) | State::Throwaway(p) => p,
        }
    }
}

impl Drop for State {
    fn drop(&mut self) {
        if let State::Throwaway(p) = self {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

fn state_dir(a: &ShipArgs) -> anyhow::Result<State> {
    use crate::verbosity::info;
    // Before checkpoint_dir: the flag wins over a `checkpoint_dir` of ship's config file
    // (clap refuses it beside --checkpoint-dir).
    if a.no_state {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let d =
            std::env::temp_dir().join(format!("hitstream-ship-{}-{nanos:x}", std::process::id()));
        info!("state: none (--no-state: nothing is kept; the next run ships everything again)");
        return Ok(State::Throwaway(d));
    }
    if let Some(d) = &a.checkpoint_dir {
        info!("state: {} (given)", d.display());
        return Ok(State::Kept(d.clone()));
    }
    let d = crate::state::dir_for("ship", &describe(a))?;
    info!(
        "state: {} (the next run goes on from here; --no-state for a run that keeps none)",
        d.display()
    );
    Ok(State::Kept(d))
}

/// Fits the source's cap (followed files, or TCP/syslog connections) into the open-file
/// limit `limit` as `run` does (see [`crate::fds`]). Returns the warning to print when it
/// lowered it.
fn fit_open_files(spec: &mut SourceSpec, limit: Option<u64>) -> Option<String> {
    let (what, cap) = match spec {
        SourceSpec::FileConfig(c) => ("open files", &mut c.max_open_files),
        SourceSpec::Tcp { conn, .. } => ("tcp connections", &mut conn.max_connections),
        SourceSpec::Syslog { conn, .. } => ("syslog connections", &mut conn.max_connections),
        _ => return None,
    };
    let (fitted, warning) = crate::fds::fit_caps(&[(what.to_string(), *cap)], limit)?;
    *cap = fitted[0];
    Some(warning)
}

/// Runs `hitstream ship`.
pub fn run(a: ShipArgs) -> anyhow::Result<()> {
    let mut spec = source(&a)?;
    if let Some(w) = fit_open_files(&mut spec, hitstream_source::open_file_limit()) {
        eprintln!("{w}");
    }
    let origin_key = match &a.origin_key {
        Some(p) => Some(hitstream_kafka::OriginKey::from_file(p).map_err(anyhow::Error::msg)?),
        None => None,
    };
    if a.check {
        crate::ship_config::print_check(&a, &spec.name());
        return Ok(());
    }
    let mut conn = Connection::new(&a.kafka);
    conn.options = a.kafka_option.clone();
    if a.create_topic {
        let created =
            hitstream_kafka::create_topic(&conn, &a.topic, a.partitions, Duration::from_secs(30))
                .with_context(|| format!("cannot create topic `{}` on {}", a.topic, a.kafka))?;
        if created {
            crate::verbosity::info!("created topic {} with {} partitions", a.topic, a.partitions);
        }
    }
    let state = state_dir(&a)?;
    std::fs::create_dir_all(state.path())
        .with_context(|| format!("cannot create `{}`", state.path().display()))?;
    let checkpoint = state.path().join("positions.json");
    let positions = Checkpoint::load_or_default(&checkpoint)?;
    let name = spec.name();
    let src = spec
        .open(&positions, Duration::from_secs(24 * 3600))
        .with_context(|| format!("cannot open {name}"))?;
    let probe = src.net_probe();
    let mut cfg = ShipConfig::new(conn, &a.topic, checkpoint);
    cfg.key = a.key;
    cfg.compression = a.compression.clone();
    cfg.acks = a.acks.clone();
    cfg.idempotent = !a.no_idempotence;
    cfg.batch_bytes = a.batch_size;
    cfg.linger = a.linger;
    cfg.checkpoint_interval = a.checkpoint_interval;
    cfg.max_in_flight = a.max_in_flight.max(1);
    cfg.lines_per_message = a.lines_per_message as usize;
    cfg.origin_key = origin_key;

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .context("cannot install the signal handler")?;
    }
    crate::verbosity::info!("hitstream ship: {name} → {} on {}", a.topic, a.kafka);
    let mut was_waiting = false;
    let stats = hitstream_kafka::ship(&cfg, src, &stop, |s, notes| {
        for n in notes {
            eprintln!("{n}");
        }
        match s.waiting {
            Some(w) if !was_waiting || a.progress => {
                eprintln!(
                    "ship: waiting for the broker for {}s ({} lines in flight, reading paused when the queue is full)",
                    w.as_secs(),
                    s.in_flight
                );
                was_waiting = true;
            }
            None if was_waiting => {
                eprintln!("ship: the broker confirms deliveries again");
                was_waiting = false;
            }
            _ => {}
        }
        if a.progress {
            crate::verbosity::info!(
                "ship: {} read, {} delivered, {} in flight, {} failed",
                s.read,
                s.delivered,
                s.in_flight,
                s.failed
            );
            if let Some(p) = &probe {
                crate::verbosity::info!("ship: {}", crate::net::net_line(&name, &p.get()));
            }
        }
    })?;
    if let Some(p) = &probe {
        crate::verbosity::info!("ship: {}", crate::net::net_line(&name, &p.get()));
    }
    crate::verbosity::info!(
        "ship: {} lines read, {} delivered, {} refused{}",
        stats.read,
        stats.delivered,
        stats.failed,
        if stats.finished {
            ""
        } else {
            " (stopped; the rest is sent after a restart)"
        }
    );
    if stats.failed > 0 {
        bail!(
            "{} lines were refused by Kafka (see the messages above)",
            stats.failed
        );
    }
    Ok(())
}
