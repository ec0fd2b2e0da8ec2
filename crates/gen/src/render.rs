//! Writing lines: the format compiled into pieces, and the timestamp cache.

use hitstream_format::time::civil_from_days;
use hitstream_format::{FieldKind, FormatSpec, Token};

/// One element of a line, in the order of the format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Lit(Box<[u8]>),
    Client,
    Ident,
    User,
    TimeClf,
    TimeIso,
    TimeEpoch,
    Request,
    Method,
    Uri,
    Path,
    /// Query string; Apache's `%q` writes it with its `?`, nginx's `$args` without, `-` when empty.
    Query {
        apache: bool,
    },
    Protocol,
    Status,
    Bytes,
    Referer,
    UserAgent,
    Vhost,
    Port,
    Host,
    Xff,
    ReqSecs,
    ReqMillis,
    ReqMicros,
    Upstream,
    /// Fields the generator has no value for (request bodies, unknown variables).
    Dash,
}

impl Piece {
    pub(crate) fn needs_request_time(&self) -> bool {
        matches!(
            self,
            Piece::ReqSecs | Piece::ReqMillis | Piece::ReqMicros | Piece::Upstream
        )
    }
}

/// How the format writes response sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SizeStyle {
    /// Apache `%b`: body bytes, `-` when there is no body (304, HEAD).
    DashForZero,
    /// nginx `$body_bytes_sent`, Apache `%B`: body bytes, `0` when there is none.
    Zero,
    /// Apache `%O`: bytes sent including headers, so never 0.
    WithHeaders,
}

/// Compiles a format's tokens into pieces (adjacent literals merged).
pub(crate) fn compile(spec: &FormatSpec) -> (Vec<Piece>, SizeStyle) {
    let apache = !spec.source.contains('$');
    let style = if !apache {
        SizeStyle::Zero
    } else if spec.source.contains("%O") || spec.source.contains("%>O") {
        SizeStyle::WithHeaders
    } else if spec.source.contains("%B") {
        SizeStyle::Zero
    } else {
        SizeStyle::DashForZero
    };
    let mut out: Vec<Piece> = Vec::with_capacity(spec.tokens.len());
    for t in &spec.tokens {
        let piece = match t {
            Token::Lit(l) => {
                if let Some(Piece::Lit(prev)) = out.last_mut() {
                    *prev = [&prev[..], &l[..]].concat().into_boxed_slice();
                    continue;
                }
                Piece::Lit(l.clone().into_boxed_slice())
            }
            Token::Field(k) => match k {
                FieldKind::Client => Piece::Client,
                FieldKind::Ident => Piece::Ident,
                FieldKind::User => Piece::User,
                FieldKind::TimeClf => Piece::TimeClf,
                FieldKind::TimeIso => Piece::TimeIso,
                FieldKind::TimeEpoch => Piece::TimeEpoch,
                FieldKind::Request => Piece::Request,
                FieldKind::Method => Piece::Method,
                FieldKind::Uri => Piece::Uri,
                FieldKind::Path => Piece::Path,
                FieldKind::Query => Piece::Query { apache },
                FieldKind::Protocol => Piece::Protocol,
                FieldKind::Status => Piece::Status,
                FieldKind::Bytes => Piece::Bytes,
                FieldKind::Referer => Piece::Referer,
                FieldKind::UserAgent => Piece::UserAgent,
                FieldKind::Vhost => Piece::Vhost,
                FieldKind::Port => Piece::Port,
                FieldKind::Host => Piece::Host,
                FieldKind::XForwardedFor => Piece::Xff,
                FieldKind::RequestTimeSecs => Piece::ReqSecs,
                FieldKind::RequestTimeMillis => Piece::ReqMillis,
                FieldKind::RequestTimeMicros => Piece::ReqMicros,
                FieldKind::UpstreamTime => Piece::Upstream,
                FieldKind::RequestBody | FieldKind::Extra(_) => Piece::Dash,
            },
        };
        out.push(piece);
    }
    (out, style)
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// The current second, rendered once in both timestamp styles. Moving to another second of the
/// same minute rewrites two digits; another minute renders the whole string again.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    /// Offset east of UTC in seconds.
    offset: i32,
    /// Local seconds since the epoch currently rendered.
    local: i64,
    /// `dd/Mon/yyyy:HH:MM:SS +zzzz`
    pub clf: [u8; 26],
    /// `yyyy-mm-ddTHH:MM:SS+zz:zz`
    pub iso: [u8; 25],
}

#[inline]
fn two(out: &mut [u8], v: u32) {
    out[0] = b'0' + (v / 10) as u8;
    out[1] = b'0' + (v % 10) as u8;
}

impl Clock {
    pub(crate) fn new(offset: i32, utc: i64) -> Clock {
        let mut c = Clock {
            offset,
            local: i64::MIN,
            clf: *b"01/Jan/1970:00:00:00 +0000",
            iso: *b"1970-01-01T00:00:00+00:00",
        };
        let sign = if offset < 0 { b'-' } else { b'+' };
        let (h, m) = (
            (offset.unsigned_abs() / 3600),
            (offset.unsigned_abs() % 3600) / 60,
        );
        c.clf[21] = sign;
        two(&mut c.clf[22..24], h);
        two(&mut c.clf[24..26], m);
        c.iso[19] = sign;
        two(&mut c.iso[20..22], h);
        two(&mut c.iso[23..25], m);
        c.set(utc);
        c
    }

    /// Moves to the UTC second `utc`.
    #[inline]
    pub(crate) fn set(&mut self, utc: i64) {
        let local = utc + i64::from(self.offset);
        if local == self.local {
            return;
        }
        if local.div_euclid(60) == self.local.div_euclid(60) {
            let s = local.rem_euclid(60) as u32;
            two(&mut self.clf[18..20], s);
            two(&mut self.iso[17..19], s);
        } else {
            self.render(local);
        }
        self.local = local;
    }

    #[cold]
    fn render(&mut self, local: i64) {
        let (y, mo, d) = civil_from_days(local.div_euclid(86_400) as i32);
        let sod = local.rem_euclid(86_400) as u32;
        let (h, mi, s) = (sod / 3600, sod % 3600 / 60, sod % 60);
        let y = y as u32;
        two(&mut self.clf[0..2], d);
        self.clf[3..6].copy_from_slice(MONTHS[mo as usize - 1]);
        two(&mut self.clf[7..9], y / 100);
        two(&mut self.clf[9..11], y % 100);
        two(&mut self.clf[12..14], h);
        two(&mut self.clf[15..17], mi);
        two(&mut self.clf[18..20], s);
        two(&mut self.iso[0..2], y / 100);
        two(&mut self.iso[2..4], y % 100);
        two(&mut self.iso[5..7], mo);
        two(&mut self.iso[8..10], d);
        two(&mut self.iso[11..13], h);
        two(&mut self.iso[14..16], mi);
        two(&mut self.iso[17..19], s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hitstream_format::time::{parse_clf, parse_iso8601};

    #[test]
    fn clock_renders_and_patches() {
        let mut c = Clock::new(-4 * 3600, 1_767_225_600);
        assert_eq!(&c.clf, b"31/Dec/2025:20:00:00 -0400");
        assert_eq!(&c.iso, b"2025-12-31T20:00:00-04:00");
        c.set(1_767_225_600 + 59);
        assert_eq!(&c.clf, b"31/Dec/2025:20:00:59 -0400");
        c.set(1_767_225_600 + 60 + 61 * 60 + 7);
        assert_eq!(&c.clf, b"31/Dec/2025:21:02:07 -0400");
        assert_eq!(&c.iso, b"2025-12-31T21:02:07-04:00");
    }

    #[test]
    fn clock_agrees_with_the_parser_over_a_long_walk() {
        let mut c = Clock::new(5 * 3600 + 1800, 951_782_400);
        let mut t = 951_782_400i64; // 2000-02-29
        for step in 0..20_000 {
            t += 1 + (step % 7) * 13 + (step % 5) * 3600;
            c.set(t);
            let p = parse_clf(&c.clf).unwrap();
            assert_eq!(
                (p.utc, p.offset),
                (t, 5 * 3600 + 1800),
                "{}",
                String::from_utf8_lossy(&c.clf)
            );
            let q = parse_iso8601(&c.iso).unwrap();
            assert_eq!((q.utc, q.offset), (t, 5 * 3600 + 1800));
        }
    }

    #[test]
    fn compile_merges_literals_and_picks_size_style() {
        let (p, s) = compile(&FormatSpec::from_str_any("combined").unwrap());
        assert_eq!(s, SizeStyle::DashForZero);
        assert_eq!(p[0], Piece::Client);
        assert!(p
            .windows(2)
            .all(|w| !matches!(w, [Piece::Lit(_), Piece::Lit(_)])));
        assert_eq!(
            compile(&FormatSpec::from_str_any("debian").unwrap()).1,
            SizeStyle::WithHeaders
        );
        assert_eq!(
            compile(&FormatSpec::from_str_any("vcombined").unwrap()).1,
            SizeStyle::WithHeaders
        );
        assert_eq!(
            compile(&FormatSpec::from_str_any("nginx").unwrap()).1,
            SizeStyle::Zero
        );
        assert_eq!(
            compile(&FormatSpec::from_str_any("main").unwrap()).1,
            SizeStyle::Zero
        );
        assert_eq!(
            compile(&FormatSpec::from_str_any("nasa").unwrap()).1,
            SizeStyle::DashForZero
        );
    }
}
