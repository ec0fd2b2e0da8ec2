//! Event-time windows, watermarks, mergeable aggregates and sketches, and alert rules: the
//! engine behind `hitstream run`. No I/O: callers pass records and times in.
//!
//! # Model
//!
//! - **Event time** is the line's own time (`Record::time`, UTC seconds). Windows are
//!   `[start, start + size)`, with starts on multiples of the slide (from the epoch, plus
//!   [`EngineConfig::align_offset`]). Tumbling windows have slide = size; sliding windows
//!   (`--window 60s --slide 10s`) overlap and every event is in size/slide of them.
//! - **Panes**: state is kept per slide-sized pane (a `BTreeMap` by pane start). A window is
//!   the merge of its panes; every aggregate merges (exact counts, a HyperLogLog, DDSketches).
//! - **Batches, not events, move time.** A worker thread builds a [`PaneBatch`] from one input
//!   batch by feeding parsed records ([`PaneBatch::add`]); the engine applies batches in
//!   sequence order ([`Engine::apply`]) and then moves the **watermark** to (largest event
//!   time seen − lateness L). A window **fires** when the watermark reaches its end. It keeps
//!   accepting late events until the watermark reaches end + L: each such event re-emits the
//!   window as an update (`revision` + 1, `update = true`). Older events are **late**: counted
//!   and returned with their raw line ([`LateLine`]), never dropped silently.
//! - **Horizon**: each batch carries the oldest event time it accepts (its [`BatchSpec`]), so
//!   workers classify late lines themselves and keep only those lines' text. Batch `n` uses
//!   the horizon as it stood after batch `n − in_flight` was applied
//!   ([`EngineConfig::in_flight`]): with at most `in_flight` batches between creation and
//!   application, results are a function of the batch sequence alone, whatever the thread
//!   timing — which exactly-once replay needs. (So lines may be accepted up to `in_flight`
//!   batches beyond L; never less than L.)
//! - **Idle and end**: [`Engine::advance_idle`] moves the watermark by processing time when the
//!   input is quiet; [`Engine::finish`] moves it to the end of time so every window fires.
//! - **Memory** is bounded by what the lateness can still reach: a pane is dropped once no
//!   batch still to come can touch a window that contains it (about (size + 2 L) / slide
//!   panes are held), window revisions, spike baselines and alert cooldowns likewise. Per-key
//!   state (exact counts by client and page, a few sample lines) lives only in retained panes,
//!   so memory follows the traffic of the last few minutes, never the length of the run
//!   ([`EngineStats::keys`]). Per-line work allocates only for keys new to a batch's pane.
//! - **Outputs** are plain serde structs with stable field names: [`WindowResult`] per
//!   emitted window (requests, bytes, statuses and classes, methods, top pages, top clients,
//!   top error endpoints, 404s, unique clients by HyperLogLog with standard error 0.81 %,
//!   size and request-time quantiles by DDSketch within 1 % relative error) and [`Alert`]
//!   (see [`alert`]).
//! - **Snapshots**: [`Engine::snapshot`] and [`Engine::restore`] save and load all state
//!   (panes, retained windows, watermark, horizons of batches in flight, cooldowns, counters).
//!
//! # Example
//!
//! ```
//! use hitstream_format::{FormatSpec, Parser, Record};
//! use hitstream_window::{Engine, EngineConfig};
//!
//! let parser = Parser::new(FormatSpec::from_str_any("common").unwrap());
//! // One-minute tumbling windows, ten seconds of allowed lateness.
//! let mut engine = Engine::new(EngineConfig::tumbling(60, 10)).unwrap();
//!
//! let lines: [&[u8]; 4] = [
//!     br#"h1 - - [01/Jul/1995:00:00:01 -0400] "GET /a HTTP/1.0" 200 100"#,
//!     br#"h2 - - [01/Jul/1995:00:00:30 -0400] "GET /b?q=1 HTTP/1.0" 404 -"#,
//!     br#"h1 - - [01/Jul/1995:00:01:05 -0400] "GET /a HTTP/1.0" 200 300"#,
//!     br#"h3 - - [01/Jul/1995:00:01:20 -0400] "POST /a HTTP/1.0" 200 50"#,
//! ];
//! // A batch per input chunk (here: two lines each); batches could be built on any thread.
//! let mut windows = Vec::new();
//! let mut rec = Record::new();
//! for chunk in lines.chunks(2) {
//!     let mut batch = engine.new_batch();
//!     for line in chunk {
//!         if parser.parse(line, &mut rec).is_usable() {
//!             batch.add(&rec);
//!         }
//!     }
//!     windows.extend(engine.apply(batch).unwrap().windows);
//! }
//! // Watermark: 00:01:20 − 10 s, past the end of the first minute, which fired.
//! assert_eq!(windows.len(), 1);
//! assert_eq!(windows[0].window_start_rfc3339, "1995-07-01T04:00:00Z");
//! assert_eq!((windows[0].requests, windows[0].not_found), (2, 1));
//! assert_eq!(windows[0].top_pages[0].key, "/a");
//!
//! // End of input: the second minute fires too.
//! let last = engine.finish().windows;
//! assert_eq!(last[0].requests, 2);
//! assert_eq!(last[0].methods[0].key, "GET");
//! assert_eq!(last[0].unique_clients, 2);
//! assert_eq!(last[0].size.max, Some(300));
//! ```

pub mod alert;

mod agg;
mod batch;
mod config;
mod engine;
pub mod hll;
mod keymap;
mod result;

pub use agg::QUANTILE_RELATIVE_ERROR;
pub use alert::{Alert, Rule};
pub use batch::{BatchSpec, Disposition, LateLine, LateReason, PaneBatch};
pub use config::{parse_secs, ConfigError, EngineConfig};
pub use engine::{ApplyError, Engine, EngineStats, Output, SnapshotError, SNAPSHOT_VERSION};
pub use result::{
    rfc3339, ClientCount, KeyCount, Quantiles, StatusClasses, StatusCount, WindowResult,
};
