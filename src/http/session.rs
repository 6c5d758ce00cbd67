//! Password login, bearer sessions and the authentication metadata (tag Authentication).
//!
//! A session is a chain of bearer tokens: `_login` starts it, each `_refresh` issues the next
//! token (the replaced one keeps working for the grace period so in-flight requests don't fail)
//! and slides the idle expiry, `_logout` revokes the whole chain server-side.
//!
//! Only the session's current token can be refreshed (a replaced one, still usable in its grace
//! period, gets 401), and a session makes at most `--refresh-max-per-minute` refreshes a minute
//! (then 429 with `Retry-After`): one stolen or buggy token cannot fill the disk with tokens and
//! audit events.

use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::domain::model::{
    AuthenticationInfo, EmptyResponse, LoginRequest, SessionRecord, TokenResponse,
};
use crate::domain::rbac::op;
use crate::http::audit::{self, ClientAddr, Event};
use crate::http::auth::{Authorized, Method};
use crate::http::error::{ApiError, ApiResult, Code};
use crate::http::json::ValidJson;
use crate::http::AppState;
use crate::security::crypto::{self, NotChecked};
use crate::store::RefreshOutcome;

pub const REFRESH_TOKEN_URL: &str = "/api/v1/users/auth/_refresh";

pub async fn login(
    State(app): State<AppState>,
    ClientAddr(source): ClientAddr,
    ValidJson(req): ValidJson<LoginRequest>,
) -> ApiResult<Response> {
    // Brute-force protection, before the lookup and the hash: a throttled request costs neither.
    let attempt = crate::http::brute_force::begin(&app, &req.username, source, "password")
        .map_err(ApiError::from)?;
    let username = req.username.clone();
    let password = req.password.clone();
    let user = match app.store.get_user(&req.username).await {
        Ok(user) => user,
        Err(e) => {
            attempt.undecided();
            return Err(e.into());
        }
    };
    // Unknown users are verified against a dummy hash: same reply, same time.
    let phc = user.as_ref().map(|u| u.password_hash.clone());
    let verified = match app.hasher.try_verify(req.password, phc).await {
        Ok(verified) => verified,
        // Not a wrong password: nothing is counted.
        Err(not_checked) => {
            attempt.undecided();
            return Err(match not_checked {
                NotChecked::QueueFull => crate::http::brute_force::hashing_busy(),
                NotChecked::PoolFailed => ApiError::internal("the password hashing pool failed"),
            });
        }
    };
    // Not a native user's password: the realms (for unknown names and external users only).
    let signed_in =
        crate::http::realm_login::signed_in(&app, source, &username, &password, user, verified);
    let user = match signed_in.await {
        Ok(user) => user,
        Err(e) => {
            attempt.undecided();
            return Err(e.into());
        }
    };
    let user = match user {
        Some(u) => u,
        None => {
            crate::http::telemetry::login_failed();
            crate::http::brute_force::failed(&app, attempt, "password").await;
            return Err(ApiError::unauthenticated());
        }
    };
    attempt.succeeded();

    let (token, session) = open_session(&app, source, &user, "password").await?;

    match req.login_state {
        Some(state) if state.path.is_some() => {
            // As the spec says: redirect to /sso/token#<token>?state=<login state>.
            let state_json = serde_json::to_string(&state).map_err(ApiError::internal)?;
            let location = format!(
                "/sso/token#{token}?state={}",
                urlencoding::encode(&state_json)
            );
            Ok((
                StatusCode::FOUND,
                [(LOCATION, location)],
                Json(EmptyResponse {}),
            )
                .into_response())
        }
        _ => Ok(Json(TokenResponse {
            token,
            session_expiration_time: session.expires_at(),
        })
        .into_response()),
    }
}

/// Starts a session for `user`, who just signed in by `auth` (`password`, `saml`): the session,
/// the login stamp and the `login` audit event in one transaction, one commit. Gives the bearer
/// token (shown once, stored only as its digest) and the session.
pub(crate) async fn open_session(
    app: &AppState,
    source: Option<std::net::IpAddr>,
    user: &crate::domain::model::UserRecord,
    auth: &'static str,
) -> ApiResult<(String, SessionRecord)> {
    let now = app.settings.clock.now();
    let session = SessionRecord {
        id: crypto::new_id(),
        user_name: user.user_name.clone(),
        created_at: now,
        idle_expires_at: now + app.settings.session_idle,
        absolute_expires_at: now + app.settings.session_max,
        revoked: false,
    };
    let token = crypto::new_secret();
    let mut audit = Event::anonymous("login", source)
        .actor(&user.user_name)
        .target(&user.user_name)
        .detail("auth", auth)
        .detail("session", session.id.as_str());
    if let Some(realm) = &user.realm {
        // Which realm vouched for the user (native users have no `realm` detail).
        audit = audit.detail("realm", realm.id.as_str());
    }
    let audit = audit.into_record(now);
    app.store
        .start_session(&session, &crypto::digest(&token), &audit)
        .await?;
    tracing::info!(user = %user.user_name, auth, "login");
    Ok((token, session))
}

pub async fn refresh(
    State(app): State<AppState>,
    caller: Authorized<op::RefreshToken>,
) -> ApiResult<Json<TokenResponse>> {
    let invalid = || {
        ApiError::new(
            Code::Unauthorized,
            "The authentication token is invalid or expired.",
        )
    };
    let Method::Bearer { token: current, .. } = &caller.method else {
        return Err(ApiError::new(
            Code::Unauthorized,
            "Only a bearer token can be refreshed.",
        ));
    };
    let (session_id, old) = (&current.session.id, &current.token.token_hash);
    let now = app.settings.clock.now();
    let token = crypto::new_secret();
    // Written by the store in the refresh's own transaction (one commit for both).
    let audit = Event::by(&caller, "refresh")
        .target(&caller.user.user_name)
        .detail("session", session_id.as_str())
        .into_record(now);
    let outcome = app
        .store
        .refresh_session(
            old,
            &crypto::digest(&token),
            now,
            now + app.settings.refresh_grace,
            now + app.settings.session_idle,
            app.settings.refresh_limit,
            &audit,
        )
        .await?;
    match outcome {
        RefreshOutcome::Refreshed(session) => Ok(Json(TokenResponse {
            token,
            session_expiration_time: session.expires_at(),
        })),
        RefreshOutcome::Invalid => Err(invalid()),
        // The token's successor exists and only its holder may continue the chain; the token
        // itself keeps working until its grace deadline. (Handing the successor back is
        // impossible: only its digest is stored.)
        RefreshOutcome::Replaced => Err(ApiError::new(
            Code::Unauthorized,
            "This token was already refreshed; refresh with the newest token, or log in again.",
        )),
        // Not audited: a flood of refused refreshes must not write anything.
        RefreshOutcome::Limited { retry_at } => {
            let wait = (retry_at - now).num_seconds().max(1);
            Err(ApiError::new(
                Code::TooManyRequests,
                format!("This session was refreshed too often; retry in {wait} seconds."),
            )
            .with_header("retry-after", wait.to_string()))
        }
    }
}

pub async fn logout(
    State(app): State<AppState>,
    caller: Authorized<op::Logout>,
) -> ApiResult<Json<EmptyResponse>> {
    // API keys and Basic credentials have no server-side session to end.
    if let Some(session_id) = caller.method.session_id() {
        app.store.revoke_session(session_id).await?;
        tracing::info!(user = %caller.user.user_name, "logout");
        audit::record(
            &app,
            Event::by(&caller, "logout")
                .target(&caller.user.user_name)
                .detail("session", session_id),
        )
        .await;
    }
    Ok(Json(EmptyResponse {}))
}

pub async fn info(caller: Authorized<op::GetAuthenticationInfo>) -> Json<AuthenticationInfo> {
    let expires_at = match &caller.method {
        Method::Bearer { expires_at, .. } => Some(*expires_at),
        _ => None,
    };
    Json(AuthenticationInfo {
        has_elevated_permissions: false,
        refresh_token_url: REFRESH_TOKEN_URL.into(),
        expires_at,
    })
}
