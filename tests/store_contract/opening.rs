//! Store-contract cases of opening a store: with and without migrating, a schema newer than the
//! binary refused, migration 0006 turning hex-text digests into binary ones, and the statement
//! timeout turning a blocked write into `Unavailable`.

use std::time::{Duration, Instant};

use ece_server::store::{open, StoreError, StoreOptions};

use super::*;

pub(crate) async fn schema_guard(ctx: Ctx) -> Res {
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
pub(crate) async fn digests_migrate_to_binary(ctx: Ctx) -> Res {
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

pub(crate) async fn statement_timeout(ctx: Ctx) -> Res {
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
