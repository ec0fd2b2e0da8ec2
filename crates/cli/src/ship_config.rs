//! `hitstream ship --config FILE`: the shipper's settings in a TOML file (the Debian
//! package's `/etc/hitstream/ship.toml`, read by `hitstream-ship.service`). Every field is a
//! flag of `ship` by the same name; a flag given on the command line wins over the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::parser::ValueSource;
use serde::Deserialize;

use crate::cmd_ship::ShipArgs;

/// The file. Absent fields keep the flag's default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipFile {
    /// `--kafka`: the brokers, `host:port[,host:port]`.
    pub brokers: Option<String>,
    /// `--topic`.
    pub topic: Option<String>,
    /// `--tail`: files or glob patterns followed like `tail -F`.
    #[serde(default)]
    pub tail: Vec<String>,
    /// `--file`: files or glob patterns read once (`-` is stdin).
    #[serde(default)]
    pub file: Vec<String>,
    /// `--max-open-files`.
    pub max_open_files: Option<u32>,
    /// `--follow-symlinks`.
    pub follow_symlinks: Option<bool>,
    /// `--tcp`: listen for newline-delimited lines on this address.
    pub tcp: Option<String>,
    /// `--syslog`: listen for syslog on this UDP and TCP address.
    pub syslog: Option<String>,
    /// `--spool`.
    pub spool: Option<PathBuf>,
    /// `--tcp-max-connections`.
    pub tcp_max_connections: Option<u32>,
    /// `--tcp-idle-timeout`.
    #[serde(default, with = "humantime_serde")]
    pub tcp_idle_timeout: Option<Duration>,
    /// `--spool-max-bytes`.
    pub spool_max_bytes: Option<u64>,
    /// `--spool-segment-bytes`.
    pub spool_segment_bytes: Option<u64>,
    /// `--malformed-max-bytes`.
    pub malformed_max_bytes: Option<u64>,
    /// `--key`: `client`, `none` or `field:N`.
    pub key: Option<String>,
    /// `--compression`.
    pub compression: Option<String>,
    /// `--acks`.
    pub acks: Option<String>,
    /// The idempotent producer (`false` is `--no-idempotence`).
    pub idempotence: Option<bool>,
    /// `--batch-size`.
    pub batch_size: Option<usize>,
    /// `--linger`.
    #[serde(default, with = "humantime_serde")]
    pub linger: Option<Duration>,
    /// `--kafka-option`, as a table of librdkafka settings.
    #[serde(default)]
    pub kafka_options: BTreeMap<String, String>,
    /// `--create-topic`.
    pub create_topic: Option<bool>,
    /// `--partitions`.
    pub partitions: Option<i32>,
    /// `--checkpoint-dir`.
    pub checkpoint_dir: Option<PathBuf>,
    /// `--checkpoint-interval`.
    #[serde(default, with = "humantime_serde")]
    pub checkpoint_interval: Option<Duration>,
    /// `--max-in-flight`.
    pub max_in_flight: Option<usize>,
    /// `--lines-per-message`.
    pub lines_per_message: Option<u32>,
    /// `--origin-key`.
    pub origin_key: Option<PathBuf>,
    /// `--progress`.
    pub progress: Option<bool>,
}

impl ShipFile {
    /// Reads and checks a file; errors name the file, the line and the field.
    pub fn load(path: &Path) -> anyhow::Result<ShipFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file `{}`", path.display()))?;
        let f: ShipFile = toml::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "{}",
                crate::toml_error::one_line(&e, &text, &path.display().to_string())
            )
        })?;
        f.check()
            .map_err(|e| anyhow::anyhow!("in config file `{}`: {e}", path.display()))?;
        Ok(f)
    }

    /// The checks clap makes on the same values given as flags.
    fn check(&self) -> Result<(), String> {
        let one_of = |field: &str, v: &Option<String>, allowed: &[&str]| match v {
            Some(v) if !allowed.contains(&v.as_str()) => Err(format!(
                "`{field}` is `{v}`, expected one of {}",
                allowed.join(", ")
            )),
            _ => Ok(()),
        };
        one_of(
            "compression",
            &self.compression,
            &["none", "gzip", "snappy", "lz4", "zstd"],
        )?;
        one_of("acks", &self.acks, &["all", "1", "0", "-1"])?;
        if let Some(k) = &self.key {
            k.parse::<hitstream_kafka::KeyBy>()
                .map_err(|e| format!("`key`: {e}"))?;
        }
        let at_least_one = |field: &str, v: Option<u64>| match v {
            Some(0) => Err(format!("`{field}` must be at least 1")),
            _ => Ok(()),
        };
        at_least_one("max_open_files", self.max_open_files.map(u64::from))?;
        at_least_one(
            "tcp_max_connections",
            self.tcp_max_connections.map(u64::from),
        )?;
        at_least_one("spool_segment_bytes", self.spool_segment_bytes)?;
        at_least_one("partitions", self.partitions.map(|p| p.max(0) as u64))?;
        if let Some(n) = self.lines_per_message {
            let max = hitstream_kafka::MAX_LINES_PER_MESSAGE as u32;
            if n == 0 || n > max {
                return Err(format!("`lines_per_message` is {n}, expected 1..={max}"));
            }
        }
        for (field, v) in [
            ("brokers", &self.brokers),
            ("topic", &self.topic),
            ("tcp", &self.tcp),
            ("syslog", &self.syslog),
        ] {
            if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
                return Err(format!("`{field}` is empty"));
            }
        }
        Ok(())
    }

    /// Fills `a` from the file where the command line did not give the flag.
    pub fn apply(self, a: &mut ShipArgs, m: &clap::ArgMatches) {
        let given = |id: &str| {
            matches!(
                m.try_get_raw(id).ok().flatten().map(|_| m.value_source(id)),
                Some(Some(ValueSource::CommandLine | ValueSource::EnvVariable))
            )
        };
        macro_rules! take {
            ($field:ident) => {
                if !given(stringify!($field)) {
                    if let Some(v) = self.$field {
                        a.$field = v;
                    }
                }
            };
            ($field:ident, some) => {
                if !given(stringify!($field)) && self.$field.is_some() {
                    a.$field = self.$field;
                }
            };
            ($field:ident, net) => {
                if !given(stringify!($field)) && self.$field.is_some() {
                    a.net.$field = self.$field;
                }
            };
        }
        if !given("kafka") {
            if let Some(b) = self.brokers {
                a.kafka = b;
            }
        }
        take!(topic);
        if !given("tail") && !self.tail.is_empty() {
            a.tail = self.tail;
        }
        if !given("file") && !self.file.is_empty() {
            a.file = self.file;
        }
        take!(max_open_files, some);
        take!(follow_symlinks);
        take!(tcp, some);
        take!(syslog, some);
        take!(spool, some);
        take!(tcp_max_connections, net);
        take!(tcp_idle_timeout, net);
        take!(spool_max_bytes, net);
        take!(spool_segment_bytes, net);
        take!(malformed_max_bytes, net);
        if !given("key") {
            if let Some(k) = self.key.and_then(|k| k.parse().ok()) {
                a.key = k;
            }
        }
        take!(compression);
        take!(acks);
        if !given("no_idempotence") {
            if let Some(on) = self.idempotence {
                a.no_idempotence = !on;
            }
        }
        take!(batch_size, some);
        take!(linger);
        if !self.kafka_options.is_empty() {
            // Flags come after the file's settings: librdkafka keeps the last one given.
            let mut options: Vec<(String, String)> = self.kafka_options.into_iter().collect();
            options.append(&mut a.kafka_option);
            a.kafka_option = options;
        }
        take!(create_topic);
        take!(partitions);
        take!(checkpoint_dir, some);
        take!(checkpoint_interval);
        take!(max_in_flight);
        take!(lines_per_message);
        take!(origin_key, some);
        take!(progress);
    }
}

/// The settings `ship` runs with: `--config`'s file under the flags given, then the checks
/// of what is required. A missing broker or topic is a usage error (exit 2).
pub fn resolve(mut a: ShipArgs, m: Option<&clap::ArgMatches>) -> anyhow::Result<ShipArgs> {
    if let Some(path) = a.config.clone() {
        let f = ShipFile::load(&path)?;
        let empty = clap::ArgMatches::default();
        f.apply(&mut a, m.unwrap_or(&empty));
    }
    if a.kafka.trim().is_empty() {
        crate::usage::usage_bail!(
            "ship needs the Kafka brokers: --kafka BROKERS, or `brokers` in the --config file"
        );
    }
    if a.topic.trim().is_empty() {
        crate::usage::usage_bail!(
            "ship needs a topic: --topic TOPIC, or `topic` in the --config file"
        );
    }
    Ok(a)
}

/// `ship --check`: what would be shipped where, on stdout.
pub fn print_check(a: &ShipArgs, source: &str) {
    println!("source: {source}");
    println!("kafka: topic {} on {}", a.topic, a.kafka);
    println!(
        "producer: key {}, compression {}, acks {}, idempotence {}, linger {}, {} line(s) a message",
        match a.key {
            hitstream_kafka::KeyBy::Client => "client".to_string(),
            hitstream_kafka::KeyBy::None => "none".to_string(),
            hitstream_kafka::KeyBy::Field(n) => format!("field:{n}"),
        },
        a.compression,
        a.acks,
        if a.no_idempotence { "off" } else { "on" },
        humantime::format_duration(a.linger),
        a.lines_per_message
    );
    for (k, _) in &a.kafka_option {
        // Values can be secrets (sasl.password): the keys are enough to check.
        println!("kafka option: {k}");
    }
    println!("ship: the settings are valid");
}
