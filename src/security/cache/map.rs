//! A bounded map of entries that expire after a fixed time, behind a mutex; the storage of
//! [`super::AuthCache`].
//!
//! Bounded by two generations of at most `MAX_ENTRIES / 2` entries each: new entries go into the
//! current one; when it is full it becomes the previous one and the old previous one is dropped
//! whole. An entry found in the previous generation moves back into the current one, so an
//! entry in use survives any number of rotations, and the one dropped is the least recently used
//! half (roughly). Why not drop expired entries when full and everything if none had expired:
//! that walked all 10,000 entries under the lock, and a full map of Basic credentials (kept for
//! 24 h, so none expire) was emptied whole, sending every Basic user back to Argon2. A rotation
//! walks nothing, and the retired half is dropped after the lock is released.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Digest, MAX_ENTRIES};

/// Entries per generation.
const GENERATION: usize = MAX_ENTRIES / 2;

struct Entry<T> {
    value: T,
    at: Instant,
}

type Entries<T> = HashMap<Digest, Entry<T>, foldhash::fast::RandomState>;

struct Generations<T> {
    current: Entries<T>,
    previous: Entries<T>,
}

impl<T> Generations<T> {
    /// Inserts into the current generation; returns the generation retired to make room, for
    /// the caller to drop once the lock is released.
    fn insert(&mut self, key: Digest, entry: Entry<T>) -> Option<Entries<T>> {
        let retired = if self.current.len() >= GENERATION && !self.current.contains_key(&key) {
            let full = std::mem::take(&mut self.current);
            Some(std::mem::replace(&mut self.previous, full))
        } else {
            None
        };
        self.previous.remove(&key);
        self.current.insert(key, entry);
        retired
    }
}

pub(super) struct Map<T> {
    entries: Mutex<Generations<T>>,
    ttl: Duration,
}

impl<T: Clone> Map<T> {
    pub(super) fn new(ttl: Duration) -> Self {
        Map {
            entries: Mutex::new(Generations {
                current: HashMap::default(),
                previous: HashMap::default(),
            }),
            ttl,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations<T>> {
        // A panic while holding the lock cannot leave a half-written entry: keep going.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn get(&self, key: &Digest) -> Option<T> {
        let mut map = self.lock();
        if let Some(e) = map.current.get(key) {
            if e.at.elapsed() < self.ttl {
                return Some(e.value.clone());
            }
            map.current.remove(key);
            return None;
        }
        let e = map.previous.remove(key)?;
        if e.at.elapsed() >= self.ttl {
            return None;
        }
        let value = e.value.clone();
        let retired = map.insert(*key, e);
        drop(map);
        drop(retired);
        Some(value)
    }

    pub(super) fn put(&self, key: Digest, value: T) {
        if self.ttl.is_zero() {
            return; // caching turned off: nothing would ever be served
        }
        let entry = Entry {
            value,
            at: Instant::now(),
        };
        let retired = self.lock().insert(key, entry);
        drop(retired);
    }

    pub(super) fn remove(&self, key: &Digest) {
        let mut map = self.lock();
        map.current.remove(key);
        map.previous.remove(key);
    }

    pub(super) fn clear(&self) {
        let mut map = self.lock();
        let current = std::mem::take(&mut map.current);
        let previous = std::mem::take(&mut map.previous);
        drop(map);
        drop((current, previous));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let map = self.lock();
        map.current.len() + map.previous.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: usize) -> Digest {
        let mut k = [0u8; 32];
        k[..8].copy_from_slice(&(i as u64).to_le_bytes());
        k
    }

    #[test]
    fn entries_expire_and_are_bounded() {
        let m: Map<u32> = Map::new(Duration::from_millis(30));
        m.put([1; 32], 1);
        assert_eq!(m.get(&[1; 32]), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(m.get(&[1; 32]), None);
        for i in 0..3 * MAX_ENTRIES + 5 {
            m.put(key(i), 0);
            assert!(m.len() <= MAX_ENTRIES);
        }
    }

    #[test]
    fn an_entry_in_use_survives_rotations() {
        let m: Map<u32> = Map::new(Duration::from_secs(60));
        m.put(key(0), 7);
        for i in 1..5 * MAX_ENTRIES {
            m.put(key(i), 0);
            if i % (GENERATION / 2) == 0 {
                assert_eq!(m.get(&key(0)), Some(7), "after {i} other entries");
            }
        }
        // One not read again is gone after two rotations.
        assert_eq!(m.get(&key(1)), None);
    }

    #[test]
    fn removed_and_cleared_entries_are_gone_from_both_generations() {
        let m: Map<u32> = Map::new(Duration::from_secs(60));
        for i in 0..GENERATION + 10 {
            m.put(key(i), 1);
        }
        m.remove(&key(0)); // in the previous generation now
        m.remove(&key(GENERATION + 1)); // in the current one
        assert_eq!(m.get(&key(0)), None);
        assert_eq!(m.get(&key(GENERATION + 1)), None);
        assert_eq!(m.get(&key(5)), Some(1));
        m.clear();
        assert_eq!(m.len(), 0);
        assert_eq!(m.get(&key(5)), None);
    }
}
