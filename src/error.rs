//! The one error type of the HTTP layer and its code table.
//!
//! Every failure a client can see is an [`ApiError`]: a [`Code`] (which fixes the HTTP status and the
//! stable `errors[].code` string), a human message and optionally the request fields it concerns.
//! It renders as the ECE envelope `{"errors":[{"code","message","fields"}]}` with the
//! `x-cloud-error-codes` header. Internal failures are logged here with their cause and reach the
//! client only as a generic `root.internal_server_error`: causes are never leaked.
//! `docs/errors.md` documents this table; keep the two in step.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Declares the code table once: variant, wire code, HTTP status.
macro_rules! codes {
    ($($variant:ident => $code:literal, $status:ident;)*) => {
        /// Every error code this server can answer with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code { $($variant,)* }

        impl Code {
            /// The stable wire code clients match on (`errors[].code`).
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }
            /// The HTTP status this code is always sent with.
            pub fn status(self) -> StatusCode {
                match self { $(Code::$variant => StatusCode::$status,)* }
            }
            /// All codes, for documentation and tests.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];
        }
    };
}

codes! {
    // Generic request handling (ECE's own `root.*` family).
    InvalidJson => "root.invalid_json_request", BAD_REQUEST;
    BadRequest => "root.bad_request", BAD_REQUEST;
    UriTooLong => "root.uri_too_long", URI_TOO_LONG;
    HeaderTooLarge => "root.request_header_too_large", REQUEST_HEADER_FIELDS_TOO_LARGE;
    UnsupportedMediaType => "root.unsupported_media_type", UNSUPPORTED_MEDIA_TYPE;
    PayloadTooLarge => "root.payload_too_large", PAYLOAD_TOO_LARGE;
    ResourceNotFound => "root.resource_not_found", NOT_FOUND;
    MethodNotAllowed => "root.method_not_allowed", METHOD_NOT_ALLOWED;
    Unauthenticated => "root.unauthenticated", UNAUTHORIZED;
    Unauthorized => "root.unauthorized", UNAUTHORIZED;
    Forbidden => "root.unauthorized.rbac", FORBIDDEN;
    RequestTimeout => "root.request_timeout", REQUEST_TIMEOUT;
    TooManyRequests => "root.too_many_requests", TOO_MANY_REQUESTS;
    Internal => "root.internal_server_error", INTERNAL_SERVER_ERROR;
    StoreUnavailable => "root.store_unavailable", SERVICE_UNAVAILABLE;
    WriteContention => "root.write_contention", CONFLICT;
    // Authentication realms.
    NoAuthenticationCluster => "authc.no_authentication_cluster", NOT_IMPLEMENTED;
    // Accounts.
    AccountNotFound => "accounts.not_found", NOT_FOUND;
    // API keys.
    ApiKeyInvalidInput => "api_keys.invalid_input", BAD_REQUEST;
    ApiKeyNotFound => "api_keys.key_not_found", NOT_FOUND;
    ApiKeyUserNotFound => "api_keys.user_not_found", NOT_FOUND;
    // Users.
    UserNotFound => "user.not_found", NOT_FOUND;
    UserNameInvalid => "user.user_name.invalid", BAD_REQUEST;
    UserNameConflict => "user.user_name.conflict", CONFLICT;
    UserRolesInvalid => "user.roles.invalid", BAD_REQUEST;
    UserRolesForbidden => "user.roles.forbidden", BAD_REQUEST;
    UserRestrictedField => "user.restricted_field", BAD_REQUEST;
    UserCannotModify => "user.cannot_modify", BAD_REQUEST;
    UserRestrictedDeletion => "user.restricted_deletion", BAD_REQUEST;
    UserPasswordInvalid => "user.password.invalid", BAD_REQUEST;
    // Role assignments.
    RoleAssignmentsInvalidTarget => "role_assignments.invalid_target_user_id", BAD_REQUEST;
    RoleAssignmentsInvalid => "role_assignments.invalid_input", BAD_REQUEST;
    RoleAssignmentsUnauthorized => "role_assignments.unauthorized_role_assignments", FORBIDDEN;
}

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
        ApiError {
            code,
            message: message.into(),
            fields: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub fn with_fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.fields = fields.into_iter().map(Into::into).collect();
        self
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

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "store unavailable");
                crate::telemetry::store_error(Code::StoreUnavailable);
                ApiError::new(
                    Code::StoreUnavailable,
                    "The database is unavailable. Retry the request shortly.",
                )
                .with_header("retry-after", "1")
            }
            other => {
                crate::telemetry::store_error(Code::Internal);
                ApiError::internal(other)
            }
        }
    }
}

impl From<crate::cas::Contended> for ApiError {
    fn from(e: crate::cas::Contended) -> Self {
        ApiError::new(
            Code::WriteContention,
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
        let mut res = (self.code.status(), axum::Json(self.envelope())).into_response();
        let headers = res.headers_mut();
        headers.insert(
            "x-cloud-error-codes",
            HeaderValue::from_static(self.code.as_str()),
        );
        if self.code.status() == StatusCode::UNAUTHORIZED {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/errors.md documents every code of the table.
    #[test]
    fn every_code_is_documented() {
        let doc = include_str!("../docs/errors.md");
        for code in Code::ALL {
            assert!(
                doc.contains(&format!("`{}` | {}", code.as_str(), code.status().as_u16())),
                "docs/errors.md misses {}",
                code.as_str()
            );
        }
    }
}
