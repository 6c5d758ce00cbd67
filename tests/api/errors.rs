//! The ECE error envelope for every kind of bad request.

use serde_json::json;

use crate::helpers::{spawn_app, Auth};

#[tokio::test]
async fn unknown_routes_and_methods() {
    let app = spawn_app().await;
    let body = app
        .get("/no/such/thing", &Auth::admin())
        .await
        .expect_error(404, "root.resource_not_found");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("/api/v1/no/such/thing"));
    // Outside /api/v1 too.
    let res = app
        .client
        .get(app.base.replace("/api/v1", "/elsewhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.headers()["x-cloud-error-codes"],
        "root.resource_not_found"
    );
    let reply = app
        .send("PUT", "/users/auth/_login", &Auth::None, Some(json!({})))
        .await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.body["errors"][0]["code"], "root.method_not_allowed");
}

#[tokio::test]
async fn malformed_json_wrong_types_and_missing_fields() {
    let app = spawn_app().await;
    let r = app
        .send_raw(
            "POST",
            "/users/auth/_login",
            &Auth::None,
            "application/json",
            b"{\"username\":".to_vec(),
        )
        .await;
    r.expect_error(400, "root.invalid_json_request");
    let r = app
        .post(
            "/users/auth/_login",
            &Auth::None,
            json!({"username": "admin"}),
        )
        .await;
    let body = r.expect_error(400, "root.invalid_json_request");
    assert_eq!(body["errors"][0]["fields"], json!(["password"]));
    let r = app
        .post(
            "/users/auth/_login",
            &Auth::None,
            json!({"username": 5, "password": "x"}),
        )
        .await;
    let body = r.expect_error(400, "root.invalid_json_request");
    assert_eq!(body["errors"][0]["fields"], json!(["username"]));
    let r = app
        .post(
            "/users/auth/_login",
            &Auth::None,
            json!({"username": "a", "password": "b", "login_state": {"path": 1}}),
        )
        .await;
    let body = r.expect_error(400, "root.invalid_json_request");
    assert_eq!(body["errors"][0]["fields"], json!(["login_state.path"]));
    let r = app
        .send_raw(
            "PUT",
            "/account",
            &Auth::admin(),
            "application/json",
            Vec::new(),
        )
        .await;
    r.expect_error(400, "root.invalid_json_request");
    let r = app
        .send_raw(
            "PUT",
            "/account",
            &Auth::admin(),
            "application/json",
            b"{} {}".to_vec(),
        )
        .await;
    r.expect_error(400, "root.invalid_json_request");
    let r = app
        .send_raw(
            "PUT",
            "/account",
            &Auth::admin(),
            "application/json",
            vec![0xff, 0xfe, b'{'],
        )
        .await;
    r.expect_error(400, "root.invalid_json_request");
}

#[tokio::test]
async fn content_types() {
    let app = spawn_app().await;
    let body = br#"{"trust":{"trust_all":true}}"#.to_vec();
    for refused in ["text/plain", "application/xml"] {
        app.send_raw("PUT", "/account", &Auth::admin(), refused, body.clone())
            .await
            .expect_error(415, "root.unsupported_media_type");
    }
    // curl -d sends x-www-form-urlencoded by default, as in the official examples: accepted when
    // the body is JSON.
    for accepted in [
        "application/x-www-form-urlencoded",
        "application/json; charset=utf-8",
    ] {
        app.send_raw("PUT", "/account", &Auth::admin(), accepted, body.clone())
            .await
            .expect(200);
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let huge = format!(
        "{{\"trust\":{{\"trust_all\":true,\"x\":\"{}\"}}}}",
        "a".repeat(2 * 1024 * 1024)
    );
    app.send_raw(
        "PUT",
        "/account",
        &Auth::admin(),
        "application/json",
        huge.into_bytes(),
    )
    .await
    .expect_error(413, "root.payload_too_large");
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    app.send_raw(
        "PATCH",
        "/account",
        &Auth::admin(),
        "application/json",
        deep.into_bytes(),
    )
    .await
    .expect_error(400, "root.invalid_json_request");
    app.get("/account", &Auth::admin()).await.expect(200);
}

#[tokio::test]
async fn auth_failures_are_401_never_404() {
    let app = spawn_app().await;
    for auth in [
        Auth::None,
        Auth::Raw("Bearer".into()),
        Auth::Raw("Token abc".into()),
        Auth::Raw("Basic !!!".into()),
        Auth::Bearer("nope".into()),
        Auth::ApiKey("nope".into()),
        Auth::basic("admin", "wrong"),
        Auth::basic("ghost", "whatever-password"),
    ] {
        for path in [
            "/account",
            "/users",
            "/users/nobody",
            "/users/auth/keys/xyz",
            "/users/nobody/auth/keys",
        ] {
            let reply = app.get(path, &auth).await;
            reply.expect_error(401, "root.unauthenticated");
        }
    }
}

#[tokio::test]
async fn bodies_must_be_json_objects() {
    let app = spawn_app().await;
    for body in [
        &b"[\"admin\",\"admin-test-password\"]"[..],
        b"\"admin\"",
        b"42",
        b"null",
        b"  [1]",
    ] {
        let r = app
            .send_raw(
                "POST",
                "/users/auth/_login",
                &Auth::None,
                "application/json",
                body.to_vec(),
            )
            .await;
        r.expect_error(400, "root.invalid_json_request");
    }
}
