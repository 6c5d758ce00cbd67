//! SAML sign-in state on PostgreSQL (the contract is `store::sso`'s). The count-then-insert of
//! `begin_saml_request` is not serialised across replicas: the bound it keeps is approximate
//! (each replica may overshoot by its in-flight inserts), which is all a flood guard needs.

use async_trait::async_trait;
use sqlx::Row;

use super::PgStore;
use crate::domain::model::Timestamp;
use crate::store::rows::{from_millis, millis};
use crate::store::sso::{self as sql, SamlRequest, SsoStore};
use crate::store::{map_sqlx, StoreResult};

#[async_trait]
impl SsoStore for PgStore {
    async fn begin_saml_request(
        &self,
        request: &SamlRequest,
        now: Timestamp,
        max_pending: u64,
    ) -> StoreResult<bool> {
        self.exec(
            &self.pool,
            sqlx::query(sql::PURGE_REQUESTS).bind(millis(now)),
        )
        .await?;
        let pending: i64 = self
            .bound
            .run(sqlx::query_scalar(sql::COUNT_REQUESTS).fetch_one(&self.pool))
            .await?;
        if pending as u64 >= max_pending {
            return Ok(false);
        }
        let q = sqlx::query(sql::INSERT_REQUEST)
            .bind(&request.id)
            .bind(&request.realm_id)
            .bind(&request.state)
            .bind(millis(request.expires_at));
        self.exec(&self.pool, q).await?;
        Ok(true)
    }

    async fn take_saml_request(
        &self,
        id: &str,
        now: Timestamp,
    ) -> StoreResult<Option<SamlRequest>> {
        let q = sqlx::query(sql::TAKE_REQUEST).bind(id);
        let request = self
            .fetch(&self.pool, q, |r| {
                Ok(SamlRequest {
                    id: id.to_string(),
                    realm_id: r.try_get(0).map_err(map_sqlx)?,
                    state: r.try_get(1).map_err(map_sqlx)?,
                    expires_at: from_millis(r.try_get(2).map_err(map_sqlx)?),
                })
            })
            .await?;
        Ok(request.filter(|r| r.expires_at > now))
    }

    async fn use_assertion(
        &self,
        id: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool> {
        self.exec(
            &self.pool,
            sqlx::query(sql::PURGE_ASSERTIONS).bind(millis(now)),
        )
        .await?;
        let q = sqlx::query(sql::INSERT_ASSERTION)
            .bind(id)
            .bind(millis(expires_at));
        Ok(self.exec(&self.pool, q).await? == 1)
    }
}
