//! Users on PostgreSQL. An update is a compare-and-swap on the row's version (no explicit lock,
//! see `mod.rs`), with the sessions it ends in the same transaction.

use super::PgStore;
use crate::domain::model::UserRecord;
use crate::store::rows::{self, deployments_json, millis, roles_json, USER_COLUMNS};
use crate::store::StoreResult;

impl PgStore {
    pub(super) async fn user_insert(&self, u: &UserRecord) -> StoreResult<()> {
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

    pub(super) async fn user_get(&self, name: &str) -> StoreResult<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE user_name = $1");
        self.fetch(&self.pool, sqlx::query(&sql).bind(name), rows::user)
            .await
    }

    pub(super) async fn users_list(&self) -> StoreResult<Vec<UserRecord>> {
        // Byte order like SQLite, whatever the database's collation.
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY user_name COLLATE \"C\"");
        let all = self.bound.run(sqlx::query(&sql).fetch_all(&self.pool));
        all.await?.iter().map(rows::user).collect()
    }

    pub(super) async fn user_update(
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

    pub(super) async fn user_delete(&self, name: &str) -> StoreResult<bool> {
        // Sessions, tokens and keys go with the user through ON DELETE CASCADE.
        let q = sqlx::query("DELETE FROM users WHERE user_name = $1").bind(name);
        Ok(self.exec(&self.pool, q).await? > 0)
    }
}
