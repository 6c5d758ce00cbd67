//! The harness of the store contract: the [`Ctx`] a case gets, the store options, running a case
//! on a fresh SQLite database ([`on_sqlite`]) or in a fresh PostgreSQL schema ([`on_postgres`],
//! skipped loudly without `ECE_TEST_DATABASE_URL`, failed with `CI=true`), and a [`Raw`]
//! connection for what the `Store` trait cannot do.

use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Once};
use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection, SqliteConnection};

use ece_server::store::{open, Store, StoreOptions};

use super::*;

/// What a case gets: the store under test, its URL, and the URL of a second, empty database.
pub(crate) struct Ctx {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) url: String,
    pub(crate) spare_url: String,
}

pub(crate) fn opts() -> StoreOptions {
    // Generous acquire timeout: the concurrency cases queue 20 callers on a 2-core machine.
    StoreOptions {
        acquire_timeout: Duration::from_secs(20),
        ..StoreOptions::default()
    }
}

pub(crate) async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = Res>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let spare_url = format!("sqlite://{}", dir.path().join("spare.db").display());
    let store = open(&url, &opts()).await.expect("open sqlite store");
    let ctx = Ctx {
        store,
        url,
        spare_url,
    };
    if let Err(e) = case(ctx).await {
        panic!("{e:#}");
    }
}

const PG_ENV: &str = "ECE_TEST_DATABASE_URL";

pub(crate) async fn on_postgres<F, Fut>(name: &str, case: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = Res> + Send + 'static,
{
    let Ok(base) = std::env::var(PG_ENV) else {
        // In CI a skipped PostgreSQL case is a failure: it would hide that nothing ran.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "postgres::{name}: {PG_ENV} is not set and CI=true: the PostgreSQL cases must run in CI"
        );
        static BANNER: Once = Once::new();
        // Written to stderr directly (not `eprintln!`) so it shows even when output is captured.
        BANNER.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "\n!!!!!!!!!! PostgreSQL store-contract tests SKIPPED: {PG_ENV} is not set. !!!!!!!!!!\n\
                 !!!!!!!!!! Set it (e.g. postgres://postgres@127.0.0.1:5432/test) to run them.  !!!!!!!!!!"
            );
        });
        // Per test, through the harness's capture (shown with --nocapture).
        eprintln!("SKIPPED postgres::{name}: {PG_ENV} is not set");
        return;
    };
    let mut admin = PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("{PG_ENV} is set but the database is unreachable: {e}"));
    let tag = format!("{:012x}", rand::random::<u64>() >> 16);
    let (schema, spare) = (format!("ece_test_{tag}"), format!("ece_spare_{tag}"));
    for s in [&schema, &spare] {
        admin.execute(&*format!("CREATE SCHEMA {s}")).await.unwrap();
    }
    let (url, spare_url) = (
        with_search_path(&base, &schema),
        with_search_path(&base, &spare),
    );
    let store = open(&url, &opts()).await.expect("open postgres store");
    // The migrations must have landed in the test schema, not in `public`.
    let in_schema: bool =
        sqlx::query_scalar(&format!("SELECT to_regclass('{schema}.users') IS NOT NULL"))
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert!(in_schema, "search_path from the URL was not honoured");
    // Run the case as a task so the schemas are dropped even when it panics.
    let ctx = Ctx {
        store,
        url,
        spare_url,
    };
    let outcome = tokio::spawn(case(ctx)).await;
    for s in [&schema, &spare] {
        let _ = admin.execute(&*format!("DROP SCHEMA {s} CASCADE")).await;
    }
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{e:#}"),
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

fn with_search_path(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

/// A raw connection to the database under test, for what the trait cannot do (locks, tampering).
pub(crate) enum Raw {
    Pg(PgConnection),
    Lite(SqliteConnection),
}

impl Raw {
    pub(crate) async fn connect(url: &str) -> Raw {
        if url.starts_with("sqlite:") {
            Raw::Lite(SqliteConnection::connect(url).await.unwrap())
        } else {
            Raw::Pg(PgConnection::connect(url).await.unwrap())
        }
    }
    pub(crate) async fn exec(&mut self, sql: &str) {
        match self {
            Raw::Pg(c) => c.execute(sql).await.map(drop),
            Raw::Lite(c) => c.execute(sql).await.map(drop),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}
