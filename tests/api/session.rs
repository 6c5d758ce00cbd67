//! Login, bearer sessions, refresh with grace, logout, API-key authentication.

use chrono::Utc;
use ece_server::domain::model::ApiKeyRecord;
use ece_server::http::Settings;
use ece_server::security::crypto;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_with, Auth, ADMIN_PASSWORD};
use crate::spec::assert_definition;

#[tokio::test]
async fn login_returns_a_token_that_authenticates() {
    let app = spawn_app().await;
    let body = app
        .post(
            "/users/auth/_login",
            &Auth::None,
            json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await
        .expect(200);
    assert_definition("TokenResponse", &body);
    let token = body["token"].as_str().unwrap();
    assert!(token.len() >= 22, "at least 128 bits");
    let info = app
        .get("/users/auth", &Auth::Bearer(token.into()))
        .await
        .expect(200);
    assert_eq!(info["has_elevated_permissions"], false);
    assert_eq!(info["refresh_token_url"], "/api/v1/users/auth/_refresh");
    assert_eq!(info["expires_at"], body["session_expiration_time"]);
    let user = app
        .get("/user", &Auth::Bearer(token.into()))
        .await
        .expect(200);
    assert_eq!(user["user_name"], "admin");
    assert!(user["metadata"]["last_login_at"].is_string());
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_reply() {
    let app = spawn_app().await;
    let wrong = app
        .post(
            "/users/auth/_login",
            &Auth::None,
            json!({"username": "admin", "password": "nope-nope"}),
        )
        .await;
    let unknown = app
        .post(
            "/users/auth/_login",
            &Auth::None,
            json!({"username": "ghost", "password": "nope-nope"}),
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.body["errors"][0]["code"], "root.unauthenticated");
    assert_eq!(wrong.headers["x-cloud-error-codes"], "root.unauthenticated");
}

#[tokio::test]
async fn login_state_path_redirects_with_the_token_in_the_fragment() {
    let app = spawn_app().await;
    let reply = app
        .post(
            "/users/auth/_login",
            &Auth::None,
            json!({"username": "admin", "password": ADMIN_PASSWORD, "login_state": {"path": "/deployments?x=1"}}),
        )
        .await;
    assert_eq!(reply.status, 302);
    let location = reply.headers["location"].to_str().unwrap().to_string();
    let rest = location
        .strip_prefix("/sso/token#")
        .expect("redirects to /sso/token#TOKEN");
    let (token, state) = rest.split_once("?state=").unwrap();
    let state: serde_json::Value =
        serde_json::from_str(&urlencoding::decode(state).unwrap()).unwrap();
    assert_eq!(state, json!({"path": "/deployments?x=1"}));
    app.get("/users/auth", &Auth::Bearer(token.into()))
        .await
        .expect(200);
}

#[tokio::test]
async fn refresh_issues_a_new_token_and_the_old_one_dies_after_the_grace_period() {
    let settings = Settings {
        refresh_grace: chrono::Duration::seconds(30),
        ..Settings::default()
    };
    let app = spawn_with(settings).await;
    let clock = app.settings.clock.clone();
    let t1 = app.login("admin", ADMIN_PASSWORD).await;
    let body = app
        .post("/users/auth/_refresh", &Auth::Bearer(t1.clone()), json!({}))
        .await
        .expect(200);
    assert_definition("TokenResponse", &body);
    let t2 = body["token"].as_str().unwrap().to_string();
    assert_ne!(t1, t2);
    // In-flight requests with the old token still work during the grace period.
    app.get("/users/auth", &Auth::Bearer(t1.clone()))
        .await
        .expect(200);
    app.get("/users/auth", &Auth::Bearer(t2.clone()))
        .await
        .expect(200);
    clock.advance(chrono::Duration::seconds(31));
    app.get("/users/auth", &Auth::Bearer(t1.clone()))
        .await
        .expect_error(401, "root.unauthenticated");
    app.post("/users/auth/_refresh", &Auth::Bearer(t1), json!({}))
        .await
        .expect_error(401, "root.unauthorized");
    app.get("/users/auth", &Auth::Bearer(t2.clone()))
        .await
        .expect(200);
    // The chain goes on.
    let t3 = app
        .post("/users/auth/_refresh", &Auth::Bearer(t2), json!({}))
        .await
        .expect(200)["token"]
        .clone();
    app.get("/account", &Auth::Bearer(t3.as_str().unwrap().into()))
        .await
        .expect(200);
}

#[tokio::test]
async fn refresh_slides_the_expiry_but_not_past_the_absolute_lifetime() {
    let settings = Settings {
        session_idle: chrono::Duration::seconds(60),
        session_max: chrono::Duration::seconds(90),
        ..Settings::default()
    };
    let app = spawn_with(settings).await;
    let clock = app.settings.clock.clone();
    let t1 = app.login("admin", ADMIN_PASSWORD).await;
    clock.advance(chrono::Duration::seconds(45));
    let t2 = app
        .post("/users/auth/_refresh", &Auth::Bearer(t1), json!({}))
        .await
        .expect(200)["token"]
        .as_str()
        .unwrap()
        .to_string();
    clock.advance(chrono::Duration::seconds(30));
    // 75 s after login: past the first idle deadline, alive thanks to the refresh.
    app.get("/users/auth", &Auth::Bearer(t2.clone()))
        .await
        .expect(200);
    clock.advance(chrono::Duration::seconds(20));
    // 95 s: past the absolute lifetime whatever the refreshes.
    app.get("/users/auth", &Auth::Bearer(t2.clone()))
        .await
        .expect_error(401, "root.unauthenticated");
    app.post("/users/auth/_refresh", &Auth::Bearer(t2), json!({}))
        .await
        .expect_error(401, "root.unauthorized");
}

#[tokio::test]
async fn idle_sessions_expire() {
    let settings = Settings {
        session_idle: chrono::Duration::seconds(60),
        ..Settings::default()
    };
    let app = spawn_with(settings).await;
    let t = app.login("admin", ADMIN_PASSWORD).await;
    app.get("/users/auth", &Auth::Bearer(t.clone()))
        .await
        .expect(200);
    app.settings.clock.advance(chrono::Duration::seconds(61));
    app.get("/users/auth", &Auth::Bearer(t))
        .await
        .expect_error(401, "root.unauthenticated");
}

#[tokio::test]
async fn refresh_needs_a_valid_bearer_token() {
    let app = spawn_app().await;
    for auth in [
        Auth::None,
        Auth::Bearer("not-a-token".into()),
        Auth::Raw("Bearer".into()),
    ] {
        app.post("/users/auth/_refresh", &auth, json!({}))
            .await
            .expect_error(401, "root.unauthorized");
    }
    app.post("/users/auth/_refresh", &Auth::admin(), json!({}))
        .await
        .expect_error(401, "root.unauthorized");
}

#[tokio::test]
async fn logout_ends_the_session_and_its_predecessors_also_after_a_restart() {
    let app = spawn_app().await;
    let t1 = app.login("admin", ADMIN_PASSWORD).await;
    let t2 = app
        .post("/users/auth/_refresh", &Auth::Bearer(t1.clone()), json!({}))
        .await
        .expect(200)["token"]
        .as_str()
        .unwrap()
        .to_string();
    let other = app.login("admin", ADMIN_PASSWORD).await;
    let body = app
        .post("/users/auth/_logout", &Auth::Bearer(t2.clone()), json!({}))
        .await
        .expect(200);
    assert_eq!(body, json!({}));
    for t in [&t1, &t2] {
        app.get("/users/auth", &Auth::Bearer(t.clone()))
            .await
            .expect_error(401, "root.unauthenticated");
    }
    // Other sessions of the same user are untouched.
    app.get("/users/auth", &Auth::Bearer(other.clone()))
        .await
        .expect(200);
    let app = app.restart().await;
    for t in [&t1, &t2] {
        app.get("/users/auth", &Auth::Bearer(t.clone()))
            .await
            .expect_error(401, "root.unauthenticated");
    }
    app.get("/users/auth", &Auth::Bearer(other))
        .await
        .expect(200);
    // Logging out without a session is harmless.
    app.post("/users/auth/_logout", &Auth::admin(), json!({}))
        .await
        .expect(200);
    app.post("/users/auth/_logout", &Auth::None, json!({}))
        .await
        .expect_error(401, "root.unauthenticated");
}

#[tokio::test]
async fn tokens_survive_a_restart() {
    let app = spawn_app().await;
    let t = app.login("admin", ADMIN_PASSWORD).await;
    let app = app.restart().await;
    app.get("/account", &Auth::Bearer(t.clone()))
        .await
        .expect(200);
    app.post("/users/auth/_refresh", &Auth::Bearer(t), json!({}))
        .await
        .expect(200);
}

#[tokio::test]
async fn concurrent_refreshes_leave_one_chain() {
    let app = spawn_app().await;
    let t = app.login("admin", ADMIN_PASSWORD).await;
    let auth = Auth::Bearer(t.clone());
    let refreshes = (0..8).map(|_| app.post("/users/auth/_refresh", &auth, json!({})));
    let replies = futures::future::join_all(refreshes).await;
    // One continues the chain; the others find the token already replaced (it still works
    // until its grace deadline, but cannot start a second chain).
    let mut tokens = vec![t];
    for reply in replies {
        if reply.status == 200 {
            tokens.push(reply.body["token"].as_str().unwrap().to_string());
        } else {
            reply.expect_error(401, "root.unauthorized");
        }
    }
    assert_eq!(tokens.len(), 2, "exactly one refresh succeeded");
    app.get("/users/auth", &Auth::Bearer(tokens[0].clone()))
        .await
        .expect(200);
    // Logging out with the newest token ends them all.
    app.post(
        "/users/auth/_logout",
        &Auth::Bearer(tokens[1].clone()),
        json!({}),
    )
    .await
    .expect(200);
    for token in tokens {
        app.get("/users/auth", &Auth::Bearer(token))
            .await
            .expect_error(401, "root.unauthenticated");
    }
}

#[tokio::test]
async fn api_keys_authenticate_until_deleted_or_expired() {
    let app = spawn_app().await;
    app.create_user("alice", &["ece_platform_viewer"]).await;
    // Keys made through the store layer, as an operator tool would.
    let (key, expired) = (crypto::new_secret(), crypto::new_secret());
    let now = Utc::now();
    for (secret, id, expires_at) in [
        (&key, "k-live", now + chrono::Duration::days(1)),
        (&expired, "k-old", now - chrono::Duration::seconds(1)),
    ] {
        let record = ApiKeyRecord {
            id: id.into(),
            user_name: "alice".into(),
            description: id.into(),
            key_hash: crypto::digest(secret),
            created_at: now,
            expires_at: Some(expires_at),
            platform_roles: None,
        };
        app.store
            .insert_api_key(&record, 100, now - chrono::Duration::days(1))
            .await
            .unwrap();
    }
    let reply = app.get("/users/auth", &Auth::ApiKey(key.clone())).await;
    assert_eq!(reply.status, 200);
    assert!(reply.headers.contains_key("x-elastic-api-key-expiration"));
    assert!(
        reply.body.get("expires_at").is_none(),
        "expires_at is for token sessions"
    );
    let me = app
        .get("/user", &Auth::ApiKey(key.clone()))
        .await
        .expect(200);
    assert_eq!(me["user_name"], "alice");
    let keys = app
        .get("/users/auth/keys", &Auth::ApiKey(key.clone()))
        .await
        .expect(200);
    assert_definition("ApiKeysResponse", &keys);
    assert_eq!(keys["keys"].as_array().unwrap().len(), 2);
    assert!(
        keys["keys"][0].get("key").is_none(),
        "listing never shows a secret"
    );
    app.get("/users/auth", &Auth::ApiKey(expired))
        .await
        .expect_error(401, "root.unauthenticated");
    app.store
        .delete_api_keys("alice", &["k-live".into()])
        .await
        .unwrap();
    // Deleted behind the server's back (as another replica would): the server's lookup cache may
    // answer for up to LOOKUP_TTL; a deletion through the API takes effect at once.
    tokio::time::sleep(ece_server::security::cache::LOOKUP_TTL).await;
    app.get("/users/auth", &Auth::ApiKey(key))
        .await
        .expect_error(401, "root.unauthenticated");
}

#[tokio::test]
async fn methods_and_saml() {
    let app = spawn_app().await;
    let body = app
        .get("/users/auth/methods", &Auth::None)
        .await
        .expect(200);
    assert_eq!(
        body,
        json!({"password": true, "saml": false, "openid": false, "sso_methods": []})
    );
    app.get("/users/auth/saml/_init", &Auth::None)
        .await
        .expect_error(501, "authc.no_authentication_cluster");
    app.send_raw(
        "POST",
        "/users/auth/saml/_callback",
        &Auth::None,
        "application/x-www-form-urlencoded",
        b"SAMLResponse=x".to_vec(),
    )
    .await
    .expect_error(401, "root.unauthenticated");
}
