//! A topic as a replayable source of the pipeline.
//!
//! # Exactly-once
//!
//! The source's position is a [`KafkaState`]: the next offset per partition and, per
//! partition and origin, the offset in the origin up to which lines were delivered. It
//! travels with each batch as the batch's stream state, so the runtime stores it with the
//! epoch and the checkpoint exactly like file positions, and hands it back at the next start.
//! When partitions are assigned, the consumer starts them at these offsets, not at the
//! group's committed ones: those are written after each checkpoint for monitoring (lag) only.
//!
//! A line whose origin headers name an origin offset below the high-water mark of its
//! partition and origin was delivered already: `ship` sent it again after a crash between
//! Kafka's confirmation and its own checkpoint. It is skipped, counted, and the skip is
//! recorded in the batch's extent, so a repeated epoch reads exactly the same lines again.
//! The rule holds because `ship` sends a line of a given origin to the same partition every
//! time, and Kafka keeps the order of one producer's messages within a partition.
//!
//! # Marks that a producer cannot abuse
//!
//! Anyone who can produce to the topic can write origin headers, and a fingerprint is in
//! every shipped message. So a mark only moves for headers that are trusted:
//!
//! - With a key shared with `ship` ([`KafkaSourceConfig::origin_key`], `--origin-key`), only
//!   messages whose `hs-mac` verifies move marks or are dropped as repeats.
//! - Without one, a message whose offsets are out of order, at or past 2^62, or that would
//!   move its origin's mark more than [`KafkaSourceConfig::max_origin_jump`] ahead is not
//!   trusted either (a bound on what one forged message can do, not a defence: use the key).
//!
//! The lines of a message that is not trusted are stored like any line (never dropped), with
//! no origin in their lineage, and counted ([`KafkaState::untrusted`]). Each partition
//! remembers at most [`KafkaSourceConfig::max_origins`] origins, forgetting the one seen
//! least recently: lines that `ship` sends again of an origin forgotten that way would be
//! stored twice, which takes that many origins on one partition between a crash of `ship`
//! and its restart.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hitstream_runtime::{Barrier, PartStore, RunSource, SharedPart};
use hitstream_source::{Batch, Checkpoint, Fingerprint, Lineage, Origin, Poll, SourceError};
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::message::{Headers, Message};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::types::RDKafkaRespErr;
use serde::{Deserialize, Serialize};

use crate::client::Connection;
use crate::origin::{OriginKey, MAX_ORIGIN_OFFSET};

/// Settings of a [`KafkaSource`].
#[derive(Clone)]
pub struct KafkaSourceConfig {
    /// Brokers and librdkafka settings.
    pub connection: Connection,
    /// The topic.
    pub topic: String,
    /// The consumer group.
    pub group: String,
    /// Most lines in one batch.
    pub max_batch_lines: usize,
    /// End once every partition of the topic is assigned to this process and read to its
    /// end (a bounded run of one process over what the topic holds).
    pub stop_at_end: bool,
    /// Where the group's shared sink (the lake) keeps partition positions: a partition
    /// handed to this process starts where the stored rows end, whoever stored them.
    pub store: Option<Arc<dyn PartStore>>,
    /// The key `ship` signs origin headers with (`--origin-key`). With it, only messages
    /// whose MAC verifies move origin marks; others are stored as new lines and counted.
    pub origin_key: Option<OriginKey>,
    /// Without a key: the most bytes of its origin one message may move an origin's mark
    /// ahead; a message that would move it further is stored, counted, and moves nothing.
    /// Default [`DEFAULT_MAX_ORIGIN_JUMP`] (1 GiB); `None`: no bound.
    pub max_origin_jump: Option<u64>,
    /// The most origins remembered per partition, the least recently seen forgotten first.
    /// Default [`DEFAULT_MAX_ORIGINS`] (1,024).
    pub max_origins: usize,
    /// The longest line: a longer one keeps its first bytes and is marked truncated (the
    /// pipeline rejects it as `line_too_long`), like every other source's. Default 1 MiB.
    pub max_line_bytes: usize,
}

/// Default of [`KafkaSourceConfig::max_origin_jump`]: 1 GiB.
pub const DEFAULT_MAX_ORIGIN_JUMP: u64 = 1 << 30;
/// Default of [`KafkaSourceConfig::max_origins`].
pub const DEFAULT_MAX_ORIGINS: usize = 1024;

impl std::fmt::Debug for KafkaSourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSourceConfig")
            .field("connection", &self.connection)
            .field("topic", &self.topic)
            .field("group", &self.group)
            .field("max_batch_lines", &self.max_batch_lines)
            .field("stop_at_end", &self.stop_at_end)
            .field("store", &self.store.is_some())
            .field("origin_key", &self.origin_key.is_some())
            .field("max_origin_jump", &self.max_origin_jump)
            .field("max_origins", &self.max_origins)
            .field("max_line_bytes", &self.max_line_bytes)
            .finish()
    }
}

impl KafkaSourceConfig {
    /// Defaults for a topic and group.
    pub fn new(connection: Connection, topic: impl Into<String>, group: impl Into<String>) -> Self {
        KafkaSourceConfig {
            connection,
            topic: topic.into(),
            group: group.into(),
            max_batch_lines: 4096,
            stop_at_end: false,
            store: None,
            origin_key: None,
            max_origin_jump: Some(DEFAULT_MAX_ORIGIN_JUMP),
            max_origins: DEFAULT_MAX_ORIGINS,
            max_line_bytes: 1 << 20,
        }
    }

    fn limits(&self) -> MarkLimits {
        MarkLimits {
            // A verified MAC vouches for the shipper: its lines may lie far apart.
            max_jump: if self.origin_key.is_some() {
                None
            } else {
                self.max_origin_jump
            },
            max_origins: self.max_origins,
        }
    }
}

/// What bounds the origin marks of a [`KafkaState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkLimits {
    /// The most bytes one message may move a mark ahead (`None`: no bound).
    pub max_jump: Option<u64>,
    /// The most origins per partition.
    pub max_origins: usize,
}

impl Default for MarkLimits {
    fn default() -> Self {
        MarkLimits {
            max_jump: Some(DEFAULT_MAX_ORIGIN_JUMP),
            max_origins: DEFAULT_MAX_ORIGINS,
        }
    }
}

/// An origin's high-water mark in a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "MarkRepr", into = "MarkRepr")]
pub struct Mark {
    /// The origin offset after the last line delivered; lines below it were delivered.
    pub next: u64,
    /// The partition offset of the last message that named the origin: the least recently
    /// seen origin is forgotten first.
    pub touched: i64,
}

/// A mark as stored: `[next, touched]`, or `next` alone as states written before.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum MarkRepr {
    Old(u64),
    New(u64, i64),
}

impl From<MarkRepr> for Mark {
    fn from(r: MarkRepr) -> Mark {
        match r {
            MarkRepr::Old(next) => Mark { next, touched: -1 },
            MarkRepr::New(next, touched) => Mark { next, touched },
        }
    }
}

impl From<Mark> for MarkRepr {
    fn from(m: Mark) -> MarkRepr {
        MarkRepr::New(m.next, m.touched)
    }
}

/// What [`KafkaState::admit_lines`] decided of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// How many of its first lines were delivered before.
    pub skipped: usize,
    /// Whether its origin headers were trusted (false: its lines are all new, and its
    /// origin is not stored with them).
    pub trusted: bool,
}

/// Where a [`KafkaSource`] stands; see the [module documentation](self).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaState {
    /// The next offset to read, per partition.
    pub next: BTreeMap<i32, i64>,
    /// Per partition and origin (the file fingerprint `ship` names): the origin offset
    /// after the last line delivered. Lines below it were delivered before.
    #[serde(default)]
    pub seen: BTreeMap<i32, BTreeMap<String, Mark>>,
    /// Lines skipped as already delivered, in all.
    #[serde(default)]
    pub skipped: u64,
    /// Per partition: the stored position taken from the shared sink when the partition was
    /// last handed to this process. A commit goes on from it (or from this process's own
    /// later commits) and is refused when the sink holds a later one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub since: BTreeMap<i32, i64>,
    /// Lines whose message's origin headers were not trusted (see the
    /// [module documentation](self)): stored as new lines, in all.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub untrusted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl KafkaState {
    /// Takes a partition's position (and origin marks, when stored) from a shared sink.
    pub fn adopt(&mut self, partition: i32, part: &SharedPart) {
        self.next.insert(partition, part.next);
        self.since.insert(partition, part.next);
        let seen = part
            .state
            .as_ref()
            .and_then(|s| s.get("seen"))
            .and_then(|s| serde_json::from_value::<BTreeMap<String, Mark>>(s.clone()).ok());
        if let Some(seen) = seen {
            self.seen.insert(partition, seen);
        }
    }

    /// Takes note of the message at `offset` of `partition`, and says whether its line is
    /// new: false when its origin offset is below the high-water mark of its partition and
    /// origin (delivered before, sent again by a restarted `ship`).
    pub fn admit(&mut self, partition: i32, offset: i64, origin: Option<&(String, u64)>) -> bool {
        let origin = origin.map(|(o, at)| (o.as_str(), std::slice::from_ref(at)));
        self.admit_lines(partition, offset, origin, &MarkLimits::default())
            .skipped
            == 0
    }

    /// Takes note of the message at `offset` of `partition`, whose lines lie at these
    /// offsets of their origin (in order: `ship` sends a partition's lines in the order it
    /// read them), and says how many of its first lines were delivered before, and whether
    /// its origin headers were trusted (see the [module documentation](self)).
    pub fn admit_lines(
        &mut self,
        partition: i32,
        offset: i64,
        origin: Option<(&str, &[u64])>,
        limits: &MarkLimits,
    ) -> Admission {
        let after = offset.saturating_add(1);
        let next = self.next.entry(partition).or_insert(after);
        *next = (*next).max(after);
        let new = Admission {
            skipped: 0,
            trusted: true,
        };
        let Some((origin, offsets)) = origin else {
            return new;
        };
        let Some(&last) = offsets.last() else {
            return new;
        };
        // No shipper writes these: offsets out of order, or past any file's size.
        if last >= MAX_ORIGIN_OFFSET || offsets.windows(2).any(|w| w[0] >= w[1]) {
            return self.distrust(offsets.len());
        }
        let seen = self.seen.entry(partition).or_default();
        // Looked up by reference: the origin's name is copied only the first time it is seen.
        let skipped = match seen.get_mut(origin) {
            Some(mark) => {
                let skipped = offsets.iter().take_while(|&&at| at < mark.next).count();
                if skipped < offsets.len() {
                    // `last` >= the first line not skipped >= `mark.next`.
                    if limits.max_jump.is_some_and(|j| last - mark.next >= j) {
                        return self.distrust(offsets.len());
                    }
                    mark.next = last + 1;
                }
                mark.touched = offset;
                skipped
            }
            None => {
                if seen.len() >= limits.max_origins.max(1) {
                    let oldest = seen
                        .iter()
                        .min_by_key(|(_, m)| m.touched)
                        .map(|(o, _)| o.clone());
                    if let Some(o) = oldest {
                        seen.remove(&o);
                    }
                }
                seen.insert(
                    origin.to_string(),
                    Mark {
                        next: last + 1,
                        touched: offset,
                    },
                );
                0
            }
        };
        self.skipped += skipped as u64;
        Admission {
            skipped,
            trusted: true,
        }
    }

    /// Counts the `lines` of a message whose origin headers are not trusted.
    fn distrust(&mut self, lines: usize) -> Admission {
        self.untrusted = self.untrusted.saturating_add(lines as u64);
        Admission {
            skipped: 0,
            trusted: false,
        }
    }
}

/// One run of consecutive messages of a partition within a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Segment {
    partition: i32,
    /// First offset of the run.
    from: i64,
    /// Offset after the run's last message.
    to: i64,
    /// Offsets in `from..to` skipped as already delivered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    skipped: Vec<i64>,
    /// Messages of several lines whose first lines were skipped as already delivered:
    /// the offset and how many.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    partial: Vec<(i64, usize)>,
    /// Lines taken from the run; without it (extents written before messages of several
    /// lines), one a message not skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kept: Option<u64>,
    /// Offsets in `from..to` whose origin headers were not trusted: their lines were stored
    /// without an origin.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    untrusted: Vec<i64>,
}

impl Segment {
    fn kept(&self) -> u64 {
        self.kept
            .unwrap_or((self.to - self.from) as u64 - self.skipped.len() as u64)
    }
}

/// What a recorded batch was: its runs of messages in the order they were merged, enough
/// to read the same lines again in the same order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Extent {
    segments: Vec<Segment>,
    lines: u64,
}

impl Extent {
    /// The message at `offset` of `partition`, of `lines` lines, the first `skipped` of
    /// them delivered before.
    fn push(&mut self, partition: i32, offset: i64, lines: usize, skipped: usize, trusted: bool) {
        match self.segments.last_mut() {
            Some(seg) if seg.partition == partition && seg.to == offset => seg.to = offset + 1,
            _ => self.segments.push(Segment {
                partition,
                from: offset,
                to: offset + 1,
                skipped: Vec::new(),
                partial: Vec::new(),
                kept: Some(0),
                untrusted: Vec::new(),
            }),
        }
        let seg = self.segments.last_mut().expect("just pushed");
        if !trusted {
            seg.untrusted.push(offset);
        }
        if skipped >= lines {
            seg.skipped.push(offset);
        } else if skipped > 0 {
            seg.partial.push((offset, skipped));
        }
        let kept = lines.saturating_sub(skipped) as u64;
        *seg.kept.get_or_insert(0) += kept;
        self.lines += kept;
    }
}

/// The lines of a message: the payload (less a final newline), or with `lines` above one,
/// the lines `ship` joined with `\n`.
fn lines_of(payload: &[u8], lines: usize) -> impl Iterator<Item = &[u8]> {
    let one = (lines <= 1).then(|| payload.strip_suffix(b"\n").unwrap_or(payload));
    let many = (lines > 1).then(|| payload.split(|&b| b == b'\n'));
    one.into_iter().chain(many.into_iter().flatten())
}

/// Puts the lines of `m` after its first `skip` into the batch, each cut at `max_line`
/// (marked truncated, as every source does), with its lineage: the origin only when the
/// message's headers were trusted.
fn push_lines(
    batch: &mut Batch,
    lineage: &mut Lineage,
    m: &Msg,
    skip: usize,
    trusted: bool,
    max_line: usize,
) {
    let max_line = max_line.max(1);
    for (k, line) in lines_of(&m.payload, m.lines).enumerate().skip(skip) {
        let cut = line.len() > max_line;
        batch.push_line(&line[..line.len().min(max_line)], cut);
        let origin = m
            .origin
            .as_ref()
            .filter(|_| trusted)
            .and_then(|(o, offs)| offs.get(k).map(|&at| (o.as_str(), at)));
        lineage.push(
            m.partition,
            m.offset,
            u32::try_from(k).unwrap_or(u32::MAX),
            origin,
        );
    }
}

struct Context {
    topic: String,
    state: Arc<Mutex<KafkaState>>,
    store: Option<Arc<dyn PartStore>>,
    /// Set once the pipeline runs: what a revocation waits on.
    barrier: Mutex<Option<Barrier>>,
    /// Partitions revoked since the source last looked: their queued messages go.
    revoked: Mutex<Vec<i32>>,
    problems: Mutex<crate::client::Problems>,
    /// Records in the assigned partitions past the group's committed offsets (committed at
    /// each checkpoint), from librdkafka's statistics.
    lag: Mutex<Option<u64>>,
}

impl ClientContext for Context {
    // librdkafka reports each partition's consumer lag in its statistics, so the lag costs
    // no request to the broker.
    fn stats(&self, stats: rdkafka::Statistics) {
        let lag = stats.topics.get(&self.topic).and_then(|t| {
            let known: Vec<u64> = t
                .partitions
                .values()
                .filter(|p| p.partition >= 0 && p.consumer_lag >= 0)
                .map(|p| p.consumer_lag as u64)
                .collect();
            (!known.is_empty()).then(|| known.iter().sum())
        });
        *self.lag.lock().unwrap_or_else(|e| e.into_inner()) = lag;
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(rdkafka::types::RDKafkaErrorCode::PartitionEOF) {
            return;
        }
        self.problems
            .lock()
            .expect("problems lock")
            .push(format!("kafka: {error}: {reason}"));
    }
}

impl Context {
    /// Takes the positions the shared sink stored for partitions handed to this process:
    /// they are where the stored rows end, whichever process of the group stored them.
    fn adopt_stored(&self, parts: &[i32]) {
        let Some(store) = &self.store else {
            return;
        };
        let keys: Vec<String> = parts.iter().map(|&p| part_key(&self.topic, p)).collect();
        let stored = match store.load(&keys) {
            Ok(s) => s,
            Err(e) => {
                self.problems
                    .lock()
                    .expect("problems lock")
                    .push(format!("kafka: reading stored partition positions: {e}"));
                return;
            }
        };
        let mut state = self.state.lock().expect("state lock");
        for part in stored {
            let Some(p) = parts
                .iter()
                .copied()
                .find(|&p| part_key(&self.topic, p) == part.key)
            else {
                continue;
            };
            state.adopt(p, &part);
        }
    }
}

impl ConsumerContext for Context {
    // Partitions start at the offsets of our own state, not at the group's.
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let parts: Vec<i32> = tpl
                    .elements()
                    .iter()
                    .filter(|e| e.topic() == self.topic)
                    .map(|e| e.partition())
                    .collect();
                self.adopt_stored(&parts);
                let state = self.state.lock().expect("state lock");
                for p in parts {
                    if let Some(&next) = state.next.get(&p) {
                        let _ =
                            tpl.set_partition_offset(&self.topic, p, Offset::Offset(rewound(next)));
                    }
                }
                drop(state);
                if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                }
            }
            _ => {
                // Everything read from these partitions is stored before they go: the
                // next owner starts where the stored rows end.
                let barrier = self.barrier.lock().expect("barrier lock").clone();
                if let Some(b) = barrier {
                    if !b.wait(REVOKE_WAIT) {
                        self.problems.lock().expect("problems lock").push(
                            "kafka: partitions were revoked before what was read from them \
                             could be stored; the next owner reads those lines again"
                                .into(),
                        );
                    }
                }
                self.revoked.lock().expect("revoked lock").extend(
                    tpl.elements()
                        .iter()
                        .filter(|e| e.topic() == self.topic)
                        .map(|e| e.partition()),
                );
                if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                }
            }
        };
        if let Err(e) = result {
            self.problems
                .lock()
                .expect("problems lock")
                .push(format!("kafka: partition assignment failed: {e}"));
        }
    }
}

struct Msg {
    partition: i32,
    offset: i64,
    /// The message's timestamp (ms), the merge key.
    time: i64,
    payload: Vec<u8>,
    /// The origin and the offset of each line in it.
    origin: Option<(String, Vec<u64>)>,
    /// Lines in the payload.
    lines: usize,
    /// It had origin headers that did not verify under the key (no MAC, or a wrong one):
    /// `origin` is None.
    unauthenticated: bool,
}

/// A topic read by a consumer group, replayable; see the [module documentation](self).
#[allow(missing_debug_implementations)] // librdkafka's consumer has no Debug
pub struct KafkaSource {
    name: String,
    key: String,
    cfg: KafkaSourceConfig,
    consumer: BaseConsumer<Context>,
    state: Arc<Mutex<KafkaState>>,
    /// Messages read and not yet in a batch, per partition.
    queues: BTreeMap<i32, std::collections::VecDeque<Msg>>,
    /// Partitions read to their end (until their next message).
    at_eof: std::collections::BTreeSet<i32>,
    /// Partitions of the topic (for `stop_at_end`).
    partitions: Option<usize>,
    last_extent: Option<Extent>,
    rereader: Option<BaseConsumer>,
    /// Messages read to repeat an epoch, by partition and offset.
    replay_cache: BTreeMap<(i32, i64), Msg>,
    /// While repeating an epoch that no sink holds: partitions another process stored
    /// since, whose lines are left out (decided at the first batch that has them).
    fence: Option<BTreeMap<i32, bool>>,
    /// Partitions revoked by the last polls, for a batch being made.
    revoked_now: Vec<i32>,
}

/// How far before a position a partition is fetched from. Some brokers (tansu 0.6 here)
/// answer a fetch at an offset inside a record batch with the *next* batch, which would skip
/// the rest of the batch; fetching up to this many messages earlier (more than one producer
/// batch holds with librdkafka's defaults) and dropping what lies before the position is
/// safe with every broker.
const REWIND: i64 = 100_000;

/// Messages read past a repeated batch for the batches after it.
const READ_AHEAD: i64 = 50_000;

/// How long a revocation waits for the pipeline to store what was read: below the
/// rebalance timeout (`max.poll.interval.ms`, 20 s), after which the group goes on without
/// this member.
const REVOKE_WAIT: Duration = Duration::from_secs(15);

/// The name of a partition's position in a shared sink.
pub fn part_key(topic: &str, partition: i32) -> String {
    format!("kafka/{topic}/{partition}")
}

/// The partitions whose position moved between two checkpoints, as a shared sink stores
/// them with the epoch between (see [`hitstream_runtime::EpochSink::positions`]).
pub fn shared_parts(start: &Checkpoint, end: &Checkpoint) -> Vec<SharedPart> {
    let mut parts = Vec::new();
    for (key, value) in &end.streams {
        let Some(topic) = key.strip_prefix("kafka:") else {
            continue;
        };
        let Ok(now) = serde_json::from_value::<KafkaState>(value.clone()) else {
            continue;
        };
        let before = start
            .streams
            .get(key)
            .and_then(|v| serde_json::from_value::<KafkaState>(v.clone()).ok())
            .unwrap_or_default();
        for (&p, &next) in &now.next {
            if before.next.get(&p) == Some(&next) {
                continue;
            }
            let seen = now.seen.get(&p).cloned().unwrap_or_default();
            // Where the stored rows of the partition end as this process knows it: its own
            // last commit (the epoch's start), or what it took over since, whichever is later
            // (a position stored by this process long ago is older than one taken over).
            let after = [before.next.get(&p), now.since.get(&p)]
                .into_iter()
                .flatten()
                .copied()
                .max();
            parts.push(SharedPart {
                key: part_key(topic, p),
                next,
                state: Some(serde_json::json!({ "seen": seen })),
                after,
            });
        }
    }
    parts
}

fn rewound(offset: i64) -> i64 {
    (offset - REWIND).max(0)
}

/// The key of a topic's state in the checkpoint's stream positions.
fn state_key(topic: &str) -> String {
    format!("kafka:{topic}")
}

fn kafka_err(what: &str, e: impl std::fmt::Display) -> SourceError {
    SourceError::Remote(format!("kafka: {what}: {e}"))
}

impl KafkaSource {
    /// Joins the group and subscribes, starting after `positions` (the checkpoint's stream
    /// state for this topic).
    pub fn open(
        cfg: KafkaSourceConfig,
        positions: &Checkpoint,
    ) -> Result<KafkaSource, SourceError> {
        let key = state_key(&cfg.topic);
        let state: KafkaState = match positions.streams.get(&key) {
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| kafka_err("the saved position cannot be read", e))?,
            None => KafkaState::default(),
        };
        let state = Arc::new(Mutex::new(state));
        let ctx = Context {
            topic: cfg.topic.clone(),
            state: state.clone(),
            store: cfg.store.clone(),
            barrier: Mutex::new(None),
            revoked: Mutex::new(Vec::new()),
            problems: Mutex::new(crate::client::Problems::default()),
            lag: Mutex::new(None),
        };
        let consumer: BaseConsumer<Context> = cfg
            .connection
            .client_config(&[
                ("group.id", cfg.group.clone()),
                ("enable.auto.commit", "false".into()),
                ("enable.auto.offset.store", "false".into()),
                ("auto.offset.reset", "earliest".into()),
                // A member killed without leaving holds its partitions until its session
                // times out; positions are ours, so a short session costs nothing.
                ("session.timeout.ms", "6000".into()),
                ("heartbeat.interval.ms", "1000".into()),
                // Also the rebalance timeout: how long a rebalance waits for members that
                // were killed. The source polls at least every 100 ms while it runs.
                ("max.poll.interval.ms", "20000".into()),
                // End-of-partition events let the merge go on without an idle partition.
                ("enable.partition.eof", "true".into()),
                // For the consumer lag (see `Context::stats`).
                ("statistics.interval.ms", "1000".into()),
                // A broker may answer one fetch with more than `queued.min.messages` (tansu
                // sends a partition's whole backlog, 100 k messages and more); librdkafka
                // then pauses fetching for `fetch.queue.backoff.ms`, 1 s by default, once
                // per answer: 100 k lines/s at most, the process idle most of the time.
                ("fetch.queue.backoff.ms", "5".into()),
                ("queued.min.messages", "300000".into()),
            ])
            .create_with_context(ctx)
            .map_err(|e| kafka_err("cannot create the consumer", e))?;
        consumer
            .subscribe(&[&cfg.topic])
            .map_err(|e| kafka_err("cannot subscribe", e))?;
        Ok(KafkaSource {
            name: format!(
                "kafka {} ({}, group {})",
                cfg.topic, cfg.connection.brokers, cfg.group
            ),
            key,
            cfg,
            consumer,
            state,
            queues: BTreeMap::new(),
            at_eof: std::collections::BTreeSet::new(),
            partitions: None,
            last_extent: None,
            rereader: None,
            replay_cache: BTreeMap::new(),
            fence: None,
            revoked_now: Vec::new(),
        })
    }

    fn owned(m: &rdkafka::message::BorrowedMessage<'_>, key: Option<&OriginKey>) -> Msg {
        let payload = m.payload().map(<[u8]>::to_vec).unwrap_or_default();
        let (mut origin, lines, mac) = match m.headers() {
            Some(h) => {
                let marks = crate::origin::read(h.iter().map(|h| (h.key, h.value)));
                (marks.origin, marks.lines, marks.mac)
            }
            None => (None, 1, None),
        };
        // The lines as the payload holds them; offsets that do not match them are no origin.
        let lines = if lines > 1 {
            lines_of(&payload, lines).count()
        } else {
            1
        };
        if origin.as_ref().is_some_and(|(_, offs)| offs.len() != lines) {
            origin = None;
        }
        let mut unauthenticated = false;
        if let (Some(key), Some((o, offs))) = (key, &origin) {
            let ok = mac
                .as_deref()
                .is_some_and(|mac| key.verify(o, offs, &payload, mac));
            if !ok {
                origin = None;
                unauthenticated = true;
            }
        }
        Msg {
            partition: m.partition(),
            offset: m.offset(),
            time: m.timestamp().to_millis().unwrap_or(0),
            payload,
            origin,
            lines,
            unauthenticated,
        }
    }

    /// Polls the consumer once, queueing what comes; false when nothing came. A rebalance
    /// runs inside the poll: what was queued of partitions revoked there goes.
    fn fetch(&mut self, timeout: Duration) -> bool {
        let polled = self.consumer.poll(timeout);
        let revoked = std::mem::take(
            &mut *self
                .consumer
                .context()
                .revoked
                .lock()
                .expect("revoked lock"),
        );
        for p in revoked {
            self.queues.remove(&p);
            self.at_eof.remove(&p);
            self.revoked_now.push(p);
        }
        match polled {
            None => false,
            Some(Ok(m)) => {
                let m = Self::owned(&m, self.cfg.origin_key.as_ref());
                self.at_eof.remove(&m.partition);
                self.queues.entry(m.partition).or_default().push_back(m);
                true
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                self.at_eof.insert(p);
                true
            }
            Some(Err(e)) => {
                self.consumer
                    .context()
                    .problems
                    .lock()
                    .expect("problems lock")
                    .push(format!("kafka: {e}"));
                false
            }
        }
    }

    /// After a poll inside a batch: a rebalance there waited for everything handed over to
    /// be stored, then let partitions go. What this batch took from them was not handed
    /// over, so it goes, and their positions go back to before the batch: their next owner
    /// reads those lines.
    fn drop_revoked(&mut self, taken: &mut Vec<(Msg, Admission)>, before: Option<&KafkaState>) {
        if self.revoked_now.is_empty() {
            return;
        }
        let revoked = std::mem::take(&mut self.revoked_now);
        taken.retain(|(m, _)| !revoked.contains(&m.partition));
        let mut state = self.state.lock().expect("state lock");
        for p in revoked {
            match before.and_then(|b| b.next.get(&p)) {
                Some(&n) => state.next.insert(p, n),
                None => state.next.remove(&p),
            };
            match before.and_then(|b| b.seen.get(&p)) {
                Some(seen) => state.seen.insert(p, seen.clone()),
                None => state.seen.remove(&p),
            };
        }
    }

    /// The assigned partitions of the topic.
    fn assigned(&self) -> Vec<i32> {
        self.consumer
            .assignment()
            .map(|a| {
                a.elements_for_topic(&self.cfg.topic)
                    .iter()
                    .map(|e| e.partition())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether every partition of the topic is assigned to this process and read to its
    /// end: the consumer said so (end-of-partition event) and nothing of it is queued. A
    /// partition still held by another member (one killed without leaving keeps it until
    /// its session times out) keeps the source going.
    fn at_end(&mut self) -> bool {
        if self.partitions.is_none() {
            self.partitions = self
                .consumer
                .fetch_metadata(Some(&self.cfg.topic), Duration::from_secs(5))
                .ok()
                .and_then(|m| {
                    m.topics()
                        .iter()
                        .find(|t| t.name() == self.cfg.topic)
                        .map(|t| t.partitions().len())
                })
                .filter(|&n| n > 0);
        }
        let Some(n) = self.partitions else {
            return false;
        };
        let parts = self.assigned();
        parts.len() >= n
            && parts
                .iter()
                .all(|p| self.at_eof.contains(p) && self.queues.get(p).is_none_or(|q| q.is_empty()))
    }

    fn rereader(&mut self) -> Result<&BaseConsumer, SourceError> {
        if self.rereader.is_none() {
            let c: BaseConsumer = self
                .cfg
                .connection
                .client_config(&[
                    ("group.id", format!("{}-replay", self.cfg.group)),
                    ("enable.auto.commit", "false".into()),
                    ("enable.partition.eof", "true".into()),
                    ("auto.offset.reset", "error".into()),
                ])
                .create()
                .map_err(|e| kafka_err("cannot create the replay consumer", e))?;
            self.rereader = Some(c);
        }
        Ok(self.rereader.as_ref().expect("just set"))
    }
}

impl RunSource for KafkaSource {
    fn name(&self) -> &str {
        &self.name
    }

    // Partitions are merged by message timestamp (the time `ship` sent the line), so lines
    // come in about the order they were written and event time does not jump between
    // partitions: taking from the partition whose next message is oldest, as long as every
    // assigned partition that is not at its end has a message queued (or has kept the merge
    // waiting for `MERGE_WAIT`).
    fn poll(&mut self, timeout: Duration) -> Poll {
        const MERGE_WAIT: Duration = Duration::from_millis(200);
        let deadline = Instant::now() + timeout;
        // Fill: wait for the first message, then take what is there without waiting.
        while self.queues.values().all(|q| q.is_empty()) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.fetch(left.min(Duration::from_millis(100)));
        }
        while self.queues.values().map(|q| q.len()).sum::<usize>() < self.cfg.max_batch_lines
            && self.fetch(Duration::ZERO)
        {}
        // Revocations before the batch began concern batches already handed over.
        self.revoked_now.clear();
        let assigned = self.assigned();
        let merge_deadline = Instant::now() + MERGE_WAIT;
        let limits = self.cfg.limits();
        // The batch's messages, and what was decided of each (lines delivered before, trust);
        // the batch is made at the end, so that what a rebalance took away meanwhile can
        // still be left out of it.
        let mut taken: Vec<(Msg, Admission)> = Vec::new();
        let mut taken_lines = 0;
        // The state before the batch's first message: what a revoked partition goes back to.
        let mut before: Option<KafkaState> = None;
        loop {
            if taken_lines >= self.cfg.max_batch_lines {
                break;
            }
            // A partition with nothing queued that is not at its end holds the merge back.
            let starving = assigned.iter().any(|p| {
                !self.at_eof.contains(p) && self.queues.get(p).is_none_or(|q| q.is_empty())
            });
            if starving {
                if Instant::now() < merge_deadline && self.fetch(Duration::from_millis(10)) {
                    self.drop_revoked(&mut taken, before.as_ref());
                    continue;
                }
                self.drop_revoked(&mut taken, before.as_ref());
                if !taken.is_empty() || Instant::now() < merge_deadline {
                    break;
                }
            }
            let Some((&p, _)) = self
                .queues
                .iter()
                .filter_map(|(p, q)| q.front().map(|m| (p, m.time)))
                .min_by_key(|&(p, t)| (t, *p))
            else {
                break;
            };
            let m = self
                .queues
                .get_mut(&p)
                .and_then(|q| q.pop_front())
                .expect("a queued message");
            let mut state = self.state.lock().expect("state lock");
            if state.next.get(&m.partition).is_some_and(|&n| m.offset < n) {
                // Before our position (the group's offset was behind it): read already.
                continue;
            }
            if before.is_none() {
                before = Some(state.clone());
            }
            let origin = m
                .origin
                .as_ref()
                .map(|(o, offs)| (o.as_str(), offs.as_slice()));
            let mut adm = state.admit_lines(m.partition, m.offset, origin, &limits);
            if m.unauthenticated {
                adm = state.distrust(m.lines);
            }
            drop(state);
            if !adm.trusted {
                let why = if m.unauthenticated {
                    "no valid hs-mac under --origin-key"
                } else {
                    "its offsets are out of order, too large, or too far ahead of the origin's mark"
                };
                self.consumer
                    .context()
                    .problems
                    .lock()
                    .expect("problems lock")
                    .push(format!(
                        "kafka {} partition {}: origin headers not trusted ({why}); \
                         such lines are stored as new lines and counted as untrusted",
                        self.cfg.topic, m.partition
                    ));
            }
            taken_lines += m.lines;
            taken.push((m, adm));
        }
        let mut b: Option<Batch> = None;
        let mut ext = Extent::default();
        let mut lineage = Lineage::new(self.cfg.topic.clone());
        for (m, adm) in &taken {
            ext.push(m.partition, m.offset, m.lines, adm.skipped, adm.trusted);
            let batch = b.get_or_insert_with(|| {
                Batch::new(Origin::Stream {
                    name: format!("kafka:{}", self.cfg.topic),
                })
            });
            push_lines(
                batch,
                &mut lineage,
                m,
                adm.skipped,
                adm.trusted,
                self.cfg.max_line_bytes,
            );
        }
        match b {
            Some(mut b) => {
                b.set_lineage(lineage);
                let state = self.state.lock().expect("state lock");
                b.set_stream_state(
                    self.key.clone(),
                    serde_json::to_value(&*state).expect("the state serializes"),
                );
                self.last_extent = Some(ext);
                Poll::Batch(b)
            }
            None if self.cfg.stop_at_end && self.at_end() => Poll::End,
            None => Poll::Idle,
        }
    }

    fn lag(&self) -> hitstream_runtime::Lag {
        hitstream_runtime::Lag {
            bytes: None,
            records: *self
                .consumer
                .context()
                .lag
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
            untrusted: Some(
                self.state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .untrusted,
            ),
        }
    }

    fn take_problems(&mut self) -> Vec<SourceError> {
        let taken = self
            .consumer
            .context()
            .problems
            .lock()
            .expect("problems lock")
            .take();
        taken.into_iter().map(SourceError::Remote).collect()
    }

    fn replayable(&self) -> bool {
        true
    }

    fn extent(&self, _batch: &Batch) -> Option<serde_json::Value> {
        self.last_extent
            .as_ref()
            .map(|e| serde_json::to_value(e).expect("an extent serializes"))
    }

    fn reread(&mut self, extent: &serde_json::Value) -> Result<Batch, SourceError> {
        let ext: Extent = serde_json::from_value(extent.clone())
            .map_err(|e| kafka_err("a recorded batch cannot be read", e))?;
        // Each partition's range is read once, then the runs are put together in order.
        let mut ranges: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
        for s in &ext.segments {
            let r = ranges.entry(s.partition).or_insert((s.from, s.to));
            r.0 = r.0.min(s.from);
            r.1 = r.1.max(s.to);
        }
        let topic = self.cfg.topic.clone();
        for (&p, &(from, to)) in &ranges {
            // Batches of a repeated epoch come in order: what lies before this one is not
            // needed again, and what was read ahead serves the next ones.
            self.replay_cache
                .retain(|&(cp, off), _| cp != p || off >= from);
            if (from..to).all(|off| self.replay_cache.contains_key(&(p, off))) {
                continue;
            }
            self.rereader()?;
            let c = self.rereader.as_ref().expect("just made");
            let cache = &mut self.replay_cache;
            let key = self.cfg.origin_key.as_ref();
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(&topic, p, Offset::Offset(rewound(from)))
                .map_err(|e| kafka_err("replay", e))?;
            c.assign(&tpl).map_err(|e| kafka_err("replay", e))?;
            let ahead = to + READ_AHEAD;
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut last = from - 1;
            loop {
                if Instant::now() > deadline {
                    if last + 1 >= to {
                        break;
                    }
                    return Err(kafka_err(
                        "replay",
                        format!(
                            "partition {p} offsets {from}..{to} not all readable within 30 s (read to {last})"
                        ),
                    ));
                }
                match c.poll(Duration::from_millis(200)) {
                    None => {}
                    Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) if last + 1 >= to => {
                        break
                    }
                    Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => {}
                    Some(Err(e)) => return Err(kafka_err("replay", e)),
                    Some(Ok(m)) => {
                        if m.partition() != p || m.offset() < from {
                            continue;
                        }
                        last = m.offset();
                        cache.insert((p, m.offset()), Self::owned(&m, key));
                        if m.offset() + 1 >= ahead {
                            break;
                        }
                    }
                }
            }
        }
        let payloads = &self.replay_cache;
        if let Some(c) = &self.rereader {
            let _ = c.unassign();
        }
        let mut b = Batch::new(Origin::Stream {
            name: format!("kafka:{topic}"),
        });
        let mut lineage = Lineage::new(topic.clone());
        for s in &ext.segments {
            for off in s.from..s.to {
                if s.skipped.binary_search(&off).is_ok() {
                    continue;
                }
                let skip = s
                    .partial
                    .iter()
                    .find(|&&(o, _)| o == off)
                    .map_or(0, |&(_, n)| n);
                // Offsets with no message (compacted, transaction markers) were never lines.
                if let Some(m) = payloads.get(&(s.partition, off)) {
                    let trusted = !s.untrusted.contains(&off);
                    push_lines(
                        &mut b,
                        &mut lineage,
                        m,
                        skip,
                        trusted,
                        self.cfg.max_line_bytes,
                    );
                }
            }
        }
        b.set_lineage(lineage);
        Ok(b)
    }

    fn set_barrier(&mut self, barrier: Barrier) {
        *self
            .consumer
            .context()
            .barrier
            .lock()
            .expect("barrier lock") = Some(barrier);
    }

    fn before_replay(&mut self, held: bool) {
        // Only an epoch no sink holds can have partitions another process stored since;
        // without a shared sink nobody else stores them.
        self.fence = (!held && self.cfg.store.is_some()).then(BTreeMap::new);
    }

    fn reread_owned(&mut self, extent: &serde_json::Value) -> Result<(Batch, u64), SourceError> {
        let Some(mut fence) = self.fence.take() else {
            return self.reread(extent).map(|b| (b, 0));
        };
        let mut ext: Extent = serde_json::from_value(extent.clone())
            .map_err(|e| kafka_err("a recorded batch cannot be read", e))?;
        // A partition is left out when the shared sink holds positions beyond where this
        // epoch began reading it: another process owned it meanwhile and stored those lines
        // (this process never stored this epoch, and its earlier epochs end before it).
        let mut first: BTreeMap<i32, i64> = BTreeMap::new();
        for seg in &ext.segments {
            first.entry(seg.partition).or_insert(seg.from);
        }
        let undecided: Vec<i32> = first
            .keys()
            .copied()
            .filter(|p| !fence.contains_key(p))
            .collect();
        if !undecided.is_empty() {
            let store = self.cfg.store.clone().expect("fence needs a store");
            let keys: Vec<String> = undecided
                .iter()
                .map(|&p| part_key(&self.cfg.topic, p))
                .collect();
            let stored = store
                .load(&keys)
                .map_err(|e| kafka_err("reading stored partition positions", e))?;
            for p in undecided {
                let key = part_key(&self.cfg.topic, p);
                let elsewhere = stored
                    .iter()
                    .find(|s| s.key == key)
                    .is_some_and(|s| s.next > first[&p]);
                fence.insert(p, elsewhere);
                if elsewhere {
                    let mut state = self.state.lock().expect("state lock");
                    state.next.remove(&p);
                    state.seen.remove(&p);
                    state.since.remove(&p);
                }
            }
        }
        let mut left_out = 0u64;
        ext.segments.retain(|seg| {
            if fence.get(&seg.partition).copied().unwrap_or(false) {
                left_out += seg.kept();
                false
            } else {
                true
            }
        });
        ext.lines -= left_out.min(ext.lines);
        self.fence = Some(fence);
        let value = serde_json::to_value(&ext).expect("an extent serializes");
        self.reread(&value).map(|b| (b, left_out))
    }

    fn correct_positions(&self, positions: &mut Checkpoint) {
        if self.fence.as_ref().is_some_and(|f| f.values().any(|&x| x)) {
            let state = self.state.lock().expect("state lock");
            positions.streams.insert(
                self.key.clone(),
                serde_json::to_value(&*state).expect("the state serializes"),
            );
        }
    }

    fn checkpointed(&mut self, durable: &Checkpoint) -> Vec<Fingerprint> {
        // The group's offsets show the lag to monitoring; recovery never reads them.
        if let Some(v) = durable.streams.get(&self.key) {
            if let Ok(s) = serde_json::from_value::<KafkaState>(v.clone()) {
                let mut tpl = TopicPartitionList::new();
                for (&p, &n) in &s.next {
                    let _ = tpl.add_partition_offset(&self.cfg.topic, p, Offset::Offset(n));
                }
                if tpl.count() > 0 {
                    let _ = self.consumer.commit(&tpl, CommitMode::Async);
                }
            }
        }
        Vec::new()
    }

    fn close(&mut self) {
        // The pipeline stored everything handed over already (see `RunSource::close`): the
        // revocation that leaving the group brings has nothing to wait for.
        *self
            .consumer
            .context()
            .barrier
            .lock()
            .expect("barrier lock") = None;
        self.consumer.unsubscribe();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(origin: &str, at: u64) -> Option<(String, u64)> {
        Some((origin.to_string(), at))
    }

    #[test]
    fn lines_sent_again_after_a_crash_are_admitted_once() {
        let mut s = KafkaState::default();
        // ship sent lines at origin offsets 0, 100, 200 to partition 0, crashed before its
        // checkpoint, and sent them again from 0, then went on.
        let sent = [0u64, 100, 200, 0, 100, 200, 300];
        let admitted: Vec<bool> = sent
            .iter()
            .enumerate()
            .map(|(i, &at)| s.admit(0, i as i64, o("h:f", at).as_ref()))
            .collect();
        assert_eq!(admitted, [true, true, true, false, false, false, true]);
        assert_eq!(s.skipped, 3);
        assert_eq!(s.next[&0], 7);
        // Another origin and another partition have marks of their own.
        assert!(s.admit(0, 7, o("h:g", 0).as_ref()));
        assert!(s.admit(1, 0, o("h:f", 0).as_ref()));
        // Lines without origin headers are always new.
        assert!(s.admit(1, 1, None));
        assert!(s.admit(1, 2, None));
    }

    #[test]
    fn lines_of_a_packed_message_sent_again_are_admitted_once() {
        let mut s = KafkaState::default();
        let o = |offs: &'static [u64]| Some(("h:f", offs));
        // Two messages of three lines, then ship restarted from offset 100 and packed
        // differently: the first two lines of its first message were delivered before.
        assert_eq!(
            s.admit_lines(0, 0, o(&[0, 50, 100]), &MarkLimits::default())
                .skipped,
            0
        );
        assert_eq!(
            s.admit_lines(0, 1, o(&[150, 200, 250]), &MarkLimits::default())
                .skipped,
            0
        );
        assert_eq!(
            s.admit_lines(0, 2, o(&[100, 150, 200]), &MarkLimits::default())
                .skipped,
            3
        );
        assert_eq!(
            s.admit_lines(0, 3, o(&[250, 300, 350]), &MarkLimits::default())
                .skipped,
            1
        );
        assert_eq!(
            s.admit_lines(0, 4, o(&[400]), &MarkLimits::default())
                .skipped,
            0
        );
        assert_eq!(s.skipped, 4);
        assert_eq!(s.seen[&0]["h:f"].next, 401);
        assert_eq!(s.next[&0], 5);

        // The batch's extent records the partly skipped message, and counts its lines.
        let mut ext = Extent::default();
        ext.push(0, 2, 3, 3, true);
        ext.push(0, 3, 3, 1, true);
        ext.push(0, 4, 1, 0, true);
        assert_eq!(ext.lines, 3);
        let seg = &ext.segments[0];
        assert_eq!((seg.from, seg.to), (2, 5));
        assert_eq!(seg.skipped, [2]);
        assert_eq!(seg.partial, [(3, 1)]);
        assert_eq!(seg.kept(), 3);
        let back: Extent = serde_json::from_value(serde_json::to_value(&ext).unwrap()).unwrap();
        assert_eq!(back, ext);
        // An extent written before packed messages: one line a message not skipped.
        let old: Segment =
            serde_json::from_str(r#"{"partition":1,"from":10,"to":15,"skipped":[11]}"#).unwrap();
        assert_eq!(old.kept(), 4);
    }

    #[test]
    fn the_lines_of_a_message() {
        let all = |p: &[u8], n| lines_of(p, n).map(<[u8]>::to_vec).collect::<Vec<_>>();
        assert_eq!(all(b"a b c\n", 1), [b"a b c".to_vec()]);
        assert_eq!(all(b"a\nb", 1), [b"a\nb".to_vec()]);
        assert_eq!(
            all(b"a\nb\nc", 3),
            [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
        assert_eq!(all(b"", 1), [Vec::<u8>::new()]);
    }

    #[test]
    fn an_epoch_stores_the_partitions_it_moved_and_a_new_owner_takes_them() {
        let mut start = Checkpoint::new();
        let mut s = KafkaState::default();
        s.admit(0, 9, o("h:f", 100).as_ref());
        s.admit(1, 4, None);
        start
            .streams
            .insert(state_key("t"), serde_json::to_value(&s).unwrap());
        // In the epoch: partition 0 moved on, 1 did not, 2 was read for the first time.
        s.admit(0, 10, o("h:f", 200).as_ref());
        s.admit(2, 0, None);
        let mut end = Checkpoint::new();
        end.streams
            .insert(state_key("t"), serde_json::to_value(&s).unwrap());
        let parts = shared_parts(&start, &end);
        let keys: Vec<(&str, i64)> = parts.iter().map(|p| (p.key.as_str(), p.next)).collect();
        assert_eq!(keys, [("kafka/t/0", 11), ("kafka/t/2", 1)]);
        // The next owner of partition 0 starts where it ends, with its origin marks: a line
        // of h:f below 201 that `ship` sends again is dropped there too.
        let mut other = KafkaState::default();
        other.next.insert(0, 3);
        other.adopt(0, &parts[0]);
        assert_eq!(other.next[&0], 11);
        assert!(!other.admit(0, 11, o("h:f", 200).as_ref()));
        assert!(other.admit(0, 12, o("h:f", 300).as_ref()));
        // Each commit goes on from where the stored rows ended as the process knew it: its
        // own last commit, or (for the new owner) the position it took over, which is later
        // than the one it had stored itself long before.
        assert_eq!(parts[0].after, Some(10));
        assert_eq!(parts[1].after, None);
        let mut start2 = Checkpoint::new();
        start2.streams.insert(
            state_key("t"),
            serde_json::to_value(&KafkaState {
                next: [(0, 3)].into(),
                ..KafkaState::default()
            })
            .unwrap(),
        );
        let mut end2 = Checkpoint::new();
        end2.streams
            .insert(state_key("t"), serde_json::to_value(&other).unwrap());
        let taken = shared_parts(&start2, &end2);
        assert_eq!(taken[0].next, 13);
        assert_eq!(taken[0].after, Some(11));
    }

    #[test]
    fn the_state_round_trips_through_json() {
        let mut s = KafkaState::default();
        s.admit(2, 41, o("h:0123456789abcdef", 4096).as_ref());
        let v = serde_json::to_value(&s).unwrap();
        let back: KafkaState = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.next[&2], 42);
    }

    #[test]
    fn a_forged_mark_cannot_hide_the_lines_after_it() {
        let lim = MarkLimits::default();
        let mut s = KafkaState::default();
        let o = |offs: &'static [u64]| Some(("h:f", offs));
        assert!(s.admit_lines(0, 0, o(&[0, 100]), &lim).trusted);
        // A producer that is not `ship` names the real origin with offsets no file has,
        // near u64::MAX (where `+ 1` wrapped), or out of order: its lines are new, counted,
        // and the mark stays.
        for (k, forged) in [&[u64::MAX - 1][..], &[u64::MAX], &[1 << 62], &[500, 300]]
            .into_iter()
            .enumerate()
        {
            let a = s.admit_lines(0, 1 + k as i64, Some(("h:f", forged)), &lim);
            assert_eq!(
                a,
                Admission {
                    skipped: 0,
                    trusted: false
                }
            );
        }
        assert_eq!(s.seen[&0]["h:f"].next, 101);
        assert_eq!(s.untrusted, 5);
        // The real lines that follow are all delivered.
        assert_eq!(s.admit_lines(0, 9, o(&[200, 300]), &lim).skipped, 0);
        // A jump of more than the bound is not trusted; a repeat is still dropped.
        assert!(!s.admit_lines(0, 10, o(&[301 + (1 << 30)]), &lim).trusted);
        assert_eq!(s.admit_lines(0, 11, o(&[200, 300]), &lim).skipped, 2);
        assert_eq!(s.admit_lines(0, 12, o(&[400]), &lim).skipped, 0);
        // Without a bound (a verified MAC vouches for the shipper), a jump is fine.
        let free = MarkLimits {
            max_jump: None,
            ..lim
        };
        assert!(s.admit_lines(0, 13, o(&[5 << 30]), &free).trusted);
        assert_eq!(s.seen[&0]["h:f"].next, (5 << 30) + 1);
        assert_eq!(s.next[&0], 14);
        // Kafka offsets at the end of the range do not wrap either.
        s.admit_lines(1, i64::MAX, None, &lim);
        assert_eq!(s.next[&1], i64::MAX);
    }

    #[test]
    fn each_partition_remembers_a_bounded_number_of_origins() {
        let lim = MarkLimits {
            max_origins: 3,
            ..MarkLimits::default()
        };
        let mut s = KafkaState::default();
        let names = ["h:a", "h:b", "h:c", "h:d", "h:e"];
        for (i, n) in names.iter().enumerate() {
            s.admit_lines(0, i as i64, Some((n, &[10])), &lim);
            // h:a is seen again each time: it stays.
            s.admit_lines(0, 100 + i as i64, Some(("h:a", &[10])), &lim);
        }
        let kept: Vec<&str> = s.seen[&0].keys().map(String::as_str).collect();
        assert_eq!(kept, ["h:a", "h:d", "h:e"]);
        // A forgotten origin's line counts as new.
        assert_eq!(s.admit_lines(0, 200, Some(("h:b", &[0])), &lim).skipped, 0);
        assert_eq!(s.seen[&0].len(), 3);
    }

    #[test]
    fn marks_stored_before_read_back() {
        let old: KafkaState =
            serde_json::from_str(r#"{"next":{"0":5},"seen":{"0":{"h:f":401}},"skipped":2}"#)
                .unwrap();
        assert_eq!(
            old.seen[&0]["h:f"],
            Mark {
                next: 401,
                touched: -1
            }
        );
        let v = serde_json::to_value(&old).unwrap();
        assert_eq!(v["seen"]["0"]["h:f"], serde_json::json!([401, -1]));
        assert_eq!(serde_json::from_value::<KafkaState>(v).unwrap(), old);
    }

    #[test]
    fn a_line_over_the_limit_is_cut_and_marked_and_every_line_has_its_lineage() {
        let long = vec![b'x'; (1 << 20) + 10];
        let m = Msg {
            partition: 2,
            offset: 7,
            time: 0,
            payload: long.clone(),
            origin: Some(("h:f".into(), vec![4096])),
            lines: 1,
            unauthenticated: false,
        };
        let mut b = Batch::new(Origin::Stream {
            name: "kafka:t".into(),
        });
        let mut l = Lineage::new("t");
        push_lines(&mut b, &mut l, &m, 0, true, 1 << 20);
        let packed = Msg {
            offset: 8,
            payload: b"a\nb\nc".to_vec(),
            origin: Some(("h:f".into(), vec![5000, 5002, 5004])),
            lines: 3,
            ..m
        };
        push_lines(&mut b, &mut l, &packed, 1, true, 1 << 20);
        push_lines(&mut b, &mut l, &packed, 0, false, 1 << 20);
        b.set_lineage(l);
        assert_eq!(b.len(), 6);
        assert_eq!(b.line(0).unwrap().len(), 1 << 20);
        assert_eq!(b.truncated(), [0]);
        let src = |i| b.line_source(i).unwrap();
        assert_eq!((src(0).partition, src(0).offset, src(0).index), (2, 7, 0));
        assert_eq!(src(0).origin, Some(("h:f", 4096)));
        assert_eq!(b.line(1), Some(&b"b"[..]));
        assert_eq!(
            (src(1).offset, src(1).index, src(1).origin),
            (8, 1, Some(("h:f", 5002)))
        );
        // Lines of a message not trusted keep no origin.
        assert_eq!((src(3).index, src(3).origin), (0, None));
        assert_eq!(src(5).topic, "t");
    }
}
