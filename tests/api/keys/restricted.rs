//! API keys restricted to some roles: they get only those roles, an empty restriction means none,
//! and a restricted key cannot change its owner's password.

use serde_json::json;

use crate::helpers::{error_fields, spawn_app, Auth};
use crate::spec::assert_definition;

#[tokio::test]
async fn keys_restricted_to_some_roles_get_only_those() {
    let app = spawn_app().await;
    let carol = app
        .create_user("carol", &["ece_platform_viewer", "ece_deployment_manager"])
        .await;
    let platform = |roles: &[&str]| json!({"platform": roles.iter().map(|r| json!({"role_id": r})).collect::<Vec<_>>()});
    // Unrestricted: the creator's roles.
    let (_, full) = app.create_key(&carol, None).await;
    app.get("/users", &Auth::ApiKey(full.clone()))
        .await
        .expect(200);
    // Restricted to the deployment role: reads the account, not the users.
    let created = app
        .create_key_with(
            &carol,
            json!({"description": "deploy", "role_assignments": platform(&["ece_deployment_manager"])}),
        )
        .await
        .expect(201);
    assert_definition("ApiKeyResponse", &created);
    assert_eq!(
        created["role_assignments"],
        platform(&["ece_deployment_manager"])
    );
    let deploy = Auth::ApiKey(created["key"].as_str().unwrap().into());
    app.get("/account", &deploy).await.expect(200);
    app.get("/users", &deploy)
        .await
        .expect_error(403, "root.unauthorized.rbac");
    app.get("/users/auth/keys/_all", &deploy)
        .await
        .expect_error(403, "root.unauthorized.rbac");
    // The listing shows the restriction.
    let listed = app
        .get(
            &format!("/users/auth/keys/{}", created["id"].as_str().unwrap()),
            &carol,
        )
        .await
        .expect(200);
    assert_eq!(listed["role_assignments"], created["role_assignments"]);
    // Restricted to nothing: only what every user may do to itself.
    let created = app
        .create_key_with(
            &carol,
            json!({"description": "none", "role_assignments": {"platform": []}}),
        )
        .await
        .expect(201);
    let none = Auth::ApiKey(created["key"].as_str().unwrap().into());
    app.get("/user", &none).await.expect(200);
    app.get("/account", &none)
        .await
        .expect_error(403, "root.unauthorized.rbac");
    // A role the creator lacks, or an unknown one, is refused.
    for roles in [
        vec!["ece_platform_admin"],
        vec!["ece_platform_viewer", "ece_platform_admin"],
        vec!["superuser"],
        vec![""],
    ] {
        let body = app
            .create_key_with(
                &carol,
                json!({"description": "x", "role_assignments": platform(&roles)}),
            )
            .await
            .expect_error(400, "api_keys.invalid_input");
        assert_eq!(
            error_fields(&body),
            json!(["role_assignments"]),
            "{roles:?}"
        );
    }
    // Only platform scope.
    app.create_key_with(
        &carol,
        json!({"description": "x", "role_assignments": {"deployment": [
            {"role_id": "ece_deployment_manager", "organization_id": "o", "all": true}
        ]}}),
    )
    .await
    .expect_error(400, "api_keys.invalid_input");
    // A restricted key cannot mint a key with more than it has, whether it asks for a role...
    app.create_key_with(
        &deploy,
        json!({"description": "x", "role_assignments": platform(&["ece_platform_viewer"])}),
    )
    .await
    .expect_error(400, "api_keys.invalid_input");
    // ...or asks for no restriction at all: the new key inherits the restriction.
    let created = app
        .create_key_with(&deploy, json!({"description": "child"}))
        .await
        .expect(201);
    let child = Auth::ApiKey(created["key"].as_str().unwrap().into());
    app.get("/account", &child).await.expect(200);
    app.get("/users", &child)
        .await
        .expect_error(403, "root.unauthorized.rbac");
    // A key never has more than its owner has now.
    let viewer_key = app
        .create_key_with(
            &carol,
            json!({"description": "v", "role_assignments": platform(&["ece_platform_viewer"])}),
        )
        .await
        .expect(201)["key"]
        .as_str()
        .unwrap()
        .to_string();
    let viewer_key = Auth::ApiKey(viewer_key);
    app.get("/users", &viewer_key).await.expect(200);
    app.delete(
        "/users/carol/role_assignments",
        &Auth::admin(),
        Some(platform(&["ece_platform_viewer"])),
    )
    .await
    .expect(200);
    for key in [&viewer_key, &Auth::ApiKey(full)] {
        app.get("/users", key)
            .await
            .expect_error(403, "root.unauthorized.rbac");
    }
    app.get("/account", &viewer_key)
        .await
        .expect_error(403, "root.unauthorized.rbac");
}

#[tokio::test]
async fn an_empty_restriction_object_means_no_restriction() {
    // The spec: "Takes the role of the creator if not specified".
    let app = spawn_app().await;
    let viewer = app.create_user("viewer", &["ece_platform_viewer"]).await;
    for ra in [json!({}), json!({"platform": null}), json!(null)] {
        let created = app
            .create_key_with(&viewer, json!({"description": "d", "role_assignments": ra}))
            .await
            .expect(201);
        let key = Auth::ApiKey(created["key"].as_str().unwrap().into());
        app.get("/users", &key).await.expect(200);
    }
}

/// A key restricted to fewer roles than its owner must not escape the restriction by setting the
/// owner's password (and then signing in with it): only the profile fields stay self-service.
#[tokio::test]
async fn a_restricted_key_cannot_change_the_owners_password() {
    let app = spawn_app().await;
    let carol = app
        .create_user("carol", &["ece_platform_viewer", "ece_deployment_manager"])
        .await;
    let restricted = app
        .create_key_with(
            &carol,
            json!({"description": "r", "role_assignments": {"platform": [{"role_id": "ece_deployment_manager"}]}}),
        )
        .await
        .expect(201)["key"]
        .as_str()
        .unwrap()
        .to_string();
    let restricted = Auth::ApiKey(restricted);
    let body = app
        .patch(
            "/user",
            &restricted,
            json!({"security": {"password": "taken-over-password"}}),
        )
        .await
        .expect_error(400, "user.restricted_field");
    assert_eq!(error_fields(&body), json!(["security.password"]));
    assert_eq!(
        app.auth_status(&Auth::basic("carol", "taken-over-password"))
            .await,
        401
    );
    assert_eq!(app.auth_status(&carol).await, 200);
    // The profile is still the key's to edit.
    app.patch("/user", &restricted, json!({"full_name": "Carol"}))
        .await
        .expect(200);
    // A key restricted to all of its owner's roles (in any order) is not restricted.
    let full = app
        .create_key_with(
            &carol,
            json!({"description": "f", "role_assignments": {"platform": [
                {"role_id": "ece_deployment_manager"}, {"role_id": "ece_platform_viewer"}
            ]}}),
        )
        .await
        .expect(201)["key"]
        .as_str()
        .unwrap()
        .to_string();
    app.patch(
        "/user",
        &Auth::ApiKey(full),
        json!({"security": {"password": "carol-new-password"}}),
    )
    .await
    .expect(200);
    assert_eq!(
        app.auth_status(&Auth::basic("carol", "carol-new-password"))
            .await,
        200
    );
}
