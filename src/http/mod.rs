//! The HTTP layer: the route table ([`router`]) and one handler module per resource.

mod account;
mod console;
mod docs;
mod keys;
mod roles;
mod router;
mod session;
mod users;

pub use router::router;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, Code};

/// Path parameters, with an ECE error when they cannot be decoded (e.g. bad percent-encoding).
pub struct PathArgs<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathArgs<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| PathArgs(t))
            .map_err(|e| {
                ApiError::new(
                    Code::ResourceNotFound,
                    format!("Invalid path parameter: {e}"),
                )
            })
    }
}

/// Reads an optional boolean query parameter (`true`/`false`), with an ECE error otherwise.
pub fn query_flag(query: Option<&str>, name: &str) -> Result<Option<bool>, ApiError> {
    let Some(query) = query else { return Ok(None) };
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == name {
            return match value {
                "true" | "" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(ApiError::new(
                    Code::InvalidJson,
                    format!("Query parameter [{name}] must be true or false."),
                )
                .with_fields([name])),
            };
        }
    }
    Ok(None)
}
