//! Sessions and their tokens on PostgreSQL. A refresh locks its session's row, so refreshes of
//! one session, on any replica, run one after the other (see `mod.rs`).

use sqlx::postgres::PgRow;

use super::audit::insert_audit;
use super::PgStore;
use crate::domain::model::{Digest, SessionRecord, Timestamp};
use crate::store::rows::{self, millis, SESSION_COLUMNS, USER_COLUMNS};
use crate::store::{
    map_sqlx, token_usable, AuditRecord, RefreshLimit, RefreshOutcome, StoreResult, TokenLookup,
};

const INSERT_TOKEN: &str =
    "INSERT INTO session_tokens (token_hash, session_id, valid_until) VALUES ($1, $2, NULL)";

/// Stamps a user's login times: `$1` the time, `$2` the user name.
const RECORD_LOGIN: &str = "UPDATE users SET last_login_at = $1, \
    first_login_at = COALESCE(first_login_at, $1) WHERE user_name = $2";

impl PgStore {
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

    pub(super) async fn session_start(
        &self,
        s: &SessionRecord,
        token_hash: &Digest,
        audit: &AuditRecord,
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

    pub(super) async fn token_find(&self, token_hash: &Digest) -> StoreResult<Option<TokenLookup>> {
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

    // The arguments of `Store::refresh_session`, passed on.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn session_refresh(
        &self,
        old_hash: &Digest,
        new_hash: &Digest,
        now: Timestamp,
        grace_until: Timestamp,
        idle_expires_at: Timestamp,
        limit: RefreshLimit,
        audit: &AuditRecord,
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
        if !token_usable(&token, &session, now) {
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
                    sqlx::Row::try_get::<i64, _>(r, 0).map_err(map_sqlx)
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

    pub(super) async fn session_revoke(&self, session_id: &str) -> StoreResult<()> {
        let q = sqlx::query("UPDATE sessions SET revoked = TRUE WHERE id = $1").bind(session_id);
        self.exec(&self.pool, q).await.map(drop)
    }

    pub(super) async fn user_sessions_revoke(
        &self,
        name: &str,
        keep: Option<&str>,
    ) -> StoreResult<u64> {
        let sql = "UPDATE sessions SET revoked = TRUE \
                   WHERE user_name = $1 AND ($2::text IS NULL OR id <> $2) AND NOT revoked";
        self.exec(&self.pool, sqlx::query(sql).bind(name).bind(keep))
            .await
    }

    pub(super) async fn sessions_purge(&self, before: Timestamp) -> StoreResult<u64> {
        let sql = "DELETE FROM sessions \
                   WHERE absolute_expires_at < $1 OR idle_expires_at < $1 OR revoked";
        self.exec(&self.pool, sqlx::query(sql).bind(millis(before)))
            .await
    }

    pub(super) async fn sessions_count_active(&self, now: Timestamp) -> StoreResult<i64> {
        let sql = "SELECT COUNT(*) FROM sessions \
                   WHERE NOT revoked AND idle_expires_at > $1 AND absolute_expires_at > $1";
        let q = sqlx::query_scalar(sql).bind(millis(now));
        self.bound.run(q.fetch_one(&self.pool)).await
    }
}
