//! The pipeline's own answers, around handlers that misbehave: the HTTP suite cannot make a
//! handler panic or stall.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::{Extension, Router};
use tower::{Layer, ServiceExt};

use super::PipelineLayer;
use crate::http::auth::Client;
use crate::http::{AppState, Settings};

async fn app(dir: &tempfile::TempDir) -> AppState {
    let url = format!("sqlite://{}", dir.path().join("ece.db").display());
    let store = crate::store::open(&url, &Default::default()).await.unwrap();
    let settings = Settings {
        request_timeout: Duration::from_millis(200),
        max_body_bytes: 1024,
        ..Settings::default()
    };
    let sealer = crate::security::sealed::Sealer::from_key(&[7; 32]);
    AppState::new(store, settings, Some(1), sealer)
}

async fn call(app: &AppState, request: Request<Body>) -> (StatusCode, serde_json::Value, bool) {
    let routes = Router::new()
        .route(
            "/panics",
            get(|| async {
                if true {
                    panic!("a handler bug");
                }
                "unreachable"
            }),
        )
        .route(
            "/stalls",
            get(|| tokio::time::sleep(Duration::from_secs(60))),
        )
        .route(
            "/who",
            get(|Extension(client): Extension<Client>| async move { format!("{:?}", client.auth) }),
        );
    let res = PipelineLayer::new(app.clone())
        .layer(routes)
        .oneshot(request)
        .await
        .unwrap();
    let status = res.status();
    let has_id = res.headers().contains_key("x-request-id");
    let body = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .unwrap();
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::String(
        String::from_utf8_lossy(&body).into(),
    ));
    (status, json, has_id)
}

fn get_request(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

/// `GET path` with one header.
fn get_with(path: &str, header: &str, value: &str) -> Request<Body> {
    Request::get(path)
        .header(header, value)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let (status, body, has_id) = call(&app(&dir).await, get_request("/panics")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["errors"][0]["code"], "root.internal_server_error");
    assert!(has_id, "the reply still carries its request id");
}

#[tokio::test]
async fn a_stalled_handler_is_a_408_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let (status, body, has_id) = call(&app(&dir).await, get_request("/stalls")).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(body["errors"][0]["code"], "root.request_timeout");
    assert!(has_id);
}

#[tokio::test]
async fn a_declared_oversized_body_is_a_413_before_the_handler() {
    let dir = tempfile::tempdir().unwrap();
    let request = get_with("/stalls", "content-length", "1025");
    let (status, body, _) = call(&app(&dir).await, request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["errors"][0]["code"], "root.payload_too_large");
}

#[tokio::test]
async fn credentials_reach_the_handler_decided_from_the_header_or_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir).await;
    // Decided without awaiting anything: no header, a malformed one.
    let (_, body, _) = call(&app, get_request("/who")).await;
    assert_eq!(body, "Missing");
    let request = get_with("/who", "authorization", "Token x");
    assert_eq!(call(&app, request).await.1, "Invalid");
    // Not in the cache: the store is asked (the waiting stage), and knows no such key.
    let request = get_with("/who", "authorization", "ApiKey not-a-key");
    assert_eq!(call(&app, request).await.1, "Invalid");
}
