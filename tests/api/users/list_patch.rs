//! `GET /users` (disabled users hidden unless asked), unknown users, and the merge patch of
//! `PATCH /users/{user_name}`: setting and removing fields, restating unchanged ones, a whole-body
//! edit across a login, refused renames and read-only fields, and built-in users left alone.

use std::time::Duration;

use ece_server::domain::rbac;
use serde_json::json;

use super::{names, user_with_password};
use crate::helpers::{error_fields, spawn_app, Auth, ADMIN_PASSWORD};
use crate::spec::assert_definition;

#[tokio::test]
async fn list_hides_disabled_users_unless_asked() {
    let app = spawn_app().await;
    app.create_user("alice", &[]).await;
    app.create_user_with(
        json!({"user_name": "bob", "security": {"password": "bob-password", "enabled": false}}),
    )
    .await
    .expect(200);
    let enabled = app.get("/users", &Auth::admin()).await.expect(200);
    assert_eq!(names(&enabled), ["admin", "alice", "readonly"]);
    let same = app
        .get("/users?include_disabled=false", &Auth::readonly())
        .await
        .expect(200);
    assert_eq!(same, enabled);
    let all = app
        .get("/users?include_disabled=true", &Auth::admin())
        .await
        .expect(200);
    assert_eq!(names(&all), ["admin", "alice", "bob", "readonly"]);
    let bob = &all["users"][2];
    assert_eq!(bob["security"]["enabled"], false);
    assert_eq!(bob, &app.user("bob").await);
    for bad in ["yes", "1", "TRUE"] {
        let body = app
            .get(&format!("/users?include_disabled={bad}"), &Auth::admin())
            .await
            .expect_error(400, "root.invalid_json_request");
        assert_eq!(error_fields(&body), json!(["include_disabled"]));
    }
}

#[tokio::test]
async fn unknown_users_are_404() {
    let app = spawn_app().await;
    app.get("/users/ghost", &Auth::admin())
        .await
        .expect_error(404, "user.not_found");
    app.patch("/users/ghost", &Auth::admin(), json!({"full_name": "G"}))
        .await
        .expect_error(404, "user.not_found");
    app.delete("/users/ghost", &Auth::admin(), None)
        .await
        .expect_error(404, "user.not_found");
    // The patch is not a way to create a user.
    app.get("/users/ghost", &Auth::admin())
        .await
        .expect_error(404, "user.not_found");
}

#[tokio::test]
async fn patch_merges_sets_and_removes_fields() {
    let app = spawn_app().await;
    let created = app
        .create_user_with(json!({"user_name": "alice", "security": {"password": "alice-password", "roles": ["ece_deployment_viewer"]}}))
        .await
        .expect(200);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let body = app
        .patch(
            "/users/alice",
            &Auth::admin(),
            json!({"full_name": "Alice L.", "email": "alice@example.com"}),
        )
        .await
        .expect(200);
    assert_definition("User", &body);
    assert_eq!(body["full_name"], "Alice L.");
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["security"]["roles"], json!(["ece_deployment_viewer"]));
    assert_eq!(
        body["metadata"]["created_at"],
        created["metadata"]["created_at"]
    );
    assert_ne!(
        body["metadata"]["updated_at"],
        created["metadata"]["updated_at"]
    );
    assert_eq!(app.user("alice").await, body);
    // Omitted fields stay; null removes one.
    let body = app
        .patch("/users/alice", &Auth::admin(), json!({"email": null}))
        .await
        .expect(200);
    assert_eq!(body["full_name"], "Alice L.");
    assert!(body.get("email").is_none());
    let body = app
        .patch("/users/alice", &Auth::admin(), json!({"full_name": null}))
        .await
        .expect(200);
    assert!(body.get("full_name").is_none());
    // Roles: replaced as a whole, permissions follow.
    let body = app
        .patch(
            "/users/alice",
            &Auth::admin(),
            json!({"security": {"roles": ["ece_platform_viewer"]}}),
        )
        .await
        .expect(200);
    assert_eq!(body["security"]["roles"], json!(["ece_platform_viewer"]));
    assert_eq!(
        body["security"]["permissions"],
        json!(rbac::permissions(&[
            ece_server::domain::roles::Role::PlatformViewer
        ]))
    );
    // ...and take effect for the user at once.
    let alice = Auth::basic("alice", "alice-password");
    app.get("/users", &alice).await.expect(200);
    let body = app
        .patch(
            "/users/alice",
            &Auth::admin(),
            json!({"security": {"roles": null}}),
        )
        .await
        .expect(200);
    assert_eq!(body["security"]["roles"], json!([]));
    app.get("/users", &alice)
        .await
        .expect_error(403, "root.unauthorized.rbac");
    // Invalid results are refused and change nothing.
    let before = app.user("alice").await;
    let body = app
        .patch(
            "/users/alice",
            &Auth::admin(),
            json!({"security": {"roles": ["superuser"]}}),
        )
        .await
        .expect_error(400, "user.roles.invalid");
    assert_eq!(error_fields(&body), json!(["security.roles"]));
    app.patch(
        "/users/alice",
        &Auth::admin(),
        json!({"security": {"roles": ["ece_platform_admin", "ece_deployment_viewer"]}}),
    )
    .await
    .expect_error(400, "user.roles.forbidden");
    let body = app
        .patch(
            "/users/alice",
            &Auth::admin(),
            json!({"email": "not-an-email"}),
        )
        .await
        .expect_error(400, "root.invalid_json_request");
    assert_eq!(error_fields(&body), json!(["email"]));
    app.patch("/users/alice", &Auth::admin(), json!({"full_name": 3}))
        .await
        .expect_error(400, "root.invalid_json_request");
    for not_an_object in [json!("x"), json!([1]), json!(null)] {
        app.patch("/users/alice", &Auth::admin(), not_an_object)
            .await
            .expect_error(400, "root.invalid_json_request");
    }
    assert_eq!(app.user("alice").await, before);
}

#[tokio::test]
async fn patch_restating_unchanged_fields_is_a_no_op() {
    let app = spawn_app().await;
    app.create_user_with(json!({"user_name": "bob", "full_name": "Bob", "security": {"password": "bob-password", "roles": ["ece_platform_viewer"]}}))
        .await
        .expect(200);
    let bob = Auth::basic("bob", "bob-password");
    let token = app.login("bob", "bob-password").await;
    let before = app.user("bob").await;
    // What the CLI sends for "no change", and the whole GET body sent back.
    for patch in [
        json!({}),
        json!({"user_name": "bob"}),
        json!({"user_name": "bob", "security": {}}),
        json!({"user_name": "bob", "builtin": false, "security": {"roles": ["ece_platform_viewer"], "enabled": true}}),
        json!({"metadata": {}}),
        before.clone(),
    ] {
        let body = app
            .patch("/users/bob", &Auth::admin(), patch.clone())
            .await
            .expect(200);
        assert_eq!(body, before, "{patch}");
        assert_eq!(app.user("bob").await, before, "{patch}");
    }
    // The same through /user, by the user itself.
    let own = app.get("/user", &bob).await.expect(200);
    let body = app.patch("/user", &bob, own.clone()).await.expect(200);
    assert_eq!(body, before);
    app.patch("/user", &bob, json!({"user_name": "bob", "security": {}}))
        .await
        .expect(200);
    // Nothing happened to the user's session.
    app.get("/users/auth", &Auth::Bearer(token))
        .await
        .expect(200);
    // Built-in users accept a restatement too (the CLI sends one), only a change is refused.
    let admin = app.user("admin").await;
    let body = app
        .patch("/users/admin", &Auth::admin(), admin.clone())
        .await
        .expect(200);
    assert_eq!(body, admin);
    app.patch(
        "/users/readonly",
        &Auth::admin(),
        json!({"user_name": "readonly", "security": {}}),
    )
    .await
    .expect(200);
}

/// The CLI's read-modify-write: GET the user, change a field, send the whole body back. The user
/// signing in between the GET and the PATCH moves its login stamps; that is not an attempt to
/// change the read-only metadata and must not make the edit fail.
#[tokio::test]
async fn whole_body_edit_survives_a_login_in_between() {
    let app = spawn_app().await;
    let (_, password) = user_with_password(&app, "bob", &["ece_platform_viewer"]).await;
    let mut edited = app.user("bob").await;
    assert!(edited["metadata"].get("last_login_at").is_none());
    app.login("bob", &password).await;
    edited["full_name"] = json!("Robert");
    let body = app
        .patch("/users/bob", &Auth::admin(), edited.clone())
        .await
        .expect(200);
    assert_eq!(body["full_name"], "Robert");
    assert!(body["metadata"]["last_login_at"].is_string());
    // Again, with stamps present in the stale copy, through /user.
    let mut own = app
        .get("/user", &Auth::basic("bob", &password))
        .await
        .expect(200);
    tokio::time::sleep(Duration::from_millis(5)).await;
    app.login("bob", &password).await;
    own["email"] = json!("bob@example.com");
    let body = app
        .patch("/user", &Auth::basic("bob", &password), own)
        .await
        .expect(200);
    assert_eq!(body["email"], "bob@example.com");
    // The stamps sent are not stored: they are the server's.
    assert_ne!(
        body["metadata"]["last_login_at"],
        edited["metadata"]["last_login_at"]
    );
    // Other metadata still may not change.
    let mut forged = app.user("bob").await;
    forged["metadata"]["created_by"] = json!("mallory");
    app.patch("/users/bob", &Auth::admin(), forged)
        .await
        .expect_error(400, "user.restricted_field");
}

#[tokio::test]
async fn patch_refuses_renames_and_read_only_fields() {
    let app = spawn_app().await;
    app.create_user("bob", &["ece_platform_viewer"]).await;
    let before = app.user("bob").await;
    for (patch, field) in [
        (json!({"user_name": "robert"}), "user_name"),
        (json!({"builtin": true}), "builtin"),
        (json!({"metadata": {"created_by": "mallory"}}), "metadata"),
        (
            json!({"security": {"permissions": ["create-user"]}}),
            "security.permissions",
        ),
        (
            json!({"security": {"security_realm": {"type": "ldap", "id": "corp"}}}),
            "security.security_realm",
        ),
        (
            json!({"security": {"elevated_permissions": {"enabled": true}}}),
            "security.elevated_permissions",
        ),
    ] {
        let body = app
            .patch("/users/bob", &Auth::admin(), patch.clone())
            .await
            .expect_error(400, "user.restricted_field");
        assert_eq!(error_fields(&body), json!([field]), "{patch}");
    }
    app.get("/users/robert", &Auth::admin())
        .await
        .expect_error(404, "user.not_found");
    assert_eq!(app.user("bob").await, before);
}

#[tokio::test]
async fn built_in_users_cannot_be_modified() {
    let app = spawn_app().await;
    let boss = app.create_user("boss", &["ece_platform_admin"]).await;
    for auth in [Auth::admin(), boss] {
        for (name, patch) in [
            ("admin", json!({"full_name": "Root"})),
            ("admin", json!({"email": "root@example.com"})),
            (
                "readonly",
                json!({"security": {"roles": ["ece_platform_admin"]}}),
            ),
            ("readonly", json!({"security": {"enabled": false}})),
            (
                "readonly",
                json!({"security": {"password": "a-new-password"}}),
            ),
            ("admin", json!({"security": {"password": "a-new-password"}})),
        ] {
            app.patch(&format!("/users/{name}"), &auth, patch)
                .await
                .expect_error(400, "user.cannot_modify");
        }
    }
    // Passwords unchanged.
    app.login("admin", ADMIN_PASSWORD).await;
    app.get("/users", &Auth::readonly()).await.expect(200);
    assert_eq!(
        app.user("readonly").await["security"]["roles"],
        json!(["ece_platform_viewer"])
    );
    // A built-in user may change its own password through /user, and nothing else.
    app.patch("/user", &Auth::readonly(), json!({"full_name": "R"}))
        .await
        .expect_error(400, "user.cannot_modify");
    app.patch(
        "/user",
        &Auth::readonly(),
        json!({"security": {"password": "readonly-new-password"}}),
    )
    .await
    .expect(200);
    app.login("readonly", "readonly-new-password").await;
}
