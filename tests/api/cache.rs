//! The per-replica cache (`src/security/cache.rs`) never serves what a write on this server changed:
//! Basic credentials after a password change, a disable or a delete, and the account after an
//! update. Changes behind the server's back (as another replica makes them) show within
//! `LOOKUP_TTL`.

use ece_server::security::cache::LOOKUP_TTL;
use serde_json::json;

use crate::helpers::{spawn_app, Auth};

/// Warm the cache: a few reads in a row, so that the next one would be served from memory.
async fn warm(app: &crate::helpers::TestApp, auth: &Auth, path: &str) {
    for _ in 0..3 {
        app.get(path, auth).await.expect(200);
    }
}

#[tokio::test]
async fn basic_password_change_disable_and_delete_take_effect_at_once() {
    let app = spawn_app().await;
    let old = app.create_user("alice", &["ece_platform_viewer"]).await;
    warm(&app, &old, "/user").await;
    app.patch(
        "/users/alice",
        &Auth::admin(),
        json!({"security": {"password": "alice-second-password"}}),
    )
    .await
    .expect(200);
    assert_eq!(app.auth_status(&old).await, 401);
    let new = Auth::basic("alice", "alice-second-password");
    warm(&app, &new, "/user").await;
    app.patch(
        "/users/alice",
        &Auth::admin(),
        json!({"security": {"enabled": false}}),
    )
    .await
    .expect(200);
    assert_eq!(app.auth_status(&new).await, 401);
    app.patch(
        "/users/alice",
        &Auth::admin(),
        json!({"security": {"enabled": true}}),
    )
    .await
    .expect(200);
    warm(&app, &new, "/user").await;
    // A role change too: the cached row must not keep the old roles.
    app.patch(
        "/users/alice",
        &Auth::admin(),
        json!({"security": {"roles": []}}),
    )
    .await
    .expect(200);
    app.get("/users", &new)
        .await
        .expect_error(403, "root.unauthorized.rbac");
    app.delete("/users/alice", &Auth::admin(), None)
        .await
        .expect(200);
    assert_eq!(app.auth_status(&new).await, 401);
}

#[tokio::test]
async fn basic_changes_behind_the_servers_back_show_within_the_lookup_ttl() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", &["ece_platform_viewer"]).await;
    warm(&app, &bob, "/user").await;
    // As another replica would: straight in the store, with no request to this server.
    let mut user = app.store.get_user("bob").await.unwrap().unwrap();
    user.enabled = false;
    app.store
        .update_user_cas(&user, true, None)
        .await
        .unwrap()
        .expect("no concurrent write");
    tokio::time::sleep(LOOKUP_TTL).await;
    assert_eq!(app.auth_status(&bob).await, 401);
}

#[tokio::test]
async fn a_wrong_password_is_never_served_from_the_cache() {
    let app = spawn_app().await;
    let carol = app.create_user("carol", &[]).await;
    warm(&app, &carol, "/user").await;
    let wrong = Auth::basic("carol", "not-carols-password");
    assert_eq!(app.auth_status(&wrong).await, 401);
    assert_eq!(app.auth_status(&carol).await, 200);
}

#[tokio::test]
async fn an_account_update_is_visible_at_once() {
    let app = spawn_app().await;
    warm(&app, &Auth::readonly(), "/account").await;
    app.put(
        "/account",
        &Auth::admin(),
        json!({"trust": {"trust_all": false}}),
    )
    .await
    .expect(200);
    let body = app.get("/account", &Auth::readonly()).await.expect(200);
    assert_eq!(body["trust"], json!({"trust_all": false}));
    warm(&app, &Auth::readonly(), "/account").await;
    app.patch(
        "/account",
        &Auth::admin(),
        json!({"trust": {"trust_all": true, "note": "x"}}),
    )
    .await
    .expect(200);
    let body = app.get("/account", &Auth::admin()).await.expect(200);
    assert_eq!(body["trust"], json!({"trust_all": true, "note": "x"}));
}

#[tokio::test]
async fn an_account_update_behind_the_servers_back_shows_within_the_lookup_ttl() {
    let app = spawn_app().await;
    warm(&app, &Auth::readonly(), "/account").await;
    let account = app.store.get_account().await.unwrap().unwrap();
    app.store
        .update_account_cas(
            &json!({"trust_all": false, "by": "elsewhere"}),
            account.version,
        )
        .await
        .unwrap()
        .expect("no concurrent write");
    tokio::time::sleep(LOOKUP_TTL).await;
    let body = app.get("/account", &Auth::readonly()).await.expect(200);
    assert_eq!(
        body["trust"],
        json!({"trust_all": false, "by": "elsewhere"})
    );
    // A write through this server starts from the stored account, not the cached reply.
    let body = app
        .patch("/account", &Auth::admin(), json!({"trust": {"by": null}}))
        .await
        .expect(200);
    assert_eq!(body["trust"], json!({"trust_all": false}));
}
