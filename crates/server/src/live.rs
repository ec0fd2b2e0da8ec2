//! What the server knows of a running pipeline: its latest status, the recent windows and
//! alerts, and traffic counters, kept up to date by one thread that reads the pipeline's
//! events. Handlers read snapshots; server-sent-event clients get pushes.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hitstream_runtime::{Event, Status, Watch};
use hitstream_window::{Alert, WindowResult};
use serde::Serialize;
use tokio::sync::broadcast;

/// Windows kept for the charts (the latest revision of each).
pub const KEEP_WINDOWS: usize = 720;
/// Alerts kept for the alerts panel.
pub const KEEP_ALERTS: usize = 200;
/// How often SSE clients get the status, at least.
pub const PUSH_EVERY: Duration = Duration::from_secs(1);

/// One push to the server-sent-event clients: the event name and its JSON.
#[derive(Debug, Clone)]
pub struct Push {
    /// `status`, `window`, `alert`, `note` or `end`.
    pub kind: &'static str,
    /// The event's JSON.
    pub data: Arc<str>,
}

/// Traffic since the server started watching, from the emitted windows: requests by status
/// class and by method, and bytes.
///
/// Each line counts once: only windows that start at a multiple of their length are added
/// (with sliding windows those are a partition of time; with tumbling windows, all of
/// them), and a late update adds what it adds over the emission it replaces.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Traffic {
    /// Requests.
    pub requests: u64,
    /// Response bytes.
    pub bytes: u64,
    /// Requests by status class (`1xx` .. `5xx`, `other`).
    pub classes: BTreeMap<&'static str, u64>,
    /// Requests by method: the methods of HTTP and WebDAV ([`METHODS`]) by name, every other
    /// one as `other`. Methods come from log lines: a scanner sending random ones must not
    /// grow this map (nor `/metrics`, whose series come from it).
    pub methods: BTreeMap<String, u64>,
}

/// The methods counted by name in [`Traffic`]; anything else is `other`.
pub const METHODS: [&str; 15] = [
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "OPTIONS",
    "PATCH",
    "CONNECT",
    "TRACE",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
];

/// The name a method is counted under: itself if known, `other` otherwise.
pub fn method_label(m: &str) -> &'static str {
    METHODS
        .iter()
        .find(|k| **k == m)
        .copied()
        .unwrap_or("other")
}

#[derive(Debug, Default, Clone)]
struct Counted {
    requests: u64,
    bytes: u64,
    classes: [u64; 6],
    methods: BTreeMap<String, u64>,
}

const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

fn counted(w: &WindowResult) -> Counted {
    let c = &w.status_classes;
    Counted {
        requests: w.requests,
        bytes: w.bytes,
        classes: [
            c.informational,
            c.success,
            c.redirection,
            c.client_error,
            c.server_error,
            c.other,
        ],
        methods: w.methods.iter().map(|m| (m.key.clone(), m.count)).collect(),
    }
}

#[derive(Debug, Default)]
struct State {
    status: Status,
    windows: BTreeMap<(i64, i64), Arc<WindowResult>>,
    alerts: VecDeque<Arc<Alert>>,
    traffic: Traffic,
    counted: BTreeMap<i64, Counted>,
    ended: bool,
}

impl State {
    fn window(&mut self, w: Arc<WindowResult>) {
        let len = w.window_end - w.window_start;
        if len > 0 && w.window_start.rem_euclid(len) == 0 {
            let now = counted(&w);
            let before = self.counted.remove(&w.window_start).unwrap_or_default();
            let t = &mut self.traffic;
            t.requests += now.requests.saturating_sub(before.requests);
            t.bytes += now.bytes.saturating_sub(before.bytes);
            for (i, name) in CLASSES.iter().enumerate() {
                let add = now.classes[i].saturating_sub(before.classes[i]);
                *t.classes.entry(name).or_default() += add;
            }
            for (m, n) in &now.methods {
                let add = n.saturating_sub(before.methods.get(m).copied().unwrap_or(0));
                if add > 0 {
                    *t.methods.entry(method_label(m).to_string()).or_default() += add;
                }
            }
            self.counted.insert(w.window_start, now);
            while self.counted.len() > KEEP_WINDOWS {
                self.counted.pop_first();
            }
        }
        self.windows.insert((w.window_start, w.window_end), w);
        while self.windows.len() > KEEP_WINDOWS {
            self.windows.pop_first();
        }
    }
}

/// The live side of the server: a snapshot of the pipeline, shared with the handlers.
#[derive(Debug)]
pub struct Live {
    state: Mutex<State>,
    pushes: broadcast::Sender<Push>,
    watch: Option<Watch>,
}

impl Live {
    /// Watches a pipeline: a thread reads its events until it ends. Call before the
    /// pipeline starts to see every window it emits.
    pub fn watch(watch: Watch) -> Arc<Live> {
        let events = watch.subscribe();
        let live = Arc::new(Live {
            state: Mutex::new(State {
                status: watch.status(),
                ..State::default()
            }),
            pushes: broadcast::channel(1024).0,
            watch: Some(watch),
        });
        let feeder = live.clone();
        std::thread::Builder::new()
            .name("hitstream-http-feed".into())
            .spawn(move || feeder.feed(events))
            .expect("spawning the dashboard feed thread");
        live
    }

    /// No pipeline (`hitstream serve`): empty live panels, history only.
    pub fn none() -> Arc<Live> {
        Arc::new(Live {
            state: Mutex::new(State {
                ended: true,
                ..State::default()
            }),
            pushes: broadcast::channel(16).0,
            watch: None,
        })
    }

    /// A live side whose pipeline has not ended and pushes nothing (tests of the streams).
    #[cfg(test)]
    pub(crate) fn idle() -> Arc<Live> {
        Arc::new(Live {
            state: Mutex::new(State::default()),
            pushes: broadcast::channel(16).0,
            watch: None,
        })
    }

    /// Pushes `data` as an event of `kind` to every stream (tests of slow streams).
    #[cfg(test)]
    pub(crate) fn push_raw(&self, kind: &'static str, data: &str) {
        let _ = self.pushes.send(Push {
            kind,
            data: data.into(),
        });
    }

    /// Whether a pipeline is watched.
    pub fn has_pipeline(&self) -> bool {
        self.watch.is_some()
    }

    fn feed(&self, events: crossbeam_channel::Receiver<Event>) {
        let mut last_push = Instant::now()
            .checked_sub(PUSH_EVERY)
            .unwrap_or_else(Instant::now);
        loop {
            let wait = PUSH_EVERY.saturating_sub(last_push.elapsed());
            match events.recv_timeout(wait) {
                Ok(Event::Window(w)) => {
                    self.lock().window(w.clone());
                    self.push("window", &*w);
                }
                Ok(Event::Alert(a)) => {
                    {
                        let mut st = self.lock();
                        st.alerts.push_back(a.clone());
                        while st.alerts.len() > KEEP_ALERTS {
                            st.alerts.pop_front();
                        }
                    }
                    self.push("alert", &*a);
                }
                Ok(Event::Note(n)) => self.push("note", &*n),
                Ok(Event::Checkpoint { .. }) => {}
                Ok(Event::End) | Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    self.lock().ended = true;
                    self.push("status", &self.status_json());
                    self.push("end", &true);
                    return;
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            }
            if last_push.elapsed() >= PUSH_EVERY {
                self.push("status", &self.status_json());
                last_push = Instant::now();
            }
        }
    }

    fn refresh(&self) {
        if let Some(w) = &self.watch {
            let st = w.status();
            self.lock().status = st;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panicking handler cannot leave the snapshot half-written in a way that matters:
        // every update replaces whole values.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push<T: Serialize + ?Sized>(&self, kind: &'static str, v: &T) {
        if let Ok(s) = serde_json::to_string(v) {
            // No receivers is fine: nobody has the page open.
            let _ = self.pushes.send(Push {
                kind,
                data: s.into(),
            });
        }
    }

    /// A receiver of the pushes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Push> {
        self.pushes.subscribe()
    }

    /// The latest status.
    pub fn status(&self) -> Status {
        self.refresh();
        self.lock().status.clone()
    }

    /// Whether the watched pipeline has ended (or there is none).
    pub fn ended(&self) -> bool {
        self.lock().ended
    }

    /// Waits up to `limit` for the feed to see the pipeline's end (when it is stopping).
    pub fn wait_ended(&self, limit: Duration) {
        let t = Instant::now();
        while !self.ended() && t.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The status as the API serves it: the pipeline's status plus the watermark's delay
    /// behind the wall clock (null before the first event and after the end), and whether a
    /// pipeline runs.
    pub fn status_json(&self) -> serde_json::Value {
        self.refresh();
        let (st, ended) = {
            let g = self.lock();
            (g.status.clone(), g.ended)
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut v = serde_json::to_value(&st).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("live".into(), self.has_pipeline().into());
            o.insert("ended".into(), ended.into());
            o.insert("now".into(), now.into());
            // Once the pipeline or its input ended, the watermark no longer follows the clock:
            // a delay would only grow, so there is none (null), and `ended` says why.
            let delay = st
                .watermark
                .filter(|_| !(ended || st.input_ended))
                .map(|w| now.saturating_sub(w));
            o.insert("watermark_delay_seconds".into(), delay.into());
            let sum = |pick: fn(&hitstream_runtime::Lag) -> Option<u64>| {
                let known: Vec<u64> = st.sources.iter().filter_map(|s| pick(&s.lag)).collect();
                (!known.is_empty()).then(|| known.iter().sum::<u64>())
            };
            o.insert("lag_bytes".into(), sum(|l| l.bytes).into());
            o.insert("lag_records".into(), sum(|l| l.records).into());
        }
        v
    }

    /// The most recent windows, oldest first (at most `n`).
    pub fn windows(&self, n: usize) -> Vec<Arc<WindowResult>> {
        let st = self.lock();
        let skip = st.windows.len().saturating_sub(n);
        st.windows.values().skip(skip).cloned().collect()
    }

    /// The most recent alerts, newest first (at most `n`).
    pub fn alerts(&self, n: usize) -> Vec<Arc<Alert>> {
        self.lock().alerts.iter().rev().take(n).cloned().collect()
    }

    /// Traffic counted from the windows seen.
    pub fn traffic(&self) -> Traffic {
        self.lock().traffic.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(start: i64, len: i64, requests: u64, revision: u32) -> Arc<WindowResult> {
        let mut w: WindowResult = serde_json::from_value(serde_json::json!({
            "window_start": start, "window_end": start + len,
            "window_start_rfc3339": "", "window_end_rfc3339": "",
            "revision": revision, "update": revision > 0, "watermark": start + len,
            "requests": requests, "bytes": requests * 10,
            "status": [], "status_classes": {"1xx": 0, "2xx": requests, "3xx": 0, "4xx": 0, "5xx": 0, "other": 0},
            "methods": [{"key": "GET", "count": requests}],
            "not_found": 0, "server_errors": 0, "top_pages": [], "top_clients": [],
            "top_error_endpoints": [], "unique_clients": 1,
            "size": {"count": 0}, "request_time_us": {"count": 0}, "late_total": 0
        }))
        .unwrap();
        w.revision = revision;
        Arc::new(w)
    }

    #[test]
    fn traffic_counts_each_line_once_across_updates_and_slides() {
        let mut st = State::default();
        st.window(window(0, 60, 10, 0));
        // A sliding window that overlaps: not counted again.
        st.window(window(30, 60, 12, 0));
        // A late update of the first: adds its difference only.
        st.window(window(0, 60, 13, 1));
        st.window(window(60, 60, 5, 0));
        assert_eq!(st.traffic.requests, 18);
        assert_eq!(st.traffic.bytes, 180);
        assert_eq!(st.traffic.classes["2xx"], 18);
        assert_eq!(st.traffic.methods["GET"], 18);
        // Windows keep their latest revision.
        assert_eq!(st.windows[&(0, 60)].requests, 13);
        assert_eq!(st.windows.len(), 3);
    }

    #[test]
    fn methods_from_logs_are_known_ones_or_other() {
        let mut st = State::default();
        for i in 0..1860i64 {
            let mut w = (*window(i * 60, 60, 1, 0)).clone();
            w.methods[0].key = if i % 10 == 0 {
                "POST".into()
            } else {
                format!("X{i:x}Z")
            };
            st.window(Arc::new(w));
        }
        assert_eq!(st.traffic.requests, 1860);
        let keys: Vec<&str> = st.traffic.methods.keys().map(String::as_str).collect();
        assert_eq!(keys, ["POST", "other"]);
        assert_eq!(st.traffic.methods["other"], 1860 - 186);
    }
}
