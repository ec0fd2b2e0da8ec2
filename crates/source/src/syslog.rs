//! Syslog over UDP and TCP: RFC 3164 (BSD, as nginx sends with
//! `access_log syslog:server=127.0.0.1:5514,tag=nginx combined;`) and RFC 5424, with
//! octet-counting and newline framing on TCP (RFC 6587).
//!
//! Each message's MSG part (the access-log line) is delivered as a line. Frames that are not
//! syslog (no `<PRI>`, a bad timestamp, a broken octet count, ...) are not dropped: they are
//! counted and delivered in [`Batch::malformed`] with a [`SyslogReject`] reason and the
//! raw bytes.
//!
//! Like [`TcpSource`](crate::TcpSource), syslog alone is at-most-once (UDP loses datagrams
//! by design); spool it ([`crate::spool`]) to keep what was received across a restart.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, SyncSender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::batch::{Batch, Limits, Origin};
use crate::error::SourceError;
use crate::net::{
    bind_tcp, flush, spawn_acceptor, Collector, ConnLimits, Framer, Hub, NetStats, NetStatsHandle,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
};
use crate::stream::LineLimits;
use crate::{Poll, Source};

/// Which syslog protocol a message was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogProtocol {
    /// BSD syslog: `<PRI>Mmm dd hh:mm:ss HOST TAG: MSG`.
    Rfc3164,
    /// `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`.
    Rfc5424,
}

/// A decoded syslog message; the fields borrow from the frame. Absent (`-`) fields are
/// `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogMessage<'a> {
    /// The protocol.
    pub protocol: SyslogProtocol,
    /// Facility (PRI / 8): 23 is local7, nginx's default.
    pub facility: u8,
    /// Severity (PRI % 8): 6 is info.
    pub severity: u8,
    /// The timestamp as written.
    pub timestamp: Option<&'a [u8]>,
    /// Host name.
    pub hostname: Option<&'a [u8]>,
    /// RFC 5424 APP-NAME, or the RFC 3164 tag (`nginx`).
    pub app_name: Option<&'a [u8]>,
    /// RFC 5424 PROCID, or the pid in an RFC 3164 tag (`nginx[123]:`).
    pub proc_id: Option<&'a [u8]>,
    /// RFC 5424 MSGID.
    pub msg_id: Option<&'a [u8]>,
    /// RFC 5424 structured data, as written.
    pub structured_data: Option<&'a [u8]>,
    /// The message: the access-log line.
    pub message: &'a [u8],
}

/// Why a frame is not a syslog message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SyslogReject {
    /// The frame is empty.
    #[error("empty frame")]
    Empty,
    /// The frame does not start with `<`.
    #[error("no <PRI> at the start")]
    MissingPri,
    /// `<PRI>` is not a number from 0 to 191 closed by `>`.
    #[error("PRI is not a number from 0 to 191")]
    InvalidPri,
    /// The timestamp is not RFC 3164 (`Mmm dd hh:mm:ss`) or RFC 3339.
    #[error("bad timestamp")]
    BadTimestamp,
    /// An RFC 5424 header field is missing.
    #[error("missing header field {0}")]
    MissingField(&'static str),
    /// RFC 5424 structured data is not well formed.
    #[error("bad structured data")]
    BadStructuredData,
    /// There is no message after the header.
    #[error("no message after the header")]
    EmptyMessage,
    /// The frame is longer than the limit; its start is kept.
    #[error("frame longer than the limit")]
    FrameTooLong,
    /// The connection closed inside an octet-counted frame.
    #[error("connection closed inside an octet-counted frame")]
    TruncatedFrame,
}

impl SyslogReject {
    /// A short stable code for counting.
    pub fn code(&self) -> &'static str {
        match self {
            SyslogReject::Empty => "empty",
            SyslogReject::MissingPri => "missing_pri",
            SyslogReject::InvalidPri => "invalid_pri",
            SyslogReject::BadTimestamp => "bad_timestamp",
            SyslogReject::MissingField(_) => "missing_field",
            SyslogReject::BadStructuredData => "bad_structured_data",
            SyslogReject::EmptyMessage => "empty_message",
            SyslogReject::FrameTooLong => "frame_too_long",
            SyslogReject::TruncatedFrame => "truncated_frame",
        }
    }
}

/// A frame that could not be decoded, kept with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// The sender.
    pub peer: Option<SocketAddr>,
    /// Why.
    pub reason: SyslogReject,
    /// The frame's bytes (cut at the maximum line length).
    pub raw: Vec<u8>,
}

fn trim_end(mut f: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r' | b'\0'] = f {
        f = rest;
    }
    f
}

/// Splits off the token up to the next space; returns it and what follows the space.
fn token(s: &[u8]) -> Option<(&[u8], &[u8])> {
    match memchr::memchr(b' ', s) {
        Some(0) => None,
        Some(i) => Some((&s[..i], &s[i + 1..])),
        None if s.is_empty() => None,
        None => Some((s, &[])),
    }
}

fn nil(t: &[u8]) -> Option<&[u8]> {
    (t != b"-").then_some(t)
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

fn num2(t: &[u8]) -> Option<u32> {
    match t {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
            Some(u32::from(a - b'0') * 10 + u32::from(b - b'0'))
        }
        _ => None,
    }
}

/// `hh:mm:ss` with hours, minutes and seconds in range (a leap second allowed).
fn is_time(t: &[u8]) -> bool {
    t.len() == 8
        && t[2] == b':'
        && t[5] == b':'
        && num2(&t[0..2]).is_some_and(|h| h < 24)
        && num2(&t[3..5]).is_some_and(|m| m < 60)
        && num2(&t[6..8]).is_some_and(|s| s <= 60)
}

/// An RFC 3339 timestamp: `YYYY-MM-DDThh:mm:ss` then anything without spaces.
fn is_rfc3339(t: &[u8]) -> bool {
    t.len() >= 19
        && t[4] == b'-'
        && t[7] == b'-'
        && (t[10] == b'T' || t[10] == b't')
        && t[..4].iter().all(u8::is_ascii_digit)
        && num2(&t[5..7]).is_some_and(|m| (1..=12).contains(&m))
        && num2(&t[8..10]).is_some_and(|d| (1..=31).contains(&d))
        && is_time(&t[11..19])
}

/// The RFC 3164 timestamp at the start of `s`: its bytes and the rest after the space.
fn bsd_timestamp(s: &[u8]) -> Option<(&[u8], &[u8])> {
    if s.len() >= 3 && MONTHS.iter().any(|m| &s[..3] == *m) {
        // "Mmm dd hh:mm:ss" with the day space-padded ("Nov  1"), or unpadded ("Nov 1").
        let mut i = 3;
        if s.get(i) != Some(&b' ') {
            return None;
        }
        i += 1;
        if s.get(i) == Some(&b' ') {
            i += 1;
        }
        let d0 = i;
        while s.get(i).is_some_and(u8::is_ascii_digit) && i - d0 < 2 {
            i += 1;
        }
        let day = s[d0..i]
            .iter()
            .fold(0u32, |a, &d| a * 10 + u32::from(d - b'0'));
        if i == d0 || !(1..=31).contains(&day) || s.get(i) != Some(&b' ') {
            return None;
        }
        let t = s.get(i + 1..i + 9)?;
        if !is_time(t) {
            return None;
        }
        let end = i + 9;
        match s.get(end) {
            Some(b' ') => Some((&s[..end], &s[end + 1..])),
            None => Some((&s[..end], &[])),
            _ => None,
        }
    } else {
        let (t, rest) = token(s)?;
        is_rfc3339(t).then_some((t, rest))
    }
}

/// An RFC 3164 tag, its pid, and the message after it.
type Tagged<'a> = (&'a [u8], Option<&'a [u8]>, &'a [u8]);

/// Splits an RFC 3164 tag (`nginx:` or `nginx[123]:`) off the start of `s`.
fn bsd_tag(s: &[u8]) -> Option<Tagged<'_>> {
    let end = s.iter().position(|&b| b == b':' || b == b' ')?;
    if s[end] != b':' || end == 0 || end > 48 {
        return None;
    }
    let word = &s[..end];
    let rest = &s[end + 1..];
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    match memchr::memchr(b'[', word) {
        Some(open) if word.last() == Some(&b']') && open > 0 => {
            Some((&word[..open], Some(&word[open + 1..word.len() - 1]), rest))
        }
        Some(_) => None,
        None => Some((word, None, rest)),
    }
}

/// Length of the RFC 5424 structured data at the start of `s` (one or more `[...]`).
fn sd_len(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    while s.get(i) == Some(&b'[') {
        i += 1;
        let mut quoted = false;
        loop {
            match *s.get(i)? {
                b'\\' if quoted => i += 1,
                b'"' => quoted = !quoted,
                b']' if !quoted => break,
                _ => {}
            }
            i += 1;
        }
        i += 1;
    }
    (i > 0).then_some(i)
}

/// Decodes one syslog frame (without its framing).
pub fn parse(frame: &[u8]) -> Result<SyslogMessage<'_>, SyslogReject> {
    let f = trim_end(frame);
    if f.is_empty() {
        return Err(SyslogReject::Empty);
    }
    if f[0] != b'<' {
        return Err(SyslogReject::MissingPri);
    }
    let close = f
        .iter()
        .take(5)
        .position(|&b| b == b'>')
        .ok_or(SyslogReject::InvalidPri)?;
    let digits = &f[1..close];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(SyslogReject::InvalidPri);
    }
    let pri: u32 = digits.iter().fold(0, |a, &d| a * 10 + u32::from(d - b'0'));
    if pri > 191 {
        return Err(SyslogReject::InvalidPri);
    }
    let (facility, severity) = ((pri / 8) as u8, (pri % 8) as u8);
    let rest = &f[close + 1..];
    let vlen = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if (1..=2).contains(&vlen) && rest.get(vlen) == Some(&b' ') && rest[0] != b'0' {
        parse_5424(facility, severity, &rest[vlen + 1..])
    } else {
        parse_3164(facility, severity, rest)
    }
}

fn parse_5424(facility: u8, severity: u8, s: &[u8]) -> Result<SyslogMessage<'_>, SyslogReject> {
    let (ts, s) = token(s).ok_or(SyslogReject::MissingField("TIMESTAMP"))?;
    if ts != b"-" && !is_rfc3339(ts) {
        return Err(SyslogReject::BadTimestamp);
    }
    let (host, s) = token(s).ok_or(SyslogReject::MissingField("HOSTNAME"))?;
    let (app, s) = token(s).ok_or(SyslogReject::MissingField("APP-NAME"))?;
    let (procid, s) = token(s).ok_or(SyslogReject::MissingField("PROCID"))?;
    let (msgid, s) = token(s).ok_or(SyslogReject::MissingField("MSGID"))?;
    let (sd, s) = if let Some(r) = s.strip_prefix(b"-") {
        (None, r)
    } else if s.first() == Some(&b'[') {
        let n = sd_len(s).ok_or(SyslogReject::BadStructuredData)?;
        (Some(&s[..n]), &s[n..])
    } else if s.is_empty() {
        return Err(SyslogReject::MissingField("STRUCTURED-DATA"));
    } else {
        return Err(SyslogReject::BadStructuredData);
    };
    let msg = match s {
        [] => &[][..],
        [b' ', m @ ..] => m,
        _ => return Err(SyslogReject::BadStructuredData),
    };
    let msg = msg.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(msg);
    if msg.is_empty() {
        return Err(SyslogReject::EmptyMessage);
    }
    Ok(SyslogMessage {
        protocol: SyslogProtocol::Rfc5424,
        facility,
        severity,
        timestamp: nil(ts),
        hostname: nil(host),
        app_name: nil(app),
        proc_id: nil(procid),
        msg_id: nil(msgid),
        structured_data: sd,
        message: msg,
    })
}

fn parse_3164(facility: u8, severity: u8, s: &[u8]) -> Result<SyslogMessage<'_>, SyslogReject> {
    let (ts, s) = bsd_timestamp(s).ok_or(SyslogReject::BadTimestamp)?;
    // HOST TAG: MSG, or TAG: MSG without a host.
    let (hostname, s) = match bsd_tag(s) {
        Some(_) => (None, s),
        None => match token(s) {
            Some((h, r)) => (Some(h), r),
            None => return Err(SyslogReject::EmptyMessage),
        },
    };
    let (app, pid, msg) = match bsd_tag(s) {
        Some((t, p, m)) => (Some(t), p, m),
        None => (None, None, s),
    };
    if msg.is_empty() {
        return Err(SyslogReject::EmptyMessage);
    }
    Ok(SyslogMessage {
        protocol: SyslogProtocol::Rfc3164,
        facility,
        severity,
        timestamp: Some(ts),
        hostname,
        app_name: app,
        proc_id: pid,
        msg_id: None,
        structured_data: None,
        message: msg,
    })
}

/// The next frame in a TCP stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A frame at `start..end`; `consumed` bytes go.
    Msg {
        start: usize,
        end: usize,
        consumed: usize,
    },
    /// An octet-counted frame longer than the limit: keep `start..end` (its start) and skip
    /// `skip` bytes in all (possibly more than buffered).
    TooLong { start: usize, end: usize, skip: u64 },
    /// A newline-framed frame longer than the limit with no `\n` yet: keep the start and
    /// skip to the next `\n`.
    TooLongLine,
    /// The stream ended inside an octet-counted frame: what came of it.
    Truncated { start: usize, end: usize },
    /// Need more bytes.
    More,
}

/// Finds the next frame in `b` (RFC 6587: octet counting when it starts with a digit,
/// otherwise a line). `eof` when no more bytes will come.
pub(crate) fn next_frame(b: &[u8], max: usize, eof: bool) -> Frame {
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && digits <= 10 && b.get(digits) == Some(&b' ') {
        let len: u64 = b[..digits]
            .iter()
            .fold(0, |a, &d| a * 10 + u64::from(d - b'0'));
        let start = digits + 1;
        if len > max as u64 {
            let end = (start + max).min(b.len());
            return Frame::TooLong {
                start,
                end,
                skip: start as u64 + len,
            };
        }
        let end = start + len as usize;
        if b.len() >= end {
            return Frame::Msg {
                start,
                end,
                consumed: end,
            };
        }
        if eof {
            return Frame::Truncated {
                start,
                end: b.len(),
            };
        }
        return Frame::More;
    }
    if digits > 0 && b.len() == digits && !eof {
        // The octet count may still be arriving.
        return Frame::More;
    }
    match memchr::memchr(b'\n', b) {
        Some(nl) => Frame::Msg {
            start: 0,
            end: nl,
            consumed: nl + 1,
        },
        None if b.len() > max => Frame::TooLongLine,
        None if eof && !b.is_empty() => Frame::Msg {
            start: 0,
            end: b.len(),
            consumed: b.len(),
        },
        None => Frame::More,
    }
}

/// Decodes `frame` into `out`: its message as a line, or a malformed entry.
fn deliver(frame: &[u8], peer: Option<SocketAddr>, lim: &Limits, out: &mut Batch) {
    match parse(frame) {
        Ok(m) => {
            if m.message.len() > lim.max_line_bytes {
                out.push_line(&m.message[..lim.max_line_bytes], true);
            } else {
                out.push_line(m.message, false);
            }
        }
        Err(reason) => reject(frame, reason, peer, lim, out),
    }
}

fn reject(
    frame: &[u8],
    reason: SyslogReject,
    peer: Option<SocketAddr>,
    lim: &Limits,
    out: &mut Batch,
) {
    let raw = &frame[..frame.len().min(lim.max_line_bytes)];
    out.push_malformed(Malformed {
        peer,
        reason,
        raw: raw.to_vec(),
    });
}

/// RFC 6587 framing of one TCP connection.
pub(crate) struct SyslogFramer {
    peer: SocketAddr,
    buf: Vec<u8>,
    start: usize,
    /// Bytes still to skip of an oversized frame, and whether to skip to a newline.
    skip: u64,
    skip_line: bool,
    limits: Limits,
    max_frame: usize,
}

impl SyslogFramer {
    pub(crate) fn new(peer: SocketAddr, limits: Limits, max_frame: usize) -> SyslogFramer {
        SyslogFramer {
            peer,
            buf: Vec::new(),
            start: 0,
            skip: 0,
            skip_line: false,
            limits,
            max_frame: max_frame.max(16),
        }
    }

    fn frames(&mut self, out: &mut Batch, eof: bool) {
        loop {
            if out.len() + out.malformed().len() >= self.limits.max_batch_lines
                || out.bytes() >= self.limits.max_batch_bytes
            {
                break;
            }
            // Skip what is left of an oversized frame.
            if self.skip > 0 {
                let avail = (self.buf.len() - self.start) as u64;
                let n = avail.min(self.skip);
                self.start += n as usize;
                self.skip -= n;
                if self.skip > 0 {
                    break;
                }
            }
            if self.skip_line {
                match memchr::memchr(b'\n', &self.buf[self.start..]) {
                    Some(i) => {
                        self.start += i + 1;
                        self.skip_line = false;
                    }
                    None => {
                        self.start = self.buf.len();
                        break;
                    }
                }
            }
            // Separators between frames.
            while let Some(b'\n' | b'\r' | b'\0' | b' ') = self.buf.get(self.start) {
                self.start += 1;
            }
            let b = &self.buf[self.start..];
            if b.is_empty() {
                break;
            }
            match next_frame(b, self.max_frame, eof) {
                Frame::Msg {
                    start,
                    end,
                    consumed,
                } => {
                    deliver(&b[start..end], Some(self.peer), &self.limits, out);
                    self.start += consumed;
                }
                Frame::Truncated { start, end } => {
                    let raw = &b[start..end];
                    reject(
                        raw,
                        SyslogReject::TruncatedFrame,
                        Some(self.peer),
                        &self.limits,
                        out,
                    );
                    self.start = self.buf.len();
                }
                Frame::TooLong { start, end, skip } => {
                    reject(
                        &b[start..end],
                        SyslogReject::FrameTooLong,
                        Some(self.peer),
                        &self.limits,
                        out,
                    );
                    self.skip = skip;
                }
                Frame::TooLongLine => {
                    let keep = &b[..self.max_frame.min(b.len())];
                    reject(
                        keep,
                        SyslogReject::FrameTooLong,
                        Some(self.peer),
                        &self.limits,
                        out,
                    );
                    self.start = self.buf.len();
                    self.skip_line = true;
                }
                Frame::More => break,
            }
        }
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 64 * 1024 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }
}

impl Framer for SyslogFramer {
    fn data(&mut self, d: &[u8]) {
        self.buf.extend_from_slice(d);
    }

    fn next(&mut self, out: &mut Batch) {
        self.frames(out, false);
    }

    fn eof(&mut self, out: &mut Batch) {
        self.frames(out, true);
    }
}

/// Configuration of a [`SyslogSource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogConfig {
    /// UDP address to listen on (`127.0.0.1:5514`), if any.
    pub udp: Option<String>,
    /// TCP address to listen on, if any.
    pub tcp: Option<String>,
    /// Batch and line limits.
    pub limits: LineLimits,
    /// Longest frame accepted on TCP; longer ones are kept (cut) as malformed.
    pub max_frame_bytes: usize,
    /// Most TCP connections open at once (default
    /// [`DEFAULT_MAX_CONNECTIONS`](crate::net::DEFAULT_MAX_CONNECTIONS)); at the cap the
    /// one silent the longest is closed to admit a new one.
    pub max_connections: usize,
    /// A TCP connection that sends nothing for this long is closed (default
    /// [`DEFAULT_IDLE_TIMEOUT`](crate::net::DEFAULT_IDLE_TIMEOUT)).
    pub idle_timeout: Duration,
    /// Chunks buffered between the receiving threads and `poll`.
    pub channel_capacity: usize,
}

impl Default for SyslogConfig {
    fn default() -> Self {
        SyslogConfig {
            udp: None,
            tcp: None,
            limits: LineLimits::default(),
            max_frame_bytes: 64 * 1024,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            channel_capacity: 256,
        }
    }
}

/// Syslog messages received over UDP and/or TCP; see the [module documentation](self).
pub struct SyslogSource {
    udp: Option<SocketAddr>,
    tcp: Option<SocketAddr>,
    hub: Arc<Hub>,
    collector: Collector,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for SyslogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyslogSource")
            .field("udp", &self.udp)
            .field("tcp", &self.tcp)
            .finish()
    }
}

impl SyslogSource {
    /// Listens on the configured addresses (at least one).
    pub fn bind(cfg: SyslogConfig) -> Result<SyslogSource, SourceError> {
        if cfg.udp.is_none() && cfg.tcp.is_none() {
            return Err(SourceError::Config(
                "syslog needs a UDP or a TCP address".into(),
            ));
        }
        let hub = Arc::new(Hub::default());
        let (tx, rx) = mpsc::sync_channel(cfg.channel_capacity.max(1));
        let limits = cfg.limits.limits();
        let mut threads = Vec::new();
        let mut udp_addr = None;
        let mut tcp_addr = None;
        if let Some(addr) = &cfg.udp {
            let bind_err = |source| SourceError::Bind {
                addr: addr.clone(),
                source,
            };
            let sock = bind_udp(addr).map_err(bind_err)?;
            let local = sock.local_addr().map_err(bind_err)?;
            udp_addr = Some(local);
            hub.udp_inode
                .store(crate::net::socket_inode(&sock), Ordering::Relaxed);
            let (hub2, tx2) = (hub.clone(), tx.clone());
            let h = thread::Builder::new()
                .name(format!("hitstream-syslog-udp-{local}"))
                .spawn(move || udp_loop(sock, local, limits, &hub2, &tx2))
                .map_err(bind_err)?;
            threads.push(h);
        }
        if let Some(addr) = &cfg.tcp {
            let listener = bind_tcp(addr)?;
            let bind_err = |source| SourceError::Bind {
                addr: addr.clone(),
                source,
            };
            let local = listener.local_addr().map_err(bind_err)?;
            tcp_addr = Some(local);
            let max_frame = cfg.max_frame_bytes;
            let h = spawn_acceptor(
                listener,
                hub.clone(),
                tx.clone(),
                Origin::Syslog { local },
                ConnLimits {
                    max_connections: cfg.max_connections,
                    idle_timeout: cfg.idle_timeout,
                },
                move |peer| SyslogFramer::new(peer, limits, max_frame),
            )
            .map_err(bind_err)?;
            threads.push(h);
        }
        Ok(SyslogSource {
            udp: udp_addr,
            tcp: tcp_addr,
            hub,
            collector: Collector::new(rx, limits),
            threads,
        })
    }

    /// The UDP address listened on.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp
    }

    /// The TCP address listened on.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp
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

    /// Waits up to `timeout` for messages.
    pub fn poll(&mut self, timeout: Duration) -> Poll {
        self.collector.poll(timeout, &self.hub)
    }
}

/// Receive buffer asked for the UDP socket: a burst of datagrams waits in the kernel while
/// a batch is handed on, instead of being dropped (the kernel caps it at `net.core.rmem_max`).
const UDP_RECV_BUFFER: usize = 4 << 20;
/// Datagrams gathered into one batch at most.
const UDP_BATCH_LINES: usize = 1024;
/// How long a received datagram waits for others before its batch is handed on (up to
/// twice this: the batch is checked after each read, which waits this long at most).
const UDP_BATCH_WAIT: Duration = Duration::from_millis(10);
/// The read timeout with nothing gathered: how often the loop looks at `shutdown`.
const UDP_IDLE_WAIT: Duration = Duration::from_millis(100);

fn bind_udp(addr: &str) -> io::Result<UdpSocket> {
    let addr: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(addr)?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // A smaller buffer than asked for still works: the datagrams beyond it are what UDP loses.
    let _ = sock.set_recv_buffer_size(UDP_RECV_BUFFER);
    sock.bind(&addr.into())?;
    // Its read timeout is set by `udp_loop`.
    Ok(sock.into())
}

fn udp_loop(sock: UdpSocket, local: SocketAddr, lim: Limits, hub: &Hub, tx: &SyncSender<Batch>) {
    let mut buf = vec![0u8; 65_536];
    let mut out = Batch::new(Origin::Syslog { local });
    // One batch per datagram would cost the pipeline a batch per line: datagrams are gathered
    // until the batch is full or the first of them has waited `UDP_BATCH_WAIT`.
    let mut first: Option<std::time::Instant> = None;
    let mut timeout = Duration::ZERO;
    while !hub.shutdown.load(Ordering::Relaxed) {
        let due = first.is_some_and(|t| t.elapsed() >= UDP_BATCH_WAIT);
        if out.len() >= UDP_BATCH_LINES || due {
            if !flush(tx, &mut out, hub) {
                return;
            }
            first = None;
        }
        // Two timeouts only, so the socket option changes when a batch starts or ends, not
        // with every datagram.
        let wait = if first.is_some() {
            UDP_BATCH_WAIT
        } else {
            UDP_IDLE_WAIT
        };
        if wait != timeout {
            let _ = sock.set_read_timeout(Some(wait));
            timeout = wait;
        }
        match sock.recv_from(&mut buf) {
            Ok((n, peer)) => {
                hub.counters.datagrams.fetch_add(1, Ordering::Relaxed);
                deliver(&buf[..n], Some(peer), &lim, &mut out);
                first.get_or_insert_with(std::time::Instant::now);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                if !flush(tx, &mut out, hub) {
                    return;
                }
                first = None;
            }
            Err(source) => {
                hub.problem(SourceError::Network {
                    what: "recv",
                    local,
                    peer: None,
                    source,
                });
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
    // What was gathered when the source closed goes on like the rest.
    let _ = flush(tx, &mut out, hub);
}

impl Drop for SyslogSource {
    fn drop(&mut self) {
        self.hub.shutdown.store(true, Ordering::Relaxed);
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
    }
}

impl Source for SyslogSource {
    fn poll(&mut self, timeout: Duration) -> Poll {
        SyslogSource::poll(self, timeout)
    }

    fn take_problems(&mut self) -> Vec<SourceError> {
        SyslogSource::take_problems(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_rfc3164() {
        let f = br#"<190>Nov 21 23:12:01 web1 nginx: 1.2.3.4 - - [21/Nov/2024:23:12:01 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8""#;
        let m = parse(f).unwrap();
        assert_eq!(m.protocol, SyslogProtocol::Rfc3164);
        assert_eq!((m.facility, m.severity), (23, 6));
        assert_eq!(m.timestamp, Some(&b"Nov 21 23:12:01"[..]));
        assert_eq!(m.hostname, Some(&b"web1"[..]));
        assert_eq!(m.app_name, Some(&b"nginx"[..]));
        assert!(m.message.starts_with(b"1.2.3.4 - - ["));
        assert!(m.message.ends_with(b"\"curl/8\""));
    }

    #[test]
    fn rfc3164_variants() {
        let m = parse(b"<13>Nov  1 03:04:05 host app[42]: hello world\n").unwrap();
        assert_eq!(m.timestamp, Some(&b"Nov  1 03:04:05"[..]));
        assert_eq!(m.proc_id, Some(&b"42"[..]));
        assert_eq!(m.message, b"hello world");
        // No host name: the tag follows the timestamp.
        let m = parse(b"<13>Nov 21 23:12:01 nginx: x y").unwrap();
        assert_eq!(m.hostname, None);
        assert_eq!(m.app_name, Some(&b"nginx"[..]));
        assert_eq!(m.message, b"x y");
        // No tag: the rest is the message.
        let m = parse(b"<13>Nov 21 23:12:01 host just text").unwrap();
        assert_eq!(m.app_name, None);
        assert_eq!(m.message, b"just text");
        // RFC 3339 timestamp in a BSD frame (rsyslog).
        let m = parse(b"<13>2024-11-21T23:12:01+00:00 host nginx: line").unwrap();
        assert_eq!(m.message, b"line");
    }

    #[test]
    fn rfc5424() {
        let f = b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"App\\\"]\"] \xEF\xBB\xBFAn application event";
        let m = parse(f).unwrap();
        assert_eq!(m.protocol, SyslogProtocol::Rfc5424);
        assert_eq!((m.facility, m.severity), (20, 5));
        assert_eq!(m.hostname, Some(&b"mymachine.example.com"[..]));
        assert_eq!(m.app_name, Some(&b"evntslog"[..]));
        assert_eq!(m.proc_id, None);
        assert_eq!(m.msg_id, Some(&b"ID47"[..]));
        assert!(m.structured_data.unwrap().starts_with(b"[exampleSDID"));
        assert_eq!(m.message, b"An application event");
        let m = parse(b"<13>1 - - - - - - msg").unwrap();
        assert_eq!(m.timestamp, None);
        assert_eq!(m.message, b"msg");
        let m = parse(b"<13>1 2024-11-21T23:12:01Z h a 1 - [a b=\"1\"][c d=\"2\"] m").unwrap();
        assert_eq!(m.structured_data, Some(&b"[a b=\"1\"][c d=\"2\"]"[..]));
        assert_eq!(m.message, b"m");
    }

    #[test]
    fn rejects_have_reasons() {
        use SyslogReject::*;
        let cases: &[(&[u8], SyslogReject)] = &[
            (b"", Empty),
            (b"\n", Empty),
            (b"hello", MissingPri),
            (b"<>Nov 21 23:12:01 h t: m", InvalidPri),
            (b"<192>Nov 21 23:12:01 h t: m", InvalidPri),
            (b"<1a>Nov 21 23:12:01 h t: m", InvalidPri),
            (b"<13>Foo 21 23:12:01 h t: m", BadTimestamp),
            (b"<13>Nov 21 23:12 h t: m", BadTimestamp),
            (b"<13>Nov 32 23:12:01 h t: m", BadTimestamp),
            (b"<13>Nov 21 24:12:01 h t: m", BadTimestamp),
            (b"<13>1 2024-13-21T23:12:01Z h a p m - x", BadTimestamp),
            (b"<13>Nov 21 23:12:01 host", EmptyMessage),
            (b"<13>Nov 21 23:12:01 host tag:", EmptyMessage),
            (b"<13>1 yesterday h a p m - x", BadTimestamp),
            (b"<13>1 2024-11-21T23:12:01Z h a", MissingField("PROCID")),
            (
                b"<13>1 2024-11-21T23:12:01Z h a p m [unclosed x",
                BadStructuredData,
            ),
            (b"<13>1 2024-11-21T23:12:01Z h a p m x", BadStructuredData),
            (b"<13>1 2024-11-21T23:12:01Z h a p m -", EmptyMessage),
        ];
        for (f, why) in cases {
            assert_eq!(parse(f), Err(*why), "{}", String::from_utf8_lossy(f));
        }
    }

    type Framed = (Vec<Vec<u8>>, Vec<(SyslogReject, Vec<u8>)>);

    fn frames(chunks: &[&[u8]], max: usize) -> Framed {
        let lim = LineLimits::default().limits();
        let mut f = SyslogFramer::new("127.0.0.1:9".parse().unwrap(), lim, max);
        let mut out = Batch::new(Origin::Stream { name: "t".into() });
        for c in chunks {
            f.data(c);
            f.next(&mut out);
        }
        f.eof(&mut out);
        (
            out.lines().map(<[u8]>::to_vec).collect(),
            out.malformed()
                .iter()
                .map(|m| (m.reason, m.raw.clone()))
                .collect(),
        )
    }

    #[test]
    fn tcp_framing_octet_counting_and_lines() {
        let a = b"<13>Nov 21 23:12:01 h t: one";
        let b = b"<13>1 - h a - - - two\n";
        let mut stream = format!("{} ", a.len()).into_bytes();
        stream.extend_from_slice(a);
        stream.extend_from_slice(format!("{} ", b.len()).as_bytes());
        stream.extend_from_slice(b);
        stream.extend_from_slice(b"<13>Nov 21 23:12:01 h t: three\n<13>Nov 21 23:12:01 h t: four");
        // Every split of the stream into two pieces gives the same messages.
        for cut in 0..=stream.len() {
            let (lines, bad) = frames(&[&stream[..cut], &stream[cut..]], 1000);
            assert_eq!(
                lines,
                vec![
                    b"one".to_vec(),
                    b"two".to_vec(),
                    b"three".to_vec(),
                    b"four".to_vec()
                ],
                "cut at {cut}"
            );
            assert!(bad.is_empty());
        }
    }

    #[test]
    fn tcp_framing_errors_are_kept() {
        let (lines, bad) = frames(&[b"garbage line\n<13>Nov 21 23:12:01 h t: ok\n"], 1000);
        assert_eq!(lines, vec![b"ok".to_vec()]);
        assert_eq!(
            bad,
            vec![(SyslogReject::MissingPri, b"garbage line".to_vec())]
        );
        // Octet count larger than the limit: the start is kept, the rest skipped.
        let mut s = b"40 <13>Nov 21 23:12:01 h t: 0123456789abcde".to_vec();
        s.extend_from_slice(b"<13>Nov 21 23:12:01 h t: next\n");
        let (lines, bad) = frames(&[&s[..10], &s[10..]], 20);
        assert_eq!(lines, vec![b"next".to_vec()]);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, SyslogReject::FrameTooLong);
        // Connection closed inside an octet-counted frame.
        let (lines, bad) = frames(&[b"50 <13>Nov 21 23:12:01 h t: cut"], 1000);
        assert!(lines.is_empty());
        assert_eq!(bad[0].0, SyslogReject::TruncatedFrame);
        // Newline frame over the limit.
        let mut long = b"<13>Nov 21 23:12:01 h t: ".to_vec();
        long.extend(std::iter::repeat_n(b'x', 100));
        long.extend_from_slice(b"\n<13>Nov 21 23:12:01 h t: after\n");
        let (lines, bad) = frames(&[&long[..60], &long[60..]], 50);
        assert_eq!(lines, vec![b"after".to_vec()]);
        assert_eq!(bad[0].0, SyslogReject::FrameTooLong);
    }
}
