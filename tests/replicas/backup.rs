//! `ece-server backup` (SQLite; needs no PostgreSQL): a live store is copied while it is written
//! to, a server started on the copy has the data and the sessions, an existing target is refused;
//! a PostgreSQL store is refused with a pointer to `pg_dump`, its password never echoed.

use std::process::Command;

use serde_json::json;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_copies_a_live_sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let http = http_client();
    let live_url = format!(
        "sqlite://{}",
        dir.path().join("live").join("ece.db").display()
    );
    std::fs::create_dir_all(dir.path().join("live")).unwrap();
    let mut live = Replica::spawn(&http, dir.path(), "live", &live_url, &[]);
    live.wait_ready().await;
    let token = Auth::Bearer(live.login("admin", ADMIN_PASSWORD).await);
    live.create_user("backed-up", &[VIEWER]).await;
    live.patch(
        "/account",
        &token,
        json!({"trust": {"marker": "in-backup"}}),
    )
    .await
    .expect(200);

    // While the server runs (and keeps writing), back up its data directory.
    let copy = dir.path().join("copy.db");
    let writer = {
        let (base, token) = (live.base.clone(), token.clone());
        let http = http.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                let Auth::Bearer(t) = &token else {
                    unreachable!()
                };
                let body = json!({"trust": {"during": i}});
                let res = http
                    .patch(format!("{base}/account"))
                    .bearer_auth(t)
                    .json(&body);
                assert_eq!(res.send().await.unwrap().status(), 200);
            }
        })
    };
    let out = tokio::task::spawn_blocking({
        let (copy, data_dir) = (copy.clone(), dir.path().join("live"));
        move || {
            Command::new(BIN)
                .args(["backup", "--to"])
                .arg(&copy)
                .arg("--data-dir")
                .arg(&data_dir)
                .env_remove("ECE_DATABASE_URL")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    writer.await.unwrap();
    assert!(
        out.status.success(),
        "backup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("backup written to"));
    live.get("/account", &token).await.expect(200); // still serving

    // A server started on the copy has the data, and the session.
    let copy_url = format!("sqlite://{}", copy.display());
    let mut restored = Replica::spawn(&http, dir.path(), "restored", &copy_url, &[]);
    restored.wait_ready().await;
    let user = restored.get("/users/backed-up", &admin()).await.expect(200);
    assert_eq!(user["security"]["roles"], json!([VIEWER]));
    let account = restored.get("/account", &token).await.expect(200);
    assert_eq!(account["trust"]["marker"], json!("in-backup"));
    restored
        .get(
            "/user",
            &Auth::Basic("backed-up".into(), "backed-up-password".into()),
        )
        .await
        .expect(200);

    // Backing up to an existing file is refused, and the file left alone.
    let again = Command::new(BIN)
        .args(["backup", "--to"])
        .arg(&copy)
        .arg("--data-dir")
        .arg(dir.path().join("live"))
        .env_remove("ECE_DATABASE_URL")
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn backup_refuses_postgres_and_points_to_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["backup", "--to"])
        .arg(dir.path().join("x.db"))
        // Never contacted: the command refuses before connecting.
        .args(["--database-url", "postgres://ece:s3cret@127.0.0.1:1/ece"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pg_dump"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "the password leaked: {stderr}");
    assert!(!dir.path().join("x.db").exists());
}
