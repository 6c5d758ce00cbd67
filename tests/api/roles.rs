//! `/users/{user_id}/role_assignments`: adding and removing platform roles (visible in the user
//! and effective at once for its existing credentials), deployment-scope assignments, refusals.

use ece_server::domain::rbac;
use serde_json::{json, Value};

use crate::helpers::{error_fields, spawn_app, Auth, TestApp};

fn platform(roles: &[&str]) -> Value {
    json!({"platform": roles.iter().map(|r| json!({"role_id": r})).collect::<Vec<_>>()})
}

async fn add(app: &TestApp, auth: &Auth, user: &str, body: Value) -> crate::helpers::Reply {
    app.post(&format!("/users/{user}/role_assignments"), auth, body)
        .await
}

async fn remove(app: &TestApp, auth: &Auth, path: &str, body: Value) -> crate::helpers::Reply {
    app.delete(&format!("/users/{path}"), auth, Some(body))
        .await
}

async fn roles_of(app: &TestApp, user: &str) -> Value {
    app.user(user).await["security"]["roles"].clone()
}

/// The deployment assignments as stored (the `User` definition has no field for them).
async fn stored_deployments(app: &TestApp, user: &str) -> Value {
    let record = app
        .store
        .get_user(user)
        .await
        .unwrap()
        .expect("user exists");
    json!(record.deployments)
}

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

#[tokio::test]
async fn deployment_assignments_are_validated_and_stored() {
    let app = spawn_app().await;
    app.create_user("alice", &[]).await;
    let all = json!({"role_id": "ece_deployment_viewer", "organization_id": "org-1", "all": true});
    let some = json!({"role_id": "ece_deployment_manager", "organization_id": "org-1",
        "all": false, "deployment_ids": ["d1", "d2"]});
    let ids_only = json!({"role_id": "ece_deployment_viewer", "organization_id": "org-2",
        "deployment_ids": ["d3"], "application_roles": ["viewer"]});
    add(
        &app,
        &Auth::admin(),
        "alice",
        json!({"deployment": [all, some]}),
    )
    .await
    .expect(200);
    add(
        &app,
        &Auth::admin(),
        "alice",
        json!({"deployment": [ids_only, all]}),
    )
    .await
    .expect(200);
    assert_eq!(
        stored_deployments(&app, "alice").await,
        json!([all, some, ids_only]),
        "stored once each"
    );
    // Deployment scope does not touch the platform roles.
    assert_eq!(roles_of(&app, "alice").await, json!([]));
    // all xor deployment_ids; deployment-scoped roles only.
    for bad in [
        json!({"role_id": "ece_deployment_viewer", "organization_id": "o", "all": true, "deployment_ids": ["d"]}),
        json!({"role_id": "ece_deployment_viewer", "organization_id": "o", "all": true, "deployment_ids": []}),
        json!({"role_id": "ece_deployment_viewer", "organization_id": "o"}),
        json!({"role_id": "ece_deployment_viewer", "organization_id": "o", "all": false}),
        json!({"role_id": "ece_deployment_viewer", "organization_id": "o", "deployment_ids": []}),
        json!({"role_id": "ece_platform_admin", "organization_id": "o", "all": true}),
        json!({"role_id": "nope", "organization_id": "o", "all": true}),
    ] {
        let body = add(
            &app,
            &Auth::admin(),
            "alice",
            json!({"deployment": [bad.clone()]}),
        )
        .await
        .expect_error(400, "role_assignments.invalid_input");
        assert_eq!(error_fields(&body), json!(["deployment"]), "{bad}");
    }
    let body = add(
        &app,
        &Auth::admin(),
        "alice",
        json!({"deployment": [{"role_id": "ece_deployment_viewer", "all": true}]}),
    )
    .await
    .expect_error(400, "root.invalid_json_request");
    assert_eq!(
        error_fields(&body),
        json!(["deployment[0].organization_id"])
    );
    // Removal takes out exactly the assignments named.
    remove(
        &app,
        &Auth::admin(),
        "alice/role_assignments",
        json!({"deployment": [some]}),
    )
    .await
    .expect(200);
    assert_eq!(
        stored_deployments(&app, "alice").await,
        json!([all, ids_only])
    );
    // A PATCH of the user leaves them alone.
    app.patch("/users/alice", &Auth::admin(), json!({"full_name": "A"}))
        .await
        .expect(200);
    assert_eq!(
        stored_deployments(&app, "alice").await,
        json!([all, ids_only])
    );
}

#[tokio::test]
async fn organization_and_project_scopes_are_refused() {
    let app = spawn_app().await;
    app.create_user("alice", &[]).await;
    for body in [
        json!({"organization": [{"role_id": "organization-admin", "organization_id": "o"}]}),
        json!({"platform": [{"role_id": "ece_platform_viewer"}],
               "organization": [{"role_id": "organization-admin", "organization_id": "o"}]}),
        json!({"project": {"elasticsearch": [{"role_id": "admin", "organization_id": "o", "all": true}]}}),
    ] {
        add(&app, &Auth::admin(), "alice", body.clone())
            .await
            .expect_error(400, "role_assignments.invalid_input");
        remove(&app, &Auth::admin(), "alice/role_assignments", body)
            .await
            .expect_error(400, "role_assignments.invalid_input");
    }
    // Nothing of a refused request was applied, not even its platform part.
    assert_eq!(roles_of(&app, "alice").await, json!([]));
}

#[tokio::test]
async fn removing_your_own_admin_role_needs_force() {
    let app = spawn_app().await;
    let boss = app.create_user("boss", &["ece_platform_admin"]).await;
    app.create_user("other", &["ece_platform_admin"]).await;
    for query in ["", "?force=false"] {
        let body = remove(
            &app,
            &boss,
            &format!("boss/role_assignments{query}"),
            platform(&["ece_platform_admin"]),
        )
        .await
        .expect_error(403, "role_assignments.unauthorized_role_assignments");
        assert!(body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("force"));
    }
    let body = remove(
        &app,
        &boss,
        "boss/role_assignments?force=maybe",
        platform(&["ece_platform_admin"]),
    )
    .await
    .expect_error(400, "root.invalid_json_request");
    assert_eq!(error_fields(&body), json!(["force"]));
    assert_eq!(roles_of(&app, "boss").await, json!(["ece_platform_admin"]));
    // Someone else's admin role needs no force.
    remove(
        &app,
        &boss,
        "other/role_assignments",
        platform(&["ece_platform_admin"]),
    )
    .await
    .expect(200);
    assert_eq!(roles_of(&app, "other").await, json!([]));
    // With force, boss demotes itself and loses the rights at once.
    remove(
        &app,
        &boss,
        "boss/role_assignments?force=true",
        platform(&["ece_platform_admin"]),
    )
    .await
    .expect(200);
    assert_eq!(roles_of(&app, "boss").await, json!([]));
    add(&app, &boss, "boss", platform(&["ece_platform_admin"]))
        .await
        .expect_error(403, "role_assignments.unauthorized_role_assignments");
    app.get("/users", &boss)
        .await
        .expect_error(403, "root.unauthorized.rbac");
}
