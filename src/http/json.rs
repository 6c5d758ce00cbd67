//! Request bodies: a JSON extractor whose every failure is an ECE error, and JSON Merge Patch.
//!
//! axum's own `Json` rejections are plain text; clients of this API read `errors[].code`, so
//! [`ValidJson`] reports malformed JSON, wrong types and missing required fields as
//! `root.invalid_json_request` with `fields` naming the offending path (found with
//! `serde_path_to_error`), a body that is not sent as JSON as 415 and an oversized body as 413.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::http::error::{ApiError, Code};
use crate::http::AppState;

/// A JSON body deserialised into `T`, or an ECE error.
pub struct ValidJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ValidJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, app: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(req, app).await?;
        require_object(&bytes)?;
        parse(&bytes).map(ValidJson)
    }
}

/// The body of `patch-current-account`: a JSON Merge Patch object, or that object sent as a JSON
/// string. The spec declares this body `type: string`, and the official Go SDK, which has no text
/// producer for it, sends the patch as a JSON string literal (`"{\"trust\":{...}}"`). The string's
/// content goes through the same checks as any body; anything but an object, directly or inside
/// the string, is a 400.
pub struct MergePatch(pub Value);

impl FromRequest<AppState> for MergePatch {
    type Rejection = ApiError;

    async fn from_request(req: Request, app: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(req, app).await?;
        if first_byte(&bytes) == Some(b'"') {
            let text: String = parse(&bytes)?;
            require_object(text.as_bytes())?;
            return parse(text.as_bytes()).map(MergePatch);
        }
        require_object(&bytes)?;
        parse(&bytes).map(MergePatch)
    }
}

/// The body's bytes, after the content-type check, as ECE errors (413 past the body limit).
async fn read_body(req: Request, app: &AppState) -> Result<Bytes, ApiError> {
    let declared = check_content_type(req.headers())?;
    let bytes = limited_body(req, app).await?;
    if !declared && !bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(unsupported("none"));
    }
    Ok(bytes)
}

/// A request body of any type, read up to `--max-body-bytes` (413 past it): the SAML POST
/// binding's form, for one.
pub struct LimitedBody(pub Bytes);

impl FromRequest<AppState> for LimitedBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, app: &AppState) -> Result<Self, ApiError> {
        limited_body(req, app).await.map(LimitedBody)
    }
}

/// Reads the body, at most `--max-body-bytes` of it. The limit is applied here rather than by
/// axum's `DefaultBodyLimit` layer, which put one more extension into every request, bodiless
/// reads included. (A declared `Content-Length` over the limit was refused before routing, by
/// [`refuse_declared_oversize`]; this catches chunked bodies.)
async fn limited_body(req: Request, app: &AppState) -> Result<Bytes, ApiError> {
    let limit = app.settings.max_body_bytes;
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(ApiError::new(
            Code::PayloadTooLarge,
            "The request body is larger than the server accepts.",
        )),
        Err(e) => Err(ApiError::new(
            Code::InvalidJson,
            format!("The request body could not be read: {e}"),
        )),
    }
}

fn first_byte(bytes: &[u8]) -> Option<u8> {
    bytes.iter().copied().find(|b| !b.is_ascii_whitespace())
}

/// Every request body of this API is a JSON object (merge patches included); serde would
/// otherwise accept an array for a struct (`["admin","pw"]` as a login).
fn require_object(bytes: &[u8]) -> Result<(), ApiError> {
    if first_byte(bytes).is_some_and(|b| b != b'{') {
        return Err(ApiError::new(
            Code::InvalidJson,
            "The request body must be a JSON object.",
        ));
    }
    Ok(())
}

/// Accepts JSON media types only; returns whether a content type was sent at all (a request
/// without one may have no body, e.g. to get "a body is required" rather than a 415).
///
/// Anything else is a 415, `application/x-www-form-urlencoded` (what `curl -d` sends) and a
/// missing content type included: those are what a cross-site HTML form or a "simple"
/// cross-origin `fetch` can send without a CORS preflight, with the browser's cached
/// credentials. A JSON content type needs a preflight, which this server never grants.
fn check_content_type(headers: &HeaderMap) -> Result<bool, ApiError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(false);
    };
    let mime = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime == "application/json" || mime.ends_with("+json") {
        Ok(true)
    } else {
        Err(unsupported(&mime))
    }
}

fn unsupported(mime: &str) -> ApiError {
    ApiError::new(
        Code::UnsupportedMediaType,
        format!(
            "Unsupported content type [{mime}]: send the body with Content-Type: application/json."
        ),
    )
}

/// The 413 reply to a request whose declared `Content-Length` is over `max` (`--max-body-bytes`),
/// before any of its body is read; `None` for any other request. The body limit of
/// [`ValidJson`] only trips while reading, so a client announcing a huge body and sending
/// nothing would otherwise hold the request until the request timeout.
pub fn refuse_declared_oversize(
    headers: &axum::http::HeaderMap,
    max: usize,
) -> Option<axum::response::Response> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    declared.filter(|&n| n > max as u64).map(|_| {
        axum::response::IntoResponse::into_response(ApiError::new(
            Code::PayloadTooLarge,
            "The request body is larger than the server accepts.",
        ))
    })
}

/// Deserialises `bytes` into `T`, naming the offending field on failure.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            Code::InvalidJson,
            "A JSON request body is required.",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    if value.is_ok() {
        de.end().map_err(|e| {
            ApiError::new(
                Code::InvalidJson,
                format!("The request body is not valid JSON: {e}"),
            )
        })?;
        check_keys_and_text(bytes)?;
    }
    value.map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() || inner.is_io() {
            return ApiError::new(
                Code::InvalidJson,
                format!("The request body is not valid JSON: {inner}"),
            );
        }
        let message = inner.to_string();
        let field = missing_field(&message)
            .map(|name| {
                if path == "." {
                    name.to_string()
                } else {
                    format!("{path}.{name}")
                }
            })
            .unwrap_or(path);
        let message = strip_position(&message);
        let err = ApiError::new(
            Code::InvalidJson,
            format!("The request body does not match the schema: {message}"),
        );
        if field == "." || field.is_empty() {
            err
        } else {
            err.with_fields([field])
        }
    })
}

/// Refuses what serde_json accepts silently but this API never wants, anywhere in a body:
/// - an object with the same key twice: serde_json keeps the last one in a free-form value and
///   ignores unknown keys of a typed body, so the server and a proxy or client library could read
///   one body two ways (`{"user_name":"a",...,"user_name":"b"}`: `a` or `b`? tests/api/hostile.rs
///   sends such bodies);
/// - a NUL character in a string or a key: PostgreSQL can store it neither in `text` nor in
///   `jsonb`, so such a body (e.g. a `_login` user name "\u0000") would fail at the store with a
///   500 instead of here with a 400, and SQLite and PostgreSQL installations would disagree.
///
/// Runs on bodies that already parsed, so syntax errors keep their usual message.
fn check_keys_and_text(bytes: &[u8]) -> Result<(), ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize::<_, Checked>(&mut de)
        .map(|_| ())
        .map_err(|err| {
            let path = err.path().to_string();
            let err = ApiError::new(
                Code::InvalidJson,
                format!(
                    "The request body is not acceptable: {}",
                    strip_position(&err.into_inner().to_string())
                ),
            );
            if path == "." || path.is_empty() {
                err
            } else {
                err.with_fields([path])
            }
        })
}

/// A JSON value walked by [`check_keys_and_text`].
struct Checked;

impl<'de> serde::Deserialize<'de> for Checked {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

fn no_nul<E: serde::de::Error>(s: &str) -> Result<Checked, E> {
    if s.contains('\0') {
        Err(E::custom("a string contains a NUL character (\\u0000)"))
    } else {
        Ok(Checked)
    }
}

impl<'de> serde::de::Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Checked, E> {
        no_nul(s)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        use serde::de::Error;
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            no_nul::<A::Error>(&key)?;
            if let Some(dup) = seen.replace(key) {
                return Err(A::Error::custom(format!(
                    "the key [{dup}] appears more than once in an object"
                )));
            }
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

/// Extracts `x` from serde's "missing field `x`".
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// Drops serde's " at line L column C" suffix, meaningless to API users once the field is named.
fn strip_position(message: &str) -> &str {
    message.find(" at line ").map_or(message, |i| &message[..i])
}

/// A merge-patch body: must be a JSON object (the spec declares it as `type: string`, but only an
/// object can describe changes to an object).
pub fn patch_object(patch: Value) -> Result<Value, ApiError> {
    if patch.is_object() {
        Ok(patch)
    } else {
        Err(ApiError::new(
            Code::InvalidJson,
            "A merge patch must be a JSON object (RFC 7396), for example {\"trust\":{\"trust_all\":false}}.",
        ))
    }
}

/// Applies an RFC 7396 JSON Merge Patch to `target`.
pub fn merge(target: &Value, patch: &Value) -> Value {
    let mut merged = target.clone();
    json_patch::merge(&mut merged, patch);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Login {
        username: String,
        password: String,
        state: Option<Inner>,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        path: String,
    }

    #[test]
    fn names_missing_and_mistyped_fields() {
        let e = parse::<Login>(br#"{"username":"a"}"#).unwrap_err();
        assert_eq!(e.fields, vec!["password"]);
        let e = parse::<Login>(br#"{"username":"a","password":1}"#).unwrap_err();
        assert_eq!(e.fields, vec!["password"]);
        let e = parse::<Login>(br#"{"username":"a","password":"b","state":{}}"#).unwrap_err();
        assert_eq!(e.fields, vec!["state.path"]);
        let e = parse::<Login>(b"{nope").unwrap_err();
        assert_eq!(e.code, Code::InvalidJson);
        let e = parse::<Login>(br#"{"username":"a","password":"b"} trailing"#).unwrap_err();
        assert_eq!(e.code, Code::InvalidJson);
        assert!(parse::<Login>(b"").is_err());
    }

    #[test]
    fn refuses_duplicate_keys_and_nul_characters() {
        // serde_json alone keeps the last of two equal keys of a free-form value.
        let e = parse::<Value>(br#"{"user_name":"a","user_name":"b"}"#).unwrap_err();
        assert_eq!(e.code, Code::InvalidJson);
        assert!(e.message.contains("[user_name]"), "{}", e.message);
        let e = parse::<Value>(br#"{"trust":{"x":[{"a":1,"a":1}]}}"#).unwrap_err();
        assert_eq!(e.fields, vec!["trust.x[0]"]);
        let e = parse::<Value>(br#"{"trust":{"x":"a\u0000b"}}"#).unwrap_err();
        assert_eq!(e.fields, vec!["trust.x"]);
        assert!(parse::<Value>(br#"{"k\u0000":1}"#).is_err());
        assert!(parse::<Value>(br#"["\u0000"]"#).is_err());
        // Equal keys in different objects, and escaped text that merely looks like a NUL, are fine.
        parse::<Value>(br#"{"a":{"a":1},"b":{"a":"\\u0000"}}"#).unwrap();
    }

    #[test]
    fn merge_patch_follows_rfc7396() {
        let target = serde_json::json!({"trust": {"trust_all": true, "x": 1}});
        let merged = merge(&target, &serde_json::json!({"trust": {"x": null}}));
        assert_eq!(merged, serde_json::json!({"trust": {"trust_all": true}}));
    }
}
