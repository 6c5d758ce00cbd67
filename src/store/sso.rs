//! The part of the storage contract for SAML sign-in: the AuthnRequests in flight and the
//! assertions already used (migration 0008). A sub-trait of [`Store`](super::Store), implemented
//! by each backend in its own `sso.rs`.
//!
//! Invariants (the store-contract tests check them on each backend):
//! - `take_saml_request` hands a request back at most once, even to concurrent callers on
//!   different replicas (a delete that returns the row).
//! - `use_assertion` is true for the first caller only, until the assertion expires.
//! - Expired rows are deleted by the writes themselves, so neither table grows without bound;
//!   `begin_saml_request` refuses once `max_pending` unexpired requests exist.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::model::Timestamp;

/// An AuthnRequest issued by `_init` and not yet answered.
#[derive(Debug, Clone, PartialEq)]
pub struct SamlRequest {
    /// The AuthnRequest's `ID`, which the response names in `InResponseTo`.
    pub id: String,
    pub realm_id: String,
    /// The client's `state`, handed back after sign-in.
    pub state: Option<String>,
    pub expires_at: Timestamp,
}

#[async_trait]
pub trait SsoStore: Send + Sync {
    /// Records `request`, first deleting expired ones; `false` (nothing written) when
    /// `max_pending` unexpired requests already exist.
    async fn begin_saml_request(
        &self,
        request: &SamlRequest,
        now: Timestamp,
        max_pending: u64,
    ) -> StoreResult<bool>;

    /// Deletes and returns the request `id` if it exists and has not expired at `now`.
    async fn take_saml_request(&self, id: &str, now: Timestamp)
        -> StoreResult<Option<SamlRequest>>;

    /// Records that assertion `id` was used, until `expires_at`; `false` when it already was.
    async fn use_assertion(
        &self,
        id: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> StoreResult<bool>;
}

// The statements, in PostgreSQL's `$n` form (SQLite takes them through `realms::lite`).
pub(super) const PURGE_REQUESTS: &str = "DELETE FROM saml_requests WHERE expires_at <= $1";
pub(super) const COUNT_REQUESTS: &str = "SELECT COUNT(*) FROM saml_requests";
pub(super) const INSERT_REQUEST: &str =
    "INSERT INTO saml_requests (id, realm_id, state, expires_at) VALUES ($1, $2, $3, $4)";
pub(super) const TAKE_REQUEST: &str =
    "DELETE FROM saml_requests WHERE id = $1 RETURNING realm_id, state, expires_at";
pub(super) const PURGE_ASSERTIONS: &str = "DELETE FROM saml_assertions WHERE expires_at <= $1";
pub(super) const INSERT_ASSERTION: &str =
    "INSERT INTO saml_assertions (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING";
