//! The full analysis set of hitstream, as a mergeable aggregate with no I/O.
//!
//! `hitstream analyze` splits its input into chunks, parses each chunk on its own thread into a
//! [`Partial`], merges the partials and builds a [`Report`]: totals and line outcomes, response
//! sizes (min, max, mean, stddev, exact p50/p90/p99), status codes and classes, methods, top
//! clients and endpoints, error endpoints, unique clients per day, requests per day and hour,
//! the 404 analysis, referers, user agents and the crawler share, request times, browsers and
//! operating systems, static versus dynamic requests, referring sites, and a weekday × hour
//! heat map. Countries and autonomous systems come from a [`GeoLookup`] the caller provides
//! ([`GeoReport::build`]). Counts are exact; memory grows with the number of distinct keys,
//! never with the number of lines. The panels derived from user agents, referers, paths and
//! clients are computed once per distinct key when the report is built, not per line.
//!
//! ```
//! use hitstream_analyze::{Meta, Options, Partial, Report};
//! use hitstream_format::{FormatSpec, Parser, Record};
//!
//! let parser = Parser::new(FormatSpec::from_str_any("common").unwrap());
//! let mut rec = Record::new();
//! let (mut a, mut b) = (Partial::new(&Options::default()), Partial::new(&Options::default()));
//! for (i, line) in [
//!     &br#"h1 - - [01/Jul/1995:00:00:01 -0400] "GET /a HTTP/1.0" 200 10"#[..],
//!     br#"h2 - - [01/Jul/1995:00:00:02 -0400] "GET /b HTTP/1.0" 404 -"#,
//!     br#"h1 - - [01/Jul/1995:01:00:00 -0400] "GET /a HTTP/1.0" 200 30"#,
//! ]
//! .into_iter()
//! .enumerate()
//! {
//!     let outcome = parser.parse(line, &mut rec);
//!     if i % 2 == 0 { a.add(&rec, &outcome) } else { b.add(&rec, &outcome) };
//! }
//! a.merge(b);
//! let report = Report::build(&a, 10, Meta::default());
//! assert_eq!(report.totals.requests, 3);
//! assert_eq!(report.unique_hosts, 2);
//! assert_eq!(report.top_endpoints[0].endpoint, "/a");
//! assert_eq!(report.not_found.count, 1);
//! assert_eq!(report.content_size.max, 30);
//! ```

mod classify;
mod filter;
mod geo;
mod partial;
mod platform;
mod report;
mod url;

pub use classify::{classify, AgentKind, Classifier};
pub use filter::{Bound, Clock, Filter, StatusSet, TimeBasis};
pub use geo::{client_ip, AsnRow, CountryRow, GeoInfo, GeoLookup, GeoReport};
pub use partial::{is_error, Options, Partial, RejectSample, REJECT_SAMPLES};
pub use platform::{Platform, PlatformParser, UNKNOWN};
pub use report::*;
pub use url::{is_static, referring_site, static_extension, Referrer, STATIC_EXTENSIONS};
