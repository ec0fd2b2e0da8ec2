//! Property tests of the line parser.
//!
//! - Nothing panics, whatever the bytes (random, token soup around real separators, mutated
//!   real lines, lines up to ~1 MB, invalid UTF-8, CR/LF, quotes, backslashes), under every
//!   preset and a few custom nginx and Apache formats; and what comes out is consistent.
//! - Round trip: field values are generated, rendered into a `combined`, `common`,
//!   `vcombined` or nginx line with the escaping each server uses, parsed, and every field
//!   comes back. The expected times are computed here with a naive calendar, not with the
//!   crate's.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use hitstream_format::{
    detect, unescape_into, FieldKind, FormatSpec, LogTime, Oddity, Outcome, Parser, Record,
    RejectReason, Text, Token, PRESETS,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// No panics, consistent outcomes
// ---------------------------------------------------------------------------------------------

/// Custom formats exercised next to the presets.
const CUSTOM_FORMATS: &[&str] = &[
    // imooc-nginx-2016: host, unquoted request body, upstream fields.
    r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_host" "$http_referer" $request_body "$http_user_agent" "$http_x_forwarded_for" $upstream_addr $upstream_status $upstream_response_time $request_time"#,
    // ISO time, times, a quoted last field.
    r#"$remote_addr [$time_iso8601] "$request" $status $bytes_sent $request_time "$http_user_agent""#,
    // Epoch time first, the request split into parts, upstream list last.
    r#"$msec $remote_addr "$request_method $request_uri $server_protocol" $status $upstream_response_time"#,
    // Apache with escaped quotes in the format, %D and a custom header.
    r#"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\" %D %{X-Trace}i"#,
    // Apache with epoch seconds, split request, %O and a Host header.
    r#"%a %{sec}t \"%m %U %H\" %>s %O %{Host}i %{ms}T"#,
    // Vhost and port, unquoted.
    r#"%v:%p %h %t %>s %T"#,
];

fn parsers() -> &'static [Parser] {
    static P: OnceLock<Vec<Parser>> = OnceLock::new();
    P.get_or_init(|| {
        PRESETS
            .iter()
            .map(|p| p.name)
            .chain(CUSTOM_FORMATS.iter().copied())
            .map(|f| Parser::new(FormatSpec::from_str_any(f).unwrap()))
            .collect()
    })
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    l.strip_suffix(b"\r").unwrap_or(l)
}

/// Everything a parse produced, owned, to compare two parses.
#[derive(Debug, PartialEq)]
struct Snapshot {
    outcome: Outcome,
    texts: Vec<Option<Vec<u8>>>,
    extras: Vec<Option<Vec<u8>>>,
    time: Option<LogTime>,
    status: Option<u16>,
    bytes: Option<u64>,
    port: Option<u16>,
    request_time_us: Option<u64>,
    upstream_time_us: Option<u64>,
}

fn snapshot(parser: &Parser, o: Outcome, rec: &Record<'_>) -> Snapshot {
    Snapshot {
        outcome: o,
        texts: Text::ALL
            .iter()
            .map(|t| rec.get(*t).map(<[u8]>::to_vec))
            .collect(),
        extras: (0..parser.spec().extra_names().len())
            .map(|i| rec.extra(i).map(<[u8]>::to_vec))
            .collect(),
        time: rec.time,
        status: rec.status,
        bytes: rec.bytes,
        port: rec.port,
        request_time_us: rec.request_time_us,
        upstream_time_us: rec.upstream_time_us,
    }
}

/// Parses `line` with every parser and checks what must hold whatever the input.
fn check_line(line: &[u8]) {
    for parser in parsers() {
        let mut rec = Record::new();
        let o = parser.parse(line, &mut rec);
        check_outcome(parser, line, o, &rec);
    }
    let _ = detect(line.split(|&b| b == b'\n'));
}

fn check_outcome(parser: &Parser, line: &[u8], o: Outcome, rec: &Record<'_>) {
    let name = &parser.spec().source;
    assert_eq!(rec.line(), trim_eol(line), "{name}");
    match o {
        Outcome::Ok => assert!(rec.oddities.is_empty(), "{name}"),
        Outcome::Degraded(d) => {
            assert!(!d.is_empty(), "{name}");
            assert_eq!(d, rec.oddities, "{name}");
        }
        Outcome::Rejected(r) => {
            let at = match r {
                RejectReason::Empty => {
                    assert!(line.iter().all(u8::is_ascii_whitespace), "{name}");
                    0
                }
                RejectReason::Mismatch { token, at } => {
                    assert!(usize::from(token) < parser.spec().tokens.len(), "{name}");
                    at
                }
                RejectReason::BadTimestamp { at } | RejectReason::BadStatus { at } => at,
                RejectReason::TooLong { .. } => panic!("{name}: the parser cut a line"),
            };
            assert!(at as usize <= rec.line().len(), "{name}: {r:?}");
            assert!(!parser.explain(&r).is_empty());
            return;
        }
    }
    // A usable line has a time, and a status unless it was written `-`.
    assert!(rec.time.is_some(), "{name}: usable without a time");
    let status_fields = parser
        .spec()
        .tokens
        .iter()
        .filter(|t| matches!(t, Token::Field(FieldKind::Status)))
        .count();
    if status_fields == 1 {
        assert_ne!(
            rec.status.is_some(),
            rec.oddities.contains(Oddity::NoStatus),
            "{name}: status {:?} with oddities {:?}",
            rec.status,
            rec.oddities
        );
    }
    assert!(rec.status.is_none_or(|s| s < 1000), "{name}");
    // Decoding never makes a field longer than the line.
    for t in Text::ALL {
        if let Some(v) = rec.get(t) {
            assert!(v.len() <= rec.line().len(), "{name}: {t:?}");
        }
    }
    for i in 0..parser.spec().extra_names().len() {
        if let Some(v) = rec.extra(i) {
            assert!(v.len() <= rec.line().len(), "{name}: extra {i}");
        }
    }
    for name in Oddity::ALL.map(Oddity::name) {
        assert!(!name.is_empty());
    }
}

/// Pieces real lines are made of, to build lines that get deep into the formats.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::sample::select(vec![
            &b"\""[..], b"\\", b" ", b"  ", b"\r", b"\n", b"\r\n", b"\t", b"[", b"]", b"-", b":",
            b"\\\"", b"\\\\", b"\\x", b"\\x2", b"\\x22", b"\\xfd", b"\\xFD", b"\" \"", b"\" ",
            b"1.2.3.4", b"::1", b"[::1]", b"host.example:443", b"X.X.X.X",
            b"10/Oct/2000:13:55:36 -0700", b"[10/Oct/2000:13:55:36 -0700]", b"10/oct/2000:13:55:36",
            b"2016-11-10T00:01:02+08:00", b"1478707262.123", b"29/Feb/2001:00:00:00 +0000",
            b"GET", b"GET /", b"GET / HTTP/1.1", b"HTTP/1.0", b"HTTP/V1.0", b"http://h/",
            b"200", b"404", b"-1", b"99999", b"18446744073709551616", b"0.004", b"1,2", b", ",
            b"\x80", b"\xff\xfe", b"\xe2\x82", b"\x00", b"\x16\x03\x01",
        ])
        .prop_map(<[u8]>::to_vec),
        1 => prop::collection::vec(any::<u8>(), 0..8),
    ]
}

fn soup() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(fragment(), 0..48).prop_map(|v| v.concat())
}

/// A well-formed line, then a few random edits (replace, insert, delete, truncate).
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        any_rendered_line(),
        prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, any::<u8>()), 1..6),
    )
        .prop_map(|(mut line, edits)| {
            for (at, op, byte) in edits {
                if line.is_empty() {
                    line.push(byte);
                    continue;
                }
                let i = at.index(line.len());
                let special = [
                    b'"', b'\\', b' ', b'[', b']', b'\r', b'\n', b'-', b':', b'?',
                ];
                match op {
                    0 => line[i] = byte,
                    1 => line.insert(i, special[usize::from(byte) % special.len()]),
                    2 => {
                        line.remove(i);
                    }
                    _ => line.truncate(i),
                }
            }
            line
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_do_not_panic(line in prop::collection::vec(any::<u8>(), 0..2048)) {
        check_line(&line);
    }

    #[test]
    fn token_soup_does_not_panic(line in soup()) {
        check_line(&line);
    }

    #[test]
    fn mutated_lines_do_not_panic(line in mutated()) {
        check_line(&line);
    }

    /// A record reused across lines gives what a fresh one gives, and the line ending does
    /// not change anything.
    #[test]
    fn reuse_and_line_endings_do_not_matter(a in soup(), b in prop_oneof![soup(), mutated()]) {
        for parser in parsers() {
            let mut fresh = Record::new();
            let o = parser.parse(&b, &mut fresh);
            let want = snapshot(parser, o, &fresh);

            let mut reused = Record::new();
            let _ = parser.parse(&a, &mut reused);
            let o2 = parser.parse(&b, &mut reused);
            prop_assert_eq!(&snapshot(parser, o2, &reused), &want);

            if !b.ends_with(b"\n") && !b.ends_with(b"\r") {
                for eol in [&b"\n"[..], b"\r\n", b"\r"] {
                    let with = [&b[..], eol].concat();
                    let mut r = Record::new();
                    let o3 = parser.parse(&with, &mut r);
                    prop_assert_eq!(&snapshot(parser, o3, &r), &want);
                }
            }
        }
    }

    /// Format strings from arbitrary text compile or fail with an error, never a panic; the
    /// ones that compile parse lines without panicking.
    #[test]
    fn arbitrary_format_strings_do_not_panic(
        parts in prop::collection::vec(
            prop_oneof![
                prop::sample::select(vec![
                    "$", "%", "{", "}", "${", "%{", "\\", "\"", "'", ";", " ", "<", ">", "!",
                    "$time_local", "$remote_addr", "$request", "$status", "$request_body",
                    "$http_x_forwarded_for", "$upstream_response_time", "$msec",
                    "$time_iso8601", "%t", "%h", "%r", "%>s", "%b", "%{Referer}i", "%{sec}t",
                    "%{msec_frac}t", "%!200,304s", "%v:%p", "%{X}é", "%é", "é", "\u{1F600}",
                ])
                .prop_map(str::to_string),
                "[a-zA-Z_ ]{0,4}",
            ],
            0..16,
        ),
        lines in prop::collection::vec(soup(), 0..4),
    ) {
        let f = parts.concat();
        if let Ok(spec) = FormatSpec::from_str_any(&f) {
            let parser = Parser::new(spec);
            for l in &lines {
                let mut rec = Record::new();
                let o = parser.parse(l, &mut rec);
                check_outcome(&parser, l, o, &rec);
            }
        }
    }

    /// Decoding never grows the text, and text without a backslash is left alone.
    #[test]
    fn unescape_shrinks(raw in prop::collection::vec(
        prop_oneof![any::<u8>(), Just(b'\\'), Just(b'x'), Just(b'"')], 0..256)
    ) {
        let mut out = Vec::new();
        unescape_into(&raw, &mut out);
        prop_assert!(out.len() <= raw.len());
        if !raw.contains(&b'\\') {
            prop_assert_eq!(out, raw);
        }
    }
}

/// A ~1 MB line: a pattern repeated, after a prefix that takes the parser into a field.
fn long_line() -> impl Strategy<Value = Vec<u8>> {
    let prefixes = vec![
        &b""[..],
        b"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"",
        b"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /",
        b"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 5 \"-\" \"",
        b"h:80 1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 5 \"",
        b"1.2.3.4 - - [10/Nov/2016:00:01:02 +0800] \"POST / HTTP/1.1\" 200 1 \"h\" \"-\" ",
    ];
    (
        prop::sample::select(prefixes),
        prop::collection::vec(
            prop_oneof![
                any::<u8>(),
                Just(b'"'),
                Just(b'\\'),
                Just(b' '),
                Just(b'\r')
            ],
            1..16,
        ),
        (1usize << 19)..(1usize << 20),
        prop::sample::select(vec![
            &b""[..],
            b"\"",
            b"\" 200 1",
            b"\" \"-\" \"-\"",
            b"\r\n",
        ]),
    )
        .prop_map(|(prefix, pattern, len, suffix)| {
            let mut line = prefix.to_vec();
            while line.len() < len {
                line.extend_from_slice(&pattern);
            }
            line.extend_from_slice(suffix);
            line
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn megabyte_lines_do_not_panic(line in long_line()) {
        check_line(&line);
    }
}

// ---------------------------------------------------------------------------------------------
// Round trip
// ---------------------------------------------------------------------------------------------

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn month_days(y: i64, m: usize) -> i64 {
    [
        31,
        if leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][m - 1]
}

/// A wall-clock time with its UTC offset, and the epoch seconds counted day by day.
#[derive(Debug, Clone)]
struct Time {
    y: i64,
    mo: usize,
    d: i64,
    h: i64,
    mi: i64,
    s: i64,
    /// Offset east of UTC in minutes.
    off: i64,
    /// Which letters of the month name are upper case (bit per letter).
    case: u8,
}

impl Time {
    fn render(&self) -> String {
        let month: String = MONTHS[self.mo - 1]
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if self.case & (1 << i) != 0 {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        let sign = if self.off < 0 { '-' } else { '+' };
        format!(
            "{:02}/{month}/{:04}:{:02}:{:02}:{:02} {sign}{:02}{:02}",
            self.d,
            self.y,
            self.h,
            self.mi,
            self.s,
            self.off.abs() / 60,
            self.off.abs() % 60
        )
    }

    fn expected(&self) -> LogTime {
        let mut days = 0;
        for y in 1970..self.y {
            days += if leap(y) { 366 } else { 365 };
        }
        for m in 1..self.mo {
            days += month_days(self.y, m);
        }
        days += self.d - 1;
        let local = days * 86_400 + self.h * 3600 + self.mi * 60 + self.s;
        LogTime {
            utc: local - self.off * 60,
            offset: (self.off * 60) as i32,
            micros: 0,
        }
    }
}

fn time() -> impl Strategy<Value = Time> {
    (
        1970i64..2100,
        1usize..=12,
        0i64..31,
        (0i64..24, 0i64..60, 0i64..60),
        -(14 * 60)..=(14i64 * 60),
        any::<u8>(),
    )
        .prop_map(|(y, mo, d, (h, mi, s), off, case)| Time {
            y,
            mo,
            d: 1 + d % month_days(y, mo),
            h,
            mi,
            s,
            off,
            case,
        })
}

fn client() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u32>().prop_map(|a| Ipv4Addr::from(a).to_string()),
        any::<u128>().prop_map(|a| Ipv6Addr::from(a).to_string()),
        any::<u128>().prop_map(|a| format!("[{}]", Ipv6Addr::from(a))),
        "[a-z][a-z0-9-]{0,15}(\\.[a-z0-9-]{1,10}){0,3}",
        Just("X.X.X.X".to_string()),
    ]
}

fn user() -> impl Strategy<Value = String> {
    prop_oneof![Just("-".to_string()), "[a-zA-Z0-9._@-]{1,12}"]
}

#[derive(Debug, Clone)]
struct Request {
    method: String,
    /// `http://host` of an absolute URI.
    host: Option<String>,
    path: String,
    query: Option<String>,
    protocol: String,
}

impl Request {
    fn target(&self) -> String {
        let q = self
            .query
            .as_ref()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        format!("{}{q}", self.path)
    }

    fn line(&self) -> String {
        let host = self
            .host
            .as_ref()
            .map(|h| format!("http://{h}"))
            .unwrap_or_default();
        format!("{} {host}{} {}", self.method, self.target(), self.protocol)
    }
}

fn request() -> impl Strategy<Value = Request> {
    (
        prop_oneof![
            prop::sample::select(vec![
                "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"
            ])
            .prop_map(str::to_string),
            "[A-Z]{1,10}",
        ],
        prop::option::weighted(0.2, "[a-z0-9.-]{1,20}(:[0-9]{1,5})?"),
        // Quotes, backslashes, `%`, `é` (valid UTF-8): everything but a space and a `?`.
        "/[A-Za-z0-9/._~%\"\\\\é,;=+-]{0,40}",
        prop::option::of("[A-Za-z0-9=&%._/?\"\\\\-]{0,30}"),
        prop::sample::select(vec!["HTTP/1.0", "HTTP/1.1", "HTTP/2.0", "HTTP/2"])
            .prop_map(str::to_string),
    )
        .prop_map(|(method, host, path, query, protocol)| Request {
            method,
            host,
            path,
            query,
            protocol,
        })
}

/// Field values for one line.
#[derive(Debug, Clone)]
struct Fields {
    vhost: String,
    port: u16,
    client: String,
    ident: String,
    user: String,
    time: Time,
    request: Request,
    status: u16,
    bytes: Option<u64>,
    /// `None` is written `-`.
    referer: Option<Vec<u8>>,
    user_agent: Option<Vec<u8>>,
}

fn header() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop::option::of(prop_oneof![
        // Printable text with quotes and backslashes, as user agents are.
        "[ -~]{0,60}".prop_map(String::into_bytes),
        // Any bytes at all: control characters and non-UTF-8 come back from their escapes.
        prop::collection::vec(any::<u8>(), 0..40),
    ])
}

fn fields() -> impl Strategy<Value = Fields> {
    (
        prop_oneof![
            "[a-z][a-z0-9-]{0,15}(\\.[a-z]{2,6}){0,2}",
            any::<u128>().prop_map(|a| format!("[{}]", Ipv6Addr::from(a))),
        ],
        1u16..=65535,
        client(),
        user(),
        user(),
        time(),
        request(),
        100u16..=599,
        prop::option::of(0u64..1_000_000_000_000_000),
        header(),
        header(),
    )
        .prop_map(
            |(
                vhost,
                port,
                client,
                ident,
                user,
                time,
                request,
                status,
                bytes,
                referer,
                user_agent,
            )| {
                Fields {
                    vhost,
                    port,
                    client,
                    ident,
                    user,
                    time,
                    request,
                    status,
                    bytes,
                    referer,
                    user_agent,
                }
            },
        )
}

/// How Apache's `ap_escape_logitem` writes a value inside quotes.
fn apache_escape(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in v {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0B => out.extend_from_slice(b"\\v"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out
}

/// How nginx's `ngx_http_log_escape` writes a value: `"`, `\`, controls and bytes above 0x7e
/// as `\xHH`.
fn nginx_escape(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in v {
        match b {
            b'"' | b'\\' | 0..=0x1f | 0x7f..=0xff => {
                out.extend_from_slice(format!("\\x{b:02X}").as_bytes());
            }
            _ => out.push(b),
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    Combined,
    Common,
    Vcombined,
    Nginx,
}

impl Style {
    fn preset(self) -> &'static str {
        match self {
            Style::Combined => "combined",
            Style::Common => "common",
            Style::Vcombined => "vcombined",
            Style::Nginx => "nginx",
        }
    }
}

fn render(f: &Fields, style: Style) -> Vec<u8> {
    let esc = |v: &[u8]| {
        if style == Style::Nginx {
            nginx_escape(v)
        } else {
            apache_escape(v)
        }
    };
    let mut line = Vec::new();
    if style == Style::Vcombined {
        line.extend_from_slice(format!("{}:{} ", f.vhost, f.port).as_bytes());
    }
    let ident = if style == Style::Nginx { "-" } else { &f.ident };
    line.extend_from_slice(
        format!("{} {ident} {} [{}] \"", f.client, f.user, f.time.render()).as_bytes(),
    );
    line.extend_from_slice(&esc(f.request.line().as_bytes()));
    let bytes = f.bytes.map_or("-".to_string(), |b| b.to_string());
    line.extend_from_slice(format!("\" {} {bytes}", f.status).as_bytes());
    if style != Style::Common {
        for h in [&f.referer, &f.user_agent] {
            line.extend_from_slice(b" \"");
            match h {
                Some(v) => line.extend_from_slice(&esc(v)),
                None => line.push(b'-'),
            }
            line.push(b'"');
        }
    }
    line
}

fn any_rendered_line() -> impl Strategy<Value = Vec<u8>> {
    (
        fields(),
        prop::sample::select(vec![
            Style::Combined,
            Style::Common,
            Style::Vcombined,
            Style::Nginx,
        ]),
    )
        .prop_map(|(f, s)| render(&f, s))
}

fn s(b: Option<&[u8]>) -> Option<String> {
    b.map(|b| String::from_utf8_lossy(b).into_owned())
}

fn check_round_trip(f: &Fields, style: Style) -> Result<(), TestCaseError> {
    let line = render(f, style);
    let parser = Parser::new(FormatSpec::from_str_any(style.preset()).unwrap());
    let mut rec = Record::new();
    let o = parser.parse(&line, &mut rec);
    let shown = String::from_utf8_lossy(&line).into_owned();
    prop_assert_eq!(o, Outcome::Ok, "{}", shown);

    prop_assert_eq!(s(rec.client()), Some(f.client.clone()));
    if style != Style::Nginx {
        prop_assert_eq!(s(rec.get(Text::Ident)), Some(f.ident.clone()));
    }
    prop_assert_eq!(s(rec.get(Text::User)), Some(f.user.clone()));
    prop_assert_eq!(rec.time, Some(f.time.expected()), "{}", f.time.render());

    let r = &f.request;
    prop_assert_eq!(s(rec.get(Text::Request)), Some(r.line()));
    prop_assert_eq!(s(rec.method()), Some(r.method.clone()));
    prop_assert_eq!(s(rec.get(Text::Host)), r.host.clone());
    prop_assert_eq!(s(rec.get(Text::Uri)), Some(r.target()));
    prop_assert_eq!(s(rec.path()), Some(r.path.clone()));
    prop_assert_eq!(s(rec.get(Text::Query)), r.query.clone());
    prop_assert_eq!(s(rec.get(Text::Protocol)), Some(r.protocol.clone()));

    prop_assert_eq!(rec.status, Some(f.status));
    prop_assert_eq!(rec.bytes, f.bytes);
    prop_assert_eq!(rec.bytes_or_zero(), f.bytes.unwrap_or(0));

    if style == Style::Common {
        prop_assert_eq!(rec.get(Text::Referer), None);
        prop_assert_eq!(rec.get(Text::UserAgent), None);
    } else {
        for (t, v, filtered) in [
            (Text::Referer, &f.referer, rec.referer()),
            (Text::UserAgent, &f.user_agent, rec.user_agent()),
        ] {
            let raw = v.clone().unwrap_or_else(|| b"-".to_vec());
            prop_assert_eq!(rec.get(t), Some(&raw[..]), "{:?}", t);
            let want = v.as_deref().filter(|v| !v.is_empty() && *v != b"-");
            prop_assert_eq!(filtered, want, "{:?}", t);
        }
    }
    if style == Style::Vcombined {
        prop_assert_eq!(s(rec.get(Text::Vhost)), Some(f.vhost.clone()));
        prop_assert_eq!(rec.port, Some(f.port));
    } else {
        prop_assert_eq!(rec.get(Text::Vhost), None);
        prop_assert_eq!(rec.port, None);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn combined_round_trip(f in fields()) {
        check_round_trip(&f, Style::Combined)?;
    }

    #[test]
    fn common_round_trip(f in fields()) {
        check_round_trip(&f, Style::Common)?;
    }

    #[test]
    fn vcombined_round_trip(f in fields()) {
        check_round_trip(&f, Style::Vcombined)?;
    }

    #[test]
    fn nginx_round_trip(f in fields()) {
        check_round_trip(&f, Style::Nginx)?;
    }

    /// `--format auto` on lines of one shape picks a preset that reads them the same way.
    #[test]
    fn detect_recognises_rendered_lines(
        fs in prop::collection::vec(fields(), 1..8),
        style in prop::sample::select(vec![Style::Combined, Style::Common, Style::Vcombined, Style::Nginx]),
    ) {
        let lines: Vec<Vec<u8>> = fs.iter().map(|f| render(f, style)).collect();
        let d = detect(lines.iter().map(Vec::as_slice)).unwrap();
        let same_shape: &[&str] = match style {
            Style::Combined | Style::Nginx => &["combined", "nginx", "debian"],
            Style::Common => &["common", "nasa"],
            Style::Vcombined => &["vcombined"],
        };
        prop_assert!(same_shape.contains(&d.spec.name.as_str()), "{}", d.describe());
        prop_assert_eq!(d.ok, lines.len());
    }
}
