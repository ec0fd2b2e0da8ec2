//! A byte-keyed hash map with a fixed, deterministic hash that callers can compute once and
//! reuse (the client hash feeds both the client map and the HyperLogLog).

use hashbrown::HashTable;

/// Seed of [`hash_key`]. Part of the snapshot format: changing it changes persisted bytes.
const SEED: u64 = 0x68_69_74_73;

/// Hash of a key: XXH3-64 with a fixed seed, the one hash function of the crate, so that
/// sketches built in different processes (workers, a restored snapshot) agree.
///
/// Its values are persisted (HyperLogLog registers and the checksum of a snapshot), so it
/// must be a function with a fixed specification: XXH3 is specified and versioned
/// (xxHash's `doc/xxhash_spec.md`), and its output never changes with a crate update, unlike
/// foldhash's, whose documentation rules out persisting it. The golden tests
/// (`tests/golden_format.rs`) fail if a value changes.
#[inline]
pub(crate) fn hash_key(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(key, SEED)
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

    const GOLDEN: [u64; 7] = [
        0xc3d6_bf49_d576_8fab,
        0xcbf6_139b_abba_38f4,
        0x0a3a_b434_bb32_d21c,
        0x4c1d_16d2_bc4f_5b2e,
        0xc005_fbf6_3eeb_301a,
        0x5f04_fea1_8496_7068,
        0xef47_316d_d0c8_f980,
    ];

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

    /// Keys of every length class of XXH3 (0, 1-3, 4-8, 9-16, 17-128, 129-240, 241+ bytes).
    fn golden_keys() -> Vec<Vec<u8>> {
        let long: Vec<u8> = (0..1000u32).map(|i| (i * 31 % 251) as u8).collect();
        vec![
            b"".to_vec(),
            b"-".to_vec(),
            b"1.2.3.4".to_vec(),
            b"199.72.81.55".to_vec(),
            b"piweba3y.prodigy.com".to_vec(),
            long[..200].to_vec(),
            long,
        ]
    }

    #[test]
    fn hash_values_are_pinned() {
        // Persisted (HyperLogLog registers in snapshots): these values must never change. A
        // change needs a new SNAPSHOT_VERSION.
        let got: Vec<u64> = golden_keys().iter().map(|k| hash_key(k)).collect();
        assert_eq!(got, GOLDEN, "{got:#x?}");
    }

    #[test]
    fn hash_is_xxh3_64_with_the_fixed_seed() {
        // XXH3-64 of the empty input with seed 0 is a published test vector of the xxHash
        // specification: the function under the name is the specified one.
        assert_eq!(xxhash_rust::xxh3::xxh3_64(b""), 0x2D06_8005_38D3_94C2);
        assert_eq!(
            hash_key(b"a"),
            xxhash_rust::xxh3::xxh3_64_with_seed(b"a", SEED)
        );
    }
}
