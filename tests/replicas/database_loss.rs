//! Losing the database: a TCP proxy (`proxy.rs`) between a replica and PostgreSQL is cut in three
//! ways (connections dropped, packets swallowed, connections refused), with and without
//! statements in flight. Every request that needs the store gets 503 `root.store_unavailable`
//! within the acquire timeout, never a hang or a 500, and the replica recovers by itself, also
//! when a silent partition heals on new connections only.

use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use sqlx::postgres::PgConnectOptions;

use super::proxy::{assert_unavailable, via, Cut, Proxy};

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_database_gives_503_fast_and_recovers() {
    pg_test(
        "losing_the_database_gives_503_fast_and_recovers",
        |ctx| async move {
            let options = PgConnectOptions::from_str(&ctx.base).unwrap();
            if options.get_host().starts_with('/') {
                eprintln!("SKIPPED: {PG_ENV} names a Unix socket, the proxy needs TCP");
                return;
            }
            let upstream = tokio::net::lookup_host((options.get_host(), options.get_port()))
                .await
                .unwrap()
                .next()
                .expect("database address");
            let url = ctx.fresh_schema().await;
            let mut proxy = Proxy::start(upstream).await;
            const ACQUIRE_MS: u64 = 1000;
            let acquire = Duration::from_millis(ACQUIRE_MS);
            let r = ctx
                .start(
                    "dbloss",
                    &via(&url, proxy.addr),
                    &[
                        "--db-acquire-timeout-ms",
                        "1000",
                        "--db-statement-timeout-ms",
                        "2000",
                        "--request-timeout",
                        "4",
                    ],
                )
                .await;
            let token = Auth::Bearer(r.login("admin", ADMIN_PASSWORD).await);
            let viewer = r.create_user("viewer", &[VIEWER]).await;
            let key = Auth::ApiKey(r.create_key(&viewer).await.1);
            let login = json!({"username": "admin", "password": ADMIN_PASSWORD});
            // Every way a request reaches the store: the authentication of each credential kind,
            // and a handler's own reads (login has no credentials).
            let probes: Vec<(&str, Method, &str, Auth, Option<Value>)> = vec![
                (
                    "bearer GET /account",
                    Method::GET,
                    "/account",
                    token.clone(),
                    None,
                ),
                ("basic GET /users", Method::GET, "/users", admin(), None),
                (
                    "api key GET /users",
                    Method::GET,
                    "/users",
                    key.clone(),
                    None,
                ),
                (
                    "_refresh",
                    Method::POST,
                    "/users/auth/_refresh",
                    token.clone(),
                    Some(json!({})),
                ),
                (
                    "_login",
                    Method::POST,
                    "/users/auth/_login",
                    Auth::None,
                    Some(login.clone()),
                ),
            ];
            let check_all_ok = |label: &'static str| {
                let (r, probes) = (&r, &probes);
                async move {
                    for (what, method, path, auth, body) in probes.iter() {
                        if *path == "/users/auth/_refresh" {
                            continue; // would rotate the token the other probes use
                        }
                        let reply = r.send(method.clone(), path, auth, body.clone()).await;
                        assert_eq!(reply.status, 200, "{label}: {what}: {}", reply.body);
                    }
                }
            };
            check_all_ok("before the cut").await;

            // A statement PostgreSQL cancels at the statement timeout (here: waiting for a row lock
            // the test holds) is a 503 too, not a 500.
            let db = ctx.db(&url).await;
            {
                let mut lock = db.begin().await.unwrap();
                sqlx::query("SELECT 1 FROM account FOR UPDATE")
                    .execute(&mut *lock)
                    .await
                    .unwrap();
                let started = Instant::now();
                let reply = r
                    .patch("/account", &token, json!({"trust": {"locked": 1}}))
                    .await;
                assert_unavailable("statement timeout", &reply);
                assert!(
                    started.elapsed() < Duration::from_secs(4),
                    "{:?}",
                    started.elapsed()
                );
                lock.rollback().await.unwrap();
            }

            // A statement in flight when the database goes away. Dropped connections fail it at
            // once with a 503. When the database goes silent instead, sqlx has no client-side
            // timeout, so the request ends at the request timeout (408, here 4 s): bounded, never
            // a hang, never a 500.
            for (cut, allowed, limit) in [
                (Cut::Drop, &[503][..], Duration::from_millis(500)),
                (
                    Cut::Blackhole,
                    &[503, 408][..],
                    Duration::from_millis(4000 + 1500),
                ),
            ] {
                let mut lock = db.begin().await.unwrap();
                sqlx::query("SELECT 1 FROM account FOR UPDATE")
                    .execute(&mut *lock)
                    .await
                    .unwrap();
                let in_flight = {
                    let (base, Auth::Bearer(t)) = (r.base.clone(), token.clone()) else {
                        unreachable!()
                    };
                    let http = ctx.http.clone();
                    tokio::spawn(async move {
                        // A new value each time: the write of an earlier round may have been
                        // applied although its client got a 503 (PostgreSQL finished the UPDATE
                        // after the connection was gone), and an unchanged document is not written.
                        let body = json!({"trust": {"in_flight": cut as u8}});
                        let res = http
                            .patch(format!("{base}/account"))
                            .bearer_auth(t)
                            .json(&body);
                        let res = res.send().await.expect("in-flight request answered");
                        let status = res.status().as_u16();
                        let code = res.headers().get("x-cloud-error-codes").cloned();
                        (status, code, Instant::now())
                    })
                };
                // The UPDATE is now waiting for the lock, inside the replica's transaction.
                tokio::time::sleep(Duration::from_millis(400)).await;
                let cut_at = Instant::now();
                proxy.set(cut).await;
                let (status, code, answered_at) = in_flight.await.unwrap();
                let took = answered_at.saturating_duration_since(cut_at);
                assert!(
                    allowed.contains(&status),
                    "{cut:?} in flight: {status} {code:?}"
                );
                assert!(
                    took < limit,
                    "{cut:?} in flight: answered {took:?} after the cut"
                );
                eprintln!("{cut:?}, statement in flight: {status} {took:?} after the cut");
                lock.rollback().await.unwrap();
                proxy.set(Cut::None).await;
                eventually(&r, "/account", &token, 200, Duration::from_secs(15)).await;
            }
            db.close().await;

            for (cut, limit, rounds) in [
                // The connection is closed under sqlx: nothing to wait for.
                (Cut::Drop, acquire / 2, 3),
                // Nothing answers: bounded by the acquire timeout (plus scheduling slack).
                (Cut::Blackhole, acquire + Duration::from_millis(1500), 2),
                // Refused: sqlx retries connecting until the acquire timeout, then gives up.
                (Cut::Refuse, acquire + Duration::from_millis(1500), 2),
            ] {
                proxy.set(cut).await;
                // What the replica read in the last LOOKUP_TTL (the token, the account reply) may
                // still be answered from its cache (src/security/cache.rs): let it expire, so that every
                // probe needs the database.
                tokio::time::sleep(ece_server::security::cache::LOOKUP_TTL).await;
                let mut slowest = Duration::ZERO;
                for round in 0..rounds {
                    for (what, method, path, auth, body) in &probes {
                        let started = Instant::now();
                        let reply = r.send(method.clone(), path, auth, body.clone()).await;
                        let took = started.elapsed();
                        let what = format!("{cut:?} round {round}: {what} ({took:?})");
                        assert_unavailable(&what, &reply);
                        assert!(took < limit, "{what}: slower than {limit:?}");
                        slowest = slowest.max(took);
                    }
                }
                eprintln!("{cut:?}: every probe answered 503, the slowest in {slowest:?}");
                // The process itself is alive: what needs no database still answers; readiness
                // says the database is not there.
                r.get("/users/auth/methods", &Auth::None).await.expect(200);
                r.get_outside_api("/healthz").await.expect(200);
                assert_unavailable("readyz", &r.get_outside_api("/readyz").await);

                proxy.set(Cut::None).await;
                let started = Instant::now();
                eventually(&r, "/account", &token, 200, Duration::from_secs(15)).await;
                eprintln!(
                    "{cut:?}: recovered {:?} after the database came back",
                    started.elapsed()
                );
                r.get_outside_api("/readyz").await.expect(200);
                check_all_ok("after restoring").await;
            }

            // What was written before the outages is intact.
            let users = r.get("/users", &token).await.expect(200);
            assert!(users["users"]
                .as_array()
                .unwrap()
                .iter()
                .any(|u| u["user_name"] == "viewer"));
        },
    )
    .await;
}

/// A database that goes silent (a failover whose old address is gone, a partition that drops
/// packets) while statements are in flight, then comes back on new connections only: the old
/// connections never answer again. The replica should answer 503 meanwhile and serve again once
/// new connections work.
///
/// This used to fail: sqlx has no client-side statement timeout, so such a request waited for
/// the request timeout (408), and sqlx returned the abandoned connection to the pool through a
/// `ping` that never completes on a silent socket, so each one kept its pool slot until the
/// kernel gave up on it (`tcp_retries2`, about 15 minutes on Linux). `src/store/postgres/guard.rs`
/// bounds each statement (acquire + statement timeout + 1 s, below the request timeout here) and
/// the ping on release, and closes a connection that fails it without a round trip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_when_a_silent_partition_heals() {
    pg_test("recovers_when_a_silent_partition_heals", |ctx| async move {
        let options = PgConnectOptions::from_str(&ctx.base).unwrap();
        let upstream = tokio::net::lookup_host((options.get_host(), options.get_port()))
            .await
            .unwrap()
            .next()
            .expect("database address");
        let url = ctx.fresh_schema().await;
        let mut proxy = Proxy::start(upstream).await;
        let flags = [
            "--db-max-connections",
            "4",
            "--db-acquire-timeout-ms",
            "1000",
            "--db-statement-timeout-ms",
            "2000",
            "--request-timeout",
            "10",
        ];
        let r = ctx.start("silent", &via(&url, proxy.addr), &flags).await;
        let token = Auth::Bearer(r.login("admin", ADMIN_PASSWORD).await);
        let db = ctx.db(&url).await;
        // Park more writers than the pool has connections on a row lock the test holds.
        let mut lock = db.begin().await.unwrap();
        sqlx::query("SELECT 1 FROM account FOR UPDATE")
            .execute(&mut *lock)
            .await
            .unwrap();
        let writers: Vec<_> = (0..6)
            .map(|i| {
                let (base, Auth::Bearer(t)) = (r.base.clone(), token.clone()) else {
                    unreachable!()
                };
                let http = ctx.http.clone();
                tokio::spawn(async move {
                    let body = json!({"trust": {"parked": i}});
                    let res = http
                        .patch(format!("{base}/account"))
                        .bearer_auth(t)
                        .json(&body);
                    res.send().await.map(|r| r.status().as_u16())
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(400)).await;
        proxy.set(Cut::Blackhole).await;
        lock.rollback().await.unwrap();
        for w in writers {
            let status = w.await.unwrap().expect("answered");
            assert_eq!(status, 503);
        }
        // The database is reachable again on new connections; the old ones stay silent (no
        // switch is announced to them).
        proxy.mode.store(Cut::None as u8, Ordering::SeqCst);
        eventually(&r, "/account", &token, 200, Duration::from_secs(15)).await;
        db.close().await;
    })
    .await;
}
