//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so an acknowledged
//! write survives `kill -9` (and power loss).
//!
//! Writes go through a single-connection pool: SQLite allows one writer at a time anyway, and
//! queueing writers in-process avoids `SQLITE_BUSY` on read-modify-write transactions. Reads use
//! a separate pool of connections that see the last committed state (WAL readers never block).
//! The hot paths (the lookups every authenticated request makes, and the group commit of new
//! sessions, refreshes and audit events) bypass sqlx and use rusqlite directly: see
//! [`hot_path`].

mod group;
pub(super) mod hot_path;
mod key_list;
mod realms;
mod sso;

use std::str::FromStr;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::rows::{
    self, deployments_json, key_roles_json, millis, roles_json, KEY_COLUMNS, USER_COLUMNS,
};
use super::{
    map_sqlx, InsertKeyOutcome, KeyLookup, RefreshOutcome, Store, StoreError, StoreOptions,
    StoreResult, TokenLookup,
};
use crate::domain::model::{
    AccountRecord, ApiKeyRecord, Digest, SessionRecord, Timestamp, UserRecord,
};
use hot_path::{BatchReply, BatchWrite, GroupError, Readers};

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

/// Most writes committed in one group.
const MAX_BATCH: usize = 256;

struct BatchJob {
    write: BatchWrite,
    reply: tokio::sync::oneshot::Sender<StoreResult<BatchReply>>,
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

    /// Queues a write for the next group commit and waits until it is durable (or failed).
    async fn batched(&self, write: BatchWrite) -> StoreResult<BatchReply> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let gone = || StoreError::Unavailable("the store's writer task has stopped".into());
        self.batch
            .send(BatchJob { write, reply })
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// A new session through the group commit; with `login`, also its login stamp and event.
    async fn user_in(
        &self,
        conn: &mut sqlx::SqliteConnection,
        name: &str,
    ) -> StoreResult<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE user_name = ?");
        let row = sqlx::query(&sql)
            .bind(name)
            .fetch_optional(conn)
            .await
            .map_err(map_sqlx)?;
        row.as_ref().map(rows::user).transpose()
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
        sqlx::query(
            "INSERT INTO users (user_name, full_name, email, password_hash, roles, role_assignments, enabled, \
             builtin, created_at, created_by, updated_at, updated_by, first_login_at, last_login_at, version, \
             realm_id, realm_type) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
        )
        .bind(&u.user_name)
        .bind(&u.full_name)
        .bind(&u.email)
        .bind(&u.password_hash)
        .bind(roles_json(&u.roles))
        .bind(deployments_json(&u.deployments))
        .bind(u.enabled)
        .bind(u.builtin)
        .bind(millis(u.created_at))
        .bind(&u.created_by)
        .bind(millis(u.updated_at))
        .bind(&u.updated_by)
        .bind(u.first_login_at.map(millis))
        .bind(u.last_login_at.map(millis))
        .bind(u.realm.as_ref().map(|r| r.id.as_str()))
        .bind(u.realm.as_ref().map(|r| r.realm_type.as_str()))
        .execute(&self.writer)
        .await
        .map_err(map_sqlx)?;
        Ok(())
    }

    async fn get_user(&self, name: &str) -> StoreResult<Option<UserRecord>> {
        self.fast.user(name)
    }

    async fn list_users(&self) -> StoreResult<Vec<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY user_name");
        let rows = sqlx::query(&sql)
            .fetch_all(&self.reader)
            .await
            .map_err(map_sqlx)?;
        rows.iter().map(rows::user).collect()
    }

    async fn update_user_cas(
        &self,
        u: &UserRecord,
        end_sessions: bool,
        keep_session: Option<&str>,
    ) -> StoreResult<Option<UserRecord>> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let done = sqlx::query(
            "UPDATE users SET full_name = ?, email = ?, password_hash = ?, roles = ?, role_assignments = ?, \
             enabled = ?, updated_at = ?, updated_by = ?, version = version + 1 \
             WHERE user_name = ? AND version = ?",
        )
        .bind(&u.full_name)
        .bind(&u.email)
        .bind(&u.password_hash)
        .bind(roles_json(&u.roles))
        .bind(deployments_json(&u.deployments))
        .bind(u.enabled)
        .bind(millis(u.updated_at))
        .bind(&u.updated_by)
        .bind(&u.user_name)
        .bind(u.version)
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        if end_sessions {
            sqlx::query("UPDATE sessions SET revoked = 1 WHERE user_name = ? AND id IS NOT ?")
                .bind(&u.user_name)
                .bind(keep_session)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
        }
        let stored = self.user_in(&mut tx, &u.user_name).await?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(stored)
    }

    async fn delete_user(&self, name: &str) -> StoreResult<bool> {
        // Sessions, tokens and keys go with the user through ON DELETE CASCADE.
        let done = sqlx::query("DELETE FROM users WHERE user_name = ?")
            .bind(name)
            .execute(&self.writer)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() > 0)
    }

    async fn start_session(
        &self,
        s: &SessionRecord,
        token_hash: &Digest,
        audit: &super::AuditRecord,
    ) -> StoreResult<()> {
        let write = BatchWrite::Session {
            session: Box::new(s.clone()),
            token_hash: *token_hash,
            login: Box::new(audit.clone()),
        };
        self.batched(write).await.map(drop)
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
        let write = BatchWrite::Refresh {
            old_hash: *old_hash,
            new_hash: *new_hash,
            now,
            grace_until,
            idle_expires_at,
            limit,
            audit: Box::new(audit.clone()),
        };
        match self.batched(write).await? {
            BatchReply::Refresh(outcome) => Ok(outcome),
            BatchReply::Done => Err(StoreError::Other("mismatched batch reply".into())),
        }
    }

    async fn revoke_session(&self, session_id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET revoked = 1 WHERE id = ?")
            .bind(session_id)
            .execute(&self.writer)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    async fn revoke_user_sessions(&self, name: &str, keep: Option<&str>) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked = 1 WHERE user_name = ? AND id IS NOT ? AND revoked = 0",
        )
        .bind(name)
        .bind(keep)
        .execute(&self.writer)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected())
    }

    async fn purge_sessions(&self, before: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM sessions WHERE absolute_expires_at < ?1 OR idle_expires_at < ?1 OR revoked = 1",
        )
        .bind(millis(before))
        .execute(&self.writer)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected())
    }

    async fn count_active_sessions(&self, now: Timestamp) -> StoreResult<i64> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM sessions WHERE revoked = 0 AND idle_expires_at > ?1 AND absolute_expires_at > ?1",
        )
        .bind(millis(now))
        .fetch_one(&self.reader)
        .await
        .map_err(map_sqlx)
    }

    async fn insert_api_key(
        &self,
        k: &ApiKeyRecord,
        max_active: u32,
        now: Timestamp,
    ) -> StoreResult<InsertKeyOutcome> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users WHERE user_name = ?")
            .bind(&k.user_name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        if exists.is_none() {
            return Ok(InsertKeyOutcome::UserNotFound);
        }
        let active: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM api_keys WHERE user_name = ? AND (expires_at IS NULL OR expires_at > ?)",
        )
        .bind(&k.user_name)
        .bind(millis(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        if active >= i64::from(max_active) {
            return Ok(InsertKeyOutcome::LimitReached);
        }
        sqlx::query(
            "INSERT INTO api_keys (id, user_name, description, key_hash, created_at, expires_at, role_assignments) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&k.id)
        .bind(&k.user_name)
        .bind(&k.description)
        .bind(&k.key_hash[..])
        .bind(millis(k.created_at))
        .bind(k.expires_at.map(millis))
        .bind(k.platform_roles.as_deref().map(key_roles_json))
        .execute(&mut *tx)
        .await
        .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(InsertKeyOutcome::Inserted)
    }

    async fn find_api_key(&self, key_hash: &Digest) -> StoreResult<Option<KeyLookup>> {
        self.fast.api_key(key_hash)
    }

    async fn list_api_keys(&self, user: Option<&str>) -> StoreResult<Vec<ApiKeyRecord>> {
        if let Some(user) = user {
            return self.fast.api_keys_of(user);
        }
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE (?1 IS NULL OR user_name = ?1) ORDER BY created_at, id"
        );
        let rows = sqlx::query(&sql)
            .bind(user)
            .fetch_all(&self.reader)
            .await
            .map_err(map_sqlx)?;
        rows.iter().map(rows::api_key).collect()
    }

    async fn get_api_key(&self, user: &str, id: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE user_name = ? AND id = ?");
        let row = sqlx::query(&sql)
            .bind(user)
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_sqlx)?;
        row.as_ref().map(rows::api_key).transpose()
    }

    async fn delete_api_keys(&self, user: &str, ids: &[String]) -> StoreResult<u64> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let mut deleted = 0;
        for id in ids {
            let done = sqlx::query("DELETE FROM api_keys WHERE user_name = ? AND id = ?")
                .bind(user)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
            deleted += done.rows_affected();
        }
        tx.commit().await.map_err(map_sqlx)?;
        Ok(deleted)
    }

    async fn delete_all_api_keys(&self, user: &str) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM api_keys WHERE user_name = ?")
            .bind(user)
            .execute(&self.writer)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected())
    }

    async fn purge_api_keys(&self, before: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM api_keys WHERE expires_at < ?")
            .bind(millis(before))
            .execute(&self.writer)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected())
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
        self.batched(BatchWrite::Audit(Box::new(e.clone())))
            .await
            .map(|_| ())
    }

    async fn list_audit(&self, f: &super::AuditFilter) -> StoreResult<Vec<super::AuditRecord>> {
        let sql = format!(
            "SELECT {} FROM audit_events \
             WHERE (?1 IS NULL OR actor = ?1 OR target = ?1) AND (?2 IS NULL OR event = ?2) \
             AND (?3 IS NULL OR at >= ?3) AND (?4 IS NULL OR at < ?4) \
             ORDER BY at DESC, id DESC LIMIT ?5",
            rows::AUDIT_COLUMNS
        );
        let found = sqlx::query(&sql)
            .bind(&f.user)
            .bind(&f.event)
            .bind(f.since.map(millis))
            .bind(f.until.map(millis))
            .bind(f.limit.map_or(-1, i64::from))
            .fetch_all(&self.reader)
            .await
            .map_err(map_sqlx)?;
        rows::audits_oldest_first(&found)
    }

    async fn purge_audit(&self, before: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM audit_events WHERE at < ?")
            .bind(millis(before))
            .execute(&self.writer)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected())
    }
}

/// Group commit: new sessions, refreshes and audit appends queued by concurrent requests are
/// written in one transaction, so one `fsync` (synchronous=FULL) makes a whole group durable
/// instead of one each. Answers are sent only after the COMMIT: nothing is acknowledged before it is durable.
///
/// Each write keeps its own outcome: a refresh found invalid writes nothing and answers
/// `Invalid`. A write that fails (e.g. a unique violation) must not take the others down: the
/// group is rolled back, that write gets its error, and the group is run again without it
/// (rare, so the common path needs no savepoints). A failure that is not about one write (the
/// database is unavailable, the COMMIT fails) gives every write of the group the error.
/// The task ends when the store is dropped.
async fn group_commit(
    writer: SqlitePool,
    conn: rusqlite::Connection,
    mut jobs: tokio::sync::mpsc::Receiver<BatchJob>,
) {
    let conn = std::sync::Arc::new(std::sync::Mutex::new(conn));
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let group = std::mem::take(&mut batch);
        // Hold sqlx's single writer connection while rusqlite writes: one writer at a time.
        let held = match writer.acquire().await {
            Ok(held) => held,
            Err(e) => {
                let e = map_sqlx(e);
                for job in group {
                    let _ = job.reply.send(Err(same_error(&e)));
                }
                continue;
            }
        };
        let conn = conn.clone();
        // If the blocking task panics, the replies are dropped and the callers get Unavailable.
        let _ = tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            commit_group(&mut conn, group)
        })
        .await;
        drop(held);
    }
}

/// Commits `group`, retrying without a write that failed on its own; answers every job.
fn commit_group(conn: &mut rusqlite::Connection, mut group: Vec<BatchJob>) {
    while !group.is_empty() {
        match hot_path::run_group(conn, group.iter().map(|j| &j.write)) {
            Ok(replies) => {
                for (job, reply) in group.drain(..).zip(replies) {
                    let _ = job.reply.send(Ok(reply));
                }
            }
            Err(GroupError::Write(i, e)) => {
                let _ = group.remove(i).reply.send(Err(e));
            }
            Err(GroupError::All(e)) => {
                for job in group.drain(..) {
                    let _ = job.reply.send(Err(same_error(&e)));
                }
            }
        }
    }
}

fn same_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Conflict(m) => StoreError::Conflict(m.clone()),
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::SchemaTooNew(m) => StoreError::SchemaTooNew(m.clone()),
        StoreError::Other(m) => StoreError::Other(m.clone()),
    }
}
