//! `hitstream run`: arguments → configuration → the pipeline of `hitstream-runtime`, with
//! the console or the live view reading its events.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use anyhow::Context;

use crate::config::{Config, LakeConfig, SourceConfig, SourceKind, SyslogProtocol};

/// Options of `hitstream run`. Flags override the config file.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Configuration file (TOML; see docs/config.md).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Follow these files or glob patterns like `tail -F` (repeatable). A path that does not
    /// exist yet is waited for, and a note says so.
    #[arg(long, value_name = "PATH")]
    pub tail: Vec<String>,
    /// Read these files or glob patterns once (repeatable; `-` is stdin). With only such
    /// inputs the run ends at the end of input, closing every window. Without any source,
    /// stdin is read when it is a pipe or a file (`gen | hitstream run`). A path that does
    /// not exist or is a directory, or a pattern that matches no file, is an error.
    #[arg(long, value_name = "PATH")]
    pub file: Vec<String>,
    /// Most files of a file source open at once [default: 256]. More matched files wait,
    /// oldest first; files read to their end are closed for them and opened again when they
    /// grow. Keep it well below the open-file limit (`ulimit -n`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_open_files: Option<u32>,
    /// Read paths and matches that are symbolic links. By default they are skipped and
    /// reported once: whoever can write in a log directory could otherwise have any file
    /// this process can read stored as rejected lines.
    #[arg(long)]
    pub follow_symlinks: bool,
    /// Listen for newline-delimited lines on a TCP address (at-most-once without --spool).
    #[arg(long, value_name = "ADDR")]
    pub tcp: Option<String>,
    /// Listen for syslog on a UDP and TCP address (at-most-once without --spool).
    #[arg(long, value_name = "ADDR")]
    pub syslog: Option<String>,
    /// Spool TCP/syslog input to this directory first, so nothing is lost across restarts.
    #[arg(long, value_name = "DIR")]
    pub spool: Option<PathBuf>,
    #[command(flatten)]
    pub net: NetArgs,
    /// Read this Kafka topic (`--topic`) from these brokers, as consumer group `--group`.
    #[arg(long, value_name = "BROKERS")]
    pub kafka: Option<String>,
    /// The Kafka topic (with --kafka).
    #[arg(long, value_name = "TOPIC", requires = "kafka")]
    pub topic: Option<String>,
    /// The Kafka consumer group (with --kafka) [default: hitstream].
    #[arg(long, value_name = "GROUP", requires = "kafka")]
    pub group: Option<String>,
    /// A librdkafka setting for the consumer, `key=value` (repeatable: TLS, SASL, ...).
    #[arg(long, value_name = "KEY=VALUE", value_parser = hitstream_kafka::parse_option, requires = "kafka")]
    pub kafka_option: Vec<(String, String)>,
    /// With --kafka: end once the topic is read to where it ended at the start.
    #[arg(long, requires = "kafka")]
    pub kafka_stop_at_end: bool,
    /// With --kafka: the file holding the key that `ship --origin-key` signs origin headers
    /// with (at least 16 bytes). Only messages whose MAC verifies can have lines dropped as
    /// repeats; others are stored as new lines and counted as untrusted.
    #[arg(long, value_name = "FILE", requires = "kafka")]
    pub origin_key: Option<PathBuf>,
    /// With --kafka and no --origin-key: the most bytes of its origin one message may move
    /// an origin's mark ahead [default: 1073741824 (1 GiB)]; a message that would move it
    /// further is stored as new lines and counted as untrusted.
    #[arg(long, value_name = "BYTES", requires = "kafka")]
    pub max_origin_jump: Option<u64>,
    /// With --kafka: the most shipper origins remembered per partition [default: 1024]; the
    /// least recently seen is forgotten first (a line `ship` sends again of a forgotten
    /// origin is then stored twice).
    #[arg(long, value_name = "N", requires = "kafka", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_origins: Option<u32>,
    /// Also send window results as JSON, keyed by window start, to this topic (on --kafka's
    /// brokers, or --results-kafka).
    #[arg(long, value_name = "TOPIC")]
    pub results_topic: Option<String>,
    /// Also send alerts as JSON, keyed by window start, to this topic.
    #[arg(long, value_name = "TOPIC")]
    pub alerts_topic: Option<String>,
    /// Brokers for --results-topic and --alerts-topic when the input is not --kafka.
    #[arg(long, value_name = "BROKERS")]
    pub results_kafka: Option<String>,
    /// Log format (`auto`, a preset, or an nginx/Apache format string) [default: auto].
    #[arg(short, long)]
    pub format: Option<String>,
    /// Exit 1 when most lines were rejected or most have the same oddity (a sign of the
    /// wrong format), instead of a warning. A run where every line was rejected exits 1 in
    /// any case.
    #[arg(long)]
    pub strict: bool,
    /// Window length (`60s`, `5m`) [default: 60s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub window: Option<Duration>,
    /// Distance between window starts, for sliding windows (`10s`) [default: the window
    /// length: tumbling windows].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub slide: Option<Duration>,
    /// Allowed lateness: the watermark trails the largest event time by this much
    /// [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub lateness: Option<Duration>,
    /// Advance the watermark with the clock after this long without input [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// Live sources (--tail, --tcp, --syslog, --kafka): a line dated more than this ahead of
    /// the wall clock is `future`: stored, written to --late with that reason, counted, but
    /// in no window, and it does not move the watermark. `0s` turns it off. [default: 5m]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub max_future: Option<Duration>,
    /// A line dated more than this ahead of the stream's own clock is held: counted once
    /// --jump-confirm lines confirm the jump (a log resumed after an outage), `future` once
    /// as many ordinary lines follow it. `0s` turns it off. [default: 1h]
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub max_jump: Option<Duration>,
    /// Lines that confirm or refute a jump of the stream's clock (see --max-jump).
    /// [default: 100]
    #[arg(long, value_name = "N")]
    pub jump_confirm: Option<u64>,
    /// Rows of each top-N list per window [default: 5].
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// What to print on stdout per closed window: `console` tables, `jsonl`, or `none`
    /// [default: console].
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
    /// Checkpoint directory: a restart resumes from the last checkpoint. [default: with a
    /// lake, DATA/_checkpoint; else a directory of these sources under $STATE_DIRECTORY/run,
    /// $XDG_STATE_HOME/hitstream/run or ~/.local/state/hitstream/run]
    #[arg(long, value_name = "DIR")]
    pub checkpoint_dir: Option<PathBuf>,
    /// Keep no state: read every source from its start and save nothing for the next run
    /// (not with a lake, whose state keeps it from storing a line twice).
    #[arg(long, conflicts_with_all = ["checkpoint_dir", "data", "store"])]
    pub no_state: bool,
    /// Time between checkpoints [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub checkpoint_interval: Option<Duration>,
    /// Parser threads [default: one per core].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No alerts.
    #[arg(long)]
    pub no_alerts: bool,
    /// Store parsed rows, windows, alerts and rejects in the lake at this directory or
    /// `file://` URL (exactly-once for file and tail sources).
    #[arg(long, value_name = "DIR")]
    pub data: Option<String>,
    /// Store in the default lake ($STATE_DIRECTORY/lake, $XDG_DATA_HOME/hitstream/lake or
    /// ~/.local/share/hitstream/lake), or the config file's `[lake]`.
    #[arg(long)]
    pub store: bool,
    /// With the lake: keep this much history (`30d`), counted back from the newest data.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub retention: Option<Duration>,
    #[command(flatten)]
    pub http: HttpArgs,
}

pub use crate::net::{net_line, NetArgs};

impl NetArgs {
    /// Sets these flags on a tcp or syslog source.
    pub fn apply(&self, s: &mut SourceConfig) -> anyhow::Result<()> {
        if let Some(n) = self.tcp_max_connections {
            s.max_connections = Some(n as usize);
        }
        if let Some(d) = self.tcp_idle_timeout {
            if d.is_zero() {
                crate::usage::usage_bail!("--tcp-idle-timeout must be above 0");
            }
            s.connection_idle_timeout = Some(d);
        }
        s.spool_max_bytes = self.spool_max_bytes.or(s.spool_max_bytes);
        s.spool_segment_bytes = self.spool_segment_bytes.or(s.spool_segment_bytes);
        s.malformed_max_bytes = self.malformed_max_bytes.or(s.malformed_max_bytes);
        Ok(())
    }
}

/// The web dashboard's flags (`run`, `serve`, `demo`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HttpArgs {
    /// Serve the live dashboard, the JSON API (`/api/`) and `/metrics` on this address
    /// (`127.0.0.1:8080`). Beyond loopback it needs --auth-token. [default: none, no
    /// dashboard, for `run`; 127.0.0.1:8080 for `serve`]
    #[arg(long, value_name = "HOST:PORT")]
    pub http: Option<String>,
    /// A token every request must carry: `Authorization: Bearer TOKEN` or `?token=TOKEN`
    /// (percent-encoded in a URL; `+` is a `+`). Printable ASCII without spaces, at least 16
    /// characters: an empty or short one is refused (`openssl rand -base64 24` makes one).
    #[arg(long, value_name = "TOKEN")]
    pub auth_token: Option<String>,
    /// Serve beyond loopback without a token.
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// A MaxMind-format database (.mmdb) for the dashboard's countries panel (repeatable).
    #[arg(long = "geoip", value_name = "FILE.mmdb")]
    pub geoip: Vec<std::path::PathBuf>,
    /// Open HTTP connections at most [default: 256]; never more than half the open-file
    /// limit, which the pipeline keeps for its files, checkpoint and lake. Over it, a new
    /// connection gets a 503 and is closed at once (counted in /metrics).
    #[arg(long, value_name = "N")]
    pub http_max_connections: Option<usize>,
    /// Open event streams (/api/events) at most [default: 64]; over it the stream is refused
    /// with a 503.
    #[arg(long, value_name = "N")]
    pub http_max_streams: Option<usize>,
    /// Time for a request's headers to arrive, from when the connection opens or its previous
    /// response ends [default: 10s]; then the connection is closed (half-sent requests,
    /// idle keep-alive connections).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub http_header_timeout: Option<Duration>,
    /// Time a response write may make no progress [default: 30s]; then the connection is
    /// closed (a client that reads nothing, such as an event stream never read).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub http_write_timeout: Option<Duration>,
}

impl HttpArgs {
    /// Applies the flags over the config file's `[http]`.
    pub fn apply(&self, h: &mut crate::config::HttpConfig) {
        if let Some(a) = &self.http {
            h.listen = Some(a.clone());
        }
        if let Some(t) = &self.auth_token {
            h.auth_token = Some(t.clone());
        }
        h.insecure_no_auth |= self.insecure_no_auth;
        if !self.geoip.is_empty() {
            h.geoip = self.geoip.clone();
        }
        if let Some(n) = self.http_max_connections {
            h.max_connections = Some(n);
        }
        if let Some(n) = self.http_max_streams {
            h.max_streams = Some(n);
        }
        if let Some(d) = self.http_header_timeout {
            h.header_timeout = Some(d);
        }
        if let Some(d) = self.http_write_timeout {
            h.write_timeout = Some(d);
        }
    }
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
    for s in cfg
        .sources
        .iter_mut()
        .filter(|s| s.kind == SourceKind::File)
    {
        if let Some(n) = a.max_open_files {
            s.max_open_files = Some(n as usize);
        }
        s.follow_symlinks |= a.follow_symlinks;
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
    for s in cfg
        .sources
        .iter_mut()
        .filter(|s| matches!(s.kind, SourceKind::Tcp | SourceKind::Syslog))
    {
        a.net.apply(s)?;
    }
    if let Some(b) = &a.kafka {
        let mut s = SourceConfig::of_kind(SourceKind::Kafka);
        s.brokers = Some(b.clone());
        s.topic = a.topic.clone();
        if s.topic.is_none() {
            crate::usage::usage_bail!("--kafka needs --topic TOPIC");
        }
        s.group = a.group.clone();
        s.options = a.kafka_option.iter().cloned().collect();
        s.stop_at_end = a.kafka_stop_at_end;
        s.origin_key = a.origin_key.clone();
        s.max_origin_jump = a.max_origin_jump;
        s.max_origins = a.max_origins.map(|n| n as usize);
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
    if let Some(v) = a.max_future {
        w.max_future = v;
    }
    if let Some(v) = a.max_jump {
        w.max_jump = v;
    }
    if let Some(v) = a.jump_confirm {
        w.jump_confirm = v;
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
    if a.results_topic.is_some() {
        o.results_topic = a.results_topic.clone();
    }
    if a.alerts_topic.is_some() {
        o.alerts_topic = a.alerts_topic.clone();
    }
    if let Some(b) = a.results_kafka.as_ref().or(a.kafka.as_ref()) {
        if o.results_topic.is_some() || o.alerts_topic.is_some() {
            o.kafka_brokers = Some(b.clone());
        }
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
    if a.threads.is_some() {
        cfg.threads = a.threads;
    }
    if a.data.is_some() || a.store || a.retention.is_some() {
        let mut l = cfg
            .lake
            .take()
            .unwrap_or_else(|| LakeConfig::at(String::new()));
        if let Some(d) = &a.data {
            l.data = d.clone();
        }
        if a.retention.is_some() {
            l.retention = a.retention;
        }
        cfg.lake = Some(l);
    }
    if let Some(l) = &mut cfg.lake {
        // A `[lake]` without `data`, or --store.
        if l.data.is_empty() {
            l.data = crate::state::lake_for_writing(None)?;
        }
    }
    if a.no_state {
        if let Some(l) = &cfg.lake {
            crate::usage::usage_bail!(
                "--no-state: the lake `{}` keeps its state beside its tables, so that no line \
                 is stored twice; leave out --no-state, or the config file's [lake]",
                l.data
            );
        }
        // A flag overrides the config file's [checkpoint] dir.
        cfg.checkpoint.dir = None;
    }
    if let Some(l) = &cfg.lake {
        // The write-ahead record and checkpoints of a lake run live beside its tables.
        if cfg.checkpoint.dir.is_none() {
            if l.data.contains("://") && !l.data.starts_with("file://") {
                let why = "a local directory for checkpoints and the write-ahead record of epochs";
                match &a.config {
                    Some(p) => bail!(
                        "in config file `{}`: [lake] data `{}` is in an object store: set \
                         [checkpoint] dir ({why}) or give --checkpoint-dir DIR",
                        p.display(),
                        l.data
                    ),
                    None => crate::usage::usage_bail!(
                        "the lake `{}` is in an object store: give --checkpoint-dir DIR ({why})",
                        l.data
                    ),
                }
            }
            let local = l.data.strip_prefix("file://").unwrap_or(&l.data);
            cfg.checkpoint.dir = Some(PathBuf::from(local).join("_checkpoint"));
        }
    }
    a.http.apply(&mut cfg.http);
    let name = a
        .config
        .as_ref()
        .map_or("(flags)".to_string(), |p| p.display().to_string());
    // Without a file every setting came from the command line: a bad one is a usage error.
    let flags_only = |e: anyhow::Error| {
        if a.config.is_none() {
            let msg = format!("{e:#}");
            crate::usage::error(msg.replace("in config file `(flags)`: ", ""))
        } else {
            e
        }
    };
    // The window and alert settings as the engine takes them, and the dashboard's address
    // and token, before anything starts.
    crate::pipeline::spec(&cfg, cfg.threads).map_err(|e| match &a.config {
        None => flags_only(e),
        Some(_) => anyhow::anyhow!("in config file `{name}`: {e:#}"),
    })?;
    cfg.http
        .server_unopened(None)
        .map_err(|e| match &a.config {
            None => flags_only(e),
            Some(_) => anyhow::anyhow!("in config file `{name}`: [http]: {e:#}"),
        })?;
    if allow_no_source && cfg.sources.is_empty() {
        cfg.check_without_sources(&name).map_err(flags_only)?;
        return Ok(cfg);
    }
    // `gen ... | hitstream run`: a pipe (or a redirected file) is the input nobody named.
    // A terminal or /dev/null is not, so a cron job without a source still fails.
    if cfg.sources.is_empty() && crate::input::stdin_is_data() {
        crate::verbosity::info!("run: no source given; reading stdin (it is a pipe or a file)");
        cfg.sources.push(SourceConfig::of_kind(SourceKind::Stdin));
    }
    if cfg.sources.is_empty() {
        crate::usage::usage_bail!("no input: give --tail PATH, --file PATH (`-` for stdin), --tcp ADDR, --syslog ADDR, --kafka BROKERS or a --config file with [[source]], or pipe lines into it");
    }
    cfg.check(&name).map_err(flags_only)?;
    Ok(cfg)
}

/// Whether stdin is the source only because none was named (see [`effective_config`]).
fn stdin_by_default(a: &RunArgs, cfg: &Config) -> bool {
    let named = !a.tail.is_empty()
        || !a.file.is_empty()
        || a.tcp.is_some()
        || a.syslog.is_some()
        || a.kafka.is_some();
    let in_file = a.config.as_ref().is_some_and(|p| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|t| Config::parse_unchecked(&t, "").ok())
            .is_some_and(|c| !c.sources.is_empty())
    });
    !named && !in_file && matches!(cfg.sources.as_slice(), [s] if s.kind == SourceKind::Stdin)
}

/// Runs `hitstream run`.
pub fn run(a: RunArgs) -> anyhow::Result<()> {
    let mut cfg = effective_config(&a, false)?;
    if let Some(w) = crate::fds::fit(&mut cfg, hitstream_server::open_file_limit()) {
        eprintln!("{w}");
    }
    // A file read once that is not there would end the run at once with 0 lines.
    crate::trust::check_file_inputs(&cfg)?;
    let resume = crate::state::for_run(&mut cfg, a.no_state, a.checkpoint_dir.is_some())?;
    for l in crate::cmd_validate::describe(&cfg) {
        crate::verbosity::detail!("settings: {l}");
    }
    // A first run over these sources whose input turns out unusable (the wrong format) is
    // forgotten, so the run with the right flags reads the same lines again.
    let first = resume
        .as_ref()
        .filter(|r| r.default && r.before.is_none())
        .map(|r| r.dir.clone());
    let counts = crate::pipeline::run_resuming(&cfg, cfg.threads, resume)?;
    if counts.lines == 0 && stdin_by_default(&a, &cfg) {
        // cron gives a job an empty pipe: a run with no source must not pass for one that
        // read its input.
        crate::usage::usage_bail!(
            "no input: no source was given and stdin was empty; give --tail PATH, --file PATH, \
             --tcp ADDR, --syslog ADDR, --kafka BROKERS or a --config file with [[source]]"
        );
    }
    let verdict = crate::trust::check_run(&counts, &cfg, a.strict || cfg.strict);
    if let (Err(_), Some(dir)) = (&verdict, first) {
        crate::state::forget(&dir);
    }
    verdict
}
