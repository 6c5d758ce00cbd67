//! Secrets at rest and in logs: the real binary, logging at debug level to a file, goes through a
//! scenario with known passwords, bearer tokens and API keys; then the database files (`ece.db`,
//! `-wal`, `-shm`) and the log are scanned for every one of them (and for the base64 form of each
//! Basic `Authorization` header sent). Expected hits: none.
//!
//! The scenario includes an LDAP realm whose bind and truststore passwords are sealed at rest.
//!
//! Also: generated bootstrap passwords go to `bootstrap-secrets.json` with mode 0600, and appear
//! neither in the database nor in the log (only once on stdout, on purpose).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

const ADMIN_PASSWORD: &str = "Scan-Admin-Pw-7f3a91";
const READONLY_PASSWORD: &str = "Scan-Readonly-Pw-2b8c44";

struct Server {
    child: Child,
    base: String,
}

impl Server {
    /// Starts `ece-server serve` on a free port with its stdout and stderr in `stdout`/`stderr`.
    async fn start(data_dir: &Path, env: &[(&str, &str)], stdout: &Path, stderr: &Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ece-server"));
        cmd.args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir)
        .env("ECE_LOG", "debug")
        .env_remove("ECE_DATABASE_URL")
        .env_remove("ECE_ADMIN_PASSWORD")
        .env_remove("ECE_READONLY_PASSWORD")
        .stdout(Stdio::from(std::fs::File::create(stdout).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(stderr).unwrap()));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("server binary starts");
        let base = format!("http://127.0.0.1:{port}/api/v1");
        for _ in 0..400 {
            let up = reqwest::get(format!("{base}/users/auth/methods")).await;
            if up.is_ok_and(|r| r.status() == 200) {
                return Server { child, base };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("server did not start; log in {}", stderr.display());
    }

    /// SIGTERM, then waits for the graceful shutdown (SIGKILL after 20 s).
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..200 {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client call: returns status and JSON body.
async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    auth: Option<String>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client.request(method, url);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status().as_u16();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// The files a scan covers: the database with its WAL and shared-memory files, and the logs.
fn files_to_scan(dir: &Path, logs: &[&Path]) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["ece.db", "ece.db-wal", "ece.db-shm"]
        .iter()
        .map(|f| dir.join(f))
        .filter(|p| p.exists())
        .collect();
    assert!(
        files.iter().any(|p| p.ends_with("ece.db")),
        "no database file"
    );
    files.extend(logs.iter().map(|p| p.to_path_buf()));
    files
}

/// Every (file, secret label) pair where the secret's bytes occur.
fn scan(files: &[PathBuf], secrets: &[(String, String)]) -> Vec<String> {
    let mut hits = Vec::new();
    for file in files {
        let bytes = std::fs::read(file).unwrap();
        for (label, secret) in secrets {
            let needle = secret.as_bytes();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                hits.push(format!("{label} in {}", file.display()));
            }
        }
    }
    hits
}

#[tokio::test]
async fn no_secret_reaches_the_database_files_or_the_debug_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let out = dir.path().join("server.out");
    let env = [
        ("ECE_ADMIN_PASSWORD", ADMIN_PASSWORD),
        ("ECE_READONLY_PASSWORD", READONLY_PASSWORD),
        // Small thresholds so that the failures below also exercise throttling.
        ("ECE_BRUTE_FORCE_MAX_FAILURES", "3"),
    ];
    let server = Server::start(&data, &env, &out, &log).await;
    let (c, base) = (reqwest::Client::new(), server.base.clone());
    let url = |p: &str| format!("{base}{p}");
    use reqwest::Method as M;

    let mut secrets: Vec<(String, String)> = vec![
        ("admin password".into(), ADMIN_PASSWORD.into()),
        ("readonly password".into(), READONLY_PASSWORD.into()),
    ];
    let mut secret = |label: &str, value: &str| secrets.push((label.into(), value.into()));

    // Login, refresh.
    let login = |user: &str, password: &str| json!({"username": user, "password": password});
    let (s, body) = call(
        &c,
        M::POST,
        url("/users/auth/_login"),
        None,
        Some(login("admin", ADMIN_PASSWORD)),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let t1 = body["token"].as_str().unwrap().to_string();
    secret("login token", &t1);
    let (s, body) = call(
        &c,
        M::POST,
        url("/users/auth/_refresh"),
        Some(format!("Bearer {t1}")),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let t2 = body["token"].as_str().unwrap().to_string();
    secret("refreshed token", &t2);
    let admin = Some(format!("Bearer {t2}"));

    // Create a user; Basic authentication as them; change their password (self-service).
    let (p1, p2) = ("Scan-User-First-Pw-91d2", "Scan-User-Second-Pw-55e0");
    secret("user password 1", p1);
    secret("user password 2", p2);
    let new_user = json!({"user_name": "scanner", "security": {"password": p1, "roles": ["ece_platform_viewer"]}});
    let (s, body) = call(&c, M::POST, url("/users"), admin.clone(), Some(new_user)).await;
    assert_eq!(s, 200, "{body}");
    let (s, _) = call(&c, M::GET, url("/user"), Some(basic("scanner", p1)), None).await;
    assert_eq!(s, 200);
    secret(
        "Basic header (user password 1)",
        &STANDARD.encode(format!("scanner:{p1}")),
    );
    let change = json!({"security": {"password": p2}});
    let (s, body) = call(
        &c,
        M::PATCH,
        url("/user"),
        Some(basic("scanner", p1)),
        Some(change),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    // An admin sets it again.
    let p3 = "Scan-User-Third-Pw-c4a7";
    secret("user password 3", p3);
    let set = json!({"security": {"password": p3}});
    let (s, body) = call(
        &c,
        M::PATCH,
        url("/users/scanner"),
        admin.clone(),
        Some(set),
    )
    .await;
    assert_eq!(s, 200, "{body}");

    // Login as the user, create an API key, use it, delete it.
    let (s, body) = call(
        &c,
        M::POST,
        url("/users/auth/_login"),
        None,
        Some(login("scanner", p3)),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let t3 = body["token"].as_str().unwrap().to_string();
    secret("user token", &t3);
    let user = Some(format!("Bearer {t3}"));
    let (s, body) = call(
        &c,
        M::POST,
        url("/users/auth/keys"),
        user.clone(),
        Some(json!({"description": "scan key"})),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let (key_id, key) = (
        body["id"].as_str().unwrap().to_string(),
        body["key"].as_str().unwrap().to_string(),
    );
    secret("API key", &key);
    let (s, _) = call(
        &c,
        M::GET,
        url("/user"),
        Some(format!("ApiKey {key}")),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = call(
        &c,
        M::DELETE,
        url(&format!("/users/auth/keys/{key_id}")),
        user.clone(),
        None,
    )
    .await;
    assert_eq!(s, 200);

    // Failed logins, Basic failures, throttling; a login_state redirect carrying a token.
    let wrong = [
        "Scan-Wrong-Pw-0001",
        "Scan-Wrong-Pw-0002",
        "Scan-Wrong-Pw-0003",
        "Scan-Wrong-Pw-0004",
    ];
    for (i, w) in wrong.iter().enumerate() {
        secret(&format!("wrong password {i}"), w);
        let (s, _) = call(
            &c,
            M::POST,
            url("/users/auth/_login"),
            None,
            Some(login("admin", w)),
        )
        .await;
        assert!(s == 401 || s == 429, "{s}");
        let (s, _) = call(
            &c,
            M::POST,
            url("/users/auth/_login"),
            None,
            Some(login("nobody", w)),
        )
        .await;
        assert!(s == 401 || s == 429, "{s}");
        let (s, _) = call(
            &c,
            M::GET,
            url("/users/auth"),
            Some(basic("readonly", w)),
            None,
        )
        .await;
        assert!(s == 401 || s == 429, "{s}");
        secret(
            &format!("Basic header (wrong password {i})"),
            &STANDARD.encode(format!("readonly:{w}")),
        );
    }
    let redirect =
        json!({"username": "scanner", "password": p3, "login_state": {"path": "/deployments"}});
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = no_redirects
        .post(url("/users/auth/_login"))
        .json(&redirect)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 302);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let t4 = location
        .split('#')
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    secret("redirect token", &t4);

    // A security realm with write-only secrets: created, updated with new ones, read back.
    let realms = "/platform/configuration/security/realms/ldap";
    let mut realm = json!({
        "id": "scan", "name": "Scan", "urls": ["ldaps://ldap.example.com"],
        "bind_anonymously": false, "bind_type": "user_search",
        "user_search": {"base_dn": "ou=people,dc=example,dc=com"},
        "bind_dn": "cn=svc,dc=example,dc=com", "bind_password": "Scan-Bind-Pw-5e1d07",
        "certificate_url": "https://certs.example.com/ca.zip",
        "certificate_url_truststore_password": "Scan-Truststore-Pw-c3a9"
    });
    secret("realm bind password", "Scan-Bind-Pw-5e1d07");
    secret("realm truststore password", "Scan-Truststore-Pw-c3a9");
    let (s, _) = call(&c, M::POST, url(realms), admin.clone(), Some(realm.clone())).await;
    assert_eq!(s, 201);
    realm["bind_password"] = json!("Scan-Bind-Pw-2-8b44f1");
    secret("second realm bind password", "Scan-Bind-Pw-2-8b44f1");
    let (s, _) = call(
        &c,
        M::PUT,
        url(&format!("{realms}/scan")),
        admin.clone(),
        Some(realm),
    )
    .await;
    assert_eq!(s, 200);
    let (s, got) = call(
        &c,
        M::GET,
        url(&format!("{realms}/scan")),
        admin.clone(),
        None,
    )
    .await;
    assert_eq!((s, got.get("bind_password")), (200, None));

    // Logout.
    let (s, _) = call(
        &c,
        M::POST,
        url("/users/auth/_logout"),
        user.clone(),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = call(
        &c,
        M::POST,
        url("/users/auth/_logout"),
        admin.clone(),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200);
    server.stop();

    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.contains("DEBUG"), "the log was not at debug level");
    assert!(
        log_text.contains("request finished") || log_text.contains("login"),
        "the log is too thin to prove anything"
    );
    let files = files_to_scan(&data, &[&log, &out]);
    // Control: the scan does find what is there (a user name, in the database and the log).
    let control = scan(&files, &[("control".into(), "scanner".into())]);
    assert!(control.iter().any(|h| h.contains("ece.db")), "{control:?}");
    assert!(
        control.iter().any(|h| h.contains("server.log")),
        "{control:?}"
    );
    let hits = scan(&files, &secrets);
    assert!(
        hits.is_empty(),
        "secrets found at rest or in logs: {hits:#?}"
    );
}

#[tokio::test]
async fn generated_bootstrap_passwords_are_kept_in_a_0600_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (out, log) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let server = Server::start(&data, &[], &out, &log).await;
    let secrets_file = data.join("bootstrap-secrets.json");
    let generated: Value = serde_json::from_slice(&std::fs::read(&secrets_file).unwrap()).unwrap();
    let admin = generated["admin_password"]
        .as_str()
        .expect("admin password")
        .to_string();
    let readonly = generated["readonly_password"]
        .as_str()
        .expect("readonly password")
        .to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secrets_file)
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "bootstrap-secrets.json is {mode:o}");
    }
    // The generated password works.
    let res = reqwest::Client::new()
        .post(format!("{}/users/auth/_login", server.base))
        .json(&json!({"username": "admin", "password": admin}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    server.stop();
    // Printed once on stdout, on purpose; never in the log nor the database.
    let printed = std::fs::read_to_string(&out).unwrap();
    assert!(printed.contains(&admin) && printed.contains(&readonly));
    let secrets = vec![
        ("admin".to_string(), admin),
        ("readonly".to_string(), readonly),
    ];
    let hits = scan(&files_to_scan(&data, &[&log]), &secrets);
    assert!(hits.is_empty(), "generated passwords found: {hits:#?}");
}
