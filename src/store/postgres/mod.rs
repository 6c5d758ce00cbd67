//! The shared store for many replicas: PostgreSQL.
//!
//! Semantics mirror `sqlite.rs` exactly; what differs is how concurrency is made safe. SQLite
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

mod guard;
mod realms;
mod sso;

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgExecutor, PgPool, PgPoolOptions, PgRow};
use sqlx::Postgres;

use super::rows::{
    self, deployments_json, key_roles_json, millis, roles_json, KEY_COLUMNS, SESSION_COLUMNS,
    USER_COLUMNS,
};
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

    /// Inserts a session and its first token inside the caller's transaction.
    async fn insert_session(
        &self,
        tx: &mut sqlx::PgConnection,
        s: &SessionRecord,
        token_hash: &Digest,
    ) -> StoreResult<()> {
        let q = sqlx::query(
            "INSERT INTO sessions (id, user_name, created_at, idle_expires_at, absolute_expires_at, \
             revoked) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&s.id)
        .bind(&s.user_name)
        .bind(millis(s.created_at))
        .bind(millis(s.idle_expires_at))
        .bind(millis(s.absolute_expires_at))
        .bind(s.revoked);
        self.exec(&mut *tx, q).await?;
        let q = sqlx::query(INSERT_TOKEN).bind(&token_hash[..]).bind(&s.id);
        self.exec(&mut *tx, q).await.map(drop)
    }
}

const SELECT_ACCOUNT: &str = "SELECT id, trust, version FROM account WHERE singleton = 1";
const INSERT_TOKEN: &str =
    "INSERT INTO session_tokens (token_hash, session_id, valid_until) VALUES ($1, $2, NULL)";

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
        // A taken name is a unique violation, which `map_sqlx` turns into `Conflict`.
        let q = sqlx::query(
            "INSERT INTO users (user_name, full_name, email, password_hash, roles, role_assignments, \
             enabled, builtin, created_at, created_by, updated_at, updated_by, first_login_at, \
             last_login_at, version, realm_id, realm_type) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1, $15, $16)",
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
        .bind(u.realm.as_ref().map(|r| r.realm_type.as_str()));
        self.exec(&self.pool, q).await.map(drop)
    }

    async fn get_user(&self, name: &str) -> StoreResult<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE user_name = $1");
        self.fetch(&self.pool, sqlx::query(&sql).bind(name), rows::user)
            .await
    }

    async fn list_users(&self) -> StoreResult<Vec<UserRecord>> {
        // Byte order like SQLite, whatever the database's collation.
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY user_name COLLATE \"C\"");
        let all = self.bound.run(sqlx::query(&sql).fetch_all(&self.pool));
        all.await?.iter().map(rows::user).collect()
    }

    async fn update_user_cas(
        &self,
        u: &UserRecord,
        end_sessions: bool,
        keep_session: Option<&str>,
    ) -> StoreResult<Option<UserRecord>> {
        let mut tx = self.bound.run(self.pool.begin()).await?;
        // Same columns as SQLite: builtin, creation and login stamps are not the caller's to
        // change (a login writes the latter without bumping the version).
        let sql = format!(
            "UPDATE users SET full_name = $1, email = $2, password_hash = $3, roles = $4, \
             role_assignments = $5, enabled = $6, updated_at = $7, updated_by = $8, \
             version = version + 1 WHERE user_name = $9 AND version = $10 RETURNING {USER_COLUMNS}"
        );
        let q = sqlx::query(&sql)
            .bind(&u.full_name)
            .bind(&u.email)
            .bind(&u.password_hash)
            .bind(roles_json(&u.roles))
            .bind(deployments_json(&u.deployments))
            .bind(u.enabled)
            .bind(millis(u.updated_at))
            .bind(&u.updated_by)
            .bind(&u.user_name)
            .bind(u.version);
        let Some(stored) = self.fetch(&mut *tx, q, rows::user).await? else {
            return Ok(None); // stale version or no such user; dropping `tx` rolls back
        };
        if end_sessions {
            // `id <> NULL` is never true: spell out "no session to keep".
            let sql = "UPDATE sessions SET revoked = TRUE \
                       WHERE user_name = $1 AND ($2::text IS NULL OR id <> $2)";
            let q = sqlx::query(sql).bind(&u.user_name).bind(keep_session);
            self.exec(&mut *tx, q).await?;
        }
        self.bound.run(tx.commit()).await?;
        Ok(Some(stored))
    }

    async fn delete_user(&self, name: &str) -> StoreResult<bool> {
        // Sessions, tokens and keys go with the user through ON DELETE CASCADE.
        let q = sqlx::query("DELETE FROM users WHERE user_name = $1").bind(name);
        Ok(self.exec(&self.pool, q).await? > 0)
    }

    async fn start_session(
        &self,
        s: &SessionRecord,
        token_hash: &Digest,
        audit: &super::AuditRecord,
    ) -> StoreResult<()> {
        let mut tx = self.bound.run(self.pool.begin()).await?;
        self.insert_session(&mut tx, s, token_hash).await?;
        let q = sqlx::query(RECORD_LOGIN)
            .bind(millis(s.created_at))
            .bind(&s.user_name);
        self.exec(&mut *tx, q).await?;
        self.exec(&mut *tx, insert_audit(audit)).await?;
        self.bound.run(tx.commit()).await
    }

    async fn find_token(&self, token_hash: &Digest) -> StoreResult<Option<TokenLookup>> {
        let sql = format!(
            "SELECT session_tokens.token_hash, session_tokens.valid_until, {SESSION_COLUMNS}, \
             {USER_COLUMNS} FROM session_tokens \
             JOIN sessions ON sessions.id = session_tokens.session_id \
             JOIN users ON users.user_name = sessions.user_name \
             WHERE session_tokens.token_hash = $1"
        );
        let decode = |r: &PgRow| {
            let (token, session, user) = (rows::token(r)?, rows::session(r)?, rows::user(r)?);
            Ok(TokenLookup {
                token,
                session,
                user: user.into(),
            })
        };
        self.fetch(&self.pool, sqlx::query(&sql).bind(&token_hash[..]), decode)
            .await
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
        let mut tx = self.bound.run(self.pool.begin()).await?;
        // Lock the session row, not the token: refreshes presenting different tokens of one
        // session (the current one, one still in its grace period) must queue on the same lock.
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE sessions.id = \
             (SELECT session_id FROM session_tokens WHERE token_hash = $1) FOR UPDATE"
        );
        let q = sqlx::query(&sql).bind(&old_hash[..]);
        let Some(mut session) = self.fetch(&mut *tx, q, rows::session).await? else {
            return Ok(RefreshOutcome::Invalid);
        };
        // Read the token only now, holding the lock: under READ COMMITTED this new statement sees
        // what the refresh we may have waited for committed (e.g. the grace deadline it set).
        let sql = "SELECT token_hash, session_id, valid_until FROM session_tokens \
                   WHERE token_hash = $1";
        let q = sqlx::query(sql).bind(&old_hash[..]);
        let Some(token) = self.fetch(&mut *tx, q, rows::token).await? else {
            return Ok(RefreshOutcome::Invalid);
        };
        if !super::token_usable(&token, &session, now) {
            return Ok(RefreshOutcome::Invalid);
        }
        if token.valid_until.is_some() {
            return Ok(RefreshOutcome::Replaced);
        }
        session.idle_expires_at = idle_expires_at.min(session.absolute_expires_at);
        // Counts the refresh in the session's window (a new window if the last one is over), and
        // slides the idle expiry; changes nothing when the window's budget is spent.
        let (now_ms, window_ms) = (millis(now), limit.window.num_milliseconds());
        let sql = "UPDATE sessions SET \
                     refresh_count = CASE WHEN refresh_window_start + $2 <= $1 THEN 1 \
                                          ELSE refresh_count + 1 END, \
                     refresh_window_start = CASE WHEN refresh_window_start + $2 <= $1 THEN $1 \
                                                 ELSE refresh_window_start END, \
                     idle_expires_at = $3 \
                   WHERE id = $4 AND (refresh_window_start + $2 <= $1 OR refresh_count < $5)";
        let q = sqlx::query(sql)
            .bind(now_ms)
            .bind(window_ms)
            .bind(millis(session.idle_expires_at))
            .bind(&session.id)
            .bind(i64::from(limit.max));
        if self.exec(&mut *tx, q).await? == 0 {
            let q = sqlx::query("SELECT refresh_window_start FROM sessions WHERE id = $1");
            let start = self
                .fetch(&mut *tx, q.bind(&session.id), |r| {
                    sqlx::Row::try_get::<i64, _>(r, 0).map_err(super::map_sqlx)
                })
                .await?
                .unwrap_or(now_ms);
            return Ok(RefreshOutcome::Limited {
                retry_at: rows::from_millis(start + window_ms),
            });
        }
        // Tokens whose grace is over can never authenticate again: keep no row for them.
        let sql = "DELETE FROM session_tokens WHERE session_id = $1 AND valid_until <= $2";
        self.exec(&mut *tx, sqlx::query(sql).bind(&session.id).bind(now_ms))
            .await?;
        // Every token still current (normally one) now only has the grace period left.
        let sql = "UPDATE session_tokens SET valid_until = $1 \
                   WHERE session_id = $2 AND valid_until IS NULL";
        let q = sqlx::query(sql).bind(millis(grace_until)).bind(&session.id);
        self.exec(&mut *tx, q).await?;
        let q = sqlx::query(INSERT_TOKEN)
            .bind(&new_hash[..])
            .bind(&session.id);
        self.exec(&mut *tx, q).await?;
        self.exec(&mut *tx, insert_audit(audit)).await?;
        self.bound.run(tx.commit()).await?;
        Ok(RefreshOutcome::Refreshed(session))
    }

    async fn revoke_session(&self, session_id: &str) -> StoreResult<()> {
        let q = sqlx::query("UPDATE sessions SET revoked = TRUE WHERE id = $1").bind(session_id);
        self.exec(&self.pool, q).await.map(drop)
    }

    async fn revoke_user_sessions(&self, name: &str, keep: Option<&str>) -> StoreResult<u64> {
        let sql = "UPDATE sessions SET revoked = TRUE \
                   WHERE user_name = $1 AND ($2::text IS NULL OR id <> $2) AND NOT revoked";
        self.exec(&self.pool, sqlx::query(sql).bind(name).bind(keep))
            .await
    }

    async fn purge_sessions(&self, before: Timestamp) -> StoreResult<u64> {
        let sql = "DELETE FROM sessions \
                   WHERE absolute_expires_at < $1 OR idle_expires_at < $1 OR revoked";
        self.exec(&self.pool, sqlx::query(sql).bind(millis(before)))
            .await
    }

    async fn count_active_sessions(&self, now: Timestamp) -> StoreResult<i64> {
        let sql = "SELECT COUNT(*) FROM sessions \
                   WHERE NOT revoked AND idle_expires_at > $1 AND absolute_expires_at > $1";
        let q = sqlx::query_scalar(sql).bind(millis(now));
        self.bound.run(q.fetch_one(&self.pool)).await
    }

    async fn insert_api_key(
        &self,
        k: &ApiKeyRecord,
        max_active: u32,
        now: Timestamp,
    ) -> StoreResult<InsertKeyOutcome> {
        let mut tx = self.bound.run(self.pool.begin()).await?;
        // The owner's row is the lock that makes count-then-insert atomic across replicas.
        let sql = "SELECT user_name FROM users WHERE user_name = $1 FOR UPDATE";
        let q = sqlx::query(sql).bind(&k.user_name);
        if self.fetch(&mut *tx, q, |_| Ok(())).await?.is_none() {
            return Ok(InsertKeyOutcome::UserNotFound);
        }
        let q = sqlx::query_scalar(
            "SELECT COUNT(*) FROM api_keys \
             WHERE user_name = $1 AND (expires_at IS NULL OR expires_at > $2)",
        );
        let q = q.bind(&k.user_name).bind(millis(now));
        let active: i64 = self.bound.run(q.fetch_one(&mut *tx)).await?;
        if active >= i64::from(max_active) {
            return Ok(InsertKeyOutcome::LimitReached);
        }
        let q = sqlx::query(
            "INSERT INTO api_keys (id, user_name, description, key_hash, created_at, expires_at, \
             role_assignments) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&k.id)
        .bind(&k.user_name)
        .bind(&k.description)
        .bind(&k.key_hash[..])
        .bind(millis(k.created_at))
        .bind(k.expires_at.map(millis))
        .bind(k.platform_roles.as_deref().map(key_roles_json));
        self.exec(&mut *tx, q).await?;
        self.bound.run(tx.commit()).await?;
        Ok(InsertKeyOutcome::Inserted)
    }

    async fn find_api_key(&self, key_hash: &Digest) -> StoreResult<Option<KeyLookup>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS}, {USER_COLUMNS} FROM api_keys \
             JOIN users ON users.user_name = api_keys.user_name WHERE api_keys.key_hash = $1"
        );
        let decode = |r: &PgRow| {
            let (key, user) = (rows::api_key(r)?, rows::user(r)?);
            Ok(KeyLookup {
                key,
                user: user.into(),
            })
        };
        self.fetch(&self.pool, sqlx::query(&sql).bind(&key_hash[..]), decode)
            .await
    }

    async fn list_api_keys(&self, user: Option<&str>) -> StoreResult<Vec<ApiKeyRecord>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE ($1::text IS NULL OR user_name = $1) \
             ORDER BY created_at, id COLLATE \"C\""
        );
        let all = self
            .bound
            .run(sqlx::query(&sql).bind(user).fetch_all(&self.pool));
        all.await?.iter().map(rows::api_key).collect()
    }

    async fn get_api_key(&self, user: &str, id: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE user_name = $1 AND id = $2");
        let q = sqlx::query(&sql).bind(user).bind(id);
        self.fetch(&self.pool, q, rows::api_key).await
    }

    async fn delete_api_keys(&self, user: &str, ids: &[String]) -> StoreResult<u64> {
        // One statement over a text[]; a repeated id still counts once, as in SQLite's loop.
        let sql = "DELETE FROM api_keys WHERE user_name = $1 AND id = ANY($2)";
        self.exec(&self.pool, sqlx::query(sql).bind(user).bind(ids))
            .await
    }

    async fn delete_all_api_keys(&self, user: &str) -> StoreResult<u64> {
        let q = sqlx::query("DELETE FROM api_keys WHERE user_name = $1").bind(user);
        self.exec(&self.pool, q).await
    }

    async fn purge_api_keys(&self, before: Timestamp) -> StoreResult<u64> {
        let q = sqlx::query("DELETE FROM api_keys WHERE expires_at < $1").bind(millis(before));
        self.exec(&self.pool, q).await
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
        self.exec(&self.pool, insert_audit(e)).await.map(drop)
    }

    async fn list_audit(&self, f: &super::AuditFilter) -> StoreResult<Vec<super::AuditRecord>> {
        let sql = format!(
            "SELECT {} FROM audit_events \
             WHERE ($1::text IS NULL OR actor = $1 OR target = $1) \
             AND ($2::text IS NULL OR event = $2) \
             AND ($3::bigint IS NULL OR at >= $3) AND ($4::bigint IS NULL OR at < $4) \
             ORDER BY at DESC, id DESC LIMIT $5",
            rows::AUDIT_COLUMNS
        );
        let q = sqlx::query(&sql)
            .bind(&f.user)
            .bind(&f.event)
            .bind(f.since.map(millis))
            .bind(f.until.map(millis))
            .bind(f.limit.map(i64::from));
        let found = self.bound.run(q.fetch_all(&self.pool)).await?;
        rows::audits_oldest_first(&found)
    }

    async fn purge_audit(&self, before: Timestamp) -> StoreResult<u64> {
        let q = sqlx::query("DELETE FROM audit_events WHERE at < $1").bind(millis(before));
        self.exec(&self.pool, q).await
    }
}

/// The statement appending one audit event (alone, or inside a refresh's transaction).
fn insert_audit(e: &super::AuditRecord) -> Query<'_> {
    sqlx::query(
        "INSERT INTO audit_events (at, event, outcome, actor, source, target, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(millis(e.at))
    .bind(&e.event)
    .bind(&e.outcome)
    .bind(&e.actor)
    .bind(&e.source)
    .bind(&e.target)
    .bind(e.detail.to_string())
}

/// Stamps a user's login times: `$1` the time, `$2` the user name.
const RECORD_LOGIN: &str = "UPDATE users SET last_login_at = $1, \
    first_login_at = COALESCE(first_login_at, $1) WHERE user_name = $2";
