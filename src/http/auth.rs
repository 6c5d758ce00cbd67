//! Who is calling: the `Authorization` header, resolved once per request, and the per-operation
//! permission check.
//!
//! [`authenticate`] is a middleware: it parses `Basic`, `ApiKey` and `Bearer` credentials
//! (`crate::security::credentials`), checks
//! them against the store and leaves an [`AuthState`] in the request extensions (it never rejects:
//! public operations such as `_login` ignore it). Handlers take [`Authorized<op::X>`], an extractor
//! that turns a missing or invalid identity into 401 and a role without operation `X` into 403.
//! Replies to requests authenticated by an API key get the `X-Elastic-Api-Key-Expiration` header.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;

use crate::domain::model::{fmt_ts, Timestamp, UserRecord};
use crate::domain::rbac::{self, CacheEffect, OperationId, Refusal};
use crate::http::error::{ApiError, Code};
use crate::http::AppState;
use crate::security::credentials::{parse_authorization, Credentials};
use crate::security::crypto::{self, NotChecked};
use crate::store::token_usable;

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
    pub roles: Vec<String>,
    pub method: Method,
    /// The client's IP address, for the audit log.
    pub source: Option<std::net::IpAddr>,
}

/// What the middleware found out; read by [`Authorized`].
#[derive(Debug, Clone)]
pub enum AuthState {
    Missing,
    Invalid,
    /// The store could not be asked; the request fails with 503 if it needs an identity.
    Unavailable,
    /// Basic credentials refused by brute-force protection: 429 after this many seconds.
    Throttled(u64),
    /// Basic credentials not checked because the hashing queue was full: 429, retry in 1 s.
    Busy,
    /// Basic credentials not checked because the hashing pool failed: 500.
    HashingFailed,
    Authenticated(Arc<Caller>),
}

/// Why [`resolve`] could not decide.
enum Unresolved {
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

/// Middleware: resolves the caller once for every request.
pub async fn authenticate(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let source = crate::http::peer(req.extensions()).map(|a| a.ip());
    let state = match req.headers().get(AUTHORIZATION) {
        None => AuthState::Missing,
        Some(value) => match parse_authorization(value.as_bytes()) {
            None => AuthState::Invalid,
            Some(creds) => match resolve(&app, creds, value.as_bytes(), source).await {
                Ok(Some(caller)) => AuthState::Authenticated(Arc::new(caller)),
                Ok(None) => AuthState::Invalid,
                Err(Unresolved::Throttled(t)) => AuthState::Throttled(t.retry_after_secs()),
                Err(Unresolved::Busy) => AuthState::Busy,
                Err(Unresolved::HashingFailed) => AuthState::HashingFailed,
                Err(Unresolved::Store(e)) => {
                    tracing::warn!(error = %e, "authentication could not reach the store");
                    AuthState::Unavailable
                }
            },
        },
    };
    let key_expiry = match &state {
        AuthState::Authenticated(c) => match &c.method {
            Method::ApiKey {
                expires_at: Some(t),
                ..
            } => Some(fmt_ts(t)),
            _ => None,
        },
        _ => None,
    };
    // See crate::security::cache: a request that may revoke a credential clears the cached lookups
    // before its reply leaves; a refresh forgets the token it replaced. The operation table says
    // which does which.
    let cache = served_operation(&req).map_or(CacheEffect::Keep, |op| op.cache);
    let refreshed = match (&state, cache) {
        (AuthState::Authenticated(c), CacheEffect::ForgetCallerToken) => match &c.method {
            Method::Bearer { token_digest, .. } => Some(token_digest.clone()),
            _ => None,
        },
        _ => None,
    };
    req.extensions_mut().insert(state);
    let mut res = next.run(req).await;
    if res.status().is_success() {
        if cache == CacheEffect::Clear {
            app.authcache.clear_lookups();
        }
        if let Some(digest) = refreshed {
            app.authcache.forget_token(&digest);
        }
    }
    if let Some(expiry) = key_expiry.and_then(|t| HeaderValue::from_str(&t).ok()) {
        res.headers_mut()
            .insert("x-elastic-api-key-expiration", expiry);
    }
    res
}

/// The operation of the route a request matched, from the operation table.
fn served_operation(req: &Request) -> Option<&'static rbac::Operation> {
    let template = req.extensions().get::<MatchedPath>()?.as_str();
    rbac::served_at(req.method().as_str(), template.strip_prefix("/api/v1")?)
}

/// Checks credentials against the store. `Ok(None)`: they are wrong, expired or revoked.
async fn resolve(
    app: &AppState,
    creds: Credentials,
    header: &[u8],
    source: Option<std::net::IpAddr>,
) -> Result<Option<Caller>, Unresolved> {
    match creds {
        Credentials::Bearer(token) => resolve_bearer(app, &token, source).await,
        Credentials::ApiKey(key) => resolve_api_key(app, &key, source).await,
        Credentials::Basic { user, password } => {
            resolve_basic(app, user, password, header, source).await
        }
    }
}

/// A bearer token: its session must be live and the token current (or in its grace period).
async fn resolve_bearer(
    app: &AppState,
    token: &str,
    source: Option<std::net::IpAddr>,
) -> Result<Option<Caller>, Unresolved> {
    let now = Utc::now();
    let hash = crypto::digest(token);
    let found = app
        .authcache
        .token_or_load(&hash, || app.store.find_token(&hash))
        .await?;
    let Some(found) = found else {
        return Ok(None);
    };
    if !crypto::ct_eq(&found.token.token_hash, &hash)
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
    let roles = found.user.roles.clone();
    Ok(Some(Caller {
        user: found.user.clone(),
        roles,
        method: Method::Bearer {
            session_id: found.session.id.clone(),
            token_digest: hash,
            expires_at,
        },
        source,
    }))
}

/// An API key: unexpired, its owner enabled; its roles are the key's restriction of the owner's.
async fn resolve_api_key(
    app: &AppState,
    key: &str,
    source: Option<std::net::IpAddr>,
) -> Result<Option<Caller>, Unresolved> {
    let now = Utc::now();
    let hash = crypto::digest(key);
    let found = app
        .authcache
        .api_key_or_load(&hash, || app.store.find_api_key(&hash))
        .await?;
    let Some(found) = found else {
        return Ok(None);
    };
    let expired = found.key.expires_at.is_some_and(|t| t <= now);
    if !crypto::ct_eq(&found.key.key_hash, &hash) || expired || !found.user.enabled {
        return Ok(None);
    }
    let roles = key_roles(&found.user, found.key.role_assignments.as_ref());
    Ok(Some(Caller {
        user: found.user.clone(),
        roles,
        method: Method::ApiKey {
            key_id: found.key.id.clone(),
            expires_at: found.key.expires_at,
        },
        source,
    }))
}

/// Basic credentials: through brute-force protection and Argon2, unless this replica verified
/// the same header recently.
async fn resolve_basic(
    app: &AppState,
    user: String,
    password: String,
    header: &[u8],
    source: Option<std::net::IpAddr>,
) -> Result<Option<Caller>, Unresolved> {
    let cache_key = app.authcache.basic_key(header);
    let hit = app.authcache.basic(&cache_key);
    // A recent verification of this very header whose user row was read less than
    // LOOKUP_TTL ago, with no write on this replica since: neither Argon2 nor a read.
    // Not a guess either: brute-force protection neither refuses nor resets anything.
    if let Some(u) = hit.as_ref().and_then(|h| app.authcache.basic_user(h)) {
        return Ok(Some(password_caller(u.clone(), source)));
    }
    // An older one: no Argon2 if the hash it was verified against is still stored.
    let mut read_before = None;
    if let Some(hit) = hit {
        let read = app.authcache.stamp();
        let stored = app.store.get_user(&user).await?;
        match stored {
            Some(u)
                if u.enabled
                    && u.user_name == hit.user.user_name
                    && crypto::ct_eq(&u.password_hash, &hit.user.password_hash) =>
            {
                app.authcache.recheck_basic(cache_key, hit, u.clone(), read);
                return Ok(Some(password_caller(u, source)));
            }
            _ => app.authcache.forget_basic(&cache_key),
        }
        read_before = Some((read, stored));
    }
    // One check per header at a time; one that just succeeded answers the others.
    let _flight = app.authcache.basic_flight(&cache_key).await;
    if read_before.is_none() {
        let hit = app.authcache.basic(&cache_key);
        if let Some(u) = hit.as_ref().and_then(|h| app.authcache.basic_user(h)) {
            return Ok(Some(password_caller(u.clone(), source)));
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
    let ok = match app.hasher.try_verify(password, phc).await {
        Ok(ok) => ok,
        Err(not_checked) => {
            attempt.undecided();
            return Err(match not_checked {
                NotChecked::QueueFull => Unresolved::Busy,
                NotChecked::PoolFailed => Unresolved::HashingFailed,
            });
        }
    };
    match stored {
        Some(u) if ok && u.enabled => {
            attempt.succeeded();
            app.authcache.put_basic(cache_key, u.clone(), read);
            Ok(Some(password_caller(u, source)))
        }
        _ => {
            app.authcache.forget_basic(&cache_key);
            crate::http::telemetry::login_failed();
            crate::http::brute_force::failed(app, attempt, "basic").await;
            Ok(None)
        }
    }
}

/// A caller authenticated by its password: the user's own roles.
fn password_caller(user: UserRecord, source: Option<std::net::IpAddr>) -> Caller {
    Caller {
        roles: user.roles.clone(),
        user,
        method: Method::Password,
        source,
    }
}

/// A key restricted to platform roles gets those its owner still holds, never more.
fn key_roles(owner: &UserRecord, assignments: Option<&serde_json::Value>) -> Vec<String> {
    let Some(platform) = assignments
        .and_then(|a| a.get("platform"))
        .and_then(|p| p.as_array())
    else {
        return owner.roles.clone();
    };
    platform
        .iter()
        .filter_map(|p| p.get("role_id").and_then(|r| r.as_str()))
        .filter(|r| owner.roles.iter().any(|o| o == r))
        .map(str::to_string)
        .collect()
}

/// An authenticated caller allowed to perform operation `O`.
pub struct Authorized<O: OperationId>(pub Arc<Caller>, PhantomData<O>);

impl<O: OperationId> std::ops::Deref for Authorized<O> {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl<O: OperationId> FromRequestParts<AppState> for Authorized<O> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let state = parts
            .extensions
            .get::<AuthState>()
            .cloned()
            .unwrap_or(AuthState::Missing);
        match authorize(&O::OP, &state) {
            Ok(caller) => Ok(Authorized(caller, PhantomData)),
            Err(e) => {
                audit_refusal(app, parts, &O::OP, &state).await;
                Err(e)
            }
        }
    }
}

/// Records a refused operation (`access.denied`, rate-bounded): a role without the operation
/// (403), or a bearer token or API key that is wrong, expired or revoked (401). Failed Basic
/// passwords are already `login` failures; missing credentials and throttled or undecided
/// checks are no attempt on anything.
async fn audit_refusal(app: &AppState, parts: &Parts, op: &rbac::Operation, state: &AuthState) {
    use crate::http::audit::Event;
    let event = match state {
        AuthState::Authenticated(caller) => {
            Event::by(caller, "access.denied").detail("status", 403)
        }
        AuthState::Invalid => {
            let scheme = match parts
                .headers
                .get(AUTHORIZATION)
                .and_then(|v| parse_authorization(v.as_bytes()))
            {
                Some(Credentials::Basic { .. }) => return,
                Some(Credentials::Bearer(_)) => "bearer",
                Some(Credentials::ApiKey(_)) => "api_key",
                None => "malformed",
            };
            let source = crate::http::peer(&parts.extensions).map(|a| a.ip());
            Event::anonymous("access.denied", source)
                .detail("status", 401)
                .detail("auth", scheme)
        }
        _ => return,
    };
    crate::http::audit::refused(app, event.detail("operation", op.id)).await;
}

/// The caller of `state` if it may perform `op`, or the error reply.
fn authorize(op: &rbac::Operation, state: &AuthState) -> Result<Arc<Caller>, ApiError> {
    {
        let caller = match state.clone() {
            AuthState::Authenticated(caller) => caller,
            AuthState::Unavailable => {
                return Err(ApiError::new(
                    Code::StoreUnavailable,
                    "The database is unavailable. Retry shortly.",
                )
                .with_header("retry-after", "1"))
            }
            AuthState::Throttled(secs) => {
                return Err(crate::security::throttle::Throttled {
                    retry_after: std::time::Duration::from_secs(secs),
                }
                .into())
            }
            AuthState::Busy => return Err(crate::http::brute_force::hashing_busy()),
            AuthState::HashingFailed => {
                return Err(ApiError::internal("the password hashing pool failed"))
            }
            // The spec documents `root.unauthorized` for a bad token on `_refresh` and for the
            // role-assignment operations; everywhere else a failed authentication is `root.unauthenticated`.
            _ => {
                return Err(match op.refusal {
                    Refusal::Refresh => ApiError::new(
                        Code::Unauthorized,
                        "The authentication token is invalid or expired.",
                    ),
                    Refusal::RoleAssignments => {
                        ApiError::new(Code::Unauthorized, "Credentials were invalid.")
                    }
                    Refusal::Standard => ApiError::unauthenticated(),
                })
            }
        };
        if !rbac::allowed(&caller.roles, op) {
            return Err(match op.refusal {
                Refusal::RoleAssignments => ApiError::new(
                    Code::RoleAssignmentsUnauthorized,
                    "You are not authorised to change role assignments.",
                ),
                _ => ApiError::forbidden(op.id),
            });
        }
        Ok(caller)
    }
}
