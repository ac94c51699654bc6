//! The in-memory cache in front of the store.
//!
//! It maps a conversation ID to the conversation's snapshot, or to "known not
//! stored", so that a repeated lookup never touches SQLite, hit or miss. It
//! is filled lazily (a store of any size opens at once) and bounded: past its
//! capacity it evicts with a one-bit clock (entries read since the last sweep
//! survive it). It is only written while the store's lock is held, which
//! keeps it and the store in step.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::model::Text;

/// A key held in the table itself when short (most IDs), so that a probe
/// compares it without following a pointer: one cache miss less per lookup.
#[derive(Clone)]
enum Key {
    Inline { len: u8, bytes: [u8; INLINE_KEY] },
    Heap(Box<str>),
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
            Key::Heap(id.into())
        }
    }

    /// The key's bytes. The map is keyed by bytes, not `str`, so that a
    /// comparison never re-validates UTF-8.
    fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..*len as usize],
            Key::Heap(s) => s.as_bytes(),
        }
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As `[u8]` hashes, so that the map can be probed with a byte slice.
        self.as_bytes().hash(state)
    }
}

/// What the cache knows of one ID.
pub enum Probe<V> {
    Stored(Arc<V>),
    NotStored,
    Unknown,
}

struct Slot<V> {
    value: Option<Arc<V>>,
    referenced: AtomicBool,
}

pub struct Cache<V> {
    map: RwLock<HashMap<Key, Slot<V>>>,
    capacity: usize,
}

impl<V> Cache<V> {
    pub fn new(capacity: usize) -> Cache<V> {
        Cache {
            map: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.map.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn probe(&self, id: &str) -> Probe<V> {
        let map = self.map.read();
        probe_locked(&map, id)
    }

    /// Probes many IDs under one read lock.
    pub fn probe_each<'a, I>(&self, ids: I, mut f: impl FnMut(Probe<V>))
    where
        I: IntoIterator<Item = &'a str>,
    {
        let map = self.map.read();
        for id in ids {
            f(probe_locked(&map, id));
        }
    }

    /// Records what the store holds for `id` (`None`: not stored). Call only
    /// with the store's lock held.
    pub fn put(&self, id: &Text, value: Option<Arc<V>>) {
        let mut map = self.map.write();
        self.insert_locked(&mut map, id, value);
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
        let mut map = self.map.write();
        for (id, value) in entries {
            if let Some(slot) = map.get_mut(id.as_str().as_bytes()) {
                slot.value = Some(value);
            } else if map.len() < self.capacity {
                map.insert(Key::new(id.as_str()), new_slot(Some(value)));
            }
        }
    }

    fn insert_locked(&self, map: &mut HashMap<Key, Slot<V>>, id: &Text, value: Option<Arc<V>>) {
        if let Some(slot) = map.get_mut(id.as_str().as_bytes()) {
            slot.value = value;
            return;
        }
        if map.len() >= self.capacity {
            self.evict(map);
        }
        map.insert(Key::new(id.as_str()), new_slot(value));
    }

    /// Frees about an eighth of the capacity: first entries not read since
    /// the last sweep, then (if everything was read) any.
    fn evict(&self, map: &mut HashMap<Key, Slot<V>>) {
        let target = self.capacity - self.capacity.div_ceil(8);
        map.retain(|_, slot| slot.referenced.swap(false, Ordering::Relaxed));
        if map.len() > target {
            let mut excess = map.len() - target;
            map.retain(|_, _| {
                if excess > 0 {
                    excess -= 1;
                    false
                } else {
                    true
                }
            });
        }
    }
}

fn new_slot<V>(value: Option<Arc<V>>) -> Slot<V> {
    Slot {
        value,
        referenced: AtomicBool::new(false),
    }
}

fn probe_locked<V>(map: &HashMap<Key, Slot<V>>, id: &str) -> Probe<V> {
    match map.get(id.as_bytes()) {
        None => Probe::Unknown,
        Some(slot) => {
            // Only write the bit when it changes, so hot entries stay shared
            // in every core's cache.
            if !slot.referenced.load(Ordering::Relaxed) {
                slot.referenced.store(true, Ordering::Relaxed);
            }
            match &slot.value {
                Some(v) => Probe::Stored(v.clone()),
                None => Probe::NotStored,
            }
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
}
