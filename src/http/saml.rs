//! The HTTP side of SAML single sign-on: `GET /users/auth/methods` (which SAML realms a sign-in
//! page offers), `GET /users/auth/saml/_init` (redirect to the IdP) and
//! `POST /users/auth/saml/_callback` (the IdP's Response, form-encoded: the one endpoint that is
//! not JSON). The protocol itself is `crate::security::saml`'s; here the user is recorded (as for
//! directory sign-in, `realm_login::record`), the session started as `_login` does, and every
//! refused response leaves an audit event `saml.signin` naming the realm and the cause.
//!
//! Which realm `_init` uses: `?realm_id=`, else the first enabled SAML realm by `order`
//! (docs/realms.md, "SAML sign-in"). The client's `?state=` comes back after sign-in in the
//! redirect to `/sso/token#<token>?state=<state>`, as `_login`'s `login_state` does.

use axum::extract::{RawQuery, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::domain::model::{AvailableAuthenticationMethods, EmptyResponse};
use crate::http::audit::{self, ClientAddr, Event};
use crate::http::error::{ApiError, ApiResult, Code};
use crate::http::json::LimitedBody;
use crate::http::AppState;
use crate::security::directory::DirectoryUser;
use crate::security::realm_signin::SignedIn;
use crate::security::saml::{self, SamlError, SamlUser};

pub const INIT_PATH: &str = "/api/v1/users/auth/saml/_init";

/// Without the database, a sign-in page still gets an answer (password only): `methods` is what
/// a client asks first, and it must not turn an outage into a broken page.
pub async fn methods(State(app): State<AppState>) -> Json<AvailableAuthenticationMethods> {
    let realms = app.store.list_realms().await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "methods: the realms could not be read; offering password only");
        Vec::new()
    });
    let sso_methods: Vec<_> = saml::enabled(&realms)
        .into_iter()
        .map(|r| {
            json!({
                "name": r.name,
                "sso_type": "saml",
                "url": format!("{INIT_PATH}?realm_id={}", urlencoding::encode(&r.id)),
            })
        })
        .collect();
    Json(AvailableAuthenticationMethods {
        password: true,
        saml: !sso_methods.is_empty(),
        openid: false,
        sso_methods,
    })
}

pub async fn init(State(app): State<AppState>, RawQuery(query): RawQuery) -> ApiResult<Response> {
    let params = form_pairs(query.as_deref().unwrap_or_default());
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let realm_id = param("realm_id");
    let now = app.settings.clock.now();
    let within = metadata_within(&app);
    match saml::begin(
        app.store.as_ref(),
        realm_id.as_deref(),
        param("state"),
        now,
        within,
    )
    .await
    {
        Ok(location) => Ok(found(location)),
        Err(e) => Err(init_error(realm_id.as_deref(), e)),
    }
}

pub async fn callback(
    State(app): State<AppState>,
    ClientAddr(source): ClientAddr,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Response> {
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let fields = match std::str::from_utf8(&body) {
        Ok(text) if form => form_pairs(text),
        _ => Vec::new(),
    };
    let Some((_, response)) = fields.iter().find(|(k, _)| k == "SAMLResponse") else {
        return Err(refused(&app, source, None, "no SAMLResponse form field".into()).await);
    };
    let now = app.settings.clock.now();
    let within = metadata_within(&app);
    let user = match saml::finish(
        app.store.as_ref(),
        &app.sealer,
        &app.settings.xmlsec1,
        response,
        now,
        within,
    )
    .await
    {
        Ok(user) => user,
        Err((realm, SamlError::Refused(cause))) => {
            return Err(refused(&app, source, realm.as_deref(), cause).await)
        }
        Err((realm, e)) => return Err(init_error(realm.as_deref(), e)),
    };
    let state = user.state.clone();
    let record = if user.roles.is_empty() {
        end_if_unmapped(&app, source, &user).await?;
        None
    } else {
        crate::http::realm_login::record(&app, &user.user_name, signed_in(&user)).await?
    };
    let Some(record) = record.filter(|u| u.enabled) else {
        let cause = if user.roles.is_empty() {
            "no_role: the realm's role mappings give this user no role"
        } else {
            "the user name belongs to a native user or another realm's user, or is disabled"
        };
        let realm = user.realm.id.clone();
        return Err(refused(
            &app,
            source,
            Some(&realm),
            format!("{} ({cause})", user.user_name),
        )
        .await);
    };
    let event = Event::anonymous("saml.signin", source)
        .target(&record.user_name)
        .detail("realm", user.realm.id.as_str())
        .detail("result", "success");
    audit::record(&app, event).await;
    metrics::counter!("ece_realm_signins_total", "realm" => user.realm.id.clone(), "outcome" => "success")
        .increment(1);
    let (token, _) = crate::http::session::open_session(&app, source, &record, "saml").await?;
    let mut location = format!("/sso/token#{token}");
    if let Some(state) = state {
        location.push_str(&format!("?state={}", urlencoding::encode(&state)));
    }
    Ok(found(location))
}

fn found(location: String) -> Response {
    (
        StatusCode::FOUND,
        [(LOCATION, location)],
        Json(EmptyResponse {}),
    )
        .into_response()
}

/// The metadata fetch shares the directory realms' bounds (connect plus operation timeout).
fn metadata_within(app: &AppState) -> std::time::Duration {
    let t = app.settings.directory_timeouts;
    t.connect + t.operation
}

fn signed_in(user: &SamlUser) -> SignedIn {
    SignedIn {
        realm: user.realm.clone(),
        user: DirectoryUser {
            dn: user.dn.clone().unwrap_or_default(),
            groups: user.groups.clone(),
            full_name: user.full_name.clone(),
            email: user.email.clone(),
        },
        roles: user.roles.clone(),
    }
}

/// An external user of this realm whom it now maps to no role loses their sessions and keys, as
/// with directory realms (docs/realms.md, "External users").
async fn end_if_unmapped(
    app: &AppState,
    source: Option<std::net::IpAddr>,
    user: &SamlUser,
) -> ApiResult<()> {
    let Some(stored) = app.store.get_user(&user.user_name).await? else {
        return Ok(());
    };
    if stored.realm.as_ref() != Some(&user.realm) {
        return Ok(());
    }
    Ok(crate::http::realm_login::end_access(app, source, &user.user_name, &user.realm.id).await?)
}

/// A refused response: audited (`saml.signin`, failure, with the cause, within the bound on
/// refusals, `--audit-refusals-per-minute`) and logged, answered 401 without the cause (the
/// client learns nothing about which check failed).
async fn refused(
    app: &AppState,
    source: Option<std::net::IpAddr>,
    realm: Option<&str>,
    cause: String,
) -> ApiError {
    tracing::warn!(realm = realm.unwrap_or("-"), %cause, "SAML response refused");
    metrics::counter!("ece_realm_signins_total", "realm" => realm.unwrap_or("-").to_string(), "outcome" => "refused")
        .increment(1);
    let mut event = Event::anonymous("saml.signin", source)
        .detail("result", "refused")
        .detail("cause", cause);
    if let Some(realm) = realm {
        event = event.detail("realm", realm);
    }
    // Within the replica's bound on refusals: anyone can post junk here.
    audit::refused(app, event).await;
    ApiError::new(
        Code::Unauthenticated,
        "The supplied SAML response is invalid; the audit log (event saml.signin) says why.",
    )
}

fn init_error(realm: Option<&str>, e: SamlError) -> ApiError {
    match e {
        SamlError::NoRealm(which) => ApiError::new(
            Code::NoAuthenticationCluster,
            format!("There is no enabled SAML realm{which}; an administrator must configure one."),
        ),
        SamlError::Unavailable(cause) | SamlError::Misconfigured(cause) => {
            tracing::warn!(realm = realm.unwrap_or("-"), %cause, "SAML realm unusable");
            ApiError::new(
                Code::AuthenticationClusterError,
                format!(
                    "The SAML realm [{}] cannot be used now; the server log says why.",
                    realm.unwrap_or("-")
                ),
            )
        }
        SamlError::Busy => ApiError::new(
            Code::TooManyRequests,
            "Too many SAML sign-ins are in progress; retry in a minute.",
        )
        .with_header("retry-after", "60"),
        SamlError::Refused(_) => ApiError::unauthenticated(),
        SamlError::Store(e) => e.into(),
    }
}

/// `application/x-www-form-urlencoded` pairs (a query string or a form body), decoded; a pair
/// that does not decode as UTF-8 is dropped.
fn form_pairs(text: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        urlencoding::decode(&s.replace('+', " "))
            .ok()
            .map(|c| c.into_owned())
    };
    text.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::form_pairs;

    #[test]
    fn form_fields_are_decoded() {
        let got = form_pairs("SAMLResponse=PD94%2Bbw%3D%3D&RelayState=a+b&x");
        assert_eq!(got[0], ("SAMLResponse".into(), "PD94+bw==".into()));
        assert_eq!(got[1], ("RelayState".into(), "a b".into()));
        assert_eq!(got[2], ("x".into(), "".into()));
    }
}
