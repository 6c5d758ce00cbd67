//! The route table: every endpoint of the server, in one place.
//!
//! Paths are relative to `/api/v1`. The operationId of each route is in `rbac::OPERATIONS` and in
//! the `Authorized<op::X>` extractor of its handler. Axum prefers static segments over parameters,
//! so `/users/auth` is never read as a user called "auth" (that name is reserved).
//!
//! Every operation is also served under `/api/v1/regions/{region}/...`: the official Go SDK (and so
//! `ecctl` and Terraform) sends the operations outside its "regionless" list (`/account`,
//! `/platform/...`) there, with region `ece-region` for ECE. [`StripRegion`] rewrites such a path
//! to the plain one before routing, so both forms reach the same handler, with the same
//! authentication, RBAC, replies and errors; an unknown region gets an ECE 404.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, OriginalUri, Request};
use axum::http::{Method, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use axum::routing::{get, post};
use axum::{Extension, Router};
use tower::{Service, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;

use super::{account, console, docs, keys, realms, roles, saml, session, users};
use crate::http::error::{ApiError, Code};
use crate::http::AppState;
use crate::http::{auth, telemetry};

/// The one region an ECE installation has, as `ecctl` names it.
pub const REGION: &str = "ece-region";

pub fn router(state: AppState) -> Router {
    // The outer router only hands every request to the rewrite and then to the route table: a
    // layer on the route table itself would run after routing, too late to change the path.
    // A plain service rather than a `from_fn` middleware: that one boxed its future and cloned
    // the route table into a `Next` on every request, for a rewrite almost no request needs.
    Router::new().fallback_service(StripRegion {
        routes: routes(state),
        refused: Router::new().fallback(refuse_region),
    })
}

fn routes(state: AppState) -> Router {
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
        .route("/users/auth/methods", get(saml::methods))
        .route("/users/auth/saml/_init", get(saml::init))
        .route("/users/auth/saml/_callback", post(saml::callback))
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
        .route("/platform/configuration/security/realms", get(realms::list))
        .route(
            "/platform/configuration/security/realms/_reorder",
            post(realms::reorder),
        )
        .route(
            "/platform/configuration/security/realms/ldap",
            post(realms::create_ldap),
        )
        .route(
            "/platform/configuration/security/realms/ldap/{realm_id}",
            get(realms::get_ldap)
                .put(realms::update_ldap)
                .delete(realms::delete_ldap),
        )
        .route(
            "/platform/configuration/security/realms/active-directory",
            post(realms::create_ad),
        )
        .route(
            "/platform/configuration/security/realms/active-directory/{realm_id}",
            get(realms::get_ad)
                .put(realms::update_ad)
                .delete(realms::delete_ad),
        )
        .route(
            "/platform/configuration/security/realms/saml",
            post(realms::create_saml),
        )
        .route(
            "/platform/configuration/security/realms/saml/{realm_id}",
            get(realms::get_saml)
                .put(realms::update_saml)
                .delete(realms::delete_saml),
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
        // which costs ~9% of a `GET /account` when the five layers are applied one by one.
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn(telemetry::track))
                .layer(middleware::from_fn_with_state(
                    max_body,
                    crate::http::json::refuse_declared_oversize,
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

/// `/api/v1/regions/{region}/rest` → `/api/v1/rest` for the installation's region; any other
/// region is an ECE 404 naming the region that exists. Other paths pass unchanged, after one
/// prefix comparison.
#[derive(Clone)]
struct StripRegion {
    routes: Router,
    /// Answers the requests whose region is refused (the reason rides in an extension), so that
    /// both outcomes are the same future type and nothing is boxed.
    refused: Router,
}

/// Why a regional path was refused.
#[derive(Clone)]
enum Refused {
    UnknownRegion(String),
    /// The rewritten path is not a valid URI (cannot happen for a path that parsed; kept safe).
    BadPath,
}

impl Service<Request> for StripRegion {
    type Response = Response;
    type Error = Infallible;
    type Future = RouteFuture<Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        const PREFIX: &str = "/api/v1/regions/";
        if !req.uri().path().starts_with(PREFIX) {
            return self.routes.call(req);
        }
        match regional(req.uri(), &req.uri().path()[PREFIX.len()..]) {
            Ok(uri) => {
                *req.uri_mut() = uri;
                self.routes.call(req)
            }
            Err(why) => {
                req.extensions_mut().insert(why);
                self.refused.call(req)
            }
        }
    }
}

/// The plain URI of a regional one whose path after `/api/v1/regions/` is `rest`.
fn regional(uri: &Uri, rest: &str) -> Result<Uri, Refused> {
    let (region, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if region != REGION {
        return Err(Refused::UnknownRegion(region.chars().take(64).collect()));
    }
    let mut path_and_query = format!("/api/v1/{tail}");
    if let Some(query) = uri.query() {
        path_and_query.push('?');
        path_and_query.push_str(query);
    }
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().map_err(|_| Refused::BadPath)?);
    Uri::from_parts(parts).map_err(|_| Refused::BadPath)
}

async fn refuse_region(Extension(why): Extension<Refused>, uri: OriginalUri) -> Response {
    match why {
        Refused::UnknownRegion(shown) => ApiError::new(
            Code::ResourceNotFound,
            format!("Region [{shown}] does not exist: this installation serves region [{REGION}] (/api/v1/regions/{REGION}/...)."),
        )
        .with_fields(["region"])
        .into_response(),
        Refused::BadPath => not_found(uri).await.into_response(),
    }
}

/// Names the path the client sent (the regional form too, not the rewritten one).
async fn not_found(OriginalUri(uri): OriginalUri) -> ApiError {
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
