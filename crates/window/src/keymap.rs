//! A byte-keyed hash map with a fixed, deterministic hash that callers can compute once and
//! reuse (the client hash feeds both the client map and the HyperLogLog).

use std::hash::BuildHasher;

use hashbrown::HashTable;

/// The one hash function of the crate: foldhash's quality variant with a fixed seed, so that
/// sketches built in different processes (workers, a restored snapshot) agree.
const HASHER: foldhash::quality::FixedState =
    foldhash::quality::FixedState::with_seed(0x68_69_74_73);

/// Hash of a key. Stable for a given foldhash version (HyperLogLog registers in a snapshot
/// depend on it).
#[inline]
pub(crate) fn hash_key(key: &[u8]) -> u64 {
    HASHER.hash_one(key)
}

/// One entry: key, its hash (kept so merges and resizes never rehash), value.
#[derive(Debug, Clone)]
pub(crate) struct Slot<V> {
    pub key: Box<[u8]>,
    pub hash: u64,
    pub value: V,
}

/// Map from byte strings to `V`. Lookup before insert: a key seen before costs no allocation.
#[derive(Debug, Clone)]
pub(crate) struct KeyMap<V> {
    table: HashTable<Slot<V>>,
}

impl<V> Default for KeyMap<V> {
    fn default() -> Self {
        KeyMap {
            table: HashTable::new(),
        }
    }
}

impl<V> KeyMap<V> {
    /// The value for `key` (with `hash == hash_key(key)`), inserted with `init` when absent.
    #[inline]
    pub fn get_or_insert_with(
        &mut self,
        key: &[u8],
        hash: u64,
        init: impl FnOnce() -> V,
    ) -> &mut V {
        // `entry` looks up first and only builds the owned key when it is new.
        let entry = self
            .table
            .entry(hash, |s| s.hash == hash && *s.key == *key, |s| s.hash);
        match entry {
            hashbrown::hash_table::Entry::Occupied(o) => &mut o.into_mut().value,
            hashbrown::hash_table::Entry::Vacant(v) => {
                &mut v
                    .insert(Slot {
                        key: key.into(),
                        hash,
                        value: init(),
                    })
                    .into_mut()
                    .value
            }
        }
    }

    /// Like [`KeyMap::get_or_insert_with`] for an owned key (merges move keys, never copy).
    #[inline]
    pub fn get_or_insert_owned(
        &mut self,
        key: Box<[u8]>,
        hash: u64,
        init: impl FnOnce() -> V,
    ) -> &mut V {
        let entry = self
            .table
            .entry(hash, |s| s.hash == hash && s.key == key, |s| s.hash);
        match entry {
            hashbrown::hash_table::Entry::Occupied(o) => &mut o.into_mut().value,
            hashbrown::hash_table::Entry::Vacant(v) => {
                &mut v
                    .insert(Slot {
                        key,
                        hash,
                        value: init(),
                    })
                    .into_mut()
                    .value
            }
        }
    }

    /// The value for `key`, if any.
    #[inline]
    pub fn get(&self, key: &[u8], hash: u64) -> Option<&V> {
        self.table
            .find(hash, |s| s.hash == hash && *s.key == *key)
            .map(|s| &s.value)
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Slot<V>> {
        self.table.iter()
    }

    /// Entries sorted by key: a deterministic order for snapshots.
    pub fn sorted(&self) -> Vec<&Slot<V>> {
        let mut v: Vec<&Slot<V>> = self.table.iter().collect();
        v.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        v
    }

    /// Moves every entry out.
    pub fn into_slots(self) -> impl Iterator<Item = Slot<V>> {
        self.table.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_before_insert() {
        let mut m: KeyMap<u64> = KeyMap::default();
        for k in [&b"a"[..], b"b", b"a", b"a"] {
            *m.get_or_insert_with(k, hash_key(k), || 0) += 1;
        }
        assert_eq!(m.len(), 2);
        assert_eq!(m.get(b"a", hash_key(b"a")), Some(&3));
        assert_eq!(m.get(b"c", hash_key(b"c")), None);
        let keys: Vec<&[u8]> = m.sorted().iter().map(|s| &*s.key).collect();
        assert_eq!(keys, vec![&b"a"[..], b"b"]);
    }

    #[test]
    fn hash_is_stable() {
        // Registers in snapshots depend on this value: it must not change between runs.
        assert_eq!(
            hash_key(b"piweba3y.prodigy.com"),
            hash_key(b"piweba3y.prodigy.com")
        );
        assert_ne!(hash_key(b"a"), hash_key(b"b"));
    }
}
