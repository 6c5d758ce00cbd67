//! API keys on PostgreSQL. An insert locks the owner's user row, so concurrent inserts on any
//! replica cannot together exceed the per-user limit (see `mod.rs`).

use sqlx::postgres::PgRow;

use super::PgStore;
use crate::domain::model::{ApiKeyRecord, Digest, Timestamp};
use crate::store::rows::{self, key_roles_json, millis, KEY_COLUMNS, USER_COLUMNS};
use crate::store::{InsertKeyOutcome, KeyLookup, StoreResult};

impl PgStore {
    pub(super) async fn key_insert(
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

    pub(super) async fn key_find(&self, key_hash: &Digest) -> StoreResult<Option<KeyLookup>> {
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

    pub(super) async fn keys_list(&self, user: Option<&str>) -> StoreResult<Vec<ApiKeyRecord>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE ($1::text IS NULL OR user_name = $1) \
             ORDER BY created_at, id COLLATE \"C\""
        );
        let all = self
            .bound
            .run(sqlx::query(&sql).bind(user).fetch_all(&self.pool));
        all.await?.iter().map(rows::api_key).collect()
    }

    pub(super) async fn key_get(&self, user: &str, id: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE user_name = $1 AND id = $2");
        let q = sqlx::query(&sql).bind(user).bind(id);
        self.fetch(&self.pool, q, rows::api_key).await
    }

    pub(super) async fn keys_delete(&self, user: &str, ids: &[String]) -> StoreResult<u64> {
        // One statement over a text[]; a repeated id still counts once, as in SQLite's loop.
        let sql = "DELETE FROM api_keys WHERE user_name = $1 AND id = ANY($2)";
        self.exec(&self.pool, sqlx::query(sql).bind(user).bind(ids))
            .await
    }

    pub(super) async fn keys_delete_all(&self, user: &str) -> StoreResult<u64> {
        let q = sqlx::query("DELETE FROM api_keys WHERE user_name = $1").bind(user);
        self.exec(&self.pool, q).await
    }

    pub(super) async fn keys_purge(&self, before: Timestamp) -> StoreResult<u64> {
        let q = sqlx::query("DELETE FROM api_keys WHERE expires_at < $1").bind(millis(before));
        self.exec(&self.pool, q).await
    }
}
