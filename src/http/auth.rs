//! Who is calling: the `Authorization` header, resolved once per request, and the per-operation
//! permission check.
//!
//! `crate::http::pipeline` resolves every request's `Basic`, `ApiKey` or `Bearer` credentials
//! (`crate::security::credentials`) through [`begin`] (the credential cache, nothing awaited)
//! and, on a miss, [`finish`] (the store, Argon2, the directories), and leaves an [`AuthState`]
//! in the request extensions (it never rejects: public operations such as `_login` ignore it). Handlers take [`Authorized<op::X>`], an extractor
//! that turns a missing or invalid identity into 401 and a role without operation `X` into 403.
//! Replies to requests authenticated by an API key get the `X-Elastic-Api-Key-Expiration` header.

use std::marker::PhantomData;
use std::sync::Arc;

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;

use crate::domain::model::{fmt_ts, Digest, Timestamp};
use crate::domain::rbac::{self, CacheEffect, OperationId, Refusal};
use crate::http::basic::Unresolved;
use crate::http::error::{ApiError, Code};
use crate::http::AppState;
use crate::security::credentials::{parse_authorization, Credentials};
pub use crate::security::resolve::{Caller, Method};
use crate::security::{crypto, resolve};

/// What the pipeline leaves in a request's extensions: the client's address and who it proved
/// to be. One extension for both, because each extension is an allocation and a hash-table
/// insert per request.
#[derive(Debug, Clone)]
pub struct Client {
    /// The peer address, when served by `crate::server::run`.
    pub peer: Option<std::net::SocketAddr>,
    pub auth: AuthState,
}

/// Who the client proved to be; read by [`Authorized`].
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

/// Authentication as far as it goes without awaiting anything.
pub enum Begun {
    /// Decided from the header and the credential cache alone (every cache hit).
    Decided(AuthState),
    /// Needs the store, the hashing pool or a directory: pass it to [`finish`].
    Pending(Pending),
}

/// Credentials the cache could not decide.
pub struct Pending(Slow);

enum Slow {
    Bearer(Digest),
    ApiKey(Digest),
    Basic {
        user: String,
        password: String,
        /// The header's `basic_key`, computed once.
        cache_key: Digest,
    },
}

/// Reads the `Authorization` header and answers from the credential cache when it can.
pub fn begin(app: &AppState, headers: &HeaderMap, source: Option<IpAddr>) -> Begun {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Begun::Decided(AuthState::Missing);
    };
    let Some(creds) = parse_authorization(value.as_bytes()) else {
        return Begun::Decided(AuthState::Invalid);
    };
    let (cache, now) = (&*app.authcache, app.settings.clock.now());
    let cached = match creds {
        Credentials::Bearer(token) => {
            let hash = crypto::digest(token);
            resolve::bearer_cached(cache, now, &hash, source).ok_or(Slow::Bearer(hash))
        }
        Credentials::ApiKey(key) => {
            let hash = crypto::digest(key);
            resolve::api_key_cached(cache, now, &hash, source).ok_or(Slow::ApiKey(hash))
        }
        Credentials::Basic { user, password } => {
            let cache_key = cache.basic_key(value.as_bytes());
            crate::http::basic::cached(app, &cache_key, source)
                .map(Some)
                .ok_or(Slow::Basic {
                    user,
                    password,
                    cache_key,
                })
        }
    };
    match cached {
        Ok(caller) => Begun::Decided(state_of(Ok(caller))),
        Err(slow) => Begun::Pending(Pending(slow)),
    }
}

/// Decides what [`begin`] could not: the store, Argon2 or a directory.
pub async fn finish(app: &AppState, Pending(slow): Pending, source: Option<IpAddr>) -> AuthState {
    let (store, cache, now) = (&*app.store, &*app.authcache, app.settings.clock.now());
    state_of(match slow {
        Slow::Bearer(hash) => resolve::bearer(store, cache, now, &hash, source)
            .await
            .map_err(Unresolved::from),
        Slow::ApiKey(hash) => resolve::api_key(store, cache, now, &hash, source)
            .await
            .map_err(Unresolved::from),
        Slow::Basic {
            user,
            password,
            cache_key,
        } => crate::http::basic::resolve(app, user, password, cache_key, source).await,
    })
}

fn state_of(resolved: Result<Option<Caller>, Unresolved>) -> AuthState {
    match resolved {
        Ok(Some(caller)) => AuthState::Authenticated(Arc::new(caller)),
        Ok(None) => AuthState::Invalid,
        Err(Unresolved::Throttled(t)) => AuthState::Throttled(t.retry_after_secs()),
        Err(Unresolved::Busy) => AuthState::Busy,
        Err(Unresolved::HashingFailed) => AuthState::HashingFailed,
        Err(Unresolved::Store(e)) => {
            tracing::warn!(error = %e, "authentication could not reach the store");
            AuthState::Unavailable
        }
    }
}

/// What a request's authentication does once its handler has answered.
pub struct Effects {
    /// Clear the cached lookups (a write that may revoke a credential; see
    /// `crate::security::cache`).
    clear: bool,
    /// Forget this token (replaced by a refresh).
    forget: Option<Digest>,
    /// The caller's API key expires then: `X-Elastic-Api-Key-Expiration`.
    key_expiry: Option<Timestamp>,
}

impl Effects {
    /// The effects of `state` on operation `op` (the operation table says which clears what).
    pub fn of(state: &AuthState, op: Option<&'static rbac::Operation>) -> Effects {
        let cache = op.map_or(CacheEffect::Keep, |op| op.cache);
        let mut effects = Effects {
            clear: cache == CacheEffect::Clear,
            forget: None,
            key_expiry: None,
        };
        if let AuthState::Authenticated(caller) = state {
            match &caller.method {
                Method::ApiKey { key } => effects.key_expiry = key.key.expires_at,
                Method::Bearer { token, .. } if cache == CacheEffect::ForgetCallerToken => {
                    effects.forget = Some(token.token.token_hash)
                }
                _ => {}
            }
        }
        effects
    }

    /// Applies them to `res`, the handler's reply, before it leaves.
    pub fn apply(&self, app: &AppState, res: &mut Response) {
        if res.status().is_success() {
            if self.clear {
                app.authcache.clear_lookups();
            }
            if let Some(digest) = &self.forget {
                app.authcache.forget_token(digest);
            }
        }
        if let Some(value) = self.key_expiry.and_then(expiry_header) {
            res.headers_mut().insert(KEY_EXPIRATION, value);
        }
    }
}

const KEY_EXPIRATION: HeaderName = HeaderName::from_static("x-elastic-api-key-expiration");

/// The `X-Elastic-Api-Key-Expiration` value of `expiry`. A client sends the same key again and
/// again: each thread keeps the last value it made, whose clone shares its bytes.
fn expiry_header(expiry: Timestamp) -> Option<HeaderValue> {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(Timestamp, HeaderValue)>> =
            const { std::cell::RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| {
        if let Some((_, value)) = last.as_ref().filter(|(at, _)| *at == expiry) {
            return Some(value.clone());
        }
        let value = HeaderValue::from_str(&fmt_ts(&expiry)).ok()?;
        *last = Some((expiry, value.clone()));
        Some(value)
    })
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
            .get::<Client>()
            .map_or(AuthState::Missing, |c| c.auth.clone());
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
