//! The write-only secrets of a realm on their way in and out of the store: sealed with the
//! realm secrets key and bound to the realm (`crate::security::sealed`), opened only to merge an
//! update, never rendered.

use crate::domain::realms::{RealmRecord, RealmSecrets, RealmType};
use crate::http::error::{ApiError, ApiResult, Code};
use crate::http::AppState;

pub use crate::security::sealed::realm_context as seal_context;

pub fn open_secrets(app: &AppState, realm: &RealmRecord) -> ApiResult<RealmSecrets> {
    let Some(sealed) = &realm.sealed_secrets else {
        return Ok(RealmSecrets::default());
    };
    let clear = app
        .sealer
        .open(&seal_context(realm.realm_type, &realm.id), sealed)
        .map_err(|e| {
            tracing::error!(realm = %realm.id, error = %e, "cannot open the realm's secrets");
            ApiError::new(
                Code::RealmSecretsUnavailable,
                "The realm's stored secrets cannot be opened with this server's key (see --realm-secrets-key-file).",
            )
        })?;
    serde_json::from_slice(&clear)
        .map_err(|_| ApiError::internal("sealed realm secrets are not JSON"))
}

pub fn seal_secrets(
    app: &AppState,
    t: RealmType,
    id: &str,
    s: &RealmSecrets,
) -> ApiResult<Option<String>> {
    if s.is_empty() {
        return Ok(None);
    }
    let clear = serde_json::to_vec(s).map_err(ApiError::internal)?;
    Ok(Some(app.sealer.seal(&seal_context(t, id), &clear)))
}

/// A user_search LDAP realm that binds as `bind_dn` needs its password.
pub fn check_bind_password(realm: &RealmRecord, secrets: &RealmSecrets) -> ApiResult<()> {
    let s = &realm.settings;
    let binds = realm.realm_type == RealmType::Ldap
        && s["bind_type"] == "user_search"
        && s["bind_anonymously"] == false;
    if binds && secrets.bind_password.is_none() {
        return Err(ApiError::new(
            Code::InvalidJson,
            "[bind_password] is required to bind as [bind_dn] (or set [bind_anonymously]).",
        )
        .with_fields(["bind_password"]));
    }
    Ok(())
}
