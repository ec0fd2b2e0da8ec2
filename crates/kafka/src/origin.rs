//! The headers that name a line's origin, so a consumer can drop a line it has stored, and
//! the MAC that lets the consumer trust them.

use hmac::Hmac;
use sha2::Sha256;

/// The origin of the line: the source file's fingerprint (`h:` and 16 hex digits).
pub const ORIGIN_HEADER: &str = "hs-origin";
/// The byte offset of the line in its origin, in decimal; of each line, comma-separated, in
/// a message of several lines.
pub const OFFSET_HEADER: &str = "hs-offset";
/// In a message of several lines (`ship --lines-per-message`): how many, in decimal. The
/// payload is the lines joined by `\n`.
pub const LINES_HEADER: &str = "hs-lines";

/// The HMAC-SHA256 of the origin, the offsets and the payload under the key `ship` and
/// `run` share (`--origin-key`), in lowercase hex. Without it a consumer that has the key
/// does not trust the origin headers: anyone who can produce to the topic can write them.
pub const MAC_HEADER: &str = "hs-mac";

/// Origin offsets at or above this are never trusted (no file holds 4 EiB): they can only be
/// forged, and the mark after them (`offset + 1`) could not wrap.
pub(crate) const MAX_ORIGIN_OFFSET: u64 = 1 << 62;

/// The shortest key `--origin-key` accepts, in bytes: a shorter one can be guessed.
pub const MIN_KEY_BYTES: usize = 16;

/// The secret `ship` signs origin headers with and `run` checks them by.
#[derive(Clone)]
pub struct OriginKey(Hmac<Sha256>);

impl std::fmt::Debug for OriginKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.write_str("OriginKey(..)")
    }
}

impl OriginKey {
    /// A key from secret bytes, at least [`MIN_KEY_BYTES`] of them.
    pub fn new(secret: &[u8]) -> Result<OriginKey, String> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(format!(
                "the origin key has {} bytes; at least {MIN_KEY_BYTES} are needed (for example \
                 `head -c 32 /dev/urandom | base64 > FILE`)",
                secret.len()
            ));
        }
        let mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(secret)
            .map_err(|e| format!("the origin key: {e}"))?;
        Ok(OriginKey(mac))
    }

    /// The key in a file: its bytes, less surrounding whitespace (a trailing newline of an
    /// editor or `echo` is not part of the secret).
    pub fn from_file(path: &std::path::Path) -> Result<OriginKey, String> {
        let raw = std::fs::read(path)
            .map_err(|e| format!("cannot read the origin key `{}`: {e}", path.display()))?;
        OriginKey::new(raw.trim_ascii()).map_err(|e| format!("`{}`: {e}", path.display()))
    }

    fn tag(&self, origin: &str, offsets: &[u64], payload: &[u8]) -> Hmac<Sha256> {
        use hmac::Mac;
        let mut m = self.0.clone();
        // Every part has a fixed size or a length before it, so no two messages hash alike.
        m.update(b"hitstream origin v1\0");
        m.update(&(origin.len() as u64).to_le_bytes());
        m.update(origin.as_bytes());
        m.update(&(offsets.len() as u64).to_le_bytes());
        for o in offsets {
            m.update(&o.to_le_bytes());
        }
        m.update(payload);
        m
    }

    /// The [`MAC_HEADER`] value of a message.
    pub(crate) fn sign(&self, origin: &str, offsets: &[u64], payload: &[u8]) -> String {
        use hmac::Mac;
        let out = self.tag(origin, offsets, payload).finalize().into_bytes();
        let mut s = String::with_capacity(out.len() * 2);
        for b in out.iter() {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// Whether `mac` (the header's value) is the MAC of the message; compared in constant
    /// time.
    pub(crate) fn verify(&self, origin: &str, offsets: &[u64], payload: &[u8], mac: &[u8]) -> bool {
        use hmac::Mac;
        let Some(raw) = unhex(mac) else {
            return false;
        };
        self.tag(origin, offsets, payload)
            .verify_slice(&raw)
            .is_ok()
    }
}

fn unhex(s: &[u8]) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    s.chunks(2)
        .map(|c| {
            let d = |b: u8| (b as char).to_digit(16);
            Some((d(c[0])? * 16 + d(c[1])?) as u8)
        })
        .collect()
}

/// What the headers of a message say of its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marks {
    /// The origin, and the offset of each line in it, when both headers are there,
    /// well-formed, and name an offset for every line.
    pub origin: Option<(String, Vec<u64>)>,
    /// Lines in the message: `hs-lines`, or 1 without it.
    pub lines: usize,
    /// The [`MAC_HEADER`] value, when there is one.
    pub mac: Option<Vec<u8>>,
}

/// Reads the origin headers of a message.
pub(crate) fn read<'a>(headers: impl Iterator<Item = (&'a str, Option<&'a [u8]>)>) -> Marks {
    let mut origin = None;
    let mut offsets = None;
    let mut lines = 1;
    let mut mac = None;
    for (k, v) in headers {
        if k == MAC_HEADER {
            mac = v.map(<[u8]>::to_vec);
            continue;
        }
        let Some(v) = v.and_then(|v| std::str::from_utf8(v).ok()) else {
            continue;
        };
        match k {
            ORIGIN_HEADER => origin = Some(v.to_string()),
            OFFSET_HEADER => {
                offsets = v
                    .split(',')
                    .map(|s| s.parse::<u64>().ok())
                    .collect::<Option<Vec<u64>>>()
            }
            LINES_HEADER => lines = v.parse::<usize>().ok().filter(|&n| n > 0).unwrap_or(1),
            _ => {}
        }
    }
    let origin = match (origin, offsets) {
        (Some(o), Some(offs)) if offs.len() == lines => Some((o, offs)),
        _ => None,
    };
    Marks { origin, lines, mac }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_headers_or_none() {
        let h = [
            (ORIGIN_HEADER, Some(&b"h:0123456789abcdef"[..])),
            (OFFSET_HEADER, Some(&b"4096"[..])),
        ];
        assert_eq!(
            read(h.iter().copied()),
            Marks {
                origin: Some(("h:0123456789abcdef".to_string(), vec![4096])),
                lines: 1,
                mac: None
            }
        );
        assert_eq!(read(h[..1].iter().copied()).origin, None);
        let bad = [
            (ORIGIN_HEADER, Some(&b"h:0"[..])),
            (OFFSET_HEADER, Some(&b"x"[..])),
        ];
        assert_eq!(read(bad.iter().copied()).origin, None);
    }

    #[test]
    fn a_packed_message_names_an_offset_for_each_line() {
        let h = [
            (ORIGIN_HEADER, Some(&b"h:1"[..])),
            (OFFSET_HEADER, Some(&b"0,120,250"[..])),
            (LINES_HEADER, Some(&b"3"[..])),
        ];
        assert_eq!(
            read(h.iter().copied()),
            Marks {
                origin: Some(("h:1".to_string(), vec![0, 120, 250])),
                lines: 3,
                mac: None
            }
        );
        // An offset missing: the lines are read, without an origin to check them by.
        let short = [h[0], (OFFSET_HEADER, Some(&b"0,120"[..])), h[2]];
        assert_eq!(
            read(short.iter().copied()),
            Marks {
                origin: None,
                lines: 3,
                mac: None
            }
        );
        // Packed lines without an origin (TCP, syslog).
        assert_eq!(
            read([h[2]].iter().copied()),
            Marks {
                origin: None,
                lines: 3,
                mac: None
            }
        );
    }

    #[test]
    fn a_mac_binds_origin_offsets_and_payload() {
        assert!(OriginKey::new(b"short").is_err());
        let k = OriginKey::new(b"0123456789abcdef0123").unwrap();
        let mac = k.sign("h:1", &[0, 120], b"a\nb");
        assert_eq!(mac.len(), 64);
        assert!(k.verify("h:1", &[0, 120], b"a\nb", mac.as_bytes()));
        // Any part changed, or another key: refused.
        assert!(!k.verify("h:2", &[0, 120], b"a\nb", mac.as_bytes()));
        assert!(!k.verify("h:1", &[0, 121], b"a\nb", mac.as_bytes()));
        assert!(!k.verify("h:1", &[0, 120], b"a\nc", mac.as_bytes()));
        assert!(!k.verify("h:1", &[0], b"a\nb", mac.as_bytes()));
        let other = OriginKey::new(b"0123456789abcdef0124").unwrap();
        assert!(!other.verify("h:1", &[0, 120], b"a\nb", mac.as_bytes()));
        // Not hex, or of another length: refused, no panic.
        assert!(!k.verify("h:1", &[0, 120], b"a\nb", b"zz"));
        assert!(!k.verify("h:1", &[0, 120], b"a\nb", &[b'g'; 64]));
        assert!(!k.verify("h:1", &[0, 120], b"a\nb", "é".repeat(32).as_bytes()));
        // The header is read beside the others.
        let h = [
            (ORIGIN_HEADER, Some(&b"h:1"[..])),
            (OFFSET_HEADER, Some(&b"7"[..])),
            (MAC_HEADER, Some(mac.as_bytes())),
        ];
        assert_eq!(read(h.iter().copied()).mac.as_deref(), Some(mac.as_bytes()));
        assert_eq!(format!("{k:?}"), "OriginKey(..)");
    }
}
