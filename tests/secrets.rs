//! Secrets at rest and in logs: the real binary, logging at debug level to a file, goes through a
//! scenario with known passwords, bearer tokens and API keys; then the database files (`ece.db`,
//! `-wal`, `-shm`) and the log are scanned for every one of them (and for the base64 form of each
//! Basic `Authorization` header sent). Expected hits: none.
//!
//! The scenario includes an LDAP realm whose bind and truststore passwords are sealed at rest.
//!
//! Also: generated bootstrap passwords go to `bootstrap-secrets.json` with mode 0600, and appear
//! neither in the database nor in the log (only once on stdout, on purpose).
//!
//! - `secrets/scenario.rs`: the scenario and the scan of the database files and the debug log;
//! - `secrets/bootstrap.rs`: the generated bootstrap passwords and their 0600 file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

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

#[path = "secrets/bootstrap.rs"]
mod bootstrap;
#[path = "secrets/scenario.rs"]
mod scenario;
