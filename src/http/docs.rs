//! `GET /api-docs/swagger.json`: the API description of what this server serves.
//!
//! It is the official ECE swagger for the identity tags (`spec/ece-identity-swagger.json`,
//! embedded at build time) with the security-realm operations and definitions of
//! `spec/ece-realms-swagger.json` merged in (the SAML realm configuration included), trimmed to
//! the operations in `rbac::OPERATIONS`: it names every served operation and only those; a test
//! checks the two agree.

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde_json::Value;

use crate::domain::rbac::OPERATIONS;

static OFFICIAL: &str = include_str!("../../spec/ece-identity-swagger.json");
static REALMS: &str = include_str!("../../spec/ece-realms-swagger.json");

/// The two official files as one: the realms file's paths, definitions and tags added to the
/// identity file's (a definition both have, such as `BasicFailedReply`, is the identity file's).
pub fn merged() -> Value {
    let mut doc: Value = serde_json::from_str(OFFICIAL).unwrap_or_default();
    let realms: Value = serde_json::from_str(REALMS).unwrap_or_default();
    for section in ["paths", "definitions"] {
        if let (Some(into), Some(from)) = (
            doc.get_mut(section).and_then(Value::as_object_mut),
            realms.get(section).and_then(Value::as_object),
        ) {
            for (k, v) in from {
                into.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    if let (Some(into), Some(from)) = (
        doc.get_mut("tags").and_then(Value::as_array_mut),
        realms.get("tags").and_then(Value::as_array),
    ) {
        for tag in from {
            if !into.iter().any(|t| t["name"] == tag["name"]) {
                into.push(tag.clone());
            }
        }
    }
    doc
}

/// The official description filtered to the served operations.
pub fn description() -> Value {
    let mut doc = merged();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, ops) in paths.iter_mut() {
            if let Some(ops) = ops.as_object_mut() {
                ops.retain(|method, _| {
                    OPERATIONS
                        .iter()
                        .any(|o| o.path == path && o.method.eq_ignore_ascii_case(method))
                });
            }
        }
        paths.retain(|_, ops| ops.as_object().is_some_and(|o| !o.is_empty()));
    }
    doc["host"] = Value::Null;
    if let Some(obj) = doc.as_object_mut() {
        obj.remove("host");
        obj.insert("schemes".into(), serde_json::json!(["http", "https"]));
    }
    doc
}

/// The description, built and serialised once: it only depends on what is compiled in.
pub async fn swagger() -> impl IntoResponse {
    static BODY: OnceLock<Bytes> = OnceLock::new();
    let body = BODY.get_or_init(|| Bytes::from(description().to_string()));
    ([(CONTENT_TYPE, "application/json")], body.clone())
}
