//! What the in-process caches share: a bounded map with CLOCK eviction ([`ClockMap`]) and
//! the counters behind [`CacheStats`].
//!
//! A [`ClockMap`] keeps its values in one dense `Vec` of slots and indexes them with a
//! `hashbrown::HashTable<u32>` (four bytes and a control byte per bucket, the key itself
//! living once, in its slot). Each slot carries a "recently used" bit, set with a relaxed
//! store on every hit under the caller's read lock. When an insert finds the map full, a
//! hand sweeps the slots: a set bit is cleared and the slot passed over, the first clear
//! one is evicted and reused. The least recently used entries go first (approximately),
//! and the map never holds more than its capacity, nor is it ever emptied at once.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use hashbrown::HashTable;

/// A snapshot of one cache, for a metrics exporter: cheap to take (no lock held while
/// counting beyond the map's length).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Entries held now.
    pub entries: usize,
    /// The most entries the cache holds (0: the cache is off).
    pub capacity: usize,
    /// Lookups answered from the cache since start.
    pub hits: u64,
    /// Lookups that had to go to the store (or verify in full) since start.
    pub misses: u64,
    /// Entries dropped to make room since start (not removals, expiries or invalidations).
    pub evictions: u64,
}

/// Hit, miss and eviction counts, kept with relaxed atomics: a counter costs one
/// uncontended-in-the-common-case `fetch_add` and orders nothing.
#[derive(Debug, Default)]
#[repr(align(64))] // its own cache line: the hit path's counters do not share one with a lock
pub struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

impl Counters {
    /// Counts a hit.
    pub fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a miss.
    pub fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `n` evictions.
    pub fn evicted(&self, n: u64) {
        if n > 0 {
            self.evictions.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The counts, with the map's size.
    pub fn stats(&self, entries: usize, capacity: usize) -> CacheStats {
        CacheStats {
            entries,
            capacity,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }
}

struct Slot<K, V> {
    key: K,
    /// Set by every hit, cleared by the sweeping hand.
    used: AtomicBool,
    /// `None`: a free slot, on the free list.
    value: Option<V>,
}

/// A map of at most `capacity` entries that evicts with CLOCK. Not synchronised: the
/// caches hold it behind their `RwLock`; [`ClockMap::get`] needs only `&self`, so hits
/// take the read lock.
pub struct ClockMap<K, V> {
    index: HashTable<u32>,
    slots: Vec<Slot<K, V>>,
    free: Vec<u32>,
    hand: usize,
    capacity: usize,
    hasher: RandomState,
}

/// Slots reserved up front at most: the reservation is address space, pages become
/// resident only when written, but a huge capacity should still grow by doubling.
const RESERVE_MAX: usize = 1 << 20;

impl<K: Hash + Eq + Clone, V> ClockMap<K, V> {
    /// An empty map holding at most `capacity` entries (0: it holds nothing).
    pub fn new(capacity: usize) -> Self {
        let reserve = capacity.min(RESERVE_MAX);
        ClockMap {
            index: HashTable::with_capacity(reserve),
            slots: Vec::with_capacity(reserve),
            free: Vec::new(),
            hand: 0,
            capacity,
            hasher: RandomState::new(),
        }
    }

    /// The most entries held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn find(&self, key: &K) -> Option<usize> {
        let hash = self.hasher.hash_one(key);
        self.index
            .find(hash, |&i| self.slots[i as usize].key == *key)
            .map(|&i| i as usize)
    }

    /// The value for `key`, marked as recently used.
    pub fn get(&self, key: &K) -> Option<&V> {
        let slot = &self.slots[self.find(key)?];
        // Only the sweep reads it: no ordering needed, and skip the store when already set
        // so a hot entry's line is not written on every hit.
        if !slot.used.load(Ordering::Relaxed) {
            slot.used.store(true, Ordering::Relaxed);
        }
        slot.value.as_ref()
    }

    /// The value for `key`, for an update in place (not marked as used).
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let i = self.find(key)?;
        self.slots[i].value.as_mut()
    }

    /// Inserts or replaces. When a new key finds the map full, the entry the hand stops
    /// at is evicted and returned.
    pub fn insert(&mut self, key: K, value: V) -> Option<(K, V)> {
        if self.capacity == 0 {
            return None;
        }
        if let Some(i) = self.find(&key) {
            let slot = &mut self.slots[i];
            slot.value = Some(value);
            *slot.used.get_mut() = true;
            return None;
        }
        let evicted = if self.len() >= self.capacity {
            self.evict_one()
        } else {
            None
        };
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    key,
                    used: AtomicBool::new(true),
                    value: Some(value),
                });
                let i = (self.slots.len() - 1) as u32;
                self.link(i);
                return evicted;
            }
        };
        let slot = &mut self.slots[i as usize];
        slot.key = key;
        slot.value = Some(value);
        *slot.used.get_mut() = true;
        self.link(i);
        evicted
    }

    fn link(&mut self, i: u32) {
        let hash = self.hasher.hash_one(&self.slots[i as usize].key);
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index
            .insert_unique(hash, i, |&j| hasher.hash_one(&slots[j as usize].key));
    }

    /// Unlinks occupied slot `i` and frees it, returning its key and value.
    fn unlink(&mut self, i: usize) -> Option<(K, V)> {
        let value = self.slots[i].value.take()?;
        let hash = self.hasher.hash_one(&self.slots[i].key);
        if let Ok(entry) = self.index.find_entry(hash, |&j| j as usize == i) {
            entry.remove();
        }
        self.free.push(i as u32);
        Some((self.slots[i].key.clone(), value))
    }

    /// Moves the hand to the first occupied slot without its "used" bit, clearing the bits
    /// it passes, and evicts that slot. Two turns at most: the first clears every bit.
    fn evict_one(&mut self) -> Option<(K, V)> {
        let n = self.slots.len();
        for _ in 0..2 * n {
            let i = self.hand % n;
            self.hand = (i + 1) % n;
            let slot = &mut self.slots[i];
            if slot.value.is_none() {
                continue;
            }
            if std::mem::replace(slot.used.get_mut(), false) {
                continue;
            }
            return self.unlink(i);
        }
        None
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let hash = self.hasher.hash_one(key);
        let slots = &self.slots;
        let entry = self
            .index
            .find_entry(hash, |&i| slots[i as usize].key == *key)
            .ok()?;
        let (i, _) = entry.remove();
        self.free.push(i);
        self.slots[i as usize].value.take()
    }

    /// Keeps the entries for which `keep` is true; returns how many went.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) -> usize {
        let mut dropped = 0;
        for i in 0..self.slots.len() {
            let slot = &mut self.slots[i];
            let Some(v) = slot.value.as_mut() else {
                continue;
            };
            if !keep(&slot.key, v) && self.unlink(i).is_some() {
                dropped += 1;
            }
        }
        dropped
    }

    /// Every entry, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slots
            .iter()
            .filter_map(|s| s.value.as_ref().map(|v| (&s.key, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_map_evicts_one_unused_entry_per_insert_and_reuses_freed_slots() {
        let mut m = ClockMap::new(3);
        for k in 0..3 {
            assert!(m.insert(k, k * 10).is_none());
        }
        assert_eq!(
            m.insert(3, 30),
            Some((0, 0)),
            "all used: a full turn, then the first"
        );
        assert_eq!(m.get(&1), Some(&10), "1 is used again");
        assert_eq!(
            m.insert(4, 40),
            Some((2, 20)),
            "1 was used since the sweep; 2 was not"
        );
        assert_eq!(m.len(), 3);
        assert_eq!(m.insert(1, 11), None, "a replacement evicts nothing");
        assert_eq!(m.get(&1), Some(&11));
        assert_eq!(m.remove(&3), Some(30));
        assert_eq!(m.insert(5, 50), None, "room again");
        assert_eq!(m.retain(|k, _| *k != 4), 1);
        let mut keys: Vec<_> = m.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        assert_eq!(keys, [1, 5]);
        assert_eq!(m.slots.len(), 3, "freed slots are reused, not appended");
        assert!(m.get(&0).is_none() && m.get(&2).is_none() && m.get(&4).is_none());
    }

    #[test]
    fn a_map_of_capacity_zero_holds_nothing() {
        let mut m = ClockMap::new(0);
        assert!(m.insert("k", 1).is_none());
        assert!(m.is_empty() && m.get(&"k").is_none());
    }

    #[test]
    fn counters_add_up_relaxed() {
        let c = Counters::default();
        c.hit();
        c.hit();
        c.miss();
        c.evicted(3);
        assert_eq!(
            c.stats(7, 9),
            CacheStats {
                entries: 7,
                capacity: 9,
                hits: 2,
                misses: 1,
                evictions: 3
            }
        );
    }
}
