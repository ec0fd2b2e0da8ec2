//! Alert noise, end to end: `hitstream run` with its default alert rules over every real log
//! in ../shared/data and over `hitstream gen` traffic from 10 to 50,000 lines/s of event time.
//! Ordinary clients raise at most a few alerts per hour of event time, and every scanner that
//! `gen` injects is caught at every rate.
//!
//! Nothing expected comes from the alert rules: which clients of the generated traffic are
//! scanners is what the generator says (`Hit::actor` of the library `hitstream gen` runs,
//! over the very bytes the binary wrote); the time a real log spans is its PROVENANCE.md date
//! range; whether a spike had a baseline is read from the log text by this file's own
//! timestamp parsing.
//!
//! A debug build runs under 100,000 lines/s, so the samples are short where the rate is high:
//! at 20,000 and 50,000 lines/s, a few 10-second windows (200,000 and 500,000 lines each, as
//! many as a 60-second window holds at 3,300 and 8,300 lines/s). The README's alerts section
//! gives what a release build measured with 60-second windows over longer runs.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{bin, data, days_from_civil};
use hitstream_gen::{Actor, GenConfig, Generator};
use serde_json::Value;

/// "A few alerts per hour": at most this many per started hour of event time.
const PER_HOUR: u64 = 3;

#[derive(Debug)]
struct Alert {
    kind: String,
    key: String,
    window_start: i64,
}

/// Runs `hitstream run` over `file` with the default rules; returns its alerts.
fn alerts_of(tmp: &Path, file: &Path, window: &str, extra: &[&str]) -> Vec<Alert> {
    let out = tmp.join(format!(
        "alerts-{}.jsonl",
        file.file_name().unwrap().to_string_lossy()
    ));
    let o = Command::new(bin())
        .arg("run")
        .arg("--file")
        .arg(file)
        .args(["--window", window, "--emit", "none", "--alerts"])
        .arg(&out)
        .args(extra)
        // Each run on its own: no state of an earlier run to go on from.
        .env("XDG_STATE_HOME", tmp.join("state"))
        .env_remove("STATE_DIRECTORY")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "run over {} failed: {}",
        file.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read_to_string(&out)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Alert {
                kind: v["kind"].as_str().unwrap().to_string(),
                key: v["key"].as_str().unwrap().to_string(),
                window_start: v["window_start"].as_i64().unwrap(),
            }
        })
        .collect()
}

fn by_kind<'a>(alerts: impl Iterator<Item = &'a Alert>) -> BTreeMap<&'a str, u64> {
    let mut m = BTreeMap::new();
    for a in alerts {
        *m.entry(a.kind.as_str()).or_insert(0) += 1;
    }
    m
}

/// UTC seconds of a line's `[dd/Mon/yyyy:HH:MM:SS +zzzz]`, the first `[` of the line.
fn line_time(line: &[u8]) -> Option<i64> {
    let open = line.iter().position(|b| *b == b'[')?;
    let t = std::str::from_utf8(line.get(open + 1..open + 27)?).ok()?;
    let num = |a: usize, b: usize| t.get(a..b)?.parse::<i64>().ok();
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mon = t.get(3..6)?;
    let month = MONTHS.iter().position(|m| *m == mon)? as i64 + 1;
    let local = days_from_civil(num(7, 11)?, month, num(0, 2)?) * 86_400
        + num(12, 14)? * 3600
        + num(15, 17)? * 60
        + num(18, 20)?;
    let offset = (num(22, 24)? * 3600 + num(24, 26)? * 60)
        * match t.get(21..22)? {
            "-" => -1,
            _ => 1,
        };
    Some(local - offset)
}

/// Lines per UTC minute of a log's text.
fn per_minute(text: &[u8]) -> BTreeMap<i64, u64> {
    let mut m = BTreeMap::new();
    for l in text.split(|b| *b == b'\n') {
        if let Some(t) = line_time(l) {
            *m.entry(t.div_euclid(60)).or_insert(0) += 1;
        }
    }
    m
}

fn read_all(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        raw
    }
}

/// A real log: its files oldest first, a format when detection cannot know it, and the hours
/// its PROVENANCE.md date range starts.
struct Log {
    files: Vec<String>,
    format: Option<&'static str>,
    hours: u64,
}

fn rotated(family: &str) -> Vec<String> {
    let dir = "apache-debian-rotated-2024";
    let mut v: Vec<String> = (2..=14)
        .rev()
        .map(|i| format!("{dir}/{family}.log.{i}.gz"))
        .collect();
    v.push(format!("{dir}/{family}.log.1"));
    v.push(format!("{dir}/{family}.log"));
    v
}

fn logs() -> Vec<(&'static str, Log)> {
    let one = |f: &str| vec![f.to_string()];
    vec![
        (
            // 17/May/2015:10:05:00 -> 20/May/2015:21:05:59 +0000
            "elastic-apache-logs-2015",
            Log {
                files: one("elastic-apache-logs-2015/apache_logs"),
                format: None,
                hours: 84,
            },
        ),
        (
            // 17/May/2015:08:05:00 -> 04/Jun/2015:07:06:52 +0000
            "elastic-nginx-logs-2015",
            Log {
                files: one("elastic-nginx-logs-2015/nginx_logs.txt.gz"),
                format: None,
                hours: 432,
            },
        ),
        (
            // 10/Nov/2016:00:01:02 -> 00:01:53 +0800
            "imooc-nginx-2016",
            Log {
                files: one("imooc-nginx-2016/10000_access.log"),
                format: Some(
                    r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_host" "$http_referer" $request_body "$http_user_agent" "$http_x_forwarded_for" $upstream_addr $upstream_status $upstream_response_time $request_time"#,
                ),
                hours: 1,
            },
        ),
        (
            // 30/May/2020:06:25:26 -> 31/May/2020:06:20:55 -0400
            "kitware-nginx-2020",
            Log {
                files: one("kitware-nginx-2020/access.log.10.gz"),
                format: None,
                hours: 24,
            },
        ),
        (
            // 01/Jul/1995:00:00:01 -> 03/Jul/1995:19:59:13 -0400
            "nasa-http-1995",
            Log {
                files: one("nasa-http-1995/NASA_access_log_Jul95.first200000.gz"),
                format: None,
                hours: 68,
            },
        ),
        (
            // 23/Jul/2024 00:00 -> 06/Aug/2024 19:01 +0000, both families
            "apache-debian-rotated-2024 access",
            Log {
                files: rotated("access"),
                format: None,
                hours: 356,
            },
        ),
        (
            "apache-debian-rotated-2024 other_vhosts",
            Log {
                files: rotated("other_vhosts_access"),
                format: None,
                hours: 356,
            },
        ),
    ]
}

/// A real log: at most [`PER_HOUR`] alerts per started hour, and no traffic spike judged
/// against a baseline without traffic (the default rule wants 8 of the 10 one-minute windows
/// before it to have had some).
fn real_log(name: &str) {
    let (_, log) = logs()
        .into_iter()
        .find(|(n, _)| *n == name)
        .expect("a log of the list");
    let tmp = tempfile::tempdir().unwrap();
    // A rotated set is one stream, oldest first: one file holds it, in that order.
    let text: Vec<u8> = log.files.iter().flat_map(|f| read_all(&data(f))).collect();
    let file = if log.files.len() == 1 {
        data(&log.files[0])
    } else {
        let p = tmp.path().join(name.replace(' ', "-"));
        std::fs::write(&p, &text).unwrap();
        p
    };
    let extra: Vec<&str> = match log.format {
        Some(f) => vec!["--format", f],
        None => vec![],
    };
    let alerts = alerts_of(tmp.path(), &file, "60s", &extra);
    let report = format!(
        "{name}: {} alerts in {} h {:?}",
        alerts.len(),
        log.hours,
        by_kind(alerts.iter())
    );
    eprintln!("{report}");
    assert!(
        alerts.len() as u64 <= PER_HOUR * log.hours,
        "more than {PER_HOUR} alerts an hour: {report}"
    );
    let minutes = per_minute(&text);
    for a in alerts.iter().filter(|a| a.kind == "traffic_spike") {
        let m = a.window_start.div_euclid(60);
        let busy = (1..=10)
            .filter(|j| minutes.get(&(m - j)).is_some_and(|n| *n > 0))
            .count();
        assert!(
            busy >= 8,
            "{name}: a traffic spike at {} against a baseline with traffic in {busy} of its 10 \
             minutes ({report})",
            a.window_start
        );
    }
}

#[test]
fn elastic_apache_traffic_in_one_minute_an_hour_is_no_spike() {
    real_log("elastic-apache-logs-2015");
}

#[test]
fn elastic_nginx() {
    real_log("elastic-nginx-logs-2015");
}

#[test]
fn imooc_nginx() {
    real_log("imooc-nginx-2016");
}

#[test]
fn kitware_nginx() {
    real_log("kitware-nginx-2020");
}

#[test]
fn nasa_http() {
    real_log("nasa-http-1995");
}

#[test]
fn apache_debian_access() {
    real_log("apache-debian-rotated-2024 access");
}

#[test]
fn apache_debian_other_vhosts() {
    real_log("apache-debian-rotated-2024 other_vhosts");
}

/// Writes `hitstream gen` output (default mix: 1,000 clients, 2 scanners) at `rate` lines/s
/// of event time for `seconds` into `path`, and returns the scanners among its clients, as
/// the generator marks them.
fn gen(path: &Path, rate: u64, seconds: u64) -> BTreeSet<Vec<u8>> {
    let count = rate * seconds;
    let o = Command::new(bin())
        .args(["gen", "--event-rate"])
        .arg(rate.to_string())
        .arg("--count")
        .arg(count.to_string())
        .stdout(Stdio::from(std::fs::File::create(path).unwrap()))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // The same configuration in the library gives the same lines (the generator is
    // deterministic); each says who sent it. Compared line by line with what the binary
    // wrote, so the scanners are those of this very file.
    let mut g = Generator::new(GenConfig {
        count: Some(count),
        event_rate: Some(rate as f64),
        ..GenConfig::default()
    })
    .unwrap();
    let mut written = BufReader::with_capacity(1 << 20, std::fs::File::open(path).unwrap());
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let mut scanners = BTreeSet::new();
    for i in 0..count {
        ours.clear();
        g.next_line(&mut ours);
        theirs.resize(ours.len(), 0);
        written.read_exact(&mut theirs).unwrap();
        assert!(
            ours == theirs,
            "line {i} of `hitstream gen` differs from the library's: {:?} / {:?}",
            String::from_utf8_lossy(&theirs),
            String::from_utf8_lossy(&ours)
        );
        let hit = g.last_hit().unwrap();
        if hit.actor == Actor::Scanner {
            scanners.insert(hit.client.to_vec());
        }
    }
    assert_eq!(
        written.read(&mut [0u8; 1]).unwrap(),
        0,
        "more lines than --count"
    );
    scanners
}

/// One rate of generated traffic: ordinary clients raise at most [`PER_HOUR`] alerts per
/// started hour of event time, and every scanner raises at least one.
fn generated(rate: u64, seconds: u64, window: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let log: PathBuf = tmp.path().join(format!("gen-{rate}.log"));
    let scanners = gen(&log, rate, seconds);
    assert_eq!(scanners.len(), 2, "gen's default mix has two scanners");
    let alerts = alerts_of(tmp.path(), &log, window, &["--format", "combined"]);
    let is_scanner = |a: &Alert| scanners.contains(a.key.as_bytes());
    let ordinary: Vec<&Alert> = alerts.iter().filter(|a| !is_scanner(a)).collect();
    let hours = seconds.div_ceil(3600);
    eprintln!(
        "gen at {rate} lines/s, {seconds} s, {window} windows: ordinary {:?}, scanners {:?}",
        by_kind(ordinary.iter().copied()),
        by_kind(alerts.iter().filter(|a| is_scanner(a)))
    );
    assert!(
        ordinary.len() as u64 <= PER_HOUR * hours,
        "{} alerts of ordinary clients in {seconds} s at {rate} lines/s: {:?}",
        ordinary.len(),
        &ordinary[..ordinary.len().min(10)]
    );
    for s in &scanners {
        let s = String::from_utf8_lossy(s);
        assert!(
            alerts.iter().any(|a| a.key == s),
            "scanner {s} raised no alert at {rate} lines/s: {:?}",
            &alerts[..alerts.len().min(10)]
        );
    }
}

#[test]
fn generated_traffic_at_10_lines_per_second() {
    // Four hours: each scanner wakes about every 25,000 lines (40 minutes at this rate).
    generated(10, 4 * 3600, "60s");
}

#[test]
fn generated_traffic_at_1000_lines_per_second() {
    generated(1000, 240, "60s");
}

#[test]
fn generated_traffic_at_20000_lines_per_second() {
    generated(20_000, 30, "10s");
}

#[test]
fn generated_traffic_at_50000_lines_per_second() {
    generated(50_000, 20, "10s");
}
