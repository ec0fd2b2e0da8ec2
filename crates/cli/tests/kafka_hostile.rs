//! Kafka under hostile producers, against a real Kafka-protocol broker (tansu, started by
//! each test on a free loopback port) and a real client other than hitstream (Python's
//! confluent-kafka, in the virtualenv that scripts/test makes and names in
//! `HITSTREAM_PYTHON`): forged origin headers never make `run` drop a real line, a line
//! over 1 MiB in a message is cut and rejected like any source's, and every row of
//! `run --kafka` names its partition, offset and origin, so that one query audits
//! exactly-once.

mod common;

use std::path::Path;
use std::process::Command;

use common::{
    analyze_report, bin, checkpoint_number, first_u64, kafka_run_cmd, kafka_serial as serial,
    nasa_text, ok, sql_json as sql, Broker,
};
use serde_json::Value;

/// The Python with confluent-kafka (scripts/test sets it).
fn python() -> String {
    std::env::var("HITSTREAM_PYTHON").expect(
        "HITSTREAM_PYTHON names a Python with confluent-kafka (scripts/test makes one from \
         scripts/requirements-interop.txt)",
    )
}

/// A producer that is not hitstream's. For each partition of the topic it reads what is
/// there, takes the origin (`hs-origin`) a shipped message names and the largest origin
/// offset, and produces the messages `forge` asks for to that partition: `huge` (the origin
/// offset 2^64 - 2), `ahead` (1 MB past the last shipped line, well within any bound on a
/// mark's jump: a forged mark that would hide the lines shipped next), each with no MAC, or
/// with a wrong one (`bad_mac`); `long`
/// produces one line of 1.5 MiB to partition 0. Prints how many messages it produced.
const FORGER: &str = r#"
import json, sys
from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING, KafkaError
broker, topic, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
c = Consumer({"bootstrap.servers": broker, "group.id": "forger", "enable.partition.eof": True,
              "auto.offset.reset": "earliest", "enable.auto.commit": False})
parts = sorted(c.list_topics(topic, timeout=30).topics[topic].partitions)
c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
origin, top, eof = {}, {}, set()
while len(eof) < len(parts):
    m = c.poll(10)
    if m is None:
        sys.exit("no message from the broker in 10 s")
    if m.error():
        if m.error().code() == KafkaError._PARTITION_EOF:
            eof.add(m.partition())
            continue
        sys.exit(str(m.error()))
    h = dict(m.headers() or [])
    if "hs-origin" in h:
        origin[m.partition()] = h["hs-origin"].decode()
        offs = [int(x) for x in h["hs-offset"].decode().split(",")]
        top[m.partition()] = max(top.get(m.partition(), 0), max(offs))
c.close()
p = Producer({"bootstrap.servers": broker, "message.max.bytes": 4000000})
n = 0
for part, o in origin.items():
    for k, kind in enumerate(spec.get("forge", [])):
        at = 18446744073709551614 if kind == "huge" else top[part] + 1000000
        line = '6.6.6.%d - - [01/Jul/1995:00:00:01 -0400] "GET /forged/%d/%s HTTP/1.0" 200 7' % (part, k, kind)
        headers = [("hs-origin", o), ("hs-offset", str(at))]
        if kind.endswith("bad_mac"):
            headers.append(("hs-mac", "00" * 32))
        p.produce(topic, line.encode(), partition=part, headers=headers)
        n += 1
if spec.get("long"):
    line = '7.7.7.7 - - [01/Jul/1995:00:00:01 -0400] "GET /' + "a" * (3 << 19) + ' HTTP/1.0" 200 7'
    p.produce(topic, line.encode(), partition=0)
    n += 1
left = p.flush(30)
if left:
    sys.exit("%d messages not delivered" % left)
print(n)
"#;

fn forge(broker: &str, topic: &str, spec: Value) -> u64 {
    let out = ok(Command::new(python())
        .args(["-c", FORGER, broker, topic, &spec.to_string()])
        .output()
        .unwrap());
    out.trim().parse().unwrap()
}

fn one(lake: &Path, q: &str) -> u64 {
    first_u64(&sql(lake, q))
}

fn ship(broker: &str, topic: &str, file: &Path, ckpt: &Path, key: Option<&Path>) {
    let mut c = Command::new(bin());
    c.args(["ship", "--kafka", broker, "--topic", topic])
        .args(["--create-topic", "--partitions", "3"])
        .arg("--file")
        .arg(file)
        .arg("--checkpoint-dir")
        .arg(ckpt);
    if let Some(k) = key {
        c.arg("--origin-key").arg(k);
    }
    ok(c.output().unwrap());
}

/// `run --kafka` to the topic's end into `lake`; its stderr.
fn run(broker: &str, topic: &str, lake: &Path, key: Option<&Path>) -> String {
    let mut c = kafka_run_cmd(broker, topic, "g", lake);
    if let Some(k) = key {
        c.arg("--origin-key").arg(k);
    }
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    ok(out);
    err
}

/// A number the Kafka source keeps in its state (`skipped`, `untrusted`), from the run's
/// checkpoint; 0 when absent.
fn state_counter(lake: &Path, name: &str) -> u64 {
    checkpoint_number(&lake.join("_checkpoint/checkpoint.bin"), name).unwrap_or(0)
}

/// Lines `analyze` parses in `file`.
fn parsed(file: &Path) -> u64 {
    let r = analyze_report(file, "common");
    r["totals"]["ok"].as_u64().unwrap() + r["totals"]["degraded"].as_u64().unwrap()
}

/// The NASA log's lines from `from` to `to`.
fn nasa_lines(from: usize, to: usize) -> Vec<u8> {
    let text = nasa_text();
    let mut out = Vec::new();
    for line in text
        .split_inclusive(|&b| b == b'\n')
        .skip(from)
        .take(to - from)
    {
        out.extend_from_slice(line);
    }
    out
}

/// Ships 2,000 lines, lets `forge` produce its messages with the real origin, appends and
/// ships 2,000 more lines of the same file (same fingerprint, later offsets), and runs into
/// a lake; checks that the lake has every real line once, the forged lines as new lines
/// without an origin, and the counter of untrusted lines.
fn forged_marks_hide_nothing(forged: &[&str], key: bool) {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let broker = Broker::start(tmp.path());
    let key_file = tmp.path().join("origin.key");
    std::fs::write(&key_file, "a shared secret of more than 16 bytes\n").unwrap();
    let key = key.then_some(key_file.as_path());
    let file = tmp.path().join("access.log");
    let ckpt = tmp.path().join("ship");
    std::fs::write(&file, nasa_lines(0, 2000)).unwrap();
    ship(&broker.addr(), "t", &file, &ckpt, key);
    let n = forge(&broker.addr(), "t", serde_json::json!({ "forge": forged }));
    assert_eq!(
        n,
        3 * forged.len() as u64,
        "forged messages, on each of 3 partitions"
    );
    let mut all = std::fs::read(&file).unwrap();
    all.extend(nasa_lines(2000, 4000));
    std::fs::write(&file, &all).unwrap();
    ship(&broker.addr(), "t", &file, &ckpt, key);

    let lake = tmp.path().join("lake");
    let err = run(&broker.addr(), "t", &lake, key);
    let real = parsed(&file);
    let q = |w: &str| one(&lake, &format!("SELECT count(*) FROM requests WHERE {w}"));
    assert_eq!(
        q("client NOT LIKE '6.6.6.%'"),
        real,
        "every real line is stored: {err}"
    );
    assert_eq!(q("client LIKE '6.6.6.%'"), n, "the forged lines are stored");
    assert_eq!(q("client LIKE '6.6.6.%' AND origin IS NOT NULL"), 0);
    assert_eq!(
        q("origin IS NOT NULL"),
        real,
        "real lines keep their origin"
    );
    assert_eq!(state_counter(&lake, "untrusted"), n);
    assert_eq!(state_counter(&lake, "skipped"), 0);
    assert!(err.contains("origin headers not trusted"), "{err}");
    assert!(
        err.contains(&format!(
            "{n} Kafka lines had origin headers that were not trusted"
        )),
        "{err}"
    );

    // Exactly-once, audited with one query over the lineage columns: no message line is
    // stored twice, and no origin line either.
    let audit = sql(
        &lake,
        "SELECT count(*) AS rows, \
           count(DISTINCT (kafka_partition, kafka_offset, kafka_line)) AS messages, \
           count(origin) AS with_origin, \
           count(DISTINCT (origin, origin_offset)) FILTER (WHERE origin IS NOT NULL) AS origins \
         FROM requests",
    );
    let a = &audit[0];
    assert_eq!(a["rows"].as_u64(), Some(real + n), "{a}");
    assert_eq!(a["messages"].as_u64(), Some(real + n), "{a}");
    assert_eq!(a["with_origin"].as_u64(), Some(real), "{a}");
    assert_eq!(a["origins"].as_u64(), Some(real), "{a}");
    // Every row names its topic and partition; offsets are the messages' own.
    assert_eq!(
        one(
            &lake,
            "SELECT count(*) FROM requests WHERE kafka_topic = 't' AND kafka_partition BETWEEN 0 AND 2 \
             AND kafka_offset >= 0 AND kafka_line = 0"
        ),
        real + n
    );
}

#[test]
fn a_forged_mark_near_the_end_of_u64_drops_no_real_line() {
    // Without a key the mark's bounds apply: an origin offset of 2^64 - 2 is no file's.
    forged_marks_hide_nothing(&["huge"], false);
}

#[test]
fn with_a_shared_key_only_signed_marks_count() {
    // A forged mark just ahead of the shipped lines passes any bound a consumer can set
    // without a key; with the key it moves nothing, with no MAC or a wrong one.
    forged_marks_hide_nothing(&["ahead", "ahead_bad_mac", "huge"], true);
}

#[test]
fn a_kafka_line_over_1_mib_is_cut_and_rejected_like_any_source() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let broker = Broker::start(tmp.path());
    let file = tmp.path().join("access.log");
    std::fs::write(&file, nasa_lines(0, 100)).unwrap();
    ship(&broker.addr(), "t", &file, &tmp.path().join("ship"), None);
    assert_eq!(
        forge(&broker.addr(), "t", serde_json::json!({ "long": true })),
        1
    );
    let lake = tmp.path().join("lake");
    run(&broker.addr(), "t", &lake, None);
    assert_eq!(
        one(
            &lake,
            "SELECT count(*) FROM requests WHERE client = '7.7.7.7'"
        ),
        0,
        "the long line is not parsed whole"
    );
    let rejects = sql(&lake, "SELECT reason, length(line) AS len FROM rejects");
    let long: Vec<&Value> = rejects
        .iter()
        .filter(|r| r["reason"] == "line_too_long")
        .collect();
    assert_eq!(long.len(), 1, "{rejects:?}");
    assert!(long[0]["len"].as_u64().unwrap() <= 1 << 20);
    // The reject names its message too.
    let traced = sql(
        &lake,
        "SELECT kafka_topic, kafka_partition, kafka_offset, origin FROM rejects \
         WHERE reason = 'line_too_long'",
    );
    assert_eq!(traced[0]["kafka_topic"], "t", "{traced:?}");
    assert_eq!(traced[0]["kafka_partition"], 0, "{traced:?}");
    assert!(traced[0]["kafka_offset"].as_i64().is_some(), "{traced:?}");
    assert!(traced[0]["origin"].is_null(), "{traced:?}");
    assert_eq!(
        one(&lake, "SELECT count(*) FROM requests") + rejects.len() as u64,
        101,
        "every line is accounted for"
    );
}
