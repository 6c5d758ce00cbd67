//! The ECE error envelope for every kind of bad request.

use serde_json::json;

use crate::helpers::{spawn_app, Auth, ADMIN_PASSWORD};

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
    // Only JSON: what a cross-site form or a "simple" cross-origin request sends is refused,
    // `curl -d`'s default x-www-form-urlencoded included (issue 11, point 7).
    for refused in [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        app.send_raw("PUT", "/account", &Auth::admin(), refused, body.clone())
            .await
            .expect_error(415, "root.unsupported_media_type");
    }
    for accepted in [
        "application/json; charset=utf-8",
        "application/merge-patch+json",
    ] {
        app.send_raw("PUT", "/account", &Auth::admin(), accepted, body.clone())
            .await
            .expect(200);
    }
    // No content type: refused with a body, "a body is required" without one.
    let res = app
        .client
        .put(format!("{}/account", app.base))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    assert_eq!(
        res.headers()["x-cloud-error-codes"],
        "root.unsupported_media_type"
    );
    let res = app
        .client
        .put(format!("{}/account", app.base))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.headers()["x-cloud-error-codes"],
        "root.invalid_json_request"
    );
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

/// What a hostile page could make a browser send with the admin's cached Basic credentials: a
/// form post (x-www-form-urlencoded or text/plain) whose body is JSON, from a foreign origin.
#[tokio::test]
async fn a_cross_site_form_post_cannot_create_a_user() {
    let app = spawn_app().await;
    let body = br#"{"user_name":"mallory","security":{"password":"mallory-password","roles":["ece_platform_admin"]}}"#;
    for content_type in ["application/x-www-form-urlencoded", "text/plain"] {
        let res = app
            .client
            .post(format!("{}/users", app.base))
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .header("content-type", content_type)
            .header("origin", "https://evil.example")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 415, "{content_type}");
    }
    app.get("/users/mallory", &Auth::admin())
        .await
        .expect_error(404, "user.not_found");
}

/// A 401 must not make a browser prompt for (and then cache) a password: no Basic challenge.
#[tokio::test]
async fn a_401_carries_no_challenge_a_browser_acts_on() {
    let app = spawn_app().await;
    for auth in [Auth::None, Auth::basic("admin", "wrong-password")] {
        let reply = app.get("/account", &auth).await;
        assert_eq!(reply.status, 401);
        let challenge = reply.headers["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        assert!(
            !challenge.to_ascii_lowercase().contains("basic"),
            "{challenge}"
        );
    }
}
