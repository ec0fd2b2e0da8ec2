//! Listening sources: newline-delimited TCP (like a Flume netcat source), and the
//! machinery the syslog source shares with it.
//!
//! One thread accepts connections, one thread per connection reads and frames them, and
//! [`TcpSource::poll`] gathers their lines into batches. A bounded channel between them
//! pushes back on senders (TCP flow control) when the consumer is slow.
//!
//! **Delivery**: lines taken from a socket cannot be read again, so a listening source alone
//! is at-most-once: what was received but not yet processed is lost if the process dies.
//! Spool it ([`crate::spool`]) to make it durable before it is processed.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::batch::{Batch, Limits, Origin, Splitter};
use crate::error::SourceError;
use crate::stream::LineLimits;
use crate::{Poll, Source};

/// Counters of a listening source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Connections accepted.
    pub connections: u64,
    /// Connections refused because `max_connections` were open.
    pub refused: u64,
    /// Datagrams received (syslog over UDP).
    pub datagrams: u64,
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
    pub datagrams: AtomicU64,
    pub lines: AtomicU64,
    pub truncated_lines: AtomicU64,
    pub malformed: AtomicU64,
}

/// What the listening threads share with the source.
#[derive(Debug, Default)]
pub(crate) struct Hub {
    pub shutdown: AtomicBool,
    pub open: AtomicUsize,
    pub problems: Mutex<Vec<SourceError>>,
    pub counters: Counters,
}

impl Hub {
    pub fn problem(&self, e: SourceError) {
        if let Ok(mut p) = self.problems.lock() {
            if p.len() < 10_000 {
                p.push(e);
            }
        }
    }

    pub fn stats(&self) -> NetStats {
        let c = &self.counters;
        NetStats {
            connections: c.connections.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            datagrams: c.datagrams.load(Ordering::Relaxed),
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
    tx.send(b).is_ok()
}

/// Accepts connections on `listener` and reads each with a framer from `make`.
pub(crate) fn spawn_acceptor<F, M>(
    listener: TcpListener,
    hub: Arc<Hub>,
    tx: SyncSender<Batch>,
    origin: Origin,
    max_connections: usize,
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
            while !hub.shutdown.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, peer)) => {
                        if hub.open.load(Ordering::Relaxed) >= max_connections {
                            hub.counters.refused.fetch_add(1, Ordering::Relaxed);
                            drop(stream);
                            continue;
                        }
                        hub.counters.connections.fetch_add(1, Ordering::Relaxed);
                        hub.open.fetch_add(1, Ordering::Relaxed);
                        let framer = make(peer);
                        let (hub2, tx2, origin2) = (hub.clone(), tx.clone(), origin.clone());
                        let spawned = thread::Builder::new()
                            .name(format!("hitstream-conn-{peer}"))
                            .spawn(move || {
                                read_connection(stream, local, peer, framer, &hub2, &tx2, origin2);
                                hub2.open.fetch_sub(1, Ordering::Relaxed);
                            });
                        if let Err(source) = spawned {
                            hub.open.fetch_sub(1, Ordering::Relaxed);
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
                        hub.problem(SourceError::Network {
                            what: "accept",
                            local,
                            peer: None,
                            source,
                        });
                        thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        })
}

fn read_connection<F: Framer>(
    mut stream: TcpStream,
    local: SocketAddr,
    peer: SocketAddr,
    mut framer: F,
    hub: &Hub,
    tx: &SyncSender<Batch>,
    origin: Origin,
) {
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
    loop {
        if hub.shutdown.load(Ordering::Relaxed) {
            return;
        }
        match stream.read(&mut buf) {
            Ok(0) => {
                pump(&mut framer, &[], true, &mut out, tx, hub);
                return;
            }
            Ok(n) => {
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
    /// Most connections open at once; more are refused (closed at once) and counted.
    pub max_connections: usize,
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
            max_connections: 1024,
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
            cfg.max_connections,
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
