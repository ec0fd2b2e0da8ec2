//! Timestamps as web servers write them.
//!
//! Parsing is by fixed positions, not by `strptime`: the month names are English in every
//! server's output whatever the machine's locale, and a hand-rolled parser is ~20x faster than a
//! general one on the hot path.

/// A point in time as written in a log line: the instant and the UTC offset the server used.
///
/// `utc` is seconds since the Unix epoch. The local wall-clock time the server wrote is
/// `utc + offset` seconds, which is what day and hour buckets use by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogTime {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub utc: i64,
    /// Offset east of UTC in seconds, as written in the line (`-0400` is `-14400`).
    pub offset: i32,
    /// Sub-second part in microseconds, when the line has it (ISO 8601 with fraction).
    pub micros: u32,
}

impl LogTime {
    /// Seconds since the epoch of the local wall-clock time written in the line.
    #[inline]
    pub fn local_seconds(&self) -> i64 {
        self.utc + i64::from(self.offset)
    }

    /// Days since 1970-01-01 of the local date written in the line.
    #[inline]
    pub fn local_day(&self) -> i32 {
        self.local_seconds().div_euclid(86_400) as i32
    }

    /// Hour of day (0..24) of the local time written in the line.
    #[inline]
    pub fn local_hour(&self) -> u8 {
        (self.local_seconds().rem_euclid(86_400) / 3600) as u8
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
#[inline]
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u32;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

/// The calendar date (year, month 1..=12, day 1..=31) of a day number since 1970-01-01.
pub fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i32 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats a day number as `YYYY-MM-DD`.
pub fn format_day(day: i32) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

#[inline]
fn digit(b: u8) -> Option<u32> {
    let d = b.wrapping_sub(b'0');
    (d < 10).then_some(u32::from(d))
}

#[inline]
fn num2(s: &[u8], i: usize) -> Option<u32> {
    Some(digit(*s.get(i)?)? * 10 + digit(*s.get(i + 1)?)?)
}

#[inline]
fn num4(s: &[u8], i: usize) -> Option<u32> {
    Some(num2(s, i)? * 100 + num2(s, i + 2)?)
}

/// Month number (1..=12) from an English three-letter abbreviation, any case.
#[inline]
pub fn month_from_abbrev(m: &[u8]) -> Option<u32> {
    if m.len() != 3 {
        return None;
    }
    let key = u32::from(m[0] | 0x20) << 16 | u32::from(m[1] | 0x20) << 8 | u32::from(m[2] | 0x20);
    const fn k(s: &[u8; 3]) -> u32 {
        (s[0] as u32) << 16 | (s[1] as u32) << 8 | s[2] as u32
    }
    Some(match key {
        x if x == k(b"jan") => 1,
        x if x == k(b"feb") => 2,
        x if x == k(b"mar") => 3,
        x if x == k(b"apr") => 4,
        x if x == k(b"may") => 5,
        x if x == k(b"jun") => 6,
        x if x == k(b"jul") => 7,
        x if x == k(b"aug") => 8,
        x if x == k(b"sep") => 9,
        x if x == k(b"oct") => 10,
        x if x == k(b"nov") => 11,
        x if x == k(b"dec") => 12,
        _ => return None,
    })
}

fn days_in_month(y: u32, mo: u32) -> u32 {
    match mo {
        2 if y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn valid(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> bool {
    (1..=9999).contains(&y)
        && (1..=12).contains(&mo)
        && d >= 1
        && d <= days_in_month(y, mo)
        && h < 24
        && mi < 60
        && s <= 60
}

#[allow(clippy::too_many_arguments)] // the fields of a date-time, in order
fn assemble(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32, offset: i32, micros: u32) -> LogTime {
    let days = i64::from(days_from_civil(y as i32, mo, d));
    let local = days * 86_400 + i64::from(h * 3600 + mi * 60 + s);
    LogTime {
        utc: local - i64::from(offset),
        offset,
        micros,
    }
}

/// Parses an offset written as `+hhmm`, `-hhmm`, `+hh:mm` or `Z`. Returns (seconds, bytes used).
fn parse_offset(s: &[u8]) -> Option<(i32, usize)> {
    match *s.first()? {
        b'Z' | b'z' => Some((0, 1)),
        sign @ (b'+' | b'-') => {
            let h = num2(s, 1)?;
            let (m, used) = if s.get(3) == Some(&b':') {
                (num2(s, 4)?, 6)
            } else {
                (num2(s, 3)?, 5)
            };
            if h > 23 || m > 59 {
                return None;
            }
            let secs = (h * 3600 + m * 60) as i32;
            Some((if sign == b'-' { -secs } else { secs }, used))
        }
        _ => None,
    }
}

/// Parses the Common Log Format time, `10/Oct/2000:13:55:36 -0700` (without brackets).
///
/// A missing offset is read as UTC. Returns `None` when the text is not such a time.
#[inline]
pub fn parse_clf(s: &[u8]) -> Option<LogTime> {
    if s.len() < 20 || s[2] != b'/' || s[6] != b'/' || s[11] != b':' {
        return None;
    }
    let d = num2(s, 0)?;
    let mo = month_from_abbrev(&s[3..6])?;
    let y = num4(s, 7)?;
    let h = num2(s, 12)?;
    if s[14] != b':' || s[17] != b':' {
        return None;
    }
    let mi = num2(s, 15)?;
    let sec = num2(s, 18)?;
    if !valid(y, mo, d, h, mi, sec) {
        return None;
    }
    let rest = &s[20..];
    let offset = match rest {
        [] => 0,
        [b' ', tz @ ..] => {
            let (off, used) = parse_offset(tz)?;
            if used != tz.len() {
                return None;
            }
            off
        }
        _ => return None,
    };
    Some(assemble(y, mo, d, h, mi, sec, offset, 0))
}

/// Parses ISO 8601 / RFC 3339 as nginx `$time_iso8601` writes it: `2016-11-10T00:01:02+08:00`,
/// with an optional fraction and a space instead of `T`. A missing offset is read as UTC.
pub fn parse_iso8601(s: &[u8]) -> Option<LogTime> {
    if s.len() < 19 || s[4] != b'-' || s[7] != b'-' || !matches!(s[10], b'T' | b't' | b' ') {
        return None;
    }
    let y = num4(s, 0)?;
    let mo = num2(s, 5)?;
    let d = num2(s, 8)?;
    if s[13] != b':' || s[16] != b':' {
        return None;
    }
    let h = num2(s, 11)?;
    let mi = num2(s, 14)?;
    let sec = num2(s, 17)?;
    if !valid(y, mo, d, h, mi, sec) {
        return None;
    }
    let mut i = 19;
    let mut micros = 0u32;
    if s.get(i) == Some(&b'.') || s.get(i) == Some(&b',') {
        i += 1;
        let mut scale = 100_000u32;
        let start = i;
        while let Some(dg) = s.get(i).and_then(|&b| digit(b)) {
            micros += dg * scale;
            scale /= 10;
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset = if i == s.len() {
        0
    } else {
        let (off, used) = parse_offset(&s[i..])?;
        if i + used != s.len() {
            return None;
        }
        off
    };
    Some(assemble(y, mo, d, h, mi, sec, offset, micros))
}

/// Parses a Unix time in seconds with an optional fraction (nginx `$msec`, Apache `%{sec}t`).
pub fn parse_epoch(s: &[u8]) -> Option<LogTime> {
    let (int, frac) = match memchr::memchr(b'.', s) {
        Some(p) => (&s[..p], &s[p + 1..]),
        None => (s, &b""[..]),
    };
    if int.is_empty() || int.len() > 12 {
        return None;
    }
    let mut secs = 0i64;
    for &b in int {
        secs = secs * 10 + i64::from(digit(b)?);
    }
    let mut micros = 0u32;
    let mut scale = 100_000u32;
    for &b in frac.iter().take(6) {
        micros += digit(b)? * scale;
        scale /= 10;
    }
    Some(LogTime {
        utc: secs,
        offset: 0,
        micros,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clf_with_negative_offset() {
        let t = parse_clf(b"01/Jul/1995:00:00:01 -0400").unwrap();
        // 1995-07-01T04:00:01Z
        assert_eq!(t.utc, 804_571_201);
        assert_eq!(t.offset, -14_400);
        assert_eq!(t.local_hour(), 0);
        assert_eq!(format_day(t.local_day()), "1995-07-01");
    }

    #[test]
    fn clf_month_any_case_and_no_offset() {
        let a = parse_clf(b"10/OCT/2000:13:55:36").unwrap();
        let b = parse_clf(b"10/oct/2000:13:55:36 +0000").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.utc, 971_186_136);
    }

    #[test]
    fn clf_rejects_garbage() {
        for s in [
            &b""[..],
            b"10/Foo/2000:13:55:36 -0700",
            b"32/Oct/2000:13:55:36 -0700",
            b"10/Oct/2000:25:55:36 -0700",
            b"10/Oct/2000:13:55:36 0700",
            b"10/Oct/2000:13:55:36 -0700x",
            b"1/Oct/2000:13:55:36 -0700",
            b"31/Apr/2000:13:55:36 -0700",
            b"29/Feb/1900:13:55:36 -0700",
            b"30/Feb/2000:13:55:36 -0700",
            b"00/Jan/2000:13:55:36 -0700",
        ] {
            assert_eq!(parse_clf(s), None, "{}", String::from_utf8_lossy(s));
        }
        assert!(parse_iso8601(b"2001-02-29T00:00:00Z").is_none());
    }

    #[test]
    fn month_ends_and_leap_days() {
        assert!(parse_clf(b"29/Feb/2000:00:00:00 +0000").is_some());
        assert!(parse_clf(b"29/Feb/2024:00:00:00 +0000").is_some());
        assert!(parse_clf(b"30/Apr/2024:00:00:00 +0000").is_some());
        assert!(parse_clf(b"31/Dec/2024:23:59:60 +0000").is_some());
        let a = parse_clf(b"28/Feb/2023:12:00:00 +0000").unwrap();
        let b = parse_clf(b"01/Mar/2023:12:00:00 +0000").unwrap();
        assert_eq!(b.utc - a.utc, 86_400);
    }

    #[test]
    fn month_names_in_any_case() {
        let want = parse_clf(b"01/Jul/1995:00:00:01 -0400").unwrap();
        for m in ["jul", "JUL", "jUl", "JuL"] {
            let t = format!("01/{m}/1995:00:00:01 -0400");
            assert_eq!(parse_clf(t.as_bytes()), Some(want), "{t}");
        }
        for (i, m) in [
            "jan", "FEB", "Mar", "aPr", "MAY", "jun", "Jul", "AUG", "sep", "Oct", "NOV", "dec",
        ]
        .iter()
        .enumerate()
        {
            assert_eq!(month_from_abbrev(m.as_bytes()), Some(i as u32 + 1), "{m}");
        }
        // Not English three-letter names.
        for m in ["Jui", "Juli", "Ju", "Mär", "J\x00l", "j@l"] {
            assert_eq!(month_from_abbrev(m.as_bytes()), None, "{m}");
        }
    }

    #[test]
    fn iso_forms() {
        let t = parse_iso8601(b"2016-11-10T00:01:02+08:00").unwrap();
        assert_eq!(t, parse_clf(b"10/Nov/2016:00:01:02 +0800").unwrap());
        let f = parse_iso8601(b"2016-11-09T16:01:02.250Z").unwrap();
        assert_eq!(f.utc, t.utc);
        assert_eq!(f.micros, 250_000);
        assert!(parse_iso8601(b"2016-11-10T00:01:02+0800").is_some());
        assert!(parse_iso8601(b"2016-11-10 00:01:02").is_some());
        assert!(parse_iso8601(b"2016-13-10T00:01:02Z").is_none());
    }

    #[test]
    fn epoch() {
        let t = parse_epoch(b"1478707262.123").unwrap();
        assert_eq!(t.utc, 1_478_707_262);
        assert_eq!(t.micros, 123_000);
        assert!(parse_epoch(b"x").is_none());
    }

    #[test]
    fn civil_roundtrip() {
        for day in -800_000..800_000 {
            if day % 997 != 0 {
                continue;
            }
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
    }
}
