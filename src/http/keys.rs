//! API keys (tag Authentication): the caller's own keys under `/users/auth/keys`, everybody's under
//! `/users/auth/keys/_all` and one user's under `/users/{user_id}/auth/keys`.
//!
//! The secret is returned once, by create; only its SHA-256 is stored. A deleted key stops
//! authenticating at the next request, since every request looks the key up.

mod listing;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::PathArgs;
use crate::domain::duration::{self, Expiration};
use crate::domain::model::{ApiKeyRecord, ApiKeyResponse, EmptyResponse, Timestamp};
use crate::domain::rbac::op;
use crate::domain::roles::Role;
use crate::http::audit::{self, Event};
use crate::http::auth::{Authorized, Caller};
use crate::http::error::{ApiError, ApiResult, Code};
use crate::http::json::ValidJson;
use crate::http::AppState;
use crate::security::crypto;
use crate::store::InsertKeyOutcome;

#[derive(Deserialize)]
pub struct CreateApiKeyRequest {
    description: String,
    #[serde(default)]
    expiration: Option<String>,
    #[serde(default)]
    role_assignments: Option<Value>,
}

#[derive(Deserialize)]
pub struct DeleteApiKeysRequest {
    keys: Vec<String>,
}

#[derive(Deserialize)]
pub struct DeleteUsersApiKeysRequest {
    user_api_keys: Vec<UserApiKey>,
}

#[derive(Deserialize)]
struct UserApiKey {
    user_id: String,
    api_key_id: String,
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(Code::ApiKeyInvalidInput, message).with_fields([field.to_string()])
}

/// The most key ids one bulk delete may name. Ten times the default per-user key limit: a real
/// client never needs more, and a bound keeps one request from holding the database's writer for
/// seconds (SQLite has one) or writing an oversized audit event.
pub const MAX_DELETE_IDS: usize = 1000;

/// Refuses a bulk delete naming more than [`MAX_DELETE_IDS`] keys, before anything is deleted.
fn within_delete_cap(field: &str, n: usize) -> ApiResult<()> {
    if n > MAX_DELETE_IDS {
        return Err(invalid(
            field,
            format!(
                "[{field}] names {n} keys; at most {MAX_DELETE_IDS} may be deleted per request."
            ),
        ));
    }
    Ok(())
}

fn key_not_found(id: &str) -> ApiError {
    ApiError::new(
        Code::ApiKeyNotFound,
        format!("The API key [{id}] can't be found."),
    )
}

/// `POST /users/auth/keys`: a new key for the caller, with its secret in the reply (the only
/// time it is shown).
pub async fn create(
    State(app): State<AppState>,
    caller: Authorized<op::CreateApiKey>,
    ValidJson(req): ValidJson<CreateApiKeyRequest>,
) -> ApiResult<(StatusCode, Json<ApiKeyResponse>)> {
    if caller.user.builtin {
        return Err(ApiError::new(
            Code::ApiKeyInvalidInput,
            "Built-in users (admin, readonly) cannot create API keys, as in ECE: create a native user with the \
             roles the key needs and create the key as that user.",
        ));
    }
    let description = valid_description(&req.description)?;
    let now = app.settings.clock.now();
    let expires_at = expiry(&app, req.expiration.as_deref(), now)?;
    let platform_roles = key_roles(&caller, req.role_assignments)?;
    let key = crypto::new_secret();
    let record = ApiKeyRecord {
        id: crypto::new_id(),
        user_name: caller.user.user_name.clone(),
        description,
        key_hash: crypto::digest(&key),
        created_at: now,
        expires_at,
        platform_roles,
    };
    store_new_key(&app, &record, now).await?;
    tracing::info!(user = %record.user_name, key_id = %record.id, "API key created");
    audit::record(
        &app,
        Event::by(&caller, "api_key.create")
            .target(&record.id)
            .detail("owner", record.user_name.as_str()),
    )
    .await;
    let mut response = ApiKeyResponse::from_record(&record);
    response.key = Some(key);
    Ok((StatusCode::CREATED, Json(response)))
}

/// The trimmed description: 1 to 255 characters, none of them a control character.
fn valid_description(raw: &str) -> ApiResult<String> {
    let description = raw.trim().to_string();
    if description.is_empty()
        || description.chars().count() > 255
        || description.chars().any(char::is_control)
    {
        return Err(invalid(
            "description",
            "The description must be 1 to 255 characters, without control characters.",
        ));
    }
    Ok(description)
}

/// When a new key expires: the default lifetime unless the request says otherwise.
fn expiry(
    app: &AppState,
    expiration: Option<&str>,
    now: Timestamp,
) -> ApiResult<Option<Timestamp>> {
    match expiration.map(duration::parse) {
        None => Ok(Some(now + app.settings.default_api_key_lifetime)),
        Some(Ok(Expiration::After(d))) => Ok(Some(now + d)),
        Some(Ok(Expiration::Never)) => Ok(None),
        Some(Err(message)) => Err(invalid("expiration", message)),
    }
}

/// The platform roles a new key is restricted to: those asked for (each one the creator holds),
/// else, when not specified, the creator's. When the creator is itself a restricted API key,
/// that is the restriction, not the owner's full set of roles: a key never mints a key with more
/// than it has.
fn key_roles(caller: &Caller, asked: Option<Value>) -> ApiResult<Option<Vec<Role>>> {
    let asked = match asked {
        None | Some(Value::Null) => None,
        Some(ra) => restrict_roles(&ra, &caller.roles)?,
    };
    Ok(
        asked
            .or_else(|| (caller.roles[..] != caller.user.roles[..]).then(|| caller.roles.to_vec())),
    )
}

/// Stores the key unless its owner is at the per-user limit (or gone).
async fn store_new_key(app: &AppState, record: &ApiKeyRecord, now: Timestamp) -> ApiResult<()> {
    match app
        .store
        .insert_api_key(record, app.settings.max_api_keys_per_user, now)
        .await?
    {
        InsertKeyOutcome::Inserted => Ok(()),
        InsertKeyOutcome::LimitReached => Err(ApiError::new(
            Code::ApiKeyInvalidInput,
            format!(
                "You already have {} active API keys, the most allowed; delete one first.",
                app.settings.max_api_keys_per_user
            ),
        )),
        InsertKeyOutcome::UserNotFound => Err(ApiError::unauthenticated()),
    }
}

/// Checks the roles a key asks for: platform roles only, each one the creator holds. `None` when
/// the request names no platform roles at all (`{}`, `{"platform": null}`): not specified.
fn restrict_roles(ra: &Value, creator_roles: &[Role]) -> ApiResult<Option<Vec<Role>>> {
    let field = "role_assignments";
    let Some(obj) = ra.as_object() else {
        return Err(invalid(field, "[role_assignments] must be an object."));
    };
    if obj
        .iter()
        .any(|(k, v)| k != "platform" && !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
    {
        return Err(invalid(
            field,
            "Only platform role assignments can be given to an API key on this installation.",
        ));
    }
    let platform = match obj.get("platform") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(platform)) => platform.clone(),
        Some(_) => {
            return Err(invalid(
                field,
                "[role_assignments.platform] must be an array.",
            ))
        }
    };
    let mut roles = Vec::with_capacity(platform.len());
    for p in &platform {
        let id = p.get("role_id").and_then(Value::as_str).unwrap_or("");
        match Role::parse(id).filter(|r| creator_roles.contains(r)) {
            Some(role) => roles.push(role),
            None => {
                return Err(invalid(
                    field,
                    format!(
                    "An API key can only carry roles its creator holds; [{id}] is not one of them."
                ),
                ))
            }
        }
    }
    Ok(Some(roles))
}

pub async fn list_own(
    State(app): State<AppState>,
    caller: Authorized<op::GetApiKeys>,
) -> ApiResult<Response> {
    Ok(listing::response(
        &app.store
            .list_api_keys(Some(&caller.user.user_name))
            .await?,
    ))
}

pub async fn list_all(
    State(app): State<AppState>,
    _: Authorized<op::GetUsersApiKeys>,
) -> ApiResult<Response> {
    Ok(listing::response(&app.store.list_api_keys(None).await?))
}

pub async fn get_own(
    State(app): State<AppState>,
    caller: Authorized<op::GetApiKey>,
    PathArgs(id): PathArgs<String>,
) -> ApiResult<Json<ApiKeyResponse>> {
    get_key(&app, &caller.user.user_name, &id).await
}

pub async fn delete_own(
    State(app): State<AppState>,
    caller: Authorized<op::DeleteApiKeys>,
    ValidJson(req): ValidJson<DeleteApiKeysRequest>,
) -> ApiResult<Json<EmptyResponse>> {
    within_delete_cap("keys", req.keys.len())?;
    // Ids that are not the caller's keys are ignored: deleting is idempotent.
    let n = app
        .store
        .delete_api_keys(&caller.user.user_name, &req.keys)
        .await?;
    tracing::info!(user = %caller.user.user_name, deleted = n, "API keys deleted");
    audit::record(
        &app,
        Event::by(&caller, "api_key.delete")
            .detail("owner", caller.user.user_name.as_str())
            .detail("key_ids", req.keys.clone())
            .detail("deleted", n),
    )
    .await;
    Ok(Json(EmptyResponse {}))
}

pub async fn delete_one_own(
    State(app): State<AppState>,
    caller: Authorized<op::DeleteApiKey>,
    PathArgs(id): PathArgs<String>,
) -> ApiResult<Json<EmptyResponse>> {
    delete_key(&app, &caller, &caller.user.user_name, &id).await
}

pub async fn delete_for_users(
    State(app): State<AppState>,
    caller: Authorized<op::DeleteUsersApiKeys>,
    ValidJson(req): ValidJson<DeleteUsersApiKeysRequest>,
) -> ApiResult<Json<EmptyResponse>> {
    within_delete_cap("user_api_keys", req.user_api_keys.len())?;
    for k in &req.user_api_keys {
        let n = app
            .store
            .delete_api_keys(&k.user_id, std::slice::from_ref(&k.api_key_id))
            .await?;
        audit::record(
            &app,
            Event::by(&caller, "api_key.delete")
                .target(&k.api_key_id)
                .detail("owner", k.user_id.as_str())
                .detail("deleted", n),
        )
        .await;
    }
    tracing::info!(by = %caller.user.user_name, count = req.user_api_keys.len(), "API keys of users deleted");
    Ok(Json(EmptyResponse {}))
}

async fn existing_user(app: &AppState, user_id: &str) -> ApiResult<()> {
    match app.store.get_user(user_id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::new(
            Code::ApiKeyUserNotFound,
            format!("The user [{user_id}] can't be found."),
        )),
    }
}

pub async fn list_user(
    State(app): State<AppState>,
    _: Authorized<op::GetUserApiKeys>,
    PathArgs(user_id): PathArgs<String>,
) -> ApiResult<Response> {
    existing_user(&app, &user_id).await?;
    Ok(listing::response(
        &app.store.list_api_keys(Some(&user_id)).await?,
    ))
}

pub async fn delete_all_user(
    State(app): State<AppState>,
    caller: Authorized<op::DeleteUserApiKeys>,
    PathArgs(user_id): PathArgs<String>,
) -> ApiResult<Json<EmptyResponse>> {
    existing_user(&app, &user_id).await?;
    let n = app.store.delete_all_api_keys(&user_id).await?;
    tracing::info!(user = %user_id, by = %caller.user.user_name, deleted = n, "all API keys of user deleted");
    audit::record(
        &app,
        Event::by(&caller, "api_key.delete")
            .detail("owner", user_id.as_str())
            .detail("all", true)
            .detail("deleted", n),
    )
    .await;
    Ok(Json(EmptyResponse {}))
}

pub async fn get_user_key(
    State(app): State<AppState>,
    _: Authorized<op::GetUserApiKey>,
    PathArgs((user_id, id)): PathArgs<(String, String)>,
) -> ApiResult<Json<ApiKeyResponse>> {
    get_key(&app, &user_id, &id).await
}

pub async fn delete_user_key(
    State(app): State<AppState>,
    caller: Authorized<op::DeleteUserApiKey>,
    PathArgs((user_id, id)): PathArgs<(String, String)>,
) -> ApiResult<Json<EmptyResponse>> {
    delete_key(&app, &caller, &user_id, &id).await
}

async fn get_key(app: &AppState, user: &str, id: &str) -> ApiResult<Json<ApiKeyResponse>> {
    let key = app
        .store
        .get_api_key(user, id)
        .await?
        .ok_or_else(|| key_not_found(id))?;
    Ok(Json(ApiKeyResponse::from_record(&key)))
}

async fn delete_key(
    app: &AppState,
    caller: &crate::http::auth::Caller,
    user: &str,
    id: &str,
) -> ApiResult<Json<EmptyResponse>> {
    if app.store.delete_api_keys(user, &[id.to_string()]).await? == 0 {
        return Err(key_not_found(id));
    }
    tracing::info!(user = %user, key_id = %id, "API key deleted");
    audit::record(
        app,
        Event::by(caller, "api_key.delete")
            .target(id)
            .detail("owner", user)
            .detail("deleted", 1),
    )
    .await;
    Ok(Json(EmptyResponse {}))
}
