//! Sessions on SQLite. A login and a refresh are queued for the group commit (one fsync for every
//! write of a group, see `group.rs`); revocations and housekeeping run through sqlx, on the
//! single writer connection.

use super::hot_path::{BatchReply, BatchWrite};
use super::SqliteStore;
use crate::domain::model::{Digest, SessionRecord, Timestamp};
use crate::store::rows::millis;
use crate::store::{map_sqlx, AuditRecord, RefreshLimit, RefreshOutcome, StoreError, StoreResult};

impl SqliteStore {
    pub(super) async fn session_start(
        &self,
        s: &SessionRecord,
        token_hash: &Digest,
        audit: &AuditRecord,
    ) -> StoreResult<()> {
        let write = BatchWrite::Session {
            session: Box::new(s.clone()),
            token_hash: *token_hash,
            login: Box::new(audit.clone()),
        };
        self.batched(write).await.map(drop)
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

    pub(super) async fn session_revoke(&self, session_id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET revoked = 1 WHERE id = ?")
            .bind(session_id)
            .execute(&self.writer)
            .await
            .map_err(map_sqlx)?;
        Ok(())
    }

    pub(super) async fn user_sessions_revoke(
        &self,
        name: &str,
        keep: Option<&str>,
    ) -> StoreResult<u64> {
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

    pub(super) async fn sessions_purge(&self, before: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM sessions WHERE absolute_expires_at < ?1 OR idle_expires_at < ?1 OR revoked = 1",
        )
        .bind(millis(before))
        .execute(&self.writer)
        .await
        .map_err(map_sqlx)?;
        Ok(done.rows_affected())
    }

    pub(super) async fn sessions_count_active(&self, now: Timestamp) -> StoreResult<i64> {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM sessions WHERE revoked = 0 AND idle_expires_at > ?1 AND absolute_expires_at > ?1",
        )
        .bind(millis(now))
        .fetch_one(&self.reader)
        .await
        .map_err(map_sqlx)
    }
}
