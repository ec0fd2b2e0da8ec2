//! `hitstream ship`: lines from a source into a topic, positions advanced only after Kafka
//! confirmed delivery.
//!
//! Every batch read is sent line by line; the batch's position goes into the durable
//! checkpoint once every line of it and of all batches before it is confirmed. A crash
//! loses nothing: the restarted `ship` sends again what was not confirmed *and checkpointed*,
//! and the consumer drops the lines it stored already by their origin headers (see
//! [`KafkaSource`](crate::KafkaSource)). When the broker is slow or away, librdkafka's queue
//! fills, sending blocks, and reading stops until it drains: the queue is bounded and the
//! wait shows in [`ShipStats::waiting`].

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hitstream_runtime::RunSource;
use hitstream_source::{Batch, Checkpoint, Origin, Poll, SourceError};
use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};

use crate::client::Connection;
use crate::origin::{OriginKey, LINES_HEADER, MAC_HEADER, OFFSET_HEADER, ORIGIN_HEADER};

/// How messages are keyed (and so partitioned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyBy {
    /// The line's first field: the client address in the common, combined and nginx formats.
    /// One client's lines stay in one partition, in order.
    Client,
    /// No key; the partition follows the line's origin and offset (in runs of 64 KiB), so a
    /// line sent again goes where it went before.
    None,
    /// The N-th whitespace-separated field (1-based).
    Field(usize),
}

impl std::str::FromStr for KeyBy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "client" => Ok(KeyBy::Client),
            "none" => Ok(KeyBy::None),
            _ => match s.strip_prefix("field:").map(str::parse::<usize>) {
                Some(Ok(n)) if n > 0 => Ok(KeyBy::Field(n)),
                _ => Err(format!(
                    "`{s}`: the key is `client`, `none` or `field:N` (N from 1)"
                )),
            },
        }
    }
}

/// Settings of [`ship`].
#[derive(Debug, Clone)]
pub struct ShipConfig {
    /// Brokers and librdkafka settings (applied last, so they override the ones below).
    pub connection: Connection,
    /// The topic.
    pub topic: String,
    /// Message key.
    pub key: KeyBy,
    /// `none`, `gzip`, `snappy`, `lz4` or `zstd`.
    pub compression: String,
    /// `all`, `1` or `0`.
    pub acks: String,
    /// The idempotent producer (no duplicates or reordering from the producer's retries).
    pub idempotent: bool,
    /// Most bytes in one produce request per partition (librdkafka `batch.size`).
    pub batch_bytes: Option<usize>,
    /// How long to wait for a batch to fill (librdkafka `linger.ms`).
    pub linger: Duration,
    /// Where the positions of what was delivered are kept.
    pub checkpoint: PathBuf,
    /// Time between checkpoints.
    pub checkpoint_interval: Duration,
    /// Most lines sent and not yet confirmed; reading waits above it.
    pub max_in_flight: usize,
    /// Lines packed into one message (1: a message per line, what any consumer reads).
    /// Several cost librdkafka, the broker and `run` far less CPU per line; only
    /// hitstream's Kafka source unpacks them.
    pub lines_per_message: usize,
    /// The key shared with `run` (`--origin-key`): each message with origin headers gets
    /// an `hs-mac` header, so that `run` trusts its origin and no one else's.
    pub origin_key: Option<OriginKey>,
}

impl ShipConfig {
    /// Defaults: key by client, lz4, acks all, idempotent, linger 5 ms.
    pub fn new(connection: Connection, topic: impl Into<String>, checkpoint: PathBuf) -> Self {
        ShipConfig {
            connection,
            topic: topic.into(),
            key: KeyBy::Client,
            compression: "lz4".into(),
            acks: "all".into(),
            idempotent: true,
            batch_bytes: None,
            linger: Duration::from_millis(5),
            checkpoint,
            checkpoint_interval: Duration::from_secs(1),
            max_in_flight: 200_000,
            lines_per_message: 1,
            origin_key: None,
        }
    }
}

/// Counters of a [`ship`] run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShipStats {
    /// Lines read from the source.
    pub read: u64,
    /// Lines Kafka confirmed.
    pub delivered: u64,
    /// Lines Kafka refused for good (too large, not authorized), each reported.
    pub failed: u64,
    /// Lines sent and not yet confirmed.
    pub in_flight: u64,
    /// Since when sending waits for the broker (nothing confirmed while lines are in flight).
    pub waiting: Option<Duration>,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// The input ended (bounded sources) and everything was delivered.
    pub finished: bool,
}

/// Why [`ship`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum ShipError {
    /// The producer could not be created (a bad setting).
    #[error("kafka producer: {0}")]
    Producer(KafkaError),
    /// The checkpoint could not be read or written.
    #[error(transparent)]
    Checkpoint(#[from] SourceError),
}

/// Batches sent and not yet all confirmed, oldest first.
#[derive(Default)]
struct Tracker {
    /// Id of the first entry of `pending`.
    base: usize,
    /// Per batch: lines not yet confirmed, and the batch (for its positions).
    pending: VecDeque<(usize, Option<Batch>)>,
    delivered: u64,
    /// Refusals: the reason and the lines of the message.
    failed: Vec<(String, usize)>,
    /// A report came since the main loop last looked (it then notes the time: one clock
    /// read per poll, not per line).
    reported: bool,
    last_delivery: Option<Instant>,
}

impl Tracker {
    /// Moves the positions of the oldest batches whose lines are all confirmed into
    /// `durable`, in order; says whether any was.
    fn settle(&mut self, durable: &mut Checkpoint) -> bool {
        let mut any = false;
        while self.pending.front().is_some_and(|(left, _)| *left == 0) {
            let (_, batch) = self.pending.pop_front().expect("front");
            self.base += 1;
            if let Some(b) = batch {
                durable.apply(&b);
            }
            any = true;
        }
        any
    }
}

struct Context {
    tracker: Mutex<Tracker>,
    errors: Mutex<crate::client::Problems>,
}

impl ClientContext for Context {
    fn error(&self, error: KafkaError, reason: &str) {
        self.errors
            .lock()
            .expect("errors lock")
            .push(format!("kafka: {error}: {reason}"));
    }
}

impl ProducerContext for Context {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        let (id, n) = from_opaque(opaque);
        let mut t = self.tracker.lock().expect("tracker lock");
        match result {
            Ok(_) => t.delivered += n as u64,
            Err((e, _)) => t.failed.push((e.to_string(), n)),
        }
        t.reported = true;
        let base = t.base;
        if let Some(entry) = t.pending.get_mut(id.wrapping_sub(base)) {
            entry.0 = entry.0.saturating_sub(n);
        }
    }
}

/// The most lines packed into one message.
pub const MAX_LINES_PER_MESSAGE: usize = 10_000;
/// The most bytes packed into one message, well below the brokers' usual 1 MB limit.
const MAX_PACKED_BYTES: usize = 256 * 1024;
/// A message's delivery opaque: its batch id above these bits, its line count in them.
const OPAQUE_LINE_BITS: u32 = 16;

fn opaque(id: usize, lines: usize) -> usize {
    (id << OPAQUE_LINE_BITS) | lines
}

/// The batch id and the line count of a message's delivery opaque.
fn from_opaque(opaque: usize) -> (usize, usize) {
    (
        opaque >> OPAQUE_LINE_BITS,
        opaque & ((1 << OPAQUE_LINE_BITS) - 1),
    )
}

fn key_of(line: &[u8], key: KeyBy) -> Option<&[u8]> {
    let n = match key {
        KeyBy::None => return None,
        KeyBy::Client => 1,
        KeyBy::Field(n) => n,
    };
    line.split(|&b| b == b' ' || b == b'\t')
        .filter(|f| !f.is_empty())
        .nth(n - 1)
}

/// The partition of a line among `partitions`: by its key the way librdkafka's default
/// partitioner does it (CRC-32 of the key, modulo the count), so a client goes where it went
/// before; without a key, by its origin and offset in runs of 64 KiB, so a line sent again
/// goes where it went before. `None` when the count is not known, or for a keyed line when
/// `by_key` is false (another partitioner was set): librdkafka then places it.
fn partition_of(
    line: &[u8],
    offset: u64,
    key: KeyBy,
    by_key: bool,
    origin_hash: u64,
    partitions: Option<i32>,
) -> Option<i32> {
    let n = partitions?;
    match key_of(line, key) {
        Some(k) if by_key => Some((crc32fast::hash(k) % n as u32) as i32),
        Some(_) => None,
        None => Some(((origin_hash ^ (offset >> 16)) % n as u64) as i32),
    }
}

/// Cuts lines sorted by partition (`(partition, line)`) into messages: runs of one
/// partition, of at most `pack` lines and (unless one line is larger) `MAX_PACKED_BYTES`
/// joined. Yields each message's range in `order` and its payload's length.
fn messages<'a>(
    order: &'a [(i32, usize)],
    pack: usize,
    line_len: impl Fn(usize) -> usize + 'a,
) -> impl Iterator<Item = (std::ops::Range<usize>, usize)> + 'a {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= order.len() {
            return None;
        }
        let partition = order[start].0;
        let mut end = start + 1;
        let mut bytes = line_len(order[start].1);
        while end < order.len() && end - start < pack && order[end].0 == partition {
            let len = line_len(order[end].1);
            if bytes + 1 + len > MAX_PACKED_BYTES {
                break;
            }
            bytes += 1 + len;
            end += 1;
        }
        let range = start..end;
        start = end;
        Some((range, bytes))
    })
}

/// Ships `source` into the topic until it ends or `stop` is set, starting from the
/// positions in `cfg.checkpoint` (the caller opened `source` at them). `status` is called
/// about once a second.
pub fn ship(
    cfg: &ShipConfig,
    mut source: Box<dyn RunSource>,
    stop: &AtomicBool,
    mut status: impl FnMut(&ShipStats, &[String]),
) -> Result<ShipStats, ShipError> {
    let mut durable = Checkpoint::load_or_default(&cfg.checkpoint)?;
    let mut settings: Vec<(&str, String)> = vec![
        ("compression.type", cfg.compression.clone()),
        ("acks", cfg.acks.clone()),
        ("enable.idempotence", cfg.idempotent.to_string()),
        ("linger.ms", cfg.linger.as_millis().to_string()),
        // Wait for the broker as long as it takes: nothing is dropped after a timeout.
        ("message.timeout.ms", "0".into()),
        (
            "queue.buffering.max.messages",
            (cfg.max_in_flight + 10_000).to_string(),
        ),
    ];
    if !cfg.idempotent {
        // Without the idempotent producer a retried request can overtake the one after it;
        // one request in flight per broker keeps a partition's lines in the order they were
        // read, which the consumer's origin marks rely on (a line that came after a later
        // one would be taken for a repeat and dropped).
        settings.push(("max.in.flight.requests.per.connection", "1".into()));
    }
    if let Some(b) = cfg.batch_bytes {
        settings.push(("batch.size", b.to_string()));
    }
    let ctx = Context {
        tracker: Mutex::new(Tracker::default()),
        errors: Mutex::new(crate::client::Problems::default()),
    };
    let producer: BaseProducer<Context> = cfg
        .connection
        .client_config(&settings)
        .create_with_context(ctx)
        .map_err(ShipError::Producer)?;
    let count_partitions = |timeout: Duration| {
        producer
            .client()
            .fetch_metadata(Some(&cfg.topic), timeout)
            .ok()
            .and_then(|m| {
                m.topics()
                    .iter()
                    .find(|t| t.name() == cfg.topic)
                    .map(|t| t.partitions().len() as i32)
            })
            .filter(|&n| n > 0)
    };
    // Lines without a key need the partition count before the first is sent (see
    // `partition_of`). Keyed lines go where librdkafka's partitioner puts them meanwhile,
    // the same place, so sending starts (or waits for the broker, saying so) at once, and
    // the count is asked for again each second until known.
    let mut partitions = count_partitions(if cfg.key == KeyBy::None {
        Duration::from_secs(30)
    } else {
        Duration::from_secs(1)
    });
    let mut partitions_asked = Instant::now();
    // A partitioner set with `--kafka-option partitioner=...` places keyed lines instead.
    let by_key = !cfg
        .connection
        .options
        .iter()
        .any(|(k, _)| k == "partitioner");

    let mut stats = ShipStats::default();
    let mut next_id = 0usize;
    let mut last_save = Instant::now();
    let mut last_status = Instant::now();
    let mut ended = false;
    let mut notes: Vec<String> = Vec::new();
    let mut first_send: Option<Instant> = None;
    loop {
        // Settle confirmed batches in order, and checkpoint now and then.
        producer.poll(Duration::ZERO);
        let settled = {
            let mut t = producer.context().tracker.lock().expect("tracker lock");
            let settled = t.settle(&mut durable);
            if std::mem::take(&mut t.reported) {
                t.last_delivery = Some(Instant::now());
            }
            stats.delivered = t.delivered;
            for (f, n) in t.failed.drain(..) {
                stats.failed += n as u64;
                notes.push(if n == 1 {
                    format!("error: a line was refused by Kafka: {f}")
                } else {
                    format!("error: a message of {n} lines was refused by Kafka: {f}")
                });
            }
            stats.in_flight = stats.read - stats.delivered - stats.failed;
            // Waiting: lines in flight and nothing confirmed for 2 s (since the last
            // confirmation, or since the first line was sent).
            stats.waiting = match t.last_delivery.or(first_send) {
                Some(since) if stats.in_flight > 0 && since.elapsed() >= Duration::from_secs(2) => {
                    Some(since.elapsed())
                }
                _ => None,
            };
            if t.pending.is_empty() && ended {
                stats.finished = true;
            }
            settled
        };
        notes.extend(
            producer
                .context()
                .errors
                .lock()
                .expect("errors lock")
                .take(),
        );
        let stopping = stop.load(Ordering::Relaxed);
        if (settled && last_save.elapsed() >= cfg.checkpoint_interval) || stats.finished || stopping
        {
            durable.save_atomic(&cfg.checkpoint)?;
            source.checkpointed(&durable);
            stats.checkpoints += 1;
            last_save = Instant::now();
        }
        if last_status.elapsed() >= Duration::from_secs(1) || stats.finished || stopping {
            status(&stats, &notes);
            notes.clear();
            last_status = Instant::now();
        }
        if stats.finished || stopping {
            break;
        }
        // Counted in lines (librdkafka counts messages, which may hold several).
        if ended || stats.in_flight as usize >= cfg.max_in_flight {
            producer.poll(Duration::from_millis(20));
            continue;
        }
        if partitions.is_none() && partitions_asked.elapsed() >= Duration::from_secs(1) {
            partitions = count_partitions(Duration::from_millis(200));
            partitions_asked = Instant::now();
        }
        let batch = match source.poll(Duration::from_millis(50)) {
            Poll::Batch(b) => b,
            Poll::Idle => continue,
            Poll::End => {
                ended = true;
                continue;
            }
        };
        for p in source.take_problems() {
            notes.push(format!("warning: {p}"));
        }
        let origin = match batch.origin() {
            Origin::File { fingerprint, .. } => Some(fingerprint.to_string()),
            _ => None,
        };
        let id = next_id;
        next_id += 1;
        first_send.get_or_insert_with(Instant::now);
        let lines = batch.len();
        producer
            .context()
            .tracker
            .lock()
            .expect("tracker lock")
            .pending
            .push_back((lines, None));
        // Lines go out grouped by partition, each partition's in the order they were read
        // (so a client's lines, and a partition's origin offsets, stay in order). librdkafka
        // then queues and frees each partition's messages together: with a live tail of
        // 30,000 lines/s this took about a third less CPU than interleaving them.
        let origin_hash = origin
            .as_deref()
            .map_or(0, |o| xxhash_rust::xxh3::xxh3_64(o.as_bytes()));
        let mut order: Vec<(i32, usize)> = batch
            .lines()
            .enumerate()
            .map(|(i, line)| {
                let offset = batch.line_offset(i);
                let p = partition_of(line, offset, cfg.key, by_key, origin_hash, partitions);
                (p.unwrap_or(-1), i)
            })
            .collect();
        order.sort_by_key(|&(p, _)| p);
        // Then each partition's run is cut into messages of up to `lines_per_message` lines
        // (one line each by default; packing needs the partition known, so that a line sent
        // again goes where it went before).
        let pack = if partitions.is_some() && (by_key || cfg.key == KeyBy::None) {
            cfg.lines_per_message.clamp(1, MAX_LINES_PER_MESSAGE)
        } else {
            1
        };
        let line_len = |i: usize| batch.line(i).map_or(0, <[u8]>::len);
        for (range, bytes) in messages(&order, pack, line_len) {
            let chunk = &order[range];
            let partition = chunk[0].0;
            let n = chunk.len();
            let first = chunk[0].1;
            let Some(first_line) = batch.line(first) else {
                continue;
            };
            let packed: Vec<u8>;
            let payload = if n == 1 {
                first_line
            } else {
                let mut buf = Vec::with_capacity(bytes);
                for (k, &(_, i)) in chunk.iter().enumerate() {
                    if k > 0 {
                        buf.push(b'\n');
                    }
                    buf.extend_from_slice(batch.line(i).unwrap_or_default());
                }
                packed = buf;
                &packed
            };
            let mut headers = OwnedHeaders::new_with_capacity(4);
            let offset_text;
            let lines_text;
            let mac_text;
            if let Some(o) = &origin {
                offset_text = if n == 1 {
                    batch.line_offset(first).to_string()
                } else {
                    let offsets: Vec<String> = chunk
                        .iter()
                        .map(|&(_, i)| batch.line_offset(i).to_string())
                        .collect();
                    offsets.join(",")
                };
                headers = headers
                    .insert(Header {
                        key: ORIGIN_HEADER,
                        value: Some(o.as_bytes()),
                    })
                    .insert(Header {
                        key: OFFSET_HEADER,
                        value: Some(offset_text.as_bytes()),
                    });
                if let Some(key) = &cfg.origin_key {
                    let offsets: Vec<u64> =
                        chunk.iter().map(|&(_, i)| batch.line_offset(i)).collect();
                    mac_text = key.sign(o, &offsets, payload);
                    headers = headers.insert(Header {
                        key: MAC_HEADER,
                        value: Some(mac_text.as_bytes()),
                    });
                }
            }
            if n > 1 {
                lines_text = n.to_string();
                headers = headers.insert(Header {
                    key: LINES_HEADER,
                    value: Some(lines_text.as_bytes()),
                });
            }
            let mut record = BaseRecord::with_opaque_to(&cfg.topic, opaque(id, n))
                .payload(payload)
                .headers(headers);
            // A packed message holds several clients' lines: it has no key, only the
            // partition its lines' keys chose.
            if n == 1 {
                if let Some(k) = key_of(first_line, cfg.key) {
                    record = record.key(k);
                }
            }
            if partition >= 0 {
                record = record.partition(partition);
            }
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        // The bounded queue is full (a slow or absent broker): wait here,
                        // which stops reading.
                        record = r;
                        producer.poll(Duration::from_millis(50));
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                    }
                    Err((e, _)) => {
                        let mut t = producer.context().tracker.lock().expect("tracker lock");
                        t.failed.push((e.to_string(), n));
                        let base = t.base;
                        if let Some(entry) = t.pending.get_mut(id - base) {
                            entry.0 = entry.0.saturating_sub(n);
                        }
                        break;
                    }
                }
            }
            stats.read += n as u64;
        }
        let mut t = producer.context().tracker.lock().expect("tracker lock");
        let base = t.base;
        if let Some(entry) = t.pending.get_mut(id - base) {
            entry.1 = Some(batch);
        }
    }
    if stop.load(Ordering::Relaxed) && !stats.finished {
        // Give what is in flight a moment, then keep the positions of what was confirmed.
        let _ = producer.flush(Duration::from_secs(5));
        producer.poll(Duration::ZERO);
        let mut t = producer.context().tracker.lock().expect("tracker lock");
        t.settle(&mut durable);
        stats.delivered = t.delivered;
        drop(t);
        durable.save_atomic(&cfg.checkpoint)?;
    }
    source.close();
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_runs_of_one_partition_within_the_limits() {
        let order = [(0, 0), (0, 1), (0, 2), (1, 3), (2, 4), (2, 5)];
        let cut = |pack, len: &dyn Fn(usize) -> usize| -> Vec<std::ops::Range<usize>> {
            messages(&order, pack, len).map(|(r, _)| r).collect()
        };
        assert_eq!(cut(1, &|_| 10), [0..1, 1..2, 2..3, 3..4, 4..5, 5..6]);
        assert_eq!(cut(2, &|_| 10), [0..2, 2..3, 3..4, 4..6]);
        assert_eq!(cut(100, &|_| 10), [0..3, 3..4, 4..6]);
        // The payload's length counts a newline between lines.
        let sizes: Vec<usize> = messages(&order, 100, |_| 10).map(|(_, b)| b).collect();
        assert_eq!(sizes, [32, 10, 21]);
        // Bytes: a line that would take a message past the limit starts the next one; a
        // line larger than the limit goes alone.
        let big = MAX_PACKED_BYTES / 2;
        assert_eq!(cut(100, &|_| big), [0..1, 1..2, 2..3, 3..4, 4..5, 5..6]);
        assert_eq!(
            cut(100, &|i| if i == 1 { MAX_PACKED_BYTES + 1 } else { 10 }),
            [0..1, 1..2, 2..3, 3..4, 4..6]
        );
        assert_eq!(messages(&[], 100, |_| 1).count(), 0);
    }

    #[test]
    fn the_delivery_opaque_carries_the_batch_and_its_lines() {
        let o = opaque(123_456, MAX_LINES_PER_MESSAGE);
        assert_eq!(from_opaque(o), (123_456, MAX_LINES_PER_MESSAGE));
    }

    #[test]
    fn partitions_follow_the_key_as_librdkafka_places_it() {
        // librdkafka's default partitioner takes the standard CRC-32 of the key (check value
        // 0xCBF43926 for "123456789") modulo the partition count.
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
        let l = b"123456789 - - [01/Jul/1995:00:00:01 -0400] \"GET / HTTP/1.0\" 200 7";
        let p = partition_of(l, 0, KeyBy::Client, true, 7, Some(3));
        assert_eq!(p, Some((0xCBF4_3926u32 % 3) as i32));
        // The same client at another offset, of another origin: the same partition.
        assert_eq!(
            partition_of(l, 1 << 30, KeyBy::Client, true, 99, Some(3)),
            p
        );
        assert_eq!(partition_of(l, 0, KeyBy::Client, true, 7, None), None);
        // With a partitioner of the user's, librdkafka places keyed lines.
        assert_eq!(partition_of(l, 0, KeyBy::Client, false, 7, Some(3)), None);
    }

    #[test]
    fn without_a_key_partitions_follow_origin_and_offset_in_runs_of_64_kib() {
        let l = b"x";
        let at = |offset| partition_of(l, offset, KeyBy::None, true, 12345, Some(5)).unwrap();
        assert_eq!(at(0), at(65_535));
        assert_eq!(at(65_536), at(131_071));
        let all: std::collections::HashSet<i32> = (0..64).map(|r| at(r << 16)).collect();
        assert_eq!(all.len(), 5, "every partition is used");
        assert!(all.iter().all(|p| (0..5).contains(p)));
        // A line with no key field falls back to its origin and offset.
        assert_eq!(
            partition_of(b"", 70_000, KeyBy::Client, true, 12345, Some(5)),
            Some(at(70_000))
        );
    }

    #[test]
    fn keys() {
        let l = b"10.0.0.1 - - [01/Jul/1995:00:00:01 -0400] \"GET / HTTP/1.0\" 200 7";
        assert_eq!(key_of(l, KeyBy::Client), Some(&b"10.0.0.1"[..]));
        assert_eq!(key_of(l, KeyBy::Field(2)), Some(&b"-"[..]));
        assert_eq!(key_of(l, KeyBy::None), None);
        assert_eq!(key_of(b"", KeyBy::Client), None);
        assert_eq!("field:3".parse::<KeyBy>(), Ok(KeyBy::Field(3)));
        assert!("field:0".parse::<KeyBy>().is_err());
        assert!("ip".parse::<KeyBy>().is_err());
    }
}
