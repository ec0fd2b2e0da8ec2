//! The line parser: walks a compiled format over a byte slice, no regex, no allocation for
//! lines without escapes.

use memchr::{memchr, memchr2, memrchr};

use crate::record::{Oddity, Outcome, Record, RejectReason, Span, Text};
use crate::spec::{FieldKind, FormatSpec, Token};
use crate::time::{parse_clf, parse_epoch, parse_iso8601};

/// Field kinds without their payload, for a compact jump table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text(Text),
    TimeClf,
    TimeIso,
    TimeEpoch,
    Request,
    Uri,
    Status,
    Bytes,
    Port,
    ReqSecs,
    ReqMillis,
    ReqMicros,
    Upstream,
    Extra(u16),
}

impl Kind {
    /// Values that never contain a space.
    fn is_token(self) -> bool {
        matches!(
            self,
            Kind::Status
                | Kind::Bytes
                | Kind::Port
                | Kind::ReqSecs
                | Kind::ReqMillis
                | Kind::ReqMicros
                | Kind::TimeEpoch
                | Kind::TimeIso
                | Kind::Text(Text::Client | Text::Ident | Text::User)
        )
    }
}

#[derive(Debug, Clone)]
enum Step {
    Lit(Box<[u8]>),
    Field {
        kind: Kind,
        quoted: bool,
        /// The literal that follows, if any.
        next: Option<Box<[u8]>>,
        /// The kind of the field after that literal, to tell a real closing quote from a stray one.
        after: Option<Kind>,
        /// The next literal is the last token: the field runs to the line's last occurrence of it.
        next_is_last: bool,
    },
}

/// A compiled, ready-to-run format. Cheap to clone; share one per thread.
#[derive(Debug, Clone)]
pub struct Parser {
    spec: FormatSpec,
    steps: Vec<Step>,
    extras: usize,
    has_status: bool,
}

fn kind_of(k: &FieldKind, extra_idx: &mut u16) -> Kind {
    match k {
        FieldKind::Client => Kind::Text(Text::Client),
        FieldKind::Ident => Kind::Text(Text::Ident),
        FieldKind::User => Kind::Text(Text::User),
        FieldKind::TimeClf => Kind::TimeClf,
        FieldKind::TimeIso => Kind::TimeIso,
        FieldKind::TimeEpoch => Kind::TimeEpoch,
        FieldKind::Request => Kind::Request,
        FieldKind::Method => Kind::Text(Text::Method),
        FieldKind::Uri => Kind::Uri,
        FieldKind::Path => Kind::Text(Text::Path),
        FieldKind::Query => Kind::Text(Text::Query),
        FieldKind::Protocol => Kind::Text(Text::Protocol),
        FieldKind::Status => Kind::Status,
        FieldKind::Bytes => Kind::Bytes,
        FieldKind::Referer => Kind::Text(Text::Referer),
        FieldKind::UserAgent => Kind::Text(Text::UserAgent),
        FieldKind::Vhost => Kind::Text(Text::Vhost),
        FieldKind::Port => Kind::Port,
        FieldKind::Host => Kind::Text(Text::Host),
        FieldKind::XForwardedFor => Kind::Text(Text::XForwardedFor),
        FieldKind::RequestTimeSecs => Kind::ReqSecs,
        FieldKind::RequestTimeMillis => Kind::ReqMillis,
        FieldKind::RequestTimeMicros => Kind::ReqMicros,
        FieldKind::UpstreamTime => Kind::Upstream,
        FieldKind::RequestBody => Kind::Text(Text::RequestBody),
        FieldKind::Extra(_) => {
            *extra_idx += 1;
            Kind::Extra(*extra_idx - 1)
        }
    }
}

impl Parser {
    /// Compiles a format for parsing.
    pub fn new(spec: FormatSpec) -> Parser {
        let mut extra_idx = 0u16;
        let kinds: Vec<Option<Kind>> = spec
            .tokens
            .iter()
            .map(|t| match t {
                Token::Field(k) => Some(kind_of(k, &mut extra_idx)),
                Token::Lit(_) => None,
            })
            .collect();
        let mut steps = Vec::with_capacity(spec.tokens.len());
        for (i, t) in spec.tokens.iter().enumerate() {
            match t {
                Token::Lit(l) => steps.push(Step::Lit(l.clone().into_boxed_slice())),
                Token::Field(_) => {
                    let prev_quote = matches!(
                        i.checked_sub(1).map(|p| &spec.tokens[p]),
                        Some(Token::Lit(l)) if l.last() == Some(&b'"')
                    );
                    let next = match spec.tokens.get(i + 1) {
                        Some(Token::Lit(l)) => Some(l.clone().into_boxed_slice()),
                        _ => None,
                    };
                    let next_quote = next.as_ref().is_some_and(|n| n.first() == Some(&b'"'));
                    steps.push(Step::Field {
                        kind: kinds[i].expect("field token"),
                        quoted: prev_quote && next_quote,
                        next_is_last: next.is_some() && i + 2 == spec.tokens.len(),
                        next,
                        after: kinds.get(i + 2).copied().flatten(),
                    });
                }
            }
        }
        let has_status = spec.has(&FieldKind::Status);
        Parser {
            extras: extra_idx as usize,
            spec,
            steps,
            has_status,
        }
    }

    /// The format this parser runs.
    pub fn spec(&self) -> &FormatSpec {
        &self.spec
    }

    /// A sentence explaining a reject reason, naming what was expected.
    pub fn explain(&self, r: &RejectReason) -> String {
        match r {
            RejectReason::Empty => "empty line".to_string(),
            RejectReason::Mismatch { token, at } => {
                match self.spec.tokens.get(usize::from(*token)) {
                    Some(Token::Lit(l)) => format!(
                        "expected {:?} at byte {at} (format `{}`)",
                        String::from_utf8_lossy(l),
                        self.spec.name
                    ),
                    Some(Token::Field(k)) => {
                        format!("expected {k:?} at byte {at} (format `{}`)", self.spec.name)
                    }
                    None => format!("line does not match format `{}`", self.spec.name),
                }
            }
            RejectReason::BadTimestamp { at } => format!("timestamp at byte {at} is not a time"),
            RejectReason::BadStatus { at } => {
                format!("status at byte {at} is neither a number nor '-'")
            }
            RejectReason::TooLong { kept } => {
                format!("line longer than the line limit: only its first {kept} bytes are kept")
            }
        }
    }

    /// Parses one line (with or without its `\n`/`\r\n`) into `rec`.
    pub fn parse<'a>(&self, line: &'a [u8], rec: &mut Record<'a>) -> Outcome {
        let line = trim_eol(line);
        rec.reset(line, self.extras);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            return Outcome::Rejected(RejectReason::Empty);
        }
        let mut pos = 0usize;
        let mut seen_status = !self.has_status;
        for (ti, step) in self.steps.iter().enumerate() {
            match step {
                Step::Lit(l) => {
                    if starts_with_short(&line[pos..], l) {
                        pos += l.len();
                    } else {
                        return self.stop(rec, ti, pos, seen_status);
                    }
                }
                Step::Field {
                    kind,
                    quoted,
                    next,
                    after,
                    next_is_last,
                } => {
                    let rest = &line[pos..];
                    let (end, escaped) = if *quoted {
                        let next = next.as_deref().unwrap_or(b"\"");
                        match find_close_quote(rest, next, *next_is_last, *after) {
                            Close::At(e, escaped, stray) => {
                                if stray {
                                    rec.oddities.insert(Oddity::UnescapedQuote);
                                }
                                (e, escaped)
                            }
                            Close::Unterminated(escaped) => {
                                rec.oddities.insert(Oddity::UnterminatedQuote);
                                let r = self.store(rec, *kind, pos, line.len(), escaped);
                                if let Err(o) = r {
                                    return o;
                                }
                                if *kind == Kind::Status {
                                    seen_status = true;
                                }
                                // The field ran to the end of the line: like a line that stops
                                // matching, it is usable only once the time and status are in.
                                if !seen_status || rec.time.is_none() {
                                    return Outcome::Rejected(RejectReason::Mismatch {
                                        token: (ti + 1) as u16,
                                        at: line.len() as u32,
                                    });
                                }
                                // Only the closing quote is missing when no field follows.
                                if self.steps[ti + 1..]
                                    .iter()
                                    .any(|s| matches!(s, Step::Field { .. }))
                                {
                                    rec.oddities.insert(Oddity::MissingFields);
                                }
                                return finish(rec);
                            }
                        }
                    } else {
                        (
                            find_unquoted_end(rest, *kind, next.as_deref(), *next_is_last),
                            false,
                        )
                    };
                    if let Err(o) = self.store(rec, *kind, pos, pos + end, escaped) {
                        return o;
                    }
                    if *kind == Kind::Status {
                        seen_status = true;
                    }
                    pos += end;
                }
            }
        }
        if pos < line.len() {
            rec.oddities.insert(Oddity::TrailingData);
        }
        finish(rec)
    }

    /// The format stopped matching at token `ti`: after the status the line is usable with the
    /// remaining fields absent; before it, the line is rejected.
    fn stop(&self, rec: &mut Record<'_>, ti: usize, pos: usize, seen_status: bool) -> Outcome {
        if seen_status && rec.time.is_some() {
            rec.oddities.insert(Oddity::MissingFields);
            finish(rec)
        } else {
            Outcome::Rejected(RejectReason::Mismatch {
                token: ti as u16,
                at: pos as u32,
            })
        }
    }

    #[inline]
    fn store(
        &self,
        rec: &mut Record<'_>,
        kind: Kind,
        start: usize,
        end: usize,
        quoted_escapes: bool,
    ) -> Result<(), Outcome> {
        let raw = &rec.line[start..end];
        match kind {
            Kind::Text(t) => {
                let span = text_span(rec, start, end, quoted_escapes);
                rec.texts[t as usize] = Some(span);
            }
            Kind::Extra(i) => {
                let span = text_span(rec, start, end, quoted_escapes);
                rec.extras[usize::from(i)] = Some(span);
            }
            Kind::Request => {
                let span = text_span(rec, start, end, quoted_escapes);
                rec.texts[Text::Request as usize] = Some(span);
                split_request(rec, span);
            }
            Kind::Uri => {
                let span = text_span(rec, start, end, quoted_escapes);
                split_uri(rec, span);
            }
            Kind::TimeClf | Kind::TimeIso | Kind::TimeEpoch => {
                let t = match kind {
                    Kind::TimeClf => parse_clf(raw),
                    Kind::TimeIso => parse_iso8601(raw),
                    _ => parse_epoch(raw),
                };
                match t {
                    Some(t) => rec.time = Some(t),
                    None => {
                        return Err(Outcome::Rejected(RejectReason::BadTimestamp {
                            at: start as u32,
                        }))
                    }
                }
            }
            Kind::Status => {
                if raw == b"-" {
                    rec.oddities.insert(Oddity::NoStatus);
                } else {
                    match parse_u64(raw) {
                        Some(s) if raw.len() <= 3 => rec.status = Some(s as u16),
                        _ => {
                            return Err(Outcome::Rejected(RejectReason::BadStatus {
                                at: start as u32,
                            }))
                        }
                    }
                }
            }
            Kind::Bytes => {
                if raw != b"-" {
                    match parse_u64(raw) {
                        Some(b) => rec.bytes = Some(b),
                        None => rec.oddities.insert(Oddity::BadNumber),
                    }
                }
            }
            Kind::Port => {
                if raw != b"-" {
                    match parse_u64(raw).filter(|p| *p <= 65_535) {
                        Some(p) => rec.port = Some(p as u16),
                        None => rec.oddities.insert(Oddity::BadNumber),
                    }
                }
            }
            Kind::ReqSecs => {
                if raw != b"-" {
                    match parse_secs_as_micros(raw) {
                        Some(us) => rec.request_time_us = Some(us),
                        None => rec.oddities.insert(Oddity::BadNumber),
                    }
                }
            }
            Kind::ReqMillis | Kind::ReqMicros => {
                if raw != b"-" {
                    let scale = if kind == Kind::ReqMillis { 1000 } else { 1 };
                    match parse_u64(raw) {
                        Some(v) => rec.request_time_us = Some(v.saturating_mul(scale)),
                        None => rec.oddities.insert(Oddity::BadNumber),
                    }
                }
            }
            Kind::Upstream => {
                rec.texts[Text::UpstreamTime as usize] = Some(Span {
                    start: start as u32,
                    end: end as u32,
                    scratch: false,
                });
                let first = raw
                    .split(|&b| b == b',' || b == b' ' || b == b':')
                    .next()
                    .unwrap_or(b"");
                rec.upstream_time_us = parse_secs_as_micros(first);
            }
        }
        Ok(())
    }
}

#[inline]
fn finish(rec: &Record<'_>) -> Outcome {
    if rec.oddities.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Degraded(rec.oddities)
    }
}

#[inline]
fn trim_eol(line: &[u8]) -> &[u8] {
    let mut l = line;
    if let [rest @ .., b'\n'] = l {
        l = rest;
    }
    if let [rest @ .., b'\r'] = l {
        l = rest;
    }
    l
}

enum Close {
    /// Field ends at this offset; (had escapes, skipped a stray quote).
    At(usize, bool, bool),
    /// No closing quote; (had escapes).
    Unterminated(bool),
}

/// Whether text can start the value of a field of kind `k`: used to tell a stray quote
/// inside a field from the one that closes it.
#[inline]
fn plausible_start(k: Option<Kind>, s: &[u8]) -> bool {
    let Some(k) = k else { return true };
    let c = s.first().copied();
    match k {
        Kind::Status
        | Kind::Bytes
        | Kind::Port
        | Kind::ReqSecs
        | Kind::ReqMillis
        | Kind::ReqMicros
        | Kind::TimeEpoch => matches!(c, Some(b'0'..=b'9' | b'-')),
        Kind::TimeClf | Kind::TimeIso => matches!(c, Some(b'0'..=b'9')),
        _ => true,
    }
}

/// Finds the quote that closes a quoted field in `rest` (which starts just after the opening
/// quote). `next` is the literal after the field and starts with `"`.
///
/// Apache escapes `"` and `\` inside quoted fields, nginx writes them as `\x22`/`\x5C`, and
/// old servers (NCSA, early Apache) escape nothing. The first pass honours backslash escapes;
/// when it finds no clean close, a second pass reads backslashes as plain bytes, so that a
/// request ending in `\` from a server that does not escape still closes at its quote.
#[inline]
fn find_close_quote(rest: &[u8], next: &[u8], next_is_last: bool, after: Option<Kind>) -> Close {
    let first = scan_close_quote(rest, next, next_is_last, after, true);
    match first {
        Close::At(_, _, false) => first,
        Close::At(_, false, true) | Close::Unterminated(false) => first,
        _ => match scan_close_quote(rest, next, next_is_last, after, false) {
            Close::At(q, _, false) => Close::At(q, true, false),
            _ => first,
        },
    }
}

#[inline]
fn scan_close_quote(
    rest: &[u8],
    next: &[u8],
    next_is_last: bool,
    after: Option<Kind>,
    escapes: bool,
) -> Close {
    let mut i = 0;
    let mut escaped = false;
    let mut stray = false;
    // The first quote followed by the literal, whatever follows that.
    let mut fallback: Option<usize> = None;
    // The last quote followed by the literal (for a last field with trailing bytes).
    let mut last_match: Option<(usize, bool)> = None;
    // A quote where the line ends inside the literal.
    let mut at_end: Option<(usize, bool)> = None;
    loop {
        let found = if escapes {
            memchr2(b'"', b'\\', &rest[i..])
        } else {
            memchr(b'"', &rest[i..])
        };
        let Some(off) = found else { break };
        let q = i + off;
        if rest[q] == b'\\' {
            escaped = true;
            i = q + 2;
            if i > rest.len() {
                break;
            }
            continue;
        }
        let tail = &rest[q..];
        if tail.starts_with(next) {
            let ok = if next_is_last {
                tail.len() == next.len()
            } else {
                plausible_start(after, &tail[next.len()..])
            };
            if ok {
                return Close::At(q, escaped, stray);
            }
            if fallback.is_none() && !next_is_last {
                fallback = Some(q);
            }
            last_match = Some((q, stray));
        } else if next.starts_with(tail) {
            // The line ends inside the literal that follows (`"ua"` then nothing, where the
            // format wants `"ua" "xff"`): the field is closed, what follows it is missing.
            at_end = Some((q, stray));
        }
        stray = true;
        i = q + 1;
    }
    if let Some(q) = fallback {
        return Close::At(q, escaped, true);
    }
    if let Some((q, stray_before)) = at_end {
        return Close::At(q, escaped, stray_before);
    }
    match last_match {
        // The last field's closing quote is followed by trailing bytes (`"ua" ` or
        // `"ua" "extra"`): close at the last quote; the parser records the trailing data.
        Some((q, stray_before)) => Close::At(q, escaped, stray_before),
        None => Close::Unterminated(escaped),
    }
}

/// First occurrence of a short literal. Cheaper than building a `memmem` finder per call: the
/// literals of a format are a few bytes and their first byte is rare in the text before them.
#[inline]
fn find_literal(hay: &[u8], lit: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(off) = memchr(lit[0], &hay[from..]) {
        let at = from + off;
        if starts_with_short(&hay[at..], lit) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// `hay.starts_with(lit)` without a call into `memcmp` for the 1–4 byte literals formats have.
#[inline(always)]
fn starts_with_short(hay: &[u8], lit: &[u8]) -> bool {
    hay.len() >= lit.len() && hay.iter().zip(lit).all(|(a, b)| a == b)
}

#[inline]
fn find_unquoted_end(rest: &[u8], kind: Kind, next: Option<&[u8]>, next_is_last: bool) -> usize {
    let Some(next) = next else {
        // The last field: a number or an address ends at a space or tab, and what follows
        // is trailing data; free text runs to the end of the line.
        return if kind.is_token() {
            memchr2(b' ', b'\t', rest).unwrap_or(rest.len())
        } else {
            rest.len()
        };
    };
    if next_is_last {
        // The field runs to the last occurrence of the closing literal, which ends the line.
        if rest.ends_with(next) {
            return rest.len() - next.len();
        }
    }
    if next[0] == b':' && kind == Kind::Text(Text::Vhost) {
        // `%v:%p`: a host may contain colons (IPv6), so split on the last colon of the token.
        let tok_end = memchr(b' ', rest).unwrap_or(rest.len());
        if let Some(c) = memrchr(b':', &rest[..tok_end]) {
            return c;
        }
        return tok_end;
    }
    if next.len() == 1 {
        return memchr(next[0], rest).unwrap_or(rest.len());
    }
    if kind == Kind::Text(Text::RequestBody) || next[0] != b' ' {
        return find_literal(rest, next).unwrap_or(rest.len());
    }
    // Separators like ` "`: a plain field ends at the first space, whatever follows.
    memchr(b' ', rest).unwrap_or(rest.len())
}

/// Stores a text value, decoding `\"`, `\\` and `\xHH` into the scratch buffer when present.
#[inline]
fn text_span(rec: &mut Record<'_>, start: usize, end: usize, maybe_escaped: bool) -> Span {
    let raw = &rec.line[start..end];
    let has_backslash = if maybe_escaped {
        true
    } else {
        memchr(b'\\', raw).is_some()
    };
    if !has_backslash {
        return Span {
            start: start as u32,
            end: end as u32,
            scratch: false,
        };
    }
    let s0 = rec.scratch.len();
    unescape_into(raw, &mut rec.scratch);
    Span {
        start: s0 as u32,
        end: rec.scratch.len() as u32,
        scratch: true,
    }
}

#[inline]
fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes the escapes Apache and nginx write: `\"`, `\\`, `\xHH` (either case), and Apache's
/// `\n`, `\r`, `\t`, `\b`, `\v`. Anything else is kept as written.
pub fn unescape_into(raw: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while let Some(off) = memchr(b'\\', &raw[i..]) {
        out.extend_from_slice(&raw[i..i + off]);
        let b = i + off;
        match raw.get(b + 1) {
            Some(b'"') => {
                out.push(b'"');
                i = b + 2;
            }
            Some(b'\\') => {
                out.push(b'\\');
                i = b + 2;
            }
            Some(b'n') => {
                out.push(b'\n');
                i = b + 2;
            }
            Some(b'r') => {
                out.push(b'\r');
                i = b + 2;
            }
            Some(b't') => {
                out.push(b'\t');
                i = b + 2;
            }
            Some(b'b') => {
                out.push(0x08);
                i = b + 2;
            }
            Some(b'v') => {
                out.push(0x0B);
                i = b + 2;
            }
            Some(b'x') => match (
                raw.get(b + 2).copied().and_then(hex),
                raw.get(b + 3).copied().and_then(hex),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i = b + 4;
                }
                _ => {
                    out.push(b'\\');
                    i = b + 1;
                }
            },
            _ => {
                out.push(b'\\');
                i = b + 1;
            }
        }
    }
    out.extend_from_slice(&raw[i..]);
}

#[inline]
fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    let mut v = 0u64;
    for &b in s {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u64::from(d);
    }
    Some(v)
}

/// `0.004` → 4000 µs; `12` → 12 000 000 µs.
#[inline]
fn parse_secs_as_micros(s: &[u8]) -> Option<u64> {
    let (int, frac) = match memchr(b'.', s) {
        Some(p) => (&s[..p], &s[p + 1..]),
        None => (s, &b""[..]),
    };
    let whole = if int.is_empty() { 0 } else { parse_u64(int)? };
    let mut micros = 0u64;
    let mut scale = 100_000u64;
    for &b in frac.iter().take(6) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        micros += u64::from(d) * scale;
        scale /= 10;
    }
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    Some(whole.saturating_mul(1_000_000).saturating_add(micros))
}

#[inline]
fn sub(base: Span, from: usize, to: usize) -> Span {
    Span {
        start: base.start + from as u32,
        end: base.start + to as u32,
        scratch: base.scratch,
    }
}

fn is_method(m: &[u8]) -> bool {
    !m.is_empty()
        && m.len() <= 24
        && m.iter()
            .all(|b| b.is_ascii_uppercase() || *b == b'-' || *b == b'_')
}

/// Splits `METHOD target PROTOCOL`, recovering the forms real logs have.
fn split_request(rec: &mut Record<'_>, req: Span) {
    let Record {
        line,
        scratch,
        texts,
        oddities,
        ..
    } = rec;
    let buf: &[u8] = if req.scratch { scratch } else { line };
    let r = &buf[req.start as usize..req.end as usize];
    if r.is_empty() || r == b"-" {
        oddities.insert(Oddity::EmptyRequest);
        return;
    }
    let Some(sp) = memchr(b' ', r) else {
        oddities.insert(Oddity::NonHttpRequest);
        return;
    };
    if !is_method(&r[..sp]) {
        oddities.insert(Oddity::NonHttpRequest);
        return;
    }
    texts[Text::Method as usize] = Some(sub(req, 0, sp));
    let mut t_start = sp + 1;
    // Tolerate several spaces after the method.
    while r.get(t_start) == Some(&b' ') {
        t_start += 1;
    }
    let mut t_end = r.len();
    while t_end > t_start && r[t_end - 1] == b' ' {
        t_end -= 1;
    }
    let body = &r[t_start..t_end];
    match memrchr(b' ', body) {
        Some(ls) if body[ls + 1..].starts_with(b"HTTP/") => {
            if !is_http_version(&body[ls + 1..]) {
                oddities.insert(Oddity::BadProtocol);
            }
            texts[Text::Protocol as usize] = Some(sub(req, t_start + ls + 1, t_end));
            let mut te = t_start + ls;
            while te > t_start && r[te - 1] == b' ' {
                te -= 1;
            }
            t_end = te;
        }
        _ => oddities.insert(Oddity::NoProtocol),
    }
    if memchr(b' ', &r[t_start..t_end]).is_some() {
        oddities.insert(Oddity::SpaceInPath);
    }
    split_uri(rec, sub(req, t_start, t_end));
}

fn is_http_version(p: &[u8]) -> bool {
    matches!(p, [b'H', b'T', b'T', b'P', b'/', a, b'.', b] if a.is_ascii_digit() && b.is_ascii_digit())
        || matches!(p, [b'H', b'T', b'T', b'P', b'/', a] if a.is_ascii_digit())
}

/// Splits a request target into host (absolute URIs), path and query.
fn split_uri(rec: &mut Record<'_>, target: Span) {
    let Record {
        line,
        scratch,
        texts,
        oddities,
        ..
    } = rec;
    let buf: &[u8] = if target.scratch { scratch } else { line };
    let t = &buf[target.start as usize..target.end as usize];
    let has_prefix = |p: &[u8]| t.len() >= p.len() && t[..p.len()].eq_ignore_ascii_case(p);
    let scheme = if has_prefix(b"http://") {
        7
    } else if has_prefix(b"https://") {
        8
    } else {
        0
    };
    let mut start = 0usize;
    if scheme > 0 {
        let auth_end = t[scheme..]
            .iter()
            .position(|&b| b == b'/' || b == b'?' || b == b'#')
            .map_or(t.len(), |p| p + scheme);
        texts[Text::Host as usize] = Some(sub(target, scheme, auth_end));
        start = auth_end;
    }
    let rest = &t[start..];
    if !rest.is_ascii() && std::str::from_utf8(rest).is_err() {
        oddities.insert(Oddity::NonUtf8);
    }
    // `GET http://host HTTP/1.1` asks for the root: the path is empty here and consumers read
    // an empty path as `/`.
    texts[Text::Uri as usize] = Some(sub(target, start, t.len()));
    match memchr(b'?', rest) {
        Some(q) => {
            texts[Text::Path as usize] = Some(sub(target, start, start + q));
            texts[Text::Query as usize] = Some(sub(target, start + q + 1, t.len()));
        }
        None => texts[Text::Path as usize] = Some(sub(target, start, t.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Oddities;

    fn p(fmt: &str) -> Parser {
        Parser::new(FormatSpec::from_str_any(fmt).unwrap())
    }

    fn s(b: Option<&[u8]>) -> Option<String> {
        b.map(|b| String::from_utf8_lossy(b).into_owned())
    }

    #[test]
    fn unescape_forms() {
        let mut out = Vec::new();
        unescape_into(br#"a\"b\\c\x22d\xfde\x0D\x0A\q\x"#, &mut out);
        assert_eq!(out, b"a\"b\\c\"d\xfde\r\n\\q\\x");
    }

    #[test]
    fn secs_to_micros() {
        assert_eq!(parse_secs_as_micros(b"0.004"), Some(4000));
        assert_eq!(parse_secs_as_micros(b"12"), Some(12_000_000));
        assert_eq!(parse_secs_as_micros(b"1.5"), Some(1_500_000));
        assert_eq!(parse_secs_as_micros(b"."), None);
        assert_eq!(parse_secs_as_micros(b"x"), None);
    }

    #[test]
    fn combined_line() {
        let parser = p("combined");
        let mut r = Record::new();
        let line = br#"83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-2013/images/kibana-search.png?x=1 HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1)""#;
        assert_eq!(parser.parse(line, &mut r), Outcome::Ok);
        assert_eq!(s(r.client()).unwrap(), "83.149.9.216");
        assert_eq!(s(r.method()).unwrap(), "GET");
        assert_eq!(
            s(r.path()).unwrap(),
            "/presentations/logstash-monitorama-2013/images/kibana-search.png"
        );
        assert_eq!(s(r.get(Text::Query)).unwrap(), "x=1");
        assert_eq!(s(r.get(Text::Protocol)).unwrap(), "HTTP/1.1");
        assert_eq!(r.status, Some(200));
        assert_eq!(r.bytes, Some(203_023));
        assert_eq!(
            s(r.user_agent()).unwrap(),
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1)"
        );
        assert_eq!(r.time.unwrap().utc, 1_431_857_103);
    }

    #[test]
    fn nasa_unescaped_quote_is_recovered() {
        let parser = p("nasa");
        let mut r = Record::new();
        let o = parser.parse(
            br#"frank.mtsu.edu - - [03/Jul/1995:02:41:15 -0400] "GET /images/" HTTP/1.0" 404 -"#,
            &mut r,
        );
        let Outcome::Degraded(odd) = o else {
            panic!("{o:?}")
        };
        assert!(odd.contains(Oddity::UnescapedQuote));
        assert_eq!(s(r.path()).unwrap(), "/images/\"");
        assert_eq!(s(r.get(Text::Protocol)).unwrap(), "HTTP/1.0");
        assert_eq!(r.status, Some(404));
        assert_eq!(r.bytes, None);
    }

    #[test]
    fn nasa_odd_requests() {
        let parser = p("nasa");
        let mut r = Record::new();
        let o = parser.parse(br#"pipe6.nyc.pipeline.com - - [01/Jul/1995:00:22:43 -0400] "GET /shuttle/missions/sts-71/movies/sts-71-mir-dock.mpg" 200 946425"#, &mut r);
        assert!(matches!(o, Outcome::Degraded(d) if d.contains(Oddity::NoProtocol)));
        assert_eq!(
            s(r.path()).unwrap(),
            "/shuttle/missions/sts-71/movies/sts-71-mir-dock.mpg"
        );
        let o = parser.parse(br#"asn20.whidbey.net - - [01/Jul/1995:01:49:11 -0400] "GET /shuttle/countdown/countdown.html HTTP/V1.0" 200 3985"#, &mut r);
        assert!(matches!(o, Outcome::Degraded(d) if d.contains(Oddity::BadProtocol)));
        let o = parser.parse(br#"204.120.229.63 - - [01/Jul/1995:04:29:05 -0400] "GET /history/history.html                                                 hqpao/hqpao_home.html HTTP/1.0" 200 1502"#, &mut r);
        assert!(matches!(o, Outcome::Degraded(d) if d.contains(Oddity::SpaceInPath)));
        assert!(s(r.path()).unwrap().starts_with("/history/history.html "));
        let o = parser.parse(b"pipe3.nyc.pipeline.com - - [02/Jul/1995:22:24:41 -0400] \"GET /shuttle/countdown/dy \x80?shuttle%20tracking HTTP/1.0\" 404 -", &mut r);
        assert!(matches!(o, Outcome::Degraded(d) if d.contains(Oddity::NonUtf8)));
        assert_eq!(r.path().unwrap(), b"/shuttle/countdown/dy \x80");
    }

    #[test]
    fn absolute_uri_keeps_host() {
        let parser = p("nginx");
        let mut r = Record::new();
        let o = parser.parse(br#"X.X.X.X - - [30/May/2020:06:25:26 -0400] "GET https://data.kitware.com/api/v1/file?x=1 HTTP/1.1" 200 5 "-" "curl/7""#, &mut r);
        assert_eq!(o, Outcome::Ok);
        assert_eq!(s(r.get(Text::Host)).unwrap(), "data.kitware.com");
        assert_eq!(s(r.path()).unwrap(), "/api/v1/file");
        assert_eq!(s(r.client()).unwrap(), "X.X.X.X");
        assert_eq!(r.referer(), None);
    }

    #[test]
    fn nginx_binary_junk_is_unescaped_and_flagged() {
        let parser = p("nginx");
        let mut r = Record::new();
        let o = parser.parse(br#"X.X.X.X - - [30/May/2020:12:19:28 -0400] "\x03\x00\x00/*\xE0\x00\x00\x00\x00\x00Cookie: mstshash=Administr" 400 182 "-" "-""#, &mut r);
        assert!(matches!(o, Outcome::Degraded(d) if d.contains(Oddity::NonHttpRequest)));
        assert_eq!(r.get(Text::Request).unwrap()[0], 3);
        assert_eq!(r.status, Some(400));
        assert_eq!(r.method(), None);
    }

    #[test]
    fn apache_escaped_quote_in_user_agent() {
        let parser = p("combined");
        let mut r = Record::new();
        let o = parser.parse(br#"1.2.3.4 - - [06/Aug/2024:00:58:31 +0000] "GET /a HTTP/1.1" 200 5 "-" "say \"hi\" bot""#, &mut r);
        assert_eq!(o, Outcome::Ok);
        assert_eq!(s(r.user_agent()).unwrap(), "say \"hi\" bot");
    }

    #[test]
    fn vhost_split_on_last_colon() {
        let parser = p("vcombined");
        let mut r = Record::new();
        let o = parser.parse(br#"neutralbank.app:443 139.59.58.140 - - [06/Aug/2024:02:57:00 +0000] "" 400 3043 "-" "-""#, &mut r);
        assert!(matches!(o, Outcome::Degraded(d) if d.contains(Oddity::EmptyRequest)));
        assert_eq!(s(r.get(Text::Vhost)).unwrap(), "neutralbank.app");
        assert_eq!(r.port, Some(443));
        let o = parser.parse(
            br#"[::1]:80 ::1 - - [06/Aug/2024:02:57:00 +0000] "-" 408 0 "-" "-""#,
            &mut r,
        );
        assert!(matches!(o, Outcome::Degraded(d) if d.contains(Oddity::EmptyRequest)));
        assert_eq!(s(r.get(Text::Vhost)).unwrap(), "[::1]");
        assert_eq!(s(r.client()).unwrap(), "::1");
    }

    #[test]
    fn unterminated_user_agent() {
        let parser = p("combined");
        let mut r = Record::new();
        let o = parser.parse(br#"46.118.127.106 - - [20/May/2015:12:05:17 +0000] "GET /scripts/grok-py-test/configlib.py HTTP/1.1" 200 235 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html"#, &mut r);
        // Only the closing quote is missing: no field is.
        assert_eq!(o, Outcome::Degraded(only(Oddity::UnterminatedQuote)));
        assert!(s(r.user_agent()).unwrap().ends_with("bot.html"));
        assert_eq!(r.status, Some(200));
    }

    #[test]
    fn common_line_under_combined_is_missing_fields() {
        let parser = p("combined");
        let mut r = Record::new();
        let o = parser.parse(
            br#"1.2.3.4 - - [06/Aug/2024:00:58:31 +0000] "GET /a HTTP/1.1" 200 5"#,
            &mut r,
        );
        assert!(matches!(o, Outcome::Degraded(d) if d.contains(Oddity::MissingFields)));
        assert_eq!(r.bytes, Some(5));
    }

    #[test]
    fn rejects_with_reasons() {
        let parser = p("combined");
        let mut r = Record::new();
        assert_eq!(
            parser.parse(b"   \r\n", &mut r),
            Outcome::Rejected(RejectReason::Empty)
        );
        let o = parser.parse(b"hello world", &mut r);
        assert!(matches!(
            o,
            Outcome::Rejected(RejectReason::Mismatch { .. })
        ));
        assert!(parser
            .explain(match &o {
                Outcome::Rejected(x) => x,
                _ => unreachable!(),
            })
            .contains("expected"));
        let o = parser.parse(
            br#"1.2.3.4 - - [06/Foo/2024:00:58:31 +0000] "GET / HTTP/1.1" 200 5 "-" "-""#,
            &mut r,
        );
        assert!(matches!(
            o,
            Outcome::Rejected(RejectReason::BadTimestamp { .. })
        ));
        let o = parser.parse(
            br#"1.2.3.4 - - [06/Aug/2024:00:58:31 +0000] "GET / HTTP/1.1" abc 5 "-" "-""#,
            &mut r,
        );
        assert!(matches!(
            o,
            Outcome::Rejected(RejectReason::BadStatus { .. })
        ));
    }

    #[test]
    fn crlf_and_status_dash() {
        let parser = p("combined");
        let mut r = Record::new();
        let o = parser.parse(
            b"1.2.3.4 - - [06/Aug/2024:00:58:31 +0000] \"GET / HTTP/1.1\" - - \"-\" \"-\"\r\n",
            &mut r,
        );
        assert!(matches!(o, Outcome::Degraded(d) if d.contains(Oddity::NoStatus)));
        assert_eq!(s(r.user_agent()), None);
        assert_eq!(r.line().last(), Some(&b'"'));
    }

    #[test]
    fn ipv6_client() {
        let parser = p("nginx");
        let mut r = Record::new();
        let o = parser.parse(br#"2a01:7e00::f03c:91ff:fe70:a4cc - - [18/May/2015:16:05:29 +0000] "GET /downloads/product_1 HTTP/1.1" 200 86166026 "-" "Wget/1.15 (linux-gnu)""#, &mut r);
        assert_eq!(o, Outcome::Ok);
        assert_eq!(s(r.client()).unwrap(), "2a01:7e00::f03c:91ff:fe70:a4cc");
    }

    #[test]
    fn custom_nginx_with_body_and_times() {
        let parser = Parser::new(FormatSpec::nginx(r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_host" "$http_referer" $request_body "$http_user_agent" "$http_x_forwarded_for" $upstream_addr $upstream_status $upstream_response_time $request_time"#).unwrap());
        let mut r = Record::new();
        let line = br#"182.106.215.93 - - [10/Nov/2016:00:01:02 +0800] "POST /socket.io/1/ HTTP/1.1" 200 94 "chat.mukewang.com" "-" - "android-websockets-2.0" "-" 10.100.15.239:80 200 0.004 0.005"#;
        assert_eq!(parser.parse(line, &mut r), Outcome::Ok);
        assert_eq!(s(r.get(Text::Host)).unwrap(), "chat.mukewang.com");
        assert_eq!(r.request_time_us, Some(5000));
        assert_eq!(r.upstream_time_us, Some(4000));
        assert_eq!(s(r.extra(0)).unwrap(), "10.100.15.239:80");
        assert_eq!(s(r.extra(1)).unwrap(), "200");
        let line = br#"10.100.135.58 - - [10/Nov/2016:00:01:07 +0800] "POST /service/getcourseinfo HTTP/1.0" 200 14396 "www.imooc.com" "-" ------------------------------f2b95dba175d\x0D\x0AContent-Disposition: form-data; name=\x22course_ids\x22\x0D\x0A\x0D\x0A[1] "-" "-" 10.100.15.239:80 200 0.004 0.005"#;
        assert_eq!(parser.parse(line, &mut r), Outcome::Ok);
        assert!(s(r.get(Text::RequestBody))
            .unwrap()
            .contains("name=\"course_ids\""));
        assert_eq!(r.request_time_us, Some(5000));
    }

    #[test]
    fn apache_with_request_time_micros() {
        let parser = Parser::new(FormatSpec::apache(r#"%h %l %u %t \"%r\" %>s %b %D"#).unwrap());
        let mut r = Record::new();
        let o = parser.parse(
            br#"::1 - bob [10/Oct/2000:13:55:36 -0700] "GET /x HTTP/1.0" 200 2326 1534"#,
            &mut r,
        );
        assert_eq!(o, Outcome::Ok);
        assert_eq!(r.request_time_us, Some(1534));
        assert_eq!(s(r.get(Text::User)).unwrap(), "bob");
    }

    #[test]
    fn trailing_data_is_recorded() {
        let parser = p("combined");
        let mut r = Record::new();
        let o = parser.parse(
            br#"1.2.3.4 - - [06/Aug/2024:00:58:31 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" "extra""#,
            &mut r,
        );
        // The last quoted field runs to the last quote: the extra is inside the user agent.
        assert!(o.is_usable());
        let parser = p("common");
        let o = parser.parse(
            br#"1.2.3.4 - - [06/Aug/2024:00:58:31 +0000] "GET / HTTP/1.1" 200 5 "-" "ua""#,
            &mut r,
        );
        assert!(matches!(o, Outcome::Degraded(d) if d.contains(Oddity::TrailingData)));
    }

    fn only(o: Oddity) -> Oddities {
        let mut d = Oddities::default();
        d.insert(o);
        d
    }

    const HEAD: &str = r#"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700]"#;

    #[test]
    fn one_megabyte_line() {
        let parser = p("combined");
        let mut r = Record::new();
        let path = format!("/{}", "a".repeat(1 << 20));
        let ua = "Mozilla/5.0 ".repeat((1 << 20) / 12);
        let line = format!(r#"{HEAD} "GET {path}?q=1 HTTP/1.1" 200 5 "-" "{ua}""#);
        assert!(line.len() > 2 << 20);
        assert_eq!(parser.parse(line.as_bytes(), &mut r), Outcome::Ok);
        assert_eq!(r.path().unwrap().len(), path.len());
        assert_eq!(s(r.get(Text::Query)).unwrap(), "q=1");
        assert_eq!(r.user_agent().unwrap(), ua.as_bytes());
        // A megabyte of quotes and backslashes inside the request: no close, rejected.
        let junk = "\\\" x".repeat(1 << 18);
        let line = format!(r#"{HEAD} "{junk}"#);
        assert!(matches!(
            parser.parse(line.as_bytes(), &mut r),
            Outcome::Rejected(RejectReason::Mismatch { .. })
        ));
        // A megabyte of junk with no structure at all.
        let line = vec![b'x'; 1 << 20];
        assert!(matches!(
            parser.parse(&line, &mut r),
            Outcome::Rejected(RejectReason::Mismatch { .. })
        ));
    }

    #[test]
    fn line_endings() {
        let parser = p("common");
        let mut r = Record::new();
        let base = format!(r#"{HEAD} "GET /a HTTP/1.0" 200 1"#);
        for eol in ["", "\n", "\r\n", "\r"] {
            let mut r = Record::new();
            let line = format!("{base}{eol}");
            assert_eq!(
                parser.parse(line.as_bytes(), &mut r),
                Outcome::Ok,
                "{eol:?}"
            );
            assert_eq!(r.line(), base.as_bytes());
            assert_eq!(r.bytes, Some(1));
        }
        // A CR inside a field is data, not a line end.
        let line = format!("{HEAD} \"GET /a\rb HTTP/1.0\" 200 1\r\n");
        assert_eq!(parser.parse(line.as_bytes(), &mut r), Outcome::Ok);
        assert_eq!(s(r.path()).unwrap(), "/a\rb");
    }

    #[test]
    fn hex_escapes_in_either_case() {
        let mut r = Record::new();
        // Apache writes lowercase, nginx uppercase; both decode the same.
        let apache = format!(r#"{HEAD} "\x16\x03\x01\x01\xfd\x01" 400 859 "-" "-""#);
        let o = p("debian").parse(apache.as_bytes(), &mut r);
        assert_eq!(o, Outcome::Degraded(only(Oddity::NonHttpRequest)));
        assert_eq!(r.get(Text::Request).unwrap(), b"\x16\x03\x01\x01\xfd\x01");
        let nginx = format!(r#"{HEAD} "\x16\x03\x01\x01\xFD\x01" 400 859 "-" "-""#);
        p("nginx").parse(nginx.as_bytes(), &mut r);
        assert_eq!(r.get(Text::Request).unwrap(), b"\x16\x03\x01\x01\xfd\x01");
        // Mixed case in one escape, inside a path, and `\x22` for a quote.
        let line = format!(r#"{HEAD} "GET /a\x2Fb\x2fc\x22d HTTP/1.1" 200 1 "-" "x\x22y""#);
        assert_eq!(p("nginx").parse(line.as_bytes(), &mut r), Outcome::Ok);
        assert_eq!(s(r.path()).unwrap(), "/a/b/c\"d");
        assert_eq!(s(r.user_agent()).unwrap(), "x\"y");
        // Not an escape: kept as written.
        let mut out = Vec::new();
        unescape_into(br"\xg1 \x4 \xZZ", &mut out);
        assert_eq!(out, br"\xg1 \x4 \xZZ");
    }

    #[test]
    fn apache_control_escapes() {
        let mut out = Vec::new();
        unescape_into(br"a\bb\vc\td\ne\rf", &mut out);
        assert_eq!(out, b"a\x08b\x0bc\td\ne\rf");
    }

    #[test]
    fn http_09_request() {
        let parser = p("common");
        let mut r = Record::new();
        let line = format!(r#"{HEAD} "GET /" 200 1"#);
        assert_eq!(
            parser.parse(line.as_bytes(), &mut r),
            Outcome::Degraded(only(Oddity::NoProtocol))
        );
        assert_eq!(s(r.method()).unwrap(), "GET");
        assert_eq!(s(r.path()).unwrap(), "/");
        assert_eq!(r.get(Text::Protocol), None);
        // With a query, and with a trailing space.
        let line = format!(r#"{HEAD} "GET /a?b=c " 200 1"#);
        assert_eq!(
            parser.parse(line.as_bytes(), &mut r),
            Outcome::Degraded(only(Oddity::NoProtocol))
        );
        assert_eq!(s(r.path()).unwrap(), "/a");
        assert_eq!(s(r.get(Text::Query)).unwrap(), "b=c");
        // HTTP/2 and HTTP/2.0 are fine.
        for proto in ["HTTP/2", "HTTP/2.0", "HTTP/1.1"] {
            let mut r = Record::new();
            let line = format!(r#"{HEAD} "GET / {proto}" 200 1"#);
            assert_eq!(
                parser.parse(line.as_bytes(), &mut r),
                Outcome::Ok,
                "{proto}"
            );
            assert_eq!(s(r.get(Text::Protocol)).unwrap(), proto);
        }
    }

    #[test]
    fn dash_and_empty_requests() {
        let parser = p("combined");
        for req in ["-", ""] {
            let mut r = Record::new();
            let line = format!(r#"{HEAD} "{req}" 408 0 "-" "-""#);
            assert_eq!(
                parser.parse(line.as_bytes(), &mut r),
                Outcome::Degraded(only(Oddity::EmptyRequest)),
                "{req:?}"
            );
            assert_eq!(s(r.get(Text::Request)).unwrap(), req);
            assert_eq!(
                (r.method(), r.path(), r.get(Text::Protocol)),
                (None, None, None)
            );
            assert_eq!(r.status, Some(408));
        }
    }

    #[test]
    fn status_dash() {
        let mut r = Record::new();
        let line = format!(r#"{HEAD} "GET / HTTP/1.1" - 5"#);
        assert_eq!(
            p("common").parse(line.as_bytes(), &mut r),
            Outcome::Degraded(only(Oddity::NoStatus))
        );
        assert_eq!((r.status, r.bytes), (None, Some(5)));
    }

    #[test]
    fn bracketed_ipv6_client() {
        let mut r = Record::new();
        for (fmt, line) in [
            (
                "combined",
                r#"[::1] - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5 "-" "-""#,
            ),
            (
                "nginx",
                r#"[2001:db8::1] - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5 "-" "-""#,
            ),
            (
                "common",
                r#"[::ffff:1.2.3.4] - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 5"#,
            ),
        ] {
            assert_eq!(p(fmt).parse(line.as_bytes(), &mut r), Outcome::Ok, "{line}");
            let want = &line[..line.find(' ').unwrap()];
            assert_eq!(s(r.client()).unwrap(), want);
        }
    }

    #[test]
    fn month_names_in_any_case() {
        let parser = p("common");
        let mut r = Record::new();
        let mut times = Vec::new();
        for m in ["Jul", "jul", "JUL", "jUL"] {
            let mut r = Record::new();
            let line = format!(r#"a - - [01/{m}/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 1"#);
            assert_eq!(parser.parse(line.as_bytes(), &mut r), Outcome::Ok, "{m}");
            times.push(r.time.unwrap());
        }
        assert!(times
            .iter()
            .all(|t| t.utc == 804_571_201 && t.offset == -14_400));
        let line = r#"a - - [01/Juli/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 1"#;
        assert!(matches!(
            parser.parse(line.as_bytes(), &mut r),
            Outcome::Rejected(RejectReason::BadTimestamp { .. })
        ));
    }

    #[test]
    fn backslash_before_closing_quote_in_unescaped_logs() {
        // NCSA-era servers escape nothing: a request ending in `\` must still close at its quote.
        let line = format!(r#"{HEAD} "GET /dir\" 404 -"#);
        let mut r = Record::new();
        assert_eq!(
            p("common").parse(line.as_bytes(), &mut r),
            Outcome::Degraded(only(Oddity::NoProtocol))
        );
        assert_eq!(s(r.path()).unwrap(), "/dir\\");
        assert_eq!((r.status, r.bytes), (Some(404), None));
        let line = format!(r#"{HEAD} "GET /dir\ HTTP/1.0" 200 7 "-" "ua\""#);
        assert_eq!(p("combined").parse(line.as_bytes(), &mut r), Outcome::Ok);
        assert_eq!(s(r.path()).unwrap(), "/dir\\");
        assert_eq!(r.bytes, Some(7));
        // Apache's own escapes still win when they make sense.
        let line = format!(r#"{HEAD} "GET /a\\" 200 1 "-" "say \"hi\"""#);
        assert_eq!(
            p("combined").parse(line.as_bytes(), &mut r),
            Outcome::Degraded(only(Oddity::NoProtocol))
        );
        assert_eq!(s(r.path()).unwrap(), "/a\\");
        assert_eq!(s(r.user_agent()).unwrap(), "say \"hi\"");
    }

    #[test]
    fn truncated_before_status_is_rejected() {
        let mut r = Record::new();
        let line = format!(r#"{HEAD} "GET /trunc"#);
        let o = p("combined").parse(line.as_bytes(), &mut r);
        let Outcome::Rejected(reason) = o else {
            panic!("{o:?}")
        };
        assert_eq!(
            reason,
            RejectReason::Mismatch {
                token: 9,
                at: line.len() as u32
            }
        );
        assert!(p("combined").explain(&reason).contains("expected"));
    }

    #[test]
    fn trailing_bytes_after_the_last_quote() {
        let parser = p("combined");
        let mut r = Record::new();
        let line = format!(r#"{HEAD} "GET / HTTP/1.1" 200 5 "-" "ua" "#);
        assert_eq!(
            parser.parse(line.as_bytes(), &mut r),
            Outcome::Degraded(only(Oddity::TrailingData))
        );
        assert_eq!(s(r.user_agent()).unwrap(), "ua");
        let line = format!("{HEAD} \"GET / HTTP/1.1\" 200 5\t");
        assert_eq!(
            p("common").parse(line.as_bytes(), &mut r),
            Outcome::Degraded(only(Oddity::TrailingData))
        );
        assert_eq!(r.bytes, Some(5));
    }

    #[test]
    fn richer_format_on_a_shorter_line() {
        // A combined line read as `main` (which adds X-Forwarded-For): the user agent is
        // whole and the missing field is recorded.
        let line = format!(r#"{HEAD} "GET / HTTP/1.1" 200 5 "-" "curl/8""#);
        let mut r = Record::new();
        assert_eq!(
            p("main").parse(line.as_bytes(), &mut r),
            Outcome::Degraded(only(Oddity::MissingFields))
        );
        assert_eq!(s(r.user_agent()).unwrap(), "curl/8");
        assert_eq!(r.get(Text::XForwardedFor), None);
    }
}
