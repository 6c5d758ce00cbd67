//! The offline recovery commands run against the test's database: `ece-server user
//! reset-password` (from stdin, or generated and printed), `ece-server user end-sessions`,
//! `ece-server audit` (filtered JSON lines), and their refusal of a missing database.

use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use super::{audit, find, login_status};
use crate::helpers::{spawn_app, Auth, TestApp, ADMIN_PASSWORD};

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
