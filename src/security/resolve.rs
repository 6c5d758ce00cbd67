//! Who is calling, for the two schemes that are a lookup: a bearer token and an API key, each
//! resolved through the credential cache's `get_or_load` (one store read per credential and
//! replica while the cache is fresh). Basic credentials also go through brute-force protection
//! and Argon2; their HTTP side is `crate::http::basic`.

use crate::domain::model::{Timestamp, UserRecord};
use crate::domain::roles::Role;
use crate::security::cache::AuthCache;
use crate::security::crypto;
use crate::store::{token_usable, Store, StoreResult};

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Method {
    Password,
    ApiKey {
        key_id: String,
        expires_at: Option<Timestamp>,
    },
    Bearer {
        session_id: String,
        token_digest: crate::domain::model::Digest,
        expires_at: Timestamp,
    },
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: UserRecord,
    /// The roles in force for this request (an API key may carry fewer than its owner).
    pub roles: Vec<Role>,
    pub method: Method,
    /// The client's IP address, for the audit log.
    pub source: Option<std::net::IpAddr>,
}

impl Caller {
    /// A caller authenticated by its password: the user's own roles.
    pub fn by_password(user: UserRecord, source: Option<std::net::IpAddr>) -> Caller {
        Caller {
            roles: user.roles.clone(),
            user,
            method: Method::Password,
            source,
        }
    }
}

/// A bearer token: its session must be live at `now` and the token current (or in its grace
/// period). `Ok(None)`: wrong, expired or revoked.
pub async fn bearer(
    store: &dyn Store,
    cache: &AuthCache,
    now: Timestamp,
    token: &str,
    source: Option<std::net::IpAddr>,
) -> StoreResult<Option<Caller>> {
    let hash = crypto::digest(token);
    let found = cache
        .token_or_load(&hash, || store.find_token(&hash))
        .await?;
    let Some(found) = found else {
        return Ok(None);
    };
    if !crypto::ct_eq(found.token.token_hash, hash)
        || !token_usable(&found.token, &found.session, now)
        || !found.user.enabled
    {
        return Ok(None);
    }
    let expires_at = found
        .token
        .valid_until
        .map_or(found.session.expires_at(), |t| {
            t.min(found.session.expires_at())
        });
    Ok(Some(Caller {
        user: found.user.clone(),
        roles: found.user.roles.clone(),
        method: Method::Bearer {
            session_id: found.session.id.clone(),
            token_digest: hash,
            expires_at,
        },
        source,
    }))
}

/// An API key: unexpired at `now`, its owner enabled; its roles are the key's restriction of the
/// owner's. `Ok(None)`: wrong, expired or deleted.
pub async fn api_key(
    store: &dyn Store,
    cache: &AuthCache,
    now: Timestamp,
    key: &str,
    source: Option<std::net::IpAddr>,
) -> StoreResult<Option<Caller>> {
    let hash = crypto::digest(key);
    let found = cache
        .api_key_or_load(&hash, || store.find_api_key(&hash))
        .await?;
    let Some(found) = found else {
        return Ok(None);
    };
    let expired = found.key.expires_at.is_some_and(|t| t <= now);
    if !crypto::ct_eq(found.key.key_hash, hash) || expired || !found.user.enabled {
        return Ok(None);
    }
    Ok(Some(Caller {
        user: found.user.clone(),
        roles: key_roles(&found.user, found.key.platform_roles.as_deref()),
        method: Method::ApiKey {
            key_id: found.key.id.clone(),
            expires_at: found.key.expires_at,
        },
        source,
    }))
}

/// A key restricted to platform roles gets those its owner still holds, never more.
fn key_roles(owner: &UserRecord, restricted_to: Option<&[Role]>) -> Vec<Role> {
    match restricted_to {
        None => owner.roles.clone(),
        Some(roles) => roles
            .iter()
            .filter(|r| owner.roles.contains(r))
            .copied()
            .collect(),
    }
}
