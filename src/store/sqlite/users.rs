//! Users on SQLite: the writes and the listing, through sqlx (a single user's point lookup is a
//! hot path, in `hot_path.rs`). Writes run on the single writer connection.

use super::SqliteStore;
use crate::domain::model::UserRecord;
use crate::store::rows::{self, deployments_json, millis, roles_json, USER_COLUMNS};
use crate::store::{map_sqlx, StoreResult};

impl SqliteStore {
    pub(super) async fn user_insert(&self, u: &UserRecord) -> StoreResult<()> {
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

    pub(super) async fn users_list(&self) -> StoreResult<Vec<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY user_name");
        let rows = sqlx::query(&sql)
            .fetch_all(&self.reader)
            .await
            .map_err(map_sqlx)?;
        rows.iter().map(rows::user).collect()
    }

    pub(super) async fn user_update(
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

    pub(super) async fn user_delete(&self, name: &str) -> StoreResult<bool> {
        // Sessions, tokens and keys go with the user through ON DELETE CASCADE.
        let done = sqlx::query("DELETE FROM users WHERE user_name = ?")
            .bind(name)
            .execute(&self.writer)
            .await
            .map_err(map_sqlx)?;
        Ok(done.rows_affected() > 0)
    }

    /// The user named `name` as `conn` sees it (inside the caller's transaction).
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
