//! Acknowledged writes survive `kill -9` of the real server binary.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::helpers::{fresh_database, ADMIN_PASSWORD};

struct Server {
    child: Child,
    base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(data_dir: &std::path::Path, db_url: &str) -> Server {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ece-server"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir)
        .args(["--database-url", db_url])
        .env("ECE_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("server binary starts");
    let base = format!("http://127.0.0.1:{port}/api/v1");
    for _ in 0..200 {
        if reqwest::get(format!("{base}/users/auth/methods"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return Server { child, base };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not start on port {port}");
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = fresh_database(&dir).await;
    let mut server = start(dir.path(), &db_url).await;
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{}/users/auth/_login", server.base))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let token = login.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let patched = client
        .patch(format!("{}/account", server.base))
        .bearer_auth(&token)
        .json(&json!({"trust": {"trust_all": false, "marker": "before-kill"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let created = client
        .post(format!("{}/users", server.base))
        .bearer_auth(&token)
        .json(&json!({"user_name": "durable", "security": {"password": "durable-password", "roles": []}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);

    // SIGKILL: no shutdown hook runs, nothing is flushed on the way out.
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let mut server = start(dir.path(), &db_url).await;
    let account = client
        .get(format!("{}/account", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(account.status(), 200, "the session survived");
    let account: serde_json::Value = account.json().await.unwrap();
    assert_eq!(
        account["trust"],
        json!({"trust_all": false, "marker": "before-kill"})
    );
    let user = client
        .get(format!("{}/users/durable", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(user.status(), 200);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}
