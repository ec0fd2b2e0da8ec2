//! Kafka for hitstream.
//!
//! - [`ship`]: lines from any source of the runtime (files followed across rotation, TCP,
//!   syslog, stdin) into a topic. A source position advances only once Kafka has confirmed
//!   every line before it, and each message names its origin (the file's fingerprint and the
//!   line's byte offset) in headers.
//! - [`KafkaSource`]: a topic as a replayable source of the pipeline. Partition offsets are
//!   part of the epoch state that is committed with the lake, not Kafka's group offsets
//!   (those are written for monitoring only), and lines whose origin was delivered already
//!   (re-sent by a `ship` restarted after a crash) are dropped by a high-water mark per
//!   partition and origin. File → Kafka → lake is exactly-once although the Kafka hop is
//!   at-least-once.

mod client;
mod origin;
mod output;
mod ship;
mod source;

pub use client::{create_topic, parse_option, Connection, KafkaError};
pub use origin::{
    OriginKey, LINES_HEADER, MAC_HEADER, MIN_KEY_BYTES, OFFSET_HEADER, ORIGIN_HEADER,
};
pub use output::KafkaOutput;
pub use ship::{ship, KeyBy, ShipConfig, ShipError, ShipStats, MAX_LINES_PER_MESSAGE};
pub use source::{
    part_key, shared_parts, Admission, KafkaSource, KafkaSourceConfig, KafkaState, Mark,
    MarkLimits, DEFAULT_MAX_ORIGINS, DEFAULT_MAX_ORIGIN_JUMP,
};
