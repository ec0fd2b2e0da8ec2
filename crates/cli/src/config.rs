//! The `hitstream run` configuration file (TOML). Every field is documented in
//! docs/config.md; unknown fields are refused with the file, line and field named.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

fn yes() -> bool {
    true
}

fn auto() -> String {
    "auto".to_string()
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Log format of every source: `auto`, a preset, or an nginx/Apache format string.
    #[serde(default = "auto")]
    pub format: String,
    /// Where lines come from (`[[source]]` tables).
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
    /// Event-time windows.
    #[serde(default)]
    pub window: WindowConfig,
    /// Alert rules (`[[alert]]` tables); absent means one rule of each kind with its
    /// defaults, an empty list (`alert = []`) turns alerting off.
    #[serde(default)]
    pub alert: Option<Vec<hitstream_window::Rule>>,
    /// Where results go.
    #[serde(default)]
    pub output: OutputConfig,
    /// Durable progress.
    #[serde(default)]
    pub checkpoint: CheckpointConfig,
    /// The lake (Delta tables). Absent: `hitstream run` writes tables only with `--data`
    /// or `--store`.
    #[serde(default)]
    pub lake: Option<LakeConfig>,
    /// Scheduled reports.
    #[serde(default)]
    pub report: ReportConfig,
    /// The web dashboard, JSON API and metrics.
    #[serde(default)]
    pub http: HttpConfig,
    /// Parser threads (`--threads`); absent: one per core.
    #[serde(default)]
    pub threads: Option<usize>,
    /// Fail the run (exit 1) when most lines were rejected or most have the same oddity,
    /// instead of a warning (`--strict`).
    #[serde(default)]
    pub strict: bool,
}

/// `[http]`: the web dashboard, the JSON API and `/metrics`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to serve on (`127.0.0.1:8080`); absent: no server.
    pub listen: Option<String>,
    /// A token every request must carry (needed beyond loopback).
    pub auth_token: Option<String>,
    /// Serve beyond loopback without a token.
    #[serde(default)]
    pub insecure_no_auth: bool,
    /// MaxMind-format databases for the countries panel (`geoip = ["GeoLite2-Country.mmdb"]`).
    #[serde(default)]
    pub geoip: Vec<std::path::PathBuf>,
    /// Open connections at most (default 256, never more than half the open-file limit);
    /// over it a new connection gets a 503 and is closed at once.
    pub max_connections: Option<usize>,
    /// Open event streams at most (default 64); over it `/api/events` answers 503.
    pub max_streams: Option<usize>,
    /// Time for a request's headers to arrive after the connection opens or its previous
    /// response ends (default 10s): closes half-sent requests and idle keep-alive connections.
    #[serde(default, with = "humantime_serde")]
    pub header_timeout: Option<std::time::Duration>,
    /// Time a write to a client may make no progress (default 30s): a client that reads
    /// nothing is dropped.
    #[serde(default, with = "humantime_serde")]
    pub write_timeout: Option<std::time::Duration>,
}

impl HttpConfig {
    /// The server's settings, if one is asked for; `lake` is where history is read.
    pub fn server(
        &self,
        lake: Option<&str>,
    ) -> anyhow::Result<Option<hitstream_server::ServerConfig>> {
        let Some(mut cfg) = self.server_unopened(lake)? else {
            return Ok(None);
        };
        if !self.geoip.is_empty() {
            let db = crate::geoip::Mmdb::open(&self.geoip)?;
            cfg.geo = Some(hitstream_server::Geo(std::sync::Arc::new(db)));
        }
        Ok(Some(cfg))
    }

    /// The server's settings, checked, without opening the geoip databases: the checks of
    /// what was written (address, token, limits), for before anything starts.
    pub fn server_unopened(
        &self,
        lake: Option<&str>,
    ) -> anyhow::Result<Option<hitstream_server::ServerConfig>> {
        let Some(listen) = &self.listen else {
            return Ok(None);
        };
        let addr = listen.parse().map_err(|_| {
            anyhow::anyhow!("http listen address `{listen}`: expected HOST:PORT (127.0.0.1:8080)")
        })?;
        let d = hitstream_server::Limits::default();
        let positive = |what: &str, d: std::time::Duration| {
            if d.is_zero() {
                anyhow::bail!("{what} must be more than 0");
            }
            Ok(d)
        };
        let limits = hitstream_server::Limits {
            max_connections: self.max_connections.unwrap_or(d.max_connections).max(1),
            max_streams: self.max_streams.unwrap_or(d.max_streams),
            header_timeout: positive(
                "--http-header-timeout",
                self.header_timeout.unwrap_or(d.header_timeout),
            )?,
            write_timeout: positive(
                "--http-write-timeout",
                self.write_timeout.unwrap_or(d.write_timeout),
            )?,
        };
        let cfg = hitstream_server::ServerConfig {
            addr,
            auth_token: self.auth_token.clone(),
            insecure_no_auth: self.insecure_no_auth,
            lake: lake.map(str::to_string),
            geo: None,
            limits,
        };
        cfg.check()?;
        Ok(Some(cfg))
    }
}

/// `[lake]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LakeConfig {
    /// Data directory or `file://` URL holding the tables; empty (absent from the file):
    /// the default lake of `crate::state::default_lake`, resolved by `run`.
    #[serde(default)]
    pub data: String,
    /// How often small files are compacted (Delta OPTIMIZE); `0s` turns it off.
    #[serde(default = "LakeConfig::default_optimize", with = "humantime_serde")]
    pub optimize_interval: Duration,
    /// Keep this much history (`30d`): older days are deleted and their files removed.
    #[serde(default, with = "humantime_serde")]
    pub retention: Option<Duration>,
    /// Close an epoch (commit to the tables and checkpoint) once this many request rows
    /// wait in memory, even before the checkpoint interval.
    #[serde(default = "LakeConfig::default_rows")]
    pub max_buffered_rows: usize,
}

impl LakeConfig {
    fn default_optimize() -> Duration {
        Duration::from_secs(3600)
    }
    fn default_rows() -> usize {
        200_000
    }
    /// A lake at `data` with every other setting at its default.
    pub fn at(data: String) -> LakeConfig {
        LakeConfig {
            data,
            optimize_interval: Self::default_optimize(),
            retention: None,
            max_buffered_rows: Self::default_rows(),
        }
    }
}

/// `[report]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// Make the daily report of the current day at this time (`"20:00"`), in `tz`.
    pub daily_at: Option<String>,
    /// Time zone of `daily_at` and of the day reported on: `UTC`, an offset or a zone name;
    /// default UTC.
    pub tz: Option<String>,
    /// Rows of each top list.
    pub top: Option<usize>,
}

/// Kinds of source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Files or glob patterns, read once or followed like `tail -F`.
    File,
    /// Standard input (bounded).
    Stdin,
    /// Newline-delimited lines on a listening TCP port.
    Tcp,
    /// Syslog over UDP and/or TCP (RFC 3164 and 5424).
    Syslog,
    /// A Kafka topic read by a consumer group (exactly-once into the lake).
    Kafka,
}

/// Syslog transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SyslogProtocol {
    /// UDP datagrams.
    #[default]
    Udp,
    /// TCP (octet counting or newline framing).
    Tcp,
    /// Both on the same port number.
    Both,
}

/// One `[[source]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// `file`, `stdin`, `tcp` or `syslog`.
    #[serde(rename = "type")]
    pub kind: SourceKind,
    /// file: paths or glob patterns.
    #[serde(default)]
    pub paths: Vec<String>,
    /// file: keep following the files (like `tail -F`); false reads them once and ends.
    #[serde(default = "yes")]
    pub follow: bool,
    /// file: how often followed files are checked for new data.
    #[serde(default, with = "humantime_serde")]
    pub poll_interval: Option<Duration>,
    /// file: most files open at once (default 256); more matched files wait, oldest first,
    /// and files read to their end are closed for them and opened again when they grow.
    #[serde(default)]
    pub max_open_files: Option<usize>,
    /// file: read paths and matches that are symbolic links (default false: skipped, and
    /// reported once each on stderr).
    #[serde(default)]
    pub follow_symlinks: bool,
    /// tcp, syslog: address to listen on, such as `127.0.0.1:5140`.
    pub listen: Option<String>,
    /// syslog: transport.
    #[serde(default)]
    pub protocol: SyslogProtocol,
    /// tcp, syslog: append received lines to a spool in this directory first, then read it
    /// like a followed file (nothing lost across restarts); without it these sources are
    /// at-most-once.
    pub spool: Option<PathBuf>,
    /// tcp, syslog with a spool: start a new spool segment once the current one is this
    /// many bytes (consumed segments are deleted after each checkpoint).
    #[serde(default)]
    pub spool_segment_bytes: Option<u64>,
    /// tcp, syslog with a spool: most bytes of segments not yet consumed (default 1 GiB).
    /// Above it reading from the sockets waits: TCP senders are pushed back, UDP datagrams
    /// beyond the kernel's buffer are dropped by the kernel.
    #[serde(default)]
    pub spool_max_bytes: Option<u64>,
    /// syslog with a spool: most bytes of `malformed.log` (default 64 MiB); past it
    /// malformed frames are counted, not kept.
    #[serde(default)]
    pub malformed_max_bytes: Option<u64>,
    /// tcp, syslog: most TCP connections open at once (default 256); at the cap the
    /// connection silent the longest is closed to admit a new one.
    #[serde(default)]
    pub max_connections: Option<usize>,
    /// tcp, syslog: a TCP connection that sends nothing for this long is closed (default
    /// 60s).
    #[serde(default, with = "humantime_serde")]
    pub connection_idle_timeout: Option<Duration>,
    /// kafka: the brokers, `host:port[,host:port]`.
    pub brokers: Option<String>,
    /// kafka: the topic.
    pub topic: Option<String>,
    /// kafka: the consumer group (default `hitstream`).
    pub group: Option<String>,
    /// kafka: librdkafka settings passed through (TLS, SASL, ...).
    #[serde(default)]
    pub options: std::collections::BTreeMap<String, String>,
    /// kafka: end once the topic is read to where it ended at the start.
    #[serde(default)]
    pub stop_at_end: bool,
    /// kafka: a file holding the key that `ship --origin-key` signs origin headers with;
    /// only messages whose MAC verifies can have their lines dropped as repeats.
    pub origin_key: Option<PathBuf>,
    /// kafka, without `origin_key`: the most bytes of its origin one message may move an
    /// origin's mark ahead (default 1 GiB); a message that would move it further is stored
    /// as new lines and counted as untrusted.
    pub max_origin_jump: Option<u64>,
    /// kafka: the most shipper origins remembered per partition (default 1024); the least
    /// recently seen is forgotten first.
    pub max_origins: Option<usize>,
}

impl SourceConfig {
    /// A source of a kind with every optional field unset.
    pub fn of_kind(kind: SourceKind) -> SourceConfig {
        SourceConfig {
            kind,
            paths: Vec::new(),
            follow: true,
            poll_interval: None,
            max_open_files: None,
            follow_symlinks: false,
            listen: None,
            protocol: SyslogProtocol::default(),
            spool: None,
            spool_segment_bytes: None,
            spool_max_bytes: None,
            malformed_max_bytes: None,
            max_connections: None,
            connection_idle_timeout: None,
            brokers: None,
            topic: None,
            group: None,
            options: std::collections::BTreeMap::new(),
            stop_at_end: false,
            origin_key: None,
            max_origin_jump: None,
            max_origins: None,
        }
    }

    /// A file source.
    pub fn file(paths: Vec<String>, follow: bool) -> SourceConfig {
        SourceConfig {
            paths,
            follow,
            ..SourceConfig::of_kind(SourceKind::File)
        }
    }
}

/// `[window]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// Window length.
    #[serde(default = "WindowConfig::default_size", with = "humantime_serde")]
    pub size: Duration,
    /// Distance between window starts; equal to `size` (tumbling) when absent.
    #[serde(default, with = "humantime_serde")]
    pub slide: Option<Duration>,
    /// How far behind the largest event time seen the watermark stays.
    #[serde(default = "WindowConfig::default_lateness", with = "humantime_serde")]
    pub lateness: Duration,
    /// When no line arrives for this long, the watermark advances with the clock.
    #[serde(default = "WindowConfig::default_idle", with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Rows of each top-N list in a window.
    #[serde(default = "WindowConfig::default_top")]
    pub top: usize,
    /// Live sources: a line more than this ahead of the wall clock is `future` (counted, in
    /// the late file, in no window). 0 turns it off. Default 5 min.
    #[serde(default = "WindowConfig::default_max_future", with = "humantime_serde")]
    pub max_future: Duration,
    /// A line more than this ahead of the stream's own clock is held until `jump_confirm`
    /// lines confirm the jump (then counted) or `jump_confirm` ordinary lines follow (then
    /// `future`). 0 turns it off. Default 1 h.
    #[serde(default = "WindowConfig::default_max_jump", with = "humantime_serde")]
    pub max_jump: Duration,
    /// Lines that confirm (or refute) a jump of the stream's clock. Default 100.
    #[serde(default = "WindowConfig::default_jump_confirm")]
    pub jump_confirm: u64,
}

impl WindowConfig {
    fn default_size() -> Duration {
        Duration::from_secs(60)
    }
    fn default_lateness() -> Duration {
        Duration::from_secs(10)
    }
    fn default_idle() -> Duration {
        Duration::from_secs(5)
    }
    fn default_top() -> usize {
        5
    }
    fn default_max_future() -> Duration {
        Duration::from_secs(hitstream_window::EngineConfig::default().max_future)
    }
    fn default_max_jump() -> Duration {
        Duration::from_secs(hitstream_window::EngineConfig::default().max_jump)
    }
    fn default_jump_confirm() -> u64 {
        hitstream_window::EngineConfig::default().jump_confirm
    }
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig {
            size: Self::default_size(),
            slide: None,
            lateness: Self::default_lateness(),
            idle_timeout: Self::default_idle(),
            top: Self::default_top(),
            max_future: Self::default_max_future(),
            max_jump: Self::default_max_jump(),
            jump_confirm: Self::default_jump_confirm(),
        }
    }
}

/// `[output]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Print a table per closed window on stdout.
    #[serde(default = "yes")]
    pub console: bool,
    /// Write window results as JSON lines to this file (`-` for stdout).
    pub jsonl: Option<String>,
    /// Write alerts as JSON lines to this file (`-` for stdout); they are also printed.
    pub alerts: Option<String>,
    /// Write lines that arrived too late for any window to this file.
    pub late: Option<PathBuf>,
    /// Write rejected lines with their reasons to this file.
    pub rejects: Option<PathBuf>,
    /// Show the live terminal view instead of console tables.
    #[serde(default)]
    pub tui: bool,
    /// Send window results as JSON, keyed by window start, to this Kafka topic (on
    /// `kafka_brokers`).
    pub results_topic: Option<String>,
    /// Send alerts as JSON, keyed by window start, to this Kafka topic.
    pub alerts_topic: Option<String>,
    /// The brokers of `results_topic` and `alerts_topic`.
    pub kafka_brokers: Option<String>,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            console: true,
            jsonl: None,
            alerts: None,
            late: None,
            rejects: None,
            tui: false,
            results_topic: None,
            alerts_topic: None,
            kafka_brokers: None,
        }
    }
}

/// `[checkpoint]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Directory for checkpoints; none means no checkpoints (a restart starts over).
    pub dir: Option<PathBuf>,
    /// How often to save one (one is also saved on shutdown).
    #[serde(
        default = "CheckpointConfig::default_interval",
        with = "humantime_serde"
    )]
    pub interval: Duration,
    /// Forget the position of a file once it has not been seen under the source's patterns
    /// for this long (a rotated file deleted for good); a forgotten file that comes back is
    /// read from its start.
    #[serde(
        default = "CheckpointConfig::default_forget_after",
        with = "humantime_serde"
    )]
    pub forget_after: Duration,
}

impl CheckpointConfig {
    fn default_interval() -> Duration {
        Duration::from_secs(10)
    }

    fn default_forget_after() -> Duration {
        Duration::from_secs(24 * 3600)
    }
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        CheckpointConfig {
            dir: None,
            interval: Self::default_interval(),
            forget_after: Self::default_forget_after(),
        }
    }
}

impl Config {
    /// Parses and checks config text; `name` is used in messages.
    #[cfg(test)]
    pub fn parse(text: &str, name: &str) -> anyhow::Result<Config> {
        let cfg = Config::parse_unchecked(text, name)?;
        cfg.check(name)?;
        Ok(cfg)
    }

    /// Parses config text without the cross-field checks (flags may still add sources).
    pub fn parse_unchecked(text: &str, name: &str) -> anyhow::Result<Config> {
        toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{}", crate::toml_error::one_line(&e, text, name)))
    }

    /// Cross-field checks serde cannot express.
    pub fn check(&self, name: &str) -> anyhow::Result<()> {
        match self.problems(name).into_iter().next() {
            Some(first) => Err(anyhow::anyhow!(first)),
            None => Ok(()),
        }
    }

    /// Every problem of the cross-field checks.
    pub fn problems(&self, name: &str) -> Vec<String> {
        let mut p = Vec::new();
        if self.sources.is_empty() {
            p.push(format!("in config file `{name}`: no `[[source]]`: add one (type = \"file\", paths = [...])"));
        }
        p.extend(self.problems_without_sources(name));
        p
    }

    /// The checks, when the caller brings its own source.
    pub fn check_without_sources(&self, name: &str) -> anyhow::Result<()> {
        match self.problems_without_sources(name).into_iter().next() {
            Some(first) => Err(anyhow::anyhow!(first)),
            None => Ok(()),
        }
    }

    /// Every problem of the cross-field checks, when the caller brings its own source
    /// (`validate` lists them all; `run` stops at the first).
    pub fn problems_without_sources(&self, name: &str) -> Vec<String> {
        let mut p = Vec::new();
        // Checked here, not when the first lines arrive: a typo gets its "did you mean" at once.
        if !self.format.trim().eq_ignore_ascii_case("auto") {
            if let Err(e) = hitstream_format::FormatSpec::from_str_any(&self.format) {
                p.push(if name == "(flags)" {
                    format!("--format: {e}")
                } else {
                    format!("in config file `{name}`: field `format`: {e}")
                });
            }
        }
        if let Some(at) = &self.report.daily_at {
            if parse_hhmm(at).is_none() {
                p.push(format!("in config file `{name}`: [report] field `daily_at`: `{at}` is not a time of day (HH:MM)"));
            }
            if self.lake.is_none() {
                p.push(format!("in config file `{name}`: [report] field `daily_at` needs the lake: add a [lake] section or give --data"));
            }
        }
        for (i, s) in self.sources.iter().enumerate() {
            let at = format!("in config file `{name}`: source #{}", i + 1);
            match s.kind {
                SourceKind::File if s.paths.is_empty() => p.push(format!(
                    "{at}: field `paths` is required for type = \"file\""
                )),
                SourceKind::Tcp | SourceKind::Syslog if s.listen.is_none() => p.push(format!(
                    "{at}: field `listen` is required for type = \"tcp\" and \"syslog\""
                )),
                SourceKind::Kafka if s.brokers.is_none() || s.topic.is_none() => p.push(format!(
                    "{at}: fields `brokers` and `topic` are required for type = \"kafka\""
                )),
                _ => {}
            }
            if s.kind != SourceKind::Kafka
                && (s.brokers.is_some() || s.topic.is_some() || s.group.is_some())
            {
                p.push(format!(
                    "{at}: fields `brokers`, `topic` and `group` apply only to type = \"kafka\""
                ));
            }
            if s.kind != SourceKind::Kafka
                && (s.origin_key.is_some()
                    || s.max_origin_jump.is_some()
                    || s.max_origins.is_some())
            {
                p.push(format!("{at}: fields `origin_key`, `max_origin_jump` and `max_origins` apply only to type = \"kafka\""));
            }
            if s.kind != SourceKind::File && !s.paths.is_empty() {
                p.push(format!(
                    "{at}: field `paths` applies only to type = \"file\""
                ));
            }
            if s.max_open_files == Some(0) {
                p.push(format!("{at}: field `max_open_files` must be at least 1"));
            }
            let listening = matches!(s.kind, SourceKind::Tcp | SourceKind::Syslog);
            if !listening
                && (s.max_connections.is_some()
                    || s.connection_idle_timeout.is_some()
                    || s.spool_max_bytes.is_some()
                    || s.malformed_max_bytes.is_some())
            {
                p.push(format!("{at}: fields `max_connections`, `connection_idle_timeout`, `spool_max_bytes` and `malformed_max_bytes` apply only to type = \"tcp\" or \"syslog\""));
            }
            if s.max_connections == Some(0) || s.connection_idle_timeout == Some(Duration::ZERO) {
                p.push(format!(
                    "{at}: fields `max_connections` and `connection_idle_timeout` must be above 0"
                ));
            }
            if s.kind != SourceKind::File && (s.max_open_files.is_some() || s.follow_symlinks) {
                p.push(format!("{at}: fields `max_open_files` and `follow_symlinks` apply only to type = \"file\""));
            }
        }
        if self
            .sources
            .iter()
            .filter(|s| s.kind == SourceKind::Stdin)
            .count()
            > 1
        {
            p.push(format!(
                "in config file `{name}`: stdin can be a source only once"
            ));
        }
        let o = &self.output;
        if (o.results_topic.is_some() || o.alerts_topic.is_some()) && o.kafka_brokers.is_none() {
            p.push(format!("in config file `{name}`: [output] fields `results_topic` and `alerts_topic` need `kafka_brokers`"));
        }
        let w = &self.window;
        if w.size.is_zero() {
            p.push(format!(
                "in config file `{name}`: field `window.size` must be more than 0"
            ));
        }
        if let Some(sl) = w.slide {
            if sl.is_zero() || sl > w.size || !w.size.as_millis().is_multiple_of(sl.as_millis()) {
                p.push(format!(
                    "in config file `{name}`: field `window.slide` must divide `window.size` \
                     (size {}, slide {})",
                    humantime::format_duration(w.size),
                    humantime::format_duration(sl)
                ));
            }
        }
        if w.top == 0 {
            p.push(format!(
                "in config file `{name}`: field `window.top` must be at least 1"
            ));
        }
        // 0 would move the watermark to the wall clock between any two lines (a replay would
        // turn late), and an epoch with every loop turn (a lake commit for each batch).
        if w.idle_timeout.is_zero() {
            p.push(format!(
                "in config file `{name}`: field `window.idle_timeout` must be more than 0"
            ));
        }
        if self.checkpoint.interval.is_zero() {
            p.push(format!(
                "in config file `{name}`: field `checkpoint.interval` must be more than 0"
            ));
        }
        if self.threads == Some(0) {
            p.push(format!(
                "in config file `{name}`: field `threads` must be at least 1"
            ));
        }
        p
    }
}

/// `HH:MM` as seconds after midnight.
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 3600 + m * 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_example_parses() {
        let c = Config::parse(
            r#"
format = "combined"

[[source]]
type = "file"
paths = ["/var/log/nginx/access.log*"]
poll_interval = "250ms"

[[source]]
type = "syslog"
listen = "127.0.0.1:5514"
protocol = "both"
spool = "spool/syslog.log"

[window]
size = "5m"
slide = "1m"
lateness = "30s"
idle_timeout = "2s"
top = 10

[output]
jsonl = "windows.jsonl"
tui = true

[checkpoint]
dir = "state"
interval = "5s"
"#,
            "test.toml",
        )
        .unwrap();
        assert_eq!(c.sources.len(), 2);
        assert_eq!(c.window.size, Duration::from_secs(300));
        assert_eq!(c.window.slide, Some(Duration::from_secs(60)));
        assert_eq!(c.sources[0].poll_interval, Some(Duration::from_millis(250)));
        assert_eq!(c.sources[1].protocol, SyslogProtocol::Both);
        assert!(c.output.console);
    }

    #[test]
    fn the_documented_example_parses() {
        let doc = include_str!("../../../docs/config.md");
        let start = doc.find("## Example").unwrap();
        let body = &doc[start..];
        let toml = &body[body.find("```toml\n").unwrap() + 8..];
        let toml = &toml[..toml.find("```").unwrap()];
        let c = Config::parse(toml, "docs/config.md").unwrap();
        let l = c.lake.unwrap();
        assert_eq!(l.retention, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(c.report.daily_at.as_deref(), Some("20:00"));
        assert_eq!(parse_hhmm("20:00"), Some(72_000));
        assert_eq!(parse_hhmm("24:00"), None);
    }

    #[test]
    fn kafka_origin_settings() {
        let c = Config::parse(
            "[[source]]\ntype = \"kafka\"\nbrokers = \"b:9092\"\ntopic = \"t\"\n\
             origin_key = \"/etc/hitstream/origin.key\"\nmax_origin_jump = 1048576\nmax_origins = 64\n",
            "x.toml",
        )
        .unwrap();
        let s = &c.sources[0];
        assert_eq!(
            s.origin_key.as_deref(),
            Some(std::path::Path::new("/etc/hitstream/origin.key"))
        );
        assert_eq!(
            (s.max_origin_jump, s.max_origins),
            (Some(1 << 20), Some(64))
        );
    }

    #[test]
    fn unknown_field_names_file_line_and_field() {
        let e = Config::parse(
            "[[source]]\ntype = \"file\"\npaths = [\"a\"]\n\n[window]\nsize = \"1m\"\nsizee = \"2m\"\n",
            "conf/hitstream.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("conf/hitstream.toml"), "{e}");
        assert!(e.contains("line 7"), "{e}");
        assert!(e.contains("sizee"), "{e}");
    }

    #[test]
    fn checks_name_the_field() {
        for (text, needle) in [
            ("[[source]]\ntype = \"file\"\n", "`paths`"),
            ("[[source]]\ntype = \"tcp\"\n", "`listen`"),
            ("[[source]]\ntype = \"pipe\"\n", "pipe"),
            ("", "[[source]]"),
            (
                "[[source]]\ntype = \"stdin\"\n[window]\nsize = \"60s\"\nslide = \"7s\"\n",
                "window.slide",
            ),
            (
                "[[source]]\ntype = \"stdin\"\n[window]\nsize = \"soon\"\n",
                "line 4, column 8 ([window]): field `size`: invalid value",
            ),
            (
                "[[source]]\ntype = \"stdin\"\n[lake]\n[report]\ndaily_at = \"25:00\"\n",
                "daily_at",
            ),
            (
                "[[source]]\ntype = \"stdin\"\n[report]\ndaily_at = \"20:00\"\n",
                "needs the lake",
            ),
            (
                "[[source]]\ntype = \"stdin\"\n[lake]\nretention = \"a while\"\n",
                "([lake]): field `retention`",
            ),
            (
                "[[source]]\ntype = \"stdin\"\n[windw]\nsize = \"1m\"\n",
                "line 3, column 2: unknown field `windw`",
            ),
            (
                "[[source]]\ntype = \"stdin\"\norigin_key = \"/etc/k\"\n",
                "apply only to type = \"kafka\"",
            ),
            (
                "[[source]]\ntype = \"file\"\npaths = [\"a\"]\nmax_open_files = 0\n",
                "`max_open_files` must be at least 1",
            ),
            (
                "[[source]]\ntype = \"stdin\"\nfollow_symlinks = true\n",
                "apply only to type = \"file\"",
            ),
        ] {
            let e = Config::parse(text, "x.toml").unwrap_err().to_string();
            assert!(e.contains(needle), "{needle}: {e}");
            assert!(e.contains("x.toml"), "{e}");
        }
    }
}
