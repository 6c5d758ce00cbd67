//! Many stateless replicas on one PostgreSQL database behave as one server.
//!
//! Every test here starts real `ece-server` processes (the binary Cargo built for this test run)
//! on loopback ports, each with its own data directory, against one fresh PostgreSQL schema
//! (`?options=-c search_path=<schema>` appended to `ECE_TEST_DATABASE_URL`), and talks to them
//! over HTTP; the database is also read directly to check invariants the API cannot show.
//!
//! - bootstrap: three replicas starting at once on an empty schema create one account, one of
//!   each built-in user, and apply the migrations once;
//! - revocations (logout, API key deletion, disabling, password change, role removal) done on one
//!   replica are enforced by the others within one second (issue 4; the per-replica cache,
//!   `src/security/cache.rs`, reuses token, key and Basic user lookups and the account for at most
//!   250 ms);
//! - concurrent writes spread over the replicas: one winner for a user name, no lost account
//!   update, one current token per session after concurrent refreshes;
//! - `kill -9` of a replica under load loses no acknowledged write and leaves no half-written row;
//! - losing the database (a TCP proxy between a replica and PostgreSQL is cut in three ways)
//!   gives 503 `root.store_unavailable` within the acquire timeout, never a hang or a 500, and the
//!   replica recovers by itself;
//! - `ece-server backup` copies a live SQLite store (no PostgreSQL needed);
//! - security realms (`replicas/realms.rs`): a realm set up on one replica signs directory users
//!   in on another, and disabling it ends their access on every replica.
//!
//! Without `ECE_TEST_DATABASE_URL` the PostgreSQL tests pass after a loud SKIPPED banner and a
//! `SKIPPED <test>` line on stderr; with `CI=true` they fail instead. They run one at a time (each starts several servers on a small machine).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex as StdMutex, Once};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const PG_ENV: &str = "ECE_TEST_DATABASE_URL";
const ADMIN_PASSWORD: &str = "replica-admin-password";
const VIEWER: &str = "ece_platform_viewer";
const BIN: &str = env!("CARGO_BIN_EXE_ece-server");
/// Upper bound for one whole test, replicas' start-up included.
const TEST_LIMIT: Duration = Duration::from_secs(240);
/// How soon a revocation done on one replica must be enforced by the others.
const PROPAGATION: Duration = Duration::from_secs(1);

/// The PostgreSQL tests run one after the other: each starts up to three servers.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// ---------------------------------------------------------------------------------------------
// Harness: PostgreSQL schemas, server processes, HTTP
// ---------------------------------------------------------------------------------------------

/// The database URL, or `None` after saying loudly that the test is skipped.
fn pg_base(test: &str) -> Option<String> {
    match std::env::var(PG_ENV) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            // In CI a skipped PostgreSQL test is a failure: it would hide that nothing ran.
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: {PG_ENV} is not set and CI=true: the PostgreSQL tests must run in CI"
            );
            static BANNER: Once = Once::new();
            // Straight to stderr, not `eprintln!`, so it shows even when output is captured.
            BANNER.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "\n!!!!!!!!!! replica tests SKIPPED: {PG_ENV} is not set. !!!!!!!!!!\n\
                     !!!!!!!!!! Set it (e.g. postgres://postgres@127.0.0.1:5432/test) to run them. !!!!!!!!!!"
                );
            });
            eprintln!("SKIPPED {test}: {PG_ENV} is not set");
            None
        }
    }
}

/// What a PostgreSQL test gets.
struct Ctx {
    base: String,
    /// Data directories and server logs.
    dir: PathBuf,
    schemas: Arc<StdMutex<Vec<String>>>,
    http: reqwest::Client,
}

/// Runs `body` against PostgreSQL: serialised, bounded in time, schemas dropped afterwards, the
/// servers' logs printed when it fails.
async fn pg_test<F, Fut>(name: &str, body: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(base) = pg_base(name) else { return };
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let schemas = Arc::new(StdMutex::new(Vec::new()));
    let ctx = Ctx {
        base: base.clone(),
        dir: dir.path().to_path_buf(),
        schemas: schemas.clone(),
        http: http_client(),
    };
    // A task, so that a panic or the time limit still lets us clean up; the servers it started
    // are killed when it ends (their `Drop`), whatever the outcome.
    let mut task = tokio::spawn(body(ctx));
    let outcome: Result<(), Box<dyn std::any::Any + Send>> =
        match tokio::time::timeout(TEST_LIMIT, &mut task).await {
            Ok(joined) => joined.map_err(|e| {
                if e.is_panic() {
                    e.into_panic()
                } else {
                    Box::new(format!("{e}"))
                }
            }),
            Err(_) => {
                task.abort();
                let _ = task.await;
                Err(Box::new(format!("{name} took longer than {TEST_LIMIT:?}")))
            }
        };
    let names = schemas.lock().unwrap().clone();
    if !names.is_empty() {
        if let Ok(mut conn) = PgConnection::connect(&base).await {
            let _ = conn.execute("SET statement_timeout = 20000").await;
            for s in names {
                let _ = conn.execute(&*format!("DROP SCHEMA {s} CASCADE")).await;
            }
        }
    }
    if let Err(panic) = outcome {
        dump_logs(dir.path());
        std::panic::resume_unwind(panic);
    }
}

/// Prints the end of every server log of a failed test.
fn dump_logs(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "log") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            eprintln!("---- {} (last 40 lines) ----\n{tail}", path.display());
        }
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn with_search_path(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

impl Ctx {
    /// A new, empty schema; returns the URL that puts everything in it.
    async fn fresh_schema(&self) -> String {
        let schema = format!("rep_{:012x}", rand::random::<u64>() >> 16);
        let mut conn = PgConnection::connect(&self.base)
            .await
            .unwrap_or_else(|e| panic!("{PG_ENV} is set but PostgreSQL is unreachable: {e}"));
        conn.execute(&*format!("CREATE SCHEMA {schema}"))
            .await
            .expect("create schema");
        conn.close().await.ok();
        self.schemas.lock().unwrap().push(schema.clone());
        with_search_path(&self.base, &schema)
    }

    /// A small pool on the schema `url` names, to look at the rows directly.
    async fn db(&self, url: &str) -> PgPool {
        PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .expect("test pool connects")
    }

    /// Starts one replica on `db_url` and waits until it serves.
    async fn start(&self, label: &str, db_url: &str, extra: &[&str]) -> Replica {
        let mut r = Replica::spawn(&self.http, &self.dir, label, db_url, extra);
        r.wait_ready().await;
        r
    }

    /// Starts `n` replicas at the same moment, then waits until each serves.
    async fn start_many(&self, label: &str, n: usize, db_url: &str) -> Vec<Replica> {
        let mut all: Vec<Replica> = (0..n)
            .map(|i| Replica::spawn(&self.http, &self.dir, &format!("{label}-{i}"), db_url, &[]))
            .collect();
        for r in &mut all {
            r.wait_ready().await;
        }
        all
    }
}

/// Credentials for a request.
#[derive(Clone, Debug)]
enum Auth {
    None,
    Basic(String, String),
    Bearer(String),
    ApiKey(String),
}

fn admin() -> Auth {
    Auth::Basic("admin".into(), ADMIN_PASSWORD.into())
}

/// A reply: status, headers and the JSON body (`Null` when empty).
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Reply {
    #[track_caller]
    fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected status; body {}", self.body);
        self.body
    }

    fn code(&self) -> &str {
        self.body["errors"][0]["code"].as_str().unwrap_or("")
    }

    /// Asserts an ECE error envelope with this status and code, and the matching header.
    #[track_caller]
    fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "unexpected status; body {}", self.body);
        assert_eq!(self.code(), code, "unexpected code; body {}", self.body);
        let header = self
            .headers
            .get("x-cloud-error-codes")
            .and_then(|v| v.to_str().ok());
        assert_eq!(
            header,
            Some(code),
            "x-cloud-error-codes; body {}",
            self.body
        );
    }
}

/// One `ece-server serve` process.
struct Replica {
    label: String,
    child: Child,
    base: String,
    data_dir: PathBuf,
    log: PathBuf,
    http: reqwest::Client,
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
    fn spawn(
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
    async fn wait_ready(&mut self) {
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
    fn kill9(&mut self) {
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
    async fn get_outside_api(&self, path: &str) -> Reply {
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

    async fn send(&self, method: Method, path: &str, auth: &Auth, body: Option<Value>) -> Reply {
        let what = format!("{method} {}{path}", self.label);
        self.try_send(method, path, auth, body)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }
    async fn get(&self, path: &str, auth: &Auth) -> Reply {
        self.send(Method::GET, path, auth, None).await
    }
    async fn post(&self, path: &str, auth: &Auth, body: Value) -> Reply {
        self.send(Method::POST, path, auth, Some(body)).await
    }
    async fn patch(&self, path: &str, auth: &Auth, body: Value) -> Reply {
        self.send(Method::PATCH, path, auth, Some(body)).await
    }
    async fn delete(&self, path: &str, auth: &Auth, body: Option<Value>) -> Reply {
        self.send(Method::DELETE, path, auth, body).await
    }

    async fn login(&self, user: &str, password: &str) -> String {
        let body = json!({"username": user, "password": password});
        let reply = self.post("/users/auth/_login", &Auth::None, body).await;
        reply.expect(200)["token"].as_str().unwrap().to_string()
    }

    /// Creates a user with a password and roles (as admin); returns its Basic credentials.
    async fn create_user(&self, name: &str, roles: &[&str]) -> Auth {
        let password = format!("{name}-password");
        let body = json!({"user_name": name, "security": {"password": password, "roles": roles}});
        self.post("/users", &admin(), body).await.expect(200);
        Auth::Basic(name.into(), password)
    }

    /// Creates an API key as `auth`'s user; returns (id, secret).
    async fn create_key(&self, auth: &Auth) -> (String, String) {
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
async fn eventually(r: &Replica, path: &str, auth: &Auth, status: u16, within: Duration) -> Reply {
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

fn digest(token: &str) -> Vec<u8> {
    ece_server::security::crypto::digest(token).to_vec()
}

// ---------------------------------------------------------------------------------------------
// Bootstrap
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_race_creates_one_account_and_one_admin() {
    pg_test(
        "bootstrap_race_creates_one_account_and_one_admin",
        |ctx| async move {
            for round in 0..2 {
                let url = ctx.fresh_schema().await;
                let replicas = ctx.start_many(&format!("boot{round}"), 3, &url).await;
                let db = ctx.db(&url).await;
                let one = |sql: &'static str| {
                    let db = db.clone();
                    async move {
                        sqlx::query_scalar::<_, i64>(sql)
                            .fetch_one(&db)
                            .await
                            .unwrap()
                    }
                };
                assert_eq!(one("SELECT COUNT(*) FROM account").await, 1);
                assert_eq!(
                    one("SELECT COUNT(*) FROM users WHERE user_name = 'admin'").await,
                    1
                );
                assert_eq!(
                    one("SELECT COUNT(*) FROM users").await,
                    2,
                    "admin and readonly only"
                );
                let applied = one("SELECT COUNT(*) FROM _sqlx_migrations").await;
                let distinct = one("SELECT COUNT(DISTINCT version) FROM _sqlx_migrations").await;
                assert!(
                    applied >= 1 && applied == distinct,
                    "each migration applied once"
                );

                let id: String = sqlx::query_scalar("SELECT id FROM account")
                    .fetch_one(&db)
                    .await
                    .unwrap();
                for r in &replicas {
                    let account = r.get("/account", &admin()).await.expect(200);
                    assert_eq!(account["id"], json!(id), "{} sees another account", r.label);
                }

                // `readonly`'s password was generated by exactly one replica, the one that created
                // the user, and it works everywhere.
                let secrets: Vec<Value> = replicas
                    .iter()
                    .filter_map(|r| std::fs::read(r.data_dir.join("bootstrap-secrets.json")).ok())
                    .map(|bytes| serde_json::from_slice(&bytes).unwrap())
                    .collect();
                assert_eq!(
                    secrets.len(),
                    1,
                    "one replica created readonly: {secrets:?}"
                );
                let password = secrets[0]["readonly_password"].as_str().unwrap();
                for r in &replicas {
                    let readonly = Auth::Basic("readonly".into(), password.into());
                    r.get("/user", &readonly).await.expect(200);
                }
                db.close().await;
            }
        },
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Revocations are seen by every replica at once
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Concurrent writes spread over the replicas
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_user_creation_across_replicas_has_one_winner() {
    pg_test(
        "concurrent_user_creation_across_replicas_has_one_winner",
        |ctx| async move {
            let url = ctx.fresh_schema().await;
            let rs = Arc::new(ctx.start_many("create", 3, &url).await);
            let token = Auth::Bearer(rs[0].login("admin", ADMIN_PASSWORD).await);
            let tasks: Vec<_> = (0..50)
                .map(|i| {
                    let (rs, token) = (rs.clone(), token.clone());
                    tokio::spawn(async move {
                        let body = json!({
                            "user_name": "same-name",
                            "full_name": format!("attempt {i}"),
                            "security": {"password": format!("password-{i}"), "roles": [VIEWER]},
                        });
                        (i, rs[i % 3].post("/users", &token, body).await)
                    })
                })
                .collect();
            let mut winners = Vec::new();
            for t in futures::future::join_all(tasks).await {
                let (i, reply) = t.unwrap();
                match reply.status {
                    200 => winners.push(i),
                    _ => reply.expect_error(409, "user.user_name.conflict"),
                }
            }
            assert_eq!(
                winners.len(),
                1,
                "exactly one creation succeeds: {winners:?}"
            );

            // The stored user is the winner's, whole.
            let db = ctx.db(&url).await;
            let n: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE user_name = 'same-name'")
                    .fetch_one(&db)
                    .await
                    .unwrap();
            assert_eq!(n, 1);
            let winner = winners[0];
            for r in rs.iter() {
                let user = r.get("/users/same-name", &token).await.expect(200);
                assert_eq!(user["full_name"], json!(format!("attempt {winner}")));
                let creds = Auth::Basic("same-name".into(), format!("password-{winner}"));
                r.get("/user", &creds).await.expect(200);
            }
            db.close().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_account_patches_across_replicas_lose_nothing() {
    pg_test(
        "concurrent_account_patches_across_replicas_lose_nothing",
        |ctx| async move {
            let url = ctx.fresh_schema().await;
            let rs = Arc::new(ctx.start_many("patch", 3, &url).await);
            let token = Auth::Bearer(rs[0].login("admin", ADMIN_PASSWORD).await);
            let tasks: Vec<_> = (0..30)
                .map(|i| {
                    let (rs, token) = (rs.clone(), token.clone());
                    tokio::spawn(async move {
                        let body = json!({"trust": {format!("key_{i}"): i}});
                        rs[i % 3].patch("/account", &token, body).await
                    })
                })
                .collect();
            for t in futures::future::join_all(tasks).await {
                t.unwrap().expect(200);
            }
            for r in rs.iter() {
                let account = r.get("/account", &token).await.expect(200);
                let trust = account["trust"].as_object().unwrap();
                for i in 0..30 {
                    assert_eq!(trust.get(&format!("key_{i}")), Some(&json!(i)), "{account}");
                }
                assert_eq!(trust.get("trust_all"), Some(&json!(true)), "{account}");
            }
        },
    )
    .await;
}

/// Many concurrent writes of one user row through every replica: each replica queues its
/// writers on a row lock, the replicas' compare-and-swaps race within a bounded, jittered retry
/// budget (`src/store/cas.rs`); no write may answer 5xx, and the row ends as one of the writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_of_one_user_across_replicas_never_answer_5xx() {
    pg_test(
        "concurrent_patches_of_one_user_across_replicas_never_answer_5xx",
        |ctx| async move {
            const WRITES: usize = 300;
            let url = ctx.fresh_schema().await;
            let rs = Arc::new(ctx.start_many("contend", 3, &url).await);
            let Auth::Basic(name, password) = rs[0].create_user("contended", &[]).await else {
                unreachable!()
            };
            // Bearer: the writes race on the row, not on Argon2 checks of a Basic password.
            let token = Auth::Bearer(rs[0].login(&name, &password).await);
            let tasks: Vec<_> = (0..WRITES)
                .map(|i| {
                    let (rs, token) = (rs.clone(), token.clone());
                    tokio::spawn(async move {
                        let body = json!({"full_name": format!("Writer {i}")});
                        rs[i % 3].patch("/user", &token, body).await
                    })
                })
                .collect();
            let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
            for t in futures::future::join_all(tasks).await {
                let reply = t.unwrap();
                assert!(
                    reply.status < 500,
                    "a write answered {}: {}",
                    reply.status,
                    reply.body
                );
                *statuses.entry(reply.status).or_default() += 1;
            }
            assert_eq!(statuses, BTreeMap::from([(200, WRITES)]));
            let written: BTreeSet<String> = (0..WRITES).map(|i| format!("Writer {i}")).collect();
            for r in rs.iter() {
                let me = r.get("/user", &token).await.expect(200);
                let stored = me["full_name"].as_str().unwrap_or_default();
                assert!(written.contains(stored), "final full name {stored:?}");
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_across_replicas_leave_one_current_token() {
    pg_test(
        "concurrent_refreshes_across_replicas_leave_one_current_token",
        |ctx| async move {
            let url = ctx.fresh_schema().await;
            let rs = Arc::new(ctx.start_many("refresh", 3, &url).await);
            let token = rs[1].login("admin", ADMIN_PASSWORD).await;
            let tasks: Vec<_> = (0..20)
                .map(|i| {
                    let (rs, bearer) = (rs.clone(), Auth::Bearer(token.clone()));
                    tokio::spawn(async move {
                        rs[i % 3]
                            .post("/users/auth/_refresh", &bearer, json!({}))
                            .await
                    })
                })
                .collect();
            let mut issued = Vec::new();
            for t in futures::future::join_all(tasks).await {
                // Each caller presents the first token: one refresh continues the chain, every
                // other finds it already replaced (usable in its grace, but not refreshable).
                let reply = t.unwrap();
                if reply.status == 200 {
                    issued.push(reply.body["token"].as_str().unwrap().to_string());
                } else {
                    reply.expect_error(401, "root.unauthorized");
                }
            }
            assert_eq!(issued.len(), 1, "one refresh continues the chain");

            let db = ctx.db(&url).await;
            let session: String =
                sqlx::query_scalar("SELECT session_id FROM session_tokens WHERE token_hash = $1")
                    .bind(digest(&token))
                    .fetch_one(&db)
                    .await
                    .unwrap();
            let hashes: Vec<Vec<u8>> = issued.iter().map(|t| digest(t)).collect();
            let owners: Vec<String> = sqlx::query_scalar(
                "SELECT session_id FROM session_tokens WHERE token_hash = ANY($1)",
            )
            .bind(&hashes)
            .fetch_all(&db)
            .await
            .unwrap();
            assert_eq!(owners.len(), 1, "the issued token is stored");
            assert!(owners.iter().all(|s| s == &session), "all in one session");
            let current: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT token_hash FROM session_tokens WHERE session_id = $1 AND valid_until IS NULL",
        )
        .bind(&session)
        .fetch_all(&db)
        .await
        .unwrap();
            assert_eq!(current.len(), 1, "exactly one current token: {current:?}");
            assert!(
                hashes.contains(&current[0]),
                "the current token is one that was handed out"
            );
            let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
                .fetch_one(&db)
                .await
                .unwrap();
            assert_eq!(sessions, 1, "refreshes never start a new session");
            // The new token and the replaced one (in its grace) work on every replica.
            for r in rs.iter() {
                for t in [&issued[0], &token] {
                    r.get("/users/auth", &Auth::Bearer(t.clone()))
                        .await
                        .expect(200);
                }
            }
            db.close().await;
        },
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// kill -9 of a replica under load
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Losing the database
// ---------------------------------------------------------------------------------------------

/// How the proxy treats traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Cut {
    /// Forward to PostgreSQL.
    None = 0,
    /// Close every proxied connection; accept new ones and close them at once (the database
    /// host is up but PostgreSQL is not: a restart, a crash).
    Drop = 1,
    /// Keep connections open but forward nothing, new ones included (a network partition that
    /// swallows packets).
    Blackhole = 2,
    /// Close every proxied connection and stop listening: connections are refused.
    Refuse = 3,
}

/// A TCP proxy on loopback between a replica and PostgreSQL, with a switch.
struct Proxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    mode: Arc<AtomicU8>,
    /// Bumped on every switch: each proxied connection re-reads the mode then.
    generation: Arc<watch::Sender<u64>>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let mut proxy = Proxy {
            addr: listener.local_addr().unwrap(),
            upstream,
            mode: Arc::new(AtomicU8::new(Cut::None as u8)),
            generation: Arc::new(watch::channel(0).0),
            accept: None,
        };
        proxy.accept = Some(proxy.accept_loop(listener));
        proxy
    }

    fn accept_loop(&self, listener: TcpListener) -> JoinHandle<()> {
        let (mode, generation, upstream) =
            (self.mode.clone(), self.generation.clone(), self.upstream);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let switch = generation.subscribe();
                let mode = mode.clone();
                tokio::spawn(proxy_connection(client, upstream, mode, switch));
            }
        })
    }

    /// Switches to `cut`; the connections in place follow the new mode at once.
    async fn set(&mut self, cut: Cut) {
        self.mode.store(cut as u8, Ordering::SeqCst);
        if cut == Cut::Refuse {
            if let Some(accept) = self.accept.take() {
                accept.abort();
                let _ = accept.await; // the listener is closed once the task is gone
            }
        } else if self.accept.is_none() {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.set_reuseaddr(true).unwrap();
            socket.bind(self.addr).expect("proxy port still free");
            self.accept = Some(self.accept_loop(socket.listen(128).unwrap()));
        }
        self.generation.send_modify(|g| *g += 1);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
        // Closes every proxied connection.
        self.mode.store(Cut::Drop as u8, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }
}

async fn proxy_connection(
    mut client: TcpStream,
    upstream: SocketAddr,
    mode: Arc<AtomicU8>,
    mut switch: watch::Receiver<u64>,
) {
    let current = || mode.load(Ordering::SeqCst);
    if current() == Cut::Blackhole as u8 {
        let _ = switch.changed().await; // hold it, silent, until the next switch
        return;
    }
    if current() != Cut::None as u8 {
        return; // dropped: closed at once
    }
    let connect = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(upstream));
    let Ok(Ok(mut server)) = connect.await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = switch.changed() => {
            if current() == Cut::Blackhole as u8 {
                let _ = switch.changed().await;
            }
        }
    }
}

/// `url` with its host and port replaced by `addr`.
fn via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("URL with a scheme");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let userinfo = authority.rfind('@').map_or("", |at| &authority[..=at]);
    format!("{scheme}://{userinfo}{addr}{tail}")
}

/// Asserts the 503 a store outage must produce.
#[track_caller]
fn assert_unavailable(what: &str, reply: &Reply) {
    assert_eq!(reply.status, 503, "{what}: {} {}", reply.status, reply.body);
    reply.expect_error(503, "root.store_unavailable");
    assert!(
        reply.headers.contains_key("retry-after"),
        "{what}: no Retry-After"
    );
}

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

// ---------------------------------------------------------------------------------------------
// `ece-server backup` (SQLite; needs no PostgreSQL)
// ---------------------------------------------------------------------------------------------

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

#[path = "replicas/realms.rs"]
mod realms;
#[path = "replicas/saml.rs"]
mod saml;
#[allow(dead_code)]
#[path = "api/saml_html.rs"]
mod saml_html;
#[allow(dead_code)]
#[path = "api/saml_idp.rs"]
mod saml_idp;
#[path = "directory/slapd.rs"]
#[allow(dead_code)] // the TLS and restart parts serve tests/directory
mod slapd;
