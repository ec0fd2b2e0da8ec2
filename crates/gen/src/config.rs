//! What to generate: [`GenConfig`] and the parsers for its textual options.

use crate::error::GenError;

/// 2026-01-01T00:00:00Z, the default start of event time (fixed, so output is reproducible).
pub const DEFAULT_START: i64 = 1_767_225_600;
/// Lines per second of event time when no rate is given.
pub const DEFAULT_EVENT_RATE: f64 = 100.0;
/// Lines written when neither a count nor a rate is given.
pub const DEFAULT_COUNT: u64 = 1000;
/// Pages of the generated site.
pub const DEFAULT_PAGES: u32 = 2000;
/// Zipf exponent of page popularity.
pub const DEFAULT_ZIPF: f64 = 1.0;
/// Size of the client pool.
pub const DEFAULT_CLIENTS: u32 = 1000;
/// Scanner clients probing for vulnerable paths.
pub const DEFAULT_SCANNERS: u32 = 2;
/// Host name of the generated site.
pub const DEFAULT_HOST: &str = "www.example.com";
/// Default seed.
pub const DEFAULT_SEED: u64 = 1;

/// Which paths ordinary visitors request.
#[derive(Debug, Clone, PartialEq)]
pub enum PathSource {
    /// A generated site (home, sections, blog posts, products, docs, downloads, an API, static
    /// assets) whose pages are requested with Zipf popularity; browsers fetch each page's assets.
    Site {
        /// Number of pages (HTML documents; assets come on top).
        pages: u32,
        /// Zipf exponent: 0 is uniform, 1 is classic web popularity, larger is more skewed.
        zipf: f64,
    },
    /// Exactly these paths, drawn with these weights by every ordinary client (no assets, no
    /// `robots.txt`). Scanners still probe their own paths; use `scanners: 0` for pure shares.
    Weighted(Vec<WeightedPath>),
}

impl Default for PathSource {
    fn default() -> Self {
        PathSource::Site {
            pages: DEFAULT_PAGES,
            zipf: DEFAULT_ZIPF,
        }
    }
}

/// One path of [`PathSource::Weighted`].
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedPath {
    /// Request target: starts with `/`, may carry a query string.
    pub path: String,
    /// Relative weight (positive; shares are weight / sum of weights).
    pub weight: f64,
}

/// Everything a [`crate::Generator`] needs. `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// Log format: a preset name of `hitstream_format::PRESETS` (`combined`, `vcombined`,
    /// `main`, `nginx`, `debian`, `common`, `nasa`) or an nginx/Apache format string. Every
    /// preset's lines parse cleanly; custom strings work when their fields are known ones
    /// (unknown variables are written as `-`).
    pub format: String,
    /// Lines [`crate::Generator::write_to`] writes; `None` runs until the writer fails or is stopped.
    pub count: Option<u64>,
    /// Real-time pacing in lines per second; `None` writes as fast as possible.
    pub rate: Option<f64>,
    /// Lines per second of event time (how fast timestamps advance). `None` means `rate` when
    /// pacing, else [`DEFAULT_EVENT_RATE`]. Different from `rate`, it replays faster or slower
    /// than real time.
    pub event_rate: Option<f64>,
    /// Seed: the same configuration and seed give the same bytes.
    pub seed: u64,
    /// Event time of the first line, Unix seconds (UTC).
    pub start: i64,
    /// Microseconds after `start` of the first line (a sub-second start, as `--start now`
    /// gives); below 1,000,000.
    pub start_micros: u32,
    /// UTC offset written in the timestamps, seconds east of UTC.
    pub tz_offset: i32,
    /// Paths of ordinary traffic.
    pub paths: PathSource,
    /// Ordinary clients (browsers, crawlers, API tools); activity per client is Zipf-distributed.
    pub clients: u32,
    /// Scanner clients that probe for vulnerable paths in bursts (mostly 404s).
    pub scanners: u32,
    /// Host name of the site (virtual host, referers within the site).
    pub host: String,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            format: "combined".into(),
            count: Some(DEFAULT_COUNT),
            rate: None,
            event_rate: None,
            seed: DEFAULT_SEED,
            start: DEFAULT_START,
            start_micros: 0,
            tz_offset: 0,
            paths: PathSource::default(),
            clients: DEFAULT_CLIENTS,
            scanners: DEFAULT_SCANNERS,
            host: DEFAULT_HOST.into(),
        }
    }
}

impl GenConfig {
    /// Lines per second of event time actually used.
    pub fn effective_event_rate(&self) -> f64 {
        self.event_rate.or(self.rate).unwrap_or(DEFAULT_EVENT_RATE)
    }

    /// Checks every setting; [`crate::Generator::new`] calls it.
    pub fn validate(&self) -> Result<(), GenError> {
        let bad = |field, reason: String| Err(GenError::Config { field, reason });
        if let Some(r) = self.rate {
            if !(r.is_finite() && r > 0.0) {
                return bad(
                    "--rate",
                    format!("{r} is not a positive number of lines per second"),
                );
            }
        }
        if let Some(r) = self.event_rate {
            if !(r.is_finite() && r > 0.0) {
                return bad(
                    "--event-rate",
                    format!("{r} is not a positive number of lines per second"),
                );
            }
        }
        if self.clients == 0 {
            return bad("--clients", "at least one client is needed".into());
        }
        if self.tz_offset.abs() >= 24 * 3600 || self.tz_offset % 60 != 0 {
            return bad(
                "--tz-offset",
                format!(
                    "{} s is not a whole-minute offset under 24 h",
                    self.tz_offset
                ),
            );
        }
        // Four-digit years keep every format's timestamp well-formed.
        if !(-62_135_596_800..=253_402_300_799 - 86_400 * 366 * 100).contains(&self.start) {
            return bad(
                "--start",
                format!("{} is outside the years 1..9899", self.start),
            );
        }
        if self.start_micros >= 1_000_000 {
            return bad(
                "--start",
                format!("{} µs is not below one second", self.start_micros),
            );
        }
        if self.host.is_empty()
            || !self
                .host
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' && b != b'/')
        {
            return bad("host", format!("`{}` is not a host name", self.host));
        }
        match &self.paths {
            PathSource::Site { pages, zipf } => {
                if *pages == 0 {
                    return bad("--pages", "the site needs at least one page".into());
                }
                if !(zipf.is_finite() && *zipf >= 0.0) {
                    return bad("--zipf", format!("{zipf} is not a non-negative exponent"));
                }
            }
            PathSource::Weighted(list) => {
                if list.is_empty() {
                    return bad("--paths", "the list is empty".into());
                }
                for (i, p) in list.iter().enumerate() {
                    check_path(&p.path).map_err(|reason| GenError::Paths {
                        entry: p.path.clone(),
                        index: i + 1,
                        reason,
                    })?;
                    if !(p.weight.is_finite() && p.weight > 0.0) {
                        return Err(GenError::Paths {
                            entry: p.path.clone(),
                            index: i + 1,
                            reason: format!("weight {} is not a positive number", p.weight),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// A request target the logs can carry without escaping: `/` first, printable ASCII, no
/// space, quote or backslash.
fn check_path(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err("a path starts with `/`".into());
    }
    if let Some(c) = p
        .chars()
        .find(|c| !c.is_ascii_graphic() || *c == '"' || *c == '\\')
    {
        return Err(format!(
            "{c:?} cannot appear in a logged path (encode it as %XX)"
        ));
    }
    Ok(())
}

/// Parses `/a=50,/b=25,/c` (weight defaults to 1) into weighted paths.
///
/// ```
/// let p = hitstream_gen::parse_weighted_paths("/product1=50, /product2=25,/about").unwrap();
/// assert_eq!(p.len(), 3);
/// assert_eq!((p[0].path.as_str(), p[0].weight), ("/product1", 50.0));
/// assert_eq!(p[2].weight, 1.0);
/// assert!(hitstream_gen::parse_weighted_paths("product=5").is_err());
/// ```
pub fn parse_weighted_paths(s: &str) -> Result<Vec<WeightedPath>, GenError> {
    let mut out = Vec::new();
    for (i, raw) in s.split(',').enumerate() {
        let entry = raw.trim();
        let err = |reason: String| GenError::Paths {
            entry: entry.to_string(),
            index: i + 1,
            reason,
        };
        if entry.is_empty() {
            return Err(err("empty entry".into()));
        }
        // The weight follows the last `=` so that query strings (`/s?q=a=5`) keep theirs.
        let (path, weight) = match entry.rsplit_once('=') {
            Some((p, w)) if w.trim().parse::<f64>().is_ok() => {
                (p.trim(), w.trim().parse::<f64>().unwrap_or(1.0))
            }
            _ => (entry, 1.0),
        };
        check_path(path).map_err(&err)?;
        if !(weight.is_finite() && weight > 0.0) {
            return Err(err(format!("weight {weight} is not a positive number")));
        }
        out.push(WeightedPath {
            path: path.to_string(),
            weight,
        });
    }
    Ok(out)
}

/// Parses a UTC offset: `+0000`, `-0400`, `+05:30`, `Z` or `UTC`; returns seconds east of UTC.
///
/// ```
/// assert_eq!(hitstream_gen::parse_utc_offset("-0400").unwrap(), -4 * 3600);
/// assert_eq!(hitstream_gen::parse_utc_offset("+05:30").unwrap(), 5 * 3600 + 1800);
/// assert_eq!(hitstream_gen::parse_utc_offset("Z").unwrap(), 0);
/// ```
pub fn parse_utc_offset(s: &str) -> Result<i32, GenError> {
    let t = s.trim();
    let err = || GenError::Offset {
        text: s.to_string(),
    };
    if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
        return Ok(0);
    }
    let b = t.as_bytes();
    let sign = match b.first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err(err()),
    };
    let digits: Vec<u8> = match b.len() {
        5 => b[1..].to_vec(),
        6 if b[3] == b':' => [&b[1..3], &b[4..]].concat(),
        3 => [&b[1..], b"00"].concat(),
        _ => return Err(err()),
    };
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(err());
    }
    let n = |i: usize| i32::from(digits[i] - b'0');
    let (h, m) = (n(0) * 10 + n(1), n(2) * 10 + n(3));
    if h > 23 || m > 59 {
        return Err(err());
    }
    Ok(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        GenConfig::default().validate().unwrap();
        assert_eq!(
            GenConfig::default().effective_event_rate(),
            DEFAULT_EVENT_RATE
        );
    }

    #[test]
    fn event_rate_follows_rate_unless_set() {
        let c = GenConfig {
            rate: Some(5.0),
            ..Default::default()
        };
        assert_eq!(c.effective_event_rate(), 5.0);
        let c = GenConfig {
            rate: Some(5.0),
            event_rate: Some(50.0),
            ..Default::default()
        };
        assert_eq!(c.effective_event_rate(), 50.0);
    }

    #[test]
    fn weighted_paths_parse() {
        let p =
            parse_weighted_paths("/product1=50,/product2=25,/product3=15,/product4=8,/product5=2")
                .unwrap();
        assert_eq!(p.len(), 5);
        assert_eq!(
            p[4],
            WeightedPath {
                path: "/product5".into(),
                weight: 2.0
            }
        );
        let q = parse_weighted_paths("/search?q=a=3,/x?y=z").unwrap();
        assert_eq!((q[0].path.as_str(), q[0].weight), ("/search?q=a", 3.0));
        assert_eq!((q[1].path.as_str(), q[1].weight), ("/x?y=z", 1.0));
        assert_eq!(parse_weighted_paths("/a=0.5").unwrap()[0].weight, 0.5);
    }

    #[test]
    fn weighted_paths_errors_name_the_entry() {
        for (bad, needle) in [
            ("/a=1,b=2", "`b=2`"),
            ("/a=1,,/b", "entry 2"),
            ("/a=-1", "positive"),
            ("/a=0", "positive"),
            ("/a b=1", "' '"),
            ("/a\"b=1", "'\"'"),
        ] {
            let e = parse_weighted_paths(bad).unwrap_err().to_string();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_utc_offset("+0000").unwrap(), 0);
        assert_eq!(parse_utc_offset("-04:00").unwrap(), -14_400);
        assert_eq!(parse_utc_offset("+01").unwrap(), 3600);
        assert_eq!(parse_utc_offset("utc").unwrap(), 0);
        for bad in ["0000", "+2400", "+0060", "+1", "+ab00", "", "+00:0"] {
            assert!(parse_utc_offset(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validation_names_the_flag() {
        let cases: Vec<(GenConfig, &str)> = vec![
            (
                GenConfig {
                    rate: Some(0.0),
                    ..Default::default()
                },
                "--rate",
            ),
            (
                GenConfig {
                    event_rate: Some(f64::NAN),
                    ..Default::default()
                },
                "--event-rate",
            ),
            (
                GenConfig {
                    clients: 0,
                    ..Default::default()
                },
                "--clients",
            ),
            (
                GenConfig {
                    tz_offset: 90_000,
                    ..Default::default()
                },
                "--tz-offset",
            ),
            (
                GenConfig {
                    paths: PathSource::Site {
                        pages: 0,
                        zipf: 1.0,
                    },
                    ..Default::default()
                },
                "--pages",
            ),
            (
                GenConfig {
                    paths: PathSource::Site {
                        pages: 5,
                        zipf: -1.0,
                    },
                    ..Default::default()
                },
                "--zipf",
            ),
            (
                GenConfig {
                    paths: PathSource::Weighted(vec![]),
                    ..Default::default()
                },
                "--paths",
            ),
            (
                GenConfig {
                    host: "a b".into(),
                    ..Default::default()
                },
                "host",
            ),
        ];
        for (c, flag) in cases {
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(flag), "{e}");
        }
    }
}
