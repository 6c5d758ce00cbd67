//! Listing and deleting API keys: the own keys are private, deleted keys stop authenticating at
//! once, everybody's keys (`/users/auth/keys/_all`) and one user's keys.

use serde_json::{json, Value};

use crate::helpers::{error_fields, spawn_app, Auth, TestApp};
use crate::spec::assert_definition;

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

async fn works(app: &TestApp, key: &str) -> bool {
    app.auth_status(&Auth::ApiKey(key.into())).await == 200
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
