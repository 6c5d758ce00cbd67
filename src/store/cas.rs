//! Compare-and-swap writes: the one retry loop every read-modify-write of the account or a user
//! goes through, and the per-row locks that keep those writes from conflicting at all.
//!
//! Why both: the store writes with optimistic concurrency (`*_cas` writes only if the version read
//! is still current). Alone, N concurrent writers of one row make about N²/2 attempts, and a writer
//! can lose every round: 100 concurrent PATCHes of one user used to exhaust 64 attempts and answer
//! 500. So writers of one row first queue on an in-process lock ([`RowLocks`]): on one replica
//! they run one after the other and the compare-and-swap never fails (SQLite has one writer
//! anyway). Across replicas on PostgreSQL the lock holders of each replica still race, so a
//! conflict is retried after a short random (jittered) pause, within a bounded budget. A row lock
//! in the database (`SELECT ... FOR UPDATE`) would serialise replicas too, but it would hold a
//! pooled connection and a transaction open across the handler's validation and, for a password,
//! the Argon2 hash; the in-process lock costs nothing and leaves at most one writer per replica.
//!
//! If the budget ([`Retry`]) still runs out, the caller gets [`Contended`], which handlers answer as
//! `root.write_contention` (409 with `Retry-After`, a retryable conflict: no 5xx), never a 500: the write did not happen and can
//! be retried as is.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Duration;

use rand::Rng;
use tokio::sync::{Mutex, MutexGuard};

/// How many compare-and-swap attempts a write makes before giving up with [`Contended`].
pub const ATTEMPTS: u32 = 64;

/// The longest pause between two attempts (milliseconds); the pause is random up to
/// `min(2^attempt, MAX_PAUSE_MS)`, so replicas that collided do not collide again in lockstep.
const MAX_PAUSE_MS: u64 = 50;

/// The retry budget ran out: other writers kept changing the row. Nothing was written.
#[derive(Debug, thiserror::Error)]
#[error("{what} kept conflicting with concurrent writes")]
pub struct Contended {
    pub what: &'static str,
}

/// A fixed set of async mutexes, one per stripe of row keys. Fixed, so memory does not grow
/// with the number of rows a client touches; striped, so writes of different rows rarely wait
/// on each other. The hash is seeded per process, so a client cannot aim two rows at one stripe.
pub struct RowLocks {
    stripes: Box<[Mutex<()>]>,
    seed: RandomState,
}

impl RowLocks {
    pub fn new(stripes: usize) -> Self {
        RowLocks {
            stripes: (0..stripes.max(1)).map(|_| Mutex::new(())).collect(),
            seed: RandomState::new(),
        }
    }

    /// Waits until no other writer of `key` on this replica holds it.
    pub async fn lock(&self, key: &str) -> MutexGuard<'_, ()> {
        let i = (self.seed.hash_one(key) % self.stripes.len() as u64) as usize;
        self.stripes[i].lock().await
    }
}

impl Default for RowLocks {
    fn default() -> Self {
        RowLocks::new(256)
    }
}

/// One write's retry budget, holding the row lock of its key (when given) until it is dropped.
///
/// Used as a loop: read the row, compute, compare-and-swap; on a lost compare-and-swap call
/// [`Retry::lost`], which pauses before the next attempt or, once the budget is spent, returns
/// [`Contended`]. (A loop rather than a function taking the attempt as an async closure: handler
/// futures must be `Send`, which such a closure cannot promise today.)
pub struct Retry<'a> {
    _guard: Option<MutexGuard<'a, ()>>,
    key: &'a str,
    what: &'static str,
    lost: u32,
}

impl<'a> Retry<'a> {
    /// Waits for the row lock of `key` (if `locks` is given) and starts the budget.
    pub async fn lock(locks: Option<&'a RowLocks>, key: &'a str, what: &'static str) -> Self {
        let _guard = match locks {
            Some(locks) => Some(locks.lock(key).await),
            None => None,
        };
        Retry {
            _guard,
            key,
            what,
            lost: 0,
        }
    }

    /// The compare-and-swap lost to a concurrent write: pause, or give up once the budget is spent.
    pub async fn lost(&mut self) -> Result<(), Contended> {
        self.lost += 1;
        if self.lost >= ATTEMPTS {
            tracing::warn!(
                row = self.key,
                "{} kept conflicting with concurrent writes",
                self.what
            );
            return Err(Contended { what: self.what });
        }
        tokio::time::sleep(pause(self.lost)).await;
        Ok(())
    }
}

fn pause(attempt: u32) -> Duration {
    let cap = (1u64 << attempt.min(6)).min(MAX_PAUSE_MS);
    Duration::from_millis(rand::thread_rng().gen_range(0..=cap))
}

impl crate::domain::error::ErrorCode for Contended {
    fn error_code(&self) -> crate::domain::error::Code {
        crate::domain::error::Code::WriteContention
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gives_up_with_contended_after_the_budget() {
        let mut cas = Retry::lock(None, "k", "test").await;
        for _ in 1..ATTEMPTS {
            assert!(cas.lost().await.is_ok());
        }
        assert!(cas.lost().await.is_err());
    }

    #[tokio::test]
    async fn one_writer_per_key_at_a_time() {
        let locks = RowLocks::new(4);
        let held = Retry::lock(Some(&locks), "user:a", "test").await;
        let waiting = tokio::time::timeout(
            Duration::from_millis(20),
            Retry::lock(Some(&locks), "user:a", "test"),
        );
        assert!(waiting.await.is_err(), "the second writer waits");
        drop(held);
        let _next = Retry::lock(Some(&locks), "user:a", "test").await;
    }

    #[test]
    fn pauses_are_bounded() {
        for n in 0..100 {
            assert!(pause(n) <= Duration::from_millis(MAX_PAUSE_MS));
        }
    }
}
