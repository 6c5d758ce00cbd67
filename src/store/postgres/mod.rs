//! The shared store for many replicas: PostgreSQL.
//!
//! Semantics mirror `sqlite/` exactly; what differs is how concurrency is made safe. SQLite
//! serialises every write through one in-process connection, but here several server replicas
//! write to one database at once, so each read-modify-write transaction takes a row lock
//! (`SELECT ... FOR UPDATE`) on the row that guards its invariant:
//! - `refresh_session` locks the session row, so refreshes of one session run one after the other
//!   and the session never has more than one current token (`valid_until IS NULL`);
//! - `insert_api_key` locks the owner's user row, so concurrent inserts cannot both see
//!   "below the limit" and exceed it together.
//!
//! Simple compare-and-swap updates (`update_*_cas`) need no explicit lock: under READ COMMITTED,
//! a concurrent `UPDATE ... WHERE version = $n` waits for the first writer and then re-checks its
//! `WHERE` against the committed row, so only one of them matches.
//!
//! Schema isolation (tests, or several installations in one database): the URL may carry
//! `?options=-csearch_path%3D<schema>`; sqlx passes it as the startup `options` parameter, so
//! every pooled connection, the migrations and `_sqlx_migrations` itself live in that schema.
//!
//! A database that stops answering altogether (packets dropped, not connections reset) is
//! bounded client side, see `guard.rs`: every statement, `BEGIN` and `COMMIT` goes through
//! `Bound::run` (here via `exec`/`fetch`), and the pool closes a returned connection that does
//! not answer a bounded ping, so no pool slot waits for the kernel to give up on a socket.

mod api_keys;
mod audit;
mod guard;
mod realms;
mod sessions;
mod sso;
mod users;

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgExecutor, PgPool, PgPoolOptions, PgRow};
use sqlx::Postgres;

use super::rows;
use super::{
    InsertKeyOutcome, KeyLookup, RefreshOutcome, Store, StoreOptions, StoreResult, TokenLookup,
};
use crate::domain::model::{
    AccountRecord, ApiKeyRecord, Digest, SessionRecord, Timestamp, UserRecord,
};
use guard::Bound;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Opens the PostgreSQL store named by `url` (see [`PgStore::connect`]).
pub async fn connect(url: &str, opts: &StoreOptions) -> anyhow::Result<Arc<dyn Store>> {
    Ok(Arc::new(PgStore::connect(url, opts).await?))
}

pub struct PgStore {
    pool: PgPool,
    /// Client-side limit on every statement, for a database that stops answering.
    bound: Bound,
}

impl PgStore {
    /// Connects, refuses a schema newer than this binary, and migrates when `opts.migrate`.
    pub async fn connect(url: &str, opts: &StoreOptions) -> anyhow::Result<Self> {
        let base = PgConnectOptions::from_str(url)?;
        // `options()` appends to whatever `options=` the URL already carries (e.g. a search_path).
        let timeout = opts.statement_timeout.as_millis().to_string();
        let connect = base.clone().options([("statement_timeout", timeout)]);
        let bound = Bound::new(opts);
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(opts.acquire_timeout)
            .after_release(guard::release_check(opts))
            .connect_with(connect)
            .await?;
        let applied = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations");
        let applied: Option<i64> = match applied.fetch_one(&pool).await {
            Ok(v) => v,
            // undefined_table: a fresh database (or schema), nothing applied yet.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P01") => None,
            Err(e) => return Err(e.into()),
        };
        rows::check_schema_version(applied, &MIGRATOR)?;
        if opts.migrate {
            // sqlx holds a database-wide advisory lock meanwhile, so replicas starting together
            // apply each migration once. Its own connection, without the request-sized statement
            // timeout: a long migration, or waiting for another replica's, must not be cancelled.
            let single = PgPoolOptions::new().max_connections(1);
            let migrator_pool = single.connect_with(base).await?;
            MIGRATOR.run(&migrator_pool).await?;
            migrator_pool.close().await;
        }
        Ok(PgStore { pool, bound })
    }
}

type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

impl PgStore {
    /// Runs a statement on the pool or in a transaction; returns the rows it touched.
    async fn exec<'c>(&self, e: impl PgExecutor<'c>, q: Query<'_>) -> StoreResult<u64> {
        Ok(self.bound.run(q.execute(e)).await?.rows_affected())
    }

    /// Fetches and decodes at most one row.
    async fn fetch<'c, T>(
        &self,
        e: impl PgExecutor<'c>,
        q: Query<'_>,
        decode: impl Fn(&PgRow) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let row = self.bound.run(q.fetch_optional(e)).await?;
        row.as_ref().map(decode).transpose()
    }
}

const SELECT_ACCOUNT: &str = "SELECT id, trust, version FROM account WHERE singleton = 1";

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        self.exec(&self.pool, sqlx::query("SELECT 1"))
            .await
            .map(drop)
    }

    async fn get_account(&self) -> StoreResult<Option<AccountRecord>> {
        self.fetch(&self.pool, sqlx::query(SELECT_ACCOUNT), rows::account)
            .await
    }

    async fn init_account(&self, id: &str, trust: &Value) -> StoreResult<AccountRecord> {
        // If another replica is inserting concurrently, ON CONFLICT waits for it to commit, so
        // the SELECT (a new statement, a new snapshot) always finds the winner's row.
        let insert = "INSERT INTO account (singleton, id, trust, version) VALUES (1, $1, $2, 1) \
                      ON CONFLICT DO NOTHING";
        let q = sqlx::query(insert).bind(id).bind(trust.to_string());
        self.exec(&self.pool, q).await?;
        let row = self
            .bound
            .run(sqlx::query(SELECT_ACCOUNT).fetch_one(&self.pool));
        rows::account(&row.await?)
    }

    async fn update_account_cas(
        &self,
        trust: &Value,
        expected: i64,
    ) -> StoreResult<Option<AccountRecord>> {
        let sql = "UPDATE account SET trust = $1, version = version + 1 \
                   WHERE singleton = 1 AND version = $2 RETURNING id, trust, version";
        let q = sqlx::query(sql).bind(trust.to_string()).bind(expected);
        self.fetch(&self.pool, q, rows::account).await
    }

    async fn insert_user(&self, u: &UserRecord) -> StoreResult<()> {
        self.user_insert(u).await
    }

    async fn get_user(&self, name: &str) -> StoreResult<Option<UserRecord>> {
        self.user_get(name).await
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
        self.token_find(token_hash).await
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
        self.key_find(key_hash).await
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
