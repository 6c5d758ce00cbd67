//! Platform roles through `/users/{user_id}/role_assignments`: added and removed (visible in the
//! user and effective at once for its existing credentials), the role rules, targets that must be
//! existing native users, and only platform admins assigning roles.

use ece_server::domain::rbac;
use serde_json::json;

use super::*;
use crate::helpers::{error_fields, spawn_app, Auth};

#[tokio::test]
async fn platform_roles_are_added_and_removed_and_apply_at_once() {
    let app = spawn_app().await;
    let boss = app.create_user("boss", &["ece_platform_admin"]).await;
    app.create_user("alice", &[]).await;
    let token = Auth::Bearer(app.login("alice", "alice-password").await);
    let (_, key) = app
        .create_key(&Auth::basic("alice", "alice-password"), None)
        .await;
    let key = Auth::ApiKey(key);
    for auth in [&token, &key] {
        app.get("/users", auth)
            .await
            .expect_error(403, "root.unauthorized.rbac");
    }

    let body = add(&app, &boss, "alice", platform(&["ece_platform_viewer"]))
        .await
        .expect(200);
    assert_eq!(body, json!({}));
    let user = app.user("alice").await;
    assert_eq!(user["security"]["roles"], json!(["ece_platform_viewer"]));
    assert_eq!(
        user["security"]["permissions"],
        json!(rbac::permissions(&[
            ece_server::domain::roles::Role::PlatformViewer
        ]))
    );
    assert_eq!(user["metadata"]["updated_by"], "boss");
    // The session and the key opened before the change see it on their next request.
    for auth in [&token, &key] {
        app.get("/users", auth).await.expect(200);
    }
    // Adding is idempotent and cumulative.
    add(&app, &boss, "alice", platform(&["ece_platform_viewer"]))
        .await
        .expect(200);
    add(
        &app,
        &Auth::admin(),
        "alice",
        platform(&["ece_deployment_manager", "ece_deployment_viewer"]),
    )
    .await
    .expect(200);
    assert_eq!(
        roles_of(&app, "alice").await,
        json!([
            "ece_platform_viewer",
            "ece_deployment_manager",
            "ece_deployment_viewer"
        ])
    );

    let body = remove(
        &app,
        &boss,
        "alice/role_assignments",
        platform(&["ece_platform_viewer", "ece_deployment_viewer"]),
    )
    .await
    .expect(200);
    assert_eq!(body, json!({}));
    assert_eq!(
        roles_of(&app, "alice").await,
        json!(["ece_deployment_manager"])
    );
    for auth in [&token, &key] {
        app.get("/users", auth)
            .await
            .expect_error(403, "root.unauthorized.rbac");
        app.get("/account", auth).await.expect(200);
    }
    // Removing a role the user does not hold changes nothing.
    remove(
        &app,
        &boss,
        "alice/role_assignments",
        platform(&["ece_platform_admin"]),
    )
    .await
    .expect(200);
    assert_eq!(
        roles_of(&app, "alice").await,
        json!(["ece_deployment_manager"])
    );
    // Empty assignments are a no-op.
    add(&app, &boss, "alice", json!({})).await.expect(200);
    add(
        &app,
        &boss,
        "alice",
        json!({"platform": [], "deployment": [], "organization": []}),
    )
    .await
    .expect(200);
    // Becoming an admin grants everything at once.
    remove(
        &app,
        &boss,
        "alice/role_assignments",
        platform(&["ece_deployment_manager"]),
    )
    .await
    .expect(200);
    add(&app, &boss, "alice", platform(&["ece_platform_admin"]))
        .await
        .expect(200);
    app.post(
        "/users",
        &token,
        json!({"user_name": "made-by-alice", "security": {"password": "password-123"}}),
    )
    .await
    .expect(200);
}

#[tokio::test]
async fn role_rules_of_users_apply() {
    let app = spawn_app().await;
    app.create_user("alice", &["ece_platform_viewer"]).await;
    // Admin is not combined with another role; said with a role_assignments code here.
    let body = add(
        &app,
        &Auth::admin(),
        "alice",
        platform(&["ece_platform_admin"]),
    )
    .await
    .expect_error(400, "role_assignments.invalid_input");
    assert_eq!(error_fields(&body), json!(["platform"]));
    let body = add(&app, &Auth::admin(), "alice", platform(&["root"]))
        .await
        .expect_error(400, "role_assignments.invalid_input");
    assert_eq!(error_fields(&body), json!(["platform"]));
    let body = add(&app, &Auth::admin(), "alice", json!({"platform": [{}]}))
        .await
        .expect_error(400, "root.invalid_json_request");
    assert_eq!(error_fields(&body), json!(["platform[0].role_id"]));
    add(
        &app,
        &Auth::admin(),
        "alice",
        json!({"platform": "ece_platform_admin"}),
    )
    .await
    .expect_error(400, "root.invalid_json_request");
    app.send_raw(
        "POST",
        "/users/alice/role_assignments",
        &Auth::admin(),
        "application/json",
        Vec::new(),
    )
    .await
    .expect_error(400, "root.invalid_json_request");
    assert_eq!(
        roles_of(&app, "alice").await,
        json!(["ece_platform_viewer"])
    );
}

#[tokio::test]
async fn targets_must_be_existing_native_users() {
    let app = spawn_app().await;
    for auth in [
        Auth::admin(),
        app.create_user("boss", &["ece_platform_admin"]).await,
    ] {
        let body = add(&app, &auth, "ghost", platform(&["ece_platform_viewer"]))
            .await
            .expect_error(400, "role_assignments.invalid_target_user_id");
        assert!(body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ghost"));
        remove(
            &app,
            &auth,
            "ghost/role_assignments",
            platform(&["ece_platform_viewer"]),
        )
        .await
        .expect_error(400, "role_assignments.invalid_target_user_id");
        for builtin in ["admin", "readonly"] {
            add(&app, &auth, builtin, platform(&["ece_deployment_viewer"]))
                .await
                .expect_error(403, "role_assignments.unauthorized_role_assignments");
            remove(
                &app,
                &auth,
                &format!("{builtin}/role_assignments"),
                platform(&["ece_platform_viewer"]),
            )
            .await
            .expect_error(403, "role_assignments.unauthorized_role_assignments");
        }
    }
    app.get("/users/ghost", &Auth::admin())
        .await
        .expect_error(404, "user.not_found");
    assert_eq!(roles_of(&app, "admin").await, json!(["ece_platform_admin"]));
    assert_eq!(
        roles_of(&app, "readonly").await,
        json!(["ece_platform_viewer"])
    );
}

#[tokio::test]
async fn only_platform_admins_assign_roles() {
    let app = spawn_app().await;
    app.create_user("alice", &[]).await;
    let callers = [
        Auth::readonly(),
        app.create_user("viewer", &["ece_platform_viewer"]).await,
        app.create_user("manager", &["ece_deployment_manager"])
            .await,
        app.create_user("dviewer", &["ece_deployment_viewer"]).await,
        app.create_user("nobody", &[]).await,
    ];
    for auth in &callers {
        add(&app, auth, "alice", platform(&["ece_platform_viewer"]))
            .await
            .expect_error(403, "role_assignments.unauthorized_role_assignments");
        remove(
            &app,
            auth,
            "alice/role_assignments",
            platform(&["ece_platform_viewer"]),
        )
        .await
        .expect_error(403, "role_assignments.unauthorized_role_assignments");
    }
    // Nobody gives themselves a role either.
    add(
        &app,
        &callers[4],
        "nobody",
        platform(&["ece_platform_admin"]),
    )
    .await
    .expect_error(403, "role_assignments.unauthorized_role_assignments");
    assert_eq!(roles_of(&app, "nobody").await, json!([]));
    // Without valid credentials: 401 root.unauthorized, as the spec documents for these two.
    for auth in [
        Auth::None,
        Auth::Bearer("nope".into()),
        Auth::ApiKey("nope".into()),
        Auth::basic("alice", "wrong-password"),
    ] {
        add(&app, &auth, "alice", platform(&["ece_platform_viewer"]))
            .await
            .expect_error(401, "root.unauthorized");
        remove(
            &app,
            &auth,
            "alice/role_assignments",
            platform(&["ece_platform_viewer"]),
        )
        .await
        .expect_error(401, "root.unauthorized");
    }
    assert_eq!(roles_of(&app, "alice").await, json!([]));
    // An admin's API key may.
    let boss = app.create_user("boss", &["ece_platform_admin"]).await;
    let (_, key) = app.create_key(&boss, None).await;
    add(
        &app,
        &Auth::ApiKey(key),
        "alice",
        platform(&["ece_platform_viewer"]),
    )
    .await
    .expect(200);
    assert_eq!(
        roles_of(&app, "alice").await,
        json!(["ece_platform_viewer"])
    );
}
