//! `--format auto`: choose the preset that parses a sample of lines best, and refuse to choose
//! when none fits.
//!
//! A preset "fits" only when most sample lines parse under it cleanly. Parsing with oddities
//! is how the parser survives messy lines, but when most lines of a sample need it, the
//! fields are being guessed: a custom format read as `main` puts the Host header where the
//! referer goes and fragments of the body where the user agent goes. Such a report is wrong
//! in every table, so detection says so and asks for the format instead.

use crate::parse::Parser;
use crate::record::{Oddity, Outcome, Record, ODDITY_COUNT};
use crate::spec::{FormatSpec, PRESETS};

/// The result of detection: the chosen format and how it did on the sample.
#[derive(Debug, Clone)]
pub struct Detection {
    /// The chosen format.
    pub spec: FormatSpec,
    /// Sample lines considered (non-empty).
    pub sample: usize,
    /// Of those, parsed cleanly.
    pub ok: usize,
    /// Of those, parsed with oddities.
    pub degraded: usize,
}

impl Detection {
    /// A one-line explanation for the user.
    pub fn describe(&self) -> String {
        format!(
            "format: auto-detected `{}` ({} of {} sample lines parsed, {} with oddities)",
            self.spec.name,
            self.ok + self.degraded,
            self.sample,
            self.degraded
        )
    }
}

/// How one preset did on a sample.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The preset.
    pub spec: FormatSpec,
    /// Lines parsed cleanly.
    pub ok: usize,
    /// Lines parsed with oddities.
    pub degraded: usize,
    /// Lines rejected.
    pub rejected: usize,
    /// Lines with each oddity, most frequent first (only those seen).
    pub oddities: Vec<(Oddity, usize)>,
    score: u64,
}

impl Candidate {
    /// Whether this preset fits the sample: most of its `sample` lines parse cleanly.
    pub fn fits(&self, sample: usize) -> bool {
        sample > 0 && self.ok * 2 > sample
    }
}

/// Every preset tried on a sample, best first.
#[derive(Debug, Clone)]
pub struct Ranking {
    /// Sample lines considered (blank lines are not).
    pub sample: usize,
    /// The presets that parse at least one line, best first (ties in [`PRESETS`] order).
    pub candidates: Vec<Candidate>,
}

impl Ranking {
    /// The best preset that fits (see [`Candidate::fits`]), if one does.
    pub fn best_fit(&self) -> Option<&Candidate> {
        self.candidates.iter().find(|c| c.fits(self.sample))
    }

    /// The [`Detection`] of the best preset that fits, if one does.
    pub fn detection(&self) -> Option<Detection> {
        self.best_fit().map(|c| Detection {
            spec: c.spec.clone(),
            sample: self.sample,
            ok: c.ok,
            degraded: c.degraded,
        })
    }

    /// Whether the sample had no line (an empty input, or only blank lines).
    pub fn is_empty(&self) -> bool {
        self.sample == 0
    }

    /// The closest candidates as lines of text, for a user who has to give the format: each
    /// line names presets with the same outcome and their shares of the sample, clean /
    /// with oddities / rejected, and the most frequent oddities. At most `max` lines.
    pub fn closest(&self, max: usize) -> Vec<String> {
        let mut groups: Vec<(Vec<&str>, &Candidate)> = Vec::new();
        for c in &self.candidates {
            // Presets that differ only in a field the sample does not show (combined, nginx
            // and debian) have the same outcome: one line for them.
            match groups.iter_mut().find(|(_, g)| {
                (g.ok, g.degraded, g.rejected) == (c.ok, c.degraded, c.rejected)
                    && g.oddities == c.oddities
            }) {
                Some((names, _)) => names.push(&c.spec.name),
                None => groups.push((vec![&c.spec.name], c)),
            }
        }
        let pct = |n: usize| n as f64 * 100.0 / self.sample.max(1) as f64;
        groups.truncate(max);
        let width = groups
            .iter()
            .map(|(n, _)| n.join(", ").len())
            .max()
            .unwrap_or(0);
        groups
            .into_iter()
            .map(|(names, c)| {
                let mut s = format!(
                    "{:<width$}  {:>5.1} % clean, {:>5.1} % with oddities, {:>5.1} % rejected",
                    names.join(", "),
                    pct(c.ok),
                    pct(c.degraded),
                    pct(c.rejected)
                );
                if !c.oddities.is_empty() {
                    let odd: Vec<String> = c
                        .oddities
                        .iter()
                        .take(3)
                        .map(|(o, n)| format!("{} {n}", o.name()))
                        .collect();
                    s.push_str(&format!(" ({})", odd.join(", ")));
                }
                s
            })
            .collect()
    }
}

/// How to give a format that no preset fits: the two kinds of format string, with the stock
/// definitions as a start. Shared by every command that takes `--format`.
pub const GIVE_FORMAT_HINT: &str = "copy the `log_format` line of your nginx.conf (or the \
    `LogFormat` line of your Apache configuration) and pass its format string, for example \
    --format '$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \
    \"$http_referer\" \"$http_user_agent\"' or --format '%h %l %u %t \"%r\" %>s %b \
    \"%{Referer}i\" \"%{User-Agent}i\"'";

/// Tries every preset on `lines` (blank lines are skipped). Lines whose fields had to be
/// guessed (missing or trailing fields, unterminated quotes) count for less than clean
/// ones, so a richer format ranks first only when the lines really have its fields.
pub fn rank<'a, I>(lines: I) -> Ranking
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let lines: Vec<&[u8]> = lines
        .into_iter()
        .filter(|l| !l.iter().all(|b| b.is_ascii_whitespace()))
        .collect();
    let mut candidates = Vec::new();
    let mut rec = Record::new();
    for p in PRESETS {
        let spec = FormatSpec::from_str_any(p.name).expect("presets compile");
        let parser = Parser::new(spec.clone());
        let (mut ok, mut degraded, mut rejected, mut score) = (0usize, 0usize, 0usize, 0u64);
        let mut odd = [0usize; ODDITY_COUNT];
        for l in &lines {
            match parser.parse(l, &mut rec) {
                Outcome::Ok => {
                    ok += 1;
                    score += 4;
                }
                Outcome::Degraded(d) => {
                    degraded += 1;
                    for o in d.iter() {
                        odd[o as usize] += 1;
                    }
                    let structural = d.contains(Oddity::MissingFields)
                        || d.contains(Oddity::TrailingData)
                        || d.contains(Oddity::UnterminatedQuote);
                    score += if structural { 1 } else { 3 };
                }
                Outcome::Rejected(_) => rejected += 1,
            }
        }
        if ok + degraded == 0 {
            continue;
        }
        let mut oddities: Vec<(Oddity, usize)> = Oddity::ALL
            .into_iter()
            .zip(odd)
            .filter(|(_, n)| *n > 0)
            .collect();
        oddities.sort_by_key(|o| std::cmp::Reverse(o.1));
        candidates.push(Candidate {
            spec,
            ok,
            degraded,
            rejected,
            oddities,
            score,
        });
    }
    // Stable: equal scores keep the preference order of PRESETS.
    candidates.sort_by_key(|c| std::cmp::Reverse(c.score));
    Ranking {
        sample: lines.len(),
        candidates,
    }
}

/// Picks the preset that parses `lines` best, among those under which most lines parse
/// cleanly (see [`rank`] and [`Candidate::fits`]). Returns `None` when no preset fits: call
/// [`rank`] to tell the user how close each came.
pub fn detect<'a, I>(lines: I) -> Option<Detection>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    rank(lines).detection()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(lines: &[&str]) -> String {
        detect(lines.iter().map(|l| l.as_bytes()))
            .unwrap()
            .spec
            .name
    }

    #[test]
    fn picks_each_shape() {
        assert_eq!(
            name(&[r#"1.2.3.4 - - [06/Aug/2024:00:58:31 +0000] "GET / HTTP/1.1" 200 5 "-" "ua""#]),
            "combined"
        );
        assert_eq!(
            name(&[r#"a.b - - [06/Aug/2024:00:58:31 +0000] "GET / HTTP/1.1" 200 -"#]),
            "common"
        );
        assert_eq!(
            name(&[
                r#"neutralbank.app:443 1.2.3.4 - - [06/Aug/2024:00:58:31 +0000] "GET / HTTP/1.1" 200 5 "-" "ua""#
            ]),
            "vcombined"
        );
        assert_eq!(
            name(&[
                r#"1.2.3.4 - - [06/Aug/2024:00:58:31 +0000] "GET / HTTP/1.1" 200 5 "-" "ua" "9.9.9.9""#
            ]),
            "main"
        );
    }

    #[test]
    fn nothing_parses() {
        assert!(detect([&b"hello"[..], b"world"]).is_none());
        assert!(rank([&b"hello"[..], b"world"]).candidates.is_empty());
    }

    #[test]
    fn empty_sample() {
        let r = rank([&b""[..], b"  ", b"\r"]);
        assert!(r.is_empty());
        assert!(r.best_fit().is_none());
    }

    /// Every line parses under `main` and `combined`, but only with fields guessed: no
    /// preset fits, and the ranking says how close each came.
    #[test]
    fn lines_with_extra_fields_fit_no_preset() {
        let l = r#"1.2.3.4 - - [10/Nov/2016:00:01:02 +0800] "HEAD / HTTP/1.1" 301 0 "h" "-" - "curl/7" "-" - - - 0.000"#;
        let r = rank(vec![l.as_bytes(); 10]);
        assert!(detect(vec![l.as_bytes(); 10]).is_none());
        assert!(!r.candidates.is_empty());
        let first = &r.candidates[0];
        assert_eq!((first.ok, first.degraded), (0, 10));
        let lines = r.closest(3);
        assert!(
            lines[0].contains("0.0 % clean, 100.0 % with oddities"),
            "{lines:?}"
        );
        assert!(lines[0].contains("trailing_data 10"), "{lines:?}");
    }

    /// A few odd lines among clean ones do not stop detection.
    #[test]
    fn a_minority_of_odd_lines_still_fits() {
        let clean = r#"a.b - - [06/Aug/2024:00:58:31 +0000] "GET / HTTP/1.1" 200 -"#;
        let odd = r#"a.b - - [06/Aug/2024:00:58:31 +0000] "GET /a b HTTP/1.1" 200 -"#;
        let mut lines = vec![clean.as_bytes(); 6];
        lines.extend(vec![odd.as_bytes(); 4]);
        assert_eq!(detect(lines).unwrap().spec.name, "common");
    }
}
