//! `kill -9` of a replica under load: every write a replica acknowledged before it was killed is
//! there, the surviving replica keeps taking writes, and no half-written row is left (every
//! session has its current token, every token its session).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use super::*;

/// What the load loop got a 2xx for, and anything else it saw.
#[derive(Default)]
struct Ledger {
    users: Vec<String>,
    keys: Vec<(String, usize)>,
    tokens: Vec<String>,
    acked_on_a: usize,
    acked_on_b_after_kill: usize,
    unexpected: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_replica_mid_load_loses_no_acknowledged_write() {
    pg_test(
        "kill_9_of_a_replica_mid_load_loses_no_acknowledged_write",
        |ctx| async move {
            let url = ctx.fresh_schema().await;
            let mut rs = ctx.start_many("kill", 2, &url).await;
            let b = rs.pop().unwrap();
            let a = rs.pop().unwrap();
            let token = Auth::Bearer(b.login("admin", ADMIN_PASSWORD).await);
            let ledger = Arc::new(StdMutex::new(Ledger::default()));
            let (stop, killed) = (
                Arc::new(AtomicBool::new(false)),
                Arc::new(AtomicBool::new(false)),
            );
            let targets = Arc::new([
                (a.base.clone(), a.label.clone()),
                (b.base.clone(), b.label.clone()),
            ]);

            // Three workers per replica: create a user, patch the account, log in, in turn.
            let mut workers = Vec::new();
            for (target, w) in (0..2).flat_map(|t| (0..3).map(move |w| (t, w))) {
                let (ledger, stop, killed) = (ledger.clone(), stop.clone(), killed.clone());
                let (targets, token, http) = (targets.clone(), token.clone(), ctx.http.clone());
                workers.push(tokio::spawn(async move {
                    let (base, label) = &targets[target];
                    for i in 0..200 {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let name = format!("load-{target}-{w}-{i}");
                        let key = format!("k_{target}_{w}_{i}");
                        let (path, method, auth, body) = match (w + i) % 3 {
                            0 => (
                                "/users",
                                Method::POST,
                                &token,
                                json!({
                            "user_name": name, "full_name": format!("Full {name}"),
                            "security": {"password": "load-password", "roles": [VIEWER]}}),
                            ),
                            1 => (
                                "/account",
                                Method::PATCH,
                                &token,
                                json!({"trust": {&key: i}}),
                            ),
                            _ => (
                                "/users/auth/_login",
                                Method::POST,
                                &Auth::None,
                                json!({"username": "admin", "password": ADMIN_PASSWORD}),
                            ),
                        };
                        let mut req = http
                            .request(method.clone(), format!("{base}{path}"))
                            .json(&body);
                        if let Auth::Bearer(t) = auth {
                            req = req.bearer_auth(t);
                        }
                        let was_killed = killed.load(Ordering::SeqCst);
                        let reply = match req.send().await {
                            Ok(res) => {
                                let status = res.status().as_u16();
                                (status, res.json::<Value>().await.unwrap_or(Value::Null))
                            }
                            Err(e) => {
                                if target == 0 && killed.load(Ordering::SeqCst) {
                                    break; // A is gone, as intended
                                }
                                let what = format!("{label} {method} {path}: {e}");
                                ledger.lock().unwrap().unexpected.push(what);
                                break;
                            }
                        };
                        let mut l = ledger.lock().unwrap();
                        match reply {
                            (200, body) => {
                                match (w + i) % 3 {
                                    0 => l.users.push(name),
                                    1 => l.keys.push((key, i)),
                                    _ => l.tokens.push(body["token"].as_str().unwrap().into()),
                                }
                                if target == 0 {
                                    l.acked_on_a += 1;
                                } else if was_killed {
                                    l.acked_on_b_after_kill += 1;
                                }
                            }
                            // A reply A sent while dying may be anything but a 2xx; it acknowledges
                            // nothing. B must answer every request.
                            (status, body) if target == 0 && killed.load(Ordering::SeqCst) => {
                                let _ = (status, body);
                            }
                            (status, body) => l
                                .unexpected
                                .push(format!("{label} {method} {path}: {status} {body}")),
                        }
                    }
                }));
            }

            // Let A acknowledge some writes, then kill it in the middle of the load.
            let deadline = Instant::now() + Duration::from_secs(60);
            while ledger.lock().unwrap().acked_on_a < 30 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let mut a = a;
            killed.store(true, Ordering::SeqCst);
            a.kill9();
            // B keeps taking writes after A's death (A's open transactions must not block it).
            let deadline = Instant::now() + Duration::from_secs(20);
            let after = Instant::now() + Duration::from_secs(1);
            while (Instant::now() < after || ledger.lock().unwrap().acked_on_b_after_kill < 6)
                && Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            stop.store(true, Ordering::SeqCst);
            for w in workers {
                w.await.unwrap();
            }

            let l = std::mem::take(&mut *ledger.lock().unwrap());
            assert!(
                l.unexpected.is_empty(),
                "unexpected replies: {:#?}",
                l.unexpected
            );
            assert!(
                l.acked_on_a >= 30,
                "A acknowledged only {} writes",
                l.acked_on_a
            );
            assert!(l.acked_on_b_after_kill >= 6, "B stalled after A was killed");

            // Every acknowledged write is there, seen through B.
            let listed = b
                .get("/users?include_disabled=true", &token)
                .await
                .expect(200);
            let users: BTreeMap<&str, &Value> = listed["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| (u["user_name"].as_str().unwrap(), u))
                .collect();
            for name in &l.users {
                let u = users
                    .get(name.as_str())
                    .unwrap_or_else(|| panic!("user {name} lost"));
                assert_eq!(u["full_name"], json!(format!("Full {name}")));
                assert_eq!(u["security"]["roles"], json!([VIEWER]), "{u}");
            }
            let account = b.get("/account", &token).await.expect(200);
            for (key, i) in &l.keys {
                assert_eq!(account["trust"][key], json!(i), "account update {key} lost");
            }
            for t in &l.tokens {
                b.get("/users/auth", &Auth::Bearer(t.clone()))
                    .await
                    .expect(200);
            }

            // No half-written state: every row decodes (the listing above read them all), every
            // session has its current token, every token its session.
            let db = ctx.db(&url).await;
            let count = |sql: &'static str| {
                let db = db.clone();
                async move {
                    sqlx::query_scalar::<_, i64>(sql)
                        .fetch_one(&db)
                        .await
                        .unwrap()
                }
            };
            assert_eq!(
                count("SELECT COUNT(*) FROM users").await,
                users.len() as i64
            );
            let tokenless = "SELECT COUNT(*) FROM sessions s WHERE NOT EXISTS \
             (SELECT 1 FROM session_tokens t WHERE t.session_id = s.id AND t.valid_until IS NULL)";
            assert_eq!(
                count(tokenless).await,
                0,
                "a session without a current token"
            );
            let orphans = "SELECT COUNT(*) FROM session_tokens t \
                       WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = t.session_id)";
            assert_eq!(count(orphans).await, 0);
            assert!(count("SELECT COUNT(*) FROM sessions").await > l.tokens.len() as i64);
            db.close().await;
            eprintln!(
            "kill -9: {} users, {} account keys, {} logins acknowledged ({} by A before the kill)",
            l.users.len(),
            l.keys.len(),
            l.tokens.len(),
            l.acked_on_a
        );
        },
    )
    .await;
}
