//! Where each line of a batch read from a message broker came from: the topic, partition
//! and offset of its message, its place in the message, and the origin the shipper named.
//! The lake stores it with each row, so that a row of `run --kafka` can be traced back and
//! exactly-once audited with one query.

use std::collections::HashMap;

/// Where one line of a [`Batch`](crate::Batch) read from Kafka came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineSource<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The partition.
    pub partition: i32,
    /// The offset of the line's message in the partition.
    pub offset: i64,
    /// The line's place in its message (0, or more in a message `ship` packed several
    /// lines into).
    pub index: u32,
    /// The shipper's origin (a file's fingerprint, `h:` and hex) and the line's byte offset
    /// in it, when the message named one that was trusted.
    pub origin: Option<(&'a str, u64)>,
}

impl LineSource<'_> {
    /// An owned copy, to keep beyond the batch (a rejected line's).
    pub fn to_buf(&self) -> LineSourceBuf {
        LineSourceBuf {
            topic: self.topic.to_string(),
            partition: self.partition,
            offset: self.offset,
            index: self.index,
            origin: self.origin.map(|(o, at)| (o.to_string(), at)),
        }
    }
}

/// An owned [`LineSource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineSourceBuf {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset of the line's message.
    pub offset: i64,
    /// The line's place in its message.
    pub index: u32,
    /// The shipper's origin and the line's offset in it, when trusted.
    pub origin: Option<(String, u64)>,
}

impl LineSourceBuf {
    /// The borrowed form.
    pub fn as_source(&self) -> LineSource<'_> {
        LineSource {
            topic: &self.topic,
            partition: self.partition,
            offset: self.offset,
            index: self.index,
            origin: self.origin.as_ref().map(|(o, at)| (o.as_str(), *at)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tag {
    partition: i32,
    index: u32,
    offset: i64,
    /// Index into `origins`, or `NO_ORIGIN`.
    origin: u32,
    origin_offset: u64,
}

const NO_ORIGIN: u32 = u32::MAX;

/// The [`LineSource`] of every line of a batch, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lineage {
    topic: String,
    /// The batch's distinct origins (a few: a shipper's files).
    origins: Vec<String>,
    by_name: HashMap<String, u32>,
    /// One per line; `None` for a line with no lineage (of a batch appended to this one).
    lines: Vec<Option<Tag>>,
}

impl Lineage {
    /// No lines yet, of `topic`.
    pub fn new(topic: impl Into<String>) -> Lineage {
        Lineage {
            topic: topic.into(),
            ..Lineage::default()
        }
    }

    /// Adds the next line's source.
    pub fn push(&mut self, partition: i32, offset: i64, index: u32, origin: Option<(&str, u64)>) {
        let (origin, origin_offset) = match origin {
            Some((name, at)) => (self.intern(name), at),
            None => (NO_ORIGIN, 0),
        };
        self.lines.push(Some(Tag {
            partition,
            index,
            offset,
            origin,
            origin_offset,
        }));
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.by_name.get(name) {
            return i;
        }
        // A batch has at most as many origins as lines, far below `NO_ORIGIN`.
        let i = self.origins.len() as u32;
        self.origins.push(name.to_string());
        self.by_name.insert(name.to_string(), i);
        i
    }

    /// Lines described.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether no line is described.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The source of line `i`.
    pub fn get(&self, i: usize) -> Option<LineSource<'_>> {
        let t = (*self.lines.get(i)?)?;
        Some(LineSource {
            topic: &self.topic,
            partition: t.partition,
            offset: t.offset,
            index: t.index,
            origin: (t.origin != NO_ORIGIN)
                .then(|| (self.origins[t.origin as usize].as_str(), t.origin_offset)),
        })
    }

    /// Lines from `at` on, removed from this one.
    pub(crate) fn split_off(&mut self, at: usize) -> Lineage {
        let at = at.min(self.lines.len());
        Lineage {
            topic: self.topic.clone(),
            origins: self.origins.clone(),
            by_name: self.by_name.clone(),
            lines: self.lines.split_off(at),
        }
    }

    /// `n` lines with no lineage.
    pub(crate) fn pad(&mut self, n: usize) {
        self.lines.extend(std::iter::repeat_n(None, n));
    }

    /// Moves the lines of `other` to the end of this one.
    pub(crate) fn append(&mut self, other: &mut Lineage) {
        for t in std::mem::take(&mut other.lines) {
            let t = t.map(|mut t| {
                if t.origin != NO_ORIGIN {
                    t.origin = self.intern(&other.origins[t.origin as usize]);
                }
                t
            });
            self.lines.push(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_their_sources_across_splits_and_appends() {
        let mut l = Lineage::new("t");
        l.push(0, 10, 0, Some(("h:1", 0)));
        l.push(0, 10, 1, Some(("h:1", 50)));
        l.push(2, 7, 0, None);
        assert_eq!(
            l.get(1),
            Some(LineSource {
                topic: "t",
                partition: 0,
                offset: 10,
                index: 1,
                origin: Some(("h:1", 50)),
            })
        );
        assert_eq!(l.get(2).unwrap().origin, None);
        assert_eq!(l.get(3), None);
        let mut rest = l.split_off(1);
        assert_eq!((l.len(), rest.len()), (1, 2));
        assert_eq!(rest.get(0).unwrap().origin, Some(("h:1", 50)));
        let mut other = Lineage::new("t");
        other.push(1, 3, 0, Some(("h:2", 9)));
        rest.append(&mut other);
        rest.pad(1);
        assert_eq!(rest.get(2).unwrap().origin, Some(("h:2", 9)));
        assert_eq!(rest.get(3), None);
        assert_eq!(rest.len(), 4);
        let s = rest.get(2).unwrap();
        assert_eq!(s.to_buf().as_source(), s);
    }
}
