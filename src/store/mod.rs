//! The storage contract every backend implements, and the choice of backend from a URL.
//!
//! Handlers speak only to `dyn Store`. Each backend (SQLite embedded, PostgreSQL shared) lives in
//! its own module with its own `migrations/<backend>/` folder embedded in the binary.
//!
//! Invariants every implementation keeps (the store-contract tests check them on each backend):
//! - Writes that must not lose updates use optimistic concurrency: `*_cas` methods write only when
//!   the stored `version` still equals the one the caller read, and bump it.
//! - Secrets never reach the store: tokens and API keys arrive as SHA-256 digests
//!   (32 raw bytes, [`Digest`]), passwords as
//!   Argon2id PHC strings.
//! - Deleting a user removes their sessions and API keys in the same transaction.
//! - `refresh_session` is atomic: one current token per session, the replaced ones get a grace
//!   deadline and are deleted once it passed, only the current token can be refreshed, at most
//!   `RefreshLimit` refreshes per session and window, concurrent refreshes serialise on the
//!   session row; its audit event is written in the same transaction.
//! - Realm writes are serialised (SQLite's one writer; a table lock on PostgreSQL): an insert
//!   or update checks id and position inside its transaction, `update_realm_cas` and
//!   `delete_realm` compare versions, and `reorder_realms` renumbers every realm or none.

pub mod cas;
pub mod postgres;
mod realms;
mod redact;
mod rows;
pub mod sqlite;
pub mod sso;

pub use redact::redact;
pub use sso::{SamlRequest, SsoStore};

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::domain::model::{
    AccountRecord, ApiKeyRecord, Digest, SessionRecord, Timestamp, TokenRecord, UserRecord,
};
use crate::domain::realms::{RealmRecord, RealmType};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key already exists (e.g. a user name).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached (connection refused, pool timeout, ...). Mapped to 503.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The schema in the database is newer than this binary knows.
    #[error("{0}")]
    SchemaTooNew(String),
    /// Anything else: a bug or corrupt data. Mapped to 500, logged.
    #[error("database error: {0}")]
    Other(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What a successful refresh produced.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshOutcome {
    /// The new token was stored; the session now expires at `session.expires_at()`.
    Refreshed(SessionRecord),
    /// The presented token is not valid any more (unknown, expired, revoked, past its grace).
    Invalid,
    /// The presented token was already replaced by a refresh: it still authenticates until its
    /// grace deadline, but cannot start a second chain of tokens. Nothing was written.
    Replaced,
    /// The session used up its refreshes for the current window; the next one is allowed at
    /// `retry_at`. Nothing was written.
    Limited { retry_at: Timestamp },
}

/// How many refreshes one session may make per fixed window (counted in the session row, so on
/// all replicas together).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefreshLimit {
    pub max: u32,
    pub window: chrono::Duration,
}

impl RefreshLimit {
    pub fn per_minute(max: u32) -> Self {
        RefreshLimit {
            max: max.max(1),
            window: chrono::Duration::minutes(1),
        }
    }
}

/// The outcome of creating an API key under a per-user limit.
#[derive(Debug, Clone, PartialEq)]
pub enum InsertKeyOutcome {
    Inserted,
    LimitReached,
    UserNotFound,
}

/// What a realm write did.
#[derive(Debug, Clone, PartialEq)]
pub enum RealmWrite {
    /// Written (for a delete: the realm as it was).
    Done(RealmRecord),
    NotFound,
    /// The stored version is not the expected one; nothing was written.
    VersionConflict,
    /// Another realm has this id (insert).
    IdConflict,
    /// Another realm has this position.
    OrderConflict,
}

/// What a reorder did.
#[derive(Debug, Clone, PartialEq)]
pub enum ReorderOutcome {
    Done,
    /// The ids given are not exactly the configured realms: `unknown` name none, `missing` were
    /// left out. Nothing was written.
    Mismatch {
        unknown: Vec<String>,
        missing: Vec<String>,
    },
}

/// A bearer token with its session and user, as one lookup returns them.
#[derive(Debug, Clone)]
pub struct TokenLookup {
    pub token: TokenRecord,
    pub session: SessionRecord,
    /// Shared: the credential cache hands the same row to every request it answers.
    pub user: std::sync::Arc<UserRecord>,
}

/// An API key with its owner.
#[derive(Debug, Clone)]
pub struct KeyLookup {
    pub key: ApiKeyRecord,
    /// Shared, as in [`TokenLookup`].
    pub user: std::sync::Arc<UserRecord>,
}

#[async_trait]
pub trait Store: SsoStore + Send + Sync + 'static {
    /// Checks the database answers (readiness).
    async fn ping(&self) -> StoreResult<()>;

    // --- account -------------------------------------------------------------------------
    async fn get_account(&self) -> StoreResult<Option<AccountRecord>>;
    /// Creates the account unless one exists; returns the stored one either way.
    async fn init_account(&self, id: &str, trust: &Value) -> StoreResult<AccountRecord>;
    /// Replaces `trust` if the version still matches. `Ok(None)`: somebody else wrote first.
    async fn update_account_cas(
        &self,
        trust: &Value,
        expected_version: i64,
    ) -> StoreResult<Option<AccountRecord>>;

    // --- users ---------------------------------------------------------------------------
    /// Fails with `Conflict` when the name is taken.
    async fn insert_user(&self, user: &UserRecord) -> StoreResult<()>;
    async fn get_user(&self, user_name: &str) -> StoreResult<Option<UserRecord>>;
    async fn list_users(&self) -> StoreResult<Vec<UserRecord>>;
    /// Writes every field of `user` if its stored version is still `user.version`; bumps it.
    /// When `end_sessions` is set, the user's sessions are revoked in the same transaction,
    /// except `keep_session` (the caller's own, on a self-service password change).
    async fn update_user_cas(
        &self,
        user: &UserRecord,
        end_sessions: bool,
        keep_session: Option<&str>,
    ) -> StoreResult<Option<UserRecord>>;
    /// Deletes the user with their sessions and keys. `false` if there was no such user.
    async fn delete_user(&self, user_name: &str) -> StoreResult<bool>;

    // --- sessions ------------------------------------------------------------------------
    /// A login: stores a new session with its first token, stamps the user's login times
    /// (`last_login_at` = the session's creation, `first_login_at` the first time, without
    /// touching `version`) and appends `audit`, in one transaction, so a
    /// login costs one commit.
    async fn start_session(
        &self,
        session: &SessionRecord,
        token_hash: &Digest,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    async fn find_token(&self, token_hash: &Digest) -> StoreResult<Option<TokenLookup>>;
    /// Replaces the session's current token by `new_token_hash`. Tokens replaced now keep working
    /// until `grace_until`; tokens whose grace ended by `now` are deleted. The session's idle
    /// expiry becomes `idle_expires_at` (capped by the absolute expiry). Checks, at `now` inside
    /// the transaction, that `old_token_hash` is valid and is the session's current token
    /// (else `Replaced`) and that the session is within `limit` (else `Limited`).
    /// A successful refresh appends `audit` in the same transaction: the rotation and its audit
    /// event are durable together, for the price of one commit.
    #[allow(clippy::too_many_arguments)]
    async fn refresh_session(
        &self,
        old_token_hash: &Digest,
        new_token_hash: &Digest,
        now: Timestamp,
        grace_until: Timestamp,
        idle_expires_at: Timestamp,
        limit: RefreshLimit,
        audit: &AuditRecord,
    ) -> StoreResult<RefreshOutcome>;
    /// Ends a session: all its tokens stop working at once.
    async fn revoke_session(&self, session_id: &str) -> StoreResult<()>;
    /// Ends all sessions of a user, except `keep`.
    async fn revoke_user_sessions(&self, user_name: &str, keep: Option<&str>) -> StoreResult<u64>;
    /// Removes sessions that ended before `before` (housekeeping).
    async fn purge_sessions(&self, before: Timestamp) -> StoreResult<u64>;
    /// Sessions neither revoked nor expired at `now` (for the `ece_active_sessions` gauge).
    async fn count_active_sessions(&self, now: Timestamp) -> StoreResult<i64>;

    // --- API keys ------------------------------------------------------------------------
    /// Inserts the key unless the owner already has `max_active` unexpired keys at `now`.
    async fn insert_api_key(
        &self,
        key: &ApiKeyRecord,
        max_active: u32,
        now: Timestamp,
    ) -> StoreResult<InsertKeyOutcome>;
    async fn find_api_key(&self, key_hash: &Digest) -> StoreResult<Option<KeyLookup>>;
    /// Keys of one user (`Some`) or of everybody (`None`), oldest first.
    async fn list_api_keys(&self, user_name: Option<&str>) -> StoreResult<Vec<ApiKeyRecord>>;
    async fn get_api_key(&self, user_name: &str, id: &str) -> StoreResult<Option<ApiKeyRecord>>;
    /// Deletes the listed keys of `user_name`; returns how many existed.
    async fn delete_api_keys(&self, user_name: &str, ids: &[String]) -> StoreResult<u64>;
    /// Deletes every key of `user_name`.
    async fn delete_all_api_keys(&self, user_name: &str) -> StoreResult<u64>;
    /// Deletes keys that expired before `before` (housekeeping); returns how many.
    async fn purge_api_keys(&self, before: Timestamp) -> StoreResult<u64>;

    // --- security realms -----------------------------------------------------------------
    /// Every configured realm, in evaluation order.
    async fn list_realms(&self) -> StoreResult<Vec<RealmRecord>>;
    async fn get_realm(&self, id: &str) -> StoreResult<Option<RealmRecord>>;
    /// Inserts `realm` with version 1; `position` 0 takes the next position after the last.
    async fn insert_realm(&self, realm: &RealmRecord) -> StoreResult<RealmWrite>;
    /// Replaces name, position, enabled, settings and secrets of the realm with `realm.id` and
    /// `realm.realm_type` if its stored version is still `realm.version`; bumps it. Saved as
    /// disabled, the realm's external users lose their sessions and API keys in the same
    /// transaction.
    async fn update_realm_cas(&self, realm: &RealmRecord) -> StoreResult<RealmWrite>;
    /// Deletes the realm of `id` and `realm_type`, only at `expected_version` when given, with
    /// its external users (and so their sessions and API keys) in the same transaction.
    async fn delete_realm(
        &self,
        id: &str,
        realm_type: RealmType,
        expected_version: Option<i64>,
    ) -> StoreResult<RealmWrite>;
    /// Gives the realms positions 1, 2, ... in the order of `ids`, which must name every
    /// configured realm once; bumps every version. All or nothing.
    async fn reorder_realms(&self, ids: &[String], now: Timestamp) -> StoreResult<ReorderOutcome>;

    // --- audit log -----------------------------------------------------------------------
    /// Appends one event (its `id` is ignored and assigned by the database).
    async fn append_audit(&self, event: &AuditRecord) -> StoreResult<()>;
    /// The newest `filter.limit` matching events, returned oldest first.
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>>;
    /// Removes events older than `before` (retention); returns how many.
    async fn purge_audit(&self, before: Timestamp) -> StoreResult<u64>;
}

/// One stored audit event, defined with the events themselves.
pub use crate::domain::audit::AuditRecord;

/// Which audit events to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Events whose actor or target is this user.
    pub user: Option<String>,
    /// Events of this kind.
    pub event: Option<String>,
    /// At or after this time.
    pub since: Option<Timestamp>,
    /// Before this time.
    pub until: Option<Timestamp>,
    /// At most this many (the most recent); `None`: all.
    pub limit: Option<u32>,
}

/// Whether a bearer token of `session` authenticates at `now`: the session is neither revoked nor
/// expired, and the token is current or still inside its post-refresh grace period.
pub fn token_usable(token: &TokenRecord, session: &SessionRecord, now: Timestamp) -> bool {
    !session.revoked
        && now < session.expires_at()
        && token.valid_until.is_none_or(|until| now < until)
}

/// Opens the store a URL names: `sqlite://path` or `postgres://...`. Runs pending migrations
/// when `migrate` is set; otherwise only checks the schema is not newer than this binary.
pub async fn open(url: &str, opts: &StoreOptions) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        postgres::connect(url, opts).await
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url, opts).await?))
    } else {
        anyhow::bail!(
            "unsupported database URL (expected sqlite://PATH or postgres://...): {}",
            redact(url)
        )
    }
}

/// Connection settings shared by the backends. Their `Default` (migrations applied) is the
/// command line's, see `crate::config`.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Apply pending migrations on open.
    pub migrate: bool,
    /// Largest number of pooled connections.
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before failing with 503.
    pub acquire_timeout: std::time::Duration,
    /// Per-statement timeout (PostgreSQL `statement_timeout`; SQLite busy timeout).
    pub statement_timeout: std::time::Duration,
}

/// Maps a sqlx error to the store's error kinds. Shared by both backends.
pub(crate) fn map_sqlx(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_string())
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(db)
            if db
                .code()
                .is_some_and(|c| c.starts_with("08") || c == "57P01" || c == "57014") =>
        {
            StoreError::Unavailable(e.to_string())
        }
        // SQLite's counterpart of a statement timeout: still locked after the busy timeout
        // (SQLITE_BUSY / SQLITE_LOCKED and their extended codes).
        sqlx::Error::Database(db) if sqlite_busy(db.as_ref()) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Other(e.to_string()),
    }
}

fn sqlite_busy(db: &dyn sqlx::error::DatabaseError) -> bool {
    db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
        && db
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|code| matches!(code & 0xff, 5 | 6))
}
