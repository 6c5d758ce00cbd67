//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so an acknowledged
//! write survives `kill -9` (and power loss).
//!
//! Writes go through a single-connection pool: SQLite allows one writer at a time anyway, and
//! queueing writers in-process avoids `SQLITE_BUSY` on read-modify-write transactions. Reads use
//! a separate pool of connections that see the last committed state (WAL readers never block).
//! The hot paths (the lookups every authenticated request makes, and the group commit of new
//! sessions, refreshes and audit events) bypass sqlx and use rusqlite directly: see
//! [`hot_path`].

mod api_keys;
mod audit;
mod group;
pub(super) mod hot_path;
mod key_list;
mod queue;
mod realms;
mod sessions;
mod sso;
mod users;

use std::str::FromStr;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::rows;
use super::{
    map_sqlx, InsertKeyOutcome, KeyLookup, RefreshOutcome, Store, StoreOptions, StoreResult,
    TokenLookup,
};
use crate::domain::model::{
    AccountRecord, ApiKeyRecord, Digest, SessionRecord, Timestamp, UserRecord,
};
use hot_path::Readers;
use queue::{group_commit, BatchJob, MAX_BATCH};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
    /// Point lookups without sqlx's worker thread.
    fast: Readers,
    /// New sessions, refreshes and audit appends, committed in groups (see [`group_commit`]).
    batch: tokio::sync::mpsc::Sender<BatchJob>,
    /// The background checkpointer stops once this is dropped.
    _alive: std::sync::Arc<()>,
}

impl SqliteStore {
    pub async fn connect(url: &str, opts: &StoreOptions) -> anyhow::Result<Self> {
        let connect = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(opts.statement_timeout)
            // Checkpoints normally run in the background (see `hot_path::spawn_checkpointer`);
            // a commit checkpoints itself only if the background one falls far behind.
            .pragma(
                "wal_autocheckpoint",
                hot_path::WAL_AUTOCHECKPOINT_PAGES.to_string(),
            );
        // A local file cannot lose its connection: no ping (a worker-thread round trip) per acquire.
        let writer = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .acquire_timeout(opts.acquire_timeout)
            .connect_with(connect.clone())
            .await?;
        // A fresh database has no migration table yet; any other failure to read it is an error,
        // not a reason to take the database for a fresh one.
        let has_migrations: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
        )
        .fetch_one(&writer)
        .await?;
        let applied: Option<i64> = if has_migrations {
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
                .fetch_one(&writer)
                .await?
        } else {
            None
        };
        rows::check_schema_version(applied, &MIGRATOR)?;
        if opts.migrate {
            MIGRATOR.run(&writer).await?;
        }
        let reader = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(opts.acquire_timeout)
            .connect_with(connect.clone().read_only(true))
            .await?;
        let path = connect.get_filename().to_path_buf();
        let lite_writer = hot_path::open_writer(&path, opts.statement_timeout)?;
        let (batch, jobs) = tokio::sync::mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(group_commit(writer.clone(), lite_writer, jobs));
        let alive = std::sync::Arc::new(());
        hot_path::spawn_checkpointer(path.clone(), std::sync::Arc::downgrade(&alive));
        Ok(SqliteStore {
            _alive: alive,
            reader,
            writer,
            fast: Readers::new(path, opts.statement_timeout),
            batch,
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn get_account(&self) -> StoreResult<Option<AccountRecord>> {
        self.fast.account()
    }

    async fn init_account(&self, id: &str, trust: &Value) -> StoreResult<AccountRecord> {
        sqlx::query("INSERT INTO account (singleton, id, trust, version) VALUES (1, ?, ?, 1) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(trust.to_string())
            .execute(&self.writer)
            .await
            .map_err(map_sqlx)?;
        let row = sqlx::query("SELECT id, trust, version FROM account WHERE singleton = 1")
            .fetch_one(&self.writer)
            .await
            .map_err(map_sqlx)?;
        rows::account(&row)
    }

    async fn update_account_cas(
        &self,
        trust: &Value,
        expected: i64,
    ) -> StoreResult<Option<AccountRecord>> {
        let row = sqlx::query(
            "UPDATE account SET trust = ?, version = version + 1 WHERE singleton = 1 AND version = ? \
             RETURNING id, trust, version",
        )
        .bind(trust.to_string())
        .bind(expected)
        .fetch_optional(&self.writer)
        .await
        .map_err(map_sqlx)?;
        row.as_ref().map(rows::account).transpose()
    }

    async fn insert_user(&self, u: &UserRecord) -> StoreResult<()> {
        self.user_insert(u).await
    }

    async fn get_user(&self, name: &str) -> StoreResult<Option<UserRecord>> {
        self.fast.user(name)
    }

    async fn list_users(&self) -> StoreResult<Vec<UserRecord>> {
        self.users_list().await
    }

    async fn update_user_cas(
        &self,
        u: &UserRecord,
        end_sessions: bool,
        keep_session: Option<&str>,
    ) -> StoreResult<Option<UserRecord>> {
        self.user_update(u, end_sessions, keep_session).await
    }

    async fn delete_user(&self, name: &str) -> StoreResult<bool> {
        self.user_delete(name).await
    }

    async fn start_session(
        &self,
        s: &SessionRecord,
        token_hash: &Digest,
        audit: &super::AuditRecord,
    ) -> StoreResult<()> {
        self.session_start(s, token_hash, audit).await
    }

    async fn find_token(&self, token_hash: &Digest) -> StoreResult<Option<TokenLookup>> {
        self.fast.token(token_hash)
    }

    async fn refresh_session(
        &self,
        old_hash: &Digest,
        new_hash: &Digest,
        now: Timestamp,
        grace_until: Timestamp,
        idle_expires_at: Timestamp,
        limit: super::RefreshLimit,
        audit: &super::AuditRecord,
    ) -> StoreResult<RefreshOutcome> {
        self.session_refresh(
            old_hash,
            new_hash,
            now,
            grace_until,
            idle_expires_at,
            limit,
            audit,
        )
        .await
    }

    async fn revoke_session(&self, session_id: &str) -> StoreResult<()> {
        self.session_revoke(session_id).await
    }

    async fn revoke_user_sessions(&self, name: &str, keep: Option<&str>) -> StoreResult<u64> {
        self.user_sessions_revoke(name, keep).await
    }

    async fn purge_sessions(&self, before: Timestamp) -> StoreResult<u64> {
        self.sessions_purge(before).await
    }

    async fn count_active_sessions(&self, now: Timestamp) -> StoreResult<i64> {
        self.sessions_count_active(now).await
    }

    async fn insert_api_key(
        &self,
        k: &ApiKeyRecord,
        max_active: u32,
        now: Timestamp,
    ) -> StoreResult<InsertKeyOutcome> {
        self.key_insert(k, max_active, now).await
    }

    async fn find_api_key(&self, key_hash: &Digest) -> StoreResult<Option<KeyLookup>> {
        self.fast.api_key(key_hash)
    }

    async fn list_api_keys(&self, user: Option<&str>) -> StoreResult<Vec<ApiKeyRecord>> {
        self.keys_list(user).await
    }

    async fn get_api_key(&self, user: &str, id: &str) -> StoreResult<Option<ApiKeyRecord>> {
        self.key_get(user, id).await
    }

    async fn delete_api_keys(&self, user: &str, ids: &[String]) -> StoreResult<u64> {
        self.keys_delete(user, ids).await
    }

    async fn delete_all_api_keys(&self, user: &str) -> StoreResult<u64> {
        self.keys_delete_all(user).await
    }

    async fn purge_api_keys(&self, before: Timestamp) -> StoreResult<u64> {
        self.keys_purge(before).await
    }

    async fn list_realms(&self) -> StoreResult<Vec<crate::domain::realms::RealmRecord>> {
        self.realms_list().await
    }

    async fn get_realm(&self, id: &str) -> StoreResult<Option<crate::domain::realms::RealmRecord>> {
        self.realm_get(id).await
    }

    async fn insert_realm(
        &self,
        realm: &crate::domain::realms::RealmRecord,
    ) -> StoreResult<super::RealmWrite> {
        self.realm_insert(realm).await
    }

    async fn update_realm_cas(
        &self,
        realm: &crate::domain::realms::RealmRecord,
    ) -> StoreResult<super::RealmWrite> {
        self.realm_update(realm).await
    }

    async fn delete_realm(
        &self,
        id: &str,
        realm_type: crate::domain::realms::RealmType,
        expected_version: Option<i64>,
    ) -> StoreResult<super::RealmWrite> {
        self.realm_delete(id, realm_type, expected_version).await
    }

    async fn reorder_realms(
        &self,
        ids: &[String],
        now: Timestamp,
    ) -> StoreResult<super::ReorderOutcome> {
        self.realms_reorder(ids, now).await
    }

    async fn append_audit(&self, e: &super::AuditRecord) -> StoreResult<()> {
        self.audit_append(e).await
    }

    async fn list_audit(&self, f: &super::AuditFilter) -> StoreResult<Vec<super::AuditRecord>> {
        self.audit_list(f).await
    }

    async fn purge_audit(&self, before: Timestamp) -> StoreResult<u64> {
        self.audit_purge(before).await
    }
}
