//! Browser and operating system of a user agent, as the woothee project names them.
//!
//! Parsing a user agent takes microseconds (woothee runs regexes), so the analysis never parses
//! one per line: a partial already counts requests per distinct user agent, and the report parses
//! each distinct agent once.

/// What a user agent says about the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// Browser or crawler name (`Chrome`, `Firefox`, `Googlebot`...), `unknown` if not recognised.
    pub browser: String,
    /// Major version of the browser (`120`), empty if unknown.
    pub major: String,
    /// Operating system (`Windows 10`, `Mac OSX`, `Android`, `Linux`...), `unknown` if not named.
    pub os: String,
    /// Device category: `pc`, `smartphone`, `mobilephone`, `crawler`, `appliance`, `misc` or
    /// `unknown`.
    pub category: String,
}

/// The name for anything woothee does not recognise.
pub const UNKNOWN: &str = "unknown";

fn known(s: &str) -> String {
    if s.is_empty() || s == "UNKNOWN" {
        UNKNOWN.to_string()
    } else {
        s.to_string()
    }
}

/// Parses user agents; one per report is enough (it holds no state).
#[derive(Default)]
pub struct PlatformParser {
    parser: woothee::parser::Parser,
}

impl std::fmt::Debug for PlatformParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlatformParser(woothee)")
    }
}

impl PlatformParser {
    /// A parser.
    pub fn new() -> PlatformParser {
        PlatformParser::default()
    }

    /// The platform of a user agent (bytes that are not UTF-8 are read as U+FFFD). `-`, empty
    /// and unrecognised agents give `unknown` everywhere.
    pub fn parse(&self, ua: &[u8]) -> Platform {
        let ua = String::from_utf8_lossy(ua);
        match self.parser.parse(&ua) {
            Some(r) => {
                let browser = known(r.name);
                let major = if browser == UNKNOWN {
                    String::new()
                } else {
                    r.version
                        .split('.')
                        .next()
                        .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
                        .unwrap_or_default()
                        .to_string()
                };
                Platform {
                    browser,
                    major,
                    os: known(r.os),
                    category: known(r.category),
                }
            }
            None => Platform {
                browser: UNKNOWN.to_string(),
                major: String::new(),
                os: UNKNOWN.to_string(),
                category: UNKNOWN.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn real_agents() {
        let p = PlatformParser::new();
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/120.0.0.0 Safari/537.36",
                "Chrome",
                "120",
                "Windows 10",
            ),
            (
                "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:27.0) Gecko/20100101 Firefox/27.0",
                "Firefox",
                "27",
                "Linux",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.73.11 (KHTML, like \
                 Gecko) Version/7.0.1 Safari/537.73.11",
                "Safari",
                "7",
                "Mac OSX",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 7_0_4 like Mac OS X) AppleWebKit/537.51.1 \
                 (KHTML, like Gecko) Version/7.0 Mobile/11B554a Safari/9537.53",
                "Safari",
                "7",
                "iPhone",
            ),
            (
                "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)",
                "Internet Explorer",
                "8",
                "Windows 7",
            ),
            (
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                "Googlebot",
                "",
                "unknown",
            ),
        ];
        for (ua, browser, major, os) in cases {
            let got = p.parse(ua.as_bytes());
            assert_eq!(got.browser, *browser, "{ua}");
            assert_eq!(got.major, *major, "{ua}");
            assert_eq!(got.os, *os, "{ua}");
        }
        assert_eq!(
            p.parse(b"Mozilla/5.0 (compatible; Googlebot/2.1)").category,
            "crawler"
        );
        for unknown in [&b"-"[..], b"", b"\xff\xfe", b"x"] {
            let got = p.parse(unknown);
            assert_eq!(got.browser, UNKNOWN);
            assert_eq!(got.major, "");
        }
    }

    proptest! {
        #[test]
        fn any_bytes_parse(ua in proptest::collection::vec(any::<u8>(), 0..200)) {
            let got = PlatformParser::new().parse(&ua);
            prop_assert!(!got.browser.is_empty() && !got.os.is_empty());
        }

        #[test]
        fn agent_like_strings_parse(
            ua in "(Mozilla/[0-9.]{0,4} )?\\(([A-Za-z0-9 ;._/:-]{0,40})\\)( [A-Za-z]{1,10}/[0-9.]{0,8}){0,4}"
        ) {
            let _ = PlatformParser::new().parse(ua.as_bytes());
        }
    }
}
