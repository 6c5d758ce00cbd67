//! The route table: every endpoint of the server, in one place.
//!
//! Paths are relative to `/api/v1`. The operationId of each route is in `rbac::OPERATIONS` and in
//! the `Authorized<op::X>` extractor of its handler. Axum prefers static segments over parameters,
//! so `/users/auth` is never read as a user called "auth" (that name is reserved).

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, OriginalUri};
use axum::http::{Method, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;

use super::{account, console, docs, keys, roles, session, users};
use crate::app::AppState;
use crate::error::{ApiError, Code};
use crate::{auth, telemetry};

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/account",
            get(account::get).put(account::put).patch(account::patch),
        )
        .route("/user", get(users::get_current).patch(users::patch_current))
        .route("/users", get(users::list).post(users::create))
        .route("/users/auth", get(session::info))
        .route("/users/auth/_login", post(session::login))
        .route("/users/auth/_logout", post(session::logout))
        .route("/users/auth/_refresh", post(session::refresh))
        .route("/users/auth/methods", get(session::methods))
        .route("/users/auth/saml/_init", get(session::saml_init))
        .route("/users/auth/saml/_callback", post(session::saml_callback))
        .route(
            "/users/auth/keys",
            get(keys::list_own)
                .post(keys::create)
                .delete(keys::delete_own),
        )
        .route(
            "/users/auth/keys/_all",
            get(keys::list_all).delete(keys::delete_for_users),
        )
        .route(
            "/users/auth/keys/{api_key_id}",
            get(keys::get_own).delete(keys::delete_one_own),
        )
        .route(
            "/users/{user_id}",
            get(users::get).patch(users::update).delete(users::delete),
        )
        .route(
            "/users/{user_id}/auth/keys",
            get(keys::list_user).delete(keys::delete_all_user),
        )
        .route(
            "/users/{user_id}/auth/keys/{api_key_id}",
            get(keys::get_user_key).delete(keys::delete_user_key),
        )
        .route(
            "/users/{user_id}/role_assignments",
            post(roles::add).delete(roles::remove),
        )
        .route("/api-docs/swagger.json", get(docs::swagger))
        .method_not_allowed_fallback(method_not_allowed);

    telemetry::handle(); // installs the metrics recorder before the first request
    let max_body = state.settings.max_body_bytes;
    let request_timeout = state.settings.request_timeout;
    Router::new()
        .nest("/api/v1", api)
        .merge(console::routes())
        .merge(telemetry::routes(state.settings.metrics_on_api_port))
        .fallback(not_found)
        // One stack, applied with a single `layer` call, outermost first: axum boxes each route's
        // service once per `Router::layer` call and clones that chain of boxes on every request,
        // which cost ~9% of a `GET /account` with the five layers applied one by one. Same
        // layers, same order as before.
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn(telemetry::track))
                .layer(middleware::from_fn_with_state(
                    max_body,
                    crate::json::refuse_declared_oversize,
                ))
                // A request that takes too long (e.g. a client trickling its body) gets a 408
                // envelope.
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    ApiError::new(Code::RequestTimeout, "The request took too long.")
                }))
                .timeout(request_timeout)
                .layer(CatchPanicLayer::custom(
                    |_: Box<dyn std::any::Any + Send>| {
                        ApiError::internal("a request handler panicked").into_response()
                    },
                ))
                .layer(DefaultBodyLimit::max(max_body))
                .layer(middleware::from_fn_with_state(
                    state.clone(),
                    auth::authenticate,
                )),
        )
        .with_state(state)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        Code::ResourceNotFound,
        format!(
            "The requested resource [{}] could not be found.",
            uri.path()
        ),
    )
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    ApiError::new(
        Code::MethodNotAllowed,
        format!("Method [{method}] is not allowed on [{}].", uri.path()),
    )
    .into_response()
}
