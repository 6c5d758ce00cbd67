//! Row decoding shared by the SQL backends.
//!
//! Both schemas use the same column names and types that decode to the same Rust types
//! (timestamps as epoch milliseconds, JSON as text), so one generic decoder per record serves both.

use chrono::TimeZone;
use serde_json::Value;
use sqlx::{ColumnIndex, Decode, Row, Type};

use super::{StoreError, StoreResult};
use crate::domain::model::{
    platform_assignments, AccountRecord, ApiKeyRecord, Digest, RealmRef, SessionRecord, Timestamp,
    TokenRecord, UserRecord,
};
use crate::domain::realms::{RealmRecord, RealmType};
use crate::domain::roles::{DeploymentRoleAssignment, Role};

pub fn millis(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

pub fn from_millis(ms: i64) -> Timestamp {
    chrono::Utc
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
}

fn json(text: &str) -> StoreResult<Value> {
    serde_json::from_str(text).map_err(|e| StoreError::Other(format!("corrupt JSON column: {e}")))
}

/// Reads one column by name. Implemented for the sqlx rows of both backends and for rusqlite rows
/// ([`LiteRow`], the SQLite hot paths in `sqlite/hot_path.rs`), so one decoder per record serves all.
pub trait DecodeRow {
    fn text(&self, col: &str) -> StoreResult<String>;
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>>;
    fn int(&self, col: &str) -> StoreResult<i64>;
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>>;
    fn flag(&self, col: &str) -> StoreResult<bool>;
    /// A 32-byte digest column (BLOB / BYTEA).
    fn digest(&self, col: &str) -> StoreResult<Digest>;
}

fn digest_of(bytes: &[u8], col: &str) -> StoreResult<Digest> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Other(format!("{col} is not a 32-byte digest")))
}

impl<R> DecodeRow for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> &'r [u8]: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, col: &str) -> StoreResult<String> {
        self.try_get(col).map_err(super::map_sqlx)
    }
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        self.try_get(col).map_err(super::map_sqlx)
    }
    fn int(&self, col: &str) -> StoreResult<i64> {
        self.try_get(col).map_err(super::map_sqlx)
    }
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        self.try_get(col).map_err(super::map_sqlx)
    }
    fn flag(&self, col: &str) -> StoreResult<bool> {
        self.try_get(col).map_err(super::map_sqlx)
    }
    fn digest(&self, col: &str) -> StoreResult<Digest> {
        digest_of(self.try_get::<&[u8], _>(col).map_err(super::map_sqlx)?, col)
    }
}

/// A rusqlite row, read through [`DecodeRow`].
///
/// Columns are found by name among `names`, the statement's result columns taken once
/// ([`column_names`]; the SQLite hot paths keep them per statement in `hot_path::Lookup`):
/// asking SQLite for a column's name is a C call, a `strlen` and a UTF-8 check each time, and a
/// fifth of the CPU of listing 1,000 keys went to it. The decoders read columns roughly in
/// SELECT order, so the search starts just after the column found last and usually succeeds at
/// once.
pub struct LiteRow<'a, 'b> {
    row: &'a rusqlite::Row<'b>,
    names: &'a [String],
    next: std::cell::Cell<usize>,
}

/// The names of `stmt`'s result columns, for [`LiteRow::new`].
pub fn column_names(stmt: &rusqlite::Statement<'_>) -> Vec<String> {
    stmt.column_names().into_iter().map(String::from).collect()
}

impl<'a, 'b> LiteRow<'a, 'b> {
    /// A row of a statement whose result columns are `names` (from [`column_names`]).
    pub fn new(row: &'a rusqlite::Row<'b>, names: &'a [String]) -> Self {
        LiteRow {
            row,
            names,
            next: std::cell::Cell::new(0),
        }
    }

    fn index(&self, col: &str) -> StoreResult<usize> {
        let n = self.names.len();
        let start = self.next.get();
        (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| self.names[i] == col)
            .inspect(|&i| self.next.set(i + 1))
            .ok_or_else(|| StoreError::Other(format!("no column {col} in the result")))
    }

    fn get<T: rusqlite::types::FromSql>(&self, col: &str) -> StoreResult<T> {
        self.row.get(self.index(col)?).map_err(map_lite)
    }
}

impl DecodeRow for LiteRow<'_, '_> {
    fn text(&self, col: &str) -> StoreResult<String> {
        self.get(col)
    }
    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        self.get(col)
    }
    fn int(&self, col: &str) -> StoreResult<i64> {
        self.get(col)
    }
    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        self.get(col)
    }
    fn flag(&self, col: &str) -> StoreResult<bool> {
        self.get(col)
    }
    fn digest(&self, col: &str) -> StoreResult<Digest> {
        // Borrowed from SQLite's row buffer: no allocation for the 32 bytes.
        let value = self.row.get_ref(self.index(col)?).map_err(map_lite)?;
        let bytes = value
            .as_blob()
            .map_err(|e| StoreError::Other(format!("{col}: {e}")))?;
        digest_of(bytes, col)
    }
}

pub fn account<R: DecodeRow>(r: &R) -> StoreResult<AccountRecord> {
    Ok(AccountRecord {
        id: r.text("id")?,
        trust: json(&r.text("trust")?)?,
        version: r.int("version")?,
    })
}

/// Columns of `users`, in the order `user()` expects none: it reads by name.
pub const USER_COLUMNS: &str = "users.user_name, users.full_name, users.email, users.password_hash, \
    users.roles, users.role_assignments, users.enabled, users.builtin, users.created_at, users.created_by, \
    users.updated_at, users.updated_by, users.first_login_at, users.last_login_at, users.version, \
    users.realm_id, users.realm_type";

pub fn user<R: DecodeRow>(r: &R) -> StoreResult<UserRecord> {
    let roles: Vec<Role> = serde_json::from_value(json(&r.text("roles")?)?)
        .map_err(|e| StoreError::Other(format!("corrupt roles column: {e}")))?;
    let deployments = deployments(&json(&r.text("role_assignments")?)?)?;
    let realm = match (r.opt_text("realm_id")?, r.opt_text("realm_type")?) {
        (Some(id), Some(t)) => Some(RealmRef {
            id,
            realm_type: RealmType::parse(&t)
                .ok_or_else(|| StoreError::Other(format!("corrupt realm_type column: {t}")))?,
        }),
        (None, None) => None,
        _ => {
            return Err(StoreError::Other(
                "realm_id and realm_type must be set together".into(),
            ))
        }
    };
    Ok(UserRecord {
        user_name: r.text("user_name")?,
        full_name: r.opt_text("full_name")?,
        email: r.opt_text("email")?,
        password_hash: r.text("password_hash")?,
        roles,
        deployments,
        enabled: r.flag("enabled")?,
        builtin: r.flag("builtin")?,
        created_at: from_millis(r.int("created_at")?),
        created_by: r.opt_text("created_by")?,
        updated_at: from_millis(r.int("updated_at")?),
        updated_by: r.opt_text("updated_by")?,
        first_login_at: r.opt_int("first_login_at")?.map(from_millis),
        last_login_at: r.opt_int("last_login_at")?.map(from_millis),
        version: r.int("version")?,
        realm,
    })
}

pub const SESSION_COLUMNS: &str = "sessions.id AS session_id, sessions.user_name AS session_user, \
    sessions.created_at AS session_created_at, sessions.idle_expires_at, sessions.absolute_expires_at, \
    sessions.revoked";

pub fn session<R: DecodeRow>(r: &R) -> StoreResult<SessionRecord> {
    Ok(SessionRecord {
        id: r.text("session_id")?,
        user_name: r.text("session_user")?,
        created_at: from_millis(r.int("session_created_at")?),
        idle_expires_at: from_millis(r.int("idle_expires_at")?),
        absolute_expires_at: from_millis(r.int("absolute_expires_at")?),
        revoked: r.flag("revoked")?,
    })
}

pub fn token<R: DecodeRow>(r: &R) -> StoreResult<TokenRecord> {
    Ok(TokenRecord {
        token_hash: r.digest("token_hash")?,
        session_id: r.text("session_id")?,
        valid_until: r.opt_int("valid_until")?.map(from_millis),
    })
}

pub const KEY_COLUMNS: &str =
    "api_keys.id AS key_id, api_keys.user_name AS key_user, api_keys.description, \
    api_keys.key_hash, api_keys.created_at AS key_created_at, api_keys.expires_at, \
    api_keys.role_assignments AS key_role_assignments";

pub fn api_key<R: DecodeRow>(r: &R) -> StoreResult<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: r.text("key_id")?,
        user_name: r.text("key_user")?,
        description: r.text("description")?,
        key_hash: r.digest("key_hash")?,
        created_at: from_millis(r.int("key_created_at")?),
        expires_at: r.opt_int("expires_at")?.map(from_millis),
        platform_roles: r
            .opt_text("key_role_assignments")?
            .map(|t| platform_roles(&json(&t)?))
            .transpose()?
            .flatten(),
    })
}

pub fn roles_json(roles: &[Role]) -> String {
    serde_json::to_string(roles).unwrap_or_else(|_| "[]".into())
}

/// A user's `role_assignments` column: `{"deployment": [...]}`.
pub fn deployments_json(deployments: &[DeploymentRoleAssignment]) -> String {
    serde_json::json!({ "deployment": deployments }).to_string()
}

fn deployments(v: &Value) -> StoreResult<Vec<DeploymentRoleAssignment>> {
    match v.get("deployment") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(d) => serde_json::from_value(d.clone())
            .map_err(|e| StoreError::Other(format!("corrupt role_assignments column: {e}"))),
    }
}

/// A key's `role_assignments` column: `{"platform": [{"role_id": ...}]}`.
pub fn key_roles_json(roles: &[Role]) -> String {
    platform_assignments(roles).to_string()
}

/// `None` when the column names no platform roles: the key acts with its owner's roles.
fn platform_roles(v: &Value) -> StoreResult<Option<Vec<Role>>> {
    let corrupt =
        |e: String| StoreError::Other(format!("corrupt key role_assignments column: {e}"));
    let Some(platform) = v.get("platform").and_then(Value::as_array) else {
        return Ok(None);
    };
    platform
        .iter()
        .map(|p| {
            let id = p.get("role_id").and_then(Value::as_str).unwrap_or("");
            Role::parse(id).ok_or_else(|| corrupt(format!("unknown role [{id}]")))
        })
        .collect::<StoreResult<Vec<Role>>>()
        .map(Some)
}

/// Refuses to run against a schema newer than the migrations this binary embeds.
pub fn check_schema_version(
    applied_max: Option<i64>,
    migrator: &sqlx::migrate::Migrator,
) -> StoreResult<()> {
    let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    match applied_max {
        Some(v) if v > known => Err(StoreError::SchemaTooNew(format!(
            "the database schema is at version {v}, but this ece-server only knows versions up to {known}; \
             upgrade ece-server before pointing it at this database"
        ))),
        _ => Ok(()),
    }
}

pub const REALM_COLUMNS: &str =
    "id, realm_type, name, position, enabled, settings, secrets, version, created_at, updated_at";

pub fn realm<R: DecodeRow>(r: &R) -> StoreResult<RealmRecord> {
    let realm_type = r.text("realm_type")?;
    Ok(RealmRecord {
        id: r.text("id")?,
        realm_type: RealmType::parse(&realm_type)
            .ok_or_else(|| StoreError::Other(format!("unknown realm type {realm_type}")))?,
        name: r.text("name")?,
        position: i32::try_from(r.int("position")?)
            .map_err(|_| StoreError::Other("realm position out of range".into()))?,
        enabled: r.flag("enabled")?,
        settings: json(&r.text("settings")?)?,
        sealed_secrets: r.opt_text("secrets")?,
        version: r.int("version")?,
        created_at: from_millis(r.int("created_at")?),
        updated_at: from_millis(r.int("updated_at")?),
    })
}

pub const AUDIT_COLUMNS: &str = "id, at, event, outcome, actor, source, target, detail";

pub fn audit<R: DecodeRow>(r: &R) -> StoreResult<super::AuditRecord> {
    Ok(super::AuditRecord {
        id: r.int("id")?,
        at: from_millis(r.int("at")?),
        event: r.text("event")?,
        outcome: r.text("outcome")?,
        actor: r.opt_text("actor")?,
        source: r.opt_text("source")?,
        target: r.opt_text("target")?,
        detail: json(&r.text("detail")?)?,
    })
}

/// Decodes audit rows fetched newest first (to apply a limit to the most recent ones) and
/// returns them oldest first, as `Store::list_audit` promises.
pub fn audits_oldest_first<R: DecodeRow>(found: &[R]) -> StoreResult<Vec<super::AuditRecord>> {
    let mut events = found.iter().map(audit).collect::<StoreResult<Vec<_>>>()?;
    events.reverse();
    Ok(events)
}

/// Maps a rusqlite error to the store's error kinds (busy or locked past the timeout: 503).
pub(crate) fn map_lite(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(e.to_string())
        }
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict(e.to_string()),
        _ => StoreError::Other(e.to_string()),
    }
}
