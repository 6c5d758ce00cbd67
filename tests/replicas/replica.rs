//! One `ece-server serve` process of the replica tests ([`Replica`]): started from the binary Cargo
//! built for this run on a free loopback port (restarted on another if that port was taken
//! meanwhile), its own data directory and log, requests to it as a given [`Auth`], `kill -9`; and
//! [`eventually`], which polls a replica until a change made on another one shows.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use super::*;

/// One `ece-server serve` process.
pub(crate) struct Replica {
    pub(crate) label: String,
    child: Child,
    pub(crate) base: String,
    pub(crate) data_dir: PathBuf,
    log: PathBuf,
    pub(crate) http: reqwest::Client,
    spawn_args: (PathBuf, String, Vec<String>),
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Replica {
    pub(crate) fn spawn(
        http: &reqwest::Client,
        dir: &Path,
        label: &str,
        db_url: &str,
        extra: &[&str],
    ) -> Replica {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let data_dir = dir.join(label);
        let log = dir.join(format!("{label}.log"));
        let (child, base) = spawn_server(&data_dir, &log, db_url, &extra);
        Replica {
            label: label.into(),
            child,
            base,
            data_dir,
            log,
            http: http.clone(),
            spawn_args: (dir.to_path_buf(), db_url.into(), extra),
        }
    }

    /// Waits (bounded) until the server answers; restarts it on another port if the one picked
    /// was taken meanwhile.
    pub(crate) async fn wait_ready(&mut self) {
        for _attempt in 0..3 {
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                let probe = self
                    .http
                    .get(format!("{}/users/auth/methods", self.base))
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await;
                if probe.is_ok_and(|r| r.status() == 200) {
                    return;
                }
                if let Ok(Some(status)) = self.child.try_wait() {
                    let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                    if log.contains("in use") {
                        break; // port race: try another one
                    }
                    panic!(
                        "replica {} exited ({status}) during start:\n{log}",
                        self.label
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if self.child.try_wait().ok().flatten().is_none() {
                panic!("replica {} did not start within 30 s", self.label);
            }
            let (_, db_url, extra) = &self.spawn_args;
            let (child, base) = spawn_server(&self.data_dir, &self.log, db_url, extra);
            self.child = child;
            self.base = base;
        }
        panic!("replica {} could not find a free port", self.label);
    }

    /// SIGKILL: no shutdown hook runs.
    pub(crate) fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    async fn try_send(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
    ) -> reqwest::Result<Reply> {
        self.try_send_url(method, format!("{}{path}", self.base), auth, body)
            .await
    }

    /// `GET` of a path outside `/api/v1` (`/healthz`, `/readyz`).
    pub(crate) async fn get_outside_api(&self, path: &str) -> Reply {
        let root = self.base.trim_end_matches("/api/v1");
        let url = format!("{root}{path}");
        let reply = self.try_send_url(Method::GET, url, &Auth::None, None).await;
        reply.unwrap_or_else(|e| panic!("GET {}{path}: {e}", self.label))
    }

    async fn try_send_url(
        &self,
        method: Method,
        url: String,
        auth: &Auth,
        body: Option<Value>,
    ) -> reqwest::Result<Reply> {
        let mut req = self.http.request(method, url);
        req = match auth {
            Auth::None => req,
            Auth::Basic(u, p) => req.basic_auth(u, Some(p)),
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::ApiKey(k) => req.header("authorization", format!("ApiKey {k}")),
        };
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().await?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
    ) -> Reply {
        let what = format!("{method} {}{path}", self.label);
        self.try_send(method, path, auth, body)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }
    pub(crate) async fn get(&self, path: &str, auth: &Auth) -> Reply {
        self.send(Method::GET, path, auth, None).await
    }
    pub(crate) async fn post(&self, path: &str, auth: &Auth, body: Value) -> Reply {
        self.send(Method::POST, path, auth, Some(body)).await
    }
    pub(crate) async fn patch(&self, path: &str, auth: &Auth, body: Value) -> Reply {
        self.send(Method::PATCH, path, auth, Some(body)).await
    }
    pub(crate) async fn delete(&self, path: &str, auth: &Auth, body: Option<Value>) -> Reply {
        self.send(Method::DELETE, path, auth, body).await
    }

    pub(crate) async fn login(&self, user: &str, password: &str) -> String {
        let body = json!({"username": user, "password": password});
        let reply = self.post("/users/auth/_login", &Auth::None, body).await;
        reply.expect(200)["token"].as_str().unwrap().to_string()
    }

    /// Creates a user with a password and roles (as admin); returns its Basic credentials.
    pub(crate) async fn create_user(&self, name: &str, roles: &[&str]) -> Auth {
        let password = format!("{name}-password");
        let body = json!({"user_name": name, "security": {"password": password, "roles": roles}});
        self.post("/users", &admin(), body).await.expect(200);
        Auth::Basic(name.into(), password)
    }

    /// Creates an API key as `auth`'s user; returns (id, secret).
    pub(crate) async fn create_key(&self, auth: &Auth) -> (String, String) {
        let body = json!({"description": "replica test", "expiration": "1d"});
        let key = self.post("/users/auth/keys", auth, body).await.expect(201);
        (
            key["id"].as_str().unwrap().into(),
            key["key"].as_str().unwrap().into(),
        )
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Starts `ece-server serve` on a free loopback port; returns the process and its API base URL.
fn spawn_server(data_dir: &Path, log: &Path, db_url: &str, extra: &[String]) -> (Child, String) {
    let port = free_port();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir)
        .args(["--database-url", db_url])
        .args(extra)
        // Small pools: three replicas and the other test suites share one PostgreSQL. (An
        // environment variable, so that `extra` may still set the flag.)
        .env("ECE_DB_MAX_CONNECTIONS", "6")
        .env("ECE_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env_remove("ECE_READONLY_PASSWORD")
        .env_remove("ECE_DATABASE_URL")
        .env_remove("ECE_LISTEN")
        .env("ECE_LOG", "info")
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .spawn()
        .expect("server binary starts");
    (child, format!("http://127.0.0.1:{port}/api/v1"))
}

/// Polls `GET path` on `r` until it answers `status`, for at most `within`; returns the reply.
pub(crate) async fn eventually(
    r: &Replica,
    path: &str,
    auth: &Auth,
    status: u16,
    within: Duration,
) -> Reply {
    let started = Instant::now();
    loop {
        let reply = r.get(path, auth).await;
        if reply.status == status {
            return reply;
        }
        if started.elapsed() > within {
            panic!(
                "{}: GET {path} still answers {} after {within:?} (wanted {status}); body {}",
                r.label, reply.status, reply.body
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) fn digest(token: &str) -> Vec<u8> {
    ece_server::security::crypto::digest(token).to_vec()
}
