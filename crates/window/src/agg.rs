//! The mergeable aggregate of one pane: exact counts, a HyperLogLog of clients, DDSketches of
//! sizes and request times, and a few raw sample lines kept for alert explanations.

use hitstream_format::Record;
use serde::{Deserialize, Serialize};
use sketches_ddsketch::{Config as SketchConfig, DDSketch};

use crate::hll::{Hll, HllForm};
use crate::keymap::{hash_key, KeyMap};

/// Sample lines kept per kind and per (client, pane), and per pane for pane-wide kinds.
pub(crate) const SAMPLES: usize = 3;
/// Distinct methods counted by name per pane; more go to "other" (junk cannot grow memory).
pub(crate) const MAX_METHODS: usize = 32;
const NO_SAMPLES: u32 = u32::MAX;

/// Relative accuracy of the quantile sketches (DDSketch alpha): every reported quantile is
/// within 1 % of the value of an observation of that rank.
pub const QUANTILE_RELATIVE_ERROR: f64 = 0.01;

/// A DDSketch (which has no `Debug` of its own).
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Sketch(pub DDSketch);

impl std::fmt::Debug for Sketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sketch")
            .field("count", &self.0.count())
            .finish()
    }
}

impl Sketch {
    pub fn new() -> Sketch {
        Sketch(DDSketch::new(SketchConfig::defaults()))
    }

    #[inline]
    pub fn add(&mut self, v: f64) {
        self.0.add(v);
    }

    /// Merges; sketches of this crate share one config, so this cannot fail (a foreign
    /// sketch is refused by [`Sketch::merge_checked`]).
    pub fn merge(&mut self, o: &Sketch) {
        let _ = self.0.merge(&o.0);
    }

    pub fn merge_checked(&mut self, o: &Sketch) -> Option<()> {
        self.0.merge(&o.0).ok()
    }
}

/// Up to [`SAMPLES`] ranges into a pane's text arena.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Slots {
    n: u8,
    r: [(u32, u32); SAMPLES],
}

impl Slots {
    #[inline]
    pub fn is_full(&self) -> bool {
        usize::from(self.n) >= SAMPLES
    }

    /// Appends `line` (cut to `max` bytes) to `text` and remembers where.
    #[inline]
    fn push(&mut self, text: &mut Vec<u8>, line: &[u8], max: usize) {
        if self.is_full() {
            return;
        }
        let line = &line[..line.len().min(max)];
        let Ok(start) = u32::try_from(text.len()) else {
            return;
        };
        if u32::try_from(text.len() + line.len()).is_err() {
            return;
        }
        text.extend_from_slice(line);
        self.r[usize::from(self.n)] = (start, line.len() as u32);
        self.n += 1;
    }

    /// The lines, resolved against `text`.
    pub fn lines<'t>(&self, text: &'t [u8]) -> impl Iterator<Item = &'t [u8]> + 't {
        let r = self.r;
        (0..usize::from(self.n)).map(move |i| {
            let (s, l) = r[i];
            &text[s as usize..(s + l) as usize]
        })
    }

    /// Appends `other`'s lines (resolved against `other_text`) into `text` while room is left.
    fn absorb(&mut self, text: &mut Vec<u8>, other: &Slots, other_text: &[u8], max: usize) {
        for l in other.lines(other_text) {
            if self.is_full() {
                break;
            }
            self.push(text, l, max);
        }
    }

    fn valid(&self, text_len: usize) -> bool {
        usize::from(self.n) <= SAMPLES
            && self.r[..usize::from(self.n)].iter().all(|&(s, l)| {
                (s as usize)
                    .checked_add(l as usize)
                    .is_some_and(|e| e <= text_len)
            })
    }
}

/// Sample lines of one client in one pane.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ClientSamples {
    /// Any request, kept once the client is busy.
    pub busy: Slots,
    /// 404 responses.
    pub not_found: Slots,
    /// 401 and 403 responses.
    pub auth: Slots,
}

/// Per-client counts in a pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ClientStat {
    pub requests: u64,
    pub bytes: u64,
    pub not_found: u64,
    pub auth: u64,
    /// Index into the pane's sample list, or `NO_SAMPLES`.
    samples: u32,
}

impl ClientStat {
    fn new() -> ClientStat {
        ClientStat {
            requests: 0,
            bytes: 0,
            not_found: 0,
            auth: 0,
            samples: NO_SAMPLES,
        }
    }
}

/// Per-endpoint counts in a pane.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PageStat {
    pub hits: u64,
    /// Error responses: status 400 to 599, as `analyze` and the dashboard count them (a line
    /// without a status is not an error).
    pub errors: u64,
}

/// What one pane (or one batch's share of a pane) has counted.
#[derive(Debug, Clone)]
pub(crate) struct Agg {
    pub requests: u64,
    pub bytes: u64,
    /// (status, count), in order of first appearance: a server answers with few codes.
    pub status: Vec<(u16, u64)>,
    pub no_status: u64,
    pub methods: Vec<(Box<[u8]>, u64)>,
    pub other_methods: u64,
    pub no_method: u64,
    pub clients: KeyMap<ClientStat>,
    pub client_samples: Vec<ClientSamples>,
    pub pages: KeyMap<PageStat>,
    pub hll: Hll,
    pub size: Sketch,
    pub request_time: Sketch,
    /// First lines of the pane with a 5xx status.
    pub s5xx: Slots,
    /// First lines of the pane.
    pub first: Slots,
    /// Arena holding every sample line of this pane.
    pub text: Vec<u8>,
}

impl Agg {
    pub fn new() -> Agg {
        Agg {
            requests: 0,
            bytes: 0,
            status: Vec::new(),
            no_status: 0,
            methods: Vec::new(),
            other_methods: 0,
            no_method: 0,
            clients: KeyMap::default(),
            client_samples: Vec::new(),
            pages: KeyMap::default(),
            hll: Hll::new(),
            size: Sketch::new(),
            request_time: Sketch::new(),
            s5xx: Slots::default(),
            first: Slots::default(),
            text: Vec::new(),
        }
    }

    /// Samples of a client, resolved.
    pub fn client_samples(&self, key: &[u8], hash: u64) -> Option<&ClientSamples> {
        let c = self.clients.get(key, hash)?;
        self.client_samples.get(c.samples as usize)
    }

    /// Counts one record: the per-line path. Allocates only for keys new to this aggregate
    /// (and amortised growth of the sample arena when a client is first seen).
    #[inline]
    pub fn add(&mut self, rec: &Record<'_>, sample_bytes: usize) {
        let line = rec.line();
        self.requests += 1;
        let bytes = rec.bytes.unwrap_or(0);
        self.bytes += bytes;
        if let Some(b) = rec.bytes {
            self.size.add(b as f64);
        }
        if let Some(us) = rec.request_time_us {
            self.request_time.add(us as f64);
        }
        let status = rec.status;
        match status {
            Some(s) => match self.status.iter().position(|(c, _)| *c == s) {
                Some(i) => self.status[i].1 += 1,
                None => self.status.push((s, 1)),
            },
            None => self.no_status += 1,
        }
        let not_found = status == Some(404);
        let auth = matches!(status, Some(401 | 403));
        if matches!(status, Some(500..=599)) {
            self.s5xx.push(&mut self.text, line, sample_bytes);
        }
        if !self.first.is_full() {
            self.first.push(&mut self.text, line, sample_bytes);
        }

        let method = rec.method();
        match method {
            Some(m) => match self.methods.iter().position(|(k, _)| **k == *m) {
                Some(i) => self.methods[i].1 += 1,
                None if self.methods.len() < MAX_METHODS => self.methods.push((m.into(), 1)),
                None => self.other_methods += 1,
            },
            None => self.no_method += 1,
        }

        let client = rec.client().unwrap_or(b"-");
        let h = hash_key(client);
        let cs = self.clients.get_or_insert_with(client, h, ClientStat::new);
        cs.requests += 1;
        cs.bytes += bytes;
        let first_of_client = cs.requests == 1;
        if first_of_client {
            // A HyperLogLog ignores repeats, so each key of this aggregate is added once.
            self.hll.add_hash(h);
        }
        if not_found {
            cs.not_found += 1;
        }
        if auth {
            cs.auth += 1;
        }
        if first_of_client || not_found || auth {
            // A batch keeps its first line of every client as a candidate busy sample; the
            // engine keeps it only for clients that turn out busy.
            if cs.samples == NO_SAMPLES {
                cs.samples = self.client_samples.len() as u32;
                self.client_samples.push(ClientSamples::default());
            }
            let s = &mut self.client_samples[cs.samples as usize];
            if first_of_client {
                s.busy.push(&mut self.text, line, sample_bytes);
            }
            if not_found {
                s.not_found.push(&mut self.text, line, sample_bytes);
            }
            if auth {
                s.auth.push(&mut self.text, line, sample_bytes);
            }
        }

        if method.is_some() {
            let page = rec.path().filter(|p| !p.is_empty()).unwrap_or(b"/");
            let ps = self
                .pages
                .get_or_insert_with(page, hash_key(page), PageStat::default);
            ps.hits += 1;
            if status.is_some_and(|s| (400..=599).contains(&s)) {
                ps.errors += 1;
            }
        }
    }

    /// Turns a batch's aggregate into a pane, as merging it into an empty pane would: busy
    /// samples are kept only for clients with `busy_after` requests, and the arena keeps only
    /// the lines still referenced.
    pub fn into_pane(mut self, busy_after: u64) -> Agg {
        let old = std::mem::take(&mut self.text);
        let mut text = Vec::with_capacity(old.len().min(1 << 16));
        let keep = |slots: &mut Slots, text: &mut Vec<u8>| {
            let mut fresh = Slots::default();
            fresh.absorb(text, slots, &old, usize::MAX);
            *slots = fresh;
        };
        for slot in self.clients.iter() {
            let c = &slot.value;
            let Some(s) = self.client_samples.get_mut(c.samples as usize) else {
                continue;
            };
            if c.requests < busy_after {
                s.busy = Slots::default();
            }
            keep(&mut s.busy, &mut text);
            keep(&mut s.not_found, &mut text);
            keep(&mut s.auth, &mut text);
        }
        keep(&mut self.s5xx, &mut text);
        keep(&mut self.first, &mut text);
        self.text = text;
        self
    }

    /// Adds everything `other` counted. Sample lines are kept while room is left; a client's
    /// busy samples only once it has made `busy_after` requests in this pane.
    pub fn merge(&mut self, other: Agg, busy_after: u64, sample_bytes: usize) {
        let Agg {
            requests,
            bytes,
            status,
            no_status,
            methods,
            other_methods,
            no_method,
            clients,
            client_samples,
            pages,
            hll,
            size,
            request_time,
            s5xx,
            first,
            text,
        } = other;
        self.requests += requests;
        self.bytes += bytes;
        add_status(&mut self.status, &status);
        self.no_status += no_status;
        for (k, v) in methods {
            match self.methods.iter().position(|(x, _)| *x == k) {
                Some(i) => self.methods[i].1 += v,
                None if self.methods.len() < MAX_METHODS => self.methods.push((k, v)),
                None => self.other_methods += v,
            }
        }
        self.other_methods += other_methods;
        self.no_method += no_method;
        for slot in clients.into_slots() {
            let v = slot.value;
            let cs = self
                .clients
                .get_or_insert_owned(slot.key, slot.hash, ClientStat::new);
            cs.requests += v.requests;
            cs.bytes += v.bytes;
            cs.not_found += v.not_found;
            cs.auth += v.auth;
            let Some(os) = client_samples.get(v.samples as usize) else {
                continue;
            };
            let want_busy = cs.requests >= busy_after && os.busy.n > 0;
            let want_nf = os.not_found.n > 0;
            let want_auth = os.auth.n > 0;
            let existing = self.client_samples.get(cs.samples as usize).copied();
            let room = existing.map_or((true, true, true), |s| {
                (!s.busy.is_full(), !s.not_found.is_full(), !s.auth.is_full())
            });
            if !((want_busy && room.0) || (want_nf && room.1) || (want_auth && room.2)) {
                continue;
            }
            if cs.samples == NO_SAMPLES {
                cs.samples = self.client_samples.len() as u32;
                self.client_samples.push(ClientSamples::default());
            }
            let mine = &mut self.client_samples[cs.samples as usize];
            if want_busy {
                mine.busy
                    .absorb(&mut self.text, &os.busy, &text, sample_bytes);
            }
            if want_nf {
                mine.not_found
                    .absorb(&mut self.text, &os.not_found, &text, sample_bytes);
            }
            if want_auth {
                mine.auth
                    .absorb(&mut self.text, &os.auth, &text, sample_bytes);
            }
        }
        for slot in pages.into_slots() {
            let p = self
                .pages
                .get_or_insert_owned(slot.key, slot.hash, PageStat::default);
            p.hits += slot.value.hits;
            p.errors += slot.value.errors;
        }
        self.hll.merge(&hll);
        self.size.merge(&size);
        self.request_time.merge(&request_time);
        self.s5xx.absorb(&mut self.text, &s5xx, &text, sample_bytes);
        self.first
            .absorb(&mut self.text, &first, &text, sample_bytes);
    }

    pub fn to_snap(&self) -> AggSnap {
        AggSnap {
            requests: self.requests,
            bytes: self.bytes,
            status: {
                let mut v = self.status.clone();
                v.sort_unstable();
                v
            },
            no_status: self.no_status,
            methods: self.methods.iter().map(|(k, v)| (k.to_vec(), *v)).collect(),
            other_methods: self.other_methods,
            no_method: self.no_method,
            clients: self
                .clients
                .sorted()
                .into_iter()
                .map(|s| (s.key.to_vec(), s.value))
                .collect(),
            client_samples: self.client_samples.clone(),
            pages: self
                .pages
                .sorted()
                .into_iter()
                .map(|s| (s.key.to_vec(), s.value))
                .collect(),
            hll: self.hll.to_form(),
            size: self.size.clone(),
            request_time: self.request_time.clone(),
            s5xx: self.s5xx,
            first: self.first,
            text: self.text.clone(),
        }
    }

    pub fn from_snap(s: AggSnap) -> Option<Agg> {
        let tl = s.text.len();
        let status = s.status;
        let mut codes: Vec<u16> = status.iter().map(|(c, _)| *c).collect();
        codes.dedup();
        if codes.len() != status.len()
            || s.methods.len() > MAX_METHODS
            || !s.s5xx.valid(tl)
            || !s.first.valid(tl)
            || !s
                .client_samples
                .iter()
                .all(|c| c.busy.valid(tl) && c.not_found.valid(tl) && c.auth.valid(tl))
        {
            return None;
        }
        let mut clients = KeyMap::default();
        for (k, v) in s.clients {
            if v.samples != NO_SAMPLES && v.samples as usize >= s.client_samples.len() {
                return None;
            }
            let h = hash_key(&k);
            *clients.get_or_insert_owned(k.into_boxed_slice(), h, ClientStat::new) = v;
        }
        let mut pages = KeyMap::default();
        for (k, v) in s.pages {
            let h = hash_key(&k);
            *pages.get_or_insert_owned(k.into_boxed_slice(), h, PageStat::default) = v;
        }
        // A sketch with another config would not merge later; refuse it now.
        let mut size = Sketch::new();
        size.merge_checked(&s.size)?;
        let mut request_time = Sketch::new();
        request_time.merge_checked(&s.request_time)?;
        Some(Agg {
            requests: s.requests,
            bytes: s.bytes,
            status,
            no_status: s.no_status,
            methods: s
                .methods
                .into_iter()
                .map(|(k, v)| (k.into_boxed_slice(), v))
                .collect(),
            other_methods: s.other_methods,
            no_method: s.no_method,
            clients,
            client_samples: s.client_samples,
            pages,
            hll: Hll::from_form(s.hll)?,
            size,
            request_time,
            s5xx: s.s5xx,
            first: s.first,
            text: s.text,
        })
    }
}

/// Adds counts by status.
pub(crate) fn add_status(to: &mut Vec<(u16, u64)>, from: &[(u16, u64)]) {
    for &(code, c) in from {
        match to.iter().position(|(x, _)| *x == code) {
            Some(i) => to[i].1 += c,
            None => to.push((code, c)),
        }
    }
}

impl AggSnap {
    /// Rebuilds the HyperLogLog of unique clients from the client map with the current
    /// [`hash_key`], for a snapshot whose registers were made with another hash (format
    /// version 2: foldhash). Exact: a pane's client map holds every client it counted (it has
    /// no cap and drops no key), and its registers are those of the union of the hashes of
    /// exactly those keys (each key is added once per aggregate, and merging is a union), so
    /// this gives the registers the current hash would have made from the same lines.
    pub(crate) fn rehash_clients(&mut self) {
        let mut h = Hll::new();
        for (k, _) in &self.clients {
            h.add_hash(hash_key(k));
        }
        self.hll = h.to_form();
    }
}

/// The serialized form of an [`Agg`] (maps as key-sorted lists, so equal states give equal
/// bytes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AggSnap {
    requests: u64,
    bytes: u64,
    status: Vec<(u16, u64)>,
    no_status: u64,
    methods: Vec<(Vec<u8>, u64)>,
    other_methods: u64,
    no_method: u64,
    clients: Vec<(Vec<u8>, ClientStat)>,
    client_samples: Vec<ClientSamples>,
    pages: Vec<(Vec<u8>, PageStat)>,
    hll: HllForm,
    size: Sketch,
    request_time: Sketch,
    s5xx: Slots,
    first: Slots,
    text: Vec<u8>,
}
