//! `run` against a real HTTP/1.1 server on loopback: a small threaded one written here, so that
//! what arrived can be compared with what the summary says was sent.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hitstream_gen::{parse_weighted_paths, GenConfig, Generator, PathSource};
use hitstream_load::{run, LoadConfig, Target};

#[derive(Default)]
struct Seen {
    paths: Vec<String>,
    forwarded: usize,
    heads: usize,
    connections: usize,
}

/// Serves until the test ends: `/missing` is 404, the rest 200 with a 2-byte body; every
/// connection is closed by the server after 7 requests, as nginx does after
/// `keepalive_requests`.
fn serve() -> (String, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            s.lock().unwrap().connections += 1;
            let s = s.clone();
            std::thread::spawn(move || handle(stream, &s));
        }
    });
    (url, seen)
}

fn handle(stream: TcpStream, seen: &Mutex<Seen>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    for n in 1.. {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let head_request = line.starts_with("HEAD ");
        let target = line.split(' ').nth(1).unwrap_or("").to_string();
        let mut forwarded = false;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" {
                break;
            }
            forwarded |= h.to_ascii_lowercase().starts_with("x-forwarded-for:");
        }
        let path = target.split('?').next().unwrap_or("").to_string();
        let status = if path == "/missing" {
            "404 Not Found"
        } else {
            "200 OK"
        };
        let close = n % 7 == 0;
        {
            let mut s = seen.lock().unwrap();
            s.paths.push(path);
            s.forwarded += usize::from(forwarded);
            s.heads += usize::from(head_request);
        }
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: 2\r\n{}\r\n{}",
            if close { "Connection: close\r\n" } else { "" },
            if head_request { "" } else { "ok" }
        );
        if out.write_all(head.as_bytes()).is_err() || close {
            return;
        }
    }
}

fn generator(paths: &str) -> Generator {
    Generator::new(GenConfig {
        paths: PathSource::Weighted(parse_weighted_paths(paths).unwrap()),
        scanners: 0,
        count: None,
        ..GenConfig::default()
    })
    .unwrap()
}

fn config(url: &str) -> LoadConfig {
    LoadConfig {
        target: Target::parse(url).unwrap(),
        count: Some(2000),
        duration: None,
        concurrency: 4,
        rate: None,
        timeout: Duration::from_secs(10),
    }
}

#[test]
fn counts_match_what_the_server_received() {
    let (url, seen) = serve();
    let s = run(
        &config(&url),
        generator("/a=50,/b=25,/c=15,/missing=10"),
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(s.requests, 2000);
    assert_eq!(seen.paths.len(), 2000);
    assert_eq!(s.responses, 2000, "{:?}", s.errors_by_kind);
    assert_eq!(seen.forwarded, 2000, "every request carries the client");
    assert!(seen.connections >= 2000 / 7, "reconnected after each close");
    for p in &s.paths {
        let got = seen.paths.iter().filter(|x| **x == p.path).count() as u64;
        assert_eq!(got, p.requests, "{}", p.path);
    }
    let missing = s.paths.iter().find(|p| p.path == "/missing").unwrap();
    assert_eq!(s.errors, missing.requests);
    assert_eq!(s.errors_by_kind.get("status 404"), Some(&missing.requests));
    assert_eq!(s.statuses.get("404"), Some(&missing.requests));
    assert_eq!(s.statuses.get("200"), Some(&(2000 - missing.requests)));
    // A HEAD response has no body.
    assert_eq!(s.received_bytes, 2 * (2000 - seen.heads as u64));
    // The shares follow the weights: 2000 draws, 4 binomial standard deviations at most.
    for (path, w) in [("/a", 0.5), ("/b", 0.25), ("/c", 0.15), ("/missing", 0.1)] {
        let share = s.paths.iter().find(|p| p.path == path).unwrap().share;
        let sd = (w * (1.0 - w) / 2000.0f64).sqrt();
        assert!((share - w).abs() < 4.0 * sd, "{path}: {share} vs {w}");
    }
    let l = s.latency_ms.as_ref().unwrap();
    assert!(l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max);
    assert!(s.throughput_rps > 0.0 && !s.interrupted);
}

#[test]
fn rate_paces_and_duration_bounds() {
    let (url, _) = serve();
    let began = Instant::now();
    let s = run(
        &LoadConfig {
            count: Some(60),
            rate: Some(100.0),
            ..config(&url)
        },
        generator("/a"),
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap();
    assert_eq!(s.requests, 60);
    // The 60th request is due at 0.59 s.
    assert!(
        began.elapsed() >= Duration::from_millis(580),
        "{:?}",
        began.elapsed()
    );
    assert!(s.throughput_rps < 110.0, "{}", s.throughput_rps);

    let began = Instant::now();
    let s = run(
        &LoadConfig {
            count: None,
            duration: Some(Duration::from_millis(500)),
            rate: Some(50.0),
            ..config(&url)
        },
        generator("/a"),
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap();
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!((20..=30).contains(&s.requests), "{}", s.requests);
}

#[test]
fn refused_connections_are_errors_by_kind() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = run(
        &LoadConfig {
            count: Some(25),
            ..config(&format!("http://127.0.0.1:{port}"))
        },
        generator("/a"),
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap();
    assert_eq!((s.requests, s.responses, s.errors), (25, 0, 25));
    assert_eq!(
        s.errors_by_kind.get("connect: connection refused"),
        Some(&25),
        "{:?}",
        s.errors_by_kind
    );
    assert!(s.latency_ms.is_none());
}
