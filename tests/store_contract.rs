//! The store contract: one backend-agnostic suite, run against every `Store` implementation.
//!
//! Each case is an `async fn(Ctx)` that only speaks to `dyn Store` (plus `open` for the schema
//! guard cases). The `contract!` macro at the bottom turns every case into one `#[tokio::test]`
//! per backend:
//! - `sqlite::<case>` runs on a fresh database file in a temporary directory;
//! - `postgres::<case>` runs when `ECE_TEST_DATABASE_URL` names a PostgreSQL database (e.g.
//!   `postgres://postgres@127.0.0.1:5432/test`), each case in its own fresh schema reached through
//!   `?options=-csearch_path%3D<schema>` and dropped afterwards. Without the variable these tests
//!   pass but say loudly on stderr that they were skipped (`SKIPPED postgres::<case>`); with
//!   `CI=true` they fail instead.

use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use chrono::TimeZone;
use serde_json::json;
use sqlx::{Connection, Executor, PgConnection, SqliteConnection};

use ece_server::domain::model::{
    ApiKeyRecord, Digest, SessionRecord, Timestamp, TokenRecord, UserRecord,
};
use ece_server::domain::roles::{DeploymentRoleAssignment, Role};
use ece_server::store::InsertKeyOutcome::{Inserted, LimitReached, UserNotFound};
use ece_server::store::{
    open, AuditFilter, AuditRecord, RefreshLimit, RefreshOutcome, Store, StoreError, StoreOptions,
    StoreResult,
};

/// What a case returns: unexpected errors propagate with `?` and fail the test.
type Res = anyhow::Result<()>;

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// What a case gets: the store under test, its URL, and the URL of a second, empty database.
struct Ctx {
    store: Arc<dyn Store>,
    url: String,
    spare_url: String,
}

fn opts() -> StoreOptions {
    // Generous acquire timeout: the concurrency cases queue 20 callers on a 2-core machine.
    StoreOptions {
        acquire_timeout: Duration::from_secs(20),
        ..StoreOptions::default()
    }
}

async fn on_sqlite<F, Fut>(case: F)
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

async fn on_postgres<F, Fut>(name: &str, case: F)
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
enum Raw {
    Pg(PgConnection),
    Lite(SqliteConnection),
}

impl Raw {
    async fn connect(url: &str) -> Raw {
        if url.starts_with("sqlite:") {
            Raw::Lite(SqliteConnection::connect(url).await.unwrap())
        } else {
            Raw::Pg(PgConnection::connect(url).await.unwrap())
        }
    }
    async fn exec(&mut self, sql: &str) {
        match self {
            Raw::Pg(c) => c.execute(sql).await.map(drop),
            Raw::Lite(c) => c.execute(sql).await.map(drop),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

/// `T0 + ms`, as the stores keep it (millisecond precision).
fn at(ms: i64) -> Timestamp {
    chrono::Utc.timestamp_millis_opt(T0 + ms).unwrap()
}

fn user(name: &str) -> UserRecord {
    UserRecord {
        user_name: name.into(),
        full_name: Some(format!("{name} Example")),
        email: None,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        roles: vec![Role::PlatformViewer],
        deployments: vec![DeploymentRoleAssignment {
            role_id: "ece_deployment_viewer".into(),
            organization_id: "org".into(),
            all: Some(true),
            deployment_ids: None,
            application_roles: None,
        }],
        enabled: true,
        builtin: false,
        created_at: at(0),
        created_by: Some("admin".into()),
        updated_at: at(0),
        updated_by: None,
        first_login_at: None,
        last_login_at: None,
        version: 1,
        realm: None,
    }
}

/// A login as the server makes it: the session, its first token, the login stamps and an
/// audit event, in one transaction. (The event names no target, so that the cases that list
/// the targets of refresh events see only those.)
/// The stored digest of a named test token or key (the store keeps 32-byte SHA-256 digests).
fn h(name: &str) -> Digest {
    ece_server::security::crypto::digest(name)
}

async fn create_session(s: &dyn Store, session: &SessionRecord, token: &str) -> StoreResult<()> {
    let audit = AuditRecord {
        id: 0,
        at: session.created_at,
        event: "login".into(),
        outcome: "success".into(),
        actor: Some(session.user_name.clone()),
        source: None,
        target: None,
        detail: json!({"session": session.id}),
    };
    s.start_session(session, &h(token), &audit).await
}

async fn user_count(s: &dyn Store) -> StoreResult<usize> {
    Ok(s.list_users().await?.len())
}

/// A session created at T0, idle expiry T0+10min, absolute expiry T0+60min.
fn session(id: &str, user: &str) -> SessionRecord {
    SessionRecord {
        id: id.into(),
        user_name: user.into(),
        created_at: at(0),
        idle_expires_at: at(10 * MIN),
        absolute_expires_at: at(60 * MIN),
        revoked: false,
    }
}

fn key(id: &str, user: &str, created: i64, expires: Option<i64>) -> ApiKeyRecord {
    ApiKeyRecord {
        id: id.into(),
        user_name: user.into(),
        description: format!("key {id}"),
        key_hash: h(&format!("hash-{id}")),
        created_at: at(created),
        expires_at: expires.map(at),
        platform_roles: None,
    }
}

async fn add_users(s: &dyn Store, names: &[&str]) -> StoreResult<()> {
    for n in names {
        s.insert_user(&user(n)).await?;
    }
    Ok(())
}

async fn user_names(s: &dyn Store) -> StoreResult<Vec<String>> {
    Ok(s.list_users()
        .await?
        .into_iter()
        .map(|u| u.user_name)
        .collect())
}

/// `valid_until` of a token: `None` when the token is unknown, `Some(None)` when current.
async fn token_state(s: &dyn Store, hash: &str) -> StoreResult<Option<Option<Timestamp>>> {
    Ok(s.find_token(&h(hash)).await?.map(|l| l.token.valid_until))
}

async fn revoked(s: &dyn Store, token: &str) -> StoreResult<bool> {
    let found = s.find_token(&h(token)).await?.expect("token exists");
    Ok(found.session.revoked)
}

/// `refresh_session` with every time given as milliseconds after T0 and a limit no case reaches;
/// its audit event names the new token as its target.
async fn refresh_at(
    s: &dyn Store,
    tokens: (&str, &str),
    now: i64,
    grace: i64,
    idle: i64,
) -> StoreResult<RefreshOutcome> {
    let limit = RefreshLimit::per_minute(1000);
    refresh_limited(s, tokens, now, (grace, idle), limit).await
}

/// [`refresh_at`] under `limit`.
async fn refresh_limited(
    s: &dyn Store,
    (old, new): (&str, &str),
    now: i64,
    (grace, idle): (i64, i64),
    limit: RefreshLimit,
) -> StoreResult<RefreshOutcome> {
    let audit = AuditRecord {
        id: 0,
        at: at(now),
        event: "refresh".into(),
        outcome: "success".into(),
        actor: None,
        source: None,
        target: Some(new.into()),
        detail: json!({}),
    };
    s.refresh_session(
        &h(old),
        &h(new),
        at(now),
        at(grace),
        at(idle),
        limit,
        &audit,
    )
    .await
}

/// Runs `n` copies of `task` at once; returns their results (a panicking task fails the test).
async fn concurrently<T, Fut>(n: i64, task: impl Fn(i64) -> Fut) -> Vec<T>
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(task(i))).collect();
    let joined = futures::future::join_all(handles).await;
    joined
        .into_iter()
        .map(|j| j.expect("task panicked"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------------

async fn account(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    s.ping().await?;
    assert_eq!(s.get_account().await?, None);
    let first = s.init_account("acc-1", &json!({"a": 1})).await?;
    assert_eq!((first.id.as_str(), first.version), ("acc-1", 1));
    assert_eq!(first.trust, json!({"a": 1}));
    // Idempotent: a second init keeps the first account.
    assert_eq!(s.init_account("acc-2", &json!({"b": 2})).await?, first);
    assert_eq!(s.get_account().await?, Some(first));

    let updated = s.update_account_cas(&json!({"c": 3}), 1).await?;
    let updated = updated.expect("CAS with the current version writes");
    assert_eq!((updated.version, &updated.trust), (2, &json!({"c": 3})));
    assert_eq!(
        s.update_account_cas(&json!({"d": 4}), 1).await?,
        None,
        "stale"
    );
    assert_eq!(s.get_account().await?, Some(updated));
    Ok(())
}

async fn account_concurrent(ctx: Ctx) -> Res {
    // Many replicas initialising at once all get the same single account; one CAS wins.
    let accounts = concurrently(10, |i| {
        let s = ctx.store.clone();
        async move { s.init_account(&format!("acc-{i}"), &json!({})).await }
    })
    .await;
    let first = accounts[0].as_ref().unwrap();
    assert!(accounts.iter().all(|a| a.as_ref().unwrap() == first));
    let writes = concurrently(10, |i| {
        let s = ctx.store.clone();
        async move { s.update_account_cas(&json!({ "n": i }), 1).await }
    })
    .await;
    assert_eq!(
        writes
            .iter()
            .filter(|w| w.as_ref().unwrap().is_some())
            .count(),
        1
    );
    assert_eq!(ctx.store.get_account().await?.unwrap().version, 2);
    Ok(())
}

async fn users(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    assert_eq!(user_count(s).await?, 0);
    let mut bob = user("bob");
    bob.email = Some("bob@example.com".into());
    bob.builtin = true;
    bob.first_login_at = Some(at(5));
    bob.last_login_at = Some(at(6));
    s.insert_user(&bob).await?;
    s.insert_user(&user("alice")).await?;
    let dup = s.insert_user(&user("alice")).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");

    assert_eq!(s.get_user("alice").await?, Some(user("alice")));
    assert_eq!(s.get_user("bob").await?, Some(bob.clone()));
    assert_eq!(s.get_user("nobody").await?, None);
    assert_eq!(user_names(s).await?, ["alice", "bob"]);
    assert_eq!(user_count(s).await?, 2);

    // CAS update: writes the editable fields, bumps the version.
    let mut edit = user("alice");
    edit.full_name = None;
    edit.email = Some("alice@example.com".into());
    edit.password_hash = "new-hash".into();
    edit.roles = vec![Role::PlatformAdmin];
    edit.deployments = vec![];
    edit.enabled = false;
    edit.updated_at = at(MIN);
    edit.updated_by = Some("root".into());
    let stored = s.update_user_cas(&edit, false, None).await?.unwrap();
    assert_eq!(
        stored,
        UserRecord {
            version: 2,
            ..edit.clone()
        }
    );
    assert_eq!(s.get_user("alice").await?, Some(stored.clone()));
    // A stale version (or an unknown user) writes nothing.
    let stale = UserRecord {
        full_name: Some("Stale".into()),
        ..edit
    };
    assert_eq!(s.update_user_cas(&stale, false, None).await?, None);
    assert_eq!(s.get_user("alice").await?, Some(stored));
    assert_eq!(s.update_user_cas(&user("ghost"), false, None).await?, None);

    // A CAS write made from a record read before a login keeps the login stamps.
    let mut login = session("sb", "bob");
    login.created_at = at(MIN);
    create_session(s, &login, "t-bob").await?;
    let bob_edit = UserRecord {
        full_name: Some("Robert".into()),
        ..bob
    };
    let bob_now = s.update_user_cas(&bob_edit, false, None).await?.unwrap();
    assert_eq!(bob_now.first_login_at, Some(at(5)));
    assert_eq!(bob_now.last_login_at, Some(at(MIN)));
    assert_eq!(bob_now.version, 2);
    Ok(())
}

async fn list_order(ctx: Ctx) -> Res {
    // Lists are in byte order on every backend, whatever the database's collation.
    let s = &*ctx.store;
    add_users(s, &["bob", "\u{c9}mile", "bc", "alice", "_x", "b-c", "Zed"]).await?;
    let sorted = ["Zed", "_x", "alice", "b-c", "bc", "bob", "\u{c9}mile"];
    assert_eq!(user_names(s).await?, sorted);
    // Keys: by creation time, then id.
    for (id, created) in [("k1", 0), ("K2", 0), ("a", 1), ("_b", 0)] {
        let k = key(id, "alice", created, None);
        assert_eq!(s.insert_api_key(&k, 10, at(0)).await?, Inserted);
    }
    let keys = s.list_api_keys(None).await?;
    let ids: Vec<_> = keys.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, ["K2", "_b", "k1", "a"]);
    Ok(())
}

async fn user_update_ends_sessions(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice", "bob"]).await?;
    for (id, who) in [
        ("s1", "alice"),
        ("s2", "alice"),
        ("s3", "alice"),
        ("s4", "bob"),
    ] {
        create_session(s, &session(id, who), &format!("t-{id}")).await?;
    }
    let alice = user("alice");
    // end_sessions = false leaves them alone.
    let alice = s.update_user_cas(&alice, false, None).await?.unwrap();
    assert!(!revoked(s, "t-s1").await?);
    // A stale write revokes nothing (the transaction rolls back).
    let stale = UserRecord {
        version: 1,
        ..alice.clone()
    };
    assert_eq!(s.update_user_cas(&stale, true, None).await?, None);
    assert!(!revoked(s, "t-s1").await?);
    // end_sessions with keep: all but the kept one.
    let alice = s.update_user_cas(&alice, true, Some("s2")).await?.unwrap();
    assert!(revoked(s, "t-s1").await? && revoked(s, "t-s3").await?);
    assert!(!revoked(s, "t-s2").await?, "keep_session must survive");
    assert!(
        !revoked(s, "t-s4").await?,
        "other users' sessions must survive"
    );
    // end_sessions without keep: all of them.
    s.update_user_cas(&alice, true, None).await?.unwrap();
    assert!(revoked(s, "t-s2").await?);
    assert!(!revoked(s, "t-s4").await?);
    Ok(())
}

async fn user_delete_cascades(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice", "bob"]).await?;
    create_session(s, &session("sa", "alice"), "t-a").await?;
    create_session(s, &session("sb", "bob"), "t-b").await?;
    for k in [key("ka", "alice", 0, None), key("kb", "bob", 0, None)] {
        assert_eq!(s.insert_api_key(&k, 10, at(0)).await?, Inserted);
    }
    assert!(s.delete_user("alice").await?);
    assert!(!s.delete_user("alice").await?);
    assert_eq!(s.get_user("alice").await?, None);
    assert!(s.find_token(&h("t-a")).await?.is_none());
    assert!(s.find_api_key(&h("hash-ka")).await?.is_none());
    assert!(s.list_api_keys(Some("alice")).await?.is_empty());
    // Re-creating the name does not resurrect anything.
    s.insert_user(&user("alice")).await?;
    assert!(s.find_token(&h("t-a")).await?.is_none());
    assert!(s.get_api_key("alice", "ka").await?.is_none());
    // Bob is untouched.
    assert!(s.find_token(&h("t-b")).await?.is_some());
    assert!(s.find_api_key(&h("hash-kb")).await?.is_some());
    assert_eq!(user_count(s).await?, 2);
    Ok(())
}

async fn login_stamps(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice"]).await?;
    let stamps = |u: UserRecord| (u.first_login_at, u.last_login_at, u.version);
    let login_at = |id: &str, ms: i64| SessionRecord {
        created_at: at(ms),
        ..session(id, "alice")
    };
    create_session(s, &login_at("s1", MIN), "t1").await?;
    let u = s.get_user("alice").await?.unwrap();
    assert_eq!(stamps(u), (Some(at(MIN)), Some(at(MIN)), 1));
    create_session(s, &login_at("s2", 2 * MIN), "t2").await?;
    let u = s.get_user("alice").await?.unwrap();
    // first_login_at is set once; the version is not bumped.
    assert_eq!(stamps(u), (Some(at(MIN)), Some(at(2 * MIN)), 1));
    // A login of an unknown user stores nothing.
    assert!(create_session(s, &session("s3", "nobody"), "t3")
        .await
        .is_err());
    assert_eq!(s.get_user("nobody").await?, None);
    Ok(())
}

async fn start_session(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice"]).await?;
    let mut sess = session("s1", "alice");
    sess.created_at = at(MIN);
    let audit = AuditRecord {
        id: 0,
        at: at(MIN),
        event: "login".into(),
        outcome: "success".into(),
        actor: Some("alice".into()),
        source: None,
        target: Some("alice".into()),
        detail: json!({"session": "s1"}),
    };
    s.start_session(&sess, &h("t1"), &audit).await?;
    // One transaction did all three: the session and token, the login stamp, the audit event.
    assert_eq!(s.find_token(&h("t1")).await?.unwrap().session, sess);
    let u = s.get_user("alice").await?.unwrap();
    assert_eq!(
        (u.first_login_at, u.last_login_at),
        (Some(at(MIN)), Some(at(MIN)))
    );
    let events = s.list_audit(&AuditFilter::default()).await?;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].event.as_str(), &events[0].detail),
        ("login", &json!({"session": "s1"}))
    );
    // A duplicate session id fails as a whole: no second audit event.
    assert!(s.start_session(&sess, &h("t2"), &audit).await.is_err());
    assert!(s.find_token(&h("t2")).await?.is_none());
    assert_eq!(s.list_audit(&AuditFilter::default()).await?.len(), 1);
    Ok(())
}

async fn sessions(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice"]).await?;
    let sess = session("s1", "alice");
    create_session(s, &sess, "t1").await?;
    let found = s.find_token(&h("t1")).await?.unwrap();
    let token = TokenRecord {
        token_hash: h("t1"),
        session_id: "s1".into(),
        valid_until: None,
    };
    assert_eq!(found.token, token);
    assert_eq!(found.session, sess);
    let logged_in = UserRecord {
        first_login_at: Some(sess.created_at),
        last_login_at: Some(sess.created_at),
        ..user("alice")
    };
    assert_eq!(*found.user, logged_in);
    assert!(s.find_token(&h("unknown")).await?.is_none());

    let dup_token = create_session(s, &session("s2", "alice"), "t1").await;
    assert!(
        matches!(dup_token, Err(StoreError::Conflict(_))),
        "{dup_token:?}"
    );
    let dup_id = create_session(s, &session("s1", "alice"), "t-other").await;
    assert!(matches!(dup_id, Err(StoreError::Conflict(_))), "{dup_id:?}");
    assert!(
        s.find_token(&h("t-other")).await?.is_none(),
        "a failed create must roll back"
    );
    let orphan = create_session(s, &session("s3", "ghost"), "t3").await;
    assert!(orphan.is_err(), "a session needs an existing user");
    Ok(())
}

async fn refresh(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice"]).await?;
    create_session(s, &session("s1", "alice"), "t1").await?;

    // t1 -> t2 at +1min: t1 keeps working until the grace deadline, t2 is current.
    let out = refresh_at(s, ("t1", "t2"), MIN, MIN + 30_000, 11 * MIN).await?;
    let RefreshOutcome::Refreshed(sess) = out else {
        panic!("{out:?}")
    };
    assert_eq!(sess.idle_expires_at, at(11 * MIN));
    assert_eq!(token_state(s, "t1").await?, Some(Some(at(MIN + 30_000))));
    assert_eq!(token_state(s, "t2").await?, Some(None));
    assert_eq!(s.find_token(&h("t2")).await?.unwrap().session, sess);

    // The idle expiry is capped by the absolute one (T0+60min).
    let out = refresh_at(s, ("t2", "t3"), 2 * MIN, 3 * MIN, 600 * MIN).await?;
    let RefreshOutcome::Refreshed(sess) = out else {
        panic!("{out:?}")
    };
    assert_eq!(sess.idle_expires_at, at(60 * MIN));
    assert_eq!(s.find_token(&h("t3")).await?.unwrap().session, sess);

    // A replaced token, even inside its grace period, cannot start a second chain: nothing is
    // stored. The current one refreshes, and the tokens whose grace is over (t1) are deleted.
    let out = refresh_at(s, ("t2", "tx"), 2 * MIN + 1, 4 * MIN, 12 * MIN).await?;
    assert_eq!(out, RefreshOutcome::Replaced);
    assert_eq!(
        token_state(s, "tx").await?,
        None,
        "a refused refresh stores nothing"
    );
    let out = refresh_at(s, ("t3", "t4"), 2 * MIN + 1, 4 * MIN, 12 * MIN).await?;
    assert!(matches!(out, RefreshOutcome::Refreshed(_)), "{out:?}");
    assert_eq!(
        token_state(s, "t1").await?,
        None,
        "t1's grace ended: deleted"
    );
    let out = refresh_at(s, ("t1", "tx"), 5 * MIN, 6 * MIN, 15 * MIN).await?;
    assert_eq!(out, RefreshOutcome::Invalid);
    assert_eq!(
        token_state(s, "tx").await?,
        None,
        "an invalid refresh stores nothing"
    );
    for (t, until) in [("t2", 3 * MIN), ("t3", 4 * MIN)] {
        assert_eq!(token_state(s, t).await?, Some(Some(at(until))), "{t}");
    }
    assert_eq!(
        token_state(s, "t4").await?,
        Some(None),
        "t4 is the one current token"
    );

    // Unknown token, expired session, revoked session: Invalid, and nothing stored.
    let out = refresh_at(s, ("nope", "ty"), 5 * MIN, 6 * MIN, 15 * MIN).await?;
    assert_eq!(out, RefreshOutcome::Invalid, "unknown token");
    let out = refresh_at(s, ("t4", "ty"), 12 * MIN, 13 * MIN, 20 * MIN).await?;
    assert_eq!(out, RefreshOutcome::Invalid, "idle-expired session");
    create_session(s, &session("s2", "alice"), "u1").await?;
    let out = refresh_at(s, ("u1", "ty"), 60 * MIN, 61 * MIN, 70 * MIN).await?;
    assert_eq!(out, RefreshOutcome::Invalid, "absolute-expired session");
    s.revoke_session("s2").await?;
    let out = refresh_at(s, ("u1", "ty"), MIN, 2 * MIN, 11 * MIN).await?;
    assert_eq!(out, RefreshOutcome::Invalid, "revoked session");
    assert_eq!(token_state(s, "ty").await?, None);
    // Exactly the successful refreshes wrote their audit event (in their own transaction).
    let audited: Vec<_> = s.list_audit(&AuditFilter::default()).await?;
    let targets: Vec<_> = audited.iter().filter_map(|e| e.target.as_deref()).collect();
    assert_eq!(targets, ["t2", "t3", "t4"]);
    Ok(())
}

async fn refresh_concurrent(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice"]).await?;
    create_session(s, &session("s1", "alice"), "t0").await?;
    // t0 is now inside its grace period, t1 is current: both may be presented at once (e.g. two
    // browser tabs), and all refreshes of the session must still serialise: exactly one of them
    // (presenting t1) continues the chain, every other finds its token replaced.
    let first = refresh_at(s, ("t0", "t1"), MIN, 2 * MIN, 11 * MIN).await?;
    assert!(matches!(first, RefreshOutcome::Refreshed(_)));
    let outcomes = concurrently(20, |i| {
        let s = ctx.store.clone();
        let old = if i % 2 == 0 { "t0" } else { "t1" };
        async move {
            let out = refresh_at(&*s, (old, &format!("n{i}")), MIN + 1, 2 * MIN, 11 * MIN).await;
            (i, out)
        }
    })
    .await;
    let mut refreshed = Vec::new();
    for (i, out) in outcomes {
        match out? {
            RefreshOutcome::Refreshed(sess) => {
                assert_eq!(i % 2, 1, "only the current token refreshes");
                assert_eq!(sess.idle_expires_at, at(11 * MIN));
                refreshed.push(format!("n{i}"));
            }
            RefreshOutcome::Replaced => {}
            other => panic!("n{i}: {other:?}"),
        }
    }
    assert_eq!(refreshed.len(), 1, "one chain: {refreshed:?}");
    let mut current = 0;
    let tokens = ["t0".to_string(), "t1".to_string()];
    for t in tokens.into_iter().chain((0..20).map(|i| format!("n{i}"))) {
        match token_state(s, &t).await? {
            None => assert!(t.starts_with('n') && !refreshed.contains(&t), "{t} missing"),
            Some(None) => current += 1,
            Some(Some(until)) => assert_eq!(until, at(2 * MIN), "{t}"),
        }
    }
    assert_eq!(current, 1, "exactly one current token per session");
    Ok(())
}

/// At most `limit.max` refreshes per session and window, counted in the store (so on every
/// replica together); a refused refresh writes nothing, not even its audit event.
async fn refresh_rate_limit(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice"]).await?;
    create_session(s, &session("s1", "alice"), "t0").await?;
    create_session(s, &session("s2", "alice"), "u0").await?;
    let limit = RefreshLimit::per_minute(3);
    let times = (3 * MIN, 11 * MIN);
    for i in 0..3 {
        let (old, new) = (format!("t{i}"), format!("t{}", i + 1));
        let out = refresh_limited(s, (&old, &new), MIN + i, times, limit).await?;
        assert!(matches!(out, RefreshOutcome::Refreshed(_)), "{i}: {out:?}");
    }
    let out = refresh_limited(s, ("t3", "tx"), MIN + 10, times, limit).await?;
    assert_eq!(
        out,
        RefreshOutcome::Limited {
            retry_at: at(2 * MIN)
        }
    );
    assert_eq!(token_state(s, "tx").await?, None);
    assert_eq!(
        token_state(s, "t3").await?,
        Some(None),
        "t3 is still current"
    );
    // Another session has its own budget.
    let out = refresh_limited(s, ("u0", "u1"), MIN + 10, times, limit).await?;
    assert!(matches!(out, RefreshOutcome::Refreshed(_)), "{out:?}");
    // A new window starts once the last one is over.
    let out = refresh_limited(s, ("t3", "t4"), 2 * MIN, times, limit).await?;
    assert!(matches!(out, RefreshOutcome::Refreshed(_)), "{out:?}");
    let audited = s.list_audit(&AuditFilter::default()).await?;
    let targets: Vec<_> = audited.iter().filter_map(|e| e.target.as_deref()).collect();
    assert_eq!(targets, ["t1", "t2", "t3", "u1", "t4"]);
    Ok(())
}

/// Refreshes of many sessions at once, some of them invalid or failing: each gets its own
/// outcome, and a bad one never takes the others down with it (the SQLite store commits
/// concurrent refreshes in groups).
async fn refresh_many_sessions(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice"]).await?;
    for i in 0..16 {
        create_session(s, &session(&format!("s{i}"), "alice"), &format!("a{i}")).await?;
    }
    let outcomes = concurrently(48, |i| {
        let s = ctx.store.clone();
        async move {
            let n = i % 16;
            let (old, new) = match i / 16 {
                0 => (format!("a{n}"), format!("b{n}")),       // valid
                1 => (format!("unknown{n}"), format!("c{n}")), // invalid
                _ => (format!("a{n}"), format!("a{}", (n + 1) % 16)), // new token already exists
            };
            (
                i,
                refresh_at(&*s, (&old, &new), MIN, 2 * MIN, 11 * MIN).await,
            )
        }
    })
    .await;
    for (i, out) in outcomes {
        match (i / 16, out) {
            (0, Ok(RefreshOutcome::Refreshed(_))) | (1, Ok(RefreshOutcome::Invalid)) => {}
            // The new hash is taken: that refresh fails alone, its writes rolled back (else the
            // current token of its session would have lost its current status below).
            (2, Err(StoreError::Conflict(_))) => {}
            // Or the session's valid refresh came first and its token is no longer current.
            (2, Ok(RefreshOutcome::Replaced)) => {}
            (kind, other) => panic!("request {i} (kind {kind}): {other:?}"),
        }
    }
    for n in 0..16 {
        assert_eq!(
            token_state(s, &format!("b{n}")).await?,
            Some(None),
            "b{n} is current"
        );
        assert_eq!(
            token_state(s, &format!("c{n}")).await?,
            None,
            "c{n} was never stored"
        );
    }
    Ok(())
}

async fn revoke_and_purge(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice", "bob"]).await?;
    for (id, who) in [
        ("a1", "alice"),
        ("a2", "alice"),
        ("a3", "alice"),
        ("b1", "bob"),
    ] {
        create_session(s, &session(id, who), &format!("t-{id}")).await?;
    }
    s.revoke_session("a1").await?;
    s.revoke_session("no-such-session").await?;
    assert!(revoked(s, "t-a1").await? && !revoked(s, "t-a2").await?);
    // Only sessions not yet revoked are counted.
    assert_eq!(s.revoke_user_sessions("alice", Some("a2")).await?, 1);
    assert!(revoked(s, "t-a3").await? && !revoked(s, "t-a2").await?);
    assert_eq!(s.revoke_user_sessions("alice", None).await?, 1);
    assert!(revoked(s, "t-a2").await?);
    assert_eq!(s.revoke_user_sessions("alice", None).await?, 0);
    assert!(!revoked(s, "t-b1").await?);

    // Purge: revoked sessions, and those whose idle or absolute expiry is strictly before.
    let idle_ended = SessionRecord {
        idle_expires_at: at(MIN),
        ..session("b2", "bob")
    };
    let abs_ended = SessionRecord {
        absolute_expires_at: at(2 * MIN),
        ..session("b3", "bob")
    };
    let at_boundary = SessionRecord {
        idle_expires_at: at(5 * MIN),
        ..session("b4", "bob")
    };
    for sess in [&idle_ended, &abs_ended, &at_boundary] {
        create_session(s, sess, &format!("t-{}", sess.id)).await?;
    }
    assert_eq!(s.purge_sessions(at(5 * MIN)).await?, 5);
    for gone in ["t-a1", "t-a2", "t-a3", "t-b2", "t-b3"] {
        assert!(
            s.find_token(&h(gone)).await?.is_none(),
            "{gone} should be purged"
        );
    }
    for kept in ["t-b1", "t-b4"] {
        assert!(
            s.find_token(&h(kept)).await?.is_some(),
            "{kept} should be kept"
        );
    }
    assert_eq!(s.purge_sessions(at(5 * MIN)).await?, 0);
    Ok(())
}

async fn api_keys(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice", "bob"]).await?;
    let k1 = key("k1", "alice", 0, None);
    let k2 = ApiKeyRecord {
        platform_roles: Some(vec![]),
        ..key("k2", "alice", 1, Some(60 * MIN))
    };
    let k3 = key("k3", "bob", 2, None);
    for k in [&k1, &k2, &k3] {
        assert_eq!(s.insert_api_key(k, 2, at(0)).await?, Inserted);
    }
    let ghost = key("kg", "ghost", 0, None);
    assert_eq!(s.insert_api_key(&ghost, 2, at(0)).await?, UserNotFound);
    // Alice is at her limit of 2; once k2 has expired, it no longer counts.
    let k4 = key("k4", "alice", 3, None);
    assert_eq!(s.insert_api_key(&k4, 2, at(0)).await?, LimitReached);
    assert_eq!(s.insert_api_key(&k4, 2, at(60 * MIN)).await?, Inserted);
    let dup_hash = ApiKeyRecord {
        id: "k5".into(),
        ..key("k1", "bob", 4, None)
    };
    let dup = s.insert_api_key(&dup_hash, 10, at(0)).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");

    let alices = [k1.clone(), k2.clone(), k4.clone()];
    assert_eq!(s.list_api_keys(Some("alice")).await?, alices);
    assert_eq!(
        s.list_api_keys(Some("bob")).await?,
        std::slice::from_ref(&k3)
    );
    let all = [k1.clone(), k2.clone(), k3.clone(), k4.clone()];
    assert_eq!(s.list_api_keys(None).await?, all);
    assert_eq!(s.get_api_key("alice", "k2").await?, Some(k2.clone()));
    assert_eq!(s.get_api_key("bob", "k2").await?, None);
    let found = s.find_api_key(&h("hash-k2")).await?.unwrap();
    assert_eq!((found.key, (*found.user).clone()), (k2, user("alice")));
    assert!(s.find_api_key(&h("hash-none")).await?.is_none());

    // Deleting by id only touches the named user's keys; each key counts once.
    let ids = ["k1", "missing", "k3", "k1"].map(String::from);
    assert_eq!(s.delete_api_keys("alice", &ids).await?, 1);
    assert_eq!(s.delete_api_keys("alice", &[]).await?, 0);
    assert_eq!(s.get_api_key("bob", "k3").await?, Some(k3.clone()));
    assert_eq!(s.delete_all_api_keys("alice").await?, 2);
    assert!(s.list_api_keys(Some("alice")).await?.is_empty());
    assert_eq!(s.list_api_keys(None).await?, [k3]);
    Ok(())
}

/// Housekeeping deletes keys that expired before the given time, and only those.
async fn api_key_purge(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice"]).await?;
    for (id, expires) in [
        ("old", Some(MIN)),
        ("recent", Some(10 * MIN)),
        ("never", None),
    ] {
        s.insert_api_key(&key(id, "alice", 0, expires), 10, at(0))
            .await?;
    }
    assert_eq!(s.purge_api_keys(at(5 * MIN)).await?, 1);
    let ids: Vec<_> = s
        .list_api_keys(None)
        .await?
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(ids, ["never", "recent"]);
    assert_eq!(s.purge_api_keys(at(5 * MIN)).await?, 0);
    Ok(())
}

async fn api_key_limit_concurrent(ctx: Ctx) -> Res {
    add_users(&*ctx.store, &["alice"]).await?;
    let outcomes = concurrently(20, |i| {
        let s = ctx.store.clone();
        let k = key(&format!("k{i:02}"), "alice", i, None);
        async move { s.insert_api_key(&k, 5, at(0)).await }
    })
    .await;
    let outcomes: Vec<_> = outcomes.into_iter().collect::<StoreResult<_>>()?;
    assert_eq!(outcomes.iter().filter(|o| **o == Inserted).count(), 5);
    assert_eq!(outcomes.iter().filter(|o| **o == LimitReached).count(), 15);
    assert_eq!(ctx.store.list_api_keys(Some("alice")).await?.len(), 5);
    Ok(())
}

async fn insert_user_concurrent(ctx: Ctx) -> Res {
    let outcomes = concurrently(20, |i| {
        let s = ctx.store.clone();
        let u = UserRecord {
            full_name: Some(format!("Alice {i}")),
            ..user("alice")
        };
        async move { s.insert_user(&u).await }
    })
    .await;
    let mut ok = 0;
    for out in outcomes {
        match out {
            Ok(()) => ok += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("expected Conflict, got {e:?}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(user_count(&*ctx.store).await?, 1);
    Ok(())
}

async fn update_user_concurrent(ctx: Ctx) -> Res {
    add_users(&*ctx.store, &["alice"]).await?;
    let outcomes = concurrently(10, |i| {
        let s = ctx.store.clone();
        let u = UserRecord {
            full_name: Some(format!("Alice {i}")),
            ..user("alice")
        };
        async move { s.update_user_cas(&u, false, None).await }
    })
    .await;
    let outcomes: Vec<_> = outcomes.into_iter().collect::<StoreResult<_>>()?;
    assert_eq!(
        outcomes.iter().filter(|o| o.is_some()).count(),
        1,
        "one CAS wins"
    );
    assert_eq!(ctx.store.get_user("alice").await?.unwrap().version, 2);
    Ok(())
}

async fn schema_guard(ctx: Ctx) -> Res {
    add_users(&*ctx.store, &["alice"]).await?;
    let no_migrate = StoreOptions {
        migrate: false,
        ..opts()
    };
    // migrate=false on an empty database opens but creates nothing.
    let bare = open(&ctx.spare_url, &no_migrate).await?;
    assert!(bare.get_account().await.is_err(), "tables must not exist");
    let migrated = open(&ctx.spare_url, &opts()).await?;
    assert_eq!(migrated.get_account().await?, None);
    // migrate=false on a migrated database sees its data.
    let again = open(&ctx.url, &no_migrate).await?;
    assert!(again.get_user("alice").await?.is_some());

    // A schema newer than this binary is refused, whether or not migrating.
    let mut raw = Raw::connect(&ctx.url).await;
    raw.exec(
        "UPDATE _sqlx_migrations SET version = 999999 \
         WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .await;
    for o in [&no_migrate, &opts()] {
        let err = open(&ctx.url, o)
            .await
            .err()
            .expect("a newer schema must be refused");
        let kind = err.downcast_ref::<StoreError>();
        assert!(matches!(kind, Some(StoreError::SchemaTooNew(_))), "{err:#}");
    }
    Ok(())
}

/// Migration 0006 turns the hex-text digests of existing tokens and keys into 32-byte ones: a
/// store written before it keeps authenticating the same secrets after the upgrade.
async fn digests_migrate_to_binary(ctx: Ctx) -> Res {
    let backend = if ctx.spare_url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };
    // The migrations before 0006, on the empty spare database.
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let before = tempfile::tempdir()?;
    for entry in std::fs::read_dir(&all)? {
        let name = entry?.file_name();
        if name.to_string_lossy().as_ref() < "0006" {
            std::fs::copy(all.join(&name), before.path().join(&name))?;
        }
    }
    let no_migrate = StoreOptions {
        migrate: false,
        ..opts()
    };
    // Opened first: it creates the SQLite file.
    let _old_store = open(&ctx.spare_url, &no_migrate).await?;
    let old_schema = sqlx::migrate::Migrator::new(before.path()).await?;
    // Through a pool: `Migrator::run` on a `&mut` connection is not `Send` in a spawned case.
    if backend == "sqlite" {
        let pool = sqlx::SqlitePool::connect(&ctx.spare_url).await?;
        old_schema.run(&pool).await?;
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&ctx.spare_url).await?;
        old_schema.run(&pool).await?;
        pool.close().await;
    }
    let mut raw = Raw::connect(&ctx.spare_url).await;
    // Raw too: today's insert names columns of later migrations (0007's realm columns).
    raw.exec(&format!(
        "INSERT INTO users (user_name, password_hash, roles, role_assignments, enabled, builtin, \
         created_at, updated_at, version) VALUES ('alice', 'x', '[]', '[]', TRUE, FALSE, {T0}, {T0}, 1)"
    ))
    .await;
    // Rows as the server wrote them before: lowercase hex text.
    let (token_hex, key_hex) = (hex::encode(h("old-token")), hex::encode(h("old-key")));
    raw.exec(&format!(
        "INSERT INTO sessions (id, user_name, created_at, idle_expires_at, absolute_expires_at) \
         VALUES ('s1', 'alice', {T0}, {}, {})",
        T0 + 60 * MIN,
        T0 + 60 * MIN
    ))
    .await;
    raw.exec(&format!(
        "INSERT INTO session_tokens (token_hash, session_id, valid_until) VALUES ('{token_hex}', 's1', NULL)"
    ))
    .await;
    raw.exec(&format!(
        "INSERT INTO api_keys (id, user_name, description, key_hash, created_at, expires_at, role_assignments) \
         VALUES ('k1', 'alice', 'old', '{key_hex}', {T0}, NULL, NULL)"
    ))
    .await;
    let upgraded = open(&ctx.spare_url, &opts()).await?;
    let token = upgraded
        .find_token(&h("old-token"))
        .await?
        .expect("token kept");
    assert_eq!(
        (token.token.token_hash, token.session.id.as_str()),
        (h("old-token"), "s1")
    );
    let key = upgraded
        .find_api_key(&h("old-key"))
        .await?
        .expect("key kept");
    assert_eq!(
        (key.key.id.as_str(), key.key.key_hash),
        ("k1", h("old-key"))
    );
    assert_eq!(upgraded.list_api_keys(Some("alice")).await?, [key.key]);
    Ok(())
}

async fn statement_timeout(ctx: Ctx) -> Res {
    add_users(&*ctx.store, &["alice"]).await?;
    let quick = StoreOptions {
        statement_timeout: Duration::from_millis(300),
        ..opts()
    };
    let store = open(&ctx.url, &quick).await?;
    // Another client holds a write lock on alice's row (PostgreSQL) or the database (SQLite).
    let mut raw = Raw::connect(&ctx.url).await;
    if matches!(raw, Raw::Pg(_)) {
        raw.exec("BEGIN; SELECT 1 FROM users WHERE user_name = 'alice' FOR UPDATE")
            .await;
    } else {
        raw.exec("BEGIN IMMEDIATE").await;
    }
    let started = Instant::now();
    let blocked = create_session(&*store, &session("s1", "alice"), "t1").await;
    // Like a lost connection, a timeout is the database being unavailable (503), not a bug.
    assert!(
        matches!(blocked, Err(StoreError::Unavailable(_))),
        "{blocked:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    // Reads are not blocked, and once the lock is gone the write goes through.
    assert!(store.get_user("alice").await?.is_some());
    raw.exec("ROLLBACK").await;
    create_session(&*store, &session("s1", "alice"), "t1").await?;
    Ok(())
}

async fn audit_log(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    let ev = |ms: i64, event: &str, actor: Option<&str>, target: Option<&str>| AuditRecord {
        id: 0,
        at: at(ms),
        event: event.into(),
        outcome: "success".into(),
        actor: actor.map(Into::into),
        source: Some("192.0.2.7".into()),
        target: target.map(Into::into),
        detail: json!({"n": ms}),
    };
    assert!(s.list_audit(&AuditFilter::default()).await?.is_empty());
    s.append_audit(&ev(1_000, "login", Some("alice"), Some("alice")))
        .await?;
    s.append_audit(&ev(2_000, "user.create", Some("alice"), Some("bob")))
        .await?;
    s.append_audit(&ev(3_000, "login", None, Some("bob")))
        .await?;
    s.append_audit(&ev(4_000, "logout", Some("carol"), Some("carol")))
        .await?;

    let all = s.list_audit(&AuditFilter::default()).await?;
    let rel = |e: &AuditRecord| (e.at - at(0)).num_milliseconds();
    let times: Vec<i64> = all.iter().map(rel).collect();
    assert_eq!(times, [1_000, 2_000, 3_000, 4_000], "oldest first");
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "ids grow");
    assert_eq!(all[1].actor.as_deref(), Some("alice"));
    assert_eq!(all[1].target.as_deref(), Some("bob"));
    assert_eq!(all[1].source.as_deref(), Some("192.0.2.7"));
    assert_eq!(all[1].detail, json!({"n": 2_000}));
    assert_eq!(all[2].actor, None);

    let ms = |f: AuditFilter| async move {
        let found = s.list_audit(&f).await?;
        StoreResult::Ok(found.iter().map(rel).collect::<Vec<_>>())
    };
    // A user matches as actor or as target.
    let bob = AuditFilter {
        user: Some("bob".into()),
        ..Default::default()
    };
    assert_eq!(ms(bob).await?, [2_000, 3_000]);
    let logins = AuditFilter {
        event: Some("login".into()),
        ..Default::default()
    };
    assert_eq!(ms(logins).await?, [1_000, 3_000]);
    // `since` is inclusive, `until` exclusive.
    let window = AuditFilter {
        since: Some(at(2_000)),
        until: Some(at(4_000)),
        ..Default::default()
    };
    assert_eq!(ms(window).await?, [2_000, 3_000]);
    // The limit keeps the most recent events, still oldest first.
    let last_two = AuditFilter {
        limit: Some(2),
        ..Default::default()
    };
    assert_eq!(ms(last_two).await?, [3_000, 4_000]);
    let both = AuditFilter {
        user: Some("alice".into()),
        event: Some("login".into()),
        ..Default::default()
    };
    assert_eq!(ms(both).await?, [1_000]);

    assert_eq!(s.purge_audit(at(3_000)).await?, 2);
    assert_eq!(ms(AuditFilter::default()).await?, [3_000, 4_000]);
    assert_eq!(s.purge_audit(at(3_000)).await?, 0);
    Ok(())
}

#[path = "store_contract/realms.rs"]
mod realm_cases;
#[path = "store_contract/sso.rs"]
mod sso_cases;
use realm_cases::{
    external_users, realm_end_ends_external_access, realms, realms_concurrent, realms_reorder,
};
use sso_cases::{saml_assertions, saml_requests};

// ---------------------------------------------------------------------------------------------
// One test per (backend, case)
// ---------------------------------------------------------------------------------------------

macro_rules! contract {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::on_sqlite(super::$case).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::on_postgres(stringify!($case), super::$case).await;
                }
            )+
        }
    };
}

contract!(
    account,
    account_concurrent,
    users,
    list_order,
    user_update_ends_sessions,
    user_delete_cascades,
    login_stamps,
    start_session,
    sessions,
    refresh,
    refresh_concurrent,
    refresh_rate_limit,
    refresh_many_sessions,
    revoke_and_purge,
    api_keys,
    api_key_purge,
    api_key_limit_concurrent,
    insert_user_concurrent,
    update_user_concurrent,
    schema_guard,
    digests_migrate_to_binary,
    statement_timeout,
    audit_log,
    realms,
    realms_reorder,
    realms_concurrent,
    external_users,
    realm_end_ends_external_access,
    saml_requests,
    saml_assertions,
);
