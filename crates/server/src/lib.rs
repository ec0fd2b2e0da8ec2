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
mod history;
pub mod live;
pub mod metrics;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use api::router;
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
}

impl ServerConfig {
    /// Refuses to serve beyond loopback without a token, unless asked to.
    pub fn check(&self) -> Result<(), ServerError> {
        if !self.addr.ip().is_loopback() && self.auth_token.is_none() && !self.insecure_no_auth {
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
}

/// How long an answer from the lake (`/api/history`, `/api/history/bounds`) is served again
/// to the same question: each is a query over the lake, which competes with the pipeline
/// for the same cores, and a page or a scraper asking every second gains nothing from
/// asking the lake every second.
pub const HISTORY_FOR: Duration = Duration::from_secs(5);

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
        let state = AppState {
            live: live.clone(),
            lake,
            token: cfg.auth_token.as_deref().map(Arc::from),
            geo: cfg.geo.clone(),
            shutdown: shutdown.clone(),
            keep_alive: KEEP_ALIVE,
            history: Arc::default(),
        };
        let app = router(state);
        let thread = std::thread::Builder::new()
            .name("hitstream-http".into())
            .spawn(move || {
                rt.block_on(async move {
                    let mut sd = shutdown;
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = sd.wait_for(|s| *s).await;
                        })
                        .await;
                });
            })
            .map_err(ServerError::Runtime)?;
        Ok(Server {
            addr,
            stop,
            thread: Some(thread),
            live,
        })
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
