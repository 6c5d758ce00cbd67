//! A small per-replica cache in front of credential checks and the account, with bounded
//! staleness.
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
//! Failed lookups (unknown token or key) are not cached. The maps are bounded ([`MAX_ENTRIES`]);
//! when one is full, expired entries are dropped, and if that is not enough, all of them.

mod map;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;

use crate::domain::model::UserRecord;
use crate::store::{KeyLookup, TokenLookup};
use map::Map;

/// A cache key: a SHA-256 digest or an HMAC-SHA256.
pub type Digest = [u8; 32];

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

/// A verified Basic credential: the user row it was verified against (its `password_hash`), as
/// last read from the store.
#[derive(Clone)]
pub struct VerifiedBasic {
    /// Shared, so that a hit costs one copy of the row (for the caller), not two.
    pub user: Arc<UserRecord>,
    /// When Argon2 last verified the password; the entry ends [`BASIC_TTL`] after.
    verified_at: Instant,
    /// When `user` was read.
    read: Stamp,
}

/// The cache; one per running server (the HTTP layer holds it in its state).
pub struct AuthCache {
    /// HMAC-SHA256 keyed with a random per-process key, cloned for each header (keying it again
    /// would cost two more SHA-256 blocks per request).
    hmac: Hmac<Sha256>,
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
            hmac: <Hmac<Sha256> as Mac>::new_from_slice(&hmac_key)
                .expect("HMAC takes any key size"),
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

    /// The cache key of a Basic `Authorization` header value.
    pub fn basic_key(&self, header: &[u8]) -> Digest {
        let mut mac = self.hmac.clone();
        mac.update(header);
        mac.finalize().into_bytes().into()
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
    pub fn basic_user<'a>(&self, hit: &'a VerifiedBasic) -> Option<&'a UserRecord> {
        self.fresh(&hit.read).then_some(&*hit.user)
    }

    /// Remembers that the password of this header was just verified against `user` (read at
    /// `read`) by Argon2.
    pub fn put_basic(&self, key: Digest, user: UserRecord, read: Stamp) {
        self.store_basic(key, user, Instant::now(), read);
    }

    /// Refreshes the row of a hit that was re-read (at `read`) and still matches; the Argon2
    /// verification it rests on keeps its time.
    pub fn recheck_basic(&self, key: Digest, hit: VerifiedBasic, user: UserRecord, read: Stamp) {
        self.store_basic(key, user, hit.verified_at, read);
    }

    fn store_basic(&self, key: Digest, user: UserRecord, verified_at: Instant, read: Stamp) {
        let entry = VerifiedBasic {
            user: Arc::new(user),
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

    pub fn token(&self, digest_hex: &str) -> Option<Arc<TokenLookup>> {
        self.tokens.get(&parse_digest(digest_hex)?)
    }

    pub fn put_token(&self, digest_hex: &str, found: TokenLookup, generation: u64) {
        self.put_lookup(&self.tokens, digest_hex, Arc::new(found), generation);
    }

    /// Forgets one bearer token (replaced by a refresh on this replica).
    pub fn forget_token(&self, digest_hex: &str) {
        if let Some(key) = parse_digest(digest_hex) {
            self.tokens.remove(&key);
        }
    }

    pub fn api_key(&self, digest_hex: &str) -> Option<Arc<KeyLookup>> {
        self.keys.get(&parse_digest(digest_hex)?)
    }

    pub fn put_api_key(&self, digest_hex: &str, found: KeyLookup, generation: u64) {
        self.put_lookup(&self.keys, digest_hex, Arc::new(found), generation);
    }

    /// The cached lookup of token `digest_hex`, or `load`'s answer, stored unless the cache was
    /// cleared while it ran.
    pub async fn token_or_load<E, Fut>(
        &self,
        digest_hex: &str,
        load: impl FnOnce() -> Fut,
    ) -> Result<Option<Arc<TokenLookup>>, E>
    where
        Fut: std::future::Future<Output = Result<Option<TokenLookup>, E>>,
    {
        self.get_or_load(&self.tokens, digest_hex, load).await
    }

    /// [`token_or_load`](Self::token_or_load) for an API key.
    pub async fn api_key_or_load<E, Fut>(
        &self,
        digest_hex: &str,
        load: impl FnOnce() -> Fut,
    ) -> Result<Option<Arc<KeyLookup>>, E>
    where
        Fut: std::future::Future<Output = Result<Option<KeyLookup>, E>>,
    {
        self.get_or_load(&self.keys, digest_hex, load).await
    }

    async fn get_or_load<T, E, Fut>(
        &self,
        map: &Map<Arc<T>>,
        digest_hex: &str,
        load: impl FnOnce() -> Fut,
    ) -> Result<Option<Arc<T>>, E>
    where
        Fut: std::future::Future<Output = Result<Option<T>, E>>,
    {
        if let Some(hit) = parse_digest(digest_hex).and_then(|key| map.get(&key)) {
            return Ok(Some(hit));
        }
        let generation = self.generation();
        let Some(found) = load().await? else {
            return Ok(None);
        };
        let found = Arc::new(found);
        self.put_lookup(map, digest_hex, found.clone(), generation);
        Ok(Some(found))
    }

    /// Stores a token or key lookup that started under `generation`, unless the cache was
    /// cleared meanwhile (what the store said may predate the clearing).
    fn put_lookup<T: Clone>(&self, map: &Map<T>, digest_hex: &str, found: T, generation: u64) {
        if let Some(key) = parse_digest(digest_hex) {
            map.put(key, found);
            if self.generation() != generation {
                map.remove(&key);
            }
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

fn parse_digest(hex_digest: &str) -> Option<Digest> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_keys_are_keyed_hmacs() {
        let (a, b) = (AuthCache::new(), AuthCache::new());
        assert_eq!(a.basic_key(b"Basic eA=="), a.basic_key(b"Basic eA=="));
        assert_ne!(a.basic_key(b"Basic eA=="), a.basic_key(b"Basic eQ=="));
        // A random key per process: nothing to precompute.
        assert_ne!(a.basic_key(b"Basic eA=="), b.basic_key(b"Basic eA=="));
    }

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
    fn a_basic_row_is_reused_until_stale_or_cleared() {
        let c = AuthCache::new();
        let key = c.basic_key(b"Basic eA==");
        let user = sample_token().user;
        c.put_basic(key, user.clone(), c.stamp());
        let hit = c.basic(&key).unwrap();
        assert_eq!(c.basic_user(&hit), Some(&user));
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
                token_hash: "x".into(),
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
            user: UserRecord::new("u", String::new(), vec![], None, now),
        }
    }
}
