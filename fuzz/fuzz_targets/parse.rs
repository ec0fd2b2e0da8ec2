//! Fuzz the access-log parser: every preset and a few custom formats over arbitrary bytes,
//! `detect` over the same bytes split into lines, escape decoding, and (for UTF-8 input) the
//! input itself as a format string. Nothing may panic, and what comes out must be consistent.

#![no_main]

use std::sync::OnceLock;

use hitstream_format::{
    detect, unescape_into, FieldKind, FormatSpec, Oddity, Outcome, Parser, Record, Text, Token,
    PRESETS,
};
use libfuzzer_sys::fuzz_target;

const CUSTOM_FORMATS: &[&str] = &[
    r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_host" "$http_referer" $request_body "$http_user_agent" "$http_x_forwarded_for" $upstream_addr $upstream_status $upstream_response_time $request_time"#,
    r#"$remote_addr [$time_iso8601] "$request" $status $bytes_sent $request_time "$http_user_agent""#,
    r#"$msec $remote_addr "$request_method $request_uri $server_protocol" $status $upstream_response_time"#,
    r#"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\" %D %{X-Trace}i"#,
    r#"%a %{sec}t \"%m %U %H\" %>s %O %{Host}i %{ms}T"#,
    r#"%v:%p %h %t %>s %T"#,
];

fn parsers() -> &'static [Parser] {
    static P: OnceLock<Vec<Parser>> = OnceLock::new();
    P.get_or_init(|| {
        PRESETS
            .iter()
            .map(|p| p.name)
            .chain(CUSTOM_FORMATS.iter().copied())
            .map(|f| Parser::new(FormatSpec::from_str_any(f).expect("format compiles")))
            .collect()
    })
}

fn check<'a>(parser: &Parser, line: &'a [u8], rec: &mut Record<'a>) {
    let o = parser.parse(line, rec);
    match o {
        Outcome::Ok => assert!(rec.oddities.is_empty()),
        Outcome::Degraded(d) => assert_eq!(d, rec.oddities),
        Outcome::Rejected(r) => {
            let _ = parser.explain(&r);
            return;
        }
    }
    assert!(rec.time.is_some(), "a usable line has a time");
    let statuses = parser
        .spec()
        .tokens
        .iter()
        .filter(|t| matches!(t, Token::Field(FieldKind::Status)))
        .count();
    if statuses == 1 {
        assert_ne!(
            rec.status.is_some(),
            rec.oddities.contains(Oddity::NoStatus)
        );
    }
    for t in Text::ALL {
        if let Some(v) = rec.get(t) {
            assert!(v.len() <= rec.line().len());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut rec = Record::new();
    for parser in parsers() {
        check(parser, data, &mut rec);
        for line in data.split(|&b| b == b'\n') {
            check(parser, line, &mut rec);
        }
    }
    let _ = detect(data.split(|&b| b == b'\n'));

    let mut out = Vec::new();
    unescape_into(data, &mut out);
    assert!(out.len() <= data.len());

    // The input as a format string, and its own text as a line of that format.
    if let Ok(s) = std::str::from_utf8(data) {
        if s.len() <= 1024 {
            if let Ok(spec) = FormatSpec::from_str_any(s) {
                let parser = Parser::new(spec);
                let mut rec = Record::new();
                check(&parser, data, &mut rec);
            }
        }
    }
});
