//! Hostile clients against the password checks (issue 11): concurrent bursts on fresh names,
//! legitimate traffic that must neither reset an attacker's counter nor be locked out, sign-ins
//! abandoned mid-check, a full hashing queue (refused at once, or after waiting for a place), and
//! refused operations in the audit log.
//!
//! Loopback only; every burst is a fixed number of requests, and every wait for the server to
//! notice something is a bounded poll. No speed is asserted; the one time asserted is a lower
//! bound the server sets itself (a check waits for the configured admission wait).

use std::time::{Duration, Instant};

use ece_server::http::Settings;
use ece_server::store::AuditFilter;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::helpers::{
    client_from, spawn_keeping_state, spawn_with, throttled, Auth, TestApp, ADMIN_PASSWORD,
};

const LOGIN: &str = "/users/auth/_login";

/// A `_login` from `client`; the status.
pub async fn login(client: &reqwest::Client, base: &str, user: &str, password: &str) -> u16 {
    client
        .post(format!("{base}{LOGIN}"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .expect("request sent")
        .status()
        .as_u16()
}

/// Polls `done` every 20 ms for at most 30 s; whether it became true.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

#[tokio::test]
async fn a_concurrent_burst_on_a_fresh_name_gets_the_allowance_and_no_more() {
    // Default thresholds (30); a queue long enough that no guess is refused for being queued.
    let settings = Settings {
        hash_queue: Some(2000),
        ..Settings::default()
    };
    let (base, state, _dir) = spawn_keeping_state(settings, None).await;
    let client = reqwest::Client::new();
    let guesses: Vec<String> = (0..1500).map(|i| format!("guess-{i}")).collect();
    let burst = futures::future::join_all(
        guesses
            .iter()
            .map(|g| login(&client, &base, "fresh-name", g)),
    )
    .await;
    let evaluated = burst.iter().filter(|s| **s == 401).count();
    let refused = burst.iter().filter(|s| **s == 429).count();
    assert_eq!(evaluated + refused, 1500, "only 401 and 429: {burst:?}");
    assert!(
        (1..=30).contains(&evaluated),
        "{evaluated} guesses evaluated"
    );
    assert!(state.throttle.stats().allowed <= 30);
}

#[tokio::test]
async fn legitimate_traffic_does_not_reset_the_attackers_counter() {
    let app = spawn_with(throttled(3, 0)).await;
    let attacker = client_from("127.0.0.2");
    // A real client using Basic, verified once: its further requests are cache hits.
    assert_eq!(app.auth_status(&Auth::admin()).await, 200);
    for _ in 0..2 {
        assert_eq!(login(&attacker, &app.base, "admin", "guess").await, 401);
        assert_eq!(app.auth_status(&Auth::admin()).await, 200);
    }
    // A real sign-in (Argon2, from another address) forgives none of the attacker's failures.
    app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(login(&attacker, &app.base, "admin", "guess").await, 401);
    assert_eq!(login(&attacker, &app.base, "admin", "guess").await, 429);
}

#[tokio::test]
async fn a_verified_credential_keeps_working_while_its_name_is_throttled() {
    let app = spawn_with(throttled(3, 0)).await;
    let attacker = client_from("127.0.0.2");
    assert_eq!(app.auth_status(&Auth::admin()).await, 200);
    for _ in 0..3 {
        assert_eq!(login(&attacker, &app.base, "admin", "guess").await, 401);
    }
    assert_eq!(login(&attacker, &app.base, "admin", "guess").await, 429);
    // The automation's credential, verified by this replica before, is not a guess.
    for _ in 0..3 {
        assert_eq!(app.auth_status(&Auth::admin()).await, 200);
    }
    // Everything else about the name stays throttled: `_login`, even with the right password,
    // and any Basic credential not verified before.
    app.post(
        LOGIN,
        &Auth::None,
        json!({"username": "admin", "password": ADMIN_PASSWORD}),
    )
    .await
    .expect_error(429, "root.too_many_requests");
    let other = Auth::basic("admin", "another-guess");
    app.get("/users/auth", &other)
        .await
        .expect_error(429, "root.too_many_requests");
}

/// Sends a `_login` on a raw connection and returns the connection without reading the reply.
async fn unanswered_login(base: &str, user: &str) -> tokio::net::TcpStream {
    let addr = base
        .trim_start_matches("http://")
        .trim_end_matches("/api/v1");
    let body = json!({"username": user, "password": "a-guess"}).to_string();
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/v1{LOGIN} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(format!("{head}{body}").as_bytes())
        .await
        .unwrap();
    conn
}

#[tokio::test]
async fn abandoned_sign_ins_count_as_failures_and_cost_no_hash() {
    // One hashing thread, held by the test, so that the victim's checks are certainly still
    // queued when their clients hang up (real hashing time would make this a race).
    let settings = Settings {
        hash_queue: Some(64),
        ..throttled(3, 0)
    };
    let (base, state, _dir) = spawn_keeping_state(settings, Some(1)).await;
    let client = reqwest::Client::new();
    let paused = state.hasher.pause();
    let before = state.hasher.stats().submitted;
    let mut hung = Vec::new();
    for _ in 0..3 {
        hung.push(unanswered_login(&base, "victim").await);
    }
    // Once their checks are queued for hashing (behind the held thread), the clients hang up.
    assert!(eventually(|| state.hasher.stats().submitted >= before + 3).await);
    drop(hung);
    assert!(
        eventually(|| state.throttle.stats().abandoned >= 3).await,
        "abandoned attempts were not counted: {:?}",
        state.throttle.stats()
    );
    drop(paused);
    // Their jobs were dropped from the queue, not hashed (an Attempt is counted as abandoned a
    // moment before its request's last parts are dropped, hence "at least one" of the three)...
    assert!(
        eventually(|| state.hasher.stats().skipped >= 1).await,
        "{:?}",
        state.hasher.stats()
    );
    // ...and the three guesses count: the name must wait.
    assert_eq!(login(&client, &base, "victim", "a-guess").await, 429);
    // Each is in the audit log (written in the background, as the request is gone).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let events = state
            .store
            .list_audit(&AuditFilter::default())
            .await
            .unwrap();
        let abandoned = events
            .iter()
            .filter(|e| e.event == "login" && e.outcome == "failure")
            .filter(|e| e.target.as_deref() == Some("victim") && e.detail["abandoned"] == true)
            .count();
        if abandoned == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{abandoned} abandoned attempts audited"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_full_hashing_queue_refuses_at_once_with_retry_after() {
    let settings = Settings {
        hash_queue: Some(1),
        hash_queue_wait: Duration::ZERO,
        ..throttled(0, 0)
    };
    let (base, state, _dir) = spawn_keeping_state(settings, Some(1)).await;
    let client = reqwest::Client::new();
    let replies = futures::future::join_all((0..60).map(|i| {
        let client = client.clone();
        let base = base.clone();
        async move {
            client
                .post(format!("{base}{LOGIN}"))
                .json(&json!({"username": format!("u{i}"), "password": "x"}))
                .send()
                .await
                .unwrap()
        }
    }))
    .await;
    let mut busy = 0;
    for r in replies {
        match r.status().as_u16() {
            401 => {}
            429 => {
                assert_eq!(r.headers()["retry-after"], "1");
                let body: serde_json::Value = r.json().await.unwrap();
                assert_eq!(body["errors"][0]["code"], "root.too_many_requests");
                busy += 1;
            }
            s => panic!("unexpected status {s}"),
        }
    }
    assert!(busy >= 1, "the queue of one never filled");
    assert_eq!(state.hasher.stats().refused, busy);
}

#[tokio::test]
async fn a_check_that_finds_the_queue_full_waits_for_a_place() {
    let wait = Duration::from_secs(2);
    let settings = Settings {
        hash_queue: Some(1),
        hash_queue_wait: wait,
        ..throttled(0, 0)
    };
    let (base, state, _dir) = spawn_keeping_state(settings, Some(1)).await;
    let client = reqwest::Client::new();
    let send = |user: &'static str| {
        let (client, base) = (client.clone(), base.clone());
        tokio::spawn(async move { login(&client, &base, user, "a-guess").await })
    };
    // The one hashing thread is held and one check fills the queue of one.
    let paused = state.hasher.pause();
    let queued = send("u0");
    assert!(eventually(|| state.hasher.stats().submitted >= 1).await);
    // A place never frees: the next check waits the whole admission wait, then gets its 429.
    let started = Instant::now();
    assert_eq!(login(&client, &base, "u1", "a-guess").await, 429);
    assert!(
        started.elapsed() >= wait,
        "refused after {:?}",
        started.elapsed()
    );
    assert_eq!(state.hasher.stats().refused, 1);
    // A place frees while it waits: it is checked (a wrong password: 401), not refused.
    let waiting = send("u2");
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(paused);
    assert_eq!(waiting.await.unwrap(), 401);
    assert_eq!(queued.await.unwrap(), 401);
    assert_eq!(state.hasher.stats().refused, 1);
}

async fn denied(app: &TestApp) -> Vec<ece_server::store::AuditRecord> {
    let events = app.store.list_audit(&AuditFilter::default()).await.unwrap();
    events
        .into_iter()
        .filter(|e| e.event == "access.denied")
        .collect()
}

#[tokio::test]
async fn refused_operations_are_audited_within_a_rate_bound() {
    let app = spawn_with(Settings {
        audit_refusals_per_minute: 4,
        ..Settings::default()
    })
    .await;
    app.create_user("dave", &[]).await;
    app.patch("/users/dave", &Auth::readonly(), json!({"full_name": "X"}))
        .await
        .expect(403);
    app.get("/users", &Auth::Bearer("not-a-token".into()))
        .await
        .expect(401);
    let events = denied(&app).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].actor.as_deref(), Some("readonly"));
    assert_eq!(events[0].outcome, "failure");
    assert_eq!(events[0].detail["status"], 403);
    assert_eq!(events[0].detail["operation"], "update-user");
    assert_eq!(events[1].actor, None);
    assert_eq!(events[1].detail["status"], 401);
    assert_eq!(events[1].detail["auth"], "bearer");
    assert_eq!(events[1].source.as_deref(), Some("127.0.0.1"));
    // A flood of refusals writes at most the bound per minute.
    for _ in 0..40 {
        app.get("/users", &Auth::ApiKey("not-a-key".into()))
            .await
            .expect(401);
    }
    assert_eq!(denied(&app).await.len(), 4);
    // Wrong Basic passwords are `login` failures already, not refusals.
    app.get("/users", &Auth::basic("admin", "wrong-password"))
        .await
        .expect(401);
    assert_eq!(denied(&app).await.len(), 4);
}
