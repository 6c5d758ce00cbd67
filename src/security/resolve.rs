//! Who is calling, for the two schemes that are a lookup: a bearer token and an API key, each
//! resolved through the credential cache (one store read per credential and replica while the
//! cache is fresh). The `*_cached` functions answer from the cache alone, without awaiting, so
//! that a hit costs no future of its own (`crate::http::pipeline`). Basic credentials also go through brute-force protection
//! and Argon2; their HTTP side is `crate::http::basic`.

use std::sync::Arc;

use crate::domain::model::{Digest, Timestamp, UserRecord};
use crate::domain::roles::Role;
use crate::security::cache::AuthCache;
use crate::security::crypto;
use crate::store::{token_usable, KeyLookup, Store, StoreResult, TokenLookup};

/// A caller's roles, without a heap allocation.
pub type Roles = smallvec::SmallVec<[Role; 4]>;

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Method {
    Password,
    /// The key's row and its owner, shared with the credential cache (not copied per request).
    ApiKey {
        key: Arc<KeyLookup>,
    },
    /// The token's row and its session, shared as for a key. `expires_at`: the earlier of the
    /// token's and the session's ends.
    Bearer {
        token: Arc<TokenLookup>,
        expires_at: Timestamp,
    },
}

impl Method {
    /// The session of a bearer token.
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Method::Bearer { token, .. } => Some(&token.session.id),
            _ => None,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user's row as the credential cache holds it: shared, not copied per request.
    pub user: Arc<UserRecord>,
    /// The roles in force for this request (an API key may carry fewer than its owner). Inline:
    /// there are four roles, and a request should not allocate for them.
    pub roles: Roles,
    pub method: Method,
    /// The client's IP address, for the audit log.
    pub source: Option<std::net::IpAddr>,
}

impl Caller {
    /// A caller authenticated by its password: the user's own roles.
    pub fn by_password(user: Arc<UserRecord>, source: Option<std::net::IpAddr>) -> Caller {
        Caller {
            roles: Roles::from_slice(&user.roles),
            user,
            method: Method::Password,
            source,
        }
    }
}

/// A bearer token whose SHA-256 is `hash`, answered from the credential cache alone: `None`
/// when the cache does not hold it (ask [`bearer`]), `Some(None)` when it is not usable.
pub fn bearer_cached(
    cache: &AuthCache,
    now: Timestamp,
    hash: &Digest,
    source: Option<std::net::IpAddr>,
) -> Option<Option<Caller>> {
    let found = cache.token(hash)?;
    Some(bearer_caller(found, hash, now, source))
}

/// A bearer token whose SHA-256 is `hash`: its session must be live at `now` and the token
/// current (or in its grace period). `Ok(None)`: wrong, expired or revoked.
pub async fn bearer(
    store: &dyn Store,
    cache: &AuthCache,
    now: Timestamp,
    hash: &Digest,
    source: Option<std::net::IpAddr>,
) -> StoreResult<Option<Caller>> {
    let found = cache.token_or_load(hash, || store.find_token(hash)).await?;
    Ok(found.and_then(|found| bearer_caller(found, hash, now, source)))
}

fn bearer_caller(
    found: Arc<TokenLookup>,
    hash: &Digest,
    now: Timestamp,
    source: Option<std::net::IpAddr>,
) -> Option<Caller> {
    if !crypto::digests_eq(&found.token.token_hash, hash)
        || !token_usable(&found.token, &found.session, now)
        || !found.user.enabled
    {
        return None;
    }
    let expires_at = found
        .token
        .valid_until
        .map_or(found.session.expires_at(), |t| {
            t.min(found.session.expires_at())
        });
    Some(Caller {
        user: found.user.clone(),
        roles: Roles::from_slice(&found.user.roles),
        method: Method::Bearer {
            token: found,
            expires_at,
        },
        source,
    })
}

/// [`bearer_cached`] for an API key.
pub fn api_key_cached(
    cache: &AuthCache,
    now: Timestamp,
    hash: &Digest,
    source: Option<std::net::IpAddr>,
) -> Option<Option<Caller>> {
    let found = cache.api_key(hash)?;
    Some(api_key_caller(found, hash, now, source))
}

/// An API key whose SHA-256 is `hash`: unexpired at `now`, its owner enabled; its roles are the
/// key's restriction of the owner's. `Ok(None)`: wrong, expired or deleted.
pub async fn api_key(
    store: &dyn Store,
    cache: &AuthCache,
    now: Timestamp,
    hash: &Digest,
    source: Option<std::net::IpAddr>,
) -> StoreResult<Option<Caller>> {
    let found = cache
        .api_key_or_load(hash, || store.find_api_key(hash))
        .await?;
    Ok(found.and_then(|found| api_key_caller(found, hash, now, source)))
}

fn api_key_caller(
    found: Arc<KeyLookup>,
    hash: &Digest,
    now: Timestamp,
    source: Option<std::net::IpAddr>,
) -> Option<Caller> {
    let expired = found.key.expires_at.is_some_and(|t| t <= now);
    if !crypto::digests_eq(&found.key.key_hash, hash) || expired || !found.user.enabled {
        return None;
    }
    Some(Caller {
        user: found.user.clone(),
        roles: key_roles(&found.user, found.key.platform_roles.as_deref()),
        method: Method::ApiKey { key: found },
        source,
    })
}

/// A key restricted to platform roles gets those its owner still holds, never more.
fn key_roles(owner: &UserRecord, restricted_to: Option<&[Role]>) -> Roles {
    match restricted_to {
        None => Roles::from_slice(&owner.roles),
        Some(roles) => roles
            .iter()
            .filter(|r| owner.roles.contains(r))
            .copied()
            .collect(),
    }
}
