//! Creating API keys: the secret is returned once, expirations, invalid requests refused with the
//! field named, built-in users cannot create keys, and each user's limit of active keys, which
//! also holds under concurrent creates.

use chrono::{DateTime, Utc};
use ece_server::domain::model::ApiKeyRecord;
use ece_server::http::Settings;
use ece_server::security::crypto;
use serde_json::{json, Value};

use crate::helpers::{error_fields, spawn_app, spawn_with, Auth, ADMIN_PASSWORD};
use crate::spec::assert_definition;

fn ts(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a date: {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

/// The key's metadata as listings show it: the create reply without the secret.
fn without_secret(created: &Value) -> Value {
    let mut v = created.clone();
    v.as_object_mut().unwrap().remove("key");
    v
}

#[tokio::test]
async fn create_returns_the_secret_once() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", &["ece_platform_viewer"]).await;
    let before = Utc::now();
    let created = app
        .create_key_with(&alice, json!({"description": "  CI pipeline  "}))
        .await
        .expect(201);
    assert_definition("ApiKeyResponse", &created);
    assert_eq!(created["user_id"], "alice");
    assert_eq!(created["description"], "CI pipeline");
    let id = created["id"].as_str().unwrap();
    let key = created["key"].as_str().unwrap();
    assert!(key.len() >= 43, "256-bit secret: {key}");
    assert!(created.get("role_assignments").is_none());
    let creation = ts(&created["creation_date"]);
    assert!(creation >= before - chrono::Duration::seconds(1) && creation <= Utc::now());
    // Default lifetime: 90 days.
    let lifetime = ts(&created["expiration_date"]) - creation;
    assert_eq!(lifetime, chrono::Duration::days(90));
    // Never again: not in any listing or lookup, by anyone.
    let metadata = without_secret(&created);
    let admin = Auth::admin();
    let replies = [
        app.get("/users/auth/keys", &alice).await.expect(200),
        app.get(&format!("/users/auth/keys/{id}"), &alice)
            .await
            .expect(200),
        app.get("/users/auth/keys/_all", &admin).await.expect(200),
        app.get("/users/alice/auth/keys", &admin).await.expect(200),
        app.get(&format!("/users/alice/auth/keys/{id}"), &admin)
            .await
            .expect(200),
    ];
    for reply in &replies {
        assert!(!reply.to_string().contains(key), "secret listed: {reply}");
    }
    assert_definition("ApiKeysResponse", &replies[0]);
    assert_eq!(replies[0]["keys"], json!([metadata]));
    assert_eq!(replies[1], metadata);
    assert_eq!(replies[2]["keys"], json!([metadata]));
    assert_eq!(replies[3]["keys"], json!([metadata]));
    assert_eq!(replies[4], metadata);
    // The key authenticates as its owner, and says when it expires.
    let reply = app.get("/user", &Auth::ApiKey(key.into())).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["user_name"], "alice");
    assert_eq!(
        reply.headers["x-elastic-api-key-expiration"],
        created["expiration_date"].as_str().unwrap()
    );
    app.get("/users", &Auth::ApiKey(key.into()))
        .await
        .expect(200);
    // Other credentials do not get the header.
    let reply = app.get("/user", &alice).await;
    assert!(!reply.headers.contains_key("x-elastic-api-key-expiration"));
}

#[tokio::test]
async fn expirations() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", &[]).await;
    for (expiration, seconds) in [
        ("30m", 30 * 60),
        ("3h", 3 * 3600),
        ("1d", 86_400),
        ("90d", 90 * 86_400),
        ("2w", 14 * 86_400),
        ("1y", 365 * 86_400),
    ] {
        let created = app
            .create_key_with(
                &alice,
                json!({"description": expiration, "expiration": expiration}),
            )
            .await
            .expect(201);
        let lifetime = ts(&created["expiration_date"]) - ts(&created["creation_date"]);
        assert_eq!(lifetime.num_seconds(), seconds, "{expiration}");
        let reply = app
            .get(
                "/users/auth",
                &Auth::ApiKey(created["key"].as_str().unwrap().into()),
            )
            .await;
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.headers["x-elastic-api-key-expiration"],
            created["expiration_date"].as_str().unwrap(),
            "{expiration}"
        );
    }
    for never in ["never", "NEVER"] {
        let created = app
            .create_key_with(
                &alice,
                json!({"description": "forever", "expiration": never}),
            )
            .await
            .expect(201);
        assert_definition("ApiKeyResponse", &created);
        assert!(created.get("expiration_date").is_none(), "{created}");
        let reply = app
            .get(
                "/users/auth",
                &Auth::ApiKey(created["key"].as_str().unwrap().into()),
            )
            .await;
        assert_eq!(reply.status, 200);
        assert!(!reply.headers.contains_key("x-elastic-api-key-expiration"));
    }
}

#[tokio::test]
async fn invalid_requests_are_refused_with_the_field_named() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", &[]).await;
    // Values the server reads and refuses: api_keys.invalid_input, with the field.
    for expiration in [
        "soon", "", "0m", "59s", "-1d", "1.5h", "1d2h", "3651d", "10",
    ] {
        let body = app
            .create_key_with(
                &alice,
                json!({"description": "d", "expiration": expiration}),
            )
            .await
            .expect_error(400, "api_keys.invalid_input");
        assert_eq!(error_fields(&body), json!(["expiration"]), "{expiration:?}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("expiration"), "{message}");
    }
    for description in [String::new(), "   ".into(), "x".repeat(256), "a\nb".into()] {
        let body = app
            .create_key_with(&alice, json!({"description": description}))
            .await
            .expect_error(400, "api_keys.invalid_input");
        assert_eq!(
            error_fields(&body),
            json!(["description"]),
            "{description:?}"
        );
    }
    // Bodies that do not match the schema: root.invalid_json_request, with the field.
    for (body, field) in [
        (json!({}), "description"),
        (json!({"expiration": "1d"}), "description"),
        (json!({"description": 5}), "description"),
        (json!({"description": "d", "expiration": 30}), "expiration"),
    ] {
        let reply = app
            .create_key_with(&alice, body.clone())
            .await
            .expect_error(400, "root.invalid_json_request");
        assert_eq!(error_fields(&reply), json!([field]), "{body}");
    }
    app.create_key_with(&alice, json!("key"))
        .await
        .expect_error(400, "root.invalid_json_request");
    // None of them created a key.
    let list = app.get("/users/auth/keys", &alice).await.expect(200);
    assert_eq!(list["keys"], json!([]));
    // The longest description is fine.
    app.create_key_with(&alice, json!({"description": "x".repeat(255)}))
        .await
        .expect(201);
    // Without credentials there is no key to make.
    app.create_key_with(&Auth::None, json!({"description": "d"}))
        .await
        .expect_error(401, "root.unauthenticated");
}

#[tokio::test]
async fn built_in_users_cannot_create_keys() {
    let app = spawn_app().await;
    let session = Auth::Bearer(app.login("admin", ADMIN_PASSWORD).await);
    for auth in [Auth::admin(), Auth::readonly(), session] {
        let body = app
            .create_key_with(&auth, json!({"description": "d"}))
            .await
            .expect_error(400, "api_keys.invalid_input");
        assert!(body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Built-in"));
    }
    let all = app
        .get("/users/auth/keys/_all", &Auth::admin())
        .await
        .expect(200);
    assert_eq!(all["keys"], json!([]));
}

#[tokio::test]
async fn each_user_has_a_limit_of_active_keys() {
    let app = spawn_with(Settings {
        max_api_keys_per_user: 3,
        ..Settings::default()
    })
    .await;
    let alice = app.create_user("alice", &[]).await;
    let bob = app.create_user("bob", &[]).await;
    // Expired keys do not count.
    let now = Utc::now();
    app.store
        .insert_api_key(
            &ApiKeyRecord {
                id: "expired".into(),
                user_name: "alice".into(),
                description: "old".into(),
                key_hash: crypto::digest(crypto::new_secret()),
                created_at: now - chrono::Duration::days(2),
                expires_at: Some(now - chrono::Duration::days(1)),
                platform_roles: None,
            },
            3,
            now,
        )
        .await
        .unwrap();
    let mut keys = Vec::new();
    for _ in 0..3 {
        keys.push(app.create_key(&alice, None).await);
    }
    let body = app
        .create_key_with(&alice, json!({"description": "one too many"}))
        .await
        .expect_error(400, "api_keys.invalid_input");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains('3'));
    // Other users have their own allowance.
    app.create_key(&bob, None).await;
    // Deleting one makes room again.
    app.delete(&format!("/users/auth/keys/{}", keys[0].0), &alice, None)
        .await
        .expect(200);
    app.create_key(&alice, Some("never")).await;
    app.create_key_with(&alice, json!({"description": "again too many"}))
        .await
        .expect_error(400, "api_keys.invalid_input");
}

#[tokio::test]
async fn the_key_limit_holds_under_concurrent_creates() {
    let app = spawn_with(Settings {
        max_api_keys_per_user: 3,
        ..Settings::default()
    })
    .await;
    app.create_user("alice", &[]).await;
    let token = Auth::Bearer(app.login("alice", "alice-password").await);
    let creates =
        (0..12).map(|i| app.create_key_with(&token, json!({"description": format!("k{i}")})));
    let replies = futures::future::join_all(creates).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    for r in &replies {
        assert!(
            r.status == 201 || r.body["errors"][0]["code"] == "api_keys.invalid_input",
            "{}: {}",
            r.status,
            r.body
        );
    }
    assert_eq!(created, 3);
    let list = app.get("/users/auth/keys", &token).await.expect(200);
    assert_eq!(list["keys"].as_array().unwrap().len(), 3);
}
