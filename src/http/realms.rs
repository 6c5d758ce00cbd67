//! `/platform/configuration/security/realms...` (tag PlatformConfigurationSecurity): the list of
//! realms (native first), their order, and the LDAP, Active Directory and SAML configurations.
//!
//! Settings are validated by `crate::domain::realms`; the secret fields are split off, sealed
//! with the realm secrets key (`crate::security::sealed`) and never sent back, logged or audited.
//! An update that omits a secret keeps the stored one (an empty string removes it); an update
//! that leaves the secrets as they are keeps the very same sealed value.
//! Writes are compare-and-swap on the realm's version: with `?version=` a stale version is a
//! 409 `security_realm.version_conflict`; without it the update applies to the latest state.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde_json::{json, Value};

mod secrets;

use super::PathArgs;
use crate::domain::model::{fmt_ts, EmptyResponse};
use crate::domain::rbac::op;
use crate::domain::realms::{
    validate_settings, RealmRecord, RealmSecrets, RealmType, ReorderRequest, SecurityRealmInfo,
    NATIVE_REALM_ID,
};
use crate::http::audit::{self, Event};
use crate::http::auth::{Authorized, Caller};
use crate::http::error::{ApiError, ApiResult, Code};
use crate::http::json::ValidJson;
use crate::http::AppState;
use crate::store::{RealmWrite, ReorderOutcome};
use secrets::{check_bind_password, open_secrets, seal_secrets};

fn not_found(t: RealmType, id: &str) -> ApiError {
    ApiError::new(
        Code::RealmNotFound,
        format!("The {} realm [{id}] cannot be found.", t.label()),
    )
}

fn version_conflict(id: &str) -> ApiError {
    ApiError::new(
        Code::RealmVersionConflict,
        format!("The realm [{id}] was changed since that version: read it again."),
    )
    .with_fields(["version"])
}

fn order_conflict() -> ApiError {
    ApiError::new(
        Code::RealmOrderConflict,
        "The realm order is already in use.",
    )
    .with_fields(["order"])
}

/// The `version` query parameter, when given. The spec types it as a string: a value that is not
/// a version number (empty included) can match no stored version, so it is read as
/// [`NO_VERSION`] and the write answers 409 `security_realm.version_conflict` (a status both
/// operations document) once the realm is found.
fn query_version(query: Option<&str>) -> Option<i64> {
    let query = query?;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == "version" {
            return Some(
                value
                    .parse::<i64>()
                    .ok()
                    .filter(|v| *v > 0)
                    .unwrap_or(NO_VERSION),
            );
        }
    }
    None
}

/// A version no realm has (versions start at 1).
const NO_VERSION: i64 = 0;

/// The resource headers of a realm reply.
fn with_headers(status: StatusCode, realm: &RealmRecord, body: Value) -> Response {
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    put("x-cloud-resource-version", realm.version.to_string());
    put("x-cloud-resource-created", fmt_ts(&realm.created_at));
    put("x-cloud-resource-last-modified", fmt_ts(&realm.updated_at));
    (status, headers, Json(body)).into_response()
}

async fn audit_write(app: &AppState, caller: &Caller, kind: &'static str, realm: &RealmRecord) {
    audit::record(
        app,
        Event::by(caller, kind)
            .target(&realm.id)
            .detail("type", realm.realm_type.as_str())
            .detail("order", realm.position)
            .detail("enabled", realm.enabled),
    )
    .await;
}

// --- handlers -----------------------------------------------------------------------------

pub async fn list(
    State(app): State<AppState>,
    _: Authorized<op::GetSecurityRealmConfigurations>,
) -> ApiResult<Json<Value>> {
    let mut realms: Vec<SecurityRealmInfo> = vec![SecurityRealmInfo::native()];
    realms.extend(app.store.list_realms().await?.iter().map(RealmRecord::info));
    Ok(Json(json!({ "realms": realms })))
}

pub async fn reorder(
    State(app): State<AppState>,
    caller: Authorized<op::ReorderSecurityRealms>,
    ValidJson(body): ValidJson<ReorderRequest>,
) -> ApiResult<Json<EmptyResponse>> {
    // `native` is always evaluated first: it may be named, first only.
    let mut ids = body.realms;
    if ids.first().map(String::as_str) == Some(NATIVE_REALM_ID) {
        ids.remove(0);
    }
    let mut seen = std::collections::HashSet::new();
    let invalid: Vec<String> = ids
        .iter()
        .filter(|id| id.as_str() == NATIVE_REALM_ID || !seen.insert(id.as_str()))
        .cloned()
        .collect();
    if !invalid.is_empty() {
        return Err(ApiError::new(
            Code::RealmInvalidIds,
            format!(
                "Invalid ids: [{}] (each realm once; native is always first).",
                invalid.join(", ")
            ),
        )
        .with_fields(invalid));
    }
    match app.store.reorder_realms(&ids, Utc::now()).await? {
        ReorderOutcome::Done => {}
        ReorderOutcome::Mismatch { unknown, .. } if !unknown.is_empty() => {
            return Err(ApiError::new(
                Code::RealmInvalidIds,
                format!("No such realms: [{}].", unknown.join(", ")),
            )
            .with_fields(unknown))
        }
        ReorderOutcome::Mismatch { missing, .. } => {
            return Err(ApiError::new(
                Code::RealmMissingIds,
                format!(
                    "Every realm must be listed; missing: [{}].",
                    missing.join(", ")
                ),
            )
            .with_fields(missing))
        }
    }
    tracing::info!(by = %caller.user.user_name, "security realms reordered");
    audit::record(
        &app,
        Event::by(&caller, "realm.reorder").detail("realms", ids.clone()),
    )
    .await;
    Ok(Json(EmptyResponse {}))
}

async fn create(app: AppState, caller: &Caller, t: RealmType, body: Value) -> ApiResult<Response> {
    let v = validate_settings(t, &body)?;
    let secrets = v.secrets.merged_over(&RealmSecrets::default());
    let now = Utc::now();
    let realm = RealmRecord {
        sealed_secrets: seal_secrets(&app, t, &v.id, &secrets)?,
        id: v.id,
        realm_type: t,
        name: v.name,
        position: v.order.unwrap_or(0),
        enabled: v.enabled.unwrap_or(true),
        settings: v.settings,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    check_bind_password(&realm, &secrets)?;
    let stored = match app.store.insert_realm(&realm).await? {
        RealmWrite::Done(r) => r,
        RealmWrite::IdConflict => {
            return Err(ApiError::new(
                Code::RealmIdConflict,
                format!("The realm id [{}] is already in use.", realm.id),
            )
            .with_fields(["id"]))
        }
        RealmWrite::OrderConflict => return Err(order_conflict()),
        other => return Err(ApiError::internal(format!("realm insert: {other:?}"))),
    };
    tracing::info!(realm = %stored.id, by = %caller.user.user_name, "security realm created");
    audit_write(&app, caller, "realm.create", &stored).await;
    Ok(with_headers(StatusCode::CREATED, &stored, json!({})))
}

async fn get(app: AppState, t: RealmType, id: &str) -> ApiResult<Response> {
    match app.store.get_realm(id).await? {
        Some(r) if r.realm_type == t => Ok(with_headers(StatusCode::OK, &r, r.to_json())),
        _ => Err(not_found(t, id)),
    }
}

async fn update(
    app: AppState,
    caller: &Caller,
    t: RealmType,
    id: &str,
    query: Option<&str>,
    body: Value,
) -> ApiResult<Response> {
    let expected = query_version(query);
    let v = validate_settings(t, &body)?;
    if v.id != id {
        return Err(ApiError::new(
            Code::RealmInvalidId,
            format!(
                "The body's id [{}] is not the realm's id [{id}]: a realm cannot be renamed.",
                v.id
            ),
        )
        .with_fields(["id"]));
    }
    let key = format!("realm:{id}");
    let mut cas = crate::store::cas::Retry::lock(Some(&app.row_locks), &key, "realm update").await;
    loop {
        let current = match app.store.get_realm(id).await? {
            Some(c) if c.realm_type == t => c,
            Some(c) => {
                return Err(ApiError::new(
                    Code::RealmInvalidType,
                    format!(
                        "The realm [{id}] is a {} realm: update it through its own path.",
                        c.realm_type.label()
                    ),
                ))
            }
            None => return Err(not_found(t, id)),
        };
        if expected.is_some_and(|e| e != current.version) {
            return Err(version_conflict(id));
        }
        let stored_secrets = open_secrets(&app, &current)?;
        let secrets = v.secrets.clone().merged_over(&stored_secrets);
        let sealed = if secrets == stored_secrets {
            current.sealed_secrets.clone()
        } else {
            seal_secrets(&app, t, id, &secrets)?
        };
        let realm = RealmRecord {
            id: id.to_string(),
            realm_type: t,
            name: v.name.clone(),
            position: v.order.unwrap_or(current.position),
            enabled: v.enabled.unwrap_or(current.enabled),
            settings: v.settings.clone(),
            sealed_secrets: sealed,
            version: current.version,
            created_at: current.created_at,
            updated_at: Utc::now(),
        };
        check_bind_password(&realm, &secrets)?;
        match app.store.update_realm_cas(&realm).await? {
            RealmWrite::Done(stored) => {
                tracing::info!(realm = %id, by = %caller.user.user_name, "security realm updated");
                audit_write(&app, caller, "realm.update", &stored).await;
                return Ok(with_headers(StatusCode::OK, &stored, json!({})));
            }
            RealmWrite::NotFound => return Err(not_found(t, id)),
            RealmWrite::OrderConflict => return Err(order_conflict()),
            RealmWrite::VersionConflict if expected.is_some() => return Err(version_conflict(id)),
            RealmWrite::VersionConflict | RealmWrite::IdConflict => cas.lost().await?,
        }
    }
}

async fn delete(
    app: AppState,
    caller: &Caller,
    t: RealmType,
    id: &str,
    query: Option<&str>,
) -> ApiResult<Json<EmptyResponse>> {
    let expected = query_version(query);
    match app.store.delete_realm(id, t, expected).await? {
        RealmWrite::Done(gone) => {
            tracing::info!(realm = %id, by = %caller.user.user_name, "security realm deleted");
            audit_write(&app, caller, "realm.delete", &gone).await;
            Ok(Json(EmptyResponse {}))
        }
        RealmWrite::VersionConflict => Err(version_conflict(id)),
        _ => Err(not_found(t, id)),
    }
}

/// The four operations of one realm type, as axum handlers.
macro_rules! realm_type_handlers {
    ($t:expr, $create:ident, $get:ident, $update:ident, $delete:ident,
     $op_create:ident, $op_get:ident, $op_update:ident, $op_delete:ident) => {
        pub async fn $create(
            State(app): State<AppState>,
            caller: Authorized<op::$op_create>,
            ValidJson(body): ValidJson<Value>,
        ) -> ApiResult<Response> {
            create(app, &caller, $t, body).await
        }

        pub async fn $get(
            State(app): State<AppState>,
            _: Authorized<op::$op_get>,
            PathArgs(id): PathArgs<String>,
        ) -> ApiResult<Response> {
            get(app, $t, &id).await
        }

        pub async fn $update(
            State(app): State<AppState>,
            caller: Authorized<op::$op_update>,
            PathArgs(id): PathArgs<String>,
            RawQuery(query): RawQuery,
            ValidJson(body): ValidJson<Value>,
        ) -> ApiResult<Response> {
            update(app, &caller, $t, &id, query.as_deref(), body).await
        }

        pub async fn $delete(
            State(app): State<AppState>,
            caller: Authorized<op::$op_delete>,
            PathArgs(id): PathArgs<String>,
            RawQuery(query): RawQuery,
        ) -> ApiResult<Json<EmptyResponse>> {
            delete(app, &caller, $t, &id, query.as_deref()).await
        }
    };
}

realm_type_handlers!(
    RealmType::Ldap,
    create_ldap,
    get_ldap,
    update_ldap,
    delete_ldap,
    CreateLdapConfiguration,
    GetLdapConfiguration,
    UpdateLdapConfiguration,
    DeleteLdapConfiguration
);
realm_type_handlers!(
    RealmType::ActiveDirectory,
    create_ad,
    get_ad,
    update_ad,
    delete_ad,
    CreateActiveDirectoryConfiguration,
    GetActiveDirectoryConfiguration,
    UpdateActiveDirectoryConfiguration,
    DeleteActiveDirectoryConfiguration
);
realm_type_handlers!(
    RealmType::Saml,
    create_saml,
    get_saml,
    update_saml,
    delete_saml,
    CreateSamlConfiguration,
    GetSamlConfiguration,
    UpdateSamlConfiguration,
    DeleteSamlConfiguration
);
