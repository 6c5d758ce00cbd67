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

use crate::domain::model::fmt_ts;
use crate::domain::rbac::{self, CacheEffect, OperationId, Refusal};
use crate::http::basic::Unresolved;
use crate::http::error::{ApiError, Code};
use crate::http::AppState;
use crate::security::credentials::{parse_authorization, Credentials};
use crate::security::resolve;
pub use crate::security::resolve::{Caller, Method};

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

/// Middleware: resolves the caller once for every request.
pub async fn authenticate(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let source = crate::http::peer(req.extensions()).map(|a| a.ip());
    let state = match req.headers().get(AUTHORIZATION) {
        None => AuthState::Missing,
        Some(value) => match parse_authorization(value.as_bytes()) {
            None => AuthState::Invalid,
            Some(creds) => match check_credentials(&app, creds, value.as_bytes(), source).await {
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
            Method::Bearer { token_digest, .. } => Some(*token_digest),
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
async fn check_credentials(
    app: &AppState,
    creds: Credentials,
    header: &[u8],
    source: Option<std::net::IpAddr>,
) -> Result<Option<Caller>, Unresolved> {
    let (store, cache, now) = (&*app.store, &*app.authcache, app.settings.clock.now());
    match creds {
        Credentials::Bearer(token) => Ok(resolve::bearer(store, cache, now, &token, source).await?),
        Credentials::ApiKey(key) => Ok(resolve::api_key(store, cache, now, &key, source).await?),
        Credentials::Basic { user, password } => {
            crate::http::basic::resolve(app, user, password, header, source).await
        }
    }
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
