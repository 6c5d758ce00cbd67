//! A bounded map of entries that expire after a fixed time, behind a mutex; the storage of
//! [`super::AuthCache`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Digest, MAX_ENTRIES};

struct Entry<T> {
    value: T,
    at: Instant,
}

pub(super) struct Map<T> {
    entries: Mutex<HashMap<Digest, Entry<T>, foldhash::fast::RandomState>>,
    ttl: Duration,
}

impl<T: Clone> Map<T> {
    pub(super) fn new(ttl: Duration) -> Self {
        Map {
            entries: Mutex::new(HashMap::default()),
            ttl,
        }
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<Digest, Entry<T>, foldhash::fast::RandomState>> {
        // A panic while holding the lock cannot leave a half-written entry: keep going.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn get(&self, key: &Digest) -> Option<T> {
        let mut map = self.lock();
        match map.get(key) {
            Some(e) if e.at.elapsed() < self.ttl => Some(e.value.clone()),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    pub(super) fn put(&self, key: Digest, value: T) {
        if self.ttl.is_zero() {
            return; // caching turned off: nothing would ever be served
        }
        let mut map = self.lock();
        if map.len() >= MAX_ENTRIES && !map.contains_key(&key) {
            let ttl = self.ttl;
            map.retain(|_, e| e.at.elapsed() < ttl);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(
            key,
            Entry {
                value,
                at: Instant::now(),
            },
        );
    }

    pub(super) fn remove(&self, key: &Digest) {
        self.lock().remove(key);
    }

    pub(super) fn clear(&self) {
        self.lock().clear();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_are_bounded() {
        let m: Map<u32> = Map::new(Duration::from_millis(30));
        m.put([1; 32], 1);
        assert_eq!(m.get(&[1; 32]), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(m.get(&[1; 32]), None);
        for i in 0..MAX_ENTRIES + 5 {
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&(i as u64).to_le_bytes());
            m.put(k, 0);
        }
        assert!(m.len() <= MAX_ENTRIES);
    }
}
