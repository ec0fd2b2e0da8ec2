//! The headers that name a line's origin, so a consumer can drop a line it has stored.

/// The origin of the line: the source file's fingerprint (`h:` and 16 hex digits).
pub const ORIGIN_HEADER: &str = "hs-origin";
/// The byte offset of the line in its origin, in decimal; of each line, comma-separated, in
/// a message of several lines.
pub const OFFSET_HEADER: &str = "hs-offset";
/// In a message of several lines (`ship --lines-per-message`): how many, in decimal. The
/// payload is the lines joined by `\n`.
pub const LINES_HEADER: &str = "hs-lines";

/// What the headers of a message say of its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marks {
    /// The origin, and the offset of each line in it, when both headers are there,
    /// well-formed, and name an offset for every line.
    pub origin: Option<(String, Vec<u64>)>,
    /// Lines in the message: `hs-lines`, or 1 without it.
    pub lines: usize,
}

/// Reads the origin headers of a message.
pub(crate) fn read<'a>(headers: impl Iterator<Item = (&'a str, Option<&'a [u8]>)>) -> Marks {
    let mut origin = None;
    let mut offsets = None;
    let mut lines = 1;
    for (k, v) in headers {
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
    Marks { origin, lines }
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
                lines: 1
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
                lines: 3
            }
        );
        // An offset missing: the lines are read, without an origin to check them by.
        let short = [h[0], (OFFSET_HEADER, Some(&b"0,120"[..])), h[2]];
        assert_eq!(
            read(short.iter().copied()),
            Marks {
                origin: None,
                lines: 3
            }
        );
        // Packed lines without an origin (TCP, syslog).
        assert_eq!(
            read([h[2]].iter().copied()),
            Marks {
                origin: None,
                lines: 3
            }
        );
    }
}
