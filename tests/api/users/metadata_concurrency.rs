//! User metadata (who created and changed a user, and when) and concurrency: concurrent creates of
//! one name make one user, concurrent patches lose no update.

use std::time::Duration;

use ece_server::http::Settings;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_with, Auth};

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
