//! The server's own accept loop: a cap on open connections (what is over it is closed at
//! once and counted), a deadline for request headers (half-sent requests and idle
//! keep-alive connections), a deadline for writes that make no progress (a client that does
//! not read), and accept errors that never end the server. `axum::serve` has none of these;
//! each connection here is served by hyper's HTTP/1 server with the axum router as its
//! service.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::{Limits, Stats};

/// What a client over the connection cap reads before the server closes its connection.
const BUSY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
content-length: 58\r\nconnection: close\r\nretry-after: 5\r\n\r\n\
too many open connections to this server: try again later\n";

/// The most a connection buffers, each way, and the largest request head (line and headers;
/// a larger one is answered 431). Hyper's own default (about 400 KiB, and no head limit of
/// its own) times the connection cap would let clients hold 100 MiB.
pub const MAX_BUFFER: usize = 64 * 1024;

pub use hitstream_source::open_file_limit;

/// The connection cap in force: the one asked for, but never more than half the open-file
/// limit, so the pipeline (followed files, checkpoint, lake, network sources) always keeps
/// the other half whatever clients do.
pub fn effective_max_connections(asked: usize, open_file_limit: Option<u64>) -> usize {
    let half = open_file_limit.map_or(usize::MAX, |l| usize::try_from(l / 2).unwrap_or(usize::MAX));
    asked.min(half).max(1)
}

/// Accepts until `shutdown` fires, then waits (up to `drain`) for open connections to end.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: Limits,
    max_connections: usize,
    stats: Arc<Stats>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    drain: Duration,
) {
    let slots = Arc::new(Semaphore::new(max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_BUFFER)
        .max_header_size(MAX_BUFFER)
        .keep_alive(true);
    let http = Arc::new(http);
    let mut backoff = Duration::from_millis(10);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => break,
            r = listener.accept() => r,
        };
        let sock = match accepted {
            Ok((sock, _)) => {
                backoff = Duration::from_millis(10);
                sock
            }
            Err(e) => {
                stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                // A connection that went away before it was accepted costs nothing; out of
                // file descriptors (or memory), the backlog waits while open connections end.
                if !matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::Interrupted
                ) {
                    tokio::select! {
                        _ = shutdown.wait_for(|s| *s) => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            stats.connections_refused.fetch_add(1, Ordering::Relaxed);
            // Without waiting: a client that does not read this still has its connection
            // closed now.
            let _ = sock.try_write(BUSY);
            drop(sock);
            continue;
        };
        let _ = sock.set_nodelay(true);
        stats.connections_open.fetch_add(1, Ordering::Relaxed);
        stats.connections_total.fetch_add(1, Ordering::Relaxed);
        let http = http.clone();
        let app = app.clone();
        let stats = stats.clone();
        let mut sd = shutdown.clone();
        let write_timeout = limits.write_timeout;
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(Stalled::new(sock, write_timeout));
            let svc = hyper_util::service::TowerToHyperService::new(app);
            let conn = http.serve_connection(io, svc);
            tokio::pin!(conn);
            let done = tokio::select! {
                r = conn.as_mut() => Some(r),
                _ = sd.wait_for(|s| *s) => None,
            };
            let done = match done {
                Some(r) => r,
                None => {
                    // Requests in flight finish, event streams send their `end`.
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = done {
                if e.is_timeout() || is_stall(&e) {
                    stats.connections_timed_out.fetch_add(1, Ordering::Relaxed);
                }
            }
            stats.connections_open.fetch_sub(1, Ordering::Relaxed);
            drop(slot);
        });
    }
    drop(listener);
    // Every slot back means every connection ended.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(drain, slots.acquire_many(all)).await;
}

fn is_stall(e: &hyper::Error) -> bool {
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return io.kind() == io::ErrorKind::TimedOut;
        }
        src = s.source();
    }
    false
}

/// A socket whose writes fail once they have made no progress for `limit`: hyper holds at
/// most its write buffer for a connection, and then waits on the socket; a client that
/// stopped reading would hold that buffer, the socket and a connection slot for ever.
pub(crate) struct Stalled<T> {
    io: T,
    limit: Duration,
    since: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> Stalled<T> {
    pub(crate) fn new(io: T, limit: Duration) -> Self {
        Stalled {
            io,
            limit,
            since: None,
        }
    }

    fn check<R>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        match r {
            Poll::Pending => {
                let limit = self.limit;
                let timer = self
                    .since
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client read nothing within the write timeout",
                    )));
                }
                Poll::Pending
            }
            ready => {
                self.since = None;
                ready
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Stalled<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Stalled<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.check(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.check(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        self.check(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_shutdown(cx);
        self.check(cx, r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_half_the_open_files_to_the_pipeline() {
        assert_eq!(effective_max_connections(256, Some(1024)), 256);
        assert_eq!(effective_max_connections(4096, Some(1024)), 512);
        assert_eq!(effective_max_connections(256, Some(100)), 50);
        assert_eq!(effective_max_connections(256, None), 256);
        assert_eq!(effective_max_connections(256, Some(1)), 1);
    }

    #[test]
    fn the_busy_answer_is_well_formed() {
        let text = std::str::from_utf8(BUSY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.contains(&format!("content-length: {}\r\n", body.len())),
            "{text}"
        );
    }
}
