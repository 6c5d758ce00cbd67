//! The harness of the replica tests: a fresh PostgreSQL schema per test, the serialised and
//! time-bounded test runner ([`pg_test`]) that drops the schemas and prints the servers' logs when
//! a test fails, the skip-or-fail rule without `ECE_TEST_DATABASE_URL`, credentials ([`Auth`]) and
//! replies ([`Reply`]). The server processes themselves are in `replica.rs`.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex, Once};
use std::time::Duration;

use serde_json::Value;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection};

use super::*;

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
pub(crate) struct Ctx {
    pub(crate) base: String,
    /// Data directories and server logs.
    pub(crate) dir: PathBuf,
    schemas: Arc<StdMutex<Vec<String>>>,
    pub(crate) http: reqwest::Client,
}

/// Runs `body` against PostgreSQL: serialised, bounded in time, schemas dropped afterwards, the
/// servers' logs printed when it fails.
pub(crate) async fn pg_test<F, Fut>(name: &str, body: F)
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

pub(crate) fn http_client() -> reqwest::Client {
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
    pub(crate) async fn fresh_schema(&self) -> String {
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
    pub(crate) async fn db(&self, url: &str) -> PgPool {
        PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .expect("test pool connects")
    }

    /// Starts one replica on `db_url` and waits until it serves.
    pub(crate) async fn start(&self, label: &str, db_url: &str, extra: &[&str]) -> Replica {
        let mut r = Replica::spawn(&self.http, &self.dir, label, db_url, extra);
        r.wait_ready().await;
        r
    }

    /// Starts `n` replicas at the same moment, then waits until each serves.
    pub(crate) async fn start_many(&self, label: &str, n: usize, db_url: &str) -> Vec<Replica> {
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
pub(crate) enum Auth {
    None,
    Basic(String, String),
    Bearer(String),
    ApiKey(String),
}

pub(crate) fn admin() -> Auth {
    Auth::Basic("admin".into(), ADMIN_PASSWORD.into())
}

/// A reply: status, headers and the JSON body (`Null` when empty).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Value,
}

impl Reply {
    #[track_caller]
    pub(crate) fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected status; body {}", self.body);
        self.body
    }

    fn code(&self) -> &str {
        self.body["errors"][0]["code"].as_str().unwrap_or("")
    }

    /// Asserts an ECE error envelope with this status and code, and the matching header.
    #[track_caller]
    pub(crate) fn expect_error(&self, status: u16, code: &str) {
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
