//! The reply of a key listing, written straight from the store's records.
//!
//! The JSON is exactly that of `ApiKeysResponse` (the tests below compare them), written by
//! hand: field names are constants and timestamps are digits, so neither needs serde_json's
//! escaping loop, and a string with nothing to escape (ids, user names, most descriptions) is
//! copied after one branch-free scan. That loop was a fifth of a 1,000-key listing's
//! instructions. Any string that does need escaping goes through serde_json itself, so the
//! output cannot differ from what serde would write.

use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};

use crate::domain::model::{platform_assignments, ApiKeyRecord, Timestamp};
use crate::domain::rfc3339;
use crate::http::error::ApiError;

/// Whether JSON needs `b` escaped inside a string (serde_json escapes exactly these: control
/// characters, `"` and `\`; everything else, UTF-8 included, is written as it is).
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// `text` as a JSON string.
fn string(out: &mut Vec<u8>, text: &str) -> serde_json::Result<()> {
    // No early exit: the compiler turns this into a vector scan.
    let plain = !text.bytes().fold(false, |any, b| any | needs_escape(b));
    if plain {
        quoted(out, text);
        Ok(())
    } else {
        serde_json::to_writer(&mut *out, text)
    }
}

/// `text`, which has nothing to escape, as a JSON string.
fn quoted(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

fn timestamp(out: &mut Vec<u8>, t: &Timestamp) -> serde_json::Result<()> {
    let mut buf = [0u8; 24];
    match rfc3339::millis(t, &mut buf) {
        Some(text) => {
            quoted(out, text);
            Ok(())
        }
        // Outside years 0..=9999: chrono's form, as `model::ts` writes it.
        None => string(out, &t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    }
}

fn body(keys: &[ApiKeyRecord]) -> serde_json::Result<Vec<u8>> {
    // ~250 bytes per key: one allocation for the whole reply in the common case.
    let mut out = Vec::with_capacity(64 + 256 * keys.len());
    out.extend_from_slice(b"{\"keys\":[");
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"id\":");
        string(&mut out, &k.id)?;
        out.extend_from_slice(b",\"user_id\":");
        string(&mut out, &k.user_name)?;
        out.extend_from_slice(b",\"description\":");
        string(&mut out, &k.description)?;
        out.extend_from_slice(b",\"creation_date\":");
        timestamp(&mut out, &k.created_at)?;
        if let Some(t) = &k.expires_at {
            out.extend_from_slice(b",\"expiration_date\":");
            timestamp(&mut out, t)?;
        }
        if let Some(roles) = &k.platform_roles {
            out.extend_from_slice(b",\"role_assignments\":");
            serde_json::to_writer(&mut out, &platform_assignments(roles))?;
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
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
        // Every byte value that JSON escapes or passes through, in each string field, and
        // timestamps outside the years the hand-written form covers.
        let odd: String = (0u8..0x80)
            .map(char::from)
            .chain("é€😀\u{7f}".chars())
            .collect();
        let far = chrono::DateTime::from_timestamp_millis(253_402_300_800_123).unwrap();
        let early = chrono::DateTime::from_timestamp_millis(-62_167_219_200_001).unwrap();
        let strange = ApiKeyRecord {
            id: odd.clone(),
            user_name: format!("\\{odd}\""),
            description: odd,
            created_at: far,
            expires_at: Some(early),
            ..plain.clone()
        };
        for keys in [vec![], vec![plain.clone()], vec![plain, full, strange]] {
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
