//! The audit log: every security event is recorded without secrets, and refused or unchanged
//! writes are not recorded as changes.

use ece_server::security::crypto;
use ece_server::store::AuditRecord;
use serde_json::json;

use super::{assert_throttled, audit, find, login_status};
use crate::helpers::{spawn_app, spawn_with, throttled, Auth, ADMIN_PASSWORD, READONLY_PASSWORD};

#[tokio::test]
async fn every_security_event_is_audited_without_secrets() {
    let app = spawn_with(throttled(2, 0)).await;
    let mut secrets: Vec<String> = vec![ADMIN_PASSWORD.into(), READONLY_PASSWORD.into()];

    // Sign-ins: success, failure, throttling; refresh and logout.
    let admin_token = app.login("admin", ADMIN_PASSWORD).await;
    let admin = Auth::Bearer(admin_token.clone());
    login_status(&app, "ghost", "guess-one-1").await.expect(401);
    login_status(&app, "ghost", "guess-two-2").await.expect(401);
    assert_throttled(login_status(&app, "ghost", "guess-three").await, 60);
    app.get("/users/auth", &Auth::basic("readonly", "basic-guess"))
        .await
        .expect(401);
    secrets.extend(["guess-one-1", "guess-two-2", "guess-three", "basic-guess"].map(String::from));
    let refreshed = app
        .post("/users/auth/_refresh", &admin, json!({}))
        .await
        .expect(200);
    let admin_token2 = refreshed["token"].as_str().unwrap().to_string();
    let admin = Auth::Bearer(admin_token2.clone());

    // Users: create, update, disable, enable, password change (by an admin, and self-service),
    // role change, delete.
    app.post(
        "/users",
        &admin,
        json!({"user_name": "carol", "security": {"password": "carol-first-pw", "roles": ["ece_platform_viewer"]}}),
    )
    .await
    .expect(200);
    app.patch(
        "/users/carol",
        &admin,
        json!({"full_name": "Carol C", "email": "c@example.com"}),
    )
    .await
    .expect(200);
    app.patch(
        "/users/carol",
        &admin,
        json!({"security": {"enabled": false}}),
    )
    .await
    .expect(200);
    app.patch(
        "/users/carol",
        &admin,
        json!({"security": {"enabled": true}}),
    )
    .await
    .expect(200);
    app.patch(
        "/users/carol",
        &admin,
        json!({"security": {"password": "carol-second-pw"}}),
    )
    .await
    .expect(200);
    let carol = Auth::basic("carol", "carol-second-pw");
    app.patch(
        "/user",
        &carol,
        json!({"security": {"password": "carol-third-pw"}}),
    )
    .await
    .expect(200);
    let carol = Auth::basic("carol", "carol-third-pw");
    secrets.extend(["carol-first-pw", "carol-second-pw", "carol-third-pw"].map(String::from));
    app.post(
        "/users/carol/role_assignments",
        &admin,
        json!({"platform": [{"role_id": "ece_deployment_manager"}]}),
    )
    .await
    .expect(200);

    // API keys: create, and the three ways to delete.
    let mut key_ids = Vec::new();
    for _ in 0..4 {
        let (id, key) = app.create_key(&carol, None).await;
        app.get("/user", &Auth::ApiKey(key.clone()))
            .await
            .expect(200);
        secrets.push(key);
        key_ids.push(id);
    }
    app.delete(&format!("/users/auth/keys/{}", key_ids[0]), &carol, None)
        .await
        .expect(200);
    app.delete(
        "/users/auth/keys",
        &carol,
        Some(json!({"keys": [key_ids[1]]})),
    )
    .await
    .expect(200);
    app.delete(
        &format!("/users/carol/auth/keys/{}", key_ids[2]),
        &admin,
        None,
    )
    .await
    .expect(200);
    app.delete("/users/carol/auth/keys", &admin, None)
        .await
        .expect(200);

    // Account.
    app.patch("/account", &admin, json!({"trust": {"trust_all": false}}))
        .await
        .expect(200);

    app.delete("/users/carol", &admin, None).await.expect(200);
    app.post("/users/auth/_logout", &admin, json!({}))
        .await
        .expect(200);
    secrets.extend([admin_token.clone(), admin_token2.clone()]);

    let events = audit(&app).await;
    let one = |event: &str, outcome: &str| -> AuditRecord {
        let found = find(&events, event, outcome);
        assert!(
            !found.is_empty(),
            "no {event}/{outcome} event in {events:#?}"
        );
        found[0].clone()
    };
    let ok = one("login", "success");
    assert_eq!(
        (ok.actor.as_deref(), ok.target.as_deref()),
        (Some("admin"), Some("admin"))
    );
    assert_eq!(ok.source.as_deref(), Some("127.0.0.1"));
    assert_eq!(ok.detail["auth"], "password");
    let failures = find(&events, "login", "failure");
    assert_eq!(failures.len(), 3, "{failures:#?}");
    assert!(failures
        .iter()
        .all(|e| e.actor.is_none() && e.source.as_deref() == Some("127.0.0.1")));
    assert_eq!(failures[0].target.as_deref(), Some("ghost"));
    assert_eq!(failures[2].target.as_deref(), Some("readonly"));
    assert_eq!(failures[2].detail["auth"], "basic");
    let throttled = one("login", "throttled");
    assert_eq!(throttled.target.as_deref(), Some("ghost"));
    assert_eq!(throttled.detail["scope"], "user");
    assert_eq!(throttled.detail["wait_seconds"], 60);
    let refresh = one("refresh", "success");
    assert_eq!(refresh.actor.as_deref(), Some("admin"));
    assert_eq!(refresh.detail["auth"], "bearer");
    assert_eq!(
        refresh.detail["session"], ok.detail["session"],
        "one session"
    );
    assert_eq!(
        one("logout", "success").detail["session"],
        ok.detail["session"]
    );

    let create = one("user.create", "success");
    assert_eq!(
        (create.actor.as_deref(), create.target.as_deref()),
        (Some("admin"), Some("carol"))
    );
    assert_eq!(create.detail["roles"], json!(["ece_platform_viewer"]));
    assert_eq!(
        one("user.update", "success").detail["fields"],
        json!(["full_name", "email"])
    );
    assert_eq!(
        one("user.disable", "success").target.as_deref(),
        Some("carol")
    );
    assert_eq!(
        one("user.enable", "success").target.as_deref(),
        Some("carol")
    );
    let changes = find(&events, "user.password_change", "success");
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0].actor.as_deref(), Some("admin"));
    assert_eq!(changes[1].actor.as_deref(), Some("carol"));
    assert_eq!(changes[1].detail["auth"], "basic");
    let roles = one("user.role_change", "success");
    assert_eq!(roles.detail["roles_before"], json!(["ece_platform_viewer"]));
    assert_eq!(
        roles.detail["roles"],
        json!(["ece_platform_viewer", "ece_deployment_manager"])
    );
    assert_eq!(
        one("user.delete", "success").target.as_deref(),
        Some("carol")
    );
    assert_eq!(
        one("account.update", "success").detail["trust"],
        json!({"trust_all": false})
    );

    let created = find(&events, "api_key.create", "success");
    assert_eq!(created.len(), 4);
    assert_eq!(created[0].target.as_deref(), Some(key_ids[0].as_str()));
    assert_eq!(created[0].detail["owner"], "carol");
    let deleted = find(&events, "api_key.delete", "success");
    assert_eq!(deleted.len(), 4, "{deleted:#?}");
    assert_eq!(deleted[0].target.as_deref(), Some(key_ids[0].as_str()));
    assert_eq!(deleted[1].detail["key_ids"], json!([key_ids[1]]));
    assert_eq!(deleted[2].actor.as_deref(), Some("admin"));
    assert_eq!(deleted[3].detail["all"], true);
    assert_eq!(deleted[3].detail["deleted"], 1);

    // Every event carries a time and a source; none carries a secret, a digest or a hash.
    let text = format!("{events:?}");
    for s in &secrets {
        assert!(
            !text.contains(s.as_str()),
            "the audit log contains a secret"
        );
        assert!(
            !text.contains(&hex::encode(crypto::digest(s)))
                && !text.contains(&format!("{:?}", crypto::digest(s))),
            "the audit log contains a digest"
        );
    }
    assert!(
        !text.contains("$argon2"),
        "the audit log contains a password hash"
    );
    assert!(events
        .iter()
        .all(|e| e.source.as_deref() == Some("127.0.0.1")));
}

#[tokio::test]
async fn refused_and_unchanged_writes_are_not_audited_as_changes() {
    let app = spawn_app().await;
    app.create_user("dave", &[]).await;
    let before = audit(&app).await.len();
    // Forbidden, invalid, and no-op requests change nothing.
    app.patch("/users/dave", &Auth::readonly(), json!({"full_name": "X"}))
        .await
        .expect(403);
    app.patch(
        "/users/dave",
        &Auth::admin(),
        json!({"security": {"password": "short"}}),
    )
    .await
    .expect(400);
    app.patch("/users/dave", &Auth::admin(), json!({}))
        .await
        .expect(200);
    app.patch(
        "/account",
        &Auth::admin(),
        json!({"trust": {"trust_all": true}}),
    )
    .await
    .expect(200);
    // The 403 is recorded as a refusal (`access.denied`), not as a change.
    let events = audit(&app).await;
    let changes = events.iter().filter(|e| e.event != "access.denied").count();
    assert_eq!(changes, before);
    assert_eq!(find(&events, "access.denied", "failure").len(), 1);
}
