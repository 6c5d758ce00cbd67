//! Concurrent writes spread over the replicas: one winner for a user name, no lost account update,
//! no 5xx when every replica writes one user row at once, one current token per session after
//! concurrent refreshes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::json;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_user_creation_across_replicas_has_one_winner() {
    pg_test(
        "concurrent_user_creation_across_replicas_has_one_winner",
        |ctx| async move {
            let url = ctx.fresh_schema().await;
            let rs = Arc::new(ctx.start_many("create", 3, &url).await);
            let token = Auth::Bearer(rs[0].login("admin", ADMIN_PASSWORD).await);
            let tasks: Vec<_> = (0..50)
                .map(|i| {
                    let (rs, token) = (rs.clone(), token.clone());
                    tokio::spawn(async move {
                        let body = json!({
                            "user_name": "same-name",
                            "full_name": format!("attempt {i}"),
                            "security": {"password": format!("password-{i}"), "roles": [VIEWER]},
                        });
                        (i, rs[i % 3].post("/users", &token, body).await)
                    })
                })
                .collect();
            let mut winners = Vec::new();
            for t in futures::future::join_all(tasks).await {
                let (i, reply) = t.unwrap();
                match reply.status {
                    200 => winners.push(i),
                    _ => reply.expect_error(409, "user.user_name.conflict"),
                }
            }
            assert_eq!(
                winners.len(),
                1,
                "exactly one creation succeeds: {winners:?}"
            );

            // The stored user is the winner's, whole.
            let db = ctx.db(&url).await;
            let n: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE user_name = 'same-name'")
                    .fetch_one(&db)
                    .await
                    .unwrap();
            assert_eq!(n, 1);
            let winner = winners[0];
            for r in rs.iter() {
                let user = r.get("/users/same-name", &token).await.expect(200);
                assert_eq!(user["full_name"], json!(format!("attempt {winner}")));
                let creds = Auth::Basic("same-name".into(), format!("password-{winner}"));
                r.get("/user", &creds).await.expect(200);
            }
            db.close().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_account_patches_across_replicas_lose_nothing() {
    pg_test(
        "concurrent_account_patches_across_replicas_lose_nothing",
        |ctx| async move {
            let url = ctx.fresh_schema().await;
            let rs = Arc::new(ctx.start_many("patch", 3, &url).await);
            let token = Auth::Bearer(rs[0].login("admin", ADMIN_PASSWORD).await);
            let tasks: Vec<_> = (0..30)
                .map(|i| {
                    let (rs, token) = (rs.clone(), token.clone());
                    tokio::spawn(async move {
                        let body = json!({"trust": {format!("key_{i}"): i}});
                        rs[i % 3].patch("/account", &token, body).await
                    })
                })
                .collect();
            for t in futures::future::join_all(tasks).await {
                t.unwrap().expect(200);
            }
            for r in rs.iter() {
                let account = r.get("/account", &token).await.expect(200);
                let trust = account["trust"].as_object().unwrap();
                for i in 0..30 {
                    assert_eq!(trust.get(&format!("key_{i}")), Some(&json!(i)), "{account}");
                }
                assert_eq!(trust.get("trust_all"), Some(&json!(true)), "{account}");
            }
        },
    )
    .await;
}

/// Many concurrent writes of one user row through every replica: each replica queues its
/// writers on a row lock, the replicas' compare-and-swaps race within a bounded, jittered retry
/// budget (`src/store/cas.rs`); no write may answer 5xx, and the row ends as one of the writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_of_one_user_across_replicas_never_answer_5xx() {
    pg_test(
        "concurrent_patches_of_one_user_across_replicas_never_answer_5xx",
        |ctx| async move {
            const WRITES: usize = 300;
            let url = ctx.fresh_schema().await;
            let rs = Arc::new(ctx.start_many("contend", 3, &url).await);
            let Auth::Basic(name, password) = rs[0].create_user("contended", &[]).await else {
                unreachable!()
            };
            // Bearer: the writes race on the row, not on Argon2 checks of a Basic password.
            let token = Auth::Bearer(rs[0].login(&name, &password).await);
            let tasks: Vec<_> = (0..WRITES)
                .map(|i| {
                    let (rs, token) = (rs.clone(), token.clone());
                    tokio::spawn(async move {
                        let body = json!({"full_name": format!("Writer {i}")});
                        rs[i % 3].patch("/user", &token, body).await
                    })
                })
                .collect();
            let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
            for t in futures::future::join_all(tasks).await {
                let reply = t.unwrap();
                assert!(
                    reply.status < 500,
                    "a write answered {}: {}",
                    reply.status,
                    reply.body
                );
                *statuses.entry(reply.status).or_default() += 1;
            }
            assert_eq!(statuses, BTreeMap::from([(200, WRITES)]));
            let written: BTreeSet<String> = (0..WRITES).map(|i| format!("Writer {i}")).collect();
            for r in rs.iter() {
                let me = r.get("/user", &token).await.expect(200);
                let stored = me["full_name"].as_str().unwrap_or_default();
                assert!(written.contains(stored), "final full name {stored:?}");
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_across_replicas_leave_one_current_token() {
    pg_test(
        "concurrent_refreshes_across_replicas_leave_one_current_token",
        |ctx| async move {
            let url = ctx.fresh_schema().await;
            let rs = Arc::new(ctx.start_many("refresh", 3, &url).await);
            let token = rs[1].login("admin", ADMIN_PASSWORD).await;
            let tasks: Vec<_> = (0..20)
                .map(|i| {
                    let (rs, bearer) = (rs.clone(), Auth::Bearer(token.clone()));
                    tokio::spawn(async move {
                        rs[i % 3]
                            .post("/users/auth/_refresh", &bearer, json!({}))
                            .await
                    })
                })
                .collect();
            let mut issued = Vec::new();
            for t in futures::future::join_all(tasks).await {
                // Each caller presents the first token: one refresh continues the chain, every
                // other finds it already replaced (usable in its grace, but not refreshable).
                let reply = t.unwrap();
                if reply.status == 200 {
                    issued.push(reply.body["token"].as_str().unwrap().to_string());
                } else {
                    reply.expect_error(401, "root.unauthorized");
                }
            }
            assert_eq!(issued.len(), 1, "one refresh continues the chain");

            let db = ctx.db(&url).await;
            let session: String =
                sqlx::query_scalar("SELECT session_id FROM session_tokens WHERE token_hash = $1")
                    .bind(digest(&token))
                    .fetch_one(&db)
                    .await
                    .unwrap();
            let hashes: Vec<Vec<u8>> = issued.iter().map(|t| digest(t)).collect();
            let owners: Vec<String> = sqlx::query_scalar(
                "SELECT session_id FROM session_tokens WHERE token_hash = ANY($1)",
            )
            .bind(&hashes)
            .fetch_all(&db)
            .await
            .unwrap();
            assert_eq!(owners.len(), 1, "the issued token is stored");
            assert!(owners.iter().all(|s| s == &session), "all in one session");
            let current: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT token_hash FROM session_tokens WHERE session_id = $1 AND valid_until IS NULL",
        )
        .bind(&session)
        .fetch_all(&db)
        .await
        .unwrap();
            assert_eq!(current.len(), 1, "exactly one current token: {current:?}");
            assert!(
                hashes.contains(&current[0]),
                "the current token is one that was handed out"
            );
            let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
                .fetch_one(&db)
                .await
                .unwrap();
            assert_eq!(sessions, 1, "refreshes never start a new session");
            // The new token and the replaced one (in its grace) work on every replica.
            for r in rs.iter() {
                for t in [&issued[0], &token] {
                    r.get("/users/auth", &Auth::Bearer(t.clone()))
                        .await
                        .expect(200);
                }
            }
            db.close().await;
        },
    )
    .await;
}
