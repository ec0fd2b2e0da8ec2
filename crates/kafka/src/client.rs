//! Connection settings shared by the producer and the consumers, and topic creation.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::types::RDKafkaErrorCode;

pub use rdkafka::error::KafkaError;

/// Where the brokers are and any librdkafka settings the user passes through (TLS, SASL,
/// timeouts: `security.protocol=SASL_SSL`, `sasl.mechanism=SCRAM-SHA-512`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    /// `host:port[,host:port...]`.
    pub brokers: String,
    /// librdkafka settings, applied after hitstream's own so they win.
    pub options: Vec<(String, String)>,
}

impl Connection {
    /// Brokers and no extra settings.
    pub fn new(brokers: impl Into<String>) -> Connection {
        Connection {
            brokers: brokers.into(),
            options: Vec::new(),
        }
    }

    /// A librdkafka configuration with hitstream's `defaults`, then the user's options.
    pub fn client_config(&self, defaults: &[(&str, String)]) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        // librdkafka logs to stderr by default; its errors reach us through the context.
        c.set("log_level", "3");
        for (k, v) in defaults {
            c.set(*k, v);
        }
        for (k, v) in &self.options {
            c.set(k, v);
        }
        c
    }
}

/// Problems reported by librdkafka's threads, each text at most once per 10 s: a broker that
/// is away is reported again at every retry otherwise.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    list: Vec<String>,
    last: std::collections::HashMap<String, std::time::Instant>,
}

impl Problems {
    pub(crate) fn push(&mut self, msg: String) {
        let now = std::time::Instant::now();
        if self
            .last
            .get(&msg)
            .is_some_and(|t| now.duration_since(*t) < Duration::from_secs(10))
        {
            return;
        }
        self.last
            .retain(|_, t| now.duration_since(*t) < Duration::from_secs(10));
        self.last.insert(msg.clone(), now);
        self.list.push(msg);
    }

    pub(crate) fn take(&mut self) -> Vec<String> {
        std::mem::take(&mut self.list)
    }
}

/// Parses `key=value` of `--kafka-option`.
pub fn parse_option(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!(
            "`{s}` is not key=value (a librdkafka setting, for example security.protocol=SSL)"
        )),
    }
}

/// Creates `topic` with `partitions` partitions (replication factor 1) unless it exists.
/// Returns whether it was created.
pub fn create_topic(
    conn: &Connection,
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> Result<bool, KafkaError> {
    let admin: AdminClient<DefaultClientContext> = conn.client_config(&[]).create()?;
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let opts = AdminOptions::new().operation_timeout(Some(timeout));
    let results = futures_executor::block_on(admin.create_topics([&new], &opts))?;
    match results.into_iter().next() {
        Some(Ok(_)) => Ok(true),
        Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) | None => Ok(false),
        Some(Err((_, code))) => Err(KafkaError::AdminOp(code)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_problem_is_reported_once() {
        let mut p = Problems::default();
        p.push("broker down".into());
        p.push("broker down".into());
        p.push("other".into());
        assert_eq!(p.take(), ["broker down", "other"]);
        p.push("broker down".into());
        assert!(p.take().is_empty());
    }

    #[test]
    fn options_are_key_value() {
        assert_eq!(
            parse_option("security.protocol=SASL_SSL"),
            Ok(("security.protocol".into(), "SASL_SSL".into()))
        );
        assert_eq!(
            parse_option("sasl.password=a=b"),
            Ok(("sasl.password".into(), "a=b".into()))
        );
        assert!(parse_option("novalue").is_err());
        assert!(parse_option("=x").is_err());
    }
}
