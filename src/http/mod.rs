//! The HTTP layer: [`AppState`], [`error::ApiError`], the route table ([`router`]), the
//! extractors, one handler module per resource and the operational endpoints (`telemetry`).

mod account;
pub mod audit;
pub mod auth;
mod basic;
pub mod brute_force;
mod console;
mod docs;
pub mod error;
pub mod json;
mod keys;
mod pipeline;
mod realm_login;
mod realms;
mod roles;
mod router;
mod saml;
mod session;
mod state;
pub mod telemetry;
mod users;

/// The account validation of PUT and PATCH /account, for the fuzz targets (see docs/fuzzing.md).
pub use account::validate as validate_account;
pub use router::{router, Api, ApiFuture};
pub use state::{AppState, Settings};
/// How PATCH /users and /user read a merged document, for the fuzz targets.
pub use users::user_doc;

use axum::extract::{FromRequestParts, Path, RawPathParams};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::http::error::{ApiError, Code};

/// The peer address of a request, when served by `crate::server::run` (the pipeline records it
/// in [`auth::Client`]).
pub fn peer(extensions: &axum::http::Extensions) -> Option<std::net::SocketAddr> {
    extensions.get::<auth::Client>().and_then(|c| c.peer)
}

/// Path parameters, with an ECE error when they cannot be decoded (e.g. bad percent-encoding).
/// A parameter with a NUL character (`%00`) names nothing that can exist and is refused here:
/// PostgreSQL cannot even compare text with a NUL, so the lookup failed with a 500.
pub struct PathArgs<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathArgs<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let invalid = |e: &dyn std::fmt::Display| {
            ApiError::new(
                Code::ResourceNotFound,
                format!("Invalid path parameter: {e}"),
            )
        };
        let Path(t) = Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(|e| invalid(&e))?;
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| invalid(&e))?;
        if raw.iter().any(|(_, v)| v.contains('\0')) {
            return Err(invalid(&"it contains a NUL character"));
        }
        Ok(PathArgs(t))
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    #[tokio::test]
    async fn path_parameters_with_nul_are_not_found() {
        // Found by tests/api/hostile.rs: `GET /users/%00` was a 500 on PostgreSQL.
        let app = Router::new().route(
            "/users/{name}",
            get(|PathArgs(name): PathArgs<String>| async move { name }),
        );
        for (uri, status) in [
            ("/users/alice", StatusCode::OK),
            ("/users/%00", StatusCode::NOT_FOUND),
            ("/users/alice%00", StatusCode::NOT_FOUND),
            ("/users/%ff", StatusCode::NOT_FOUND),
        ] {
            let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
            let res = app.clone().oneshot(req).await.unwrap();
            assert_eq!(res.status(), status, "{uri}");
        }
    }
}
