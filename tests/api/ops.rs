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
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["status"],
        "ready"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_operation() {
    let app = spawn_app().await;
    app.get("/account", &Auth::admin()).await.expect(200);
    app.get("/users/nobody", &Auth::admin())
        .await
        .expect_error(404, "user.not_found");
    app.post(
        "/users/auth/_login",
        &Auth::None,
        serde_json::json!({"username": "admin", "password": "wrong-password"}),
    )
    .await
    .expect_error(401, "root.unauthenticated");
    let root = app.base.replace("/api/v1", "");
    let res = reqwest::get(format!("{root}/metrics")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
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
    let res = app
        .client
        .get(format!("{}/nope", app.base))
        .header("x-request-id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-123");
}

#[tokio::test]
async fn the_api_description_lists_exactly_the_served_operations() {
    let app = spawn_app().await;
    let doc = app
        .get("/api-docs/swagger.json", &Auth::None)
        .await
        .expect(200);
    assert_eq!(doc["swagger"], "2.0");
    assert_eq!(doc["basePath"], "/api/v1");
    let mut described: Vec<(String, String, String)> = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            described.push((
                method.to_uppercase(),
                path.clone(),
                op["operationId"].as_str().unwrap().to_string(),
            ));
        }
    }
    let mut served: Vec<(String, String, String)> = ece_server::domain::rbac::OPERATIONS
        .iter()
        .map(|op| {
            (
                op.method.to_string(),
                op.path.to_string(),
                op.id.to_string(),
            )
        })
        .collect();
    described.sort();
    served.sort();
    assert_eq!(described, served);
    // The definitions the operations refer to come along.
    for name in [
        "User",
        "ApiKeyResponse",
        "TokenResponse",
        "BasicFailedReply",
        "RoleAssignments",
        "LdapSettings",
        "ActiveDirectorySettings",
        "SamlSettings",
        "SamlSecurityRealmRoleMappingRules",
        "SecurityRealmInfoList",
        "SecurityRealmsReorderRequest",
    ] {
        assert!(
            doc["definitions"][name].is_object(),
            "missing definition {name}"
        );
    }
}
