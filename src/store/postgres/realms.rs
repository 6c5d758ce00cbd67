//! Security realms on PostgreSQL. Each write transaction takes the realm table lock first
//! (`realms::PG_LOCK`): realm writes are rare, and serialising them makes the id, position and
//! version checks of one transaction hold until its commit, across replicas.

use sqlx::postgres::PgRow;

use super::PgStore;
use crate::domain::model::Timestamp;
use crate::domain::realms::{RealmRecord, RealmType};
use crate::store::realms::{self as sql, mismatch};
use crate::store::rows::{self, millis};
use crate::store::{RealmWrite, ReorderOutcome, StoreResult};

impl PgStore {
    pub(super) async fn realms_list(&self) -> StoreResult<Vec<RealmRecord>> {
        let select = sql::select_all();
        let rows: Vec<PgRow> = self
            .bound
            .run(sqlx::query(&select).fetch_all(&self.pool))
            .await?;
        rows.iter().map(rows::realm).collect()
    }

    pub(super) async fn realm_get(&self, id: &str) -> StoreResult<Option<RealmRecord>> {
        let select = sql::select_one();
        self.fetch(&self.pool, sqlx::query(&select).bind(id), rows::realm)
            .await
    }

    async fn lock(&self, tx: &mut sqlx::PgConnection) -> StoreResult<()> {
        self.exec(&mut *tx, sqlx::query(sql::PG_LOCK))
            .await
            .map(drop)
    }

    async fn position_taken(
        &self,
        tx: &mut sqlx::PgConnection,
        position: i32,
        id: &str,
    ) -> StoreResult<bool> {
        let q = sqlx::query(sql::POSITION_TAKEN)
            .bind(i64::from(position))
            .bind(id);
        Ok(self.fetch(&mut *tx, q, |_| Ok(())).await?.is_some())
    }

    pub(super) async fn realm_insert(&self, r: &RealmRecord) -> StoreResult<RealmWrite> {
        let mut tx = self.bound.run(self.pool.begin()).await?;
        self.lock(&mut tx).await?;
        let q = sqlx::query(sql::ID_TAKEN).bind(&r.id);
        if self.fetch(&mut *tx, q, |_| Ok(())).await?.is_some() {
            return Ok(RealmWrite::IdConflict);
        }
        let position: i64 = if r.position > 0 {
            if self.position_taken(&mut tx, r.position, &r.id).await? {
                return Ok(RealmWrite::OrderConflict);
            }
            i64::from(r.position)
        } else {
            let q = sqlx::query_scalar(sql::NEXT_POSITION);
            self.bound.run(q.fetch_one(&mut *tx)).await?
        };
        let q = sqlx::query(sql::INSERT)
            .bind(&r.id)
            .bind(r.realm_type.as_str())
            .bind(&r.name)
            .bind(position)
            .bind(r.enabled)
            .bind(r.settings.to_string())
            .bind(&r.sealed_secrets)
            .bind(millis(r.created_at));
        self.exec(&mut *tx, q).await?;
        let select = sql::select_one();
        let stored = self
            .fetch(&mut *tx, sqlx::query(&select).bind(&r.id), rows::realm)
            .await?;
        self.bound.run(tx.commit()).await?;
        Ok(stored.map_or(RealmWrite::NotFound, RealmWrite::Done))
    }

    pub(super) async fn realm_update(&self, r: &RealmRecord) -> StoreResult<RealmWrite> {
        let mut tx = self.bound.run(self.pool.begin()).await?;
        self.lock(&mut tx).await?;
        let select = sql::select_one();
        let current = self
            .fetch(&mut *tx, sqlx::query(&select).bind(&r.id), rows::realm)
            .await?;
        match current {
            Some(c) if c.realm_type == r.realm_type => {
                if c.version != r.version {
                    return Ok(RealmWrite::VersionConflict);
                }
            }
            _ => return Ok(RealmWrite::NotFound),
        }
        if self.position_taken(&mut tx, r.position, &r.id).await? {
            return Ok(RealmWrite::OrderConflict);
        }
        let q = sqlx::query(sql::UPDATE)
            .bind(&r.name)
            .bind(i64::from(r.position))
            .bind(r.enabled)
            .bind(r.settings.to_string())
            .bind(&r.sealed_secrets)
            .bind(millis(r.updated_at))
            .bind(&r.id)
            .bind(r.realm_type.as_str())
            .bind(r.version);
        if self.exec(&mut *tx, q).await? == 0 {
            return Ok(RealmWrite::VersionConflict);
        }
        if !r.enabled {
            for end in [sql::END_SESSIONS_OF_REALM, sql::END_KEYS_OF_REALM] {
                self.exec(&mut *tx, sqlx::query(end).bind(&r.id)).await?;
            }
        }
        let stored = self
            .fetch(&mut *tx, sqlx::query(&select).bind(&r.id), rows::realm)
            .await?;
        self.bound.run(tx.commit()).await?;
        Ok(stored.map_or(RealmWrite::NotFound, RealmWrite::Done))
    }

    pub(super) async fn realm_delete(
        &self,
        id: &str,
        realm_type: RealmType,
        expected: Option<i64>,
    ) -> StoreResult<RealmWrite> {
        let mut tx = self.bound.run(self.pool.begin()).await?;
        self.lock(&mut tx).await?;
        let select = sql::select_one();
        let current = self
            .fetch(&mut *tx, sqlx::query(&select).bind(id), rows::realm)
            .await?;
        let current = match current {
            Some(c) if c.realm_type == realm_type => c,
            _ => return Ok(RealmWrite::NotFound),
        };
        if expected.is_some_and(|v| v != current.version) {
            return Ok(RealmWrite::VersionConflict);
        }
        for delete in [sql::DELETE_USERS_OF_REALM, sql::DELETE] {
            self.exec(&mut *tx, sqlx::query(delete).bind(id)).await?;
        }
        self.bound.run(tx.commit()).await?;
        Ok(RealmWrite::Done(current))
    }

    pub(super) async fn realms_reorder(
        &self,
        ids: &[String],
        now: Timestamp,
    ) -> StoreResult<ReorderOutcome> {
        let mut tx = self.bound.run(self.pool.begin()).await?;
        self.lock(&mut tx).await?;
        let q = sqlx::query_scalar(sql::ALL_IDS);
        let stored: Vec<String> = self.bound.run(q.fetch_all(&mut *tx)).await?;
        if let Some(m) = mismatch(&stored, ids) {
            return Ok(m);
        }
        self.exec(&mut *tx, sqlx::query(sql::NEGATE_POSITIONS))
            .await?;
        for (i, id) in ids.iter().enumerate() {
            let q = sqlx::query(sql::SET_POSITION)
                .bind(i as i64 + 1)
                .bind(millis(now))
                .bind(id);
            self.exec(&mut *tx, q).await?;
        }
        self.bound.run(tx.commit()).await?;
        Ok(ReorderOutcome::Done)
    }
}
