//! The HTTP face of hitstream: a live web dashboard, a JSON API under `/api/` and
//! Prometheus metrics at `/metrics`, for a running pipeline (`hitstream run --http`) or a lake
//! alone (`hitstream serve --data DIR`).
//!
//! The server plugs into the runtime through [`hitstream_runtime::Watch`]: [`Live`] reads
//! the pipeline's events on one thread and keeps a snapshot that handlers read, so serving
//! never blocks the pipeline. History (a date range, a vhost) is read from the lake with SQL.
//! The page, its script and its styles are embedded in the binary; nothing is fetched from
//! elsewhere. Read-only: only `GET` routes exist. Everything that comes from a log line is
//! sent as JSON and shown by the page as text, never as markup.

mod api;
mod conn;
mod history;
pub mod live;
pub mod metrics;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use api::router;
pub use conn::{effective_max_connections, open_file_limit};
pub use live::Live;

/// What can go wrong starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A non-loopback address without a token.
    #[error(
        "--http {0} listens beyond this machine: give --auth-token TOKEN (or --insecure-no-auth \
         to serve without one)"
    )]
    NeedsAuth(SocketAddr),
    /// A token that guards nothing: empty, short, or not sendable in a header.
    #[error("--auth-token {0}")]
    BadToken(String),
    /// The lake cannot be opened.
    #[error("{0}")]
    Lake(#[from] hitstream_lake::LakeError),
    /// The server's runtime cannot start.
    #[error("starting the HTTP server: {0}")]
    Runtime(std::io::Error),
}

/// How long an event stream may stay silent before the server sends a `: keep-alive` comment.
/// A running pipeline pushes its status every second, but a proxy in front of the server may
/// cut a connection that carries nothing for a while (a stalled feed, a slow page).
pub const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// A client look-up for the countries and AS panels; the CLI opens the `--geoip` databases.
#[derive(Clone)]
pub struct Geo(pub Arc<dyn hitstream_analyze::GeoLookup + Send + Sync>);

impl std::fmt::Debug for Geo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Geo(..)")
    }
}

/// The shortest token accepted: 16 bytes, 96 bits of a random base64 token, out of reach of
/// guessing over HTTP.
pub const MIN_TOKEN_LEN: usize = 16;

/// Open connections at most, by default (`--http-max-connections`).
pub const MAX_CONNECTIONS: usize = 256;
/// Open event streams (`/api/events`) at most, by default (`--http-max-streams`).
pub const MAX_STREAMS: usize = 64;
/// Time for a request's headers to arrive, counted from when the connection opens or its
/// previous response ends: it closes half-sent requests and idle keep-alive connections
/// (`--http-header-timeout`).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a write to a client may make no progress before its connection is closed: a client
/// that stops reading (an event stream never read) is dropped (`--http-write-timeout`).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// The server's caps and timeouts; every client may be refused, the pipeline never starves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Open connections at most; over it a new connection gets a 503 and is closed at once.
    /// Never more than half the process's open-file limit
    /// ([`effective_max_connections`]).
    pub max_connections: usize,
    /// Open event streams at most; over it `/api/events` answers 503.
    pub max_streams: usize,
    /// See [`HEADER_TIMEOUT`].
    pub header_timeout: Duration,
    /// See [`WRITE_TIMEOUT`].
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: MAX_CONNECTIONS,
            max_streams: MAX_STREAMS,
            header_timeout: HEADER_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
        }
    }
}

/// What the server did with its clients, for `/metrics`.
#[derive(Debug, Default)]
pub struct Stats {
    /// The connection cap in force.
    pub max_connections: AtomicU64,
    /// Connections open now.
    pub connections_open: AtomicU64,
    /// Connections served.
    pub connections_total: AtomicU64,
    /// Connections closed at once because the cap was reached.
    pub connections_refused: AtomicU64,
    /// Connections closed for sending no complete request headers in time, or for reading
    /// nothing of a response in time.
    pub connections_timed_out: AtomicU64,
    /// Failed accepts (out of file descriptors, among others); the server waits and goes on.
    pub accept_errors: AtomicU64,
    /// Event streams open now.
    pub streams_open: AtomicU64,
    /// Event streams refused because the cap was reached.
    pub streams_refused: AtomicU64,
    /// Pushes a slow event stream skipped (it gets the next status instead).
    pub stream_skipped: AtomicU64,
    /// Queries run on the lake (cache misses of `/api/history*`).
    pub lake_queries: AtomicU64,
    /// Requests refused because their `Host` is not this server (DNS rebinding).
    pub foreign_hosts: AtomicU64,
}

impl Stats {
    /// Reads one counter.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// Whether `ip` is this machine: `127.0.0.0/8`, `::1`, or `::ffff:127.x.y.z`.
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Why `token` cannot guard a server, if it cannot.
pub fn token_problem(token: &str) -> Option<String> {
    if token.is_empty() {
        return Some(
            "is empty (an unset variable?): give a random token of at least 16 characters \
             (`openssl rand -base64 24`), or leave --auth-token out"
                .into(),
        );
    }
    if let Some(c) = token.chars().find(|c| !c.is_ascii_graphic()) {
        return Some(format!(
            "contains {c:?}: a token is printable ASCII without spaces, so that it can be sent \
             in a header and a URL"
        ));
    }
    if token.len() < MIN_TOKEN_LEN {
        return Some(format!(
            "is {} characters long: at least {MIN_TOKEN_LEN} are needed, so that it cannot be \
             guessed (`openssl rand -base64 24`)",
            token.len()
        ));
    }
    None
}

/// Settings of the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen (`127.0.0.1:8080`; port 0 picks a free one).
    pub addr: SocketAddr,
    /// A token every request must carry (`Authorization: Bearer TOKEN` or `?token=TOKEN`).
    pub auth_token: Option<String>,
    /// Serve a non-loopback address without a token.
    pub insecure_no_auth: bool,
    /// The lake to read history from (`--data`), if any.
    pub lake: Option<String>,
    /// Countries and autonomous systems of clients in history, if a database is given.
    pub geo: Option<Geo>,
    /// Caps and timeouts.
    pub limits: Limits,
}

impl ServerConfig {
    /// Refuses a token that guards nothing, and to serve beyond loopback without a token
    /// unless asked to.
    pub fn check(&self) -> Result<(), ServerError> {
        if let Some(p) = self.auth_token.as_deref().and_then(token_problem) {
            return Err(ServerError::BadToken(p));
        }
        if !is_loopback(self.addr.ip()) && self.auth_token.is_none() && !self.insecure_no_auth {
            return Err(ServerError::NeedsAuth(self.addr));
        }
        Ok(())
    }
}

/// Shared by every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The live snapshot.
    pub live: Arc<Live>,
    /// History from the lake.
    pub lake: Option<Arc<tokio::sync::Mutex<hitstream_lake::AsyncLake>>>,
    /// The token, if one is required.
    pub token: Option<Arc<str>>,
    /// Countries and autonomous systems of clients in history.
    pub geo: Option<Geo>,
    /// Fires when the server stops (ends server-sent-event streams).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Silence on an event stream before a keep-alive comment ([`KEEP_ALIVE`]; tests shorten
    /// it to see one without waiting).
    pub keep_alive: Duration,
    /// Answers from the lake, kept for [`HISTORY_FOR`].
    pub history: Arc<HistoryCache>,
    /// Without a token, on loopback: the only `Host` names answered are loopback ones and
    /// the bound address, so a page of another site that rebinds its name to 127.0.0.1
    /// reads nothing (DNS rebinding). `None`: any `Host` (a token guards the server, or it
    /// serves beyond loopback with --insecure-no-auth).
    pub local_host: Option<SocketAddr>,
    /// Open event streams at most.
    pub max_streams: usize,
    /// What the server did with its clients.
    pub stats: Arc<Stats>,
}

/// How long an answer from the lake (`/api/history`, `/api/history/bounds`) is served again
/// to the same question: each is a query over the lake, which competes with the pipeline
/// for the same cores, and a page or a scraper asking every second gains nothing from
/// asking the lake every second.
pub const HISTORY_FOR: Duration = Duration::from_secs(5);

/// Answers kept at most: a client asking many different ranges at once gets each answered,
/// but the cache does not grow with it.
pub const HISTORY_KEEP: usize = 64;

/// Recent answers from the lake, by question.
#[derive(Debug, Default)]
pub struct HistoryCache(
    std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, serde_json::Value)>>,
);

impl HistoryCache {
    /// The answer to `key` given less than `fresh` ago.
    pub fn get(&self, key: &str, fresh: Duration) -> Option<serde_json::Value> {
        let m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.get(key)
            .filter(|(at, _)| at.elapsed() < fresh)
            .map(|(_, v)| v.clone())
    }

    /// Keeps `value` as the answer to `key`, dropping answers too old to serve.
    pub fn put(&self, key: String, value: serde_json::Value) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.retain(|_, (at, _)| at.elapsed() < HISTORY_FOR);
        while m.len() >= HISTORY_KEEP {
            let oldest = m
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => m.remove(&k),
                None => break,
            };
        }
        m.insert(key, (std::time::Instant::now(), value));
    }
}

/// A running server, on its own thread and Tokio runtime.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
    live: Arc<Live>,
    stats: Arc<Stats>,
    max_connections: usize,
}

impl Server {
    /// Binds and starts serving. Errors of binding and of opening the lake come back here.
    pub fn start(cfg: &ServerConfig, live: Arc<Live>) -> Result<Server, ServerError> {
        cfg.check()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hitstream-http")
            .enable_all()
            .build()
            .map_err(ServerError::Runtime)?;
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let (listener, lake) = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind(cfg.addr)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: cfg.addr,
                    source,
                })?;
            let lake = match &cfg.lake {
                Some(l) => Some(Arc::new(tokio::sync::Mutex::new(
                    hitstream_lake::AsyncLake::open(l).await?,
                ))),
                None => None,
            };
            Ok::<_, ServerError>((listener, lake))
        })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: cfg.addr,
            source,
        })?;
        let max_connections =
            effective_max_connections(cfg.limits.max_connections, open_file_limit());
        let stats = Arc::new(Stats::default());
        stats
            .max_connections
            .store(max_connections as u64, Ordering::Relaxed);
        let state = AppState {
            live: live.clone(),
            lake,
            token: cfg.auth_token.as_deref().map(Arc::from),
            geo: cfg.geo.clone(),
            shutdown: shutdown.clone(),
            keep_alive: KEEP_ALIVE,
            history: Arc::default(),
            local_host: (cfg.auth_token.is_none() && is_loopback(addr.ip())).then_some(addr),
            max_streams: cfg.limits.max_streams,
            stats: stats.clone(),
        };
        let app = router(state);
        let limits = cfg.limits;
        let st = stats.clone();
        let thread = std::thread::Builder::new()
            .name("hitstream-http".into())
            .spawn(move || {
                rt.block_on(conn::serve(
                    listener,
                    app,
                    limits,
                    max_connections,
                    st,
                    shutdown,
                    Duration::from_secs(5),
                ));
            })
            .map_err(ServerError::Runtime)?;
        Ok(Server {
            addr,
            stop,
            thread: Some(thread),
            live,
            stats,
            max_connections,
        })
    }

    /// The connection cap in force (the one asked for, or half the open-file limit if that
    /// is lower).
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// What the server did with its clients so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The address it listens on (the port chosen when 0 was given).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The dashboard's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Stops: open event streams end, requests in flight finish.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // The pipeline's last status and `end` reach the open pages before they close.
        self.live.wait_ended(std::time::Duration::from_secs(2));
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn quick_server(limits: Limits) -> Server {
        let cfg = ServerConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            auth_token: None,
            insecure_no_auth: false,
            lake: None,
            geo: None,
            limits,
        };
        Server::start(&cfg, Live::none()).unwrap()
    }

    /// Reads until the server closes `c`; how long that took, and what came.
    fn until_closed(c: &mut std::net::TcpStream, limit: Duration) -> (Duration, String) {
        c.set_read_timeout(Some(limit)).unwrap();
        let t = std::time::Instant::now();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match c.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        (t.elapsed(), String::from_utf8_lossy(&got).into_owned())
    }

    #[test]
    fn idle_keep_alive_and_half_sent_requests_are_closed_after_the_header_timeout() {
        let server = quick_server(Limits {
            header_timeout: Duration::from_millis(500),
            ..Limits::default()
        });
        let addr = server.local_addr();
        // A finished request on a keep-alive connection, then nothing.
        let mut kept = std::net::TcpStream::connect(addr).unwrap();
        kept.write_all(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        // Half a request.
        let mut half = std::net::TcpStream::connect(addr).unwrap();
        half.write_all(b"GET /api/status HTTP/1.1\r\nHost: 127.0")
            .unwrap();
        // Nothing at all.
        let mut mute = std::net::TcpStream::connect(addr).unwrap();
        let (took, got) = until_closed(&mut kept, Duration::from_secs(10));
        assert!(got.starts_with("HTTP/1.1 200"), "{got}");
        assert!(took < Duration::from_secs(3), "keep-alive open {took:?}");
        for c in [&mut half, &mut mute] {
            let (took, got) = until_closed(c, Duration::from_secs(10));
            assert!(!got.contains(" 200 "), "{got}");
            assert!(took < Duration::from_secs(3), "open {took:?}");
        }
        let t = std::time::Instant::now();
        while Stats::get(&server.stats().connections_open) > 0 {
            assert!(t.elapsed() < Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(Stats::get(&server.stats().connections_timed_out), 3);
    }

    #[test]
    fn a_request_head_bigger_than_the_buffer_is_refused() {
        let server = quick_server(Limits::default());
        let mut c = std::net::TcpStream::connect(server.local_addr()).unwrap();
        let mut req = b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n".to_vec();
        // 100 KiB in 20 headers: within hyper's own limits (100 headers, about 400 KiB).
        for i in 0..20 {
            req.extend_from_slice(format!("X-Pad-{i}: {}\r\n", "p".repeat(5000)).as_bytes());
        }
        req.extend_from_slice(b"\r\n");
        // The server may stop reading (and answer) before all of it is sent.
        let _ = c.write_all(&req);
        let (_, got) = until_closed(&mut c, Duration::from_secs(10));
        assert!(got.starts_with("HTTP/1.1 431"), "{got}");
    }

    #[test]
    fn connections_over_the_cap_get_a_503_and_are_closed_at_once() {
        let server = quick_server(Limits {
            max_connections: 2,
            ..Limits::default()
        });
        let addr = server.local_addr();
        let held: Vec<_> = (0..2)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        let t = std::time::Instant::now();
        while Stats::get(&server.stats().connections_open) < 2 {
            assert!(t.elapsed() < Duration::from_secs(5));
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut over = std::net::TcpStream::connect(addr).unwrap();
        let (took, got) = until_closed(&mut over, Duration::from_secs(10));
        assert!(got.starts_with("HTTP/1.1 503"), "{got}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert_eq!(Stats::get(&server.stats().connections_refused), 1);
        drop(held);
    }

    #[test]
    fn an_event_stream_that_is_never_read_is_dropped_by_the_write_timeout() {
        let live = Live::idle();
        let cfg = ServerConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            auth_token: None,
            insecure_no_auth: false,
            lake: None,
            geo: None,
            limits: Limits {
                write_timeout: Duration::from_millis(500),
                ..Limits::default()
            },
        };
        let server = Server::start(&cfg, live.clone()).unwrap();
        let mut c = std::net::TcpStream::connect(server.local_addr()).unwrap();
        c.write_all(b"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        let mut head = [0u8; 12];
        c.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"HTTP/1.1 200");
        assert_eq!(Stats::get(&server.stats().streams_open), 1);
        // The client reads no more; the pipeline goes on pushing, more than the socket's
        // buffers hold.
        let big = "x".repeat(64 * 1024);
        let t = std::time::Instant::now();
        while Stats::get(&server.stats().streams_open) > 0 {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "a stream never read is still open after 20 s"
            );
            live.push_raw("note", &big);
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(Stats::get(&server.stats().connections_open), 0);
        assert_eq!(Stats::get(&server.stats().connections_timed_out), 1);
        drop(c);
    }
}
