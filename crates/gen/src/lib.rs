//! Synthetic web-server access logs: realistic, seeded, fast.
//!
//! This crate is the engine of `hitstream gen`. It writes the traffic of an imaginary web site
//! in any log format of [`hitstream_format`] (every preset of [`hitstream_format::PRESETS`],
//! and nginx/Apache format strings with known fields), so that the rest of hitstream (and
//! anything else that reads access logs) can be tried, tested and benchmarked without real
//! logs.
//!
//! What the traffic looks like:
//!
//! - **Pages** of a generated site (home, blog posts, products, categories, docs, search,
//!   forms, downloads) requested with Zipf popularity, with query strings now and then; or
//!   exactly the paths and weights given ([`PathSource::Weighted`]).
//! - **Clients** from a fixed pool with heavy-tailed (Zipf) activity: browsers with real user
//!   agents, which fetch a page's CSS, JS, fonts and images after it (referer: the page) and
//!   follow links (referer: the previous page); crawlers (Googlebot, bingbot...) from their
//!   real address blocks, starting with `/robots.txt`; API scripts, uptime monitors and feed
//!   readers.
//! - **Scanners** that wake up now and then and probe `/wp-login.php`, `/.env`,
//!   `/phpmyadmin/`... in dense bursts, mostly getting 404s.
//! - **Statuses** mostly 200, with 304 for cached assets, 301/302 redirects, 404 for dead
//!   links, 5xx now and then; **sizes** per file, heavy-tailed (Pareto downloads), written as
//!   each server writes them (`-` for an empty body with Apache `%b`, `0` with nginx, headers
//!   included with `%O`).
//! - **Time** advancing by exponential gaps (Poisson arrivals) at the event rate, from a fixed
//!   start (2026-01-01T00:00:00Z by default), in the configured UTC offset.
//!
//! A [`Generator`] holds all its state (no globals); the same [`GenConfig`] gives the same
//! bytes. Lines go into a `Vec<u8>` ([`Generator::next_line`], [`Generator::fill`]) or to any
//! [`std::io::Write`] ([`Generator::write_to`]), paced in real time when a rate is set.
//!
//! ```
//! use hitstream_format::{FormatSpec, Outcome, Parser, Record};
//! use hitstream_gen::{GenConfig, Generator};
//!
//! let config = GenConfig { format: "nginx".into(), seed: 7, ..GenConfig::default() };
//! let mut gen = Generator::new(config.clone()).unwrap();
//! let mut buf = Vec::new();
//! gen.fill(&mut buf, 100);
//!
//! // Every line parses cleanly in its format.
//! let parser = Parser::new(FormatSpec::from_str_any("nginx").unwrap());
//! let mut rec = Record::new();
//! for line in buf.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
//!     assert_eq!(parser.parse(line, &mut rec), Outcome::Ok);
//! }
//! // The last line's fields are known to the generator.
//! assert_eq!(rec.status, Some(gen.last_hit().unwrap().status));
//!
//! // Same configuration, same bytes.
//! let mut again = Vec::new();
//! Generator::new(config).unwrap().fill(&mut again, 100);
//! assert_eq!(buf, again);
//! ```

mod config;
mod error;
mod generator;
mod pools;
mod render;
mod rng;
mod site;

pub use config::{
    parse_utc_offset, parse_weighted_paths, GenConfig, PathSource, WeightedPath, DEFAULT_CLIENTS,
    DEFAULT_COUNT, DEFAULT_EVENT_RATE, DEFAULT_HOST, DEFAULT_PAGES, DEFAULT_SCANNERS, DEFAULT_SEED,
    DEFAULT_START, DEFAULT_ZIPF,
};
pub use error::GenError;
pub use generator::{Actor, Generator, Hit};
