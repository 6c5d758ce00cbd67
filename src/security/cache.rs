//! A small per-replica cache in front of credential checks and the account, with bounded
//! staleness.
//!
//! **Basic credentials** (`Authorization: Basic`): see [`basic`]. A verified header skips
//! Argon2 for [`BASIC_TTL`]; the user row it rests on is re-read after [`LOOKUP_TTL`].
//!
//! **Bearer tokens and API keys**: the store's answer to `find_token` / `find_api_key` is reused
//! for at most [`LOOKUP_TTL`] (250 ms), keyed by the SHA-256 digest the store is queried with. The
//! cached token, session, key and user go through exactly the checks a fresh answer does (expiry,
//! revocation flag, grace period, user enabled), evaluated at the time of each request.
//!
//! **The account** (`GET /account`): the serialized reply is reused for at most [`LOOKUP_TTL`].
//! Writes (`PUT`/`PATCH /account`) always read the stored account, never this copy.
//!
//! Staleness of all of them:
//! - a change done **on another replica** (logout, key deletion, user disabled or deleted,
//!   password change, role removal, account update) or by the `ece-server user` command takes
//!   effect here within 250 ms (revocations must reach every replica within 1 s);
//! - **on this replica**, every successful request that may change something (the operations
//!   whose `cache` column in `crate::domain::rbac` is `Clear`: every write but login, refresh and
//!   key creation) clears the cache before its reply is sent, so it takes effect at once. It also bumps a generation counter: a store read that
//!   was in flight across the clearing is not stored (or, for Basic, not trusted without a new
//!   read), so it cannot bring back what was cleared.
//!
//! Failed lookups (unknown token or key) are not cached. The maps are bounded ([`MAX_ENTRIES`]):
//! when one is full, the half least recently used is dropped (see [`map`]).

mod basic;
mod map;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use rand::rngs::OsRng;
use rand::RngCore;

use crate::store::{KeyLookup, TokenLookup};
pub use basic::{BasicFlight, VerifiedBasic};
use map::Map;

/// A cache key: a SHA-256 digest (as the store keeps it) or an HMAC-SHA256.
pub use crate::domain::model::Digest;

/// How long a verified Basic credential skips Argon2 (its user row is re-read after
/// [`LOOKUP_TTL`]).
pub const BASIC_TTL: Duration = Duration::from_secs(30);
/// How long a verified Basic credential is remembered as known (not a guess) after its last
/// Argon2 verification.
pub const KNOWN_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a store answer (token, key, Basic user row, account) is reused by default
/// (`--credential-cache-ms`).
pub const LOOKUP_TTL: Duration = Duration::from_millis(250);
/// Most entries per map.
pub const MAX_ENTRIES: usize = 10_000;

/// When a store read started: taken just before the read, so that its answer counts as fresh
/// for [`LOOKUP_TTL`] from then, and only while the cache has not been cleared since.
#[derive(Clone, Copy, Debug)]
pub struct Stamp {
    at: Instant,
    generation: u64,
}

/// The cache; one per running server (the HTTP layer holds it in its state).
pub struct AuthCache {
    /// HMAC-SHA256 keyed with a random per-process key (ring keeps the keyed inner and outer
    /// states, so a header costs no keying, and hashes with the same code as `crypto::digest`).
    hmac: ring::hmac::Key,
    basic: Map<VerifiedBasic>,
    /// Shared, so that a hit costs a reference count, not a copy of the lookup.
    tokens: Map<Arc<TokenLookup>>,
    keys: Map<Arc<KeyLookup>>,
    /// The serialized `GET /account` reply and when the account was read.
    account: Mutex<Option<(Stamp, Bytes)>>,
    /// Bumped whenever the cache is cleared; a store answer read under an older generation is
    /// not stored, or not trusted.
    generation: AtomicU64,
    /// How long a store answer is reused ([`LOOKUP_TTL`] unless configured; zero: never).
    lookup_ttl: Duration,
    /// Basic checks in flight, by header key (see [`AuthCache::basic_flight`]).
    flights: Mutex<std::collections::HashMap<Digest, Arc<tokio::sync::Mutex<()>>>>,
}

impl Default for AuthCache {
    fn default() -> Self {
        Self::new()
    }
}

impl AuthCache {
    pub fn new() -> Self {
        Self::with_lookup_ttl(LOOKUP_TTL)
    }

    /// A cache that reuses store answers for `lookup_ttl` (zero: never).
    pub fn with_lookup_ttl(lookup_ttl: Duration) -> Self {
        let mut hmac_key = [0u8; 32];
        OsRng.fill_bytes(&mut hmac_key);
        AuthCache {
            hmac: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &hmac_key),
            basic: Map::new(KNOWN_TTL),
            tokens: Map::new(lookup_ttl),
            keys: Map::new(lookup_ttl),
            account: Mutex::new(None),
            generation: AtomicU64::new(0),
            lookup_ttl,
            flights: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The current generation; pass it back to `put_token`/`put_api_key` after the store answered.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Take this just before a store read whose answer is to be cached.
    pub fn stamp(&self) -> Stamp {
        Stamp {
            at: Instant::now(),
            generation: self.generation(),
        }
    }

    /// Whether an answer read at `read` may still be used instead of reading again.
    fn fresh(&self, read: &Stamp) -> bool {
        read.at.elapsed() < self.lookup_ttl && read.generation == self.generation()
    }

    pub fn token(&self, digest: &Digest) -> Option<Arc<TokenLookup>> {
        self.tokens.get(digest)
    }

    pub fn put_token(&self, digest: &Digest, found: TokenLookup, generation: u64) {
        self.put_lookup(&self.tokens, digest, Arc::new(found), generation);
    }

    /// Forgets one bearer token (replaced by a refresh on this replica).
    pub fn forget_token(&self, digest: &Digest) {
        self.tokens.remove(digest);
    }

    pub fn api_key(&self, digest: &Digest) -> Option<Arc<KeyLookup>> {
        self.keys.get(digest)
    }

    pub fn put_api_key(&self, digest: &Digest, found: KeyLookup, generation: u64) {
        self.put_lookup(&self.keys, digest, Arc::new(found), generation);
    }

    /// The cached lookup of token `digest`, or `load`'s answer, stored unless the cache was
    /// cleared while it ran.
    pub async fn token_or_load<E, Fut>(
        &self,
        digest: &Digest,
        load: impl FnOnce() -> Fut,
    ) -> Result<Option<Arc<TokenLookup>>, E>
    where
        Fut: std::future::Future<Output = Result<Option<TokenLookup>, E>>,
    {
        self.get_or_load(&self.tokens, digest, load).await
    }

    /// [`token_or_load`](Self::token_or_load) for an API key.
    pub async fn api_key_or_load<E, Fut>(
        &self,
        digest: &Digest,
        load: impl FnOnce() -> Fut,
    ) -> Result<Option<Arc<KeyLookup>>, E>
    where
        Fut: std::future::Future<Output = Result<Option<KeyLookup>, E>>,
    {
        self.get_or_load(&self.keys, digest, load).await
    }

    async fn get_or_load<T, E, Fut>(
        &self,
        map: &Map<Arc<T>>,
        digest: &Digest,
        load: impl FnOnce() -> Fut,
    ) -> Result<Option<Arc<T>>, E>
    where
        Fut: std::future::Future<Output = Result<Option<T>, E>>,
    {
        if let Some(hit) = map.get(digest) {
            return Ok(Some(hit));
        }
        let generation = self.generation();
        let Some(found) = load().await? else {
            return Ok(None);
        };
        let found = Arc::new(found);
        self.put_lookup(map, digest, found.clone(), generation);
        Ok(Some(found))
    }

    /// Stores a token or key lookup that started under `generation`, unless the cache was
    /// cleared meanwhile (what the store said may predate the clearing).
    fn put_lookup<T: Clone>(&self, map: &Map<T>, digest: &Digest, found: T, generation: u64) {
        map.put(*digest, found);
        if self.generation() != generation {
            map.remove(digest);
        }
    }

    fn account_slot(&self) -> std::sync::MutexGuard<'_, Option<(Stamp, Bytes)>> {
        self.account.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The serialized `GET /account` reply, if the account was read recently enough.
    pub fn account(&self) -> Option<Bytes> {
        match &*self.account_slot() {
            Some((read, body)) if self.fresh(read) => Some(body.clone()),
            _ => None,
        }
    }

    /// Stores the `GET /account` reply built from an account read at `read`, unless the cache
    /// was cleared since (checked under the slot's lock, which the clearing takes after bumping
    /// the generation, so the clearing always wins).
    pub fn put_account(&self, body: Bytes, read: Stamp) {
        let mut slot = self.account_slot();
        if read.generation == self.generation() {
            *slot = Some((read, body));
        }
    }

    /// Forgets every bearer token and API key lookup and the account, and makes every Basic
    /// entry read its user row again (they are kept: the re-read checks them against the row).
    pub fn clear_lookups(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.tokens.clear();
        self.keys.clear();
        *self.account_slot() = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_ttl_reuses_nothing() {
        let c = AuthCache::with_lookup_ttl(Duration::ZERO);
        let digest = crate::security::crypto::digest("t");
        c.put_token(&digest, sample_token(), c.generation());
        assert!(c.token(&digest).is_none());
        assert!(!c.fresh(&c.stamp()));
    }

    #[test]
    fn clearing_discards_lookups_started_before() {
        let c = AuthCache::new();
        let digest = crate::security::crypto::digest("t");
        let g = c.generation();
        c.clear_lookups();
        // A lookup that started before the clear must not be stored.
        let found = sample_token();
        c.put_token(&digest, found.clone(), g);
        assert!(c.token(&digest).is_none());
        c.put_token(&digest, found, c.generation());
        assert!(c.token(&digest).is_some());
    }

    #[test]
    fn the_account_is_reused_until_stale_or_cleared() {
        let c = AuthCache::new();
        assert!(c.account().is_none());
        c.put_account(Bytes::from_static(b"{}"), c.stamp());
        assert_eq!(c.account().as_deref(), Some(&b"{}"[..]));
        c.clear_lookups();
        assert!(c.account().is_none());
        // Read before a clearing, stored after it: not stored.
        let read = c.stamp();
        c.clear_lookups();
        c.put_account(Bytes::from_static(b"{}"), read);
        assert!(c.account().is_none());
        let old = Stamp {
            at: Instant::now() - LOOKUP_TTL,
            generation: c.generation(),
        };
        c.put_account(Bytes::from_static(b"{}"), old);
        assert!(c.account().is_none());
    }

    fn sample_token() -> TokenLookup {
        use crate::domain::model::{SessionRecord, TokenRecord, UserRecord};
        let now = chrono::Utc::now();
        TokenLookup {
            token: TokenRecord {
                token_hash: [0; 32],
                session_id: "s".into(),
                valid_until: None,
            },
            session: SessionRecord {
                id: "s".into(),
                user_name: "u".into(),
                created_at: now,
                idle_expires_at: now,
                absolute_expires_at: now,
                revoked: false,
            },
            user: UserRecord::new("u", String::new(), vec![], None, now).into(),
        }
    }
}
