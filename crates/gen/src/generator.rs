//! The generator: clients, visits and scanners turned into log lines.
//!
//! Ordinary traffic comes from a fixed pool of clients (browsers, crawlers, API tools) whose
//! activity is Zipf-distributed. A few dozen visits run at once, interleaved line by line; a
//! browser visit requests a page (referer: an external site or the previous page), then that
//! page's assets (referer: the page), sometimes posts a form, then moves on. Scanners wake up
//! now and then and probe for vulnerable paths in dense bursts. Event time advances by
//! exponential gaps (a Poisson process) at the configured event rate.
//!
//! The hot path allocates nothing: every string is prebuilt, the request target is written
//! into one reused buffer, numbers go through `itoa`, and the timestamp is rendered once per
//! second of event time.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hitstream_format::{FormatSpec, LogTime};

use crate::config::GenConfig;
use crate::error::GenError;
use crate::pools::{self, ToolRole};
use crate::render::{compile, Clock, Piece, SizeStyle};
use crate::rng::{zipf_weights, Alias, Rng};
use crate::site::{PageKind, Site, API, COMMON_ASSET_FETCH, NONE};

/// Who sent a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A person with a web browser.
    Browser,
    /// A search-engine or SEO crawler (Googlebot, bingbot...).
    Crawler,
    /// A script, an app, an uptime monitor or a feed reader.
    Tool,
    /// A vulnerability scanner probing for admin pages, leaked files and known exploits.
    Scanner,
}

/// The last generated request, field by field, as written in the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit<'a> {
    /// Client address, or host name in the `nasa` format.
    pub client: &'a [u8],
    /// Authenticated user, `-` when none.
    pub user: &'a [u8],
    /// Event time with its microseconds (second-resolution formats write only the seconds).
    pub time: LogTime,
    /// Request method.
    pub method: &'a [u8],
    /// Request target: path and query.
    pub target: &'a [u8],
    /// Protocol (`HTTP/1.1`).
    pub protocol: &'a [u8],
    /// Status code.
    pub status: u16,
    /// Size as the format writes it: `None` when written `-`.
    pub bytes: Option<u64>,
    /// Referer, `-` when none.
    pub referer: &'a [u8],
    /// User agent, `-` when none.
    pub user_agent: &'a [u8],
    /// Virtual host.
    pub vhost: &'a [u8],
    /// Server port.
    pub port: u16,
    /// X-Forwarded-For, `-` when none.
    pub x_forwarded_for: &'a [u8],
    /// Time taken to serve the request, in microseconds.
    pub request_time_us: u64,
    /// Who sent it.
    pub actor: Actor,
}

impl Hit<'_> {
    /// The path without the query string.
    pub fn path(&self) -> &[u8] {
        match self.target.iter().position(|&b| b == b'?') {
            Some(q) => &self.target[..q],
            None => self.target,
        }
    }

    /// The query string without its `?`, if any.
    pub fn query(&self) -> Option<&[u8]> {
        let q = self.target.iter().position(|&b| b == b'?')?;
        Some(&self.target[q + 1..])
    }
}

/// A weighted choice among values.
#[derive(Debug, Clone)]
struct Choice<T> {
    alias: Alias,
    items: Box<[T]>,
}

impl<T: Copy> Choice<T> {
    fn new(pairs: &[(T, f64)]) -> Self {
        Choice {
            alias: Alias::new(&pairs.iter().map(|p| p.1).collect::<Vec<_>>()),
            items: pairs.iter().map(|p| p.0).collect(),
        }
    }

    #[inline]
    fn pick(&self, rng: &mut Rng) -> T {
        self.items[self.alias.sample(rng)]
    }
}

/// The fixed mixes, built once.
#[derive(Debug, Clone)]
struct Mixes {
    page: Choice<u16>,
    given_page: Choice<u16>,
    asset_first: Choice<u16>,
    asset: Choice<u16>,
    form_post: Choice<u16>,
    api_get: Choice<u16>,
    api_write: Choice<u16>,
    bot: Choice<u16>,
    head: Choice<u16>,
    scanner: Choice<u16>,
    api_methods: Choice<&'static str>,
    weighted_methods: Choice<&'static str>,
    referers: Choice<&'static str>,
}

impl Mixes {
    fn new() -> Mixes {
        Mixes {
            page: Choice::new(pools::PAGE_STATUS),
            given_page: Choice::new(pools::GIVEN_PAGE_STATUS),
            asset_first: Choice::new(pools::ASSET_FIRST_STATUS),
            asset: Choice::new(pools::ASSET_STATUS),
            form_post: Choice::new(pools::FORM_POST_STATUS),
            api_get: Choice::new(pools::API_GET_STATUS),
            api_write: Choice::new(pools::API_WRITE_STATUS),
            bot: Choice::new(pools::BOT_STATUS),
            head: Choice::new(pools::HEAD_STATUS),
            scanner: Choice::new(pools::SCANNER_STATUS),
            api_methods: Choice::new(pools::API_METHODS),
            weighted_methods: Choice::new(pools::WEIGHTED_METHODS),
            referers: Choice::new(pools::EXTERNAL_REFERERS),
        }
    }
}

/// A client of the pool, with everything that stays the same across its requests.
#[derive(Debug, Clone)]
struct Client {
    addr: Box<[u8]>,
    actor: Actor,
    role: ToolRole,
    ua: &'static str,
    user: &'static str,
    xff: Box<[u8]>,
    proto: &'static str,
}

/// A scanner: its identity and its burst state.
#[derive(Debug, Clone)]
struct Scanner {
    client: Client,
    /// Line number at which the next burst starts.
    next_at: u64,
    /// Probes left in the current burst (0: idle).
    left: u32,
    /// Position in the probe list.
    pos: u32,
    port: u16,
}

/// A visit in progress.
#[derive(Debug, Clone, Copy)]
struct Session {
    alive: bool,
    client: u32,
    /// Page views left.
    left: u32,
    /// Current page, [`NONE`] before the first.
    page: u32,
    pending: [u32; 8],
    npending: u8,
    next_pending: u8,
    /// The pending assets belong to the first page of the visit (a returning visitor may
    /// still have them cached: 304).
    fresh: bool,
    /// A form post follows.
    post: bool,
    /// A crawler starts with `/robots.txt`.
    robots: bool,
}

const IDLE: Session = Session {
    alive: false,
    client: 0,
    left: 0,
    page: NONE,
    pending: [0; 8],
    npending: 0,
    next_pending: 0,
    fresh: false,
    post: false,
    robots: false,
};

#[derive(Debug, Clone, Copy)]
enum Who {
    Client(u32),
    Scanner(u32),
}

#[derive(Debug, Clone, Copy)]
enum Referer {
    Static(&'static str),
    Page(u32),
}

/// The request being written.
#[derive(Debug, Clone, Copy)]
struct Cur {
    who: Who,
    method: &'static str,
    proto: &'static str,
    status: u16,
    body: u64,
    header: u64,
    referer: Referer,
    port: u16,
    rt_us: u64,
    /// Event time, microseconds since the start.
    t_us: u64,
    /// Where the query starts in the target (`?`), or the target's length.
    qpos: usize,
}

/// Flag on a pending entry: a beacon POST rather than an asset GET.
const BEACON: u32 = 1 << 31;
/// Share of page views that follow a broken link (404), and of those (below this) that ask
/// for a missing well-known file.
const BROKEN_LINK: f64 = 0.011;
const MISSING_FILE: f64 = 0.004;
/// Visits running at once (interleaved line by line).
const MAX_SESSIONS: u32 = 32;
/// Share of lines that belong to an active scanner burst.
const SCAN_DENSITY: f64 = 0.4;
/// Mean number of lines between two bursts of one scanner.
const SCAN_GAP_LINES: f64 = 25_000.0;
/// Output chunk size.
const CHUNK: usize = 1 << 18;
/// Shortest and longest sleep when pacing.
const MIN_TICK: f64 = 0.005;
const MAX_TICK: f64 = 0.1;

/// Generates access-log lines. Deterministic: the same [`GenConfig`] gives the same bytes.
///
/// Lines come out one at a time with [`Generator::next_line`], in batches with
/// [`Generator::fill`], or written to any [`Write`] with [`Generator::write_to`], which honours
/// the configured count and pacing.
#[derive(Debug, Clone)]
pub struct Generator {
    config: GenConfig,
    spec: FormatSpec,
    pieces: Vec<Piece>,
    style: SizeStyle,
    needs_rt: bool,
    host: Box<[u8]>,
    rng: Rng,
    mixes: Mixes,
    site: Site,
    clients: Vec<Client>,
    client_pick: Alias,
    sessions: Vec<Session>,
    scanners: Vec<Scanner>,
    active: Vec<u32>,
    next_wake: u64,
    clock: Clock,
    /// Event time of the next line, microseconds since the start.
    next_t: f64,
    gap_us: f64,
    lines: u64,
    target: Vec<u8>,
    cur: Cur,
}

impl Generator {
    /// Validates the configuration and builds the site, the client pool and the scanners.
    pub fn new(config: GenConfig) -> Result<Generator, GenError> {
        config.validate()?;
        let spec = FormatSpec::from_str_any(&config.format).map_err(|source| GenError::Format {
            name: config.format.clone(),
            source,
        })?;
        let (pieces, style) = compile(&spec);
        let needs_rt = pieces.iter().any(Piece::needs_request_time);
        let nasa = spec.name == "nasa";
        let mut rng = Rng::new(config.seed);
        // Setup draws come from their own streams, so that e.g. a bigger client pool does not
        // change the site.
        let site = Site::new(&config.paths, &config.host, &mut rng.fork());
        let mut crng = rng.fork();
        let cpools = ClientPools::new();
        let clients: Vec<Client> = (0..config.clients)
            .map(|_| make_client(&mut crng, nasa, &cpools))
            .collect();
        // Heavy-tailed activity: a few clients send much of the traffic.
        let client_pick = Alias::new(&zipf_weights(clients.len(), 0.8));
        let mut srng = rng.fork();
        let scanners = (0..config.scanners)
            .map(|i| Scanner {
                client: make_scanner(&mut srng, nasa),
                next_at: u64::from(srng.range(50, 600)) + u64::from(i) * 1500,
                left: 0,
                pos: srng.below(pools::PROBES.len() as u32),
                port: if srng.chance(0.5) { 80 } else { 443 },
            })
            .collect::<Vec<_>>();
        let next_wake = scanners.iter().map(|s| s.next_at).min().unwrap_or(u64::MAX);
        let sessions = vec![IDLE; config.clients.min(MAX_SESSIONS) as usize];
        let gap_us = 1e6 / config.effective_event_rate();
        Ok(Generator {
            clock: Clock::new(config.tz_offset, config.start),
            host: config.host.as_bytes().into(),
            spec,
            pieces,
            style,
            needs_rt,
            rng,
            mixes: Mixes::new(),
            site,
            clients,
            client_pick,
            sessions,
            scanners,
            active: Vec::new(),
            next_wake,
            next_t: f64::from(config.start_micros),
            gap_us,
            lines: 0,
            target: Vec::with_capacity(256),
            cur: Cur {
                who: Who::Client(0),
                method: "GET",
                proto: "HTTP/1.1",
                status: 200,
                body: 0,
                header: 0,
                referer: Referer::Static("-"),
                port: 443,
                rt_us: 0,
                t_us: 0,
                qpos: 0,
            },
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &GenConfig {
        &self.config
    }

    /// The log format lines are written in.
    pub fn spec(&self) -> &FormatSpec {
        &self.spec
    }

    /// Lines generated so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Event time of the next line, as an offset from the configured start second.
    pub fn next_offset(&self) -> Duration {
        Duration::from_micros(self.next_t as u64)
    }

    /// Appends one line, with its `\n`, to `out`.
    #[inline]
    pub fn next_line(&mut self, out: &mut Vec<u8>) {
        let t = self.next_t as u64;
        self.cur.t_us = t;
        self.clock.set(self.config.start + (t / 1_000_000) as i64);
        self.next_t += self.rng.exp(self.gap_us);
        if self.lines >= self.next_wake {
            self.wake_scanners();
        }
        if !self.active.is_empty() && self.rng.chance(SCAN_DENSITY) {
            self.scanner_line();
        } else {
            self.visitor_line();
        }
        if self.needs_rt {
            self.cur.rt_us = self.request_time();
        }
        self.render(out);
        self.lines += 1;
    }

    /// Appends `lines` lines to `out`.
    pub fn fill(&mut self, out: &mut Vec<u8>, lines: u64) {
        for _ in 0..lines {
            self.next_line(out);
        }
    }

    /// The request of the last line, field by field; `None` before the first line.
    pub fn last_hit(&self) -> Option<Hit<'_>> {
        if self.lines == 0 {
            return None;
        }
        let c = &self.cur;
        let (client, actor) = self.who(c.who);
        let t = c.t_us;
        Some(Hit {
            client: &client.addr,
            user: client.user.as_bytes(),
            time: LogTime {
                utc: self.config.start + (t / 1_000_000) as i64,
                offset: self.config.tz_offset,
                micros: (t % 1_000_000) as u32,
            },
            method: c.method.as_bytes(),
            target: &self.target,
            protocol: c.proto.as_bytes(),
            status: c.status,
            bytes: match self.style {
                SizeStyle::DashForZero if c.body == 0 => None,
                SizeStyle::DashForZero | SizeStyle::Zero => Some(c.body),
                SizeStyle::WithHeaders => Some(c.body + c.header),
            },
            referer: self.referer_bytes(),
            user_agent: client.ua.as_bytes(),
            vhost: &self.host,
            port: c.port,
            x_forwarded_for: &client.xff,
            request_time_us: c.rt_us,
            actor,
        })
    }

    /// Writes the configured number of lines (endless when `count` is `None`) to `w`, paced in
    /// real time when `rate` is set (flushing after every tick so readers see lines live),
    /// as fast as possible otherwise. Returns the number of lines written.
    pub fn write_to<W: Write + ?Sized>(&mut self, w: &mut W) -> Result<u64, GenError> {
        self.write_to_until(w, &AtomicBool::new(false))
    }

    /// Like [`Generator::write_to`], stopping early (after a chunk or a tick) once `stop` is
    /// set, e.g. by a signal handler or another thread.
    pub fn write_to_until<W: Write + ?Sized>(
        &mut self,
        w: &mut W,
        stop: &AtomicBool,
    ) -> Result<u64, GenError> {
        let Some(rate) = self.config.rate else {
            return self.write_fast(w, stop);
        };
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        let mut left = self.config.count;
        let mut written = 0u64;
        // Wall-clock microseconds per microsecond of event time.
        let factor = self.config.effective_event_rate() / rate;
        let began = Instant::now();
        let base = self.next_t;
        while left != Some(0) && !stop.load(Ordering::Relaxed) {
            let now = began.elapsed().as_secs_f64() * 1e6;
            let mut n = 0u64;
            while (self.next_t - base) * factor <= now
                && buf.len() < CHUNK
                && left.is_none_or(|l| n < l)
            {
                self.next_line(&mut buf);
                n += 1;
            }
            if n > 0 {
                w.write_all(&buf)
                    .and_then(|()| w.flush())
                    .map_err(|source| GenError::Write {
                        lines: written,
                        source,
                    })?;
                buf.clear();
                written += n;
                left = left.map(|l| l - n);
            }
            if left == Some(0) {
                break;
            }
            let due = (self.next_t - base) * factor;
            let now = began.elapsed().as_secs_f64() * 1e6;
            if due > now {
                let secs = ((due - now) / 1e6).clamp(MIN_TICK, MAX_TICK);
                std::thread::sleep(Duration::from_secs_f64(secs));
            }
        }
        Ok(written)
    }

    /// Unpaced output: one thread generates chunks while the caller's thread writes the
    /// previous one, so formatting and the write system calls overlap. Lines come from the one
    /// generator in order, so the bytes are the same as with [`Generator::fill`].
    fn write_fast<W: Write + ?Sized>(
        &mut self,
        w: &mut W,
        stop: &AtomicBool,
    ) -> Result<u64, GenError> {
        let count = self.config.count;
        let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<u8>, u64)>(2);
        let (free_tx, free_rx) = mpsc::sync_channel::<Vec<u8>>(4);
        for _ in 0..3 {
            let _ = free_tx.send(Vec::with_capacity(CHUNK + 4096));
        }
        let generator = &mut *self;
        std::thread::scope(move |scope| {
            scope.spawn(move || {
                let mut left = count;
                while left != Some(0) && !stop.load(Ordering::Relaxed) {
                    let Ok(mut buf) = free_rx.recv() else { break };
                    buf.clear();
                    let mut n = 0u64;
                    while buf.len() < CHUNK && left.is_none_or(|l| n < l) {
                        generator.next_line(&mut buf);
                        n += 1;
                    }
                    left = left.map(|l| l - n);
                    if full_tx.send((buf, n)).is_err() {
                        break;
                    }
                }
            });
            // On error, returning drops both channel ends, which ends the producer.
            let mut written = 0u64;
            for (buf, n) in &full_rx {
                w.write_all(&buf).map_err(|source| GenError::Write {
                    lines: written,
                    source,
                })?;
                written += n;
                let _ = free_tx.send(buf);
            }
            w.flush().map_err(|source| GenError::Write {
                lines: written,
                source,
            })?;
            Ok(written)
        })
    }

    fn who(&self, w: Who) -> (&Client, Actor) {
        match w {
            Who::Client(i) => {
                let c = &self.clients[i as usize];
                (c, c.actor)
            }
            Who::Scanner(i) => (&self.scanners[i as usize].client, Actor::Scanner),
        }
    }

    #[inline]
    fn referer_bytes(&self) -> &[u8] {
        match self.cur.referer {
            Referer::Static(s) => s.as_bytes(),
            Referer::Page(p) => &self.site.pages[p as usize].url,
        }
    }

    // ---- scanners ----

    #[cold]
    fn wake_scanners(&mut self) {
        let now = self.lines;
        for (i, s) in self.scanners.iter_mut().enumerate() {
            if s.left == 0 && s.next_at <= now {
                s.left = self.rng.range(30, 200);
                s.next_at = u64::MAX;
                self.active.push(i as u32);
            }
        }
        self.next_wake = self
            .scanners
            .iter()
            .map(|s| s.next_at)
            .min()
            .unwrap_or(u64::MAX);
    }

    fn scanner_line(&mut self) {
        let k = self.rng.below(self.active.len() as u32) as usize;
        let si = self.active[k];
        let s = &mut self.scanners[si as usize];
        let (method, path, fixed) = pools::PROBES[s.pos as usize % pools::PROBES.len()];
        s.pos = s.pos.wrapping_add(1);
        if self.rng.chance(0.1) {
            s.pos = s.pos.wrapping_add(self.rng.below(4));
        }
        s.left -= 1;
        let (proto, port) = (s.client.proto, s.port);
        if s.left == 0 {
            s.next_at = self.lines + 1 + self.rng.exp(SCAN_GAP_LINES) as u64;
            self.next_wake = self.next_wake.min(s.next_at);
            self.active.swap_remove(k);
        }
        self.target.clear();
        self.target.extend_from_slice(path.as_bytes());
        let status = if fixed != 0 {
            fixed
        } else {
            self.mixes.scanner.pick(&mut self.rng)
        };
        let body = match (method, status) {
            ("HEAD", _) => 0,
            (_, 200) => match path {
                "/robots.txt" => 312,
                "/sitemap.xml" => 48_775,
                _ => 24_512,
            },
            (_, s) => pools::small_body(s),
        };
        self.set(
            Who::Scanner(si),
            method,
            proto,
            status,
            body,
            Referer::Static("-"),
        );
        self.cur.port = port;
    }

    // ---- ordinary visitors ----

    #[inline]
    fn set(
        &mut self,
        who: Who,
        method: &'static str,
        proto: &'static str,
        status: u16,
        body: u64,
        referer: Referer,
    ) {
        let c = &mut self.cur;
        c.who = who;
        c.method = method;
        c.proto = proto;
        c.status = status;
        c.body = body;
        c.referer = referer;
        c.port = 443;
        c.qpos = self
            .target
            .iter()
            .position(|&b| b == b'?')
            .unwrap_or(self.target.len());
        if self.style == SizeStyle::WithHeaders {
            c.header = 160 + u64::from(self.rng.below(140));
        }
    }

    fn visitor_line(&mut self) {
        let k = self.rng.below(self.sessions.len() as u32) as usize;
        if !self.sessions[k].alive {
            self.start_session(k);
        }
        let ci = self.sessions[k].client;
        match self.clients[ci as usize].actor {
            Actor::Browser => self.browser_step(k),
            Actor::Crawler => self.crawler_step(k),
            Actor::Tool | Actor::Scanner => self.tool_step(k),
        }
        let s = &mut self.sessions[k];
        if s.left == 0 && s.next_pending >= s.npending && !s.post && !s.robots {
            s.alive = false;
        }
    }

    fn start_session(&mut self, k: usize) {
        let ci = self.client_pick.sample(&mut self.rng) as u32;
        let c = &self.clients[ci as usize];
        let rng = &mut self.rng;
        let (left, robots) = match (c.actor, c.role) {
            (Actor::Browser, _) => (1 + (rng.exp(3.0) as u32).min(60), false),
            (Actor::Crawler, _) => (
                3 + (rng.exp(25.0) as u32).min(400),
                !self.site.weighted && rng.chance(0.4),
            ),
            (_, ToolRole::Api) => (1 + (rng.exp(6.0) as u32).min(80), false),
            (_, ToolRole::Monitor) => (1 + (rng.exp(4.0) as u32).min(40), false),
            _ => (1, false),
        };
        self.sessions[k] = Session {
            alive: true,
            client: ci,
            left,
            robots,
            ..IDLE
        };
    }

    /// Writes page `p`'s path into the target, with a query string now and then.
    fn page_target(&mut self, p: usize, queries: bool) {
        self.target.clear();
        let page = &self.site.pages[p];
        self.target.extend_from_slice(&page.path);
        if !queries {
            return;
        }
        let rng = &mut self.rng;
        let t = &mut self.target;
        match page.kind {
            PageKind::Listing => {
                if rng.chance(0.25) {
                    if rng.chance(0.2) {
                        t.extend_from_slice(b"?sort=price&page=");
                    } else {
                        t.extend_from_slice(b"?page=");
                    }
                    t.extend_from_slice(itoa::Buffer::new().format(rng.range(2, 20)).as_bytes());
                }
            }
            PageKind::Search => {
                t.extend_from_slice(b"?q=");
                t.extend_from_slice(rng.pick(pools::WORDS).as_bytes());
                if rng.chance(0.4) {
                    t.push(b'+');
                    t.extend_from_slice(rng.pick(pools::WORDS).as_bytes());
                }
            }
            PageKind::Html => {
                let r = rng.f64();
                if r < 0.02 {
                    t.extend_from_slice(b"?utm_source=newsletter&utm_medium=email&utm_campaign=");
                    t.extend_from_slice(rng.pick(pools::WORDS).as_bytes());
                } else if r < 0.03 {
                    t.extend_from_slice(b"?ref=");
                    t.extend_from_slice(rng.pick(pools::WORDS).as_bytes());
                }
            }
            PageKind::Form | PageKind::Download | PageKind::Given => {}
        }
    }

    /// Body size of a page response.
    #[inline]
    fn page_body(&mut self, p: usize, status: u16, method: &str) -> u64 {
        if method == "HEAD" {
            return 0;
        }
        let page = &self.site.pages[p];
        match status {
            200 => page.size + u64::from(self.rng.below((page.size / 16) as u32 + 1)),
            206 => 1 + u64::from(self.rng.below(page.size.min(u64::from(u32::MAX)) as u32)),
            s => pools::small_body(s),
        }
    }

    fn browser_step(&mut self, k: usize) {
        let s = self.sessions[k];
        let ci = s.client;
        let proto = self.clients[ci as usize].proto;
        if s.post {
            self.sessions[k].post = false;
            self.page_target(s.page as usize, false);
            let status = self.mixes.form_post.pick(&mut self.rng);
            let body = self.page_body(s.page as usize, status, "POST");
            self.set(
                Who::Client(ci),
                "POST",
                proto,
                status,
                body,
                Referer::Page(s.page),
            );
            return;
        }
        if s.next_pending < s.npending {
            let entry = s.pending[s.next_pending as usize];
            self.sessions[k].next_pending += 1;
            let asset = &self.site.assets[(entry & !BEACON) as usize];
            if entry & BEACON != 0 {
                self.target.clear();
                self.target.extend_from_slice(&asset.path);
                let who = Who::Client(ci);
                self.set(who, "POST", proto, 204, 0, Referer::Page(s.page));
                return;
            }
            self.target.clear();
            self.target.extend_from_slice(&asset.path);
            let size = asset.size;
            let status = if s.fresh {
                self.mixes.asset_first.pick(&mut self.rng)
            } else {
                self.mixes.asset.pick(&mut self.rng)
            };
            let body = if status == 200 {
                size
            } else {
                pools::small_body(status)
            };
            self.set(
                Who::Client(ci),
                "GET",
                proto,
                status,
                body,
                Referer::Page(s.page),
            );
            return;
        }
        let weighted = self.site.weighted;
        if !weighted {
            let r = self.rng.f64();
            if r < BROKEN_LINK {
                self.broken_link(r < MISSING_FILE);
                let referer = if s.page == NONE {
                    Referer::Static("-")
                } else {
                    Referer::Page(s.page)
                };
                let body = pools::small_body(404);
                self.set(Who::Client(ci), "GET", proto, 404, body, referer);
                let sess = &mut self.sessions[k];
                sess.left = sess.left.saturating_sub(1);
                return;
            }
        }
        let p = self.site.popularity.sample(&mut self.rng);
        self.page_target(p, !weighted);
        let method = if weighted {
            self.mixes.weighted_methods.pick(&mut self.rng)
        } else {
            "GET"
        };
        let page = &self.site.pages[p];
        let (kind, dead, image) = (page.kind, page.dead, page.image);
        let status = if dead {
            404
        } else if method == "HEAD" {
            self.mixes.head.pick(&mut self.rng)
        } else if method != "GET" {
            self.mixes.form_post.pick(&mut self.rng)
        } else if kind == PageKind::Download && self.rng.chance(0.08) {
            206
        } else if weighted {
            self.mixes.given_page.pick(&mut self.rng)
        } else {
            self.mixes.page.pick(&mut self.rng)
        };
        let body = self.page_body(p, status, method);
        let referer = if s.page == NONE {
            Referer::Static(self.mixes.referers.pick(&mut self.rng))
        } else {
            Referer::Page(s.page)
        };
        self.set(Who::Client(ci), method, proto, status, body, referer);
        let sess = &mut self.sessions[k];
        sess.left = sess.left.saturating_sub(1);
        if !weighted && status == 200 && kind != PageKind::Download {
            let mut n = 0usize;
            if s.page == NONE {
                for (a, p) in COMMON_ASSET_FETCH.iter().enumerate() {
                    if self.rng.chance(*p) {
                        sess.pending[n] = a as u32;
                        n += 1;
                    }
                }
            }
            if image != NONE {
                sess.pending[n] = image;
                n += 1;
            }
            if self.rng.chance(0.15) {
                sess.pending[n] = self.site.beacon | BEACON;
                n += 1;
            }
            sess.npending = n as u8;
            sess.next_pending = 0;
            sess.fresh = s.page == NONE;
            sess.post = kind == PageKind::Form && self.rng.chance(0.4);
        }
        sess.page = p as u32;
    }

    /// Writes a target that does not exist: a well-known file the site lacks, or a real path
    /// mangled the way broken links mangle them.
    fn broken_link(&mut self, missing_file: bool) {
        self.target.clear();
        if missing_file {
            let f = self.rng.pick(pools::MISSING_FILES);
            self.target.extend_from_slice(f.as_bytes());
        } else {
            let p = self.site.popularity.sample(&mut self.rng);
            self.target.extend_from_slice(&self.site.pages[p].path);
            let suffix = self.rng.pick(pools::STALE_SUFFIXES);
            self.target.extend_from_slice(suffix.as_bytes());
        }
    }

    fn crawler_step(&mut self, k: usize) {
        let s = self.sessions[k];
        let ci = s.client;
        let proto = self.clients[ci as usize].proto;
        if s.robots || (!self.site.weighted && self.rng.chance(0.01)) {
            self.sessions[k].robots = false;
            let a = if s.robots {
                self.site.robots
            } else {
                self.site.sitemap
            };
            let asset = &self.site.assets[a as usize];
            self.target.clear();
            self.target.extend_from_slice(&asset.path);
            let body = asset.size;
            self.set(
                Who::Client(ci),
                "GET",
                proto,
                200,
                body,
                Referer::Static("-"),
            );
            return;
        }
        if !self.site.weighted && self.rng.chance(0.015) {
            // Old URLs from the crawler's index.
            self.broken_link(false);
            let status = if self.rng.chance(0.2) { 410 } else { 404 };
            let body = pools::small_body(status);
            self.set(
                Who::Client(ci),
                "GET",
                proto,
                status,
                body,
                Referer::Static("-"),
            );
            let sess = &mut self.sessions[k];
            sess.left = sess.left.saturating_sub(1);
            return;
        }
        // Crawlers go wide: half their fetches ignore popularity.
        let p = if !self.site.weighted && self.rng.chance(0.5) {
            self.rng.below(self.site.pages.len() as u32) as usize
        } else {
            self.site.popularity.sample(&mut self.rng)
        };
        self.page_target(p, false);
        let status = if self.site.pages[p].dead {
            404
        } else {
            self.mixes.bot.pick(&mut self.rng)
        };
        let body = self.page_body(p, status, "GET");
        self.set(
            Who::Client(ci),
            "GET",
            proto,
            status,
            body,
            Referer::Static("-"),
        );
        let sess = &mut self.sessions[k];
        sess.left = sess.left.saturating_sub(1);
    }

    fn tool_step(&mut self, k: usize) {
        let ci = self.sessions[k].client;
        let c = &self.clients[ci as usize];
        let (proto, role) = (c.proto, c.role);
        let sess = &mut self.sessions[k];
        sess.left = sess.left.saturating_sub(1);
        let who = Who::Client(ci);
        let none = Referer::Static("-");
        if self.site.weighted {
            let p = self.site.popularity.sample(&mut self.rng);
            self.page_target(p, false);
            let method = match role {
                ToolRole::Monitor => "HEAD",
                ToolRole::Feed => "GET",
                ToolRole::Api => self.mixes.weighted_methods.pick(&mut self.rng),
            };
            let status = match method {
                "HEAD" => self.mixes.head.pick(&mut self.rng),
                "GET" => self.mixes.given_page.pick(&mut self.rng),
                _ => self.mixes.api_write.pick(&mut self.rng),
            };
            let body = self.page_body(p, status, method);
            self.set(who, method, proto, status, body, none);
            return;
        }
        match role {
            ToolRole::Monitor => {
                self.target.clear();
                if self.rng.chance(0.6) {
                    self.target.push(b'/');
                    let status = self.mixes.head.pick(&mut self.rng);
                    self.set(who, "HEAD", proto, status, 0, none);
                } else {
                    let a = &self.site.assets[self.site.health as usize];
                    self.target.extend_from_slice(&a.path);
                    let size = a.size;
                    self.set(who, "GET", proto, 200, size, none);
                }
            }
            ToolRole::Feed => {
                let a = &self.site.assets[self.site.feed as usize];
                self.target.clear();
                self.target.extend_from_slice(&a.path);
                let size = a.size;
                let (status, body) = if self.rng.chance(0.45) {
                    (304, 0)
                } else {
                    (200, size)
                };
                self.set(who, "GET", proto, status, body, none);
            }
            ToolRole::Api => {
                let (ep, _) = API[self.site.api.sample(&mut self.rng)];
                let method = self.mixes.api_methods.pick(&mut self.rng);
                let rng = &mut self.rng;
                let t = &mut self.target;
                t.clear();
                t.extend_from_slice(ep.prefix.as_bytes());
                if ep.id {
                    t.extend_from_slice(
                        itoa::Buffer::new()
                            .format(rng.range(1000, 99_999))
                            .as_bytes(),
                    );
                }
                if ep.query && method == "GET" && rng.chance(0.4) {
                    t.extend_from_slice(b"?page=");
                    t.extend_from_slice(itoa::Buffer::new().format(rng.range(1, 40)).as_bytes());
                    t.extend_from_slice(b"&limit=50");
                }
                let status = match method {
                    "OPTIONS" => 204,
                    "GET" => self.mixes.api_get.pick(rng),
                    _ => self.mixes.api_write.pick(rng),
                };
                let body = match (method, status) {
                    (_, 204 | 304) => 0,
                    ("GET", 200) => ep.size + u64::from(rng.below((ep.size / 4) as u32 + 1)),
                    (_, 200 | 201) => ep.size / 2 + u64::from(rng.below(64)),
                    (_, s) => pools::small_body(s),
                };
                self.set(who, method, proto, status, body, none);
            }
        }
    }

    /// Time to serve the current request, in microseconds (only for formats that log it).
    fn request_time(&mut self) -> u64 {
        let c = self.cur;
        let rng = &mut self.rng;
        let ms = match c.status {
            504 => 60_000.0 + rng.exp(50.0),
            502 => 2.0 + rng.exp(15.0),
            500 => 20.0 + rng.exp(300.0),
            304 => rng.exp(1.5),
            _ if c.body > 1_000_000 => c.body as f64 / 5_000.0 * (0.5 + rng.f64()),
            _ if matches!(c.who, Who::Scanner(_)) => rng.exp(2.0),
            _ => 5.0 + rng.exp(45.0),
        };
        (ms * 1000.0) as u64
    }

    // ---- output ----

    #[inline]
    fn render(&self, out: &mut Vec<u8>) {
        let c = &self.cur;
        let (client, _) = self.who(c.who);
        let target = &self.target[..];
        let mut num = itoa::Buffer::new();
        out.reserve(640 + target.len());
        for piece in &self.pieces {
            match piece {
                Piece::Lit(l) => out.extend_from_slice(l),
                Piece::Client => out.extend_from_slice(&client.addr),
                Piece::Ident | Piece::Dash => out.push(b'-'),
                Piece::User => out.extend_from_slice(client.user.as_bytes()),
                Piece::TimeClf => out.extend_from_slice(&self.clock.clf),
                Piece::TimeIso => out.extend_from_slice(&self.clock.iso),
                Piece::TimeEpoch => {
                    let secs = self.config.start + (c.t_us / 1_000_000) as i64;
                    out.extend_from_slice(num.format(secs).as_bytes());
                    push_millis(out, (c.t_us % 1_000_000 / 1000) as u32);
                }
                Piece::Request => {
                    out.extend_from_slice(c.method.as_bytes());
                    out.push(b' ');
                    out.extend_from_slice(target);
                    out.push(b' ');
                    out.extend_from_slice(c.proto.as_bytes());
                }
                Piece::Method => out.extend_from_slice(c.method.as_bytes()),
                Piece::Uri => out.extend_from_slice(target),
                Piece::Path => out.extend_from_slice(&target[..c.qpos]),
                Piece::Query { apache } => {
                    if c.qpos < target.len() {
                        let from = if *apache { c.qpos } else { c.qpos + 1 };
                        out.extend_from_slice(&target[from..]);
                    } else if !apache {
                        out.push(b'-');
                    }
                }
                Piece::Protocol => out.extend_from_slice(c.proto.as_bytes()),
                Piece::Status => {
                    let s = c.status;
                    out.extend_from_slice(&[
                        b'0' + (s / 100 % 10) as u8,
                        b'0' + (s / 10 % 10) as u8,
                        b'0' + (s % 10) as u8,
                    ]);
                }
                Piece::Bytes => match self.style {
                    SizeStyle::DashForZero if c.body == 0 => out.push(b'-'),
                    SizeStyle::DashForZero | SizeStyle::Zero => {
                        out.extend_from_slice(num.format(c.body).as_bytes())
                    }
                    SizeStyle::WithHeaders => {
                        out.extend_from_slice(num.format(c.body + c.header).as_bytes())
                    }
                },
                Piece::Referer => out.extend_from_slice(self.referer_bytes()),
                Piece::UserAgent => out.extend_from_slice(client.ua.as_bytes()),
                Piece::Vhost | Piece::Host => out.extend_from_slice(&self.host),
                Piece::Port => out.extend_from_slice(num.format(c.port).as_bytes()),
                Piece::Xff => out.extend_from_slice(&client.xff),
                Piece::ReqSecs | Piece::Upstream => {
                    out.extend_from_slice(num.format(c.rt_us / 1_000_000).as_bytes());
                    push_millis(out, (c.rt_us % 1_000_000 / 1000) as u32);
                }
                Piece::ReqMillis => out.extend_from_slice(num.format(c.rt_us / 1000).as_bytes()),
                Piece::ReqMicros => out.extend_from_slice(num.format(c.rt_us).as_bytes()),
            }
        }
        out.push(b'\n');
    }
}

#[inline]
fn push_millis(out: &mut Vec<u8>, ms: u32) {
    out.extend_from_slice(&[
        b'.',
        b'0' + (ms / 100) as u8,
        b'0' + (ms / 10 % 10) as u8,
        b'0' + (ms % 10) as u8,
    ]);
}

// ---- client pool ----

fn ipv4(rng: &mut Rng, out: &mut String) {
    use std::fmt::Write as _;
    let first = loop {
        let o = rng.range(1, 223);
        if !matches!(o, 10 | 100 | 127 | 169 | 172 | 192 | 198 | 203) {
            break o;
        }
    };
    let _ = write!(
        out,
        "{first}.{}.{}.{}",
        rng.below(256),
        rng.below(256),
        rng.range(1, 254)
    );
}

fn ipv6(rng: &mut Rng, out: &mut String) {
    use std::fmt::Write as _;
    out.push_str(rng.pick(&[
        "2a01", "2a02", "2600", "2601", "2001", "2a00", "2409", "2405",
    ]));
    for _ in 0..7 {
        let _ = write!(out, ":{:x}", rng.below(0x1_0000));
    }
}

fn host_name(rng: &mut Rng) -> String {
    let stem = rng.pick(pools::HOST_STEMS);
    let domain = rng.pick(pools::HOST_DOMAINS);
    if rng.chance(0.5) {
        format!("{stem}{}.{domain}", rng.range(1, 60))
    } else {
        format!(
            "{stem}-{}-{}.{domain}",
            rng.range(1, 254),
            rng.range(1, 254)
        )
    }
}

fn browser_addr(rng: &mut Rng, nasa: bool) -> String {
    let mut s = String::with_capacity(40);
    if nasa && rng.chance(0.7) {
        return host_name(rng);
    }
    if !nasa && rng.chance(0.08) {
        ipv6(rng, &mut s);
    } else {
        ipv4(rng, &mut s);
    }
    s
}

/// The weighted pools clients are drawn from (setup only).
#[derive(Debug)]
struct ClientPools {
    browsers: Choice<&'static str>,
    bots: Alias,
    tools: Alias,
}

impl ClientPools {
    fn new() -> ClientPools {
        ClientPools {
            browsers: Choice::new(pools::BROWSERS),
            bots: Alias::new(&pools::BOTS.iter().map(|b| b.weight).collect::<Vec<_>>()),
            tools: Alias::new(&pools::TOOLS.iter().map(|t| t.2).collect::<Vec<_>>()),
        }
    }
}

fn make_client(rng: &mut Rng, nasa: bool, cp: &ClientPools) -> Client {
    let roll = rng.f64();
    let old = |p: &'static str| if nasa { "HTTP/1.0" } else { p };
    if roll < 0.86 {
        let ua = cp.browsers.pick(rng);
        let xff = if rng.chance(0.1) {
            let mut s = String::new();
            ipv4(rng, &mut s);
            if rng.chance(0.5) {
                s.push_str(", 10.0.");
                s.push_str(&format!("{}.{}", rng.below(256), rng.range(1, 254)));
            }
            s
        } else {
            "-".to_string()
        };
        Client {
            addr: browser_addr(rng, nasa).into_bytes().into(),
            actor: Actor::Browser,
            role: ToolRole::Api,
            ua,
            user: if rng.chance(0.01) {
                rng.pick(pools::USERS)
            } else {
                "-"
            },
            xff: xff.into_bytes().into(),
            proto: old(if rng.chance(0.55) {
                "HTTP/2.0"
            } else {
                "HTTP/1.1"
            }),
        }
    } else if roll < 0.94 {
        let bot = &pools::BOTS[cp.bots.sample(rng)];
        let addr = format!("{}{}", rng.pick(bot.nets), rng.range(1, 254));
        Client {
            addr: addr.into_bytes().into(),
            actor: Actor::Crawler,
            role: ToolRole::Api,
            ua: bot.ua,
            user: "-",
            xff: b"-".as_slice().into(),
            proto: old("HTTP/1.1"),
        }
    } else {
        let (ua, role, _) = pools::TOOLS[cp.tools.sample(rng)];
        let mut addr = String::new();
        ipv4(rng, &mut addr);
        Client {
            addr: addr.into_bytes().into(),
            actor: Actor::Tool,
            role,
            ua,
            user: "-",
            xff: b"-".as_slice().into(),
            proto: old("HTTP/1.1"),
        }
    }
}

fn make_scanner(rng: &mut Rng, nasa: bool) -> Client {
    let addr = format!("{}{}", rng.pick(pools::SCANNER_NETS), rng.range(1, 254));
    Client {
        addr: addr.into_bytes().into(),
        actor: Actor::Scanner,
        role: ToolRole::Api,
        ua: rng.pick(pools::SCANNER_UAS),
        user: "-",
        xff: b"-".as_slice().into(),
        proto: if nasa || rng.chance(0.4) {
            "HTTP/1.0"
        } else {
            "HTTP/1.1"
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PathSource, WeightedPath};

    fn gen(cfg: GenConfig) -> Generator {
        Generator::new(cfg).unwrap()
    }

    #[test]
    fn lines_end_with_newline_and_hit_matches_line() {
        let mut g = gen(GenConfig::default());
        assert!(g.last_hit().is_none());
        let mut out = Vec::new();
        for _ in 0..1000 {
            out.clear();
            g.next_line(&mut out);
            assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
            assert!(out.ends_with(b"\n"));
            let h = g.last_hit().unwrap();
            let line = String::from_utf8(out.clone()).unwrap();
            assert!(line.starts_with(std::str::from_utf8(h.client).unwrap()));
            assert!(line.contains(std::str::from_utf8(h.target).unwrap()));
        }
        assert_eq!(g.lines(), 1000);
    }

    #[test]
    fn time_is_monotonic_and_at_the_event_rate() {
        let mut g = gen(GenConfig {
            event_rate: Some(50.0),
            ..Default::default()
        });
        let mut out = Vec::new();
        let mut last = (0i64, 0u32);
        for _ in 0..20_000 {
            g.next_line(&mut out);
            let t = g.last_hit().unwrap().time;
            assert!((t.utc, t.micros) >= last);
            last = (t.utc, t.micros);
        }
        // 20k lines at 50/s span about 400 s.
        let span = last.0 - crate::config::DEFAULT_START;
        assert!((380..=420).contains(&span), "{span}");
        assert!(g.next_offset() >= Duration::from_secs(span as u64));
    }

    #[test]
    fn mixes_look_like_a_web_site() {
        let mut g = gen(GenConfig::default());
        let mut out = Vec::new();
        let n = 100_000;
        let (mut ok, mut nf, mut nm, mut get, mut post, mut head, mut scan, mut bots, mut assets) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0);
        let mut clients = std::collections::HashMap::new();
        for _ in 0..n {
            g.next_line(&mut out);
            let h = g.last_hit().unwrap();
            match h.status {
                200 => ok += 1,
                404 => nf += 1,
                304 => {
                    nm += 1;
                    assert_eq!(h.bytes, None, "combined writes - for 304");
                }
                _ => {}
            }
            match h.method {
                b"GET" => get += 1,
                b"POST" => post += 1,
                b"HEAD" => head += 1,
                _ => {}
            }
            match h.actor {
                Actor::Scanner => scan += 1,
                Actor::Crawler => bots += 1,
                _ => {}
            }
            if h.target.starts_with(b"/static/") {
                assets += 1;
            }
            *clients.entry(h.client.to_vec()).or_insert(0u32) += 1;
        }
        let pct = |x: i32| f64::from(x) * 100.0 / f64::from(n);
        assert!(pct(ok) > 75.0 && pct(ok) < 92.0, "200: {}", pct(ok));
        assert!(pct(nf) > 0.5 && pct(nf) < 5.0, "404: {}", pct(nf));
        assert!(pct(nm) > 2.0 && pct(nm) < 15.0, "304: {}", pct(nm));
        assert!(pct(get) > 88.0, "GET: {}", pct(get));
        assert!(post > 0 && head > 0);
        assert!(
            pct(scan) > 0.2 && pct(scan) < 5.0,
            "scanners: {}",
            pct(scan)
        );
        assert!(pct(bots) > 3.0, "crawlers: {}", pct(bots));
        assert!(pct(assets) > 20.0, "assets: {}", pct(assets));
        // Heavy-tailed activity: the busiest client sends far more than the average.
        let max = *clients.values().max().unwrap();
        let avg = n as f64 / clients.len() as f64;
        assert!(f64::from(max) > 10.0 * avg, "max {max}, avg {avg}");
    }

    #[test]
    fn scanners_probe_in_bursts_and_can_be_turned_off() {
        let mut g = gen(GenConfig {
            scanners: 3,
            ..Default::default()
        });
        let mut out = Vec::new();
        let mut first = None;
        let mut last = 0;
        for i in 0..5_000u64 {
            g.next_line(&mut out);
            let h = g.last_hit().unwrap();
            if h.actor == Actor::Scanner {
                first.get_or_insert(i);
                last = i;
                assert!(pools::PROBES.iter().any(|p| p.1.as_bytes() == h.target));
            }
        }
        assert!(first.unwrap() < 700, "the first burst comes early");
        assert!(last > 1500);
        let mut g = gen(GenConfig {
            scanners: 0,
            ..Default::default()
        });
        for _ in 0..50_000 {
            g.next_line(&mut out);
            assert_ne!(g.last_hit().unwrap().actor, Actor::Scanner);
        }
    }

    #[test]
    fn weighted_paths_only() {
        let paths = vec![
            WeightedPath {
                path: "/a".into(),
                weight: 3.0,
            },
            WeightedPath {
                path: "/b?x=1".into(),
                weight: 1.0,
            },
        ];
        let mut g = gen(GenConfig {
            paths: PathSource::Weighted(paths),
            scanners: 0,
            ..Default::default()
        });
        let mut out = Vec::new();
        for _ in 0..10_000 {
            g.next_line(&mut out);
            let h = g.last_hit().unwrap();
            assert!(h.target == b"/a" || h.target == b"/b?x=1", "{:?}", h.target);
        }
    }

    #[test]
    fn write_to_writes_count_lines() {
        let mut g = gen(GenConfig {
            count: Some(12_345),
            ..Default::default()
        });
        let mut out = Vec::new();
        assert_eq!(g.write_to(&mut out).unwrap(), 12_345);
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 12_345);
        let mut g = gen(GenConfig {
            count: Some(0),
            ..Default::default()
        });
        assert_eq!(g.write_to(&mut Vec::new()).unwrap(), 0);
    }

    #[test]
    fn endless_stops_on_flag_and_write_errors_carry_the_count() {
        struct Fails(usize);
        impl Write for Fails {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::ErrorKind::BrokenPipe.into());
                }
                self.0 -= 1;
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut g = gen(GenConfig {
            count: None,
            ..Default::default()
        });
        let e = g.write_to(&mut Fails(2)).unwrap_err();
        assert!(e.is_broken_pipe());
        assert!(matches!(e, GenError::Write { lines, .. } if lines > 1000));
        let stop = AtomicBool::new(true);
        assert_eq!(g.write_to_until(&mut Vec::new(), &stop).unwrap(), 0);
    }

    #[test]
    fn paced_output_takes_real_time_and_flushes_per_tick() {
        #[derive(Default)]
        struct Counting {
            bytes: Vec<u8>,
            flushes: usize,
        }
        impl Write for Counting {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.bytes.extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                self.flushes += 1;
                Ok(())
            }
        }
        let mut g = gen(GenConfig {
            count: Some(60),
            rate: Some(200.0),
            ..Default::default()
        });
        let mut w = Counting::default();
        let t0 = Instant::now();
        assert_eq!(g.write_to(&mut w).unwrap(), 60);
        let took = t0.elapsed();
        // 60 lines at 200/s: about 0.3 s (Poisson arrivals, so give it room).
        assert!(took > Duration::from_millis(120), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
        assert!(w.flushes >= 5, "{} flushes", w.flushes);
        assert_eq!(w.bytes.iter().filter(|&&b| b == b'\n').count(), 60);
        // Timestamps advance at the rate: 60 lines span well under a minute.
        let h = g.last_hit().unwrap();
        assert!(h.time.utc - crate::config::DEFAULT_START <= 2);
    }

    #[test]
    fn bad_format_is_reported_with_its_name() {
        let e = Generator::new(GenConfig {
            format: "nosuch".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("nosuch"));
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn custom_formats_with_request_time_and_iso_time() {
        let fmt = r#"$remote_addr [$time_iso8601] $msec "$request" $status $body_bytes_sent $request_time "$http_host" $args $upstream_addr"#;
        let mut g = gen(GenConfig {
            format: fmt.into(),
            ..Default::default()
        });
        let parser = hitstream_format::Parser::new(FormatSpec::from_str_any(fmt).unwrap());
        for _ in 0..5_000 {
            let mut out = Vec::new();
            let mut rec = hitstream_format::Record::new();
            g.next_line(&mut out);
            assert_eq!(
                parser.parse(&out, &mut rec),
                hitstream_format::Outcome::Ok,
                "{}",
                String::from_utf8_lossy(&out)
            );
            let h = g.last_hit().unwrap();
            assert_eq!(rec.request_time_us, Some(h.request_time_us / 1000 * 1000));
            assert_eq!(rec.time.unwrap().utc, h.time.utc);
        }
    }
}
