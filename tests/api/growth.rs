//! Disk growth under hostile clients: a refresh flood, oversized bulk deletes and their audit
//! events must leave the database about as big as they found it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ece_server::store::AuditFilter;
use serde_json::json;

use crate::helpers::{spawn_app, Auth, TestApp, ADMIN_PASSWORD};

/// How long the refresh flood lasts, and how many clients take part.
const FLOOD: Duration = Duration::from_secs(10);
const CLIENTS: usize = 8;
/// The growth a 10 s flood may cause (it used to be ~30 MB on SQLite).
const MAX_GROWTH: u64 = 1024 * 1024;

/// The SQLite database with its write-ahead log, in bytes (`None` on PostgreSQL).
fn sqlite_bytes(app: &TestApp) -> Option<u64> {
    let db = app.db_url.strip_prefix("sqlite://")?;
    let size = |p: String| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    Some(size(db.to_string()) + size(format!("{db}-wal")))
}

#[tokio::test]
async fn a_refresh_flood_grows_the_database_by_under_a_megabyte() {
    let app = spawn_app().await;
    let first = app.login("admin", ADMIN_PASSWORD).await;
    let before = sqlite_bytes(&app);
    let current = Arc::new(Mutex::new(first.clone()));
    let deadline = Instant::now() + FLOOD;
    let clients = (0..CLIENTS).map(|i| {
        let (app, first, current) = (&app, first.clone(), current.clone());
        async move {
            let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
            while Instant::now() < deadline {
                // Half the clients replay the login token (replaced after the first refresh but
                // inside its grace period), half follow the chain with the newest token.
                let token = if i % 2 == 0 {
                    first.clone()
                } else {
                    current.lock().unwrap().clone()
                };
                let reply = app
                    .post("/users/auth/_refresh", &Auth::Bearer(token), json!({}))
                    .await;
                match reply.status {
                    200 => *current.lock().unwrap() = reply.body["token"].as_str().unwrap().into(),
                    429 => {
                        let wait = reply.headers.get("retry-after").expect("Retry-After");
                        assert!(wait.to_str().unwrap().parse::<u64>().unwrap() >= 1);
                        assert_eq!(reply.body["errors"][0]["code"], "root.too_many_requests");
                    }
                    _ => {}
                }
                *statuses.entry(reply.status).or_default() += 1;
            }
            statuses
        }
    });
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for counts in futures::future::join_all(clients).await {
        for (status, n) in counts {
            *statuses.entry(status).or_default() += n;
        }
    }
    assert!(
        statuses.keys().all(|s| [200, 401, 429].contains(s)),
        "{statuses:?}"
    );
    // At most the per-session budget (10 a minute by default) was minted and audited.
    let refreshes = app
        .store
        .list_audit(&AuditFilter {
            event: Some("refresh".into()),
            ..AuditFilter::default()
        })
        .await
        .unwrap()
        .len();
    assert!(
        refreshes <= 10,
        "{refreshes} refreshes, replies {statuses:?}"
    );
    assert!(statuses.contains_key(&429), "{statuses:?}");
    if let (Some(before), Some(after)) = (before, sqlite_bytes(&app)) {
        let grown = after.saturating_sub(before);
        eprintln!(
            "refresh flood: {statuses:?}, {refreshes} refreshes, database grew {grown} bytes"
        );
        assert!(
            grown < MAX_GROWTH,
            "grew by {grown} bytes; replies {statuses:?}"
        );
    }
    // The newest token still works and the flood left the server serving.
    let newest = current.lock().unwrap().clone();
    app.get("/users/auth", &Auth::Bearer(newest))
        .await
        .expect(200);
}

#[tokio::test]
async fn bulk_key_deletes_are_capped_and_audited_in_bounded_size() {
    let app = spawn_app().await;
    let auth = app.create_user("bulk", &["ece_platform_viewer"]).await;
    // 90,000 short ids (~670 KB, under the body limit): refused before anything is written.
    let ids: Vec<String> = (0..90_000).map(|i| format!("k{i}")).collect();
    app.delete("/users/auth/keys", &auth, Some(json!({ "keys": ids })))
        .await
        .expect_error(400, "api_keys.invalid_input");
    let entries: Vec<_> = (0..1001)
        .map(|i| json!({"user_id": "bulk", "api_key_id": format!("k{i}")}))
        .collect();
    app.delete(
        "/users/auth/keys/_all",
        &Auth::admin(),
        Some(json!({ "user_api_keys": entries })),
    )
    .await
    .expect_error(400, "api_keys.invalid_input");
    // At the cap the delete runs, and its audit event lists a bounded number of the ids.
    let (id, _) = app.create_key(&auth, None).await;
    let mut ids: Vec<String> = (0..999).map(|i| format!("k{i}")).collect();
    ids.push(id.clone());
    app.delete("/users/auth/keys", &auth, Some(json!({ "keys": ids })))
        .await
        .expect(200);
    app.get(&format!("/users/auth/keys/{id}"), &auth)
        .await
        .expect_error(404, "api_keys.key_not_found");
    let events = app
        .store
        .list_audit(&AuditFilter {
            event: Some("api_key.delete".into()),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let [event] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(event.detail["deleted"], 1);
    assert!(
        event.detail.to_string().len() < 8 * 1024,
        "{}",
        event.detail
    );
    let listed = event.detail["key_ids"].as_array().unwrap();
    assert!(listed.len() <= 21, "{} ids listed", listed.len());
}
