//! API keys: creation (expirations, validation, limits, role restriction), authentication with
//! `ApiKey`, and the own / everybody's / one user's listing and deletion endpoints.

use chrono::{DateTime, Utc};
use ece_server::domain::model::ApiKeyRecord;
use ece_server::http::Settings;
use ece_server::security::crypto;
use serde_json::{json, Value};

use crate::helpers::{error_fields, spawn_app, spawn_with, Auth, TestApp, ADMIN_PASSWORD};
use crate::spec::assert_definition;

fn ts(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a date: {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

fn ids(list: &Value) -> Vec<String> {
    let mut ids: Vec<String> = list["keys"]
        .as_array()
        .expect("keys array")
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The key's metadata as listings show it: the create reply without the secret.
fn without_secret(created: &Value) -> Value {
    let mut v = created.clone();
    v.as_object_mut().unwrap().remove("key");
    v
}

async fn works(app: &TestApp, key: &str) -> bool {
    app.auth_status(&Auth::ApiKey(key.into())).await == 200
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
async fn own_keys_are_private() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", &["ece_platform_viewer"]).await;
    let bob = app.create_user("bob", &["ece_platform_viewer"]).await;
    let (a1, _) = app.create_key(&alice, None).await;
    let (a2, _) = app.create_key(&alice, Some("1d")).await;
    let (b1, bob_key) = app.create_key(&bob, None).await;
    assert_eq!(
        ids(&app.get("/users/auth/keys", &alice).await.expect(200)),
        sorted(vec![a1.clone(), a2.clone()])
    );
    assert_eq!(
        ids(&app.get("/users/auth/keys", &bob).await.expect(200)),
        vec![b1.clone()]
    );
    // Someone else's key id is simply not found, for reading and for deleting.
    app.get(&format!("/users/auth/keys/{b1}"), &alice)
        .await
        .expect_error(404, "api_keys.key_not_found");
    app.delete(&format!("/users/auth/keys/{b1}"), &alice, None)
        .await
        .expect_error(404, "api_keys.key_not_found");
    app.get("/users/auth/keys/no-such-key", &alice)
        .await
        .expect_error(404, "api_keys.key_not_found");
    assert!(works(&app, &bob_key).await);
    // The built-in users have no keys but may list them.
    let list = app
        .get("/users/auth/keys", &Auth::admin())
        .await
        .expect(200);
    assert_eq!(list["keys"], json!([]));
    app.get("/users/auth/keys", &Auth::None)
        .await
        .expect_error(401, "root.unauthenticated");
}

#[tokio::test]
async fn deleted_keys_stop_authenticating_at_once() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", &[]).await;
    let bob = app.create_user("bob", &[]).await;
    let (k1, s1) = app.create_key(&alice, None).await;
    let (k2, s2) = app.create_key(&alice, None).await;
    let (k3, s3) = app.create_key(&alice, None).await;
    let (k4, s4) = app.create_key(&alice, None).await;
    let (b1, bob_key) = app.create_key(&bob, None).await;
    // One by id.
    assert!(works(&app, &s1).await);
    let body = app
        .delete(&format!("/users/auth/keys/{k1}"), &alice, None)
        .await
        .expect(200);
    assert_eq!(body, json!({}));
    assert!(!works(&app, &s1).await);
    app.get(&format!("/users/auth/keys/{k1}"), &alice)
        .await
        .expect_error(404, "api_keys.key_not_found");
    app.delete(&format!("/users/auth/keys/{k1}"), &alice, None)
        .await
        .expect_error(404, "api_keys.key_not_found");
    // Several at once; ids that are not the caller's are ignored.
    app.delete(
        "/users/auth/keys",
        &alice,
        Some(json!({"keys": [k2, k3, b1, "no-such-key"]})),
    )
    .await
    .expect(200);
    assert!(!works(&app, &s2).await);
    assert!(!works(&app, &s3).await);
    assert!(works(&app, &s4).await);
    assert!(works(&app, &bob_key).await);
    assert_eq!(
        ids(&app.get("/users/auth/keys", &alice).await.expect(200)),
        vec![k4.clone()]
    );
    let body = app
        .delete("/users/auth/keys", &alice, Some(json!({})))
        .await
        .expect_error(400, "root.invalid_json_request");
    assert_eq!(error_fields(&body), json!(["keys"]));
    // A key may delete itself; the request that does it still succeeds.
    app.delete(
        &format!("/users/auth/keys/{k4}"),
        &Auth::ApiKey(s4.clone()),
        None,
    )
    .await
    .expect(200);
    assert!(!works(&app, &s4).await);
}

#[tokio::test]
async fn everybodys_keys() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", &[]).await;
    let bob = app.create_user("bob", &[]).await;
    let viewer = app.create_user("viewer", &["ece_platform_viewer"]).await;
    let (a1, s_a1) = app.create_key(&alice, None).await;
    let (a2, s_a2) = app.create_key(&alice, None).await;
    let (b1, s_b1) = app.create_key(&bob, None).await;
    for auth in [Auth::admin(), Auth::readonly(), viewer.clone()] {
        let all = app.get("/users/auth/keys/_all", &auth).await.expect(200);
        assert_definition("ApiKeysResponse", &all);
        assert_eq!(ids(&all), sorted(vec![a1.clone(), a2.clone(), b1.clone()]));
        assert!(all["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("key").is_none() && k["user_id"].is_string()));
    }
    app.get("/users/auth/keys/_all", &alice)
        .await
        .expect_error(403, "root.unauthorized.rbac");
    let body = json!({"user_api_keys": [
        {"user_id": "alice", "api_key_id": a1},
        // A pair that does not match (the key is alice's): nothing happens to it.
        {"user_id": "bob", "api_key_id": a2},
        {"user_id": "ghost", "api_key_id": "nothing"},
    ]});
    app.delete("/users/auth/keys/_all", &viewer, Some(body.clone()))
        .await
        .expect_error(403, "root.unauthorized.rbac");
    assert!(works(&app, &s_a1).await);
    app.delete("/users/auth/keys/_all", &Auth::admin(), Some(body))
        .await
        .expect(200);
    assert!(!works(&app, &s_a1).await);
    assert!(works(&app, &s_a2).await);
    assert!(works(&app, &s_b1).await);
    let body = app
        .delete(
            "/users/auth/keys/_all",
            &Auth::admin(),
            Some(json!({"user_api_keys": [{"user_id": "bob"}]})),
        )
        .await
        .expect_error(400, "root.invalid_json_request");
    assert_eq!(error_fields(&body), json!(["user_api_keys[0].api_key_id"]));
}

#[tokio::test]
async fn one_users_keys() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", &[]).await;
    let bob = app.create_user("bob", &[]).await;
    let viewer = app.create_user("viewer", &["ece_platform_viewer"]).await;
    let (a1, s_a1) = app.create_key(&alice, None).await;
    let (a2, s_a2) = app.create_key(&alice, None).await;
    let (b1, s_b1) = app.create_key(&bob, None).await;
    let list = app.get("/users/alice/auth/keys", &viewer).await.expect(200);
    assert_definition("ApiKeysResponse", &list);
    assert_eq!(ids(&list), sorted(vec![a1.clone(), a2.clone()]));
    let list = app.get("/users/admin/auth/keys", &viewer).await.expect(200);
    assert_eq!(list["keys"], json!([]));
    let one = app
        .get(&format!("/users/alice/auth/keys/{a1}"), &viewer)
        .await
        .expect(200);
    assert_definition("ApiKeyResponse", &one);
    assert_eq!(one["id"], a1.as_str());
    assert_eq!(one["user_id"], "alice");
    assert!(one.get("key").is_none());
    // A key id under the wrong user is not found.
    app.get(&format!("/users/alice/auth/keys/{b1}"), &viewer)
        .await
        .expect_error(404, "api_keys.key_not_found");
    app.delete(
        &format!("/users/alice/auth/keys/{b1}"),
        &Auth::admin(),
        None,
    )
    .await
    .expect_error(404, "api_keys.key_not_found");
    assert!(works(&app, &s_b1).await);
    // Unknown users.
    app.get("/users/ghost/auth/keys", &viewer)
        .await
        .expect_error(404, "api_keys.user_not_found");
    app.delete("/users/ghost/auth/keys", &Auth::admin(), None)
        .await
        .expect_error(404, "api_keys.user_not_found");
    app.get(&format!("/users/ghost/auth/keys/{a1}"), &viewer)
        .await
        .expect_error(404, "api_keys.key_not_found");
    // Viewers read, only admins delete.
    app.delete(&format!("/users/alice/auth/keys/{a1}"), &viewer, None)
        .await
        .expect_error(403, "root.unauthorized.rbac");
    app.delete("/users/alice/auth/keys", &viewer, None)
        .await
        .expect_error(403, "root.unauthorized.rbac");
    app.get("/users/bob/auth/keys", &alice)
        .await
        .expect_error(403, "root.unauthorized.rbac");
    assert!(works(&app, &s_a1).await);
    // Delete one.
    app.delete(
        &format!("/users/alice/auth/keys/{a1}"),
        &Auth::admin(),
        None,
    )
    .await
    .expect(200);
    assert!(!works(&app, &s_a1).await);
    assert!(works(&app, &s_a2).await);
    app.delete(
        &format!("/users/alice/auth/keys/{a1}"),
        &Auth::admin(),
        None,
    )
    .await
    .expect_error(404, "api_keys.key_not_found");
    // Delete all of a user's.
    app.create_key(&alice, None).await;
    let body = app
        .delete("/users/alice/auth/keys", &Auth::admin(), None)
        .await
        .expect(200);
    assert_eq!(body, json!({}));
    assert!(!works(&app, &s_a2).await);
    assert_eq!(
        app.get("/users/alice/auth/keys", &viewer).await.expect(200)["keys"],
        json!([])
    );
    assert!(works(&app, &s_b1).await);
    // Deleting the keys of a user without keys is fine.
    app.delete("/users/alice/auth/keys", &Auth::admin(), None)
        .await
        .expect(200);
}

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
