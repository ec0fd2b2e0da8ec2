//! `--format auto`: choose the preset that parses a sample of lines best.

use crate::parse::Parser;
use crate::record::{Oddity, Outcome, Record};
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

/// Picks the preset that parses `lines` best. Lines whose fields had to be guessed (missing
/// or trailing fields, unterminated quotes) count for less than clean ones, so a richer format
/// wins only when the lines really have its fields. Returns `None` when no preset parses
/// any line.
pub fn detect<'a, I>(lines: I) -> Option<Detection>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let lines: Vec<&[u8]> = lines
        .into_iter()
        .filter(|l| !l.iter().all(|b| b.is_ascii_whitespace()))
        .collect();
    let mut best: Option<(u64, Detection)> = None;
    let mut rec = Record::new();
    for p in PRESETS {
        let spec = FormatSpec::from_str_any(p.name).expect("presets compile");
        let parser = Parser::new(spec.clone());
        let (mut ok, mut degraded, mut score) = (0usize, 0usize, 0u64);
        for l in &lines {
            match parser.parse(l, &mut rec) {
                Outcome::Ok => {
                    ok += 1;
                    score += 4;
                }
                Outcome::Degraded(d) => {
                    degraded += 1;
                    let structural = d.contains(Oddity::MissingFields)
                        || d.contains(Oddity::TrailingData)
                        || d.contains(Oddity::UnterminatedQuote);
                    score += if structural { 1 } else { 3 };
                }
                Outcome::Rejected(_) => {}
            }
        }
        if ok + degraded == 0 {
            continue;
        }
        let better = best.as_ref().is_none_or(|(s, _)| score > *s);
        if better {
            best = Some((
                score,
                Detection {
                    spec,
                    sample: lines.len(),
                    ok,
                    degraded,
                },
            ));
        }
    }
    best.map(|(_, d)| d)
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
    }
}
