//! The headers that name a line's origin, so a consumer can drop a line it has stored.

/// The origin of the line: the source file's fingerprint (`h:` and 16 hex digits).
pub const ORIGIN_HEADER: &str = "hs-origin";
/// The byte offset of the line in its origin, in decimal.
pub const OFFSET_HEADER: &str = "hs-offset";

/// Reads the origin headers of a message, when both are there and well-formed.
pub(crate) fn read<'a>(
    headers: impl Iterator<Item = (&'a str, Option<&'a [u8]>)>,
) -> Option<(String, u64)> {
    let mut origin = None;
    let mut offset = None;
    for (k, v) in headers {
        match (k, v) {
            (ORIGIN_HEADER, Some(v)) => origin = std::str::from_utf8(v).ok().map(str::to_string),
            (OFFSET_HEADER, Some(v)) => {
                offset = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
            }
            _ => {}
        }
    }
    Some((origin?, offset?))
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
            Some(("h:0123456789abcdef".to_string(), 4096))
        );
        assert_eq!(read(h[..1].iter().copied()), None);
        let bad = [
            (ORIGIN_HEADER, Some(&b"h:0"[..])),
            (OFFSET_HEADER, Some(&b"x"[..])),
        ];
        assert_eq!(read(bad.iter().copied()), None);
    }
}
