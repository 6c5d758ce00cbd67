//! The reply of a key listing, serialised straight from the store's records.
//!
//! The JSON is exactly that of `ApiKeysResponse` (the test below compares them), but the id, owner
//! and description are borrowed: building an `ApiKeyResponse` per key copied them (3,000
//! allocations for a user with 1,000 keys) only to serialise and drop them.

use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::domain::model::{platform_assignments, ts, ApiKeyRecord, Timestamp};
use crate::http::error::ApiError;

#[derive(Serialize)]
struct Listing<'a> {
    keys: Vec<Item<'a>>,
}

/// `ApiKeyResponse` without the secret (never listed), borrowing from the record.
#[derive(Serialize)]
struct Item<'a> {
    id: &'a str,
    user_id: &'a str,
    description: &'a str,
    #[serde(serialize_with = "ts_ref")]
    creation_date: &'a Timestamp,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ts_opt")]
    expiration_date: Option<&'a Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role_assignments: Option<Value>,
}

fn ts_ref<S: Serializer>(t: &&Timestamp, s: S) -> Result<S::Ok, S::Error> {
    ts(t, s)
}

fn ts_opt<S: Serializer>(t: &Option<&Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => ts(t, s),
        None => s.serialize_none(),
    }
}

fn body(keys: &[ApiKeyRecord]) -> serde_json::Result<Vec<u8>> {
    let listing = Listing {
        keys: keys
            .iter()
            .map(|k| Item {
                id: &k.id,
                user_id: &k.user_name,
                description: &k.description,
                creation_date: &k.created_at,
                expiration_date: k.expires_at.as_ref(),
                role_assignments: k.platform_roles.as_deref().map(platform_assignments),
            })
            .collect(),
    };
    // ~250 bytes per key: one allocation for the whole reply in the common case.
    let mut out = Vec::with_capacity(64 + 256 * keys.len());
    serde_json::to_writer(&mut out, &listing)?;
    Ok(out)
}

/// `{"keys": [...]}` as a JSON reply.
pub fn response(keys: &[ApiKeyRecord]) -> Response {
    match body(keys) {
        Ok(bytes) => (
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            bytes,
        )
            .into_response(),
        Err(e) => ApiError::internal(format!("key listing reply: {e}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{ApiKeyResponse, ApiKeysResponse};

    #[test]
    fn the_same_json_as_the_response_types() {
        let now = chrono::Utc::now();
        let plain = ApiKeyRecord {
            id: "k1".into(),
            user_name: "alice".into(),
            description: "with \"quotes\"".into(),
            key_hash: [7; 32],
            created_at: now,
            expires_at: None,
            platform_roles: None,
        };
        let full = ApiKeyRecord {
            id: "k2".into(),
            expires_at: Some(now + chrono::Duration::days(1)),
            platform_roles: Some(vec![crate::domain::roles::Role::parse(
                "ece_platform_viewer",
            )
            .unwrap()]),
            ..plain.clone()
        };
        for keys in [vec![], vec![plain, full]] {
            let expected = serde_json::to_vec(&ApiKeysResponse {
                keys: keys.iter().map(ApiKeyResponse::from_record).collect(),
            })
            .unwrap();
            assert_eq!(
                String::from_utf8(body(&keys).unwrap()).unwrap(),
                String::from_utf8(expected).unwrap()
            );
        }
    }
}
