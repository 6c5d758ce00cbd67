//! `spawn_app()`: the real server on `127.0.0.1:0` over a fresh store, and a small client for it
//! that checks every reply against the official swagger (see `spec.rs`).
//!
//! - `helpers/client.rs`: the client of `TestApp` (requests checked against the spec, log-in,
//!   users and API keys) and its shutdown;
//! - `helpers/fixtures.rs`: helpers of the users, keys, roles, RBAC and realm suites.

mod client;
mod fixtures;

pub use fixtures::{error_fields, realm_doc, REALM_BIND_PASSWORD};

use std::sync::Arc;

use base64::Engine;
use ece_server::bootstrap::ChosenPasswords;
use ece_server::http::{AppState, Settings};
use ece_server::security::throttle::ThrottleConfig;
use ece_server::server::Limits;
use ece_server::startup::{Application, Config};
use ece_server::store::{Store, StoreOptions};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const ADMIN_PASSWORD: &str = "admin-test-password";
pub const READONLY_PASSWORD: &str = "readonly-test-password";

/// A running server and what it runs on.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub db_url: String,
    pub dir: TempDir,
    pub settings: Settings,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// A reply, already checked against the spec.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self.body
    }

    /// Asserts an ECE error with this status and code.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        assert_eq!(
            self.body["errors"][0]["code"], code,
            "unexpected code; body: {}",
            self.body
        );
        self.body
    }
}

/// Credentials for a request.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Basic(String, String),
    Bearer(String),
    ApiKey(String),
    Raw(String),
}

impl Auth {
    pub fn admin() -> Auth {
        Auth::Basic("admin".into(), ADMIN_PASSWORD.into())
    }
    pub fn readonly() -> Auth {
        Auth::Basic("readonly".into(), READONLY_PASSWORD.into())
    }
    pub fn basic(user: &str, password: &str) -> Auth {
        Auth::Basic(user.into(), password.into())
    }
    fn header(&self) -> Option<String> {
        match self {
            Auth::None => None,
            Auth::Basic(u, p) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )),
            Auth::Bearer(t) => Some(format!("Bearer {t}")),
            Auth::ApiKey(k) => Some(format!("ApiKey {k}")),
            Auth::Raw(h) => Some(h.clone()),
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Settings::default()).await
}

pub async fn spawn_with(settings: Settings) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = fresh_database(&dir).await;
    start(db_url, dir, settings).await
}

/// What `spawn_app` builds its server from: production's start-up on `127.0.0.1:0`, with the
/// given store, data directory, passwords and settings.
pub fn test_config(
    db_url: &str,
    dir: &TempDir,
    passwords: ChosenPasswords,
    settings: Settings,
) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: db_url.to_string(),
        store: StoreOptions::default(),
        data_dir: dir.path().to_path_buf(),
        passwords,
        settings,
        limits: Limits::default(),
        hash_concurrency: None,
        tls: None,
        metrics_listen: None,
        realm_secrets_key_file: None,
    }
}

/// A fresh, empty database: a SQLite file in `dir`, or a new PostgreSQL schema when
/// `ECE_TEST_BACKEND=postgres` (URL from `ECE_TEST_DATABASE_URL`).
pub async fn fresh_database(dir: &TempDir) -> String {
    if std::env::var("ECE_TEST_BACKEND").as_deref() == Ok("postgres") {
        let base = std::env::var("ECE_TEST_DATABASE_URL")
            .expect("ECE_TEST_BACKEND=postgres needs ECE_TEST_DATABASE_URL");
        let schema = format!("t_{}", hex::encode(rand::random::<[u8; 8]>()));
        let pool = sqlx::PgPool::connect(&base)
            .await
            .expect("PostgreSQL reachable");
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&pool)
            .await
            .expect("create schema");
        pool.close().await;
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}options=-c%20search_path%3D{schema}")
    } else {
        format!("sqlite://{}", dir.path().join("ece.db").display())
    }
}

async fn start(db_url: String, dir: TempDir, settings: Settings) -> TestApp {
    let passwords = ChosenPasswords {
        admin: Some(ADMIN_PASSWORD.into()),
        readonly: Some(READONLY_PASSWORD.into()),
    };
    let app = Application::build(test_config(&db_url, &dir, passwords, settings.clone()))
        .await
        .expect("server builds");
    let base = format!("http://{}/api/v1", app.address());
    let store = app.state().store.clone();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = rx.await;
        };
        app.run_until(shutdown).await.expect("server runs");
    });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        base,
        client,
        store,
        db_url,
        dir,
        settings,
        shutdown: Some(tx),
        task: Some(task),
    }
}

/// Settings with brute-force thresholds of `user` failures per name and `address` per address.
pub fn throttled(user: u32, address: u32) -> Settings {
    Settings {
        brute_force: ThrottleConfig {
            user_max_failures: user,
            address_max_failures: address,
            ..ThrottleConfig::default()
        },
        ..Settings::default()
    }
}

/// A client whose connections come from another loopback address (Linux routes all of 127/8).
pub fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(Some(ip.parse::<std::net::IpAddr>().unwrap()))
        .build()
        .unwrap()
}

/// A server like `spawn_app`'s, keeping its `AppState` so that a test can read the throttle's
/// and the hashing pool's counters; `hash_threads` as `--hash-concurrency`.
pub async fn spawn_keeping_state(
    settings: Settings,
    hash_threads: Option<usize>,
) -> (String, AppState, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(&dir).await;
    let chosen = ChosenPasswords {
        admin: Some(ADMIN_PASSWORD.into()),
        readonly: Some(READONLY_PASSWORD.into()),
    };
    // These servers take the password-check bursts of brute_force.rs, 1,500 connections from
    // 127.0.0.1 at once: the per-address connection cap (tested in hostile_clients.rs) would close
    // most of them before they reach the throttle under test, so it is off here.
    let limits = Limits {
        max_connections_per_address: 0,
        ..Limits::default()
    };
    let config = Config {
        hash_concurrency: hash_threads,
        limits,
        ..test_config(&url, &dir, chosen, settings)
    };
    let app = Application::build(config).await.unwrap();
    let base = format!("http://{}/api/v1", app.address());
    let state = app.state().clone();
    tokio::spawn(app.run_until(std::future::pending()));
    (base, state, dir)
}
