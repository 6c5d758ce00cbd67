//! Deployment-scope role assignments (validated, stored, removed exactly), refused organization
//! and project scopes, and removing your own admin role only with `force`.

use serde_json::json;

use super::*;
use crate::helpers::{error_fields, spawn_app, Auth};

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
