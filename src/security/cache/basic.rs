//! The Basic-credential part of [`AuthCache`]: verified headers, and one check per header at a
//! time.
//!
//! **Basic credentials** (`Authorization: Basic`): a successful Argon2id verification is
//! remembered for [`BASIC_TTL`], keyed by an HMAC-SHA256 of the whole header value under a random
//! per-process key (the header itself, which holds the password, is never kept). The entry holds
//! the user row the password was verified against, and when that row was last read. A hit whose
//! row was read less than [`LOOKUP_TTL`] ago (and not cleared since, see below) is used as it is;
//! an older hit reads the user row again and is accepted only if the stored `password_hash` is
//! byte-for-byte the cached one and the user is enabled, which refreshes the entry's row. So a
//! password change, a disable or a delete takes effect at once on this replica and within 250 ms
//! on the others, as for tokens and keys. Failures are never cached: a wrong password always
//! costs a full verification (and goes through brute-force protection).
//!
//! After [`BASIC_TTL`] the entry is not used to skip Argon2 any more, but it is kept for
//! [`KNOWN_TTL`] as proof that this replica verified this exact header before: its next check is
//! not a guess, so brute-force protection lets it through even while the user name must wait
//! (see `crate::http::throttle`). Neither a hit nor such a check resets the name's failure counter.
//! Requests with the same header that miss at the same time wait for one check
//! ([`AuthCache::basic_flight`]) instead of each starting its own: a client opening many
//! connections at once costs one Argon2 and one place in the brute-force allowance.

use std::sync::Arc;
use std::time::Instant;

use super::{AuthCache, Digest, Stamp, BASIC_TTL, MAX_ENTRIES};
use crate::domain::model::UserRecord;

/// A verified Basic credential: the user row it was verified against (its `password_hash`), as
/// last read from the store.
#[derive(Clone)]
pub struct VerifiedBasic {
    /// Shared with every caller it authenticates: a hit copies no row.
    pub user: Arc<UserRecord>,
    /// When Argon2 last verified the password; the entry ends [`BASIC_TTL`] after.
    verified_at: Instant,
    /// When `user` was read.
    read: Stamp,
}

/// The one Basic check in flight for a header; others with the same header wait for it.
pub struct BasicFlight<'a> {
    cache: &'a AuthCache,
    key: Digest,
    lock: Option<Arc<tokio::sync::Mutex<()>>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for BasicFlight<'_> {
    fn drop(&mut self) {
        let mut flights = self.cache.flights_map();
        drop(self.guard.take());
        // The map's and ours: nobody else waits for this header.
        if self.lock.take().is_some_and(|l| Arc::strong_count(&l) == 2) {
            flights.remove(&self.key);
        }
    }
}

impl AuthCache {
    /// The cache key of a Basic `Authorization` header value.
    pub fn basic_key(&self, header: &[u8]) -> Digest {
        let tag = ring::hmac::sign(&self.hmac, header);
        tag.as_ref().try_into().expect("HMAC-SHA256 is 32 bytes")
    }

    /// A remembered verification of this header, if Argon2 ran less than [`BASIC_TTL`] ago.
    pub fn basic(&self, key: &Digest) -> Option<VerifiedBasic> {
        let hit = self.basic.get(key)?;
        (hit.verified_at.elapsed() < BASIC_TTL).then_some(hit)
    }

    /// Whether Argon2 verified this header on this replica less than [`KNOWN_TTL`] ago (and no
    /// failed check of it happened since).
    pub fn basic_known(&self, key: &Digest) -> bool {
        self.basic.get(key).is_some()
    }

    /// The user row of a hit, if it was read recently enough to skip reading it again.
    pub fn basic_user(&self, hit: &VerifiedBasic) -> Option<Arc<UserRecord>> {
        self.fresh(&hit.read).then(|| hit.user.clone())
    }

    /// Remembers that the password of this header was just verified against `user` (read at
    /// `read`) by Argon2.
    pub fn put_basic(&self, key: Digest, user: Arc<UserRecord>, read: Stamp) {
        self.store_basic(key, user, Instant::now(), read);
    }

    /// Refreshes the row of a hit that was re-read (at `read`) and still matches; the Argon2
    /// verification it rests on keeps its time.
    pub fn recheck_basic(
        &self,
        key: Digest,
        hit: VerifiedBasic,
        user: Arc<UserRecord>,
        read: Stamp,
    ) {
        self.store_basic(key, user, hit.verified_at, read);
    }

    fn store_basic(&self, key: Digest, user: Arc<UserRecord>, verified_at: Instant, read: Stamp) {
        let entry = VerifiedBasic {
            user,
            verified_at,
            read,
        };
        self.basic.put(key, entry);
    }

    fn flights_map(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<Digest, Arc<tokio::sync::Mutex<()>>>>
    {
        self.flights.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until no other request checks this header, then holds it until the returned value
    /// is dropped. Look the header up again afterwards: the check waited for may have cached it.
    pub async fn basic_flight(&self, key: &Digest) -> BasicFlight<'_> {
        let lock = {
            let mut flights = self.flights_map();
            if flights.len() >= MAX_ENTRIES {
                // Left by waiters that gave up: only entries somebody holds are worth keeping.
                flights.retain(|_, l| Arc::strong_count(l) > 1);
            }
            flights.entry(*key).or_default().clone()
        };
        let guard = lock.clone().lock_owned().await;
        BasicFlight {
            cache: self,
            key: *key,
            lock: Some(lock),
            guard: Some(guard),
        }
    }

    pub fn forget_basic(&self, key: &Digest) {
        self.basic.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::super::LOOKUP_TTL;
    use super::*;

    fn sample_user() -> Arc<UserRecord> {
        Arc::new(UserRecord::new(
            "u",
            String::new(),
            vec![],
            None,
            chrono::Utc::now(),
        ))
    }

    #[test]
    fn basic_keys_are_keyed_hmacs() {
        let (a, b) = (AuthCache::new(), AuthCache::new());
        assert_eq!(a.basic_key(b"Basic eA=="), a.basic_key(b"Basic eA=="));
        assert_ne!(a.basic_key(b"Basic eA=="), a.basic_key(b"Basic eQ=="));
        // A random key per process: nothing to precompute.
        assert_ne!(a.basic_key(b"Basic eA=="), b.basic_key(b"Basic eA=="));
    }

    #[test]
    fn a_basic_row_is_reused_until_stale_or_cleared() {
        let c = AuthCache::new();
        let key = c.basic_key(b"Basic eA==");
        let user = sample_user();
        c.put_basic(key, user.clone(), c.stamp());
        let hit = c.basic(&key).unwrap();
        assert_eq!(c.basic_user(&hit), Some(user.clone()));
        // Cleared on this replica: the row must be read again, but the verification is kept.
        c.clear_lookups();
        let hit = c.basic(&key).unwrap();
        assert!(c.basic_user(&hit).is_none());
        // A row read before a clearing is never trusted, even if it is stored after it.
        let read = c.stamp();
        c.clear_lookups();
        c.recheck_basic(key, hit, user.clone(), read);
        assert!(c.basic_user(&c.basic(&key).unwrap()).is_none());
        // Read after the clearing: trusted again.
        let hit = c.basic(&key).unwrap();
        c.recheck_basic(key, hit, user.clone(), c.stamp());
        assert!(c.basic_user(&c.basic(&key).unwrap()).is_some());
        // Older than LOOKUP_TTL: read again.
        let old = Stamp {
            at: Instant::now() - LOOKUP_TTL,
            generation: c.generation(),
        };
        c.recheck_basic(key, c.basic(&key).unwrap(), user.clone(), old);
        assert!(c.basic_user(&c.basic(&key).unwrap()).is_none());
        // A re-read does not extend the verification itself.
        let mut hit = c.basic(&key).unwrap();
        hit.verified_at = Instant::now() - BASIC_TTL;
        c.recheck_basic(key, hit, user, c.stamp());
        assert!(c.basic(&key).is_none());
        // ...but the header stays known (its next check is not a guess) until forgotten.
        assert!(c.basic_known(&key));
        c.forget_basic(&key);
        assert!(!c.basic_known(&key));
    }

    #[tokio::test]
    async fn one_basic_check_per_header_at_a_time() {
        let c = Arc::new(AuthCache::new());
        let key = c.basic_key(b"Basic eA==");
        let first = c.basic_flight(&key).await;
        let waiter = {
            let c = c.clone();
            tokio::spawn(async move {
                let _second = c.basic_flight(&key).await;
            })
        };
        tokio::task::yield_now().await;
        assert!(
            !waiter.is_finished(),
            "the second check waits for the first"
        );
        // Another header does not wait.
        drop(c.basic_flight(&c.basic_key(b"Basic eQ==")).await);
        drop(first);
        waiter.await.unwrap();
        assert!(c.flights_map().is_empty(), "nothing is left behind");
    }
}
