//! The parsed form of one line, and what became of it.

use crate::time::LogTime;

/// Text fields of a record. Values are bytes: logs are not always UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Text {
    /// Client address or host name, as written (an IP, `[v6]`, a name, `X.X.X.X`...).
    Client = 0,
    /// Ident (`%l`), usually `-`.
    Ident,
    /// Authenticated user, `-` when none.
    User,
    /// The whole request line, unescaped.
    Request,
    /// Request method (`GET`), absent for junk or empty requests.
    Method,
    /// Request target as written after removing an absolute URI's scheme and host: path and query.
    Uri,
    /// Path without the query string.
    Path,
    /// Query string without its `?`.
    Query,
    /// Protocol (`HTTP/1.1`), absent for HTTP/0.9-style requests.
    Protocol,
    /// Referer header.
    Referer,
    /// User-Agent header.
    UserAgent,
    /// Virtual host (`%v`, `$server_name`).
    Vhost,
    /// Host header or the host of an absolute-URI request.
    Host,
    /// X-Forwarded-For header.
    XForwardedFor,
    /// Request body (`$request_body`).
    RequestBody,
    /// Upstream response time as written (may be a list).
    UpstreamTime,
}

/// Number of [`Text`] variants.
pub const TEXT_COUNT: usize = 16;

impl Text {
    /// Every text field, in declaration order.
    pub const ALL: [Text; TEXT_COUNT] = [
        Text::Client,
        Text::Ident,
        Text::User,
        Text::Request,
        Text::Method,
        Text::Uri,
        Text::Path,
        Text::Query,
        Text::Protocol,
        Text::Referer,
        Text::UserAgent,
        Text::Vhost,
        Text::Host,
        Text::XForwardedFor,
        Text::RequestBody,
        Text::UpstreamTime,
    ];

    /// Stable snake_case name, used in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Text::Client => "client",
            Text::Ident => "ident",
            Text::User => "user",
            Text::Request => "request",
            Text::Method => "method",
            Text::Uri => "uri",
            Text::Path => "path",
            Text::Query => "query",
            Text::Protocol => "protocol",
            Text::Referer => "referer",
            Text::UserAgent => "user_agent",
            Text::Vhost => "vhost",
            Text::Host => "host",
            Text::XForwardedFor => "x_forwarded_for",
            Text::RequestBody => "request_body",
            Text::UpstreamTime => "upstream_time",
        }
    }
}

/// Where a field's bytes are: in the line itself, or in the record's scratch buffer when the
/// field had escapes that were decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: u32,
    pub end: u32,
    pub scratch: bool,
}

/// Oddities a line can have and still be used. A line may have several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Oddity {
    /// A `"` inside a quoted field without a backslash; the field was recovered.
    UnescapedQuote = 0,
    /// A quoted field never closed; it runs to the end of the line.
    UnterminatedQuote,
    /// Request without a protocol (HTTP/0.9 style: `GET /x`).
    NoProtocol,
    /// Protocol that is not `HTTP/d.d` (`HTTP/V1.0`).
    BadProtocol,
    /// Spaces inside the request target.
    SpaceInPath,
    /// Request line that is not HTTP at all (TLS handshakes, binary junk, probes).
    NonHttpRequest,
    /// Empty request (`""` or `"-"`).
    EmptyRequest,
    /// Status written as `-`.
    NoStatus,
    /// Bytes that are not valid UTF-8 in the request target.
    NonUtf8,
    /// The line ended or stopped matching after the status; later fields are absent.
    MissingFields,
    /// Text after the last field of the format.
    TrailingData,
    /// A numeric field (size, time, port) that is not a number; recorded as absent.
    BadNumber,
}

/// Number of [`Oddity`] variants.
pub const ODDITY_COUNT: usize = 12;

impl Oddity {
    /// Every oddity, in declaration order.
    pub const ALL: [Oddity; ODDITY_COUNT] = [
        Oddity::UnescapedQuote,
        Oddity::UnterminatedQuote,
        Oddity::NoProtocol,
        Oddity::BadProtocol,
        Oddity::SpaceInPath,
        Oddity::NonHttpRequest,
        Oddity::EmptyRequest,
        Oddity::NoStatus,
        Oddity::NonUtf8,
        Oddity::MissingFields,
        Oddity::TrailingData,
        Oddity::BadNumber,
    ];

    /// Stable snake_case name, used in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Oddity::UnescapedQuote => "unescaped_quote",
            Oddity::UnterminatedQuote => "unterminated_quote",
            Oddity::NoProtocol => "no_protocol",
            Oddity::BadProtocol => "bad_protocol",
            Oddity::SpaceInPath => "space_in_path",
            Oddity::NonHttpRequest => "non_http_request",
            Oddity::EmptyRequest => "empty_request",
            Oddity::NoStatus => "no_status",
            Oddity::NonUtf8 => "non_utf8",
            Oddity::MissingFields => "missing_fields",
            Oddity::TrailingData => "trailing_data",
            Oddity::BadNumber => "bad_number",
        }
    }
}

/// A set of [`Oddity`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Oddities(u32);

impl Oddities {
    /// Adds one.
    #[inline]
    pub fn insert(&mut self, o: Oddity) {
        self.0 |= 1 << o as u8;
    }
    /// Whether it holds `o`.
    #[inline]
    pub fn contains(self, o: Oddity) -> bool {
        self.0 & (1 << o as u8) != 0
    }
    /// Whether it is empty.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The oddities it holds.
    pub fn iter(self) -> impl Iterator<Item = Oddity> {
        Oddity::ALL.into_iter().filter(move |o| self.contains(*o))
    }
}

impl Oddity {
    /// What it means, in a few words for a message.
    pub fn meaning(self) -> &'static str {
        match self {
            Oddity::UnescapedQuote => "a `\"` inside a quoted field",
            Oddity::UnterminatedQuote => "a quoted field never closed",
            Oddity::NoProtocol => "a request without a protocol",
            Oddity::BadProtocol => "a protocol that is not HTTP/d.d",
            Oddity::SpaceInPath => "spaces in the request target",
            Oddity::NonHttpRequest => "a request line that is not HTTP",
            Oddity::EmptyRequest => "an empty request",
            Oddity::NoStatus => "a status written `-`",
            Oddity::NonUtf8 => "bytes that are not UTF-8 in the request target",
            Oddity::MissingFields => "the line ends before the last fields of the format",
            Oddity::TrailingData => "text after the last field of the format",
            Oddity::BadNumber => "a numeric field that is not a number",
        }
    }

    /// The oddity with this [`Oddity::name`], for reading stored records back.
    pub fn from_name(name: &str) -> Option<Oddity> {
        Oddity::ALL.into_iter().find(|o| o.name() == name)
    }
}

/// Why a line could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// Nothing but whitespace.
    Empty,
    /// The line does not follow the format before the status: `expected` is the index of the
    /// format token that did not match, `at` the byte offset in the line.
    Mismatch {
        /// Token index in the format.
        token: u16,
        /// Byte offset in the line.
        at: u32,
    },
    /// The time field is not a time.
    BadTimestamp {
        /// Byte offset in the line.
        at: u32,
    },
    /// The status field is neither a number nor `-`.
    BadStatus {
        /// Byte offset in the line.
        at: u32,
    },
    /// Longer than the line limit of the reader (1 MiB by default): the reader kept the
    /// first `kept` bytes and skipped the rest up to the newline. The parser never returns
    /// it; the caller rejects such a line before parsing, because a cut line may parse into a
    /// record with a field silently cut short.
    TooLong {
        /// Bytes kept of the line.
        kept: u32,
    },
}

impl RejectReason {
    /// Stable short code, used to count rejects by reason.
    pub fn code(&self) -> &'static str {
        match self {
            RejectReason::Empty => "empty_line",
            RejectReason::Mismatch { .. } => "format_mismatch",
            RejectReason::BadTimestamp { .. } => "bad_timestamp",
            RejectReason::BadStatus { .. } => "bad_status",
            RejectReason::TooLong { .. } => "line_too_long",
        }
    }

    /// Every code, in a stable order.
    pub const CODES: [&'static str; 5] = [
        "empty_line",
        "format_mismatch",
        "bad_timestamp",
        "bad_status",
        "line_too_long",
    ];
}

/// What became of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Parsed cleanly.
    Ok,
    /// Parsed, with oddities recorded.
    Degraded(Oddities),
    /// Not usable; the reason says why.
    Rejected(RejectReason),
}

impl Outcome {
    /// Whether the record can be used (ok or degraded).
    #[inline]
    pub fn is_usable(&self) -> bool {
        !matches!(self, Outcome::Rejected(_))
    }
}

/// One parsed line. Reuse one record for many lines: parsing overwrites it and allocates only
/// when a field has escapes to decode (into a scratch buffer kept between lines).
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub(crate) line: &'a [u8],
    pub(crate) scratch: Vec<u8>,
    pub(crate) texts: [Option<Span>; TEXT_COUNT],
    pub(crate) extras: Vec<Option<Span>>,
    /// When the request happened.
    pub time: Option<LogTime>,
    /// Final status; absent when written `-`.
    pub status: Option<u16>,
    /// Response size; absent when written `-` (counted as 0).
    pub bytes: Option<u64>,
    /// Server port.
    pub port: Option<u16>,
    /// Time taken to serve the request, in microseconds.
    pub request_time_us: Option<u64>,
    /// Upstream response time in microseconds (the first value of a list).
    pub upstream_time_us: Option<u64>,
    /// Oddities found while parsing.
    pub oddities: Oddities,
}

impl Default for Record<'_> {
    fn default() -> Self {
        Record {
            line: b"",
            scratch: Vec::new(),
            texts: [None; TEXT_COUNT],
            extras: Vec::new(),
            time: None,
            status: None,
            bytes: None,
            port: None,
            request_time_us: None,
            upstream_time_us: None,
            oddities: Oddities::default(),
        }
    }
}

impl<'a> Record<'a> {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn reset(&mut self, line: &'a [u8], extras: usize) {
        self.line = line;
        self.scratch.clear();
        self.texts = [None; TEXT_COUNT];
        self.extras.clear();
        self.extras.resize(extras, None);
        self.time = None;
        self.status = None;
        self.bytes = None;
        self.port = None;
        self.request_time_us = None;
        self.upstream_time_us = None;
        self.oddities = Oddities::default();
    }

    /// Empties the record so that it can be rebuilt from stored fields with
    /// [`Record::set_text`] and the public fields (the lake reads rows back this way).
    pub fn clear(&mut self) {
        self.reset(b"", 0);
    }

    /// Sets a text field to a copy of `value`. Parsing never calls this; it exists so that a
    /// record stored column by column can be rebuilt and counted like a parsed one.
    pub fn set_text(&mut self, t: Text, value: &[u8]) {
        let start = self.scratch.len() as u32;
        self.scratch.extend_from_slice(value);
        self.texts[t as usize] = Some(Span {
            start,
            end: self.scratch.len() as u32,
            scratch: true,
        });
    }

    #[inline]
    fn resolve(&self, s: Span) -> &[u8] {
        let buf = if s.scratch { &self.scratch } else { self.line };
        &buf[s.start as usize..s.end as usize]
    }

    /// The raw line this record was parsed from (without its line ending).
    #[inline]
    pub fn line(&self) -> &'a [u8] {
        self.line
    }

    /// A text field, unescaped; `None` when the format lacks it or the line did not have it.
    #[inline]
    pub fn get(&self, t: Text) -> Option<&[u8]> {
        self.texts[t as usize].map(|s| self.resolve(s))
    }

    /// An extra field by its index in [`crate::FormatSpec::extra_names`].
    pub fn extra(&self, i: usize) -> Option<&[u8]> {
        self.extras
            .get(i)
            .copied()
            .flatten()
            .map(|s| self.resolve(s))
    }

    /// Client address or host name.
    #[inline]
    pub fn client(&self) -> Option<&[u8]> {
        self.get(Text::Client)
    }

    /// Path without query.
    #[inline]
    pub fn path(&self) -> Option<&[u8]> {
        self.get(Text::Path)
    }

    /// Method.
    #[inline]
    pub fn method(&self) -> Option<&[u8]> {
        self.get(Text::Method)
    }

    /// Referer, `None` when absent or written `-`.
    #[inline]
    pub fn referer(&self) -> Option<&[u8]> {
        self.get(Text::Referer)
            .filter(|r| *r != b"-" && !r.is_empty())
    }

    /// User agent, `None` when absent or written `-`.
    #[inline]
    pub fn user_agent(&self) -> Option<&[u8]> {
        self.get(Text::UserAgent)
            .filter(|r| *r != b"-" && !r.is_empty())
    }

    /// Response size with `-` read as 0.
    #[inline]
    pub fn bytes_or_zero(&self) -> u64 {
        self.bytes.unwrap_or(0)
    }
}
