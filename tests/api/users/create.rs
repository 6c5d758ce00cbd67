//! `POST /users`: the created user and its `GET`, taken and invalid names, role validation,
//! read-only fields and their defaults, the password policy; and that no reply of a user's life
//! cycle ever shows a password or its hash.

use ece_server::domain::rbac;
use serde_json::{json, Value};

use crate::helpers::{error_fields, spawn_app, Auth};
use crate::spec::assert_definition;

#[tokio::test]
async fn create_returns_the_user_and_get_returns_the_same() {
    let app = spawn_app().await;
    let body = app
        .create_user_with(json!({
            "user_name": "alice",
            "full_name": "Alice Liddell",
            "email": "alice@example.com",
            "security": {"password": "alice-secret-1", "roles": ["ece_platform_viewer"]},
        }))
        .await
        .expect(200);
    assert_definition("User", &body);
    assert_eq!(body["user_name"], "alice");
    assert_eq!(body["full_name"], "Alice Liddell");
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["builtin"], false);
    assert_eq!(body["security"]["roles"], json!(["ece_platform_viewer"]));
    assert_eq!(
        body["security"]["permissions"],
        json!(rbac::permissions(&[
            ece_server::domain::roles::Role::PlatformViewer
        ]))
    );
    assert_eq!(body["security"]["enabled"], true);
    assert_eq!(
        body["security"]["security_realm"],
        json!({"type": "native", "id": "native"})
    );
    assert!(body["security"].get("password").is_none());
    let meta = &body["metadata"];
    assert_eq!(meta["created_by"], "admin");
    assert_eq!(meta["updated_by"], "admin");
    assert_eq!(meta["created_at"], meta["updated_at"]);
    assert!(meta.get("first_login_at").is_none());
    assert!(meta.get("last_login_at").is_none());
    assert_eq!(app.user("alice").await, body);
    // The new user can sign in with the password it was given.
    app.login("alice", "alice-secret-1").await;
    // Roles are optional; duplicates are collapsed into the canonical order.
    let body = app
        .create_user_with(json!({
            "user_name": "bob",
            "security": {"password": "bob-secret-1", "roles": [
                "ece_deployment_viewer", "ece_platform_viewer", "ece_deployment_viewer"
            ]},
        }))
        .await
        .expect(200);
    assert_eq!(
        body["security"]["roles"],
        json!(["ece_platform_viewer", "ece_deployment_viewer"])
    );
    let body = app
        .create_user_with(json!({"user_name": "carol", "security": {"password": "carol-secret"}}))
        .await
        .expect(200);
    assert_eq!(body["security"]["roles"], json!([]));
    assert!(body.get("full_name").is_none());
    assert!(body.get("email").is_none());
}

#[tokio::test]
async fn create_refuses_a_taken_name() {
    let app = spawn_app().await;
    app.create_user("alice", &[]).await;
    for name in ["alice", "admin", "readonly"] {
        let body = app
            .create_user_with(
                json!({"user_name": name, "security": {"password": "another-password"}}),
            )
            .await
            .expect_error(409, "user.user_name.conflict");
        assert_eq!(error_fields(&body), json!(["user_name"]));
    }
    // The original is untouched: its password still works.
    app.login("alice", "alice-password").await;
}

#[tokio::test]
async fn create_refuses_invalid_names() {
    let app = spawn_app().await;
    let long = "x".repeat(65);
    for name in [
        "",
        "a b",
        "auth",
        "_all",
        "-x",
        ".x",
        "a/b",
        "é",
        long.as_str(),
    ] {
        let body = app
            .create_user_with(json!({"user_name": name, "security": {"password": "password-123"}}))
            .await
            .expect_error(400, "user.user_name.invalid");
        assert_eq!(error_fields(&body), json!(["user_name"]), "{name:?}");
    }
    // A NUL character is refused for the whole body, before any field is looked at (PostgreSQL
    // cannot store it), still naming the field.
    let body = app
        .create_user_with(json!({"user_name": "a\u{0}", "security": {"password": "password-123"}}))
        .await
        .expect_error(400, "root.invalid_json_request");
    assert_eq!(error_fields(&body), json!(["user_name"]));
    // Schema errors name the field.
    let body = app
        .create_user_with(json!({"security": {"password": "password-123"}}))
        .await
        .expect_error(400, "root.invalid_json_request");
    assert_eq!(error_fields(&body), json!(["user_name"]));
    let body = app
        .create_user_with(json!({"user_name": 7, "security": {"password": "password-123"}}))
        .await
        .expect_error(400, "root.invalid_json_request");
    assert_eq!(error_fields(&body), json!(["user_name"]));
    for not_an_object in [json!([]), json!("alice"), json!(null)] {
        app.create_user_with(not_an_object)
            .await
            .expect_error(400, "root.invalid_json_request");
    }
    // The longest valid name, and the other allowed characters.
    let name = "y".repeat(64);
    app.create_user(&name, &[]).await;
    app.create_user("jane.doe_1-x@example.com", &[]).await;
}

#[tokio::test]
async fn create_validates_roles() {
    let app = spawn_app().await;
    let body = app
        .create_user_with(
            json!({"user_name": "a", "security": {"password": "password-123", "roles": ["root"]}}),
        )
        .await
        .expect_error(400, "user.roles.invalid");
    assert_eq!(error_fields(&body), json!(["security.roles"]));
    let body = app
        .create_user_with(
            json!({"user_name": "a", "security": {"password": "password-123",
            "roles": ["ece_platform_admin", "ece_platform_viewer"]}}),
        )
        .await
        .expect_error(400, "user.roles.forbidden");
    assert_eq!(error_fields(&body), json!(["security.roles"]));
    app.create_user_with(
        json!({"user_name": "a", "security": {"password": "password-123",
        "roles": ["ece_deployment_manager", "ece_platform_admin"]}}),
    )
    .await
    .expect_error(400, "user.roles.forbidden");
    app.get("/users/a", &Auth::admin())
        .await
        .expect_error(404, "user.not_found");
    // Admin alone, or admin twice, is fine.
    let body = app
        .create_user_with(
            json!({"user_name": "a", "security": {"password": "password-123",
            "roles": ["ece_platform_admin", "ece_platform_admin"]}}),
        )
        .await
        .expect(200);
    assert_eq!(body["security"]["roles"], json!(["ece_platform_admin"]));
    // Every operation: 30 identity ones and 14 security-realm ones.
    assert_eq!(
        body["security"]["permissions"].as_array().unwrap().len(),
        44
    );
}

#[tokio::test]
async fn create_refuses_read_only_fields_but_accepts_their_defaults() {
    let app = spawn_app().await;
    let base = |extra: Value| {
        let mut body = json!({"user_name": "alice", "security": {"password": "password-123"}});
        json_patch::merge(&mut body, &extra);
        body
    };
    for (extra, field) in [
        (json!({"builtin": true}), "builtin"),
        (json!({"metadata": {"created_by": "someone"}}), "metadata"),
        (
            json!({"metadata": {"created_at": "2020-01-01T00:00:00.000Z"}}),
            "metadata",
        ),
        (
            json!({"security": {"permissions": ["create-user"]}}),
            "security.permissions",
        ),
        (
            json!({"security": {"security_realm": {"type": "ldap", "id": "corp"}}}),
            "security.security_realm",
        ),
        (
            json!({"security": {"security_realm": {"type": "saml", "id": "idp"}}}),
            "security.security_realm",
        ),
        (
            json!({"security": {"elevated_permissions": {"enabled": true}}}),
            "security.elevated_permissions",
        ),
    ] {
        let body = app
            .create_user_with(base(extra.clone()))
            .await
            .expect_error(400, "user.restricted_field");
        assert_eq!(error_fields(&body), json!([field]), "{extra}");
    }
    app.get("/users/alice", &Auth::admin())
        .await
        .expect_error(404, "user.not_found");
    // What a client copies from a template: defaults of read-only fields are not a change.
    let body = app
        .create_user_with(base(json!({
            "builtin": false,
            "metadata": {},
            "security": {
                "permissions": [],
                "enabled": true,
                "security_realm": {"type": "native", "id": "native"},
                "elevated_permissions": {"enabled": false},
            },
        })))
        .await
        .expect(200);
    assert_eq!(body["builtin"], false);
}

#[tokio::test]
async fn create_needs_a_password_within_the_policy() {
    let app = spawn_app().await;
    let body = app
        .create_user_with(json!({"user_name": "alice", "security": {"roles": []}}))
        .await
        .expect_error(400, "root.invalid_json_request");
    assert_eq!(error_fields(&body), json!(["security.password"]));
    let body = app
        .create_user_with(json!({"user_name": "alice", "security": {}}))
        .await
        .expect_error(400, "root.invalid_json_request");
    assert_eq!(error_fields(&body), json!(["security.password"]));
    // Without `security` at all, the missing object is named (the spec requires it).
    let body = app
        .create_user_with(json!({"user_name": "alice"}))
        .await
        .expect_error(400, "root.invalid_json_request");
    assert_eq!(error_fields(&body), json!(["security"]));
    let body = app
        .create_user_with(json!({"user_name": "alice", "security": {"password": 12345678}}))
        .await
        .expect_error(400, "root.invalid_json_request");
    assert_eq!(error_fields(&body), json!(["security.password"]));
    for bad in [
        String::new(),
        "1234567".to_string(),
        "ééééééé".to_string(),
        "x".repeat(129),
    ] {
        let body = app
            .create_user_with(json!({"user_name": "alice", "security": {"password": bad}}))
            .await
            .expect_error(400, "user.password.invalid");
        assert_eq!(error_fields(&body), json!(["security.password"]));
    }
    app.get("/users/alice", &Auth::admin())
        .await
        .expect_error(404, "user.not_found");
    // The bounds are inclusive and count characters, not bytes.
    for (name, good) in [
        ("eight", "12345678".to_string()),
        ("accents", "éééééééé".to_string()),
        ("longest", "x".repeat(128)),
    ] {
        app.create_user_with(json!({"user_name": name, "security": {"password": good}}))
            .await
            .expect(200);
        app.login(name, &good).await;
    }
}

/// Collects every reply body of a typical user life cycle and checks that neither the passwords
/// nor their hashes ever appear.
#[tokio::test]
async fn passwords_never_appear_in_any_reply() {
    let app = spawn_app().await;
    let first = "first-Secret-Passw0rd";
    let second = "second-Secret-Passw0rd";
    let third = "third-Secret-Passw0rd";
    let alice = Auth::basic("alice", first);
    let mut replies = vec![
        app.create_user_with(json!({"user_name": "alice", "security": {"password": first, "roles": ["ece_platform_viewer"]}}))
            .await
            .expect(200),
    ];
    replies.push(app.get("/users/alice", &Auth::admin()).await.expect(200));
    replies.push(
        app.get("/users?include_disabled=true", &Auth::admin())
            .await
            .expect(200),
    );
    replies.push(app.get("/user", &alice).await.expect(200));
    replies.push(
        app.patch(
            "/users/alice",
            &Auth::admin(),
            json!({"security": {"password": second}}),
        )
        .await
        .expect(200),
    );
    let alice = Auth::basic("alice", second);
    replies.push(
        app.patch("/user", &alice, json!({"security": {"password": third}}))
            .await
            .expect(200),
    );
    // Refused password changes do not echo the password either.
    replies.push(
        app.patch(
            "/users/alice",
            &Auth::admin(),
            json!({"security": {"password": "short"}}),
        )
        .await
        .expect_error(400, "user.password.invalid"),
    );
    replies.push(
        app.create_user_with(json!({"user_name": "alice", "security": {"password": first}}))
            .await
            .expect_error(409, "user.user_name.conflict"),
    );
    for reply in replies {
        let text = reply.to_string();
        for secret in [first, second, third, "short", "$argon2"] {
            assert!(!text.contains(secret), "[{secret}] leaked in {text}");
        }
        if let Some(users) = reply["users"].as_array() {
            assert!(users
                .iter()
                .all(|u| u["security"].get("password").is_none()));
        } else {
            assert!(reply["security"].get("password").is_none(), "{text}");
        }
    }
}
