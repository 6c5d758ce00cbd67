//! `/account`: the installation's single account (tag Accounts).
//!
//! PUT replaces the settings, PATCH applies a JSON Merge Patch to them; both validate the result
//! as an `AccountUpdateRequest` before writing, and write with compare-and-swap on the account's
//! version, retrying on a concurrent write, so no update is ever lost or half-applied.
//!
//! GET serves the reply from the per-replica cache (`crate::security::cache`) for at most 250 ms after
//! the account was read: an update through this replica is visible at once (a successful PUT or
//! PATCH clears the cache before its reply leaves), one through another replica within 250 ms.
//! Writes always start from the stored account, never from the cached reply.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::domain::model::default_trust;
use crate::domain::model::{AccountRecord, AccountResponse};
use crate::domain::rbac::op;
use crate::http::audit::{self, Event};
use crate::http::auth::{Authorized, Caller};
use crate::http::error::{ApiError, ApiResult, Code};
use crate::http::json::{merge, patch_object, MergePatch, ValidJson};
use crate::http::AppState;

pub async fn get(
    State(app): State<AppState>,
    _: Authorized<op::GetCurrentAccount>,
) -> ApiResult<Response> {
    // The body as serialized for an earlier reply: the hottest read of the API costs no
    // database round trip (a hop to sqlx's worker thread and back) and no serialization.
    let body = match app.authcache.account() {
        Some(body) => body,
        None => {
            let read = app.authcache.stamp();
            let body = Bytes::from(
                serde_json::to_vec(&response(current(&app).await?))
                    .map_err(|e| ApiError::internal(format!("account reply: {e}")))?,
            );
            app.authcache.put_account(body.clone(), read);
            body
        }
    };
    Ok((
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response())
}

pub async fn put(
    State(app): State<AppState>,
    caller: Authorized<op::UpdateCurrentAccount>,
    ValidJson(body): ValidJson<Value>,
) -> ApiResult<Json<AccountResponse>> {
    let trust = validate(&body)?;
    write(&app, &caller, |_| Ok(trust.clone())).await
}

pub async fn patch(
    State(app): State<AppState>,
    caller: Authorized<op::PatchCurrentAccount>,
    MergePatch(body): MergePatch,
) -> ApiResult<Json<AccountResponse>> {
    let patch = patch_object(body)?;
    write(&app, &caller, |account| {
        validate(&merge(&json!({ "trust": account.trust }), &patch))
    })
    .await
}

async fn current(app: &AppState) -> ApiResult<AccountRecord> {
    app.store
        .get_account()
        .await?
        .ok_or_else(|| ApiError::new(Code::AccountNotFound, "Account not found."))
}

/// Read, compute the new trust from the current account, compare-and-swap; retry on conflict.
async fn write(
    app: &AppState,
    caller: &Caller,
    compute: impl Fn(&AccountRecord) -> ApiResult<Value>,
) -> ApiResult<Json<AccountResponse>> {
    let mut cas =
        crate::store::cas::Retry::lock(Some(&app.row_locks), "account", "account update").await;
    loop {
        let account = current(app).await?;
        let trust = compute(&account)?;
        if trust == account.trust {
            return Ok(Json(response(account)));
        }
        if let Some(stored) = app
            .store
            .update_account_cas(&trust, account.version)
            .await?
        {
            audit::record(
                app,
                Event::by(caller, "account.update")
                    .target(&stored.id)
                    .detail("trust", stored.trust.clone()),
            )
            .await;
            return Ok(Json(response(stored)));
        }
        cas.lost().await?;
    }
}

/// Checks a document against `AccountUpdateRequest` and returns the trust settings it sets
/// (the default when absent or null). Additional properties of `trust` are kept, as the spec allows.
/// Public (as `http::validate_account`) for the fuzz targets.
pub fn validate(doc: &Value) -> ApiResult<Value> {
    let Some(obj) = doc.as_object() else {
        return Err(ApiError::new(
            Code::InvalidJson,
            "The account settings must be a JSON object.",
        ));
    };
    match obj.get("trust") {
        None | Some(Value::Null) => Ok(default_trust()),
        Some(Value::Object(trust)) => match trust.get("trust_all") {
            Some(Value::Bool(_)) => Ok(Value::Object(trust.clone())),
            None | Some(Value::Null) => Err(ApiError::new(
                Code::InvalidJson,
                "[trust.trust_all] is required.",
            )
            .with_fields(["trust.trust_all"])),
            Some(_) => Err(ApiError::new(
                Code::InvalidJson,
                "[trust.trust_all] must be a boolean.",
            )
            .with_fields(["trust.trust_all"])),
        },
        Some(_) => Err(
            ApiError::new(Code::InvalidJson, "[trust] must be an object.").with_fields(["trust"]),
        ),
    }
}

fn response(account: AccountRecord) -> AccountResponse {
    AccountResponse {
        id: account.id,
        trust: account.trust,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_trust() {
        assert_eq!(validate(&json!({})).unwrap(), json!({"trust_all": true}));
        assert_eq!(
            validate(&json!({"trust": null})).unwrap(),
            json!({"trust_all": true})
        );
        assert_eq!(
            validate(&json!({"trust": {"trust_all": false, "x": 1}})).unwrap(),
            json!({"trust_all": false, "x": 1})
        );
        assert_eq!(
            validate(&json!({"trust": {}})).unwrap_err().fields,
            vec!["trust.trust_all"]
        );
        assert_eq!(
            validate(&json!({"trust": {"trust_all": "yes"}}))
                .unwrap_err()
                .fields,
            vec!["trust.trust_all"]
        );
        assert!(validate(&json!({"trust": 1})).is_err());
        assert!(validate(&json!([1])).is_err());
    }
}
