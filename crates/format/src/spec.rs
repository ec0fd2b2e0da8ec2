//! Format definitions: presets, nginx `log_format` strings and Apache `LogFormat` strings,
//! compiled into one token list that the parser walks.

use crate::error::FormatError;

/// What a placeholder in a format holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// Client address or host name (`%h`, `%a`, `$remote_addr`).
    Client,
    /// RFC 1413 identity (`%l`).
    Ident,
    /// Authenticated user (`%u`, `$remote_user`).
    User,
    /// `dd/Mon/yyyy:HH:MM:SS +zzzz` (`%t` without its brackets, `$time_local`).
    TimeClf,
    /// ISO 8601 (`$time_iso8601`).
    TimeIso,
    /// Unix seconds with fraction (`$msec`, `%{sec}t`, `%{msec_frac}t` is not supported).
    TimeEpoch,
    /// The whole request line (`%r`, `$request`).
    Request,
    /// Method alone (`%m`, `$request_method`).
    Method,
    /// Request URI with query (`$request_uri`).
    Uri,
    /// Path alone (`%U`, `$uri`).
    Path,
    /// Query string (`%q` with its `?`, `$args`/`$query_string` without).
    Query,
    /// Protocol (`%H`, `$server_protocol`).
    Protocol,
    /// Final status (`%>s`, `%s`, `$status`).
    Status,
    /// Response size where `-` means 0 (`%b`, `%B`, `%O`, `$body_bytes_sent`, `$bytes_sent`).
    Bytes,
    /// Referer header.
    Referer,
    /// User-Agent header.
    UserAgent,
    /// Virtual host / server name (`%v`, `%V`, `$server_name`).
    Vhost,
    /// Server port (`%p`, `$server_port`).
    Port,
    /// Host header (`%{Host}i`, `$http_host`, `$host`).
    Host,
    /// X-Forwarded-For header.
    XForwardedFor,
    /// Request time in seconds with fraction (`$request_time`, `%T`).
    RequestTimeSecs,
    /// Request time in milliseconds (`%{ms}T`).
    RequestTimeMillis,
    /// Request time in microseconds (`%D`, `%{us}T`).
    RequestTimeMicros,
    /// Upstream response time in seconds (`$upstream_response_time`; lists keep their text).
    UpstreamTime,
    /// Request body (`$request_body`): unquoted in nginx, may contain spaces.
    RequestBody,
    /// Any other variable, kept as a named extra field.
    Extra(String),
}

/// One element of a compiled format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// Bytes that must appear as they are.
    Lit(Vec<u8>),
    /// A placeholder.
    Field(FieldKind),
}

/// Which syntax a format string was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// A named preset.
    Preset,
    /// nginx `log_format` (`$var`).
    Nginx,
    /// Apache `LogFormat` (`%x`).
    Apache,
}

/// A log format: its name, the syntax it came from and the compiled tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatSpec {
    /// Preset name, or `custom`.
    pub name: String,
    /// Where it came from.
    pub syntax: Syntax,
    /// The source text (the format string).
    pub source: String,
    /// Literals and fields, never two fields in a row.
    pub tokens: Vec<Token>,
}

/// A built-in format.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// The name users pass to `--format`.
    pub name: &'static str,
    /// Other accepted names.
    pub aliases: &'static [&'static str],
    /// What it is.
    pub description: &'static str,
    /// Its definition, in Apache or nginx syntax.
    pub definition: &'static str,
}

/// The built-in formats, in the order `--format auto` prefers them on a tie.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "vcombined",
        aliases: &["vhost_combined", "apache_vhost_combined"],
        description: "Apache vhost_combined (Debian other_vhosts_access.log): %v:%p prefix",
        definition: r#"%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i""#,
    },
    Preset {
        name: "main",
        aliases: &["nginx_main"],
        description: "nginx `main` from the stock nginx.conf: combined plus X-Forwarded-For",
        definition: r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for""#,
    },
    Preset {
        name: "combined",
        aliases: &["apache_combined"],
        description: "Apache combined (NCSA extended): common plus referer and user agent",
        definition: r#"%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i""#,
    },
    Preset {
        name: "nginx",
        aliases: &["nginx_combined"],
        description: "nginx default `combined` log_format",
        definition: r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#,
    },
    Preset {
        name: "debian",
        aliases: &["combined_debian", "apache_debian"],
        description: "Debian/Ubuntu Apache combined, with %O (bytes sent including headers)",
        definition: r#"%h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i""#,
    },
    Preset {
        name: "common",
        aliases: &["clf", "ncsa"],
        description: "NCSA Common Log Format",
        definition: r#"%h %l %u %t "%r" %>s %b"#,
    },
    Preset {
        name: "nasa",
        aliases: &["common_hostnames"],
        description: "NCSA common as in the NASA-HTTP traces: host names instead of IPs",
        definition: r#"%h %l %u %t "%r" %>s %b"#,
    },
];

/// Looks a preset up by name or alias.
pub fn preset(name: &str) -> Option<&'static Preset> {
    let lower = name.to_ascii_lowercase();
    PRESETS
        .iter()
        .find(|p| p.name == lower || p.aliases.contains(&lower.as_str()))
}

/// The preset name (or alias, or `auto`) a mistyped name was probably meant to be: the
/// nearest by edit distance, if at most a third of the name's length away (`combind`,
/// `Combined `, `vcombine`, `ngnix`).
pub fn closest_preset(name: &str) -> Option<&'static str> {
    let lower = name.trim().to_ascii_lowercase();
    let names = PRESETS
        .iter()
        .flat_map(|p| std::iter::once(p.name).chain(p.aliases.iter().copied()))
        .chain(std::iter::once("auto"));
    let (best, d) = names
        .map(|n| (n, edit_distance(&lower, n)))
        .min_by_key(|(_, d)| *d)?;
    (d > 0 && d <= (lower.chars().count() / 3).max(1)).then_some(best)
}

/// Levenshtein distance with adjacent transpositions counting as one edit (`ngnix`). The
/// names are a dozen short words: a crate would be more code to pull in than this.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

impl FormatSpec {
    /// Builds a format from a preset name, an nginx `log_format` string (contains `$`) or an
    /// Apache `LogFormat` string (contains `%`).
    pub fn from_str_any(s: &str) -> Result<FormatSpec, FormatError> {
        let t = s.trim();
        if let Some(p) = preset(t) {
            let mut spec = FormatSpec::from_str_any(p.definition)?;
            spec.name = p.name.to_string();
            spec.syntax = Syntax::Preset;
            return Ok(spec);
        }
        if t.contains('$') {
            FormatSpec::nginx(t)
        } else if t.contains('%') {
            FormatSpec::apache(t)
        } else {
            Err(FormatError::UnknownPreset {
                name: t.to_string(),
                suggestion: closest_preset(t).map(str::to_string),
                known: PRESETS
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }

    /// Compiles an nginx `log_format` string.
    pub fn nginx(s: &str) -> Result<FormatSpec, FormatError> {
        let mut b = Builder::new(s);
        let mut i = 0;
        // nginx.conf strings are often pasted with their quotes and continuation: `'...' '...'`.
        let cleaned = strip_nginx_quotes(s);
        let src = cleaned.as_bytes();
        while i < src.len() {
            let c = src[i];
            if c == b'$' {
                let (name, next) = if src.get(i + 1) == Some(&b'{') {
                    let end = src[i + 2..]
                        .iter()
                        .position(|&c| c == b'}')
                        .ok_or_else(|| b.err(i, "unclosed `${`"))?;
                    (&src[i + 2..i + 2 + end], i + 3 + end)
                } else {
                    let len = src[i + 1..]
                        .iter()
                        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                        .count();
                    (&src[i + 1..i + 1 + len], i + 1 + len)
                };
                if name.is_empty() {
                    b.lit(b"$");
                    i += 1;
                    continue;
                }
                let kind = nginx_var(&String::from_utf8_lossy(name));
                b.field(kind, i)?;
                i = next;
            } else {
                b.lit(&[c]);
                i += 1;
            }
        }
        b.finish(Syntax::Nginx)
    }

    /// Compiles an Apache `LogFormat` string (`\"` may be written escaped, as in httpd.conf).
    pub fn apache(s: &str) -> Result<FormatSpec, FormatError> {
        let mut b = Builder::new(s);
        let src = s.as_bytes();
        let mut i = 0;
        while i < src.len() {
            let c = src[i];
            if c == b'\\' && i + 1 < src.len() {
                let e = src[i + 1];
                b.lit(&[match e {
                    b'n' => b'\n',
                    b't' => b'\t',
                    other => other,
                }]);
                i += 2;
                continue;
            }
            if c != b'%' {
                b.lit(&[c]);
                i += 1;
                continue;
            }
            let start = i;
            i += 1;
            if src.get(i) == Some(&b'%') {
                b.lit(b"%");
                i += 1;
                continue;
            }
            // Modifiers: `<`, `>`, and status conditions such as `!200,304`.
            while let Some(&m) = src.get(i) {
                if m == b'<' || m == b'>' || m == b'!' || m == b',' || m.is_ascii_digit() {
                    i += 1;
                } else {
                    break;
                }
            }
            let mut arg: Option<&str> = None;
            if src.get(i) == Some(&b'{') {
                let end = src[i + 1..]
                    .iter()
                    .position(|&c| c == b'}')
                    .ok_or_else(|| b.err(start, "unclosed `%{`"))?;
                arg = Some(std::str::from_utf8(&src[i + 1..i + 1 + end]).expect("utf8 slice"));
                i += end + 2;
            }
            let Some(&d) = src.get(i) else {
                return Err(b.err(start, "`%` at the end of the format"));
            };
            i += 1;
            match apache_directive(d, arg) {
                Some(ApacheItem::Time) => {
                    b.lit(b"[");
                    b.field(FieldKind::TimeClf, start)?;
                    b.lit(b"]");
                }
                Some(ApacheItem::Field(k)) => b.field(k, start)?,
                None => {
                    // The directive letter may be the first byte of a multi-byte character:
                    // show the whole character.
                    let mut end = i.min(s.len());
                    while !s.is_char_boundary(end) {
                        end += 1;
                    }
                    return Err(b.err(
                        start,
                        &format!("unsupported directive `{}`", &s[start..end]),
                    ));
                }
            }
        }
        b.finish(Syntax::Apache)
    }

    /// Whether the format has a field of this kind.
    pub fn has(&self, kind: &FieldKind) -> bool {
        self.tokens
            .iter()
            .any(|t| matches!(t, Token::Field(k) if k == kind))
    }

    /// Names of the extra fields, in the order they appear.
    pub fn extra_names(&self) -> Vec<&str> {
        self.tokens
            .iter()
            .filter_map(|t| match t {
                Token::Field(FieldKind::Extra(n)) => Some(n.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Number of fields.
    pub fn field_count(&self) -> usize {
        self.tokens
            .iter()
            .filter(|t| matches!(t, Token::Field(_)))
            .count()
    }
}

/// Turns `'$a - $b ' '"$c"'` (nginx.conf quoting across lines) into `$a - $b "$c"`.
fn strip_nginx_quotes(s: &str) -> String {
    let t = s.trim().trim_end_matches(';').trim();
    if !t.starts_with('\'') || !t.ends_with('\'') || t.len() < 2 {
        return s.to_string();
    }
    let mut out = String::new();
    let mut inside = false;
    for c in t.chars() {
        if c == '\'' {
            inside = !inside;
        } else if inside {
            out.push(c);
        }
    }
    out
}

fn nginx_var(name: &str) -> FieldKind {
    use FieldKind::*;
    match name {
        "remote_addr" | "binary_remote_addr" | "realip_remote_addr" => Client,
        "remote_user" => User,
        "time_local" => TimeClf,
        "time_iso8601" => TimeIso,
        "msec" => TimeEpoch,
        "request" => Request,
        "request_method" => Method,
        "request_uri" => Uri,
        "uri" | "document_uri" => Path,
        "args" | "query_string" => Query,
        "server_protocol" => Protocol,
        "status" => Status,
        "body_bytes_sent" | "bytes_sent" => Bytes,
        "http_referer" => Referer,
        "http_user_agent" => UserAgent,
        "server_name" => Vhost,
        "server_port" => Port,
        "http_host" | "host" => Host,
        "http_x_forwarded_for" | "proxy_add_x_forwarded_for" => XForwardedFor,
        "request_time" => RequestTimeSecs,
        "upstream_response_time" => UpstreamTime,
        "request_body" => RequestBody,
        other => Extra(other.to_string()),
    }
}

enum ApacheItem {
    Time,
    Field(FieldKind),
}

fn apache_directive(d: u8, arg: Option<&str>) -> Option<ApacheItem> {
    use FieldKind::*;
    let lower_arg = arg.map(|a| a.to_ascii_lowercase());
    let k = match (d, lower_arg.as_deref()) {
        (b'h', _) | (b'a', _) => Client,
        (b'l', _) => Ident,
        (b'u', _) => User,
        (b't', None) => return Some(ApacheItem::Time),
        (b't', Some("sec")) => TimeEpoch,
        (b't', Some(_)) => return None,
        (b'r', _) => Request,
        (b'm', _) => Method,
        (b'U', _) => Path,
        (b'q', _) => Query,
        (b'H', _) => Protocol,
        (b's', _) => Status,
        (b'b', _) | (b'B', _) | (b'O', _) => Bytes,
        (b'v', _) | (b'V', _) => Vhost,
        (b'p', _) => Port,
        (b'D', _) => RequestTimeMicros,
        (b'T', None) | (b'T', Some("s")) => RequestTimeSecs,
        (b'T', Some("ms")) => RequestTimeMillis,
        (b'T', Some("us")) => RequestTimeMicros,
        (b'i', Some("referer")) => Referer,
        (b'i', Some("user-agent")) => UserAgent,
        (b'i', Some("host")) => Host,
        (b'i', Some("x-forwarded-for")) => XForwardedFor,
        (b'i', Some(_)) => Extra(format!("in:{}", arg.unwrap_or_default())),
        (b'o', Some(_)) => Extra(format!("out:{}", arg.unwrap_or_default())),
        (b'e', Some(_)) => Extra(format!("env:{}", arg.unwrap_or_default())),
        (b'C', Some(_)) => Extra(format!("cookie:{}", arg.unwrap_or_default())),
        (b'n', Some(_)) => Extra(format!("note:{}", arg.unwrap_or_default())),
        (b'^', _) => Extra(format!("trailer:{}", arg.unwrap_or_default())),
        (b'A', _) => Extra("local_ip".into()),
        (b'I', _) => Extra("bytes_received".into()),
        (b'S', _) => Extra("bytes_transferred".into()),
        (b'k', _) => Extra("keepalive_requests".into()),
        (b'L', _) => Extra("log_id".into()),
        (b'P', _) => Extra("pid".into()),
        (b'R', _) => Extra("handler".into()),
        (b'X', _) => Extra("connection_status".into()),
        (b'f', _) => Extra("filename".into()),
        _ => return None,
    };
    Some(ApacheItem::Field(k))
}

struct Builder<'s> {
    source: &'s str,
    tokens: Vec<Token>,
}

impl<'s> Builder<'s> {
    fn new(source: &'s str) -> Self {
        Builder {
            source,
            tokens: Vec::new(),
        }
    }

    fn err(&self, at: usize, msg: &str) -> FormatError {
        FormatError::Syntax {
            format: self.source.to_string(),
            at,
            message: msg.to_string(),
        }
    }

    fn lit(&mut self, bytes: &[u8]) {
        if let Some(Token::Lit(l)) = self.tokens.last_mut() {
            l.extend_from_slice(bytes);
        } else {
            self.tokens.push(Token::Lit(bytes.to_vec()));
        }
    }

    fn field(&mut self, kind: FieldKind, at: usize) -> Result<(), FormatError> {
        if matches!(self.tokens.last(), Some(Token::Field(_))) {
            return Err(self.err(
                at,
                "two fields with nothing between them cannot be told apart",
            ));
        }
        self.tokens.push(Token::Field(kind));
        Ok(())
    }

    fn finish(self, syntax: Syntax) -> Result<FormatSpec, FormatError> {
        let has_time = self.tokens.iter().any(|t| {
            matches!(
                t,
                Token::Field(FieldKind::TimeClf | FieldKind::TimeIso | FieldKind::TimeEpoch)
            )
        });
        if !has_time {
            return Err(FormatError::NoTimestamp {
                format: self.source.to_string(),
            });
        }
        Ok(FormatSpec {
            name: "custom".into(),
            syntax,
            source: self.source.to_string(),
            tokens: self.tokens,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(s: &FormatSpec) -> Vec<FieldKind> {
        s.tokens
            .iter()
            .filter_map(|t| match t {
                Token::Field(k) => Some(k.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn apache_combined_matches_nginx_combined_fields() {
        let a = FormatSpec::from_str_any("combined").unwrap();
        let n = FormatSpec::from_str_any("nginx").unwrap();
        assert_eq!(fields(&n)[0], FieldKind::Client);
        assert_eq!(fields(&a).len(), 9);
        assert_eq!(fields(&n).len(), 8); // nginx writes `-` for ident as a literal
        assert_eq!(a.tokens[0], Token::Field(FieldKind::Client));
    }

    #[test]
    fn apache_escaped_quotes_and_modifiers() {
        let s = FormatSpec::apache(
            r#"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\" %D %{X-Trace}i"#,
        )
        .unwrap();
        let f = fields(&s);
        assert!(f.contains(&FieldKind::Status));
        assert!(f.contains(&FieldKind::UserAgent));
        assert!(f.contains(&FieldKind::RequestTimeMicros));
        assert!(f.contains(&FieldKind::Extra("in:X-Trace".into())));
        assert_eq!(s.tokens[s.tokens.len() - 2], Token::Lit(b" ".to_vec()));
    }

    #[test]
    fn nginx_custom_with_unknown_vars() {
        let s = FormatSpec::nginx(
            r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_host" "$http_referer" $request_body "$http_user_agent" "$http_x_forwarded_for" $upstream_addr $upstream_status $upstream_response_time $request_time"#,
        )
        .unwrap();
        assert_eq!(s.extra_names(), vec!["upstream_addr", "upstream_status"]);
        assert!(s.has(&FieldKind::RequestBody));
        assert!(s.has(&FieldKind::RequestTimeSecs));
    }

    #[test]
    fn nginx_conf_quoting_is_accepted() {
        let a = FormatSpec::nginx(
            "'$remote_addr - $remote_user [$time_local] \"$request\" '\n    '$status $body_bytes_sent';",
        )
        .unwrap();
        let b = FormatSpec::nginx(
            "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent",
        )
        .unwrap();
        assert_eq!(a.tokens, b.tokens);
    }

    #[test]
    fn errors_name_the_problem() {
        let e = FormatSpec::from_str_any("nosuchpreset").unwrap_err();
        assert!(e.to_string().contains("nosuchpreset"));
        assert!(!e.to_string().contains("did you mean"), "{e}");
        for (typo, meant) in [
            ("combind", "combined"),
            ("ngnix", "nginx"),
            ("vcombine", "vcombined"),
            ("comon", "common"),
            ("atuo", "auto"),
        ] {
            let e = FormatSpec::from_str_any(typo).unwrap_err();
            assert!(
                e.to_string().contains(&format!("did you mean `{meant}`?")),
                "{typo}: {e}"
            );
        }
        let e = FormatSpec::apache("%h%l %t").unwrap_err();
        assert!(e.to_string().contains("nothing between"));
        let e = FormatSpec::apache("%h %Z %t").unwrap_err();
        assert!(e.to_string().contains("%Z"));
        // A directive that is not ASCII is named whole, without a panic.
        let e = FormatSpec::apache("%h %é %t").unwrap_err();
        assert!(e.to_string().contains("`%é`"), "{e}");
        let e = FormatSpec::apache("%{X}\u{1F600} %t").unwrap_err();
        assert!(e.to_string().contains("`%{X}\u{1F600}`"), "{e}");
        let e = FormatSpec::nginx("$remote_addr $status").unwrap_err();
        assert!(e.to_string().contains("time"));
    }

    #[test]
    fn every_preset_compiles() {
        for p in PRESETS {
            let s = FormatSpec::from_str_any(p.name).unwrap();
            assert_eq!(s.name, p.name);
            for a in p.aliases {
                assert_eq!(FormatSpec::from_str_any(a).unwrap().name, p.name);
            }
        }
    }
}
