//! `/user`, the self-service profile, and password changes: an own change keeps only the caller's
//! session, an admin's change ends all sessions of the user.

use serde_json::json;

use super::user_with_password;
use crate::helpers::{error_fields, spawn_app, Auth, ADMIN_PASSWORD};
use crate::spec::assert_definition;

#[tokio::test]
async fn self_service_profile() {
    let app = spawn_app().await;
    let (alice, _) = user_with_password(&app, "alice", &["ece_deployment_viewer"]).await;
    let me = app.get("/user", &alice).await.expect(200);
    assert_definition("User", &me);
    assert_eq!(me, app.user("alice").await);
    let body = app
        .patch(
            "/user",
            &alice,
            json!({"full_name": "Alice", "email": "alice@example.com"}),
        )
        .await
        .expect(200);
    assert_eq!(body["full_name"], "Alice");
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["metadata"]["updated_by"], "alice");
    assert_eq!(app.get("/user", &alice).await.expect(200), body);
    let body = app
        .patch("/user", &alice, json!({"email": null}))
        .await
        .expect(200);
    assert!(body.get("email").is_none());
    // Own roles and own enabled flag are not self-service.
    for (patch, field) in [
        (
            json!({"security": {"roles": ["ece_platform_admin"]}}),
            "security.roles",
        ),
        (json!({"security": {"roles": []}}), "security.roles"),
        (json!({"security": {"enabled": false}}), "security.enabled"),
        (json!({"user_name": "alicia"}), "user_name"),
        (json!({"builtin": true}), "builtin"),
    ] {
        let body = app
            .patch("/user", &alice, patch.clone())
            .await
            .expect_error(400, "user.restricted_field");
        assert_eq!(error_fields(&body), json!([field]), "{patch}");
    }
    // Restating the roles it has is fine.
    app.patch(
        "/user",
        &alice,
        json!({"security": {"roles": ["ece_deployment_viewer"]}}),
    )
    .await
    .expect(200);
    // The password.
    app.patch("/user", &alice, json!({"security": {"password": "short"}}))
        .await
        .expect_error(400, "user.password.invalid");
    app.patch(
        "/user",
        &alice,
        json!({"security": {"password": "alice-new-password"}}),
    )
    .await
    .expect(200);
    app.get("/user", &alice)
        .await
        .expect_error(401, "root.unauthenticated");
    let alice = Auth::basic("alice", "alice-new-password");
    let me = app.get("/user", &alice).await.expect(200);
    assert_eq!(me["security"]["roles"], json!(["ece_deployment_viewer"]));
    // A user without any role has its profile too.
    let nobody = app.create_user("nobody", &[]).await;
    app.get("/user", &nobody).await.expect(200);
    app.patch("/user", &nobody, json!({"full_name": "No Body"}))
        .await
        .expect(200);
    app.get("/user", &Auth::None)
        .await
        .expect_error(401, "root.unauthenticated");
}

#[tokio::test]
async fn own_password_change_keeps_only_the_callers_session() {
    let app = spawn_app().await;
    let (_, password) = user_with_password(&app, "alice", &[]).await;
    let mine = Auth::Bearer(app.login("alice", &password).await);
    let other = Auth::Bearer(app.login("alice", &password).await);
    let unrelated = Auth::Bearer(app.login("admin", ADMIN_PASSWORD).await);
    app.patch(
        "/user",
        &mine,
        json!({"security": {"password": "alice-second-password"}}),
    )
    .await
    .expect(200);
    assert_eq!(app.auth_status(&mine).await, 200);
    assert_eq!(app.auth_status(&other).await, 401);
    assert_eq!(app.auth_status(&unrelated).await, 200);
    assert_eq!(app.auth_status(&Auth::basic("alice", &password)).await, 401);
    assert_eq!(
        app.auth_status(&Auth::basic("alice", "alice-second-password"))
            .await,
        200
    );
    // The kept session can still be refreshed.
    let refreshed = app
        .post("/users/auth/_refresh", &mine, json!({}))
        .await
        .expect(200);
    let mine = Auth::Bearer(refreshed["token"].as_str().unwrap().into());
    // Changed with Basic credentials, no session is the caller's: all of them end.
    app.patch(
        "/user",
        &Auth::basic("alice", "alice-second-password"),
        json!({"security": {"password": "alice-third-password"}}),
    )
    .await
    .expect(200);
    assert_eq!(app.auth_status(&mine).await, 401);
}

#[tokio::test]
async fn admin_password_change_ends_all_sessions_of_the_user() {
    let app = spawn_app().await;
    let (_, password) = user_with_password(&app, "alice", &["ece_platform_viewer"]).await;
    let sessions = [
        Auth::Bearer(app.login("alice", &password).await),
        Auth::Bearer(app.login("alice", &password).await),
    ];
    let admin_session = Auth::Bearer(app.login("admin", ADMIN_PASSWORD).await);
    app.patch(
        "/users/alice",
        &admin_session,
        json!({"security": {"password": "reset-by-admin"}}),
    )
    .await
    .expect(200);
    for s in &sessions {
        assert_eq!(app.auth_status(s).await, 401);
    }
    assert_eq!(app.auth_status(&admin_session).await, 200);
    app.login("alice", "reset-by-admin").await;
    // A profile change is not a credential change: sessions survive it.
    let s = Auth::Bearer(app.login("alice", "reset-by-admin").await);
    app.patch("/users/alice", &Auth::admin(), json!({"full_name": "A"}))
        .await
        .expect(200);
    assert_eq!(app.auth_status(&s).await, 200);
}
