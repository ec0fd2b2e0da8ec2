//! File identity by content, not by path.
//!
//! A file is known by a hash of the first [`FINGERPRINT_BYTES`] bytes of its content
//! (decompressed, for `.gz`), so it keeps its identity when it is renamed, and the `.gz` that
//! logrotate makes of `access.log.1` is recognised as the file already read. A copy (as
//! copytruncate makes) has the identity of its original; the truncated original gets a new
//! one as soon as it is written again.
//!
//! Fallback for short files: a file shorter than [`FINGERPRINT_BYTES`] is identified by a
//! hash of its first line ([`Fingerprint::FirstLine`]) as soon as that line is complete, so a
//! quiet log is delivered without waiting for 256 bytes. When the file grows past
//! [`FINGERPRINT_BYTES`] its identity is upgraded to [`Fingerprint::Head`] and the position
//! update says which key it replaces. A file with no complete line and fewer than
//! [`FINGERPRINT_BYTES`] bytes has no identity yet and is not read until it has one (or, at
//! its end in non-follow mode, the whole content serves as its first line).
//!
//! The hash is XXH3-64, a fixed algorithm, so fingerprints stay valid across versions.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How many leading bytes of content identify a file.
pub const FINGERPRINT_BYTES: usize = 256;

/// The identity of a file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fingerprint {
    /// Hash of the first [`FINGERPRINT_BYTES`] bytes. Written `h:` and 16 hex digits.
    Head(u64),
    /// Hash of the first line including its `\n`, for files shorter than
    /// [`FINGERPRINT_BYTES`]. Written `l:` and 16 hex digits.
    FirstLine(u64),
}

fn hash(b: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(b)
}

impl Fingerprint {
    /// The fingerprint of content that starts with `head` (the first up-to-256 bytes).
    ///
    /// `complete` says that the content ends with `head` and will not grow (a finished
    /// `.gz`, or a file at its end in non-follow mode): then a short file without `\n` is
    /// identified by its whole content. Returns `None` when there is no identity yet.
    pub fn from_head(head: &[u8], complete: bool) -> Option<Fingerprint> {
        if head.len() >= FINGERPRINT_BYTES {
            Some(Fingerprint::Head(hash(&head[..FINGERPRINT_BYTES])))
        } else if let Some(f) = Fingerprint::first_line(head) {
            Some(f)
        } else if complete && !head.is_empty() {
            Some(Fingerprint::FirstLine(hash(head)))
        } else {
            None
        }
    }

    /// The [`Fingerprint::FirstLine`] of content starting with `head`, when its first line
    /// ends within `head` (and within [`FINGERPRINT_BYTES`]).
    pub fn first_line(head: &[u8]) -> Option<Fingerprint> {
        let head = &head[..head.len().min(FINGERPRINT_BYTES)];
        memchr::memchr(b'\n', head).map(|nl| Fingerprint::FirstLine(hash(&head[..=nl])))
    }

    /// The fingerprint of a file as it is now (decompressed when it starts with the gzip
    /// magic bytes); `None` when it has no identity yet.
    pub fn of_file(path: &std::path::Path) -> std::io::Result<Option<Fingerprint>> {
        use std::io::Read;
        let f = std::fs::File::open(path)?;
        let mut raw = std::io::BufReader::new(f);
        let mut head = Vec::with_capacity(FINGERPRINT_BYTES);
        let gz = {
            use std::io::BufRead;
            raw.fill_buf()?.starts_with(&[0x1f, 0x8b])
        };
        let limit = FINGERPRINT_BYTES as u64;
        let complete = if gz {
            let mut d = flate2::bufread::MultiGzDecoder::new(raw);
            (&mut d).take(limit).read_to_end(&mut head)?;
            head.len() < FINGERPRINT_BYTES
        } else {
            raw.take(limit).read_to_end(&mut head)?;
            false
        };
        Ok(Fingerprint::from_head(&head, complete))
    }

    /// Whether this is a [`Fingerprint::Head`].
    pub fn is_head(&self) -> bool {
        matches!(self, Fingerprint::Head(_))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fingerprint::Head(h) => write!(f, "h:{h:016x}"),
            Fingerprint::FirstLine(h) => write!(f, "l:{h:016x}"),
        }
    }
}

/// A string that is not a fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a fingerprint (expected h:<16 hex> or l:<16 hex>)")]
pub struct BadFingerprint(pub String);

impl FromStr for Fingerprint {
    type Err = BadFingerprint;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadFingerprint(s.to_string());
        let (kind, hex) = s.split_once(':').ok_or_else(bad)?;
        if hex.len() != 16 {
            return Err(bad());
        }
        let v = u64::from_str_radix(hex, 16).map_err(|_| bad())?;
        match kind {
            "h" => Ok(Fingerprint::Head(v)),
            "l" => Ok(Fingerprint::FirstLine(v)),
            _ => Err(bad()),
        }
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_file_uses_first_line_and_long_file_head() {
        assert_eq!(Fingerprint::from_head(b"", false), None);
        assert_eq!(Fingerprint::from_head(b"abc", false), None);
        let f = Fingerprint::from_head(b"abc", true).unwrap();
        assert!(matches!(f, Fingerprint::FirstLine(_)));
        let a = Fingerprint::from_head(b"line one\nli", false).unwrap();
        let b = Fingerprint::from_head(b"line one\nline two\n", false).unwrap();
        assert_eq!(a, b, "first-line identity is stable as the file grows");
        let long = vec![b'x'; 300];
        let h = Fingerprint::from_head(&long, false).unwrap();
        assert!(h.is_head());
        assert_eq!(Some(h), Fingerprint::from_head(&long[..256], false));
    }

    /// Fingerprints are persisted (checkpoints, epoch records) and name files across
    /// restarts and upgrades: their values are pinned (XXH3-64, a fixed specification).
    #[test]
    fn fingerprint_values_are_pinned() {
        let line = Fingerprint::from_head(b"line one\n", true).unwrap();
        assert_eq!(line.to_string(), "l:07090bdd6cfd4fcf");
        let head: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
        let head = Fingerprint::from_head(&head, false).unwrap();
        assert_eq!(head.to_string(), "h:f4186dc163a3283c");
    }

    #[test]
    fn first_line_beyond_head_is_none() {
        let mut v = vec![b'x'; 300];
        v.push(b'\n');
        assert_eq!(Fingerprint::first_line(&v), None);
    }

    #[test]
    fn text_round_trip() {
        for f in [
            Fingerprint::Head(0xdead_beef),
            Fingerprint::FirstLine(u64::MAX),
        ] {
            let s = f.to_string();
            assert_eq!(s.parse::<Fingerprint>().unwrap(), f);
            let j = serde_json::to_string(&f).unwrap();
            assert_eq!(serde_json::from_str::<Fingerprint>(&j).unwrap(), f);
        }
        assert!("x:00".parse::<Fingerprint>().is_err());
        assert!("h:zz00000000000000".parse::<Fingerprint>().is_err());
        assert!("h0000000000000000".parse::<Fingerprint>().is_err());
    }
}
