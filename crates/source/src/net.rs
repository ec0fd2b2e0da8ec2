//! Listening sources: newline-delimited TCP (like a Flume netcat source), and the
//! machinery the syslog source shares with it.
//!
//! One thread accepts connections, one thread per connection reads and frames them, and
//! [`TcpSource::poll`] gathers their lines into batches. A bounded channel between them
//! pushes back on senders (TCP flow control) when the consumer is slow.
//!
//! **Hostile clients**: every connection holds a thread and a file descriptor, so their
//! number is capped ([`TcpConfig::max_connections`], default
//! [`DEFAULT_MAX_CONNECTIONS`]) and a connection that sends nothing for
//! [`TcpConfig::idle_timeout`] (default [`DEFAULT_IDLE_TIMEOUT`]) is closed. When the table
//! is full, a new connection is admitted by closing the connection that has been silent the
//! longest: a flood of idle connections then only evicts itself, and a real sender, which
//! keeps sending, gets through. What an evicted or idle-closed connection had sent is
//! delivered before it closes. When `accept` fails for lack of file descriptors (the
//! process's limit, shared with the pipeline's files), the longest-idle connection is
//! closed too, so that one fd comes free. The counters are in [`NetStats`].
//!
//! **Delivery**: lines taken from a socket cannot be read again, so a listening source alone
//! is at-most-once: what was received but not yet processed is lost if the process dies.
//! Spool it ([`crate::spool`]) to make it durable before it is processed.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::batch::{Batch, Limits, Origin, Splitter};
use crate::error::SourceError;
use crate::stream::LineLimits;
use crate::{Poll, Source};

/// Default of [`TcpConfig::max_connections`]: each connection costs a thread and a file
/// descriptor, and 256 stays well inside the usual 1,024 open-file limit, next to the
/// pipeline's own files.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// Default of [`TcpConfig::idle_timeout`]: senders that keep a connection (nginx, rsyslog,
/// a shipper) send far more often; one that sent nothing for a minute is closed.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Counters of a listening source.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct NetStats {
    /// Connections accepted.
    pub connections: u64,
    /// Connections open now.
    pub open: u64,
    /// Connections refused: the table was full and every connection in it was already
    /// being closed, or no thread could be started for it.
    pub refused: u64,
    /// Connections closed to admit a new one when `max_connections` were open (the one
    /// silent the longest), or to free a file descriptor when `accept` had none.
    pub evicted: u64,
    /// Connections closed after sending nothing for the idle timeout.
    pub idle_closed: u64,
    /// `accept` failures (most often: no file descriptor left).
    pub accept_errors: u64,
    /// Datagrams received (syslog over UDP).
    pub datagrams: u64,
    /// Datagrams the kernel dropped because the socket's receive buffer was full (syslog
    /// over UDP, which has no flow control: a burst, or a full spool that stopped reading).
    /// Read from `/proc/net/udp` on Linux; 0 elsewhere.
    pub udp_kernel_drops: u64,
    /// Lines or messages delivered.
    pub lines: u64,
    /// Lines cut at the maximum line length.
    pub truncated_lines: u64,
    /// Frames that could not be decoded (syslog), delivered in [`Batch::malformed`].
    pub malformed: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub connections: AtomicU64,
    pub refused: AtomicU64,
    pub evicted: AtomicU64,
    pub idle_closed: AtomicU64,
    pub accept_errors: AtomicU64,
    pub datagrams: AtomicU64,
    pub lines: AtomicU64,
    pub truncated_lines: AtomicU64,
    pub malformed: AtomicU64,
}

/// One open connection, as the acceptor sees it to pick one to evict.
#[derive(Debug)]
pub(crate) struct Conn {
    /// Milliseconds since the hub's start when bytes last came.
    last: AtomicU64,
    /// Set by the acceptor: the reader closes the connection at its next tick.
    close: AtomicBool,
}

/// What the listening threads share with the source.
#[derive(Debug)]
pub(crate) struct Hub {
    pub shutdown: AtomicBool,
    pub open: AtomicUsize,
    pub problems: Mutex<Vec<SourceError>>,
    pub counters: Counters,
    started: Instant,
    conns: Mutex<Vec<Arc<Conn>>>,
    /// The inode of the UDP socket (0: none), to find its drop count in `/proc/net/udp`.
    pub udp_inode: AtomicU64,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            shutdown: AtomicBool::new(false),
            open: AtomicUsize::new(0),
            problems: Mutex::new(Vec::new()),
            counters: Counters::default(),
            started: Instant::now(),
            conns: Mutex::new(Vec::new()),
            udp_inode: AtomicU64::new(0),
        }
    }
}

/// A shared view of a listening source's counters, readable while the source itself is
/// owned elsewhere (by a spool thread).
#[derive(Debug, Clone)]
pub struct NetStatsHandle(pub(crate) Arc<Hub>);

impl NetStatsHandle {
    /// The counters now.
    pub fn get(&self) -> NetStats {
        self.0.stats()
    }
}

impl Hub {
    pub fn problem(&self, e: SourceError) {
        if let Ok(mut p) = self.problems.lock() {
            if p.len() < 10_000 {
                p.push(e);
            }
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn register(&self) -> Arc<Conn> {
        let c = Arc::new(Conn {
            last: AtomicU64::new(self.now_ms()),
            close: AtomicBool::new(false),
        });
        if let Ok(mut t) = self.conns.lock() {
            t.push(c.clone());
        }
        c
    }

    fn unregister(&self, c: &Arc<Conn>) {
        if let Ok(mut t) = self.conns.lock() {
            if let Some(i) = t.iter().position(|x| Arc::ptr_eq(x, c)) {
                t.swap_remove(i);
            }
        }
    }

    /// Asks the connection silent the longest (and not already closing) to close. False
    /// when there is none.
    fn evict_longest_idle(&self) -> bool {
        let Ok(t) = self.conns.lock() else {
            return false;
        };
        let victim = t
            .iter()
            .filter(|c| !c.close.load(Ordering::Relaxed))
            .min_by_key(|c| c.last.load(Ordering::Relaxed));
        match victim {
            Some(v) => {
                v.close.store(true, Ordering::Relaxed);
                self.counters.evicted.fetch_add(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    pub fn stats(&self) -> NetStats {
        let c = &self.counters;
        NetStats {
            connections: c.connections.load(Ordering::Relaxed),
            open: self.open.load(Ordering::Relaxed) as u64,
            refused: c.refused.load(Ordering::Relaxed),
            evicted: c.evicted.load(Ordering::Relaxed),
            idle_closed: c.idle_closed.load(Ordering::Relaxed),
            accept_errors: c.accept_errors.load(Ordering::Relaxed),
            datagrams: c.datagrams.load(Ordering::Relaxed),
            udp_kernel_drops: udp_kernel_drops(self.udp_inode.load(Ordering::Relaxed)),
            lines: c.lines.load(Ordering::Relaxed),
            truncated_lines: c.truncated_lines.load(Ordering::Relaxed),
            malformed: c.malformed.load(Ordering::Relaxed),
        }
    }

    pub fn take_problems(&self) -> Vec<SourceError> {
        self.problems
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }
}

/// The kernel's count of datagrams dropped on the UDP socket with this inode: the last
/// column of its line in `/proc/net/udp` or `/proc/net/udp6`. 0 when unknown.
fn udp_kernel_drops(inode: u64) -> u64 {
    if inode == 0 {
        return 0;
    }
    let want = inode.to_string();
    let mut drops = 0;
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.get(9) == Some(&want.as_str()) {
                drops += f.last().and_then(|d| d.parse::<u64>().ok()).unwrap_or(0);
            }
        }
    }
    drops
}

/// The inode of a socket, from its `/proc/self/fd` link (`socket:[12345]`); 0 when unknown.
#[cfg(target_os = "linux")]
pub(crate) fn socket_inode(fd: &impl std::os::fd::AsRawFd) -> u64 {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .ok()
        .and_then(|l| {
            let l = l.to_string_lossy().into_owned();
            l.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .unwrap_or(0)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn socket_inode<T>(_: &T) -> u64 {
    0
}

/// Turns one connection's bytes into lines or messages.
pub(crate) trait Framer: Send + 'static {
    /// Takes bytes received.
    fn data(&mut self, d: &[u8]);
    /// Moves complete lines or messages into `out`, up to the batch limits.
    fn next(&mut self, out: &mut Batch);
    /// The connection closed: moves what is left into `out` (called after `next` has
    /// nothing more).
    fn eof(&mut self, out: &mut Batch);
}

/// Newline framing.
pub(crate) struct LineFramer {
    split: Splitter,
    limits: Limits,
}

impl Framer for LineFramer {
    fn data(&mut self, d: &[u8]) {
        self.split.push(d);
    }

    fn next(&mut self, out: &mut Batch) {
        self.split.take_lines(out, &self.limits);
    }

    fn eof(&mut self, out: &mut Batch) {
        self.split.take_rest(out, &self.limits);
    }
}

/// Feeds `d` to the framer and sends every batch it makes. At the end of the connection
/// (`eof`), also what is left. False when the source is gone.
fn pump<F: Framer>(
    framer: &mut F,
    d: &[u8],
    eof: bool,
    out: &mut Batch,
    tx: &SyncSender<Batch>,
    hub: &Hub,
) -> bool {
    framer.data(d);
    loop {
        framer.next(out);
        if out.is_void() {
            break;
        }
        if !flush(tx, out, hub) {
            return false;
        }
    }
    if eof {
        framer.eof(out);
        return flush(tx, out, hub);
    }
    true
}

pub(crate) fn bind_tcp(addr: &str) -> Result<TcpListener, SourceError> {
    let l = TcpListener::bind(addr).map_err(|source| SourceError::Bind {
        addr: addr.to_string(),
        source,
    })?;
    l.set_nonblocking(true)
        .map_err(|source| SourceError::Bind {
            addr: addr.to_string(),
            source,
        })?;
    Ok(l)
}

const READ_TICK: Duration = Duration::from_millis(100);

/// Sends `out` when it has anything, replacing it with an empty batch. False when the
/// source is gone.
pub(crate) fn flush(tx: &SyncSender<Batch>, out: &mut Batch, hub: &Hub) -> bool {
    if out.is_void() {
        return true;
    }
    let fresh = Batch::new(out.origin().clone());
    let b = std::mem::replace(out, fresh);
    hub.counters
        .truncated_lines
        .fetch_add(b.truncated().len() as u64, Ordering::Relaxed);
    hub.counters
        .malformed
        .fetch_add(b.malformed().len() as u64, Ordering::Relaxed);
    // Not a blocking send: while the consumer holds back (a full spool) the source may be
    // dropped, and its drop waits for this thread while still holding the receiver.
    let mut b = b;
    loop {
        match tx.try_send(b) {
            Ok(()) => return true,
            Err(TrySendError::Disconnected(_)) => return false,
            Err(TrySendError::Full(back)) => {
                if hub.shutdown.load(Ordering::Relaxed) {
                    return false;
                }
                b = back;
                thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

/// Limits on the TCP connections of a listening source (see the
/// [module documentation](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Most connections open at once (default [`DEFAULT_MAX_CONNECTIONS`]); at the cap the
    /// one silent the longest is closed to admit a new one.
    pub max_connections: usize,
    /// A connection that sends nothing for this long is closed (default
    /// [`DEFAULT_IDLE_TIMEOUT`]).
    pub idle_timeout: Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// Stack of a connection thread: it only reads into a heap buffer and frames lines, and
/// a small stack keeps `max_connections` threads cheap.
const CONN_STACK: usize = 256 * 1024;

/// How often an `accept` failure is reported (they are all counted).
const ACCEPT_REPORT_EVERY: Duration = Duration::from_secs(10);

/// Accepts connections on `listener` and reads each with a framer from `make`.
pub(crate) fn spawn_acceptor<F, M>(
    listener: TcpListener,
    hub: Arc<Hub>,
    tx: SyncSender<Batch>,
    origin: Origin,
    limits: ConnLimits,
    make: M,
) -> io::Result<JoinHandle<()>>
where
    F: Framer,
    M: Fn(SocketAddr) -> F + Send + 'static,
{
    let local = listener.local_addr()?;
    thread::Builder::new()
        .name(format!("hitstream-accept-{local}"))
        .spawn(move || {
            let max = limits.max_connections.max(1);
            let mut last_report: Option<Instant> = None;
            while !hub.shutdown.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, peer)) => {
                        // A full table admits the newcomer by closing the connection silent
                        // the longest; the evicted one closes within a read tick, so the
                        // fds held stay under twice the cap even in a burst.
                        if hub.open.load(Ordering::Relaxed) >= max && !hub.evict_longest_idle() {
                            hub.counters.refused.fetch_add(1, Ordering::Relaxed);
                            drop(stream);
                            continue;
                        }
                        hub.counters.connections.fetch_add(1, Ordering::Relaxed);
                        hub.open.fetch_add(1, Ordering::Relaxed);
                        let framer = make(peer);
                        let conn = hub.register();
                        let (hub2, tx2, origin2) = (hub.clone(), tx.clone(), origin.clone());
                        let conn2 = conn.clone();
                        let idle = limits.idle_timeout;
                        let spawned = thread::Builder::new()
                            .name(format!("hitstream-conn-{peer}"))
                            .stack_size(CONN_STACK)
                            .spawn(move || {
                                let at = Where { local, peer };
                                read_connection(
                                    stream, at, framer, &hub2, &tx2, origin2, &conn2, idle,
                                );
                                hub2.unregister(&conn2);
                                hub2.open.fetch_sub(1, Ordering::Relaxed);
                            });
                        if let Err(source) = spawned {
                            hub.unregister(&conn);
                            hub.open.fetch_sub(1, Ordering::Relaxed);
                            hub.counters.refused.fetch_add(1, Ordering::Relaxed);
                            hub.problem(SourceError::Network {
                                what: "spawn reader",
                                local,
                                peer: Some(peer),
                                source,
                            });
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(20));
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(source) => {
                        hub.counters.accept_errors.fetch_add(1, Ordering::Relaxed);
                        // EMFILE/ENFILE: the connection waits in the backlog; closing the
                        // longest-idle connection frees the fd it needs.
                        if matches!(source.raw_os_error(), Some(23 | 24)) {
                            hub.evict_longest_idle();
                        }
                        if last_report.is_none_or(|t| t.elapsed() >= ACCEPT_REPORT_EVERY) {
                            last_report = Some(Instant::now());
                            hub.problem(SourceError::Network {
                                what: "accept",
                                local,
                                peer: None,
                                source,
                            });
                        }
                        thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        })
}

/// The two ends of a connection, for messages.
struct Where {
    local: SocketAddr,
    peer: SocketAddr,
}

#[allow(clippy::too_many_arguments)]
fn read_connection<F: Framer>(
    mut stream: TcpStream,
    at: Where,
    mut framer: F,
    hub: &Hub,
    tx: &SyncSender<Batch>,
    origin: Origin,
    conn: &Conn,
    idle_timeout: Duration,
) {
    let Where { local, peer } = at;
    let setup = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(READ_TICK)));
    if let Err(source) = setup {
        hub.problem(SourceError::Network {
            what: "configure",
            local,
            peer: Some(peer),
            source,
        });
        return;
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Batch::new(origin);
    let mut last = Instant::now();
    loop {
        if hub.shutdown.load(Ordering::Relaxed) {
            return;
        }
        // Closed by us (evicted, or silent too long): what it sent is delivered first.
        let evicted = conn.close.load(Ordering::Relaxed);
        if evicted || last.elapsed() >= idle_timeout {
            if !evicted {
                hub.counters.idle_closed.fetch_add(1, Ordering::Relaxed);
            }
            pump(&mut framer, &[], true, &mut out, tx, hub);
            return;
        }
        match stream.read(&mut buf) {
            Ok(0) => {
                pump(&mut framer, &[], true, &mut out, tx, hub);
                return;
            }
            Ok(n) => {
                last = Instant::now();
                conn.last.store(hub.now_ms(), Ordering::Relaxed);
                if !pump(&mut framer, &buf[..n], false, &mut out, tx, hub) {
                    return;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(source) => {
                // A reset connection: deliver what is complete, count the error.
                pump(&mut framer, &[], true, &mut out, tx, hub);
                hub.problem(SourceError::Network {
                    what: "read",
                    local,
                    peer: Some(peer),
                    source,
                });
                return;
            }
        }
    }
}

/// Gathers the chunks the threads send into batches under the limits.
#[derive(Debug)]
pub(crate) struct Collector {
    rx: Receiver<Batch>,
    carry: Option<Batch>,
    limits: Limits,
}

impl Collector {
    pub fn new(rx: Receiver<Batch>, limits: Limits) -> Collector {
        Collector {
            rx,
            carry: None,
            limits,
        }
    }

    pub fn poll(&mut self, timeout: Duration, hub: &Hub) -> Poll {
        let deadline = Instant::now() + timeout;
        let mut out: Option<Batch> = None;
        loop {
            let next = if let Some(c) = self.carry.take() {
                c
            } else if out.is_some() {
                match self.rx.try_recv() {
                    Ok(b) => b,
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            } else {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.rx.recv_timeout(left) {
                    Ok(b) => b,
                    Err(RecvTimeoutError::Timeout) => return Poll::Idle,
                    Err(RecvTimeoutError::Disconnected) => return Poll::End,
                }
            };
            let mut next = next;
            match out.as_mut() {
                None => out = Some(next),
                Some(o) => {
                    let fits = o.origin() == next.origin()
                        && o.len() + next.len() <= self.limits.max_batch_lines
                        && o.bytes() + next.bytes() <= self.limits.max_batch_bytes;
                    if fits {
                        o.append(&mut next);
                    } else {
                        self.carry = Some(next);
                        break;
                    }
                }
            }
        }
        match out {
            Some(b) => {
                hub.counters
                    .lines
                    .fetch_add(b.len() as u64, Ordering::Relaxed);
                Poll::Batch(b)
            }
            None => Poll::Idle,
        }
    }
}

/// Configuration of a [`TcpSource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConfig {
    /// Address to listen on (`127.0.0.1:5140`; port 0 picks a free port).
    pub addr: String,
    /// Batch and line limits.
    pub limits: LineLimits,
    /// Most connections open at once (default [`DEFAULT_MAX_CONNECTIONS`]). At the cap, a
    /// new connection is admitted by closing the one silent the longest (counted in
    /// [`NetStats::evicted`]).
    pub max_connections: usize,
    /// A connection that sends nothing for this long is closed (default
    /// [`DEFAULT_IDLE_TIMEOUT`]; counted in [`NetStats::idle_closed`]).
    pub idle_timeout: Duration,
    /// Chunks buffered between the connection threads and `poll` before senders are
    /// pushed back.
    pub channel_capacity: usize,
}

impl TcpConfig {
    /// Defaults for an address.
    pub fn new(addr: impl Into<String>) -> TcpConfig {
        TcpConfig {
            addr: addr.into(),
            limits: LineLimits::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            channel_capacity: 256,
        }
    }
}

/// Newline-delimited lines from any number of TCP connections; see the
/// [module documentation](self). A connection's last line without `\n` is delivered when it
/// closes.
pub struct TcpSource {
    local: SocketAddr,
    hub: Arc<Hub>,
    collector: Collector,
    acceptor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for TcpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpSource")
            .field("local", &self.local)
            .finish()
    }
}

impl TcpSource {
    /// Listens on `cfg.addr`.
    pub fn bind(cfg: TcpConfig) -> Result<TcpSource, SourceError> {
        let listener = bind_tcp(&cfg.addr)?;
        let bind_err = |source| SourceError::Bind {
            addr: cfg.addr.clone(),
            source,
        };
        let local = listener.local_addr().map_err(bind_err)?;
        let hub = Arc::new(Hub::default());
        let (tx, rx) = mpsc::sync_channel(cfg.channel_capacity.max(1));
        let limits = cfg.limits.limits();
        let acceptor = spawn_acceptor(
            listener,
            hub.clone(),
            tx,
            Origin::Tcp { local },
            ConnLimits {
                max_connections: cfg.max_connections,
                idle_timeout: cfg.idle_timeout,
            },
            move |_peer| LineFramer {
                split: Splitter::new(),
                limits,
            },
        )
        .map_err(bind_err)?;
        Ok(TcpSource {
            local,
            hub,
            collector: Collector::new(rx, limits),
            acceptor: Some(acceptor),
        })
    }

    /// The address listened on (with the port picked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Counters.
    pub fn stats(&self) -> NetStats {
        self.hub.stats()
    }

    /// A handle to read the counters after the source moved to another thread.
    pub fn stats_handle(&self) -> NetStatsHandle {
        NetStatsHandle(self.hub.clone())
    }

    /// Accept, read and receive errors since the last call.
    pub fn take_problems(&mut self) -> Vec<SourceError> {
        self.hub.take_problems()
    }

    /// Waits up to `timeout` for lines.
    pub fn poll(&mut self, timeout: Duration) -> Poll {
        self.collector.poll(timeout, &self.hub)
    }
}

impl Drop for TcpSource {
    fn drop(&mut self) {
        self.hub.shutdown.store(true, Ordering::Relaxed);
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
    }
}

impl Source for TcpSource {
    fn poll(&mut self, timeout: Duration) -> Poll {
        TcpSource::poll(self, timeout)
    }

    fn take_problems(&mut self) -> Vec<SourceError> {
        TcpSource::take_problems(self)
    }
}
