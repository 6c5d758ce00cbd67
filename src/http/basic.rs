//! Basic credentials (`Authorization: Basic`): the credential cache first, then brute-force
//! protection and an Argon2id check on the bounded hashing pool, then (for names that are not a
//! native user's) the LDAP and Active Directory realms (`crate::http::realm_login`). A directory
//! password is reused from the cache only within its short fresh window (`LOOKUP_TTL`); after
//! that the directory is asked again. The throttle and the hashing
//! pool can refuse to decide; [`Unresolved`] says why, and `crate::http::auth` turns it into the
//! reply (429, 503 or 500).

use crate::domain::model::Digest;
use crate::http::AppState;
use crate::security::crypto::{self, NotChecked};
use crate::security::resolve::Caller;

/// Why a credential could not be decided.
pub enum Unresolved {
    Store(crate::store::StoreError),
    Throttled(crate::security::throttle::Throttled),
    Busy,
    HashingFailed,
}

impl From<crate::store::StoreError> for Unresolved {
    fn from(e: crate::store::StoreError) -> Self {
        Unresolved::Store(e)
    }
}

/// Basic credentials this replica verified recently, whose user row was read less than
/// `LOOKUP_TTL` ago with no write on this replica since: neither Argon2 nor a read. Not a guess
/// either: brute-force protection neither refuses nor resets anything. `None`: ask [`resolve`].
/// `cache_key` is the header's `AuthCache::basic_key`.
pub fn cached(
    app: &AppState,
    cache_key: &Digest,
    source: Option<std::net::IpAddr>,
) -> Option<Caller> {
    let hit = app.authcache.basic(cache_key)?;
    let user = app.authcache.basic_user(&hit)?;
    Some(Caller::by_password(user, source))
}

/// Basic credentials: through brute-force protection and Argon2, unless this replica verified
/// the same header recently. `Ok(None)`: the password is wrong or the user disabled.
pub async fn resolve(
    app: &AppState,
    user: String,
    password: String,
    cache_key: Digest,
    source: Option<std::net::IpAddr>,
) -> Result<Option<Caller>, Unresolved> {
    let hit = app.authcache.basic(&cache_key);
    // A recent verification of this very header whose user row was read less than
    // LOOKUP_TTL ago, with no write on this replica since: neither Argon2 nor a read.
    // Not a guess either: brute-force protection neither refuses nor resets anything.
    if let Some(u) = hit.as_ref().and_then(|h| app.authcache.basic_user(h)) {
        return Ok(Some(Caller::by_password(u, source)));
    }
    // An older one: no Argon2 if the hash it was verified against is still stored.
    let mut read_before = None;
    if let Some(hit) = hit {
        let read = app.authcache.stamp();
        let stored = app.store.get_user(&user).await?;
        match stored {
            // Not for external users: their stored hash is empty, so it says nothing about
            // whether the directory still takes the password. They are asked again.
            Some(u)
                if u.enabled
                    && !u.is_external()
                    && u.user_name == hit.user.user_name
                    && crypto::ct_eq(&u.password_hash, &hit.user.password_hash) =>
            {
                let u = std::sync::Arc::new(u);
                app.authcache.recheck_basic(cache_key, hit, u.clone(), read);
                return Ok(Some(Caller::by_password(u, source)));
            }
            _ => app.authcache.forget_basic(&cache_key),
        }
        read_before = Some((read, stored));
    }
    // One check per header at a time; one that just succeeded answers the others.
    let _flight = app.authcache.basic_flight(&cache_key).await;
    if read_before.is_none() {
        if let Some(caller) = cached(app, &cache_key, source) {
            return Ok(Some(caller));
        }
    }
    // A password check. Before the lookup and the hash, so that a throttled request costs
    // neither; a header verified here before is let through (it is not a guess).
    let known = app.authcache.basic_known(&cache_key);
    let attempt = if known {
        crate::http::brute_force::begin_known(app, &user, source)
    } else {
        crate::http::brute_force::begin(app, &user, source, "basic")
            .map_err(Unresolved::Throttled)?
    };
    let (read, stored) = match read_before {
        Some(done) => done,
        None => {
            let read = app.authcache.stamp();
            match app.store.get_user(&user).await {
                Ok(stored) => (read, stored),
                Err(e) => {
                    attempt.undecided();
                    return Err(e.into());
                }
            }
        }
    };
    let phc = stored.as_ref().map(|u| u.password_hash.clone());
    let ok = match app.hasher.try_verify(password.clone(), phc).await {
        Ok(ok) => ok,
        Err(not_checked) => {
            attempt.undecided();
            return Err(match not_checked {
                NotChecked::QueueFull => Unresolved::Busy,
                NotChecked::PoolFailed => Unresolved::HashingFailed,
            });
        }
    };
    // Not a native user's password: the realms (for unknown names and external users only).
    let signed_in = crate::http::realm_login::signed_in(app, source, &user, &password, stored, ok);
    let signed_in = match signed_in.await {
        Ok(signed_in) => signed_in,
        Err(e) => {
            attempt.undecided();
            return Err(e.into());
        }
    };
    match signed_in {
        Some(u) => {
            attempt.succeeded();
            let u = std::sync::Arc::new(u);
            app.authcache.put_basic(cache_key, u.clone(), read);
            Ok(Some(Caller::by_password(u, source)))
        }
        None => {
            app.authcache.forget_basic(&cache_key);
            crate::http::telemetry::login_failed();
            crate::http::brute_force::failed(app, attempt, "basic").await;
            Ok(None)
        }
    }
}
