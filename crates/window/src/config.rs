//! Engine configuration: plain serde structs, every field documented, unknown fields refused.

use serde::{Deserialize, Serialize};

use crate::alert::Rule;

/// Errors in an [`EngineConfig`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A window, slide or similar length is zero.
    #[error("`{field}` must be greater than zero")]
    Zero {
        /// The field.
        field: &'static str,
    },
    /// The window size is not a whole number of slides.
    #[error("window size {size}s is not a multiple of the slide {slide}s")]
    SlideNotDivisor {
        /// Window size in seconds.
        size: u64,
        /// Slide in seconds.
        slide: u64,
    },
    /// A value is out of its allowed range.
    #[error("`{field}` is {value}; allowed: {allowed}")]
    OutOfRange {
        /// The field (with the rule name for alert rules).
        field: String,
        /// The value given.
        value: String,
        /// What is allowed.
        allowed: &'static str,
    },
    /// Two alert rules share a name.
    #[error("two alert rules are named `{0}`")]
    DuplicateRule(String),
}

/// Everything the window engine needs. Durations are in seconds; in a config file they may
/// also be written as strings with a unit: `"90s"`, `"5m"`, `"1h"`, `"1d"`.
///
/// ```toml
/// size = "60s"
/// slide = "10s"
/// lateness = "2m"
/// top_n = 10
/// [[alerts]]
/// kind = "client_404_burst"
/// threshold = 30
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Window length (`--window`). Default 60 s.
    #[serde(deserialize_with = "de_secs")]
    pub size: u64,
    /// Distance between window starts (`--slide`); 0 or equal to `size` means tumbling
    /// windows. Must divide `size`. Default 0 (tumbling). "Top N pages every P minutes" is
    /// `size = P minutes` with the default slide.
    #[serde(deserialize_with = "de_secs")]
    pub slide: u64,
    /// Allowed lateness L: the watermark is the largest event time seen minus L; a window
    /// fires when the watermark reaches its end and keeps accepting late events (each one
    /// re-emits it as an update) until the watermark reaches end + L. Default 60 s.
    #[serde(deserialize_with = "de_secs")]
    pub lateness: u64,
    /// Window boundaries are multiples of `slide` counted from the Unix epoch plus this
    /// offset, in seconds: `-14400` puts daily windows on midnight at UTC-4. Default 0 (UTC).
    pub align_offset: i64,
    /// Length of the top lists (pages, clients, error endpoints). Default 10.
    pub top_n: usize,
    /// Number of batches the pipeline keeps in flight between creating a batch and applying
    /// it (at least 1). Batch `n` classifies late lines against the horizon as it stood after
    /// batch `n - in_flight` was applied, which keeps results deterministic however threads
    /// are scheduled. Set by the pipeline, not usually by users. Default 1.
    pub in_flight: u32,
    /// A client's requests are kept as sample lines (for alert explanations) once it has made
    /// this many requests in a pane. Default 10.
    pub busy_sample_after: u64,
    /// Sample lines are cut to this many bytes. Default 512.
    pub sample_bytes: usize,
    /// The event clock's bound against the wall clock: a line whose event time is more than
    /// this ahead of the time the pipeline last read from the system clock is `future`: kept
    /// in the late output with that reason, counted by no window, and it moves no watermark.
    /// Applies only once the pipeline feeds the wall clock to the engine
    /// ([`crate::Engine::observe_clock`]), which `hitstream run` does for live sources
    /// (followed files, TCP, syslog, Kafka), not for `--file` replays. The bound is judged per
    /// slide-sized pane, so a line up to one slide further ahead may pass. 0 turns it off.
    /// Default 300 s: servers' clocks agree within seconds, and a line minutes ahead can
    /// only be a wrong clock or a forged time (or a log written in local time without an
    /// offset, read with the wrong `--tz`).
    #[serde(deserialize_with = "de_secs")]
    pub max_future: u64,
    /// The event clock's bound against the stream's own times: a line more than this ahead of
    /// the stream's clock (the largest event time counted, or the watermark plus the lateness
    /// once idle time moved it) is a suspect. Suspects are held, not counted: once
    /// `jump_confirm` of them are held, and they outnumber the ordinary lines read since the
    /// first of them, time really jumped (a log resumed after an outage) and the clock moves
    /// to their median, counting every suspect within `max_jump` of it; once
    /// `jump_confirm` ordinary lines followed instead, the suspects are `future`. At the end
    /// of input the larger group wins. Held lines are judged per slide-sized pane. A batch
    /// built `in_flight` batches ahead also allows the distance the clock moved over those
    /// batches (at most another `max_jump`). 0 turns
    /// the bound off. Default 3600 s (a quiet hour of a replayed log only delays its next
    /// lines until they confirm the jump; nothing is lost).
    #[serde(deserialize_with = "de_secs")]
    pub max_jump: u64,
    /// How many suspects confirm a jump of the stream's clock, and how many ordinary lines
    /// after a suspect make it `future` (see `max_jump`). Also bounds the suspects held
    /// (a batch's worth more at most). Default 100.
    pub jump_confirm: u64,
    /// Alert rules evaluated on every fired window. Default: one rule of each kind with its
    /// default thresholds (see [`Rule::defaults`]); `alerts = []` turns alerting off.
    pub alerts: Vec<Rule>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            size: 60,
            slide: 0,
            lateness: 60,
            align_offset: 0,
            top_n: 10,
            in_flight: 1,
            busy_sample_after: 10,
            sample_bytes: 512,
            max_future: 300,
            max_jump: 3600,
            jump_confirm: 100,
            alerts: Rule::defaults(),
        }
    }
}

impl EngineConfig {
    /// Tumbling windows of `size` seconds with `lateness` seconds of allowed lateness.
    pub fn tumbling(size: u64, lateness: u64) -> EngineConfig {
        EngineConfig {
            size,
            slide: 0,
            lateness,
            ..EngineConfig::default()
        }
    }

    /// Sliding windows of `size` seconds starting every `slide` seconds.
    pub fn sliding(size: u64, slide: u64, lateness: u64) -> EngineConfig {
        EngineConfig {
            size,
            slide,
            lateness,
            ..EngineConfig::default()
        }
    }

    /// The slide in effect (`size` for tumbling windows).
    pub fn effective_slide(&self) -> u64 {
        if self.slide == 0 {
            self.size
        } else {
            self.slide
        }
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        const YEAR: u64 = 366 * 86_400;
        if self.size == 0 {
            return Err(ConfigError::Zero { field: "size" });
        }
        let slide = self.effective_slide();
        if !self.size.is_multiple_of(slide) {
            return Err(ConfigError::SlideNotDivisor {
                size: self.size,
                slide,
            });
        }
        let range = |field: &str, value: String, ok: bool, allowed: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(ConfigError::OutOfRange {
                    field: field.to_string(),
                    value,
                    allowed,
                })
            }
        };
        range(
            "size",
            self.size.to_string(),
            self.size <= YEAR,
            "at most 366 days",
        )?;
        range(
            "slide",
            slide.to_string(),
            self.size / slide <= 10_000,
            "at least size / 10000",
        )?;
        range(
            "lateness",
            self.lateness.to_string(),
            self.lateness <= YEAR,
            "at most 366 days",
        )?;
        range(
            "align_offset",
            self.align_offset.to_string(),
            self.align_offset.unsigned_abs() <= YEAR,
            "at most 366 days either way",
        )?;
        range(
            "top_n",
            self.top_n.to_string(),
            self.top_n <= 100_000,
            "0..=100000",
        )?;
        range(
            "in_flight",
            self.in_flight.to_string(),
            (1..=4096).contains(&self.in_flight),
            "1..=4096",
        )?;
        range(
            "sample_bytes",
            self.sample_bytes.to_string(),
            (16..=65_536).contains(&self.sample_bytes),
            "16..=65536",
        )?;
        range(
            "max_future",
            self.max_future.to_string(),
            self.max_future <= YEAR,
            "at most 366 days (0: off)",
        )?;
        range(
            "max_jump",
            self.max_jump.to_string(),
            self.max_jump <= YEAR,
            "at most 366 days (0: off)",
        )?;
        range(
            "jump_confirm",
            self.jump_confirm.to_string(),
            (1..=100_000).contains(&self.jump_confirm),
            "1..=100000",
        )?;
        let mut names = std::collections::BTreeSet::new();
        for r in &self.alerts {
            r.validate()?;
            if !names.insert(r.name()) {
                return Err(ConfigError::DuplicateRule(r.name().to_string()));
            }
        }
        range(
            "alerts",
            self.alerts.len().to_string(),
            self.alerts.len() <= 1000,
            "at most 1000 rules",
        )?;
        Ok(())
    }
}

/// Parses a duration in seconds: a number, or a string such as `"90"`, `"90s"`, `"5m"`,
/// `"1h"`, `"1d"`.
pub fn parse_secs(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.as_bytes().last()? {
        b's' => (&s[..s.len() - 1], 1),
        b'm' => (&s[..s.len() - 1], 60),
        b'h' => (&s[..s.len() - 1], 3600),
        b'd' => (&s[..s.len() - 1], 86_400),
        b'0'..=b'9' => (s, 1),
        _ => return None,
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mult)
}

pub(crate) fn de_secs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a duration: seconds, or a string like \"90s\", \"5m\", \"1h\", \"1d\"")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom("a duration cannot be negative"))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<u64, E> {
            parse_secs(v).ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
        }
    }
    if d.is_human_readable() {
        d.deserialize_any(V)
    } else {
        d.deserialize_u64(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_secs("90"), Some(90));
        assert_eq!(parse_secs("90s"), Some(90));
        assert_eq!(parse_secs("5m"), Some(300));
        assert_eq!(parse_secs("1h"), Some(3600));
        assert_eq!(parse_secs("2d"), Some(172_800));
        assert_eq!(parse_secs("x"), None);
        assert_eq!(parse_secs(""), None);
        assert_eq!(parse_secs("-1s"), None);
    }

    #[test]
    fn defaults_are_valid() {
        EngineConfig::default().validate().unwrap();
        assert_eq!(EngineConfig::default().effective_slide(), 60);
    }

    #[test]
    fn from_json_with_units_and_unknown_fields() {
        let c: EngineConfig =
            serde_json::from_str(r#"{"size":"5m","slide":"1m","lateness":30,"top_n":3}"#).unwrap();
        assert_eq!(
            (c.size, c.effective_slide(), c.lateness, c.top_n),
            (300, 60, 30, 3)
        );
        assert_eq!(c.alerts, Rule::defaults());
        c.validate().unwrap();
        let e = serde_json::from_str::<EngineConfig>(r#"{"sise":60}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
    }

    #[test]
    fn invalid() {
        assert_eq!(
            EngineConfig::sliding(60, 7, 0).validate(),
            Err(ConfigError::SlideNotDivisor { size: 60, slide: 7 })
        );
        assert_eq!(
            EngineConfig::tumbling(0, 0).validate(),
            Err(ConfigError::Zero { field: "size" })
        );
        let c = EngineConfig {
            in_flight: 0,
            ..EngineConfig::default()
        };
        assert!(c.validate().is_err());
    }
}
