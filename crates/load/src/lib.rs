//! HTTP load for `hitstream gen --http`: the generator's traffic sent to a real server.
//!
//! This is the JMeter role in the classic deployments: a web server (or a load balancer in
//! front of several) gets real HTTP/1.1 requests and writes them to its own access log, which
//! the rest of hitstream then reads. Each request is drawn from a [`hitstream_gen::Generator`],
//! so the paths follow `--paths` weights (or the generated site's Zipf popularity), and the
//! user agent, referer and client address (as `X-Forwarded-For`) are the generator's too.
//!
//! [`run`] keeps `concurrency` keep-alive connections busy, bounded by a request count and/or
//! a duration, optionally paced at a total rate, and returns a [`Summary`] like JMeter's
//! aggregate report: requests, per-path counts and shares, throughput, latency percentiles,
//! statuses and errors by kind.
//!
//! What counts as what:
//! - a *request* is one attempt, whatever became of it (the unit of `--count`);
//! - a *response* is a request that got a complete HTTP response, whatever its status;
//!   latencies are over responses only, since a refused connection has no meaningful latency;
//! - an *error* is a response with status ≥ 400 or a request that got no response (refused,
//!   reset, timed out), each counted under its kind.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hitstream_gen::Generator;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::Serialize;

/// Why a load run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The URL is not one this client can send to.
    #[error("`{url}` is not a usable URL: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Inconsistent options.
    #[error("{0}")]
    Config(String),
    /// The async runtime could not start.
    #[error("starting the HTTP client: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Where requests go: `http://HOST[:PORT][/PREFIX]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    url: String,
    /// `host:port` to connect to.
    addr: String,
    /// The `Host` header.
    authority: String,
    /// Path prefix put before every generated target, without a trailing `/`.
    prefix: String,
}

impl Target {
    /// Reads a URL. Only plain `http://` is supported.
    pub fn parse(url: &str) -> Result<Target, LoadError> {
        let bad = |reason: &str| LoadError::Url {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => {
                return Err(bad(
                    "https is not supported; gen --http sends plain HTTP/1.1",
                ))
            }
            Some(_) => return Err(bad("the scheme must be http://")),
            None => return Err(bad("expected http://HOST[:PORT][/PREFIX]")),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.is_empty() {
            return Err(bad("no host"));
        }
        if authority.contains('@') {
            return Err(bad("user information in the URL is not supported"));
        }
        if path.starts_with(['?', '#']) {
            return Err(bad("a query or fragment cannot prefix generated paths"));
        }
        // `[::1]:8080`, `host:8080`, `host`: the port is whatever follows the last `:` outside
        // brackets.
        let has_port = match authority.rfind(':') {
            Some(i) => !authority[i..].contains(']'),
            None => false,
        };
        let addr = if has_port {
            let port = &authority[authority.rfind(':').unwrap_or(0) + 1..];
            if port.parse::<u16>().is_err() {
                return Err(bad("the port is not a number from 0 to 65535"));
            }
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(Target {
            url: url.to_string(),
            addr,
            authority: authority.to_string(),
            prefix: path.trim_end_matches('/').to_string(),
        })
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// What to send, and for how long.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Where.
    pub target: Target,
    /// Stop after this many requests; `None` with no duration means until stopped.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Connections, each sending its next request when the last one is answered.
    pub concurrency: usize,
    /// Total requests per second over all connections; without it, as fast as answered.
    pub rate: Option<f64>,
    /// Longest wait for a connection or a whole response.
    pub timeout: Duration,
}

impl LoadConfig {
    fn validate(&self) -> Result<(), LoadError> {
        if self.concurrency == 0 {
            return Err(LoadError::Config("--concurrency must be at least 1".into()));
        }
        if let Some(r) = self.rate {
            if !(r.is_finite() && r > 0.0) {
                return Err(LoadError::Config(format!(
                    "--rate must be a positive number of requests per second, not {r}"
                )));
            }
        }
        if self.duration.is_some_and(|d| d.is_zero()) {
            return Err(LoadError::Config("--duration must be longer than 0".into()));
        }
        if self.timeout.is_zero() {
            return Err(LoadError::Config("--timeout must be longer than 0".into()));
        }
        Ok(())
    }
}

/// Latency figures, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    /// Arithmetic mean.
    pub mean: f64,
    /// Fastest.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

impl Latency {
    /// Nearest-rank percentiles of latencies in microseconds; `None` when there are none.
    pub fn of(latencies_us: &mut [u64]) -> Option<Latency> {
        if latencies_us.is_empty() {
            return None;
        }
        latencies_us.sort_unstable();
        let n = latencies_us.len();
        let rank = |q: f64| {
            let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
            latencies_us[i] as f64 / 1e3
        };
        let sum: u128 = latencies_us.iter().map(|&v| u128::from(v)).sum();
        Some(Latency {
            mean: sum as f64 / n as f64 / 1e3,
            min: latencies_us[0] as f64 / 1e3,
            p50: rank(0.50),
            p90: rank(0.90),
            p95: rank(0.95),
            p99: rank(0.99),
            max: latencies_us[n - 1] as f64 / 1e3,
        })
    }
}

/// One path's line of the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathSummary {
    /// The path, without its query.
    pub path: String,
    /// Requests sent for it.
    pub requests: u64,
    /// Its share of all requests.
    pub share: f64,
    /// Errors among them.
    pub errors: u64,
    /// Latency of its responses.
    pub latency_ms: Option<Latency>,
}

/// The aggregate report of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Where the requests went.
    pub url: String,
    /// Connections used.
    pub concurrency: usize,
    /// The pacing asked for, if any.
    pub rate: Option<f64>,
    /// Requests sent.
    pub requests: u64,
    /// Requests that got a complete response.
    pub responses: u64,
    /// Responses with status ≥ 400 plus requests without a response.
    pub errors: u64,
    /// `errors / requests`.
    pub error_rate: f64,
    /// Wall time from the first request to the last answer.
    pub elapsed_s: f64,
    /// Requests per second.
    pub throughput_rps: f64,
    /// Response body bytes received.
    pub received_bytes: u64,
    /// Latency of all responses.
    pub latency_ms: Option<Latency>,
    /// Per path, the most requested first.
    pub paths: Vec<PathSummary>,
    /// Responses by status code.
    pub statuses: BTreeMap<String, u64>,
    /// Errors by kind (`status 404`, `connect: connection refused`, `timeout`...).
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Whether the run was stopped early (Ctrl-C).
    pub interrupted: bool,
}

/// Sends the generator's traffic to the target until the count or the duration is reached,
/// or `stop` is set; then returns the summary.
pub fn run(
    config: &LoadConfig,
    generator: Generator,
    stop: Arc<AtomicBool>,
) -> Result<Summary, LoadError> {
    config.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let start = Instant::now();
    let shared = Arc::new(Shared {
        next: AtomicU64::new(0),
        count: config.count,
        deadline: config.duration.map(|d| start + d),
        start,
        rate: config.rate,
        stop: stop.clone(),
        source: Mutex::new((generator, Vec::with_capacity(512))),
        target: config.target.clone(),
        timeout: config.timeout,
    });
    let stats = runtime.block_on(async {
        let workers: Vec<_> = (0..config.concurrency)
            .map(|_| tokio::spawn(worker(shared.clone())))
            .collect();
        let mut total = Stats::default();
        for w in workers {
            // A worker only ends by returning its stats; a panic in one is a bug worth seeing.
            match w.await {
                Ok(s) => total.merge(s),
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
        total
    });
    let elapsed = start.elapsed().as_secs_f64();
    Ok(stats.summary(config, elapsed, stop.load(Ordering::Relaxed)))
}

struct Shared {
    next: AtomicU64,
    count: Option<u64>,
    deadline: Option<Instant>,
    start: Instant,
    rate: Option<f64>,
    stop: Arc<AtomicBool>,
    /// One generator for all connections, so the mix over all of them follows the weights.
    source: Mutex<(Generator, Vec<u8>)>,
    target: Target,
    timeout: Duration,
}

impl Shared {
    fn over(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// The index of the next request to send, if the run goes on.
    fn claim(&self) -> Option<u64> {
        if self.over() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        match self.count {
            Some(c) if i >= c => None,
            _ => Some(i),
        }
    }

    fn draw(&self) -> Draw {
        let mut guard = self.source.lock().unwrap_or_else(|p| p.into_inner());
        let (generator, buf) = &mut *guard;
        buf.clear();
        generator.next_line(buf);
        let hit = generator
            .last_hit()
            .expect("a line was just generated, so there is a last hit");
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let given = |b: &[u8]| (b != b"-" && !b.is_empty()).then(|| b.to_vec());
        let mut target = self.target.prefix.clone();
        encode_target(hit.target, &mut target);
        Draw {
            method: text(hit.method),
            target,
            path: text(hit.path()),
            user_agent: given(hit.user_agent),
            referer: given(hit.referer),
            client: given(hit.client),
        }
    }
}

/// One request, drawn from the generator.
struct Draw {
    method: String,
    target: String,
    path: String,
    user_agent: Option<Vec<u8>>,
    referer: Option<Vec<u8>>,
    client: Option<Vec<u8>>,
}

/// Appends a generated request target, percent-encoding what a request line cannot carry.
fn encode_target(raw: &[u8], out: &mut String) {
    if !raw.starts_with(b"/") {
        out.push('/');
    }
    for &b in raw {
        let keep = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[derive(Default)]
struct PathStats {
    requests: u64,
    errors: u64,
    latencies_us: Vec<u64>,
}

#[derive(Default)]
struct Stats {
    paths: HashMap<String, PathStats>,
    statuses: BTreeMap<u16, u64>,
    errors: BTreeMap<String, u64>,
    bytes: u64,
}

impl Stats {
    fn record(&mut self, path: String, outcome: Result<(u16, u64), Fail>, latency_us: u64) {
        let p = self.paths.entry(path).or_default();
        p.requests += 1;
        match outcome {
            Ok((status, bytes)) => {
                p.latencies_us.push(latency_us);
                *self.statuses.entry(status).or_default() += 1;
                self.bytes += bytes;
                if status >= 400 {
                    p.errors += 1;
                    *self.errors.entry(format!("status {status}")).or_default() += 1;
                }
            }
            Err(f) => {
                p.errors += 1;
                *self.errors.entry(f.kind()).or_default() += 1;
            }
        }
    }

    fn merge(&mut self, other: Stats) {
        for (path, s) in other.paths {
            let p = self.paths.entry(path).or_default();
            p.requests += s.requests;
            p.errors += s.errors;
            p.latencies_us.extend(s.latencies_us);
        }
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.bytes += other.bytes;
    }

    fn summary(self, config: &LoadConfig, elapsed_s: f64, interrupted: bool) -> Summary {
        let requests: u64 = self.paths.values().map(|p| p.requests).sum();
        let errors: u64 = self.errors.values().sum();
        let mut all: Vec<u64> = Vec::new();
        let mut paths: Vec<PathSummary> = self
            .paths
            .into_iter()
            .map(|(path, mut s)| {
                all.extend_from_slice(&s.latencies_us);
                PathSummary {
                    path,
                    requests: s.requests,
                    share: s.requests as f64 / requests.max(1) as f64,
                    errors: s.errors,
                    latency_ms: Latency::of(&mut s.latencies_us),
                }
            })
            .collect();
        paths.sort_by(|a, b| b.requests.cmp(&a.requests).then(a.path.cmp(&b.path)));
        Summary {
            url: config.target.url.clone(),
            concurrency: config.concurrency,
            rate: config.rate,
            requests,
            responses: all.len() as u64,
            errors,
            error_rate: errors as f64 / requests.max(1) as f64,
            elapsed_s,
            throughput_rps: requests as f64 / elapsed_s.max(1e-9),
            received_bytes: self.bytes,
            latency_ms: Latency::of(&mut all),
            paths,
            statuses: self
                .statuses
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            errors_by_kind: self.errors,
            interrupted,
        }
    }
}

/// A request that got no complete response.
#[derive(Debug)]
enum Fail {
    Connect(std::io::ErrorKind),
    Timeout,
    Http(hyper::Error),
    /// The generator drew something that is not a valid request (a bug in the generator).
    Request(String),
}

impl Fail {
    /// A short kind, so that a thousand refused connections count under one name.
    fn kind(&self) -> String {
        match self {
            Fail::Connect(k) => format!("connect: {k}"),
            Fail::Timeout => "timeout".into(),
            Fail::Http(e) if e.is_incomplete_message() => "connection closed early".into(),
            Fail::Http(e) if e.is_parse() => "invalid HTTP response".into(),
            Fail::Http(e) if e.is_canceled() || e.is_closed() => "connection closed".into(),
            Fail::Http(e) => match std::error::Error::source(e)
                .and_then(|s| s.downcast_ref::<std::io::Error>())
            {
                Some(io) => format!("io: {}", io.kind()),
                None => format!("http: {e}"),
            },
            Fail::Request(e) => format!("bad request: {e}"),
        }
    }
}

type Sender = SendRequest<Empty<Bytes>>;

async fn worker(shared: Arc<Shared>) -> Stats {
    let mut stats = Stats::default();
    let mut conn: Option<Sender> = None;
    while let Some(i) = shared.claim() {
        if let Some(rate) = shared.rate {
            let at = shared.start + Duration::from_secs_f64(i as f64 / rate);
            tokio::time::sleep_until(at.into()).await;
            if shared.over() {
                break;
            }
        }
        let draw = shared.draw();
        let began = Instant::now();
        let outcome = tokio::time::timeout(shared.timeout, send(&shared, &mut conn, &draw)).await;
        let latency = began.elapsed().as_micros() as u64;
        let outcome = match outcome {
            Ok(r) => r,
            Err(_) => Err(Fail::Timeout),
        };
        if outcome.is_err() {
            // A connection that failed once is not trusted again.
            conn = None;
        }
        stats.record(draw.path, outcome, latency);
    }
    stats
}

async fn connect(target: &Target) -> Result<Sender, Fail> {
    let stream = tokio::net::TcpStream::connect(&target.addr)
        .await
        .map_err(|e| Fail::Connect(e.kind()))?;
    // Small requests on a kept-alive connection: without it, Nagle's delay dominates latency.
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(Fail::Http)?;
    tokio::spawn(async move {
        // A broken connection shows as the error of the request that was on it.
        let _ = connection.await;
    });
    Ok(sender)
}

async fn send(shared: &Shared, conn: &mut Option<Sender>, d: &Draw) -> Result<(u16, u64), Fail> {
    let sender = match conn {
        Some(s) if !s.is_closed() => s,
        _ => conn.insert(connect(&shared.target).await?),
    };
    if sender.ready().await.is_err() {
        // The server closed the kept-alive connection between requests: a new one, once.
        *sender = connect(&shared.target).await?;
        sender.ready().await.map_err(Fail::Http)?;
    }
    let mut req = hyper::Request::builder()
        .method(d.method.as_str())
        .uri(d.target.as_str())
        .header(hyper::header::HOST, shared.target.authority.as_str());
    let headers = [
        (hyper::header::USER_AGENT, &d.user_agent),
        (hyper::header::REFERER, &d.referer),
        (
            hyper::header::HeaderName::from_static("x-forwarded-for"),
            &d.client,
        ),
    ];
    for (name, value) in headers {
        if let Some(v) = value {
            // A value a header cannot carry is left out rather than failing the request.
            if let Ok(v) = hyper::header::HeaderValue::from_bytes(v) {
                req = req.header(name, v);
            }
        }
    }
    let req = req
        .body(Empty::<Bytes>::new())
        .map_err(|e| Fail::Request(e.to_string()))?;
    let resp = sender.send_request(req).await.map_err(Fail::Http)?;
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    let mut bytes = 0u64;
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame.map_err(Fail::Http)?.data_ref() {
            bytes += data.len() as u64;
        }
    }
    Ok((status, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = Target::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((t.addr.as_str(), t.prefix.as_str()), ("127.0.0.1:8080", ""));
        let t = Target::parse("HTTP://localhost/app/").unwrap();
        assert_eq!(
            (t.addr.as_str(), t.authority.as_str(), t.prefix.as_str()),
            ("localhost:80", "localhost", "/app")
        );
        let t = Target::parse("http://[::1]:9000/x").unwrap();
        assert_eq!((t.addr.as_str(), t.prefix.as_str()), ("[::1]:9000", "/x"));
        assert_eq!(Target::parse("http://[::1]").unwrap().addr, "[::1]:80");
        for bad in [
            "127.0.0.1:8080",
            "https://a",
            "ftp://a",
            "http://",
            "http://a:99999",
            "http://a:x",
            "http://u@a",
            "http://a?q",
        ] {
            let e = Target::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn targets_are_encoded() {
        let mut s = String::from("/p");
        encode_target(b"/a b/\"x\"?q=1&r=%20", &mut s);
        assert_eq!(s, "/p/a%20b/%22x%22?q=1&r=%20");
        let mut s = String::new();
        encode_target(b"x", &mut s);
        assert_eq!(s, "/x");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut v: Vec<u64> = (1..=100).rev().map(|ms| ms * 1000).collect();
        let l = Latency::of(&mut v).unwrap();
        assert_eq!(
            (l.min, l.p50, l.p90, l.p95, l.p99, l.max),
            (1.0, 50.0, 90.0, 95.0, 99.0, 100.0)
        );
        assert!((l.mean - 50.5).abs() < 1e-9);
        let l = Latency::of(&mut [7000]).unwrap();
        assert_eq!((l.p50, l.p99), (7.0, 7.0));
        assert!(Latency::of(&mut []).is_none());
    }

    #[test]
    fn bad_options_are_refused() {
        let base = LoadConfig {
            target: Target::parse("http://127.0.0.1:1").unwrap(),
            count: Some(1),
            duration: None,
            concurrency: 1,
            rate: None,
            timeout: Duration::from_secs(1),
        };
        for (c, field) in [
            (
                LoadConfig {
                    concurrency: 0,
                    ..base.clone()
                },
                "--concurrency",
            ),
            (
                LoadConfig {
                    rate: Some(0.0),
                    ..base.clone()
                },
                "--rate",
            ),
            (
                LoadConfig {
                    duration: Some(Duration::ZERO),
                    ..base.clone()
                },
                "--duration",
            ),
        ] {
            assert!(c.validate().unwrap_err().to_string().contains(field));
        }
    }
}
