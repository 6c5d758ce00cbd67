//! Audit events on SQLite: an append is queued for the group commit (`group.rs`); the listing and
//! the housekeeping run through sqlx.

use super::hot_path::BatchWrite;
use super::SqliteStore;
use crate::domain::model::Timestamp;
use crate::store::rows::{self, millis};
use crate::store::{map_sqlx, AuditFilter, AuditRecord, StoreResult};

impl SqliteStore {
    pub(super) async fn audit_append(&self, e: &AuditRecord) -> StoreResult<()> {
        self.batched(BatchWrite::Audit(Box::new(e.clone())))
            .await
            .map(|_| ())
    }

    pub(super) async fn audit_list(&self, f: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
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

    pub(super) async fn audit_purge(&self, before: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM audit_events WHERE at < ?")
            .bind(millis(before))
            .execute(&self.writer)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected())
    }
}
