//! `/users`, `/users/{user_name}` and `/user` (tag Users).
//!
//! Updates are JSON Merge Patches applied to the user as GET returns it; the result is validated
//! (see `crate::domain::users`) and written with compare-and-swap on the user's version, retried on a
//! concurrent write. A password change or a disable ends the user's sessions in the same
//! transaction; keys and Basic credentials stop working because every request re-reads the user.

use axum::extract::{RawQuery, State};
use axum::Json;
use chrono::Utc;
use serde_json::{json, Value};

use super::{query_flag, PathArgs};
use crate::domain::model::{EmptyResponse, UserRecord};
use crate::domain::rbac::op;
use crate::domain::roles::UserName;
use crate::domain::user_update::{authorize_update, refuse_rename, Editor, Update};
use crate::domain::users::{to_json, UserDoc};
use crate::http::audit::{self, Event};
use crate::http::auth::{Authorized, Caller, Method};
use crate::http::error::{ApiError, ApiResult, Code};
use crate::http::json::{merge, patch_object, ValidJson};
use crate::http::AppState;

fn not_found(name: &str) -> ApiError {
    ApiError::new(Code::UserNotFound, format!("User [{name}] not found."))
}

pub async fn list(
    State(app): State<AppState>,
    _: Authorized<op::GetUsers>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let include_disabled = query_flag(query.as_deref(), "include_disabled")?.unwrap_or(false);
    let users: Vec<Value> = app
        .store
        .list_users()
        .await?
        .iter()
        .filter(|u| include_disabled || u.enabled)
        .map(to_json)
        .collect();
    Ok(Json(serde_json::json!({ "users": users })))
}

pub async fn get(
    State(app): State<AppState>,
    _: Authorized<op::GetUser>,
    PathArgs(name): PathArgs<String>,
) -> ApiResult<Json<Value>> {
    let user = app
        .store
        .get_user(&name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    Ok(Json(to_json(&user)))
}

pub async fn get_current(caller: Authorized<op::GetCurrentUser>) -> Json<Value> {
    Json(to_json(&caller.user))
}

pub async fn create(
    State(app): State<AppState>,
    caller: Authorized<op::CreateUser>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    if !body.is_object() {
        return Err(ApiError::new(
            Code::InvalidJson,
            "The user must be a JSON object.",
        ));
    }
    let doc = user_doc(&body)?;
    let missing = |f: &str| {
        ApiError::new(Code::InvalidJson, format!("[{f}] is required.")).with_fields([f.to_string()])
    };
    let name = UserName::parse(
        doc.user_name
            .as_deref()
            .ok_or_else(|| missing("user_name"))?,
    )?;
    if doc.security.is_none() {
        return Err(missing("security"));
    }
    let wanted = doc.validate(None)?;
    let password = wanted
        .password
        .clone()
        .ok_or_else(|| missing("security.password"))?;
    let now = Utc::now();
    let user = UserRecord {
        full_name: wanted.full_name,
        email: wanted.email,
        enabled: wanted.enabled,
        ..UserRecord::new(
            name.as_str(),
            app.hasher
                .hash(password)
                .await
                .map_err(ApiError::internal)?,
            wanted.roles,
            Some(caller.user.user_name.clone()),
            now,
        )
    };
    match app.store.insert_user(&user).await {
        Ok(()) => {}
        Err(crate::store::StoreError::Conflict(_)) => {
            return Err(ApiError::new(
                Code::UserNameConflict,
                format!("The user name [{name}] is already in use."),
            )
            .with_fields(["user_name"]))
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(user = %name, by = %caller.user.user_name, "user created");
    audit::record(
        &app,
        Event::by(&caller, "user.create")
            .target(name.as_str())
            .detail("roles", json!(user.roles))
            .detail("enabled", user.enabled),
    )
    .await;
    Ok(Json(to_json(&user)))
}

pub async fn update(
    State(app): State<AppState>,
    caller: Authorized<op::UpdateUser>,
    PathArgs(name): PathArgs<String>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    apply_patch(&app, &caller, &name, patch_object(body)?, false)
        .await
        .map(Json)
}

pub async fn patch_current(
    State(app): State<AppState>,
    caller: Authorized<op::UpdateCurrentUser>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Json<Value>> {
    let name = caller.user.user_name.clone();
    apply_patch(&app, &caller, &name, patch_object(body)?, true)
        .await
        .map(Json)
}

pub async fn delete(
    State(app): State<AppState>,
    caller: Authorized<op::DeleteUser>,
    PathArgs(name): PathArgs<String>,
) -> ApiResult<Json<EmptyResponse>> {
    let user = app
        .store
        .get_user(&name)
        .await?
        .ok_or_else(|| not_found(&name))?;
    // An external user would come back at its next sign-in: the realm (disable it, or change its
    // role mappings) decides who signs in, not this endpoint.
    if user.is_external() {
        return Err(ApiError::new(
            Code::UserCannotModifyExternal,
            "External users cannot be deleted.",
        ));
    }
    if user.builtin {
        return Err(ApiError::new(
            Code::UserRestrictedDeletion,
            "Built-in users cannot be deleted.",
        ));
    }
    if user.user_name == caller.user.user_name {
        return Err(ApiError::new(
            Code::UserRestrictedDeletion,
            "You cannot delete the user you are signed in as.",
        ));
    }
    if !app.store.delete_user(&name).await? {
        return Err(not_found(&name));
    }
    tracing::info!(user = %name, by = %caller.user.user_name, "user deleted");
    audit::record(&app, Event::by(&caller, "user.delete").target(&name)).await;
    Ok(Json(EmptyResponse {}))
}

/// Merge-patches user `name`. `self_service`: the caller edits itself through `/user`, where
/// only the full name, email and password may change.
async fn apply_patch(
    app: &AppState,
    caller: &Caller,
    name: &str,
    patch: Value,
    self_service: bool,
) -> ApiResult<Value> {
    let mut new_hash: Option<String> = None;
    let key = format!("user:{name}");
    let mut cas = crate::store::cas::Retry::lock(Some(&app.row_locks), &key, "user update").await;
    loop {
        let current = app
            .store
            .get_user(name)
            .await?
            .ok_or_else(|| not_found(name))?;
        let doc = user_doc(&merge(&to_json(&current), &patch))?;
        refuse_rename(&current, doc.user_name.as_deref())?;
        let wanted = doc.validate(Some(&current))?;
        // A key restricted to fewer roles than its owner holds.
        let restricted_key = matches!(caller.method, Method::ApiKey { .. })
            && caller.user.roles.iter().any(|r| !caller.roles.contains(r));
        let editor = Editor {
            user_name: &caller.user.user_name,
            self_service,
            restricted_key,
        };
        if authorize_update(editor, &current, &wanted)? == Update::Nothing {
            return Ok(to_json(&current));
        }
        if let (Some(password), None) = (&wanted.password, &new_hash) {
            new_hash = Some(
                app.hasher
                    .hash(password.clone())
                    .await
                    .map_err(ApiError::internal)?,
            );
        }
        let disabled = current.enabled && !wanted.enabled;
        let end_sessions = wanted.password.is_some() || disabled;
        let keep_session = caller.method.session_id().filter(|_| self_service);
        let updated = UserRecord {
            full_name: wanted.full_name,
            email: wanted.email,
            roles: wanted.roles,
            enabled: wanted.enabled,
            password_hash: if wanted.password.is_some() {
                new_hash.clone().unwrap_or_default()
            } else {
                current.password_hash.clone()
            },
            updated_at: Utc::now(),
            updated_by: Some(caller.user.user_name.clone()),
            ..current.clone()
        };
        if let Some(stored) = app
            .store
            .update_user_cas(&updated, end_sessions, keep_session)
            .await?
        {
            tracing::info!(user = %name, by = %caller.user.user_name, password_changed = wanted.password.is_some(), "user updated");
            audit::user_changed(app, caller, &current, &stored, wanted.password.is_some()).await;
            return Ok(to_json(&stored));
        }
        cas.lost().await?;
    }
}

/// A user document from a JSON value (a merge patch's result), with the errors of a body.
pub fn user_doc(v: &Value) -> ApiResult<UserDoc> {
    crate::http::json::parse(&serde_json::to_vec(v).map_err(ApiError::internal)?)
}
