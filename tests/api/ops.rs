//! Operations endpoints: health, readiness, metrics, request ids.

use crate::helpers::{spawn_app, Auth};

#[tokio::test]
async fn liveness_and_readiness() {
    let app = spawn_app().await;
    let root = app.base.replace("/api/v1", "");
    let live = reqwest::get(format!("{root}/healthz")).await.unwrap();
    assert_eq!(live.status(), 200);
    let ready = reqwest::get(format!("{root}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap()["status"], "ready");
}

#[tokio::test]
async fn metrics_count_requests_by_operation() {
    let app = spawn_app().await;
    app.get("/account", &Auth::admin()).await.expect(200);
    app.get("/users/nobody", &Auth::admin()).await.expect_error(404, "user.not_found");
    app.post("/users/auth/_login", &Auth::None, serde_json::json!({"username": "admin", "password": "wrong-password"}))
        .await
        .expect_error(401, "root.unauthenticated");
    let root = app.base.replace("/api/v1", "");
    let res = reqwest::get(format!("{root}/metrics")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = res.text().await.unwrap();
    for needle in [
        r#"ece_http_requests_total{operation="get-current-account",status="200"}"#,
        r#"ece_http_requests_total{operation="get-user",status="404"}"#,
        r#"ece_http_requests_total{operation="login",status="401"}"#,
        "ece_http_request_duration_seconds_bucket",
        "ece_login_failures_total",
        "ece_active_sessions",
    ] {
        assert!(text.contains(needle), "metrics miss {needle}:\n{text}");
    }
}

#[tokio::test]
async fn every_reply_carries_a_request_id() {
    let app = spawn_app().await;
    let reply = app.get("/users/auth/methods", &Auth::None).await;
    let id = reply.headers["x-request-id"].to_str().unwrap().to_string();
    assert!(id.len() >= 16);
    let other = app.get("/users/auth/methods", &Auth::None).await;
    assert_ne!(other.headers["x-request-id"], id.as_str());
    // A client's own id is kept, also on errors.
    let res = app.client.get(format!("{}/nope", app.base)).header("x-request-id", "trace-123").send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-123");
}
