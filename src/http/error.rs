//! The one error type of the HTTP layer.
//!
//! Every failure a client can see is an [`ApiError`]: a [`Code`] of the table in
//! `crate::domain::error` (which fixes the HTTP status and the stable `errors[].code` string), a
//! human message and optionally the request fields it concerns. It renders as the ECE envelope
//! `{"errors":[{"code","message","fields"}]}` with the `x-cloud-error-codes` header. Internal
//! failures are logged here with their cause and reach the client only as a generic
//! `root.internal_server_error`: causes are never leaked.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub use crate::domain::error::Code;
use crate::domain::error::ErrorCode;

/// A client-visible failure.
#[derive(Debug)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
    pub fields: Vec<String>,
    /// Extra headers (e.g. `Retry-After`, `WWW-Authenticate`).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        crate::domain::error::Error::new(code, message).into()
    }

    /// The request fields the error concerns (as [`crate::domain::error::Error::with_fields`]).
    pub fn with_fields<I, S>(self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let ApiError {
            code,
            message,
            headers,
            ..
        } = self;
        let error = crate::domain::error::Error::new(code, message).with_fields(fields);
        ApiError {
            headers,
            ..error.into()
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// An unexpected failure: the cause is logged, the client sees a generic message.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            Code::Internal,
            "An internal error occurred. The server log has the details.",
        )
    }

    pub fn unauthenticated() -> Self {
        ApiError::new(
            Code::Unauthenticated,
            "The supplied authentication is invalid.",
        )
    }

    pub fn forbidden(operation: &str) -> Self {
        ApiError::new(
            Code::Forbidden,
            format!(
                "The authenticated user is not allowed to perform the operation [{operation}]."
            ),
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<crate::domain::error::Error> for ApiError {
    fn from(e: crate::domain::error::Error) -> Self {
        ApiError {
            code: e.error_code(),
            message: e.message,
            fields: e.fields,
            headers: Vec::new(),
        }
    }
}

/// The HTTP status of a code of the table.
pub fn status(code: Code) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "store unavailable");
                store_error(Code::StoreUnavailable);
                ApiError::new(
                    Code::StoreUnavailable,
                    "The database is unavailable. Retry the request shortly.",
                )
                .with_header("retry-after", "1")
            }
            other => {
                store_error(Code::Internal);
                ApiError::internal(other)
            }
        }
    }
}

impl From<crate::store::cas::Contended> for ApiError {
    fn from(e: crate::store::cas::Contended) -> Self {
        ApiError::new(
            e.error_code(),
            format!("The {} conflicted with too many concurrent writes and was not applied. Retry the request.", e.what),
        )
        .with_header("retry-after", "1")
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    errors: [Element<'a>; 1],
}

#[derive(Serialize)]
struct Element<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    fields: &'a [String],
}

impl ApiError {
    fn envelope(&self) -> Envelope<'_> {
        Envelope {
            errors: [Element {
                code: self.code.as_str(),
                message: &self.message,
                fields: &self.fields,
            }],
        }
    }

    /// The JSON envelope alone, for replies written outside axum (see `crate::rawerrors`).
    pub fn envelope_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.envelope()).unwrap_or_default()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (status(self.code), axum::Json(self.envelope())).into_response();
        let headers = res.headers_mut();
        headers.insert(
            "x-cloud-error-codes",
            HeaderValue::from_static(self.code.as_str()),
        );
        if status(self.code) == StatusCode::UNAUTHORIZED {
            headers.insert(
                "www-authenticate",
                // No `Basic` challenge: a browser prompts for one and then sends the cached
                // password with cross-site requests too. Basic credentials still work.
                HeaderValue::from_static("Bearer realm=\"ece\", ApiKey realm=\"ece\""),
            );
        }
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
        res
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Counts a store failure seen by a request (`ece_store_errors_total`, described with the other
/// metrics in `crate::http::telemetry`).
fn store_error(code: Code) {
    metrics::counter!("ece_store_errors_total", "code" => code.as_str()).increment(1);
}
