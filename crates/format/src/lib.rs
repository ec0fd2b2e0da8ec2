//! Access-log formats and the line parser of hitstream.
//!
//! This crate knows how web servers write access logs and turns one line into a [`Record`]:
//! client, time, request, status, size, referer, user agent and the rest. It does no I/O, so
//! every reader (files, tail, sockets, Kafka) shares it.
//!
//! - Formats come from presets ([`PRESETS`]: `common`, `combined`, `vcombined`, `debian`,
//!   `nginx`, `main`, `nasa`), from nginx `log_format` strings or from Apache `LogFormat`
//!   strings, compiled into a [`FormatSpec`]; [`detect`] picks a preset from sample lines.
//! - [`Parser::parse`] walks the format over the bytes of a line, with no regex and no
//!   allocation unless a field has escapes to decode. Real logs are messy, so every line ends
//!   as an [`Outcome`]: ok, degraded (parsed, with each [`Oddity`] recorded) or rejected (with a
//!   [`RejectReason`]). Nothing panics and nothing is dropped without a reason.
//!
//! ```
//! use hitstream_format::{FormatSpec, Outcome, Parser, Record, Text};
//!
//! let parser = Parser::new(FormatSpec::from_str_any("combined").unwrap());
//! let mut rec = Record::new();
//! let line = br#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET /a?b=1 HTTP/1.0" 200 2326 "-" "curl/8""#;
//! assert_eq!(parser.parse(line, &mut rec), Outcome::Ok);
//! assert_eq!(rec.path(), Some(&b"/a"[..]));
//! assert_eq!(rec.get(Text::Query), Some(&b"b=1"[..]));
//! assert_eq!(rec.status, Some(200));
//! assert_eq!(rec.time.unwrap().local_hour(), 13);
//! ```

mod detect;
mod error;
mod parse;
mod record;
mod spec;
pub mod time;

pub use detect::{detect, rank, Candidate, Detection, Ranking, GIVE_FORMAT_HINT};
pub use error::FormatError;
pub use parse::{unescape_into, Parser};
pub use record::{Oddities, Oddity, Outcome, Record, RejectReason, Text, ODDITY_COUNT, TEXT_COUNT};
pub use spec::{closest_preset, preset, FieldKind, FormatSpec, Preset, Syntax, Token, PRESETS};
pub use time::LogTime;
