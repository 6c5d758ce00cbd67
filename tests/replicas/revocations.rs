//! Revocations are seen by every replica at once: logout, API key deletion, disabling a user,
//! a password change and a removed role, done on one replica, are enforced by the others within
//! [`PROPAGATION`](super::PROPAGATION) (issue 4; the per-replica cache, `src/security/cache.rs`,
//! reuses token, key and Basic user lookups and the account for at most 250 ms).

use serde_json::json;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_on_one_replica_ends_the_session_everywhere() {
    pg_test(
        "logout_on_one_replica_ends_the_session_everywhere",
        |ctx| async move {
            let url = ctx.fresh_schema().await;
            let rs = ctx.start_many("logout", 3, &url).await;
            let (a, b, c) = (&rs[0], &rs[1], &rs[2]);

            let first = a.login("admin", ADMIN_PASSWORD).await;
            b.get("/users/auth", &Auth::Bearer(first.clone()))
                .await
                .expect(200);
            let refreshed = b
                .post(
                    "/users/auth/_refresh",
                    &Auth::Bearer(first.clone()),
                    json!({}),
                )
                .await
                .expect(200);
            let second = refreshed["token"].as_str().unwrap().to_string();
            for r in [a, b, c] {
                r.get("/account", &Auth::Bearer(second.clone()))
                    .await
                    .expect(200);
                // The replaced token is still in its grace period.
                r.get("/account", &Auth::Bearer(first.clone()))
                    .await
                    .expect(200);
            }

            c.post(
                "/users/auth/_logout",
                &Auth::Bearer(second.clone()),
                json!({}),
            )
            .await
            .expect(200);
            for token in [&first, &second] {
                let bearer = Auth::Bearer(token.clone());
                for r in [a, b] {
                    let reply = eventually(r, "/users/auth", &bearer, 401, PROPAGATION).await;
                    reply.expect_error(401, "root.unauthenticated");
                    r.post("/users/auth/_refresh", &bearer, json!({}))
                        .await
                        .expect_error(401, "root.unauthorized");
                }
            }
            // Other sessions of the user are untouched.
            let other = b.login("admin", ADMIN_PASSWORD).await;
            a.get("/account", &Auth::Bearer(other)).await.expect(200);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_api_key_is_rejected_by_every_replica() {
    pg_test(
        "deleted_api_key_is_rejected_by_every_replica",
        |ctx| async move {
            let url = ctx.fresh_schema().await;
            let rs = ctx.start_many("keys", 3, &url).await;
            let (a, b, c) = (&rs[0], &rs[1], &rs[2]);
            let owner = a.create_user("key-owner", &[VIEWER]).await;

            // Deleted by its owner on B.
            let (id, secret) = a.create_key(&owner).await;
            let key = Auth::ApiKey(secret);
            for r in [a, b, c] {
                r.get("/users", &key).await.expect(200);
            }
            b.delete(&format!("/users/auth/keys/{id}"), &owner, None)
                .await
                .expect(200);
            for r in [a, c] {
                eventually(r, "/users", &key, 401, PROPAGATION)
                    .await
                    .expect_error(401, "root.unauthenticated");
            }

            // Deleted by an administrator on A.
            let (id, secret) = c.create_key(&owner).await;
            let key = Auth::ApiKey(secret);
            b.get("/users", &key).await.expect(200);
            a.delete(&format!("/users/key-owner/auth/keys/{id}"), &admin(), None)
                .await
                .expect(200);
            for r in [b, c] {
                eventually(r, "/users", &key, 401, PROPAGATION).await;
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_user_is_rejected_by_every_replica() {
    pg_test(
        "disabled_user_is_rejected_by_every_replica",
        |ctx| async move {
            let url = ctx.fresh_schema().await;
            let rs = ctx.start_many("disable", 3, &url).await;
            let (a, b, c) = (&rs[0], &rs[1], &rs[2]);
            let basic = a.create_user("to-disable", &[VIEWER]).await;
            let bearer = Auth::Bearer(c.login("to-disable", "to-disable-password").await);
            let key = Auth::ApiKey(a.create_key(&basic).await.1);
            for r in [a, b, c] {
                for auth in [&basic, &bearer, &key] {
                    r.get("/users", auth).await.expect(200);
                }
            }

            let body = json!({"security": {"enabled": false}});
            b.patch("/users/to-disable", &admin(), body)
                .await
                .expect(200);
            for r in [a, c] {
                for auth in [&basic, &bearer, &key] {
                    eventually(r, "/users", auth, 401, PROPAGATION).await;
                }
                let login = json!({"username": "to-disable", "password": "to-disable-password"});
                r.post("/users/auth/_login", &Auth::None, login)
                    .await
                    .expect_error(401, "root.unauthenticated");
            }

            // Enabled again on C: its password works on A at once (nothing stale is cached either
            // way); the session ended with the disable stays ended.
            let body = json!({"security": {"enabled": true}});
            c.patch("/users/to-disable", &admin(), body)
                .await
                .expect(200);
            eventually(a, "/users", &basic, 200, PROPAGATION).await;
            a.get("/users", &bearer).await.expect(401);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_is_seen_by_every_replica() {
    pg_test(
        "password_change_is_seen_by_every_replica",
        |ctx| async move {
            let url = ctx.fresh_schema().await;
            let rs = ctx.start_many("password", 3, &url).await;
            let (a, b, c) = (&rs[0], &rs[1], &rs[2]);
            let old = a.create_user("changer", &[VIEWER]).await;
            let session = Auth::Bearer(a.login("changer", "changer-password").await);
            for r in [a, b, c] {
                r.get("/user", &old).await.expect(200);
                r.get("/user", &session).await.expect(200);
            }

            // An administrator sets a new password on B.
            let body = json!({"security": {"password": "changer-password-2"}});
            b.patch("/users/changer", &admin(), body).await.expect(200);
            let new = Auth::Basic("changer".into(), "changer-password-2".into());
            for r in [a, c] {
                eventually(r, "/user", &old, 401, PROPAGATION).await;
                eventually(r, "/user", &session, 401, PROPAGATION).await;
                r.get("/user", &new).await.expect(200);
            }

            // The user changes it itself on C through its session S2: its other session S1 ends on
            // every replica, S2 is kept.
            let s1 = Auth::Bearer(a.login("changer", "changer-password-2").await);
            let s2 = Auth::Bearer(b.login("changer", "changer-password-2").await);
            let body = json!({"security": {"password": "changer-password-3"}});
            c.patch("/user", &s2, body).await.expect(200);
            for r in [a, b] {
                eventually(r, "/user", &s1, 401, PROPAGATION).await;
                eventually(r, "/user", &new, 401, PROPAGATION).await;
                r.get("/user", &s2).await.expect(200);
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_role_is_enforced_by_every_replica() {
    pg_test(
        "removed_role_is_enforced_by_every_replica",
        |ctx| async move {
            let url = ctx.fresh_schema().await;
            let rs = ctx.start_many("roles", 3, &url).await;
            let (a, b, c) = (&rs[0], &rs[1], &rs[2]);
            let basic = a.create_user("viewer", &[VIEWER]).await;
            let bearer = Auth::Bearer(b.login("viewer", "viewer-password").await);
            let key = Auth::ApiKey(c.create_key(&basic).await.1);
            for r in [a, b, c] {
                for auth in [&basic, &bearer, &key] {
                    r.get("/users", auth).await.expect(200);
                }
            }

            let body = json!({"platform": [{"role_id": VIEWER}]});
            b.delete("/users/viewer/role_assignments", &admin(), Some(body))
                .await
                .expect(200);
            for r in [a, c] {
                for auth in [&basic, &bearer, &key] {
                    eventually(r, "/users", auth, 403, PROPAGATION)
                        .await
                        .expect_error(403, "root.unauthorized.rbac");
                    // Still authenticated: what every user may do keeps working.
                    r.get("/user", auth).await.expect(200);
                }
            }
        },
    )
    .await;
}
