//! A small per-replica cache in front of credential checks, with bounded staleness.
//!
//! **Basic credentials** (`Authorization: Basic`): a successful Argon2id verification is
//! remembered for [`BASIC_TTL`], keyed by an HMAC-SHA256 of the whole header value under a random
//! per-process key (the header itself, which holds the password, is never kept). The entry holds
//! the user name and the password hash the password was verified against. A hit still reads the
//! user row and is accepted only if the stored `password_hash` is byte-for-byte the cached one and
//! the user is enabled, so a password change, a disable or a delete — on any replica, with no
//! message between replicas — takes effect on the very next request. Failures are never cached:
//! a wrong password always costs a full verification (and goes through brute-force protection).
//!
//! **Bearer tokens and API keys**: the store's answer to `find_token` / `find_api_key` is reused
//! for at most [`LOOKUP_TTL`] (250 ms), keyed by the SHA-256 digest the store is queried with. The
//! cached token, session, key and user go through exactly the checks a fresh answer does (expiry,
//! revocation flag, grace period, user enabled), evaluated at the time of each request. Staleness:
//! - a revocation done **on another replica** (logout, key deletion, user disabled or deleted,
//!   password change, role removal) or by the `ece-server user` command takes effect here within
//!   250 ms (issue 4 requires within 1 s);
//! - **on this replica**, every successful request that may revoke something (any method but
//!   GET/HEAD/OPTIONS, except login, refresh and key creation) clears the cache before its reply
//!   is sent, so it takes effect at once. Lookups that were in flight across such a request are
//!   not stored (a generation counter), so they cannot bring back what was cleared.
//!
//! Failed lookups (unknown token or key) are not cached. Both maps are bounded ([`MAX_ENTRIES`]);
//! when one is full, expired entries are dropped, and if that is not enough, all of them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;

use crate::store::{KeyLookup, TokenLookup};

/// How long a verified Basic credential skips Argon2 (the user row is still read every time).
pub const BASIC_TTL: Duration = Duration::from_secs(30);
/// How long a bearer token or API key lookup is reused.
pub const LOOKUP_TTL: Duration = Duration::from_millis(250);
/// Most entries per map.
pub const MAX_ENTRIES: usize = 10_000;

type Digest = [u8; 32];

struct Entry<T> {
    value: T,
    at: Instant,
}

struct Map<T> {
    entries: Mutex<HashMap<Digest, Entry<T>>>,
    ttl: Duration,
}

impl<T: Clone> Map<T> {
    fn new(ttl: Duration) -> Self {
        Map {
            entries: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Digest, Entry<T>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, key: &Digest) -> Option<T> {
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

    fn put(&self, key: Digest, value: T) {
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

    fn remove(&self, key: &Digest) {
        self.lock().remove(key);
    }

    fn clear(&self) {
        self.lock().clear();
    }
}

/// A verified Basic credential: who, and against which stored hash.
#[derive(Clone)]
pub struct VerifiedBasic {
    pub user_name: String,
    pub password_hash: String,
}

/// The cache; one per [`crate::app::AppState`].
pub struct AuthCache {
    hmac_key: [u8; 32],
    basic: Map<VerifiedBasic>,
    tokens: Map<TokenLookup>,
    keys: Map<KeyLookup>,
    /// Bumped whenever the lookup maps are cleared; a lookup that started under an older
    /// generation is not stored.
    generation: AtomicU64,
}

impl Default for AuthCache {
    fn default() -> Self {
        Self::new()
    }
}

impl AuthCache {
    pub fn new() -> Self {
        let mut hmac_key = [0u8; 32];
        OsRng.fill_bytes(&mut hmac_key);
        AuthCache {
            hmac_key,
            basic: Map::new(BASIC_TTL),
            tokens: Map::new(LOOKUP_TTL),
            keys: Map::new(LOOKUP_TTL),
            generation: AtomicU64::new(0),
        }
    }

    /// The cache key of a Basic `Authorization` header value.
    pub fn basic_key(&self, header: &[u8]) -> Digest {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.hmac_key).expect("HMAC takes any key size");
        mac.update(header);
        mac.finalize().into_bytes().into()
    }

    pub fn basic(&self, key: &Digest) -> Option<VerifiedBasic> {
        self.basic.get(key)
    }

    pub fn put_basic(&self, key: Digest, verified: VerifiedBasic) {
        self.basic.put(key, verified);
    }

    pub fn forget_basic(&self, key: &Digest) {
        self.basic.remove(key);
    }

    /// The current generation; pass it back to `put_*` after the store answered.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn token(&self, digest_hex: &str) -> Option<TokenLookup> {
        self.tokens.get(&parse_digest(digest_hex)?)
    }

    pub fn put_token(&self, digest_hex: &str, found: TokenLookup, generation: u64) {
        if let Some(key) = parse_digest(digest_hex) {
            self.tokens.put(key, found);
            // Cleared meanwhile: what we just stored may predate the clearing.
            if self.generation() != generation {
                self.tokens.remove(&key);
            }
        }
    }

    /// Forgets one bearer token (replaced by a refresh on this replica).
    pub fn forget_token(&self, digest_hex: &str) {
        if let Some(key) = parse_digest(digest_hex) {
            self.tokens.remove(&key);
        }
    }

    pub fn api_key(&self, digest_hex: &str) -> Option<KeyLookup> {
        self.keys.get(&parse_digest(digest_hex)?)
    }

    pub fn put_api_key(&self, digest_hex: &str, found: KeyLookup, generation: u64) {
        if let Some(key) = parse_digest(digest_hex) {
            self.keys.put(key, found);
            if self.generation() != generation {
                self.keys.remove(&key);
            }
        }
    }

    /// Forgets every bearer token and API key lookup (not the Basic entries: they are re-checked
    /// against the user row on every use anyway).
    pub fn clear_lookups(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.tokens.clear();
        self.keys.clear();
    }

    /// Whether a successful request may have revoked a credential, so the lookups must be cleared.
    pub fn may_revoke(method: &axum::http::Method, path: &str) -> bool {
        use axum::http::Method;
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return false;
        }
        let path = path.trim_end_matches('/');
        !(path.ends_with("/users/auth/_login")
            || path.ends_with("/users/auth/_refresh")
            || (*method == Method::POST && path.ends_with("/users/auth/keys")))
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
    use axum::http::Method;

    #[test]
    fn basic_keys_are_keyed_hmacs() {
        let (a, b) = (AuthCache::new(), AuthCache::new());
        assert_eq!(a.basic_key(b"Basic eA=="), a.basic_key(b"Basic eA=="));
        assert_ne!(a.basic_key(b"Basic eA=="), a.basic_key(b"Basic eQ=="));
        // A random key per process: nothing to precompute.
        assert_ne!(a.basic_key(b"Basic eA=="), b.basic_key(b"Basic eA=="));
    }

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
        assert!(m.lock().len() <= MAX_ENTRIES);
    }

    #[test]
    fn which_requests_clear_the_lookups() {
        assert!(!AuthCache::may_revoke(&Method::GET, "/api/v1/users"));
        assert!(!AuthCache::may_revoke(
            &Method::POST,
            "/api/v1/users/auth/_login"
        ));
        assert!(!AuthCache::may_revoke(
            &Method::POST,
            "/api/v1/users/auth/_refresh"
        ));
        assert!(!AuthCache::may_revoke(
            &Method::POST,
            "/api/v1/users/auth/keys"
        ));
        assert!(AuthCache::may_revoke(
            &Method::POST,
            "/api/v1/users/auth/_logout"
        ));
        assert!(AuthCache::may_revoke(
            &Method::DELETE,
            "/api/v1/users/auth/keys"
        ));
        assert!(AuthCache::may_revoke(
            &Method::DELETE,
            "/api/v1/users/auth/keys/abc"
        ));
        assert!(AuthCache::may_revoke(&Method::PATCH, "/api/v1/users/jane"));
        assert!(AuthCache::may_revoke(&Method::PATCH, "/api/v1/user"));
        assert!(AuthCache::may_revoke(
            &Method::DELETE,
            "/api/v1/users/jane/role_assignments"
        ));
        assert!(AuthCache::may_revoke(
            &Method::POST,
            "/api/v1/users/jane/role_assignments"
        ));
    }

    #[test]
    fn clearing_discards_lookups_started_before() {
        let c = AuthCache::new();
        let digest = crate::crypto::digest("t");
        let g = c.generation();
        c.clear_lookups();
        // A lookup that started before the clear must not be stored.
        let found = sample_token();
        c.put_token(&digest, found.clone(), g);
        assert!(c.token(&digest).is_none());
        c.put_token(&digest, found, c.generation());
        assert!(c.token(&digest).is_some());
    }

    fn sample_token() -> TokenLookup {
        use crate::model::{SessionRecord, TokenRecord, UserRecord};
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
