//! Which records an analysis looks at, and in which clock it buckets them.

use std::fmt;
use std::sync::Arc;

use hitstream_format::{LogTime, Record, Text};

/// How day and hour buckets are read from a record's time. The default is UTC, the clock of
/// `run`'s windows and of the dashboard, so that a day or an hour means the same span on
/// every screen; the time as written in the log, an offset or a zone are chosen explicitly.
#[derive(Clone)]
pub enum TimeBasis {
    /// The local time written in the log.
    AsWritten,
    /// A fixed offset east of UTC, in seconds.
    Fixed(i32),
    /// A named zone: a function from a UTC instant to the zone's offset at that instant.
    Zone {
        /// Zone name, for reports.
        name: String,
        /// Offset lookup.
        offset_at: Arc<dyn Fn(i64) -> i32 + Send + Sync>,
    },
}

impl fmt::Debug for TimeBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Default for TimeBasis {
    fn default() -> Self {
        TimeBasis::Fixed(0)
    }
}

impl TimeBasis {
    /// Human and JSON name: `UTC`, `as-written`, `+02:00`, or the zone name.
    pub fn describe(&self) -> String {
        match self {
            TimeBasis::AsWritten => "as-written".to_string(),
            TimeBasis::Fixed(0) => "UTC".to_string(),
            TimeBasis::Fixed(o) => {
                let sign = if *o < 0 { '-' } else { '+' };
                let a = o.unsigned_abs();
                format!("{sign}{:02}:{:02}", a / 3600, a % 3600 / 60)
            }
            TimeBasis::Zone { name, .. } => name.clone(),
        }
    }
}

/// Converts record times to bucket seconds, caching zone look-ups per hour (zone transitions
/// fall on hour boundaries in every zone in use today).
#[derive(Debug, Clone)]
pub struct Clock {
    basis: TimeBasis,
    cached_hour: i64,
    cached_offset: i32,
}

impl Clock {
    /// A clock for a basis.
    pub fn new(basis: TimeBasis) -> Clock {
        Clock {
            basis,
            cached_hour: i64::MIN,
            cached_offset: 0,
        }
    }

    /// The basis.
    pub fn basis(&self) -> &TimeBasis {
        &self.basis
    }

    /// Seconds since the epoch of the wall-clock time in this basis.
    #[inline]
    pub fn local_seconds(&mut self, t: &LogTime) -> i64 {
        match &self.basis {
            TimeBasis::AsWritten => t.local_seconds(),
            TimeBasis::Fixed(o) => t.utc + i64::from(*o),
            TimeBasis::Zone { offset_at, .. } => {
                let h = t.utc.div_euclid(3600);
                if h != self.cached_hour {
                    self.cached_hour = h;
                    self.cached_offset = offset_at(t.utc);
                }
                t.utc + i64::from(self.cached_offset)
            }
        }
    }
}

/// One end of a time range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// An instant (the bound had an offset): compared with the record's UTC time.
    Instant(i64),
    /// A wall-clock time (no offset given): compared with the record's time in the clock's basis.
    Civil(i64),
}

/// Status selections such as `404`, `4xx`, `500-599`, `200,304`.
#[derive(Clone, PartialEq, Eq)]
pub struct StatusSet([u64; 16]);

impl fmt::Debug for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = (0..1000u16).filter(|s| self.contains(*s)).count();
        write!(f, "StatusSet({n} codes)")
    }
}

impl StatusSet {
    /// Parses a comma-separated list of codes (`404`), classes (`4xx`) and ranges (`500-599`).
    pub fn parse(s: &str) -> Result<StatusSet, String> {
        let mut set = StatusSet([0; 16]);
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let lower = part.to_ascii_lowercase();
            let (a, b) = if lower.len() == 3 && lower.ends_with("xx") {
                let c = lower[..1]
                    .parse::<u16>()
                    .map_err(|_| format!("`{part}` is not a status class like 4xx"))?;
                (c * 100, c * 100 + 99)
            } else if let Some((x, y)) = lower.split_once('-') {
                let x = x
                    .trim()
                    .parse::<u16>()
                    .map_err(|_| format!("`{part}` is not a status range like 500-599"))?;
                let y = y
                    .trim()
                    .parse::<u16>()
                    .map_err(|_| format!("`{part}` is not a status range like 500-599"))?;
                (x, y)
            } else {
                let c = lower
                    .parse::<u16>()
                    .map_err(|_| format!("`{part}` is not a status code"))?;
                (c, c)
            };
            if a > b || b > 999 {
                return Err(format!("`{part}`: status codes are 0 to 999"));
            }
            for c in a..=b {
                set.0[usize::from(c / 64)] |= 1 << (c % 64);
            }
        }
        Ok(set)
    }

    /// Whether the set holds `code`.
    #[inline]
    pub fn contains(&self, code: u16) -> bool {
        code < 1000 && self.0[usize::from(code / 64)] & (1 << (code % 64)) != 0
    }
}

/// Record filters. An empty filter passes everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Keep records at or after this time.
    pub from: Option<Bound>,
    /// Keep records before this time (exclusive).
    pub to: Option<Bound>,
    /// Keep records of this virtual host (the vhost field, else the Host header), any case.
    pub vhost: Option<String>,
    /// Keep records whose status is in the set (records without status never match).
    pub status: Option<StatusSet>,
    /// Keep records whose path starts with this.
    pub path_prefix: Option<Vec<u8>>,
}

impl Filter {
    /// Whether the filter passes everything.
    pub fn is_empty(&self) -> bool {
        self.from.is_none()
            && self.to.is_none()
            && self.vhost.is_none()
            && self.status.is_none()
            && self.path_prefix.is_none()
    }

    /// Whether `rec` passes, given its time in the clock's basis.
    #[inline]
    pub fn passes(&self, rec: &Record<'_>, local_secs: i64) -> bool {
        let utc = rec.time.map_or(i64::MIN, |t| t.utc);
        let at = |b: &Bound| match b {
            Bound::Instant(x) => (utc, *x),
            Bound::Civil(x) => (local_secs, *x),
        };
        if let Some(b) = &self.from {
            let (v, x) = at(b);
            if v < x {
                return false;
            }
        }
        if let Some(b) = &self.to {
            let (v, x) = at(b);
            if v >= x {
                return false;
            }
        }
        if let Some(s) = &self.status {
            if !rec.status.is_some_and(|c| s.contains(c)) {
                return false;
            }
        }
        if let Some(p) = &self.path_prefix {
            if !rec.path().is_some_and(|path| path.starts_with(p)) {
                return false;
            }
        }
        if let Some(v) = &self.vhost {
            let have = rec.get(Text::Vhost).or_else(|| rec.get(Text::Host));
            if !have.is_some_and(|h| h.eq_ignore_ascii_case(v.as_bytes())) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_sets() {
        let s = StatusSet::parse("404, 5xx,301-302").unwrap();
        assert!(s.contains(404) && s.contains(500) && s.contains(599) && s.contains(302));
        assert!(!s.contains(200) && !s.contains(303) && !s.contains(403));
        assert!(StatusSet::parse("4x").is_err());
        assert!(StatusSet::parse("1000").is_err());
        assert!(StatusSet::parse("abc").unwrap_err().contains("abc"));
    }

    #[test]
    fn basis_names() {
        assert_eq!(TimeBasis::Fixed(-14_400).describe(), "-04:00");
        assert_eq!(TimeBasis::Fixed(19_800).describe(), "+05:30");
        assert_eq!(TimeBasis::AsWritten.describe(), "as-written");
        assert_eq!(TimeBasis::default().describe(), "UTC");
    }
}
