//! API keys on SQLite: the writes and everybody's listing, through sqlx. The lookup of a key and
//! the listing of one user's keys are hot paths (`hot_path.rs`, `key_list.rs`).

use super::SqliteStore;
use crate::domain::model::{ApiKeyRecord, Timestamp};
use crate::store::rows::{self, key_roles_json, millis, KEY_COLUMNS};
use crate::store::{map_sqlx, InsertKeyOutcome, StoreResult};

impl SqliteStore {
    pub(super) async fn key_insert(
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

    pub(super) async fn keys_list(&self, user: Option<&str>) -> StoreResult<Vec<ApiKeyRecord>> {
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

    pub(super) async fn key_get(&self, user: &str, id: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE user_name = ? AND id = ?");
        let row = sqlx::query(&sql)
            .bind(user)
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_sqlx)?;
        row.as_ref().map(rows::api_key).transpose()
    }

    pub(super) async fn keys_delete(&self, user: &str, ids: &[String]) -> StoreResult<u64> {
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

    pub(super) async fn keys_delete_all(&self, user: &str) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM api_keys WHERE user_name = ?")
            .bind(user)
            .execute(&self.writer)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected())
    }

    pub(super) async fn keys_purge(&self, before: Timestamp) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM api_keys WHERE expires_at < ?")
            .bind(millis(before))
            .execute(&self.writer)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected())
    }
}
