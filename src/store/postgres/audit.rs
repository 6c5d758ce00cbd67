//! Audit events on PostgreSQL: the append (also run inside a login's or a refresh's
//! transaction), the listing and the housekeeping.

use super::{PgStore, Query};
use crate::domain::model::Timestamp;
use crate::store::rows::{self, millis};
use crate::store::{AuditFilter, AuditRecord, StoreResult};

impl PgStore {
    pub(super) async fn audit_append(&self, e: &AuditRecord) -> StoreResult<()> {
        self.exec(&self.pool, insert_audit(e)).await.map(drop)
    }

    pub(super) async fn audit_list(&self, f: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
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

    pub(super) async fn audit_purge(&self, before: Timestamp) -> StoreResult<u64> {
        let q = sqlx::query("DELETE FROM audit_events WHERE at < $1").bind(millis(before));
        self.exec(&self.pool, q).await
    }
}

/// The statement appending one audit event (alone, or inside a refresh's transaction).
pub(super) fn insert_audit(e: &AuditRecord) -> Query<'_> {
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
