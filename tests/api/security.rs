//! Security: brute-force protection (429 + Retry-After), the audit log, and the offline recovery
//! commands (`ece-server user ...`, `ece-server audit`) run against the test's database.
//!
//! Thresholds are made small through `Settings`; no test waits for a lock to expire (the waits
//! themselves are unit-tested in `src/security/throttle.rs` with an injected clock).

use std::process::{Command, Output, Stdio};

use ece_server::http::Settings;
use ece_server::security::crypto;
use ece_server::store::{AuditFilter, AuditRecord};
use serde_json::{json, Value};

use crate::helpers::{
    client_from, spawn_app, spawn_keeping_state, spawn_with, throttled, Auth, TestApp,
    ADMIN_PASSWORD, READONLY_PASSWORD,
};

const LOGIN: &str = "/users/auth/_login";

async fn login_status(app: &TestApp, user: &str, password: &str) -> crate::helpers::Reply {
    app.post(
        LOGIN,
        &Auth::None,
        json!({"username": user, "password": password}),
    )
    .await
}

/// Asserts a 429 `root.too_many_requests` with a `Retry-After` of 1 to `max` seconds.
#[track_caller]
fn assert_throttled(reply: crate::helpers::Reply, max: u64) {
    let retry: u64 = reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no numeric Retry-After: {:?}", reply.headers));
    assert!((1..=max).contains(&retry), "Retry-After {retry}");
    reply.expect_error(429, "root.too_many_requests");
}

async fn raw_login(client: &reqwest::Client, app: &TestApp, user: &str, password: &str) -> u16 {
    crate::brute_force::login(client, &app.base, user, password).await
}

// ---------------------------------------------------------------------------------------------
// Brute-force protection
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Audit log
// ---------------------------------------------------------------------------------------------

async fn audit(app: &TestApp) -> Vec<AuditRecord> {
    app.store.list_audit(&AuditFilter::default()).await.unwrap()
}

fn find<'a>(events: &'a [AuditRecord], event: &str, outcome: &str) -> Vec<&'a AuditRecord> {
    events
        .iter()
        .filter(|e| e.event == event && e.outcome == outcome)
        .collect()
}

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

// ---------------------------------------------------------------------------------------------
// Command line: `ece-server user ...` and `ece-server audit`
// ---------------------------------------------------------------------------------------------

/// Runs the real binary against the test app's database, with `stdin` as input.
fn cli(app: &TestApp, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ece-server"))
        .args(args)
        .arg("--database-url")
        .arg(&app.db_url)
        .env_remove("ECE_DATABASE_URL")
        .env_remove("ECE_DATA_DIR")
        .env("ECE_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[tokio::test]
async fn reset_password_from_stdin_while_the_server_runs() {
    let app = spawn_app().await;
    let token = app.login("admin", ADMIN_PASSWORD).await;
    let out = cli(
        &app,
        &["user", "reset-password", "admin", "--password-stdin"],
        "brand-new-admin-pw\n",
    );
    assert!(out.status.success(), "{out:?}");
    assert!(
        !stdout(&out).contains("brand-new-admin-pw"),
        "the chosen password is not echoed"
    );
    // The old password and the sessions are gone; the new password works at once.
    app.get("/users/auth", &Auth::Bearer(token))
        .await
        .expect(401);
    login_status(&app, "admin", ADMIN_PASSWORD)
        .await
        .expect(401);
    app.login("admin", "brand-new-admin-pw").await;
    let stored = app.store.get_user("admin").await.unwrap().unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$"));
    let reset = find(&audit(&app).await, "user.password_reset", "success")
        .first()
        .map(|e| (*e).clone())
        .expect("audited");
    assert_eq!(reset.target.as_deref(), Some("admin"));
    assert_eq!(reset.detail["via"], "cli");
    assert!(!format!("{reset:?}").contains("brand-new-admin-pw"));

    // A password outside the policy is refused, and nothing changes.
    let out = cli(
        &app,
        &["user", "reset-password", "admin", "--password-stdin"],
        "short\n",
    );
    assert!(!out.status.success());
    app.login("admin", "brand-new-admin-pw").await;
}

#[tokio::test]
async fn reset_password_generates_and_prints_one_when_none_is_given() {
    let app = spawn_app().await;
    app.create_user("erin", &[]).await;
    let out = cli(&app, &["user", "reset-password", "erin"], "");
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("New password for erin: "))
        .unwrap_or_else(|| panic!("no generated password in {text}"))
        .trim()
        .to_string();
    assert!(password.len() >= 20, "{password}");
    app.login("erin", &password).await;
    login_status(&app, "erin", "erin-password")
        .await
        .expect(401);
    // Unknown users are an error.
    let out = cli(&app, &["user", "reset-password", "nobody"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user named nobody"));
}

#[tokio::test]
async fn end_sessions_revokes_every_session_of_the_user() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", &["ece_platform_viewer"]).await;
    let t1 = app.login("bob", "bob-password").await;
    let t2 = app.login("bob", "bob-password").await;
    let admin = app.login("admin", ADMIN_PASSWORD).await;
    let out = cli(&app, &["user", "end-sessions", "bob"], "");
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).contains("2 session(s) of bob ended"),
        "{}",
        stdout(&out)
    );
    for t in [t1, t2] {
        app.get("/users/auth", &Auth::Bearer(t)).await.expect(401);
    }
    // Other users' sessions and bob's password are untouched.
    app.get("/users/auth", &Auth::Bearer(admin))
        .await
        .expect(200);
    app.get("/users/auth", &bob).await.expect(200);
    let ended = audit(&app).await;
    let ended = find(&ended, "user.end_sessions", "success");
    assert_eq!(ended[0].detail["sessions"], 2);
    let out = cli(&app, &["user", "end-sessions", "nobody"], "");
    assert!(!out.status.success());
}

#[tokio::test]
async fn audit_command_prints_filtered_json_lines() {
    let app = spawn_app().await;
    app.create_user("frank", &[]).await;
    app.login("frank", "frank-password").await;
    login_status(&app, "frank", "wrong-password")
        .await
        .expect(401);
    app.login("admin", ADMIN_PASSWORD).await;

    let lines = |args: &[&str]| -> Vec<Value> {
        let mut all = vec!["audit"];
        all.extend_from_slice(args);
        let out = cli(&app, &all, "");
        assert!(out.status.success(), "{out:?}");
        stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect()
    };
    let all = lines(&[]);
    assert_eq!(all.len(), 4, "{all:#?}");
    for e in &all {
        for field in [
            "id", "time", "event", "outcome", "actor", "source", "target", "detail",
        ] {
            assert!(e.get(field).is_some(), "{field} missing in {e}");
        }
    }
    assert_eq!(all[0]["event"], "user.create");
    let frank = lines(&["--user", "frank"]);
    assert_eq!(frank.len(), 3);
    let frank_logins = lines(&["--user", "frank", "--event", "login"]);
    let outcomes: Vec<_> = frank_logins.iter().map(|e| e["outcome"].clone()).collect();
    assert_eq!(outcomes, [json!("success"), json!("failure")]);
    let last = lines(&["--limit", "1"]);
    assert_eq!(last.len(), 1);
    assert_eq!(last[0]["actor"], "admin");
    assert!(lines(&["--since", "2999-01-01T00:00:00Z"]).is_empty());
    assert_eq!(lines(&["--until", "2999-01-01T00:00:00Z"]).len(), 4);
    let out = cli(&app, &["audit", "--since", "yesterday"], "");
    assert!(!out.status.success());
}

#[tokio::test]
async fn commands_refuse_a_missing_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ece-server"))
        .args(["user", "end-sessions", "admin", "--data-dir"])
        .arg(dir.path().join("nothing-here"))
        .env_remove("ECE_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database at"));
    assert!(
        !dir.path().join("nothing-here").exists(),
        "nothing was created"
    );
}
