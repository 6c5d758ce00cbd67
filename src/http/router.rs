//! The route table: every endpoint of the server, in one place.
//!
//! Every API path is written out in full, `/api/v1` included: a router nested under a prefix
//! rebuilt the URI and cloned one more boxed service on every request. The operationId of each route is in `rbac::OPERATIONS` and in
//! the `Authorized<op::X>` extractor of its handler. Axum prefers static segments over parameters,
//! so `/users/auth` is never read as a user called "auth" (that name is reserved).
//!
//! Every operation is also served under `/api/v1/regions/{region}/...`: the official Go SDK (and so
//! `ecctl` and Terraform) sends the operations outside its "regionless" list (`/account`,
//! `/platform/...`) there, with region `ece-region` for ECE. [`Api`] rewrites such a path
//! to the plain one before routing, so both forms reach the same handler, with the same
//! authentication, RBAC, replies and errors; an unknown region gets an ECE 404.

use std::convert::Infallible;

use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use axum::routing::{get, post};
use axum::{Extension, Router};
use tower::Layer;

use super::{account, console, docs, keys, realms, roles, saml, session, users};
use crate::http::error::{ApiError, Code};
use crate::http::pipeline::{Pipeline, PipelineFuture, PipelineLayer};
use crate::http::telemetry;
use crate::http::AppState;

/// The one region an ECE installation has, as `ecctl` names it.
pub const REGION: &str = "ece-region";

/// The whole API as one service: the region rewrite, then the pipeline (telemetry,
/// authentication, timeout, panics: `crate::http::pipeline`), in front of the route table. It
/// wraps the router rather than being applied with `Router::layer`, which wraps every route in
/// one more boxed service, cloned and called on every request. (The body limit is applied by the
/// extractors that read bodies, `crate::http::json`.)
pub fn router(state: AppState) -> Api {
    let routes = routes(state.clone());
    let pipeline = PipelineLayer::new(state);
    Api {
        routes: pipeline.layer(routes),
        refused: pipeline.layer(Router::new().fallback(refuse_region)),
    }
}

fn routes(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/api/v1/account",
            get(account::get).put(account::put).patch(account::patch),
        )
        .route(
            "/api/v1/user",
            get(users::get_current).patch(users::patch_current),
        )
        .route("/api/v1/users", get(users::list).post(users::create))
        .route("/api/v1/users/auth", get(session::info))
        .route("/api/v1/users/auth/_login", post(session::login))
        .route("/api/v1/users/auth/_logout", post(session::logout))
        .route("/api/v1/users/auth/_refresh", post(session::refresh))
        .route("/api/v1/users/auth/methods", get(saml::methods))
        .route("/api/v1/users/auth/saml/_init", get(saml::init))
        .route("/api/v1/users/auth/saml/_callback", post(saml::callback))
        .route(
            "/api/v1/users/auth/keys",
            get(keys::list_own)
                .post(keys::create)
                .delete(keys::delete_own),
        )
        .route(
            "/api/v1/users/auth/keys/_all",
            get(keys::list_all).delete(keys::delete_for_users),
        )
        .route(
            "/api/v1/users/auth/keys/{api_key_id}",
            get(keys::get_own).delete(keys::delete_one_own),
        )
        .route(
            "/api/v1/users/{user_id}",
            get(users::get).patch(users::update).delete(users::delete),
        )
        .route(
            "/api/v1/users/{user_id}/auth/keys",
            get(keys::list_user).delete(keys::delete_all_user),
        )
        .route(
            "/api/v1/users/{user_id}/auth/keys/{api_key_id}",
            get(keys::get_user_key).delete(keys::delete_user_key),
        )
        .route(
            "/api/v1/users/{user_id}/role_assignments",
            post(roles::add).delete(roles::remove),
        )
        .route(
            "/api/v1/platform/configuration/security/realms",
            get(realms::list),
        )
        .route(
            "/api/v1/platform/configuration/security/realms/_reorder",
            post(realms::reorder),
        )
        .route(
            "/api/v1/platform/configuration/security/realms/ldap",
            post(realms::create_ldap),
        )
        .route(
            "/api/v1/platform/configuration/security/realms/ldap/{realm_id}",
            get(realms::get_ldap)
                .put(realms::update_ldap)
                .delete(realms::delete_ldap),
        )
        .route(
            "/api/v1/platform/configuration/security/realms/active-directory",
            post(realms::create_ad),
        )
        .route(
            "/api/v1/platform/configuration/security/realms/active-directory/{realm_id}",
            get(realms::get_ad)
                .put(realms::update_ad)
                .delete(realms::delete_ad),
        )
        .route(
            "/api/v1/platform/configuration/security/realms/saml",
            post(realms::create_saml),
        )
        .route(
            "/api/v1/platform/configuration/security/realms/saml/{realm_id}",
            get(realms::get_saml)
                .put(realms::update_saml)
                .delete(realms::delete_saml),
        )
        .route("/api/v1/api-docs/swagger.json", get(docs::swagger))
        .method_not_allowed_fallback(method_not_allowed);

    telemetry::handle(); // installs the metrics recorder before the first request
    Router::new()
        .merge(api)
        .merge(console::routes())
        .merge(telemetry::routes(state.settings.metrics_on_api_port))
        .fallback(not_found)
        .with_state(state)
}

/// The server's service ([`router`]). It rewrites `/api/v1/regions/{region}/rest` to
/// `/api/v1/rest` for the installation's region before routing (a layer on the route table
/// would run after routing, too late to change the path); any other region is an ECE 404 naming
/// the region that exists. Other paths pass unchanged, after one prefix comparison. A plain
/// service, not a router around the route table: each router level clones a boxed service per
/// request.
#[derive(Clone)]
pub struct Api {
    routes: Pipeline<Router>,
    /// Answers the requests whose region is refused (the reason rides in an extension), so that
    /// both outcomes are the same future type and nothing is boxed.
    refused: Pipeline<Router>,
}

/// The reply of [`Api::serve`].
pub type ApiFuture = PipelineFuture<RouteFuture<Infallible>>;

/// Why a regional path was refused.
#[derive(Clone)]
enum Refused {
    UnknownRegion(String),
    /// The rewritten path is not a valid URI (cannot happen for a path that parsed; kept safe).
    BadPath,
}

impl Api {
    /// This service for the requests of one connection, from `peer`.
    pub fn with_peer(self, peer: std::net::SocketAddr) -> Api {
        Api {
            routes: self.routes.with_peer(peer),
            refused: self.refused.with_peer(peer),
        }
    }

    /// Serves one request. Through a shared reference: hyper calls a connection's service by
    /// reference, and a tower service (`&mut self`) would have to be cloned whole per request.
    pub fn serve<B>(&self, req: axum::http::Request<B>) -> ApiFuture
    where
        B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
        B::Error: Into<axum::BoxError>,
    {
        let mut req = req.map(axum::body::Body::new);
        const PREFIX: &str = "/api/v1/regions/";
        if !req.uri().path().starts_with(PREFIX) {
            return self.routes.serve(req);
        }
        // A regional request's 404 names the path the client sent, not the rewritten one.
        let sent = SentUri(req.uri().clone());
        req.extensions_mut().insert(sent);
        match regional(req.uri(), &req.uri().path()[PREFIX.len()..]) {
            Ok(uri) => {
                *req.uri_mut() = uri;
                self.routes.serve(req)
            }
            Err(why) => {
                req.extensions_mut().insert(why);
                self.refused.serve(req)
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

/// The URI of a regional request as the client sent it, before [`Api`] rewrote it.
#[derive(Clone)]
struct SentUri(Uri);

/// The path to name in a 404 or 405: the one the client sent.
fn sent_path(uri: &Uri, sent: Option<Extension<SentUri>>) -> String {
    match sent {
        Some(Extension(SentUri(sent))) => sent.path().to_owned(),
        None => uri.path().to_owned(),
    }
}

async fn refuse_region(
    Extension(why): Extension<Refused>,
    uri: Uri,
    sent: Option<Extension<SentUri>>,
) -> Response {
    match why {
        Refused::UnknownRegion(shown) => ApiError::new(
            Code::ResourceNotFound,
            format!("Region [{shown}] does not exist: this installation serves region [{REGION}] (/api/v1/regions/{REGION}/...)."),
        )
        .with_fields(["region"])
        .into_response(),
        Refused::BadPath => not_found(uri, sent).await.into_response(),
    }
}

/// Names the path the client sent (the regional form too, not the rewritten one).
async fn not_found(uri: Uri, sent: Option<Extension<SentUri>>) -> ApiError {
    ApiError::new(
        Code::ResourceNotFound,
        format!(
            "The requested resource [{}] could not be found.",
            sent_path(&uri, sent)
        ),
    )
}

async fn method_not_allowed(
    method: Method,
    uri: Uri,
    sent: Option<Extension<SentUri>>,
) -> Response {
    ApiError::new(
        Code::MethodNotAllowed,
        format!(
            "Method [{method}] is not allowed on [{}].",
            sent_path(&uri, sent)
        ),
    )
    .into_response()
}
