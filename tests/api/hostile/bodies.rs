//! Hostile bodies on every endpoint that takes one: the account (`PUT`/`PATCH /account`), users,
//! API keys and login; each field in turn gets the values wrong for its kind, and whole bodies are
//! malformed, oversized or deeply nested.

use serde_json::json;

use super::harness::{field, header, hostile, run, snapshot, world, Endpoint, Kind};
use crate::helpers::{spawn_app, Auth};

#[tokio::test]
async fn hostile_bodies_on_account() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let endpoints = ["PUT", "PATCH"]
        .into_iter()
        .map(|method| Endpoint {
            method,
            path: "/account".into(),
            auth: w.admin.clone(),
            base: json!({"trust": {"trust_all": true}}),
            fields: vec![
                field("/trust", Kind::Object, true),
                field("/trust/trust_all", Kind::Bool, false),
            ],
        })
        .collect();
    run(&app, &w, endpoints).await;
}

#[tokio::test]
async fn hostile_bodies_on_users() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let endpoints = vec![
        Endpoint {
            method: "POST",
            path: "/users".into(),
            auth: w.admin.clone(),
            base: json!({
                "user_name": "mallory",
                "full_name": "Mallory",
                "email": "mallory@example.com",
                "security": {
                    "password": "mallory-password",
                    "roles": ["ece_platform_viewer"],
                    "enabled": true
                }
            }),
            fields: vec![
                field("/user_name", Kind::Strict, false),
                field("/full_name", Kind::Text, true),
                field("/email", Kind::Strict, true),
                field("/security", Kind::Object, false),
                field("/security/password", Kind::Text, false),
                field("/security/roles", Kind::Array, true),
                field("/security/roles/0", Kind::Strict, false),
                field("/security/enabled", Kind::Bool, true),
            ],
        },
        Endpoint {
            method: "PATCH",
            path: "/users/alice".into(),
            auth: w.admin.clone(),
            base: json!({
                "full_name": "Alice",
                "email": "alice@example.com",
                "security": {
                    "password": "alice-new-password",
                    "roles": ["ece_platform_viewer"],
                    "enabled": true
                }
            }),
            // In a merge patch `null` removes a field: always valid.
            fields: vec![
                field("/full_name", Kind::Text, true),
                field("/email", Kind::Strict, true),
                field("/security", Kind::Object, true),
                field("/security/password", Kind::Text, true),
                field("/security/roles", Kind::Array, true),
                field("/security/roles/0", Kind::Strict, false),
                field("/security/enabled", Kind::Bool, true),
            ],
        },
        Endpoint {
            method: "POST",
            path: "/users/alice/role_assignments".into(),
            auth: w.admin.clone(),
            base: json!({"platform": [{"role_id": "ece_platform_viewer"}]}),
            fields: vec![
                field("/platform", Kind::Array, true),
                field("/platform/0", Kind::Object, false),
                field("/platform/0/role_id", Kind::Strict, false),
            ],
        },
        Endpoint {
            method: "POST",
            path: "/users/alice/role_assignments".into(),
            auth: w.admin.clone(),
            base: json!({"deployment": [{
                "role_id": "ece_deployment_viewer",
                "organization_id": "org",
                "all": true
            }]}),
            fields: vec![
                field("/deployment", Kind::Array, true),
                field("/deployment/0/role_id", Kind::Strict, false),
                field("/deployment/0/organization_id", Kind::AnyString, false),
                field("/deployment/0/all", Kind::Bool, false),
            ],
        },
    ];
    // The deployment base body is valid: send it first so that the barrage is a no-op change.
    app.post(
        "/users/alice/role_assignments",
        &w.admin,
        endpoints[3].base.clone(),
    )
    .await
    .expect(200);
    run(&app, &w, endpoints).await;
}

#[tokio::test]
async fn hostile_bodies_on_keys() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let endpoints = vec![
        Endpoint {
            method: "POST",
            path: "/users/auth/keys".into(),
            auth: w.keyuser.clone(),
            base: json!({
                "description": "a key",
                "expiration": "1d",
                "role_assignments": {"platform": [{"role_id": "ece_platform_viewer"}]}
            }),
            fields: vec![
                field("/description", Kind::Text, false),
                field("/expiration", Kind::Strict, true),
                field("/role_assignments", Kind::Object, true),
                field("/role_assignments/platform", Kind::Array, true),
                field("/role_assignments/platform/0/role_id", Kind::Strict, false),
            ],
        },
        Endpoint {
            method: "DELETE",
            path: "/users/auth/keys".into(),
            auth: w.keyuser.clone(),
            base: json!({"keys": ["no-such-key"]}),
            fields: vec![
                field("/keys", Kind::Array, false),
                field("/keys/0", Kind::AnyString, false),
            ],
        },
    ];
    // Expirations beyond the bounds, some far enough to overflow a duration.
    let before = snapshot(&app, &w.admin).await;
    for expiration in [
        "306013360y",
        "999999999y",
        "999999999s",
        "0m",
        "-1d",
        "3651d",
        "1e3d",
        "never never",
    ] {
        let body = json!({"description": "a key", "expiration": expiration});
        let body = Some(serde_json::to_vec(&body).unwrap());
        let r = hostile(
            &app,
            expiration,
            "POST",
            "/users/auth/keys",
            header(&w.keyuser),
            body,
        )
        .await;
        r.expect_error(400, "api_keys.invalid_input");
    }
    assert_eq!(snapshot(&app, &w.admin).await, before);
    run(&app, &w, endpoints).await;
}

#[tokio::test]
async fn hostile_bodies_on_login() {
    let app = spawn_app().await;
    let w = world(&app).await;
    // Wrong credentials: whatever slips through the parser is refused with 401, never signs in.
    // Few enough password checks fail that brute-force protection does not start.
    let endpoints = vec![Endpoint {
        method: "POST",
        path: "/users/auth/_login".into(),
        auth: Auth::None,
        base: json!({
            "username": "admin",
            "password": "not-the-password",
            "login_state": {"path": "/deployments"}
        }),
        fields: vec![
            field("/username", Kind::Strict, false),
            field("/password", Kind::AnyString, false),
            field("/login_state", Kind::Object, true),
            field("/login_state/path", Kind::AnyString, true),
        ],
    }];
    run(&app, &w, endpoints).await;
}
