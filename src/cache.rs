//! The in-memory cache in front of the store.
//!
//! It maps a conversation ID to the conversation's snapshot, or to "known not
//! stored", so that a repeated lookup never touches SQLite, hit or miss. It
//! is filled lazily (a store of any size opens at once) and bounded: past its
//! capacity a sweep frees an eighth of it, the entries least recently read
//! (each entry keeps when it was last read, on a clock that ticks with every
//! insert). It is only written while the store's lock is held, which keeps
//! it and the store in step.
//!
//! The table is our own, shaped for the cost that dominates a lookup once
//! the cache outgrows the CPU caches: memory latency. Slots are 8 bytes (a
//! hash tag and an entry index), entries hold short keys inline, and the
//! hash is a seeded multiply-fold (a few ns, where SipHash costs tens). A
//! batch is probed in stages over groups of IDs (every slot, then every
//! entry, then every snapshot), so that the loads of different IDs do not
//! wait for each other and their cache misses overlap.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::model::Text;

/// A key held in the entry itself when short (most IDs), so that a probe
/// compares it without following a pointer: one cache miss less per lookup.
enum Key {
    Inline { len: u8, bytes: [u8; INLINE_KEY] },
    Heap(Box<[u8]>),
}

const INLINE_KEY: usize = 38;

impl Key {
    fn new(id: &str) -> Key {
        if id.len() <= INLINE_KEY {
            let mut bytes = [0u8; INLINE_KEY];
            bytes[..id.len()].copy_from_slice(id.as_bytes());
            Key::Inline {
                len: id.len() as u8,
                bytes,
            }
        } else {
            Key::Heap(id.as_bytes().into())
        }
    }

    /// The key's bytes: compared as bytes, never re-validated as UTF-8.
    fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..*len as usize],
            Key::Heap(b) => b,
        }
    }
}

/// What the cache knows of one ID.
pub enum Probe<V> {
    Stored(Arc<V>),
    NotStored,
    Unknown,
}

struct Entry<V> {
    key: Key,
    value: Option<Arc<V>>,
    /// The clock when it was last read (or inserted).
    read_at: AtomicU64,
}

/// A free slot. A used slot is `tag << 32 | entry index`; an index is below
/// `u32::MAX` (capacity is capped), so no used slot equals it.
const EMPTY: u64 = u64::MAX;

/// How many IDs a batch probe keeps in flight at once.
const GROUP: usize = 16;

/// Open addressing with linear probing over `slots` (at most half full);
/// entries live in `entries`, in insertion order. Nothing is removed one by
/// one: eviction drops entries in a sweep and rebuilds the slots.
struct Table<V> {
    slots: Vec<u64>,
    entries: Vec<Entry<V>>,
    seed: u64,
    /// Ticks with every insert (under the write lock); a read stamps its
    /// entry with it, so stamps order entries by their last read, to the
    /// resolution of one insert.
    clock: AtomicU64,
}

impl<V> Table<V> {
    fn mask(&self) -> usize {
        self.slots.len() - 1
    }

    fn hash(&self, key: &[u8]) -> u64 {
        hash(self.seed, key)
    }

    /// The entry index of `key`, starting at the slot of hash `h`.
    fn find(&self, key: &[u8], h: u64) -> Option<usize> {
        self.find_from(key, h, h as usize & self.mask())
    }

    fn find_from(&self, key: &[u8], h: u64, mut at: usize) -> Option<usize> {
        let tag = h >> 32;
        loop {
            let slot = self.slots[at];
            if slot == EMPTY {
                return None;
            }
            if slot >> 32 == tag {
                let index = (slot & 0xffff_ffff) as usize;
                if self.entries[index].key.as_bytes() == key {
                    return Some(index);
                }
            }
            at = (at + 1) & self.mask();
        }
    }

    fn place(slots: &mut [u64], h: u64, index: usize) {
        let mask = slots.len() - 1;
        let mut at = h as usize & mask;
        while slots[at] != EMPTY {
            at = (at + 1) & mask;
        }
        slots[at] = (h >> 32) << 32 | index as u64;
    }

    fn insert(&mut self, key: &[u8], id: &str, value: Option<Arc<V>>) {
        if (self.entries.len() + 1) * 2 > self.slots.len() {
            self.rebuild((self.slots.len() * 2).max(16));
        }
        let h = self.hash(key);
        Self::place(&mut self.slots, h, self.entries.len());
        let now = self.clock.fetch_add(1, Ordering::Relaxed) + 1;
        self.entries.push(Entry {
            key: Key::new(id),
            value,
            read_at: AtomicU64::new(now),
        });
    }

    /// Recomputes the slots for the entries there are, in `size` slots.
    fn rebuild(&mut self, size: usize) {
        let mut slots = vec![EMPTY; size];
        for (index, entry) in self.entries.iter().enumerate() {
            Self::place(&mut slots, self.hash(entry.key.as_bytes()), index);
        }
        self.slots = slots;
    }

    fn lookup(&self, key: &[u8]) -> Probe<V> {
        match self.find(key, self.hash(key)) {
            None => Probe::Unknown,
            Some(index) => read(&self.entries[index], self.now()),
        }
    }

    fn now(&self) -> u64 {
        self.clock.load(Ordering::Relaxed)
    }
}

/// What an entry says, stamping it read now. The stamp is written only when
/// it changes (once per insert at most), so that hot entries stay shared in
/// every core's cache.
fn read<V>(entry: &Entry<V>, now: u64) -> Probe<V> {
    if entry.read_at.load(Ordering::Relaxed) != now {
        entry.read_at.store(now, Ordering::Relaxed);
    }
    match &entry.value {
        Some(v) => Probe::Stored(v.clone()),
        None => Probe::NotStored,
    }
}

/// A seeded multiply-fold hash over 8-byte words. The seed is random per
/// cache, so IDs chosen to collide (a flood of one bucket) cannot be
/// prepared in advance.
fn hash(seed: u64, bytes: &[u8]) -> u64 {
    const K1: u64 = 0xa076_1d64_78bd_642f;
    const K2: u64 = 0xe703_7ed1_a0b4_28db;
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(K1);
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = fold(h ^ u64::from_le_bytes(b), K2);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        h = fold(h ^ u64::from_le_bytes(b), K1);
    }
    fold(h, K2 ^ seed)
}

fn fold(a: u64, b: u64) -> u64 {
    let m = (a as u128).wrapping_mul(b as u128);
    (m as u64) ^ ((m >> 64) as u64)
}

pub struct Cache<V> {
    table: RwLock<Table<V>>,
    capacity: usize,
}

impl<V> Cache<V> {
    pub fn new(capacity: usize) -> Cache<V> {
        let mut seed = RandomState::new().build_hasher();
        seed.write_u8(0);
        Cache {
            table: RwLock::new(Table {
                slots: vec![EMPTY; 16],
                entries: Vec::new(),
                seed: seed.finish(),
                clock: AtomicU64::new(0),
            }),
            capacity: capacity.clamp(1, u32::MAX as usize - 1),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.table.read().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries inserted since the cache was made (each a miss filled, or a
    /// fresh write cached): what the benchmarks count misses with.
    pub fn inserted(&self) -> u64 {
        self.table.read().now()
    }

    pub fn probe(&self, id: &str) -> Probe<V> {
        self.table.read().lookup(id.as_bytes())
    }

    /// Probes many IDs under one read lock, `f` getting each answer in
    /// order. IDs are taken in groups, each probed in stages (hash and slot
    /// for all, then entry for all, then the snapshot), so that their cache
    /// misses overlap instead of following one another.
    pub fn probe_each<'a, I>(&self, ids: I, f: impl FnMut(Probe<V>))
    where
        I: IntoIterator<Item = &'a str>,
    {
        probe_staged(&self.table.read(), ids, f)
    }

    /// [`Cache::probe_each`] unless the writer holds the cache (refreshing
    /// it after a commit, or evicting): then it does nothing and returns
    /// false, so that a host's thread never waits for the writer.
    pub fn try_probe_each<'a, I>(&self, ids: I, f: impl FnMut(Probe<V>)) -> bool
    where
        I: IntoIterator<Item = &'a str>,
    {
        match self.table.try_read() {
            Some(table) => {
                probe_staged(&table, ids, f);
                true
            }
            None => false,
        }
    }

    /// Records what the store holds for `id` (`None`: not stored). Call only
    /// with the store's lock held.
    pub fn put(&self, id: &Text, value: Option<Arc<V>>) {
        let mut table = self.table.write();
        let key = id.as_str().as_bytes();
        if let Some(index) = table.find(key, table.hash(key)) {
            table.entries[index].value = value;
            return;
        }
        if table.entries.len() >= self.capacity {
            self.evict(&mut table);
        }
        table.insert(key, id.as_str(), value);
    }

    /// Records freshly written conversations. Entries already cached are
    /// replaced; new ones are added while there is room, and otherwise left
    /// to be loaded on demand (a large import does not flush the cache).
    /// Call only with the store's lock held.
    pub fn refresh<'a, I>(&self, entries: I)
    where
        I: IntoIterator<Item = (&'a Text, Arc<V>)>,
        V: 'a,
    {
        let mut table = self.table.write();
        for (id, value) in entries {
            let key = id.as_str().as_bytes();
            if let Some(index) = table.find(key, table.hash(key)) {
                table.entries[index].value = Some(value);
            } else if table.entries.len() < self.capacity {
                table.insert(key, id.as_str(), Some(value));
            }
        }
    }

    /// Forgets everything (another process rewrote the store: see
    /// `state::shared`). Call only with the store's lock held.
    pub fn clear(&self) {
        let mut table = self.table.write();
        table.entries.clear();
        table.slots = vec![EMPTY; 16];
    }

    /// Frees an eighth of the capacity: the entries read least recently
    /// (of equal stamps, the first inserted). One pass to find the cut, one
    /// to keep the rest: linear in the capacity, once per eighth of it.
    fn evict(&self, table: &mut Table<V>) {
        let target = self.capacity - self.capacity.div_ceil(8);
        let Some(excess) = table.entries.len().checked_sub(target).filter(|&n| n > 0) else {
            return;
        };
        let stamp = |e: &Entry<V>| e.read_at.load(Ordering::Relaxed);
        let mut stamps: Vec<u64> = table.entries.iter().map(stamp).collect();
        let cut = *stamps.select_nth_unstable(excess - 1).1;
        let mut at_cut = excess - table.entries.iter().filter(|e| stamp(e) < cut).count();
        table.entries.retain(|e| match stamp(e).cmp(&cut) {
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal if at_cut > 0 => {
                at_cut -= 1;
                false
            }
            _ => true,
        });
        let size = table.slots.len();
        table.rebuild(size);
    }
}

/// The staged probe of [`Cache::probe_each`], on a locked table.
fn probe_staged<'a, V>(
    table: &Table<V>,
    ids: impl IntoIterator<Item = &'a str>,
    mut f: impl FnMut(Probe<V>),
) {
    let mask = table.mask();
    let mut ids = ids.into_iter();
    let mut keys: [&[u8]; GROUP] = [&[]; GROUP];
    let mut hashes = [0u64; GROUP];
    let mut slots = [0u64; GROUP];
    let mut found: [Option<usize>; GROUP] = [None; GROUP];
    loop {
        let mut n = 0;
        for id in ids.by_ref().take(GROUP) {
            keys[n] = id.as_bytes();
            n += 1;
        }
        if n == 0 {
            return;
        }
        // Stage 1: the first slot of each ID. The loads are independent,
        // so the CPU keeps several misses in flight.
        // Hashing first keeps the loading loop short enough that all
        // of the group's loads fit in the CPU's reorder window.
        for i in 0..n {
            hashes[i] = table.hash(keys[i]);
        }
        for i in 0..n {
            slots[i] = table.slots[hashes[i] as usize & mask];
        }
        // Stage 2: the entry each first slot names, when its tag
        // matches (nearly always the one: the table is at most half
        // full); the rest take the ordinary probe.
        for i in 0..n {
            let (h, slot) = (hashes[i], slots[i]);
            found[i] = if slot == EMPTY {
                None
            } else if slot >> 32 == h >> 32
                && table.entries[(slot & 0xffff_ffff) as usize].key.as_bytes() == keys[i]
            {
                Some((slot & 0xffff_ffff) as usize)
            } else {
                table.find_from(keys[i], h, (h as usize + 1) & mask)
            };
        }
        // Stage 3: a plain load of each snapshot's reference count, so
        // that their misses overlap too: the count's increment below is
        // an atomic (locked) instruction, which would otherwise wait for
        // its own miss, one snapshot after another.
        for index in found.iter().take(n).flatten() {
            if let Some(v) = &table.entries[*index].value {
                std::hint::black_box(Arc::strong_count(v));
            }
        }
        // Stage 4: the answers.
        let now = table.now();
        for entry in found.iter().take(n) {
            f(match entry {
                None => Probe::Unknown,
                Some(index) => read(&table.entries[*index], now),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Text {
        Text::new(s).unwrap()
    }

    fn stored(c: &Cache<u32>, id: &str) -> Option<u32> {
        match c.probe(id) {
            Probe::Stored(v) => Some(*v),
            _ => None,
        }
    }

    #[test]
    fn hit_miss_unknown() {
        let c = Cache::new(100);
        c.put(&t("a"), Some(Arc::new(1)));
        c.put(&t("b"), None);
        assert_eq!(stored(&c, "a"), Some(1));
        assert!(matches!(c.probe("b"), Probe::NotStored));
        assert!(matches!(c.probe("c"), Probe::Unknown));
        c.put(&t("b"), Some(Arc::new(2)));
        assert_eq!(stored(&c, "b"), Some(2));
    }

    #[test]
    fn stays_within_capacity_and_keeps_what_is_read() {
        let c = Cache::new(64);
        c.put(&t("hot"), Some(Arc::new(7)));
        for i in 0..1000u32 {
            assert_eq!(stored(&c, "hot"), Some(7), "evicted at {i}");
            c.put(&t(&format!("k{i}")), Some(Arc::new(i)));
            assert!(c.len() <= 64);
        }
    }

    #[test]
    fn long_and_short_keys() {
        let c = Cache::new(100);
        let long = format!("c2c_{}", "x".repeat(200));
        c.put(&t(&long), Some(Arc::new(1)));
        c.put(&t("c2c_short"), Some(Arc::new(2)));
        let edge = "c".repeat(INLINE_KEY);
        c.put(&t(&edge), Some(Arc::new(3)));
        assert_eq!(stored(&c, &long), Some(1));
        assert_eq!(stored(&c, "c2c_short"), Some(2));
        assert_eq!(stored(&c, &edge), Some(3));
        assert!(matches!(c.probe(&long[..long.len() - 1]), Probe::Unknown));
    }

    #[test]
    fn refresh_replaces_cached_and_adds_only_while_there_is_room() {
        let c = Cache::new(16);
        c.put(&t("x"), None);
        let keys: Vec<Text> = (0..40).map(|i| t(&format!("k{i}"))).collect();
        let mut entries: Vec<(&Text, Arc<u32>)> = keys.iter().map(|k| (k, Arc::new(1))).collect();
        let x = t("x");
        entries.push((&x, Arc::new(9)));
        c.refresh(entries);
        assert_eq!(c.len(), 16);
        assert_eq!(stored(&c, "x"), Some(9));
    }

    #[test]
    fn grows_and_probes_in_groups_like_one_by_one() {
        let c = Cache::new(100_000);
        for i in 0..5000u32 {
            let v = if i.is_multiple_of(3) {
                None
            } else {
                Some(Arc::new(i))
            };
            c.put(&t(&format!("c2c_user{i:07}")), v);
        }
        assert_eq!(c.len(), 5000);
        // Stored, not stored and unknown IDs, more than a group, repeats.
        let ids: Vec<String> = (0..997u32)
            .map(|k| format!("c2c_user{:07}", (k * 7919) % 6000))
            .collect();
        let mut batch = Vec::new();
        c.probe_each(ids.iter().map(String::as_str), |p| batch.push(p));
        assert_eq!(batch.len(), ids.len());
        for (id, got) in ids.iter().zip(batch) {
            let n: u32 = id[8..].parse().unwrap();
            match got {
                Probe::Stored(v) => assert!(n < 5000 && !n.is_multiple_of(3) && *v == n, "{id}"),
                Probe::NotStored => assert!(n < 5000 && n.is_multiple_of(3), "{id}"),
                Probe::Unknown => assert!(n >= 5000, "{id}"),
            }
            assert_eq!(
                stored(&c, id),
                if n < 5000 && !n.is_multiple_of(3) {
                    Some(n)
                } else {
                    None
                }
            );
        }
    }

    #[test]
    fn a_try_while_the_writer_holds_the_cache_does_nothing() {
        let c = Cache::new(10);
        c.put(&t("a"), Some(Arc::new(1)));
        let mut seen = 0;
        {
            let _writer = c.table.write();
            assert!(!c.try_probe_each(["a"], |_| seen += 1));
        }
        assert_eq!(seen, 0);
        assert!(c.try_probe_each(["a", "b"], |_| seen += 1));
        assert_eq!(seen, 2);
    }

    #[test]
    fn eviction_keeps_every_survivor_findable() {
        let c = Cache::new(1000);
        for i in 0..10_000u32 {
            c.put(&t(&format!("k{i}")), Some(Arc::new(i)));
            assert!(c.len() <= 1000);
        }
        let mut found = 0;
        for i in 0..10_000u32 {
            if let Some(v) = stored(&c, &format!("k{i}")) {
                assert_eq!(v, i);
                found += 1;
            }
        }
        assert_eq!(found, c.len());
        assert!(found >= 875, "{found}");
    }

    #[test]
    fn hash_depends_on_every_byte_and_the_seed() {
        let a = hash(1, b"c2c_user0000001");
        assert_ne!(a, hash(1, b"c2c_user0000002"));
        assert_ne!(a, hash(1, b"c2c_user000000"));
        assert_ne!(a, hash(2, b"c2c_user0000001"));
        assert_ne!(hash(1, b""), hash(1, b"\0"));
    }
}
