//! SAML sign-in state on SQLite (the contract is `store::sso`'s). Writes go through the single
//! writer connection, so the count-then-insert of `begin_saml_request` holds.

use async_trait::async_trait;
use sqlx::Row;

use super::SqliteStore;
use crate::domain::model::Timestamp;
use crate::store::realms::lite;
use crate::store::rows::{from_millis, millis};
use crate::store::sso::{self as sql, SamlRequest, SsoStore};
use crate::store::{map_sqlx, StoreResult};

#[async_trait]
impl SsoStore for SqliteStore {
    async fn begin_saml_request(
        &self,
        request: &SamlRequest,
        now: Timestamp,
        max_pending: u64,
    ) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        sqlx::query(&lite(sql::PURGE_REQUESTS))
            .bind(millis(now))
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        let pending: i64 = sqlx::query_scalar(sql::COUNT_REQUESTS)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        if pending as u64 >= max_pending {
            return Ok(false);
        }
        sqlx::query(&lite(sql::INSERT_REQUEST))
            .bind(&request.id)
            .bind(&request.realm_id)
            .bind(&request.state)
            .bind(millis(request.expires_at))
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(true)
    }

    async fn take_saml_request(
        &self,
        id: &str,
        now: Timestamp,
    ) -> StoreResult<Option<SamlRequest>> {
        let row = sqlx::query(&lite(sql::TAKE_REQUEST))
            .bind(id)
            .fetch_optional(&self.writer)
            .await
            .map_err(map_sqlx)?;
        Ok(row.and_then(|r| {
            let request = SamlRequest {
                id: id.to_string(),
                realm_id: r.get(0),
                state: r.get(1),
                expires_at: from_millis(r.get(2)),
            };
            (request.expires_at > now).then_some(request)
        }))
    }

    async fn use_assertion(
        &self,
        id: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(map_sqlx)?;
        sqlx::query(&lite(sql::PURGE_ASSERTIONS))
            .bind(millis(now))
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        let done = sqlx::query(&lite(sql::INSERT_ASSERTION))
            .bind(id)
            .bind(millis(expires_at))
            .execute(&mut *tx)
            .await
            .map_err(map_sqlx)?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(done.rows_affected() == 1)
    }
}
