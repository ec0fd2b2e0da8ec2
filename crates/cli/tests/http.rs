//! End-to-end tests of the dashboard's server: `run --http` over a tailed file, `serve --data`
//! over the lake it wrote, the token guard, `/metrics` checked by Debian's `promtool` and
//! scraped by a real Prometheus. Expected numbers come from the lines the test writes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{bin, free_port, http_get as get, wait_until, Dashboard as Running};

/// 1995-07-01T00:00:00Z.
const T0: i64 = 804_556_800;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn clf_time(t: i64) -> String {
    // Only July 1995 is used: day and time of day are enough.
    let s = t - T0;
    format!(
        "{:02}/{}/1995:{:02}:{:02}:{:02} +0000",
        1 + s / 86_400,
        MONTHS[6],
        s % 86_400 / 3600,
        s % 3600 / 60,
        s % 60
    )
}

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// A `vhost_combined` line; every second one comes from a search site, every third from
/// Chrome on Windows.
fn line(vhost: &str, client: &str, t: i64, path: &str, i: usize) -> String {
    let referer = if i.is_multiple_of(2) {
        "https://Search.Example:443/q?x=1"
    } else {
        "-"
    };
    let ua = if i.is_multiple_of(3) {
        CHROME
    } else {
        "test-agent"
    };
    format!(
        "{vhost}:80 {client} - - [{}] \"GET {path} HTTP/1.1\" 200 100 \"{referer}\" \"{ua}\"\n",
        clf_time(t)
    )
}

/// `n` lines from `t`, one a second, over two vhosts and a few pages.
fn lines(n: usize, t: i64) -> Vec<(String, i64, String)> {
    (0..n)
        .map(|i| {
            let vhost = if i.is_multiple_of(3) {
                "b.example"
            } else {
                "a.example"
            };
            let path = if i.is_multiple_of(5) {
                format!("/static/s{i}.CSS")
            } else {
                format!("/page{}", i % 4)
            };
            (vhost.to_string(), t + i as i64, path)
        })
        .collect()
}

/// Every seventh request from a public address (Google's resolver, in the US), the others
/// from a private one (unknown to any database).
fn client(i: usize) -> String {
    if i.is_multiple_of(7) {
        "8.8.8.8".to_string()
    } else {
        format!("10.0.0.{}", i % 7)
    }
}

/// A MaxMind DB (IPv4, 24-bit records) with one record for 8.0.0.0/8, the fields of
/// GeoLite2-ASN: AS15169, GOOGLE. Written byte by byte (as in the CLI's geoip tests), since
/// the country database the test script installs has no AS numbers.
fn asn_mmdb() -> Vec<u8> {
    fn s(v: &str) -> Vec<u8> {
        // Sizes from 29 to 284 take one more byte.
        let mut o = if v.len() < 29 {
            vec![0x40 | v.len() as u8]
        } else {
            vec![0x40 | 29, (v.len() - 29) as u8]
        };
        o.extend_from_slice(v.as_bytes());
        o
    }
    fn uint(v: u32) -> Vec<u8> {
        let mut o = vec![0xC0 | 4];
        o.extend_from_slice(&v.to_be_bytes());
        o
    }
    fn map(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut o = vec![0xE0 | entries.len() as u8];
        for (k, v) in entries {
            o.extend(s(k));
            o.extend_from_slice(v);
        }
        o
    }
    // The search tree: the first 8 bits, 00001000, lead to the record; any other bit to
    // `nodes` (no data).
    let nodes = 8u32;
    let data = nodes + 16;
    let mut out = Vec::new();
    for (depth, bit) in [0u8, 0, 0, 0, 1, 0, 0, 0].into_iter().enumerate() {
        let next = if depth == 7 { data } else { depth as u32 + 1 };
        let (l, r) = if bit == 0 {
            (next, nodes)
        } else {
            (nodes, next)
        };
        out.extend_from_slice(&l.to_be_bytes()[1..]);
        out.extend_from_slice(&r.to_be_bytes()[1..]);
    }
    out.extend_from_slice(&[0; 16]);
    out.extend(map(&[
        ("autonomous_system_number", uint(15169)),
        ("autonomous_system_organization", s("GOOGLE")),
    ]));
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    let u16v = |v: u16| [vec![0xA0 | 2], v.to_be_bytes().to_vec()].concat();
    let mut epoch = vec![0x08, 0x02];
    epoch.extend_from_slice(&1_700_000_000u64.to_be_bytes());
    out.extend(map(&[
        ("binary_format_major_version", u16v(2)),
        ("binary_format_minor_version", u16v(0)),
        ("build_epoch", epoch),
        ("database_type", s("GeoLite2-ASN")),
        ("description", map(&[])),
        ("ip_version", u16v(4)),
        ("languages", vec![0x00, 0x04]),
        ("node_count", uint(nodes)),
        ("record_size", u16v(24)),
    ]));
    out
}

fn text(ls: &[(String, i64, String)]) -> String {
    ls.iter()
        .enumerate()
        .map(|(i, (v, t, p))| line(v, &client(i), *t, p, i))
        .collect()
}

fn get_json(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = get(addr, path, &[]);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

fn tool(name: &str) -> String {
    let p = format!("/usr/bin/{name}");
    assert!(
        Path::new(&p).exists(),
        "{p} is missing: scripts/test installs it (Debian's prometheus package)"
    );
    p
}

/// `promtool check metrics` on a scrape: the exposition must be valid.
fn promtool_check(text: &str) {
    let mut c = Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "promtool check metrics failed:\n{}{}\n--- the scrape:\n{text}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A real Prometheus on a free loopback port, scraping `target` every second.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
}

impl Prometheus {
    fn start(dir: &Path, target: SocketAddr) -> Prometheus {
        let cfg = dir.join("prometheus.yml");
        std::fs::write(
            &cfg,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: hitstream\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new(tool("prometheus"))
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .unwrap();
        Prometheus {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// The value of an instant query's single sample, if there is one.
    fn query(&self, q: &str) -> Option<f64> {
        let enc: String = q
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let mut s = TcpStream::connect(self.addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(s, "GET /api/v1/query?query={enc} HTTP/1.0\r\n\r\n").ok()?;
        let mut resp = String::new();
        s.read_to_string(&mut resp).ok()?;
        let body: Value = serde_json::from_str(resp.split_once("\r\n\r\n")?.1).ok()?;
        body["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Server-sent events read for `d`: the event names seen.
fn events_for(addr: SocketAddr, d: Duration) -> Vec<String> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    write!(
        s,
        "GET /api/events HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let t = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    while t.elapsed() < d {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    String::from_utf8_lossy(&got)
        .lines()
        .filter_map(|l| l.strip_prefix("event: ").or(l.strip_prefix("event:")))
        .map(|e| e.trim().to_string())
        .collect()
}

/// `run --tail LOG --data LAKE --http 127.0.0.1:0`, with short windows that close soon after
/// the input stops.
fn run_http(log: &Path, lake: &Path) -> Running {
    Running::start(&[
        "run",
        "--tail",
        log.to_str().unwrap(),
        "--format",
        "vhost_combined",
        "--data",
        lake.to_str().unwrap(),
        "--window",
        "10s",
        "--lateness",
        "1s",
        "--idle-timeout",
        "1s",
        "--checkpoint-interval",
        "500ms",
        "--emit",
        "none",
        "--http",
        "127.0.0.1:0",
    ])
}

#[test]
fn run_http_serves_the_live_pipeline_and_serve_reads_its_lake() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let lake = dir.path().join("lake");
    let first = lines(300, T0);
    std::fs::write(&log, text(&first)).unwrap();
    let lake_s = lake.to_str().unwrap();
    let run = run_http(&log, &lake);
    let addr = run.addr;

    // The page and its assets are served from the binary.
    let (s, page) = get(addr, "/", &[]);
    assert_eq!(s, 200);
    assert!(page.contains("<script src=\"app.js\""), "{page}");
    let (s, js) = get(addr, "/app.js", &[]);
    assert_eq!(s, 200);
    assert!(js.contains("EventSource"));

    let traffic = |n: u64| {
        move || {
            let t = get_json(addr, "/api/traffic");
            (t["requests"].as_u64() == Some(n), t.to_string())
        }
    };
    wait_until(
        "the first 300 lines counted",
        Duration::from_secs(60),
        traffic(300),
    );
    let st = get_json(addr, "/api/status");
    assert_eq!(st["live"], true, "{st}");
    assert_eq!(st["counters"]["lines"], 300, "{st}");
    assert_eq!(st["lag_bytes"], 0, "caught up with the file: {st}");

    // Live: appended lines reach the API.
    let more = lines(200, T0 + 3600);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(text(&more).as_bytes())
        .unwrap();
    wait_until(
        "the appended lines counted",
        Duration::from_secs(60),
        traffic(500),
    );
    let t = get_json(addr, "/api/traffic");
    assert_eq!(t["classes"]["2xx"], 500, "{t}");
    assert_eq!(t["methods"]["GET"], 500, "{t}");
    assert_eq!(t["bytes"], 500 * 100, "{t}");
    let ws = get_json(addr, "/api/windows?last=1000");
    let sum: u64 = ws["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 500, "tumbling windows partition the lines");

    // Server-sent events: the status at least once a second.
    let evs = events_for(addr, Duration::from_millis(2600));
    let statuses = evs.iter().filter(|e| *e == "status").count();
    assert!(statuses >= 3, "status pushes in 2.6 s: {evs:?}");

    // Metrics: valid exposition, and a real Prometheus scrapes the request counter.
    let (s, metrics) = get(addr, "/metrics", &[]);
    assert_eq!(s, 200);
    promtool_check(&metrics);
    assert!(
        metrics.contains("hitstream_requests_total{class=\"2xx\"} 500"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hitstream_lines_total{outcome=\"ok\"} 500"),
        "{metrics}"
    );
    assert!(metrics.contains("hitstream_source_lag_bytes{"), "{metrics}");
    let prom = Prometheus::start(dir.path(), addr);
    let t = Instant::now();
    let mut last = None;
    while t.elapsed() < Duration::from_secs(60) {
        last = prom.query("sum(hitstream_requests_total)");
        if last == Some(500.0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        last,
        Some(500.0),
        "Prometheus's query of the scrape; its log:\n{}",
        std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
    );
    assert_eq!(prom.query("hitstream_up"), Some(1.0));
    drop(prom);

    // History from the run's own lake; without --geoip no countries and no networks.
    wait_until("rows in the lake", Duration::from_secs(30), || {
        let b = get_json(addr, "/api/history/bounds");
        (!b["first"].is_null(), b.to_string())
    });
    let h = get_json(addr, &format!("/api/history?from={T0}&to={}", T0 + 7200));
    assert_eq!(h["countries"], Value::Null, "{h}");
    assert_eq!(h["asns"], Value::Null, "{h}");

    // Graceful stop with an event stream open: the stream ends, the run exits cleanly.
    let mut sse = TcpStream::connect(addr).unwrap();
    write!(sse, "GET /api/events HTTP/1.0\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (status, err) = run.stop(Duration::from_secs(30));
    assert!(
        status.success(),
        "run --http after SIGTERM: {status}\n{err}"
    );
    sse.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut rest = Vec::new();
    assert!(
        sse.read_to_end(&mut rest).is_ok(),
        "the open event stream was not ended by the stop"
    );
    assert!(String::from_utf8_lossy(&rest).contains("event: end"));

    // `serve`: the same lake without a pipeline, history by range and vhost. With the real
    // country database when the test script provides it, and a hand-written ASN database.
    let mmdb = std::env::var("HITSTREAM_GEOIP_MMDB").ok();
    let asn_db = dir.path().join("asn.mmdb");
    std::fs::write(&asn_db, asn_mmdb()).unwrap();
    let mut args = vec!["serve", "--data", lake_s, "--http", "127.0.0.1:0"];
    if let Some(m) = &mmdb {
        args.extend(["--geoip", m.as_str()]);
    } else {
        eprintln!("countries from a real database skipped: HITSTREAM_GEOIP_MMDB not set");
    }
    args.extend(["--geoip", asn_db.to_str().unwrap()]);
    let serve = Running::start(&args);
    let addr = serve.addr;
    let st = get_json(addr, "/api/status");
    assert_eq!(st["live"], false, "{st}");
    let b = get_json(addr, "/api/history/bounds");
    assert_eq!(b["first"], T0, "{b}");
    assert_eq!(b["last"], T0 + 3600 + 199, "{b}");
    let all = get_json(addr, &format!("/api/history?from={T0}&to={}", T0 + 7200));
    assert_eq!(all["totals"]["requests"], 500, "{all}");
    // The first hour only: the first batch of lines.
    let h1 = get_json(addr, &format!("/api/history?from={T0}&to={}", T0 + 3600));
    assert_eq!(h1["totals"]["requests"], 300, "{h1}");
    let series: u64 = h1["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(series, 300);
    let want_b = first.iter().filter(|(v, _, _)| v == "b.example").count() as u64;
    let b_only = get_json(
        addr,
        &format!("/api/history?from={T0}&to={}&vhost=b.example", T0 + 3600),
    );
    assert_eq!(b_only["totals"]["requests"], want_b, "{b_only}");
    // Each page's count within the vhost, as written.
    for r in b_only["top_pages"].as_array().unwrap() {
        let page = r["key"].as_str().unwrap();
        let want = first
            .iter()
            .filter(|(v, _, p)| v == "b.example" && p == page)
            .count() as u64;
        assert_eq!(r["count"].as_u64(), Some(want), "{page}: {b_only}");
    }
    // The visitor panels, counted from how the lines were written.
    let key_count = |v: &Value, key: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .map(|r| r["count"].as_u64().unwrap())
    };
    assert_eq!(key_count(&h1["browsers"], "Chrome"), Some(100), "{h1}");
    assert_eq!(
        key_count(&h1["operating_systems"], "Windows 10"),
        Some(100),
        "{h1}"
    );
    assert_eq!(
        key_count(&h1["referring_sites"], "search.example"),
        Some(150),
        "{h1}"
    );
    assert_eq!(
        key_count(&h1["referring_sites"], "(direct)"),
        Some(150),
        "{h1}"
    );
    assert_eq!(key_count(&h1["static_dynamic"], "static"), Some(60), "{h1}");
    assert_eq!(
        key_count(&h1["static_dynamic"], "dynamic"),
        Some(240),
        "{h1}"
    );
    // 1995-07-01 was a Saturday; the first lines are all in its first hour (UTC).
    let heat = &h1["heatmap"]["hours"];
    assert_eq!(heat[5][0], 300, "{h1}");
    let cells: u64 = heat
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d.as_array().unwrap().iter().map(|n| n.as_u64().unwrap()))
        .sum();
    assert_eq!(cells, 300);
    // 8.8.8.8's requests; the ASN database knows nothing of 10.0.0.0/8.
    let google = (0..300).filter(|i: &usize| i.is_multiple_of(7)).count() as u64;
    if mmdb.is_some() {
        assert_eq!(key_count(&h1["countries"], "US"), Some(google), "{h1}");
        assert_eq!(
            key_count(&h1["countries"], "unknown"),
            Some(300 - google),
            "{h1}"
        );
    } else {
        // The ASN database alone has no countries.
        assert_eq!(key_count(&h1["countries"], "unknown"), Some(300), "{h1}");
    }
    assert_eq!(
        h1["asns"],
        serde_json::json!([
            { "key": "unknown", "asn": null, "organization": null, "count": 300 - google },
            { "key": "AS15169", "asn": 15169, "organization": "GOOGLE", "count": google },
        ]),
        "{h1}"
    );
    let (s, body) = get(addr, "/api/history?from=10&to=5", &[]);
    assert_eq!(s, 400, "{body}");
    let (status, err) = serve.stop(Duration::from_secs(20));
    assert!(status.success(), "serve after SIGTERM: {status}\n{err}");
}

#[test]
fn beyond_loopback_a_token_is_required_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(&log, text(&lines(10, T0))).unwrap();
    let o = Command::new(bin())
        .args([
            "run",
            "--no-state",
            "--file",
            log.to_str().unwrap(),
            "--http",
            "0.0.0.0:0",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success(),
        "served beyond loopback without a token"
    );
    assert!(err.contains("--auth-token"), "{err}");

    // With a token, every route needs it.
    let lake = dir.path().join("lake");
    let o = Command::new(bin())
        .args([
            "run",
            "--file",
            log.to_str().unwrap(),
            "--emit",
            "none",
            "--data",
        ])
        .arg(&lake)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let port = free_port();
    let serve = Running::start(&[
        "serve",
        "--data",
        lake.to_str().unwrap(),
        "--http",
        &format!("127.0.0.1:{port}"),
        "--auth-token",
        "s3cret-t0ken-0f-16+",
    ]);
    let addr = serve.addr;
    assert_eq!(addr.port(), port);
    for path in ["/", "/api/status", "/metrics", "/api/history/bounds"] {
        assert_eq!(get(addr, path, &[]).0, 401, "{path} without the token");
        assert_eq!(
            get(addr, path, &[("Authorization", "Bearer wrong")]).0,
            401,
            "{path} with a wrong token"
        );
        assert_eq!(
            get(
                addr,
                path,
                &[("Authorization", "Bearer s3cret-t0ken-0f-16+")]
            )
            .0,
            200,
            "{path} with the token"
        );
    }
    assert_eq!(
        get(addr, "/api/status?token=s3cret-t0ken-0f-16%2B", &[]).0,
        200
    );
}

/// A `vhost_combined` line with a referer and a user agent of its own.
fn line_ua(client: &str, t: i64, path: &str, status: u16, referer: &str, ua: &str) -> String {
    format!(
        "a.example:80 {client} - - [{}] \"GET {path} HTTP/1.1\" {status} 50 \"{referer}\" \"{ua}\"\n",
        clf_time(t)
    )
}

/// The browser script (`tests/browser/dashboard.mjs`) in `mode` against the dashboard at
/// `addr`, its screenshot saved to `shot`.
fn dashboard_script(mode: &str, addr: SocketAddr, shot: &Path, profile: &Path) -> Command {
    let modules = std::env::var("HITSTREAM_NODE_MODULES").expect(
        "HITSTREAM_NODE_MODULES is not set: scripts/test installs playwright-core and sets it",
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: scripts/test installs Debian's chromium"
    );
    let mut c = Command::new("node");
    c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/dashboard.mjs"))
        .env("TZ", "UTC")
        .env("HITSTREAM_NODE_MODULES", modules)
        .env("MODE", mode)
        .env("DASHBOARD_URL", format!("http://{addr}/"))
        .env("SCREENSHOT", shot)
        .env("USER_DATA_DIR", profile);
    c
}

/// The script's report (its last line), once it succeeded.
fn script_report(status: std::process::ExitStatus, stdout: &str, stderr: &str) -> Value {
    assert!(
        status.success(),
        "the browser script failed:\n{stderr}\n{stdout}"
    );
    let r: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    for k in ["console_errors", "page_errors", "outside"] {
        assert_eq!(r[k], serde_json::json!([]), "{k}: {r}");
    }
    // Once a run has ended its server is gone: only the event stream may fail then.
    let ended = r["mode"] == "ended";
    for f in r["requests_failed"].as_array().unwrap() {
        assert!(
            ended && f.as_str().unwrap().ends_with("/api/events"),
            "a request failed: {r}"
        );
    }
    r
}

/// Where the screenshots of the browser tests go (kept after the test, to be looked at).
fn artifacts() -> std::path::PathBuf {
    let a = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&a).unwrap();
    a
}

/// A time-axis label: `HH:MM`, `HH:MM:SS` or a date `MM-DD`.
fn is_time_label(t: &str) -> bool {
    let b = t.as_bytes();
    let digits = |is: &[usize]| is.iter().all(|&i| b[i].is_ascii_digit());
    match b.len() {
        5 => (b[2] == b':' || b[2] == b'-') && digits(&[0, 1, 3, 4]),
        8 => b[2] == b':' && b[5] == b':' && digits(&[0, 1, 3, 4, 6, 7]),
        _ => false,
    }
}

/// What every view must show: both charts drawn with a labelled UTC time axis and value
/// ticks from 0, every name's full text in its tooltip, and no sentinel of a 64-bit integer
/// (the end-of-time watermark once showed as -9223372035.1 G) anywhere on the page.
fn assert_readable(look: &Value, what: &str) {
    let body = look["body"].as_str().unwrap();
    assert!(
        !body.contains("922337203"),
        "{what}: a 64-bit sentinel on the page:\n{body}"
    );
    for c in ["rate", "status"] {
        let ch = &look[c];
        let ticks = |k: &str| -> Vec<String> {
            ch[k]
                .as_array()
                .unwrap_or_else(|| panic!("{what}: {c}: no {k}: {look}"))
                .iter()
                .map(|t| t.as_str().unwrap().to_string())
                .collect()
        };
        let x = ticks("x_ticks");
        assert!(
            x.len() >= 2 && x.iter().all(|t| is_time_label(t)),
            "{what}: {c}: time labels {x:?}"
        );
        assert!(
            ch["axis_label"].as_str().unwrap().contains("UTC"),
            "{what}: {c}: the time basis: {ch}"
        );
        let y = ticks("y_ticks");
        assert!(
            y.len() >= 2 && y[0].parse::<f64>() == Ok(0.0),
            "{what}: {c}: value ticks {y:?}"
        );
        assert!(
            ch["marks"].as_u64().unwrap() > 0,
            "{what}: {c}: nothing drawn"
        );
    }
    assert!(look["name_cells"].as_u64().unwrap() > 0, "{what}: {look}");
    assert_eq!(
        look["titles_differ"], 0,
        "{what}: a name without its tooltip"
    );
}

#[test]
fn the_dashboard_in_a_real_browser_updates_live_picks_ranges_and_shows_log_text_as_text() {
    let modules = std::env::var("HITSTREAM_NODE_MODULES").expect(
        "HITSTREAM_NODE_MODULES is not set: scripts/test installs playwright-core and sets it",
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: scripts/test installs Debian's chromium"
    );
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let lake = dir.path().join("lake");

    // The first minutes of the day: two pages, a page gone in the last window, and one
    // client's burst of 404s whose path, referer and user agent are markup and script.
    let mut first = String::new();
    for i in 0..200 {
        let (path, status) = match i {
            196.. => ("/gone", 404),
            _ if i % 2 == 0 => ("/home", 200),
            _ => ("/about", 200),
        };
        first.push_str(&line_ua(
            &format!("10.0.0.{}", i % 5),
            T0 + i,
            path,
            status,
            "-",
            "Mozilla/5.0",
        ));
    }
    let evil = [
        "/<script>window.__xss=1</script>",
        "/<img/src=x/onerror=window.__xss=2>",
    ];
    for i in 0..60 {
        first.push_str(&line_ua(
            "6.6.6.6",
            T0 + 120 + i / 10,
            evil[i as usize % 2],
            404,
            "javascript:window.__xss=4",
            "<script>window.__xss=3</script><img src=x onerror=window.__xss=5>",
        ));
    }
    let mut sorted: Vec<&str> = first.lines().collect();
    sorted.sort_by_key(|l| l.split('[').nth(1).unwrap()[..20].to_string());
    let first: String = sorted.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&log, &first).unwrap();
    // Appended while the page is open: two hours later, another page; two lines that are not
    // log lines (rejected); and one from before the first line (late). The engine judges a
    // job of 1,024 lines against the watermark as it stood IN_FLIGHT (4) jobs before, so
    // over 4 x 1,024 lines come first: the late line's job then sees the first lines'
    // watermark whatever the reads were.
    let mut later: String = (0..4200)
        .map(|i| {
            line_ua(
                &format!("10.0.1.{}", i % 20),
                T0 + 7200 + i / 42,
                "/later",
                200,
                "-",
                "Mozilla/5.0",
            )
        })
        .collect();
    later.push_str("this is not an access log line\n");
    later.push_str("a.example:80 neither is this one\n");
    // 1995-06-30 23:50:00 UTC: outside the range the page asks the lake for below.
    later.push_str(
        "a.example:80 10.0.1.1 - - [30/Jun/1995:23:50:00 +0000] \"GET /early HTTP/1.1\" 200 50 \"-\" \"Mozilla/5.0\"\n",
    );
    let expect_lines = 260 + 4200 + 3;
    let append = dir.path().join("append.txt");
    std::fs::write(&append, &later).unwrap();

    let run = run_http(&log, &lake);
    // The first lines are in before the page opens.
    wait_until("the first lines read", Duration::from_secs(60), || {
        let st = get_json(run.addr, "/api/status");
        (st["counters"]["lines"] == 260, st.to_string())
    });
    // ... and their last window is closed (the input idle): the page opens on it.
    wait_until(
        "the first lines' last window",
        Duration::from_secs(60),
        || {
            let ws = get_json(run.addr, "/api/windows?last=1");
            (ws["windows"][0]["window_end"] == T0 + 200, ws.to_string())
        },
    );
    let last = get_json(run.addr, "/api/windows?last=1")["windows"][0].clone();

    let shot = artifacts().join("dashboard.png");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/dashboard.mjs");
    let o = Command::new("node")
        .arg(&script)
        .env("TZ", "UTC")
        .env("HITSTREAM_NODE_MODULES", &modules)
        .env("DASHBOARD_URL", format!("http://{}/", run.addr))
        .env("APPEND_FILE", &log)
        .env("APPEND_TEXT", &append)
        .env("EXPECT_LINES", expect_lines.to_string())
        .env("EXPECT_REJECTED", "2")
        .env("EXPECT_LATE", "1")
        .env("RANGE_FROM", "1995-07-01T00:00")
        .env("RANGE_TO", "1995-07-01T01:00")
        .env("SCREENSHOT", &shot)
        .env("USER_DATA_DIR", dir.path().join("chromium-profile"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "the browser script failed:\n{}\n{stdout}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    eprintln!("browser: {r}");
    eprintln!("screenshot: {}", shot.display());

    assert_eq!(r["console_errors"], serde_json::json!([]), "{r}");
    assert_eq!(r["page_errors"], serde_json::json!([]), "{r}");
    assert_eq!(r["requests_failed"], serde_json::json!([]), "{r}");
    assert_eq!(
        r["outside"],
        serde_json::json!([]),
        "requests beyond the server: {r}"
    );
    assert!(r["filled_ms"].as_u64().unwrap() < 10_000, "{r}");
    assert_eq!(r["lines_before"], "260", "{r}");
    assert_eq!(
        r["lines_after"],
        expect_lines.to_string(),
        "live update: {r}"
    );
    // The other health counters: the page shows what /api/status says once every line is
    // in, and that is the two rejected lines and the late one.
    for k in ["rejected", "late"] {
        assert_eq!(
            r["health_page"][k],
            r["health_api"][k].to_string(),
            "{k} on the page and in /api/status: {r}"
        );
    }
    assert_eq!(
        (
            r["health_api"]["rejected"].as_u64(),
            r["health_api"]["late"].as_u64()
        ),
        (Some(2), Some(1)),
        "{r}"
    );

    // The live 404s and error endpoints are those of the current window: four requests
    // of ten were for the page that is gone.
    let (nf, requests) = (
        last["not_found"].as_u64().unwrap(),
        last["requests"].as_u64().unwrap(),
    );
    assert_eq!((nf, requests), (4, 10), "{last}");
    assert_eq!(
        r["live_notfound"],
        serde_json::json!([["404 responses", "4"], ["share of requests", "40.0 %"]]),
        "{r}"
    );
    assert!(
        r["live_notfound_note"]
            .as_str()
            .unwrap()
            .contains("show a range"),
        "{r}"
    );
    let errors: Vec<Value> = last["top_error_endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::json!([e["key"], e["count"].to_string()]))
        .collect();
    assert_eq!(errors, [serde_json::json!(["/gone", "4"])], "{last}");
    assert_eq!(r["live_errors"], Value::Array(errors), "{r}");
    let live_pages = r["live_pages"].as_str().unwrap();
    assert!(live_pages.contains("/later"), "{r}");

    // Log text is shown as text: the payloads are on the page, literally, and none ran.
    let tables = format!("{}\n{}", r["range_pages"], r["range_errors"]);
    assert!(
        tables.contains("/<script>window.__xss=1</script>"),
        "{tables}"
    );
    assert!(
        tables.contains("/<img/src=x/onerror=window.__xss=2>"),
        "{tables}"
    );
    let alerts = r["alerts_text"].as_str().unwrap();
    assert!(
        alerts.contains("client_404_burst"),
        "the burst's alert: {alerts}"
    );
    assert!(
        alerts.contains("<script>window.__xss=3</script><img src=x onerror=window.__xss=5>"),
        "the alert's sample lines, user agent included: {alerts}"
    );
    assert!(alerts.contains("javascript:window.__xss=4"), "{alerts}");
    assert_eq!(r["xss"], Value::Null, "a payload ran: {r}");
    assert_eq!(
        r["images"], 0,
        "markup from a log line became an element: {r}"
    );
    assert_eq!(r["scripts"].as_array().unwrap().len(), 1, "{r}");

    // The range picker reads the first hour from the lake: other tables than the live ones.
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("range from the lake"),
        "{r}"
    );
    let range_pages = r["range_pages"].as_str().unwrap();
    assert!(
        range_pages.contains("/home") && range_pages.contains("/about"),
        "{r}"
    );
    assert!(!range_pages.contains("/later"), "{r}");
    assert_ne!(range_pages, live_pages);
    assert!(
        r["range_unique"].as_str().unwrap().contains("260 requests"),
        "{r}"
    );

    // Panels only history has: agents, referers, the heat map.
    assert!(
        r["range_browsers"].as_str().unwrap().contains("unknown"),
        "{r}"
    );
    assert!(
        r["range_sites"].as_str().unwrap().contains("(no host)"),
        "{r}"
    );
    let cells: Vec<u64> = r["heat_cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    assert_eq!(cells.len(), 7 * 24, "{r}");
    assert_eq!(cells.iter().sum::<u64>(), 260, "{r}");
    assert!(
        r["phone_overflow"].as_i64().unwrap() <= 0,
        "wider than a phone: {r}"
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "the screenshot"
    );

    // Looked at: the live view and the range both have axes; the alerts are listed, so no
    // empty-list text; the watermark of 1995 lags decades behind the clock, in words.
    assert_readable(&r["look_live"], "live");
    assert_readable(&r["look_range"], "range");
    assert_eq!(r["look_live"]["alerts_empty"], Value::Null, "{r}");
    let delay = r["look_live"]["health"]["watermark delay"]
        .as_str()
        .unwrap();
    assert!(delay.ends_with(" years"), "watermark delay: {delay}");
    // A path longer than its column (the markup ones) is cut short, and whole when hovered.
    let h = &r["hover"];
    assert_eq!(h["cut"], true, "no name was cut short: {r}");
    assert_eq!(h["still_cut"], false, "hovered, still cut: {h}");
    assert_eq!(h["title"], h["text"], "{h}");
    let (status, err) = run.stop(Duration::from_secs(30));
    assert!(status.success(), "{status}\n{err}");

    // `serve` on the run's lake: no pipeline, so the Pipeline panel says so and shows the
    // lake (not a row of zeros), and the empty alerts list says why it is empty. The browser
    // runs in India's time zone: the axes still read UTC, the lake's clock.
    let serve = Running::start(&[
        "serve",
        "--data",
        lake.to_str().unwrap(),
        "--http",
        "127.0.0.1:0",
    ]);
    let bounds = get_json(serve.addr, "/api/history/bounds");
    let shot = artifacts().join("dashboard-serve.png");
    let o = dashboard_script(
        "serve",
        serve.addr,
        &shot,
        &dir.path().join("chromium-profile-serve"),
    )
    .env("TZ", "Asia/Kolkata")
    .output()
    .unwrap();
    let r = script_report(
        o.status,
        &String::from_utf8_lossy(&o.stdout),
        &String::from_utf8_lossy(&o.stderr),
    );
    eprintln!("browser (serve): {r}");
    eprintln!("screenshot: {}", shot.display());
    let look = &r["look"];
    assert_readable(look, "serve");
    // Every parsed line is a row: the 260 first ones, the 4,200 appended and the late one.
    assert_eq!(bounds["rows"], 260 + 4200 + 1, "{bounds}");
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let commit = bounds["last_commit"].as_i64().unwrap();
    assert!(
        (since - 600..=since).contains(&commit),
        "the lake's last commit, during this test: {bounds}"
    );
    assert_eq!(look["phase"], "lake only", "{look}");
    assert!(
        look["health_note"]
            .as_str()
            .unwrap()
            .contains("lake only — no live pipeline"),
        "{look}"
    );
    let health = look["health"].as_object().unwrap();
    let mut keys: Vec<&str> = health.keys().map(|k| k.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "first event",
            "last commit",
            "last event",
            "rows in the lake"
        ],
        "the lake's facts, no pipeline counters: {look}"
    );
    assert_eq!(health["rows in the lake"], "4,461", "{look}");
    // 1995-07-01T02:01:39Z, the last appended line (4,199 / 42 = 99 s after 02:00).
    assert_eq!(bounds["last"], T0 + 7200 + 99, "{bounds}");
    assert_eq!(health["last event"], "1995-07-01 02:01:39 UTC", "{look}");
    assert!(
        health["last commit"].as_str().unwrap().ends_with(" UTC"),
        "{look}"
    );
    // The range is 1995-06-30 23:50 to 1995-07-01 02:01 UTC (05:20 to 07:31 in India).
    for c in ["rate", "status"] {
        for t in look[c]["x_ticks"].as_array().unwrap() {
            let t = t.as_str().unwrap();
            assert!(
                ["23:", "00:", "01:", "02:", "07-01"]
                    .iter()
                    .any(|p| t.starts_with(p)),
                "{c}: a time label not in UTC: {t} ({look})"
            );
        }
    }
    assert_eq!(look["alerts_listed"], 0, "{look}");
    assert!(
        look["alerts_empty"]
            .as_str()
            .is_some_and(|t| t.starts_with("No alerts")),
        "the empty alerts list: {look}"
    );
    let h = &r["hover"];
    assert_eq!(
        (&h["cut"], &h["still_cut"]),
        (&Value::Bool(true), &Value::Bool(false)),
        "{h}"
    );
    let (status, err) = serve.stop(Duration::from_secs(20));
    assert!(status.success(), "serve after SIGTERM: {status}\n{err}");
}

/// The `status` events of a server-sent event stream, in order, up to its end.
fn statuses_of(stream: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut kind = "";
    for l in stream.lines() {
        if let Some(k) = l.strip_prefix("event:") {
            kind = k.trim();
        } else if let Some(d) = l.strip_prefix("data:") {
            if kind == "status" {
                out.push(serde_json::from_str(d.trim()).unwrap());
            }
        }
    }
    out
}

#[test]
fn when_the_input_ends_the_status_and_the_page_say_ended_not_a_delay_from_the_end_of_time() {
    let dir = tempfile::tempdir().unwrap();
    let first = lines(300, T0);
    let mut cmd = Command::new(bin());
    cmd.args([
        "run",
        "--file",
        "-",
        "--format",
        "vhost_combined",
        "--window",
        "10s",
        "--lateness",
        "1s",
        "--idle-timeout",
        "1s",
        "--emit",
        "none",
        "--http",
        "127.0.0.1:0",
    ])
    // Whatever state a run keeps by default stays in the test's directory.
    .env("XDG_STATE_HOME", dir.path())
    .stdin(Stdio::piped());
    let mut run = Running::spawn(&mut cmd);
    let mut input = run.child.stdin.take().unwrap();
    input.write_all(text(&first).as_bytes()).unwrap();
    input.flush().unwrap();
    let addr = run.addr;
    wait_until("the lines read", Duration::from_secs(60), || {
        let st = get_json(addr, "/api/status");
        (st["counters"]["lines"] == 300, st.to_string())
    });
    // While the input is open the watermark is a time of the log, and its delay that time's
    // distance from now.
    let st = get_json(addr, "/api/status");
    let w = st["watermark"].as_i64().unwrap();
    assert!((T0 + 298..T0 + 3600).contains(&w), "{st}");
    assert_eq!(
        st["watermark_delay_seconds"],
        st["now"].as_i64().unwrap() - w
    );
    assert_eq!(st["input_ended"], false, "{st}");

    // A stream open across the end, and a page.
    let mut sse = TcpStream::connect(addr).unwrap();
    write!(sse, "GET /api/events HTTP/1.0\r\n\r\n").unwrap();
    let shot = artifacts().join("dashboard-ended.png");
    let mut node = dashboard_script("ended", addr, &shot, &dir.path().join("chromium-profile"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(node.stdout.take().unwrap());
    let mut report = String::new();
    let mut l = String::new();
    while out.read_line(&mut l).unwrap() > 0 {
        if l.trim() == "READY" {
            // The page is filled: the input ends, every window closes, the run ends.
            drop(input);
            break;
        }
        report.push_str(&l);
        l.clear();
    }
    out.read_to_string(&mut report).unwrap();
    let mut err = String::new();
    node.stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let r = script_report(node.wait().unwrap(), &report, &err);
    eprintln!("browser (ended): {r}");
    eprintln!("screenshot: {}", shot.display());

    // The last status the server pushed: the input ended, the watermark is still a time of
    // the log, and there is no delay (before: i64::MAX as the watermark, and a delay of
    // -9,223,372,035 billion seconds).
    sse.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut stream = String::new();
    sse.read_to_string(&mut stream).unwrap();
    assert!(stream.contains("event: end"), "{stream}");
    let last = statuses_of(&stream).pop().expect("a status pushed");
    assert_eq!(last["input_ended"], true, "{last}");
    assert_eq!(last["ended"], true, "{last}");
    assert_eq!(last["watermark_delay_seconds"], Value::Null, "{last}");
    let w = last["watermark"].as_i64().unwrap();
    assert!((T0 + 298..T0 + 3600).contains(&w), "{last}");
    // (A window closed by the end of input keeps the engine's own `watermark` of i64::MAX at
    // its emission: it is the window's record, not the pipeline's status, and no page shows it.)
    for st in statuses_of(&stream) {
        assert!(!st.to_string().contains("922337203"), "a sentinel: {st}");
    }
    let status = run.child.wait().unwrap();
    assert!(status.success(), "run after its input ended: {status}");

    // The page: "ended" where the delay was, the counters as they were, axes on the charts.
    let running = &r["look_running"];
    assert_readable(running, "running");
    let delay = running["health"]["watermark delay"].as_str().unwrap();
    assert!(delay.ends_with(" years"), "watermark delay: {delay}");
    assert_eq!(running["alerts_empty"], "No alerts so far.", "{running}");
    let look = &r["look"];
    assert_eq!(r["wait_error"], Value::Null, "{r}");
    assert_eq!(look["phase"], "ended", "{look}");
    assert_readable(look, "ended");
    assert_eq!(look["health"]["watermark delay"], "ended", "{look}");
    assert_eq!(look["health"]["lines in"], "300", "{look}");
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "the screenshot");
}
