//! The dashboard's server against hostile clients, with the real binary on real sockets: a
//! flood of idle and half-sent connections under a 1,024 open-file limit while `run` tails a
//! file into the lake, event streams over their cap, empty and short tokens, DNS rebinding,
//! base64 tokens from curl and from the page, junk query parameters and extreme ranges, and
//! random methods in `/metrics`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{bin, bin_under_nofile, free_port, http_get, http_get_as, wait_until, Dashboard};

/// 1995-07-01T00:00:00Z.
const T0: i64 = 804_556_800;

/// A `combined` line at `T0 + s` seconds (within July 1995).
fn line(s: i64, method: &str, path: &str) -> String {
    format!(
        "10.0.{}.{} - - [{:02}/Jul/1995:{:02}:{:02}:{:02} +0000] \"{method} {path} HTTP/1.1\" 200 100 \"-\" \"test-agent\"\n",
        s / 250 % 250,
        s % 250 + 1,
        1 + s / 86_400,
        s % 86_400 / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// `hitstream ARGS` serving the dashboard, under an open-file limit of `nofile` (soft and
/// hard) if given.
fn start(args: &[&str], nofile: Option<u64>) -> Dashboard {
    let mut cmd = match nofile {
        Some(n) => bin_under_nofile(n),
        None => Command::new(bin()),
    };
    Dashboard::spawn(cmd.args(args).stdin(Stdio::null()))
}

/// One GET with `Host: host`: status and body.
fn get_as(addr: SocketAddr, host: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    http_get_as(addr, host, path, headers, Duration::from_secs(30))
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_get(addr, path, &[])
}

/// The value of a sample without labels in `/metrics`.
fn metric(addr: SocketAddr, name: &str) -> u64 {
    let (s, body) = get(addr, "/metrics");
    assert_eq!(s, 200, "{body}");
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{body}")) as u64
}

/// `sql --data LAKE QUERY`, one number.
fn count(lake: &Path, q: &str) -> u64 {
    let o = Command::new(bin())
        .args([
            "sql",
            "--data",
            lake.to_str().unwrap(),
            "--output",
            "csv",
            q,
        ])
        .output()
        .unwrap();
    let out = common::ok(o);
    out.lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("not a count: {out}"))
}

/// A lake of `n` lines made by `run --file`.
fn lake_of(dir: &Path, n: i64) -> std::path::PathBuf {
    let log = dir.join("access.log");
    let text: String = (0..n).map(|i| line(i * 30, "GET", "/a")).collect();
    std::fs::write(&log, text).unwrap();
    let lake = dir.join("lake");
    let o = Command::new(bin())
        .args([
            "run",
            "--file",
            log.to_str().unwrap(),
            "--format",
            "combined",
        ])
        .args(["--emit", "none", "--data", lake.to_str().unwrap()])
        .output()
        .unwrap();
    common::ok(o);
    lake
}

/// Whether the server closed `s` (end of stream or reset), looking for up to `wait`.
fn closed(s: &mut TcpStream, wait: Duration) -> (bool, Vec<u8>) {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (true, got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (false, got)
            }
            Err(_) => return (true, got),
        }
    }
}

#[test]
fn a_flood_of_idle_and_half_sent_connections_does_not_stop_run_under_1024_open_files() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let lake = dir.path().join("lake");
    std::fs::write(&log, "").unwrap();
    let mut run = start(
        &[
            "run",
            "--tail",
            log.to_str().unwrap(),
            "--format",
            "combined",
            "--data",
            lake.to_str().unwrap(),
            "--checkpoint-interval",
            "200ms",
            "--emit",
            "none",
            "--http",
            "127.0.0.1:0",
            "--http-header-timeout",
            "2s",
        ],
        Some(1024),
    );
    let addr = run.addr;
    let mut written = 0i64;
    let mut write_lines = |n: i64| {
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        let text: String = (written..written + n)
            .map(|i| line(i, "GET", "/x"))
            .collect();
        f.write_all(text.as_bytes()).unwrap();
        written += n;
    };
    write_lines(20);

    // 1,100 connections that send nothing, and 50 that send half a request.
    let mut idle: Vec<TcpStream> = Vec::new();
    for i in 0..1100 {
        idle.push(TcpStream::connect(addr).unwrap());
        if i % 100 == 0 {
            write_lines(10);
        }
    }
    let mut half: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .unwrap();
            s
        })
        .collect();
    // The pipeline goes on meanwhile: lines keep coming, epochs keep being committed.
    let flooded = Instant::now();
    while flooded.elapsed() < Duration::from_secs(3) {
        write_lines(10);
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            run.child.try_wait().unwrap().is_none(),
            "run stopped during the flood:\n{}",
            run.stderr()
        );
    }
    // Every connection is closed by the server soon after the last one came: those over the
    // cap at once, the others by the 2 s header timeout.
    // 2 s, and as much again for a loaded machine.
    let deadline = flooded + Duration::from_secs(6);
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(10))
    };
    let mut open = 0;
    for s in &mut idle {
        if !closed(s, left()).0 {
            open += 1;
        }
    }
    assert_eq!(open, 0, "idle connections still open 6 s after the flood");
    for s in &mut half {
        let (c, got) = closed(s, left());
        assert!(c, "a half-sent request still open 6 s after the flood");
        let got = String::from_utf8_lossy(&got);
        assert!(
            !got.contains(" 200 "),
            "a half-sent request was answered: {got}"
        );
    }
    drop(idle);
    drop(half);
    write_lines(20);
    // Served again once the flood is gone, and it counted what it did.
    assert!(metric(addr, "hitstream_http_connections_refused_total") > 0);
    assert!(metric(addr, "hitstream_http_connections_timed_out_total") > 0);
    assert_eq!(metric(addr, "hitstream_http_connections_max"), 256);
    assert!(metric(addr, "hitstream_http_connections_open") <= 2);
    let total = written as u64;
    wait_until("every line in the lake", Duration::from_secs(30), || {
        let n = count(&lake, "SELECT count(*) FROM requests");
        (n == total, format!("{n} of {total}"))
    });
    let (status, err) = run.stop(Duration::from_secs(30));
    assert!(status.success(), "run: {status}\n{err}");
    assert!(!err.contains("Too many open files"), "{err}");
    assert_eq!(count(&lake, "SELECT count(*) FROM requests"), total);
}

#[test]
fn event_streams_over_the_cap_get_a_503_and_a_closed_one_frees_its_slot() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(&log, line(0, "GET", "/")).unwrap();
    let mut run = start(
        &[
            "run",
            "--no-state",
            "--tail",
            log.to_str().unwrap(),
            "--format",
            "combined",
            "--emit",
            "none",
            "--http",
            "127.0.0.1:0",
            "--http-max-streams",
            "3",
        ],
        None,
    );
    let addr = run.addr;
    let stream = || {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(s, "GET /api/events HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).unwrap();
        (s, String::from_utf8_lossy(&head).into_owned())
    };
    let mut open: Vec<TcpStream> = (0..3)
        .map(|_| {
            let (s, head) = stream();
            assert_eq!(head, "HTTP/1.1 200", "{head}");
            s
        })
        .collect();
    let (s, body) = get(addr, "/api/events");
    assert_eq!(s, 503, "{body}");
    assert!(body.contains("--http-max-streams"), "{body}");
    assert_eq!(metric(addr, "hitstream_http_streams_open"), 3);
    assert_eq!(metric(addr, "hitstream_http_streams_refused_total"), 1);
    // A page closed: its slot is free once the server's next push finds it gone.
    drop(open.pop());
    wait_until(
        "the closed stream's slot back",
        Duration::from_secs(10),
        || {
            let n = metric(addr, "hitstream_http_streams_open");
            (n == 2, format!("{n} open"))
        },
    );
    let (_s, head) = stream();
    assert_eq!(head, "HTTP/1.1 200", "{head}");
    assert!(run.child.try_wait().unwrap().is_none(), "{}", run.stderr());
}

#[test]
fn tokens_that_guard_nothing_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(&log, line(0, "GET", "/")).unwrap();
    for (token, addr, why) in [
        ("", "[::ffff:127.0.0.1]:0", "is empty"),
        ("", "127.0.0.1:0", "is empty"),
        ("s3cret", "127.0.0.1:0", "at least 16"),
        ("a token with spaces", "127.0.0.1:0", "printable ASCII"),
    ] {
        let port = free_port();
        let addr = addr.replace(":0", &format!(":{port}"));
        let o = Command::new(bin())
            .args([
                "run",
                "--no-state",
                "--file",
                log.to_str().unwrap(),
                "--format",
                "combined",
            ])
            .args(["--emit", "none", "--http", &addr, "--auth-token", token])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success(),
            "started with --auth-token {token:?}: {err}"
        );
        assert!(err.contains("--auth-token"), "{err}");
        assert!(err.contains(why), "{token:?}: {err}");
    }
}

#[test]
fn without_a_token_only_this_machines_host_names_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_of(dir.path(), 10);
    let serve = start(
        &[
            "serve",
            "--data",
            lake.to_str().unwrap(),
            "--http",
            "127.0.0.1:0",
        ],
        None,
    );
    let addr = serve.addr;
    let port = addr.port();
    for host in [
        "attacker.example".to_string(),
        format!("attacker.example:{port}"),
        format!("localhost.attacker.example:{port}"),
        format!("10.0.0.1:{port}"),
        format!("[2001:db8::1]:{port}"),
    ] {
        for path in ["/", "/api/status", "/api/history/bounds", "/metrics"] {
            let (s, body) = get_as(addr, &host, path, &[]);
            assert_eq!(s, 421, "Host: {host} {path}: {body}");
            assert!(!body.contains('{'), "{body}");
        }
    }
    for host in [
        format!("localhost:{port}"),
        "localhost".to_string(),
        format!("LocalHost.:{port}"),
        format!("127.0.0.1:{port}"),
        format!("127.1.2.3:{port}"),
        format!("[::1]:{port}"),
        format!("[::ffff:127.0.0.1]:{port}"),
    ] {
        let (s, body) = get_as(addr, &host, "/api/status", &[]);
        assert_eq!(s, 200, "Host: {host}: {body}");
    }
    assert_eq!(metric(addr, "hitstream_http_foreign_host_total"), 20);
    drop(serve);

    // With a token, the token is what guards: any name may lead to the server.
    let token = "tok-0123456789abcdef";
    let serve = start(
        &[
            "serve",
            "--data",
            lake.to_str().unwrap(),
            "--http",
            "127.0.0.1:0",
            "--auth-token",
            token,
        ],
        None,
    );
    let bearer = format!("Bearer {token}");
    let (s, body) = get_as(
        serve.addr,
        "dashboard.example",
        "/api/status",
        &[("Authorization", &bearer)],
    );
    assert_eq!(s, 200, "{body}");
    let (s, _) = get_as(serve.addr, "dashboard.example", "/api/status", &[]);
    assert_eq!(s, 401);
}

/// `%XX` for every byte but unreserved ones, as `encodeURIComponent` does.
fn encoded(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn a_base64_token_works_from_curl_from_an_encoded_url_and_from_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_of(dir.path(), 10);
    // What `openssl rand -base64 18` may print.
    let token = "q+3/Zw9=Ab+/x0Yk8+Lm/A==";
    let serve = start(
        &[
            "serve",
            "--data",
            lake.to_str().unwrap(),
            "--http",
            "127.0.0.1:0",
            "--auth-token",
            token,
        ],
        None,
    );
    let addr = serve.addr;
    let bearer = format!("Bearer {token}");
    assert_eq!(
        get_as(addr, "h", "/api/status", &[("Authorization", &bearer)]).0,
        200
    );
    // Typed as it is (curl), and percent-encoded (a URL made by a program).
    assert_eq!(get(addr, &format!("/api/status?token={token}")).0, 200);
    assert_eq!(
        get(addr, &format!("/api/status?token={}", encoded(token))).0,
        200
    );
    assert_eq!(
        get(
            addr,
            &format!("/api/status?x=1&token={}&y=2", encoded(token))
        )
        .0,
        200
    );
    // Near misses are refused.
    assert_eq!(
        get(addr, "/api/status?token=q%203/Zw9=Ab+/x0Yk8+Lm/A==").0,
        401
    );
    assert_eq!(get(addr, "/api/status?token=").0, 401);

    // The page's own code: the token taken from the address bar (as typed, and encoded)
    // and put in the URLs it fetches and streams from.
    let (s, script) = get(addr, &format!("/app.js?token={}", encoded(token)));
    assert_eq!(s, 200);
    let start = script.find("const tokenOf").expect("tokenOf in app.js");
    let end = script.find("const $ =").expect("`const $` in app.js");
    let page_code = &script[start..end];
    for search in [
        format!("?token={token}"),
        format!("?token={}&x=1", encoded(token)),
    ] {
        let js = format!(
            "const location = {{ search: {search:?} }};\n{page_code}\n\
             console.log(withToken('/api/status'));\n\
             console.log(withToken('/api/history?from=0&to=86400'));\n"
        );
        let o = Command::new("node").args(["-e", &js]).output().unwrap();
        let out = common::ok(o);
        let urls: Vec<&str> = out.lines().collect();
        assert_eq!(urls.len(), 2, "{out}");
        for u in urls {
            let (s, body) = get(addr, u);
            assert_eq!(s, 200, "the page's {u} (from {search}): {body}");
        }
    }
}

#[test]
fn junk_parameters_do_not_ask_the_lake_again_and_bad_ranges_are_400() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_of(dir.path(), 20);
    let serve = start(
        &[
            "serve",
            "--data",
            lake.to_str().unwrap(),
            "--http",
            "127.0.0.1:0",
        ],
        None,
    );
    let addr = serve.addr;
    let from = T0;
    let to = T0 + 86_400;
    for i in 0..20 {
        let (s, body) = get(addr, &format!("/api/history?from={from}&to={to}&x={i}"));
        assert_eq!(s, 200, "{body}");
        assert!(body.contains("\"requests\":20"), "{body}");
    }
    // The same range written another way is the same question.
    let (s, _) = get(
        addr,
        "/api/history?to=1995-07-02T00:00:00Z&from=1995-07-01T00:00Z",
    );
    assert_eq!(s, 200);
    assert_eq!(metric(addr, "hitstream_http_lake_queries_total"), 1);

    for (f, t) in [
        ("-9223372036854775808", "9223372036854775807"),
        ("0", "9223372036854775807"),
        ("-1", "10"),
        ("0", "99999999999999"),
        ("9223372036854775807-01-01", "1995-07-01"),
        ("1995-07-01", "1995-07-01T25:00"),
        ("1e10", "2e10"),
        ("10", "5"),
    ] {
        let (s, body) = get(addr, &format!("/api/history?from={f}&to={t}"));
        assert_eq!(s, 400, "from={f} to={t}: {body}");
        assert!(!body.contains("Optimizer"), "{body}");
        assert!(!body.contains("DataFusion"), "{body}");
        assert!(body.contains("from") || body.contains("to"), "{body}");
    }
    assert_eq!(metric(addr, "hitstream_http_lake_queries_total"), 1);
}

#[test]
fn random_methods_from_log_lines_make_a_bounded_set_of_metric_series() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    std::fs::write(&log, "").unwrap();
    let run = start(
        &[
            "run",
            "--no-state",
            "--tail",
            log.to_str().unwrap(),
            "--format",
            "combined",
            "--window",
            "60s",
            "--lateness",
            "1s",
            "--idle-timeout",
            "1s",
            "--emit",
            "none",
            "--http",
            "127.0.0.1:0",
        ],
        None,
    );
    let addr = run.addr;
    // 1,860 lines over 31 minutes, each with a method of its own but every tenth.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let text: String = (0..1860i64)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let m = if i % 10 == 0 {
                "POST".to_string()
            } else {
                format!("M{:X}", x % 1_000_000_007)
            };
            line(i, &m, "/r")
        })
        .collect();
    std::fs::write(&log, text).unwrap();
    let mut last = String::new();
    wait_until("every line in the traffic", Duration::from_secs(30), || {
        let (_, body) = get(addr, "/api/traffic");
        let done = body.contains("\"requests\":1860");
        last = body.clone();
        (done, body)
    });
    let (_, body) = get(addr, "/metrics");
    let series: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("hitstream_requests_by_method_total{"))
        .collect();
    assert!(series.len() <= 16, "{} series: {series:?}", series.len());
    assert!(
        series.contains(&"hitstream_requests_by_method_total{method=\"POST\"} 186"),
        "{series:?}"
    );
    assert!(
        series.contains(&"hitstream_requests_by_method_total{method=\"other\"} 1674"),
        "{series:?}"
    );
    assert!(!last.contains("\"M"), "{last}");
}
