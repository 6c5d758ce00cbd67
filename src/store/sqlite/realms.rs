//! Security realms on SQLite. Each write transaction runs on the single writer connection, so
//! realm writes are serialised and the id, position and version checks of one transaction hold
//! until its commit.

use super::SqliteStore;
use crate::domain::model::Timestamp;
use crate::domain::realms::{RealmRecord, RealmType};
use crate::store::realms::{self as sql, lite, mismatch};
use crate::store::rows::{self, millis};
use crate::store::{map_sqlx, RealmWrite, ReorderOutcome, StoreResult};

type Conn = sqlx::SqliteConnection;

async fn one(conn: &mut Conn, id: &str) -> StoreResult<Option<RealmRecord>> {
    let row = sqlx::query(&lite(&sql::select_one()))
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(map_sqlx)?;
    row.as_ref().map(rows::realm).transpose()
}

async fn exists<'q>(
    conn: &mut Conn,
    q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
) -> StoreResult<bool> {
    Ok(q.fetch_optional(conn).await.map_err(map_sqlx)?.is_some())
}

impl SqliteStore {
    pub(super) async fn realms_list(&self) -> StoreResult<Vec<RealmRecord>> {
        let rows = sqlx::query(&sql::select_all())
            .fetch_all(&self.reader)
            .await
            .map_err(map_sqlx)?;
        rows.iter().map(rows::realm).collect()
    }

    pub(super) async fn realm_get(&self, id: &str) -> StoreResult<Option<RealmRecord>> {
        let mut conn = self.reader.acquire().await.map_err(map_sqlx)?;
        one(&mut conn, id).await
    }

    pub(super) async fn realm_insert(&self, r: &RealmRecord) -> StoreResult<RealmWrite> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let id_taken = lite(sql::ID_TAKEN);
        if exists(&mut tx, sqlx::query(&id_taken).bind(&r.id)).await? {
            return Ok(RealmWrite::IdConflict);
        }
        let position_taken = lite(sql::POSITION_TAKEN);
        let position: i64 = if r.position > 0 {
            let q = sqlx::query(&position_taken)
                .bind(i64::from(r.position))
                .bind(&r.id);
            if exists(&mut tx, q).await? {
                return Ok(RealmWrite::OrderConflict);
            }
            i64::from(r.position)
        } else {
            sqlx::query_scalar(sql::NEXT_POSITION)
                .fetch_one(&mut *tx)
                .await
                .map_err(map_sqlx)?
        };
        sqlx::query(&lite(sql::INSERT))
            .bind(&r.id)
            .bind(r.realm_type.as_str())
            .bind(&r.name)
            .bind(position)
            .bind(r.enabled)
            .bind(r.settings.to_string())
            .bind(&r.sealed_secrets)
            .bind(millis(r.created_at))
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        let stored = one(&mut tx, &r.id).await?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(stored.map_or(RealmWrite::NotFound, RealmWrite::Done))
    }

    pub(super) async fn realm_update(&self, r: &RealmRecord) -> StoreResult<RealmWrite> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        match one(&mut tx, &r.id).await? {
            Some(c) if c.realm_type == r.realm_type => {
                if c.version != r.version {
                    return Ok(RealmWrite::VersionConflict);
                }
            }
            _ => return Ok(RealmWrite::NotFound),
        }
        let position_taken = lite(sql::POSITION_TAKEN);
        let q = sqlx::query(&position_taken)
            .bind(i64::from(r.position))
            .bind(&r.id);
        if exists(&mut tx, q).await? {
            return Ok(RealmWrite::OrderConflict);
        }
        let done = sqlx::query(&lite(sql::UPDATE))
            .bind(&r.name)
            .bind(i64::from(r.position))
            .bind(r.enabled)
            .bind(r.settings.to_string())
            .bind(&r.sealed_secrets)
            .bind(millis(r.updated_at))
            .bind(&r.id)
            .bind(r.realm_type.as_str())
            .bind(r.version)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        if done.rows_affected() == 0 {
            return Ok(RealmWrite::VersionConflict);
        }
        if !r.enabled {
            for end in [sql::END_SESSIONS_OF_REALM, sql::END_KEYS_OF_REALM] {
                sqlx::query(&lite(end))
                    .bind(&r.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_sqlx)?;
            }
        }
        let stored = one(&mut tx, &r.id).await?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(stored.map_or(RealmWrite::NotFound, RealmWrite::Done))
    }

    pub(super) async fn realm_delete(
        &self,
        id: &str,
        realm_type: RealmType,
        expected: Option<i64>,
    ) -> StoreResult<RealmWrite> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let current = match one(&mut tx, id).await? {
            Some(c) if c.realm_type == realm_type => c,
            _ => return Ok(RealmWrite::NotFound),
        };
        if expected.is_some_and(|v| v != current.version) {
            return Ok(RealmWrite::VersionConflict);
        }
        for delete in [sql::DELETE_USERS_OF_REALM, sql::DELETE] {
            sqlx::query(&lite(delete))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
        }
        tx.commit().await.map_err(map_sqlx)?;
        Ok(RealmWrite::Done(current))
    }

    pub(super) async fn realms_reorder(
        &self,
        ids: &[String],
        now: Timestamp,
    ) -> StoreResult<ReorderOutcome> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        let stored: Vec<String> = sqlx::query_scalar(sql::ALL_IDS)
            .fetch_all(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        if let Some(m) = mismatch(&stored, ids) {
            return Ok(m);
        }
        sqlx::query(sql::NEGATE_POSITIONS)
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        let set = lite(sql::SET_POSITION);
        for (i, id) in ids.iter().enumerate() {
            sqlx::query(&set)
                .bind(i as i64 + 1)
                .bind(millis(now))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(map_sqlx)?;
        }
        tx.commit().await.map_err(map_sqlx)?;
        Ok(ReorderOutcome::Done)
    }
}
