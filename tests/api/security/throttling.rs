//! Brute-force protection: failed logins and failed Basic authentication throttle the user name
//! (429 + `Retry-After`) while bearer tokens and keys keep working, a success resets the counter,
//! unknown names are throttled exactly like known ones, the source address is throttled too, the
//! protection is on by default, and throttled requests are refused before any password check.

use ece_server::http::Settings;
use serde_json::json;

use super::{assert_throttled, login_status, LOGIN};
use crate::helpers::{
    client_from, spawn_app, spawn_keeping_state, spawn_with, throttled, Auth, TestApp,
    ADMIN_PASSWORD, READONLY_PASSWORD,
};

async fn raw_login(client: &reqwest::Client, app: &TestApp, user: &str, password: &str) -> u16 {
    crate::brute_force::login(client, &app.base, user, password).await
}

#[tokio::test]
async fn failed_logins_throttle_the_user_name() {
    let app = spawn_with(throttled(3, 0)).await;
    for _ in 0..3 {
        login_status(&app, "admin", "wrong-password")
            .await
            .expect_error(401, "root.unauthenticated");
    }
    // Throttled now, even with the right password, with a wait of one increment (60 s).
    assert_throttled(login_status(&app, "admin", ADMIN_PASSWORD).await, 60);
    assert_throttled(login_status(&app, "admin", "wrong-password").await, 60);
    // Basic authentication checks the same counter.
    assert_throttled(app.get("/users/auth", &Auth::admin()).await, 60);
    // Other names are not affected, nor credentials that are no password.
    app.login("readonly", READONLY_PASSWORD).await;
    // The name is throttled from any address.
    let other = client_from("127.0.0.2");
    assert_eq!(raw_login(&other, &app, "admin", ADMIN_PASSWORD).await, 429);
}

#[tokio::test]
async fn bearer_tokens_and_keys_keep_working_while_the_password_is_throttled() {
    let app = spawn_with(throttled(2, 0)).await;
    let bob = app.create_user("bob", &["ece_platform_viewer"]).await;
    let token = app.login("bob", "bob-password").await;
    let (_, key) = app.create_key(&bob, None).await;
    for _ in 0..2 {
        login_status(&app, "bob", "nope-nope").await.expect(401);
    }
    assert_throttled(login_status(&app, "bob", "bob-password").await, 60);
    // (bob's Basic credential, verified above, keeps working too: see brute_force.rs.)
    app.get("/user", &bob).await.expect(200);
    app.get("/user", &Auth::Bearer(token)).await.expect(200);
    app.get("/user", &Auth::ApiKey(key)).await.expect(200);
}

#[tokio::test]
async fn failed_basic_authentication_throttles_too() {
    let app = spawn_with(throttled(3, 0)).await;
    let bad = Auth::basic("admin", "wrong-password");
    for _ in 0..3 {
        app.get("/users/auth", &bad)
            .await
            .expect_error(401, "root.unauthenticated");
    }
    assert_throttled(app.get("/users/auth", &Auth::admin()).await, 60);
    assert_throttled(app.get("/account", &bad).await, 60);
    // `_login` shares the counter.
    assert_throttled(login_status(&app, "admin", ADMIN_PASSWORD).await, 60);
}

#[tokio::test]
async fn a_success_resets_the_user_name_counter() {
    let app = spawn_with(throttled(3, 0)).await;
    for _ in 0..5 {
        for _ in 0..2 {
            login_status(&app, "admin", "wrong-password")
                .await
                .expect(401);
        }
        app.login("admin", ADMIN_PASSWORD).await;
        app.get("/users/auth", &Auth::admin()).await.expect(200);
    }
}

#[tokio::test]
async fn unknown_user_names_are_throttled_exactly_like_known_ones() {
    let app = spawn_with(throttled(3, 0)).await;
    let mut replies = Vec::new();
    for user in ["admin", "no-such-user"] {
        let mut seen = Vec::new();
        for _ in 0..4 {
            let r = login_status(&app, user, "wrong-password").await;
            let retry = r.headers.contains_key("retry-after");
            seen.push((r.status, r.body, retry));
        }
        replies.push(seen);
    }
    assert_eq!(
        replies[0], replies[1],
        "same replies for a known and an unknown user"
    );
    assert_eq!(
        replies[0].iter().map(|r| r.0).collect::<Vec<_>>(),
        [401, 401, 401, 429]
    );
    // Basic authentication too.
    let mut basic = Vec::new();
    for user in ["readonly", "nobody-here"] {
        let auth = Auth::basic(user, "wrong-password");
        let mut seen = Vec::new();
        for _ in 0..4 {
            let r = app.get("/users/auth", &auth).await;
            seen.push((r.status, r.body));
        }
        basic.push(seen);
    }
    assert_eq!(basic[0], basic[1]);
    assert_eq!(basic[0][3].0, 429);
}

#[tokio::test]
async fn failed_logins_throttle_the_source_address() {
    let app = spawn_with(throttled(0, 4)).await;
    // Four different names, one failure each, all from 127.0.0.1.
    for user in ["a1", "a2", "admin", "a4"] {
        login_status(&app, user, "wrong-password").await.expect(401);
    }
    // The address is throttled for every name, the right password included...
    assert_throttled(login_status(&app, "readonly", READONLY_PASSWORD).await, 60);
    assert_throttled(app.get("/users/auth", &Auth::admin()).await, 60);
    // ...but other addresses are not.
    let other = client_from("127.0.0.3");
    assert_eq!(raw_login(&other, &app, "admin", ADMIN_PASSWORD).await, 200);
    assert_eq!(
        raw_login(&other, &app, "admin", "wrong-password").await,
        401
    );
    // Successes elsewhere change nothing for the throttled address.
    assert_throttled(login_status(&app, "readonly", READONLY_PASSWORD).await, 60);
}

#[tokio::test]
async fn brute_force_protection_is_on_by_default() {
    let defaults = Settings::default().brute_force;
    assert_eq!(defaults.user_max_failures, 30);
    assert_eq!(defaults.address_max_failures, 30);
    assert_eq!(defaults.wait_increment.as_secs(), 60);
    assert_eq!(defaults.max_wait.as_secs(), 900);
    let app = spawn_app().await;
    for _ in 0..30 {
        login_status(&app, "admin", "wrong-password")
            .await
            .expect(401);
    }
    assert_throttled(login_status(&app, "admin", ADMIN_PASSWORD).await, 60);
}

#[tokio::test]
async fn throttled_requests_are_refused_before_any_password_check() {
    let (base, state, _dir) = spawn_keeping_state(throttled(3, 0), None).await;
    let client = reqwest::Client::new();
    let login = |password: &'static str| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            client
                .post(format!("{base}{LOGIN}"))
                .json(&json!({"username": "admin", "password": password}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(login("wrong-password").await, 401);
    // Two failures left: of many attempts sent at once, at most two reach a password check.
    let before = state.throttle.stats();
    let burst = futures::future::join_all((0..20).map(|_| login("wrong-password"))).await;
    let checked = state.throttle.stats().allowed - before.allowed;
    assert!(
        checked <= 2,
        "{checked} password checks for 2 remaining failures"
    );
    assert_eq!(burst.iter().filter(|s| **s == 401).count() as u64, checked);
    assert!(burst.iter().all(|s| *s == 401 || *s == 429), "{burst:?}");
    // Now throttled: nothing more is checked (no lookup, no Argon2 hash), whatever the password.
    while login("wrong-password").await != 429 {}
    let before = state.throttle.stats();
    for password in ["wrong-password", ADMIN_PASSWORD] {
        for _ in 0..10 {
            assert_eq!(login(password).await, 429);
        }
    }
    let after = state.throttle.stats();
    assert_eq!(
        after.allowed, before.allowed,
        "a throttled request reached a password check"
    );
    assert_eq!(after.refused, before.refused + 20);
}
