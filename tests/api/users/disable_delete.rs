//! Disabling and deleting users: every credential stops at once; nobody enables, disables or
//! changes the roles of themselves, built-in users and yourself cannot be deleted; names with
//! punctuation work in every path that takes a user.

use serde_json::json;

use super::{names, user_with_password};
use crate::helpers::{error_fields, spawn_app, Auth};

#[tokio::test]
async fn disabling_a_user_stops_every_credential_at_once() {
    let app = spawn_app().await;
    let (alice, password) = user_with_password(&app, "alice", &["ece_platform_viewer"]).await;
    let token = Auth::Bearer(app.login("alice", &password).await);
    let (_, key) = app.create_key(&alice, None).await;
    let key = Auth::ApiKey(key);
    for auth in [&alice, &token, &key] {
        app.get("/users", auth).await.expect(200);
    }
    let body = app
        .patch(
            "/users/alice",
            &Auth::admin(),
            json!({"security": {"enabled": false}}),
        )
        .await
        .expect(200);
    assert_eq!(body["security"]["enabled"], false);
    for auth in [&alice, &token, &key] {
        app.get("/users/auth", auth)
            .await
            .expect_error(401, "root.unauthenticated");
    }
    app.post(
        "/users/auth/_login",
        &Auth::None,
        json!({"username": "alice", "password": password}),
    )
    .await
    .expect_error(401, "root.unauthenticated");
    assert!(!names(&app.get("/users", &Auth::admin()).await.expect(200)).contains(&"alice".into()));
    // Re-enabled: the password and the key work again; the ended session stays ended.
    app.patch(
        "/users/alice",
        &Auth::admin(),
        json!({"security": {"enabled": true}}),
    )
    .await
    .expect(200);
    app.get("/users", &alice).await.expect(200);
    app.get("/users", &key).await.expect(200);
    app.get("/users/auth", &token)
        .await
        .expect_error(401, "root.unauthenticated");
    app.login("alice", &password).await;
}

#[tokio::test]
async fn nobody_enables_or_disables_themselves() {
    let app = spawn_app().await;
    let boss = app.create_user("boss", &["ece_platform_admin"]).await;
    let body = app
        .patch(
            "/users/boss",
            &boss,
            json!({"security": {"enabled": false}}),
        )
        .await
        .expect_error(400, "user.restricted_field");
    assert_eq!(error_fields(&body), json!(["security.enabled"]));
    let body = app
        .patch("/user", &boss, json!({"security": {"enabled": false}}))
        .await
        .expect_error(400, "user.restricted_field");
    assert_eq!(error_fields(&body), json!(["security.enabled"]));
    app.get("/users", &boss).await.expect(200);
}

/// An admin demoting itself through `PATCH /users/{own name}` would lock itself out; the
/// role-assignment endpoint asks for `force=true` for that, and `/user` refuses own roles. The
/// update endpoint refuses own role changes too (restating them is fine).
#[tokio::test]
async fn nobody_changes_their_own_roles_through_the_update_endpoint() {
    let app = spawn_app().await;
    let boss = app.create_user("boss", &["ece_platform_admin"]).await;
    for roles in [json!([]), json!(["ece_platform_viewer"]), json!(null)] {
        let body = app
            .patch("/users/boss", &boss, json!({"security": {"roles": roles}}))
            .await
            .expect_error(400, "user.restricted_field");
        assert_eq!(error_fields(&body), json!(["security.roles"]));
    }
    app.patch(
        "/users/boss",
        &boss,
        json!({"full_name": "Boss", "security": {"roles": ["ece_platform_admin"]}}),
    )
    .await
    .expect(200);
    assert_eq!(
        app.user("boss").await["security"]["roles"],
        json!(["ece_platform_admin"])
    );
    app.get("/users", &boss).await.expect(200);
    // Another admin may.
    app.patch(
        "/users/boss",
        &Auth::admin(),
        json!({"security": {"roles": ["ece_platform_viewer"]}}),
    )
    .await
    .expect(200);
}

/// Names with `.`, `@`, `-` and `_` work in every path that takes a user.
#[tokio::test]
async fn user_names_with_punctuation_work_in_paths() {
    let app = spawn_app().await;
    let name = "jane.doe_1-x@example.com";
    let jane = app.create_user(name, &[]).await;
    assert_eq!(app.user(name).await["user_name"], name);
    app.patch(
        &format!("/users/{name}"),
        &Auth::admin(),
        json!({"full_name": "Jane"}),
    )
    .await
    .expect(200);
    app.post(
        &format!("/users/{name}/role_assignments"),
        &Auth::admin(),
        json!({"platform": [{"role_id": "ece_platform_viewer"}]}),
    )
    .await
    .expect(200);
    let (id, _) = app.create_key(&jane, None).await;
    app.get(&format!("/users/{name}/auth/keys/{id}"), &Auth::admin())
        .await
        .expect(200);
    app.delete(&format!("/users/{name}/auth/keys"), &Auth::admin(), None)
        .await
        .expect(200);
    app.delete(&format!("/users/{name}"), &Auth::admin(), None)
        .await
        .expect(200);
    app.get(&format!("/users/{name}"), &Auth::admin())
        .await
        .expect_error(404, "user.not_found");
}

#[tokio::test]
async fn delete_removes_the_user_and_ends_its_credentials() {
    let app = spawn_app().await;
    let boss = app.create_user("boss", &["ece_platform_admin"]).await;
    let (alice, password) = user_with_password(&app, "alice", &["ece_platform_viewer"]).await;
    let token = Auth::Bearer(app.login("alice", &password).await);
    let (key_id, key) = app.create_key(&alice, None).await;
    let key = Auth::ApiKey(key);
    let body = app.delete("/users/alice", &boss, None).await.expect(200);
    assert_eq!(body, json!({}));
    for auth in [&alice, &token, &key] {
        app.get("/users/auth", auth)
            .await
            .expect_error(401, "root.unauthenticated");
    }
    app.get("/users/alice", &boss)
        .await
        .expect_error(404, "user.not_found");
    app.delete("/users/alice", &boss, None)
        .await
        .expect_error(404, "user.not_found");
    let all = app.get("/users/auth/keys/_all", &boss).await.expect(200);
    assert!(all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["id"] != key_id.as_str()));
    // A new user of the same name inherits nothing.
    app.create_user_with(
        json!({"user_name": "alice", "security": {"password": "another-password"}}),
    )
    .await
    .expect(200);
    for auth in [&alice, &token, &key] {
        app.get("/users/auth", auth)
            .await
            .expect_error(401, "root.unauthenticated");
    }
    app.get("/users/alice/auth/keys", &boss).await.expect(200)["keys"]
        .as_array()
        .unwrap()
        .is_empty()
        .then_some(())
        .expect("no keys for the new alice");
}

#[tokio::test]
async fn built_in_users_and_yourself_cannot_be_deleted() {
    let app = spawn_app().await;
    let boss = app.create_user("boss", &["ece_platform_admin"]).await;
    for auth in [Auth::admin(), boss.clone()] {
        for name in ["admin", "readonly"] {
            app.delete(&format!("/users/{name}"), &auth, None)
                .await
                .expect_error(400, "user.restricted_deletion");
        }
    }
    app.delete("/users/boss", &boss, None)
        .await
        .expect_error(400, "user.restricted_deletion");
    app.get("/users/boss", &boss).await.expect(200);
    app.get("/users/admin", &boss).await.expect(200);
    // Somebody else may delete boss.
    app.delete("/users/boss", &Auth::admin(), None)
        .await
        .expect(200);
}
