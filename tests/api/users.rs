//! `/users`, `/users/{user_name}` and `/user`: create, list, get, merge-patch, delete, the
//! self-service profile, what disabling, deleting and password changes do to credentials,
//! metadata, and concurrency.

use std::time::Duration;

use ece_server::domain::rbac;
use ece_server::http::Settings;
use serde_json::{json, Value};

use crate::helpers::{error_fields, spawn_app, spawn_with, Auth, TestApp, ADMIN_PASSWORD};
use crate::spec::assert_definition;

/// Creates `name` with `roles` and a known password; returns (Basic credentials, password).
async fn user_with_password(app: &TestApp, name: &str, roles: &[&str]) -> (Auth, String) {
    let auth = app.create_user(name, roles).await;
    let password = format!("{name}-password");
    (auth, password)
}

fn names(list: &Value) -> Vec<String> {
    list["users"]
        .as_array()
        .expect("users array")
        .iter()
        .map(|u| u["user_name"].as_str().unwrap().to_string())
        .collect()
}

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

#[tokio::test]
async fn metadata_tracks_who_and_when() {
    let app = spawn_app().await;
    let boss = app.create_user("boss", &["ece_platform_admin"]).await;
    let created = app
        .post(
            "/users",
            &boss,
            json!({"user_name": "alice", "security": {"password": "alice-password"}}),
        )
        .await
        .expect(200);
    let meta = created["metadata"].clone();
    assert_eq!(meta["created_by"], "boss");
    assert_eq!(meta["updated_by"], "boss");
    assert_eq!(meta["created_at"], meta["updated_at"]);
    let created_at = chrono::DateTime::parse_from_rfc3339(meta["created_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert!((chrono::Utc::now() - created_at).num_seconds().abs() < 60);
    assert!(meta.get("first_login_at").is_none());

    tokio::time::sleep(Duration::from_millis(5)).await;
    app.login("alice", "alice-password").await;
    let meta = app.user("alice").await["metadata"].clone();
    assert!(meta["first_login_at"].is_string());
    assert_eq!(meta["first_login_at"], meta["last_login_at"]);
    assert!(meta["first_login_at"].as_str() > meta["created_at"].as_str());
    // A login is not an update.
    assert_eq!(meta["updated_at"], created["metadata"]["updated_at"]);
    let first = meta["first_login_at"].clone();

    tokio::time::sleep(Duration::from_millis(5)).await;
    app.login("alice", "alice-password").await;
    let meta = app.user("alice").await["metadata"].clone();
    assert_eq!(meta["first_login_at"], first);
    assert!(meta["last_login_at"].as_str() > first.as_str());

    tokio::time::sleep(Duration::from_millis(5)).await;
    let body = app
        .patch(
            "/users/alice",
            &Auth::admin(),
            json!({"full_name": "Alice"}),
        )
        .await
        .expect(200);
    let m = &body["metadata"];
    assert_eq!(m["created_by"], "boss");
    assert_eq!(m["created_at"], meta["created_at"]);
    assert_eq!(m["updated_by"], "admin");
    assert!(m["updated_at"].as_str() > meta["updated_at"].as_str());
    assert_eq!(m["first_login_at"], meta["first_login_at"]);
    assert_eq!(m["last_login_at"], meta["last_login_at"]);

    tokio::time::sleep(Duration::from_millis(5)).await;
    let body = app
        .patch(
            "/user",
            &Auth::basic("alice", "alice-password"),
            json!({"email": "a@example.com"}),
        )
        .await
        .expect(200);
    assert_eq!(body["metadata"]["updated_by"], "alice");
    assert!(body["metadata"]["updated_at"].as_str() > m["updated_at"].as_str());
    // A no-op patch does not touch the metadata.
    let same = app
        .patch("/users/alice", &boss, json!({"email": "a@example.com"}))
        .await
        .expect(200);
    assert_eq!(same["metadata"], body["metadata"]);
}

#[tokio::test]
async fn concurrent_creates_of_one_name_make_exactly_one_user() {
    // Every create hashes its password first: 50 Argon2 hashes on a loaded 2-core machine can
    // outlast the default 30 s request timeout, which is not what this test is about.
    let app = spawn_with(Settings {
        request_timeout: Duration::from_secs(300),
        ..Settings::default()
    })
    .await;
    let n = 50;
    let creates = (0..n).map(|i| {
        app.create_user_with(json!({
            "user_name": "contended",
            "full_name": format!("creator {i}"),
            "security": {"password": format!("password-{i:04}")},
        }))
    });
    let replies = futures::future::join_all(creates).await;
    let mut winner = None;
    let mut conflicts = 0;
    for (i, r) in replies.into_iter().enumerate() {
        match r.status {
            200 => {
                assert!(winner.is_none(), "two creates succeeded");
                winner = Some(i);
            }
            409 => {
                assert_eq!(r.body["errors"][0]["code"], "user.user_name.conflict");
                conflicts += 1;
            }
            other => panic!("unexpected status {other}: {}", r.body),
        }
    }
    let winner = winner.expect("one create succeeded");
    assert_eq!(conflicts, n - 1);
    // The stored user is the winner's, password included.
    assert_eq!(
        app.user("contended").await["full_name"],
        format!("creator {winner}")
    );
    app.login("contended", &format!("password-{winner:04}"))
        .await;
}

#[tokio::test]
async fn concurrent_patches_lose_no_update() {
    let app = spawn_app().await;
    let (admin, readonly) = (Auth::admin(), Auth::readonly());
    let rounds = 8;
    for round in 0..rounds {
        let name = format!("u{round}");
        app.create_user(&name, &[]).await;
        let path = format!("/users/{name}");
        let path = path.as_str();
        let app = &app;
        let full_name = app.patch(path, &admin, json!({"full_name": format!("Full {round}")}));
        let email = app.patch(
            path,
            &admin,
            json!({"email": format!("{name}@example.com")}),
        );
        let refused = app.patch(path, &readonly, json!({}));
        let add = |role: &'static str| async move {
            app.post(
                &format!("{path}/role_assignments"),
                &Auth::admin(),
                json!({"platform": [{"role_id": role}]}),
            )
            .await
        };
        let (a, b, c, d, e) = futures::join!(
            full_name,
            email,
            refused,
            add("ece_platform_viewer"),
            add("ece_deployment_manager"),
        );
        a.expect(200);
        b.expect(200);
        // The read-only user may not patch: the refused write must not disturb the others.
        c.expect_error(403, "root.unauthorized.rbac");
        d.expect(200);
        e.expect(200);
        let user = app.user(&name).await;
        assert_eq!(user["full_name"], format!("Full {round}"), "{user}");
        assert_eq!(user["email"], format!("{name}@example.com"), "{user}");
        assert_eq!(
            user["security"]["roles"],
            json!(["ece_platform_viewer", "ece_deployment_manager"]),
            "{user}"
        );
    }
    // Many writers on one field: every reply is 200 and the final value is one of theirs.
    let writes = (0..20).map(|i| {
        app.patch(
            "/users/u0",
            &admin,
            json!({"full_name": format!("writer {i}")}),
        )
    });
    for r in futures::future::join_all(writes).await {
        r.expect(200);
    }
    let last = app.user("u0").await["full_name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(last.starts_with("writer "), "{last}");
}
