//! Domain records (what the store keeps) and the wire types of the official ECE definitions.
//!
//! Records carry timestamps as UTC `DateTime`s; wire types serialise them as RFC 3339 with
//! milliseconds and a `Z`, the `date-time` format the swagger declares. Field names of wire types
//! follow `ece-identity-swagger.json` exactly; optional fields are omitted rather than sent as `null`.

use chrono::SecondsFormat;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::domain::realms::RealmType;
use crate::domain::roles::{DeploymentRoleAssignment, Role};

pub use crate::domain::clock::Timestamp;

/// Serialises a timestamp the way the official API does (`2024-01-02T03:04:05.678Z`).
pub fn ts<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    // On the stack: listings serialise two of these per item (see `rfc3339`).
    let mut buf = [0u8; 24];
    match super::rfc3339::millis(t, &mut buf) {
        Some(text) => s.serialize_str(text),
        None => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true)),
    }
}

fn ts_opt<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => ts(t, s),
        None => s.serialize_none(),
    }
}

pub fn fmt_ts(t: &Timestamp) -> String {
    let mut buf = [0u8; 24];
    match super::rfc3339::millis(t, &mut buf) {
        Some(text) => text.to_string(),
        None => t.to_rfc3339_opts(SecondsFormat::Millis, true),
    }
}

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

/// The account's trust setting before anybody changes it.
pub fn default_trust() -> Value {
    serde_json::json!({ "trust_all": true })
}

/// The installation's single account. `trust` is the stored `AccountTrustSettings` object
/// (additional properties are allowed by the spec, so it is kept as JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct AccountRecord {
    pub id: String,
    pub trust: Value,
    /// Optimistic-concurrency version, bumped by every write.
    pub version: i64,
}

/// A native user.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub user_name: String,
    pub full_name: Option<String>,
    pub email: Option<String>,
    /// Argon2id PHC string. Never leaves the server.
    pub password_hash: String,
    /// ECE roles (`ece_platform_admin`, ...), sorted, without duplicates.
    pub roles: Vec<Role>,
    /// Deployment-scope role assignments (kept, granting nothing on this server).
    pub deployments: Vec<DeploymentRoleAssignment>,
    pub enabled: bool,
    pub builtin: bool,
    pub created_at: Timestamp,
    pub created_by: Option<String>,
    pub updated_at: Timestamp,
    pub updated_by: Option<String>,
    pub first_login_at: Option<Timestamp>,
    pub last_login_at: Option<Timestamp>,
    /// Optimistic-concurrency version, bumped by every write.
    pub version: i64,
    /// The realm that owns this user: `None` for native users. Set when an external user is first
    /// recorded (at its first directory sign-in) and never changed afterwards.
    pub realm: Option<RealmRef>,
}

/// The configured realm an external user signed in through (`security.security_realm`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealmRef {
    pub id: String,
    pub realm_type: RealmType,
}

impl UserRecord {
    /// Whether the user belongs to a directory realm: its profile and roles come from there, so
    /// the API does not change them (`user.cannot_modify_external`).
    pub fn is_external(&self) -> bool {
        self.realm.is_some()
    }

    /// A new native user: enabled, not built-in, no profile, no deployment role assignments,
    /// created (and last updated) `now` by `created_by`.
    pub fn new(
        user_name: &str,
        password_hash: String,
        roles: Vec<Role>,
        created_by: Option<String>,
        now: Timestamp,
    ) -> Self {
        UserRecord {
            user_name: user_name.to_string(),
            full_name: None,
            email: None,
            password_hash,
            roles,
            deployments: Vec::new(),
            enabled: true,
            builtin: false,
            created_at: now,
            created_by: created_by.clone(),
            updated_at: now,
            updated_by: created_by,
            first_login_at: None,
            last_login_at: None,
            version: 1,
            realm: None,
        }
    }
}

/// The SHA-256 digest of a bearer token or API key secret: what the store keeps and is queried
/// with, as 32 raw bytes end to end (a BLOB / BYTEA column; hex text would double the index).
pub type Digest = [u8; 32];

/// An API key's stored form: only the SHA-256 of the secret is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub user_name: String,
    pub description: String,
    pub key_hash: Digest,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    /// The platform roles the key was restricted to when created (`None`: the owner's roles). A
    /// key acts with those of them its owner still holds.
    pub platform_roles: Option<Vec<Role>>,
}

/// A login session: a chain of bearer tokens issued by `_login` and `_refresh`.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub id: String,
    pub user_name: String,
    pub created_at: Timestamp,
    /// Sliding expiry, pushed forward by every refresh.
    pub idle_expires_at: Timestamp,
    /// Hard end of the session, whatever the refreshes.
    pub absolute_expires_at: Timestamp,
    pub revoked: bool,
}

impl SessionRecord {
    /// When the session ends if nothing else happens.
    pub fn expires_at(&self) -> Timestamp {
        self.idle_expires_at.min(self.absolute_expires_at)
    }
}

/// One bearer token of a session, as returned by a token lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub token_hash: Digest,
    pub session_id: String,
    /// `None` while the token is the session's current one; once replaced by a refresh, the end
    /// of its grace period.
    pub valid_until: Option<Timestamp>,
}

// ---------------------------------------------------------------------------------------------
// Wire types (definitions of the official swagger)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Serialize)]
pub struct AccountResponse {
    pub id: String,
    pub trust: Value,
}

#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub token: String,
    #[serde(serialize_with = "ts")]
    pub session_expiration_time: Timestamp,
}

#[derive(Debug, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub login_state: Option<LoginState>,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct LoginState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AuthenticationInfo {
    pub has_elevated_permissions: bool,
    pub refresh_token_url: String,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ts_opt")]
    pub expires_at: Option<Timestamp>,
}

#[derive(Debug, Serialize)]
pub struct AvailableAuthenticationMethods {
    pub password: bool,
    pub saml: bool,
    pub openid: bool,
    pub sso_methods: Vec<Value>,
}

#[derive(Debug, Serialize)]
pub struct ApiKeyResponse {
    pub id: String,
    pub user_id: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(serialize_with = "ts")]
    pub creation_date: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ts_opt")]
    pub expiration_date: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_assignments: Option<Value>,
}

impl ApiKeyResponse {
    /// Metadata only: the secret is never stored, so it can never be listed.
    pub fn from_record(k: &ApiKeyRecord) -> Self {
        ApiKeyResponse {
            id: k.id.clone(),
            user_id: k.user_name.clone(),
            description: k.description.clone(),
            key: None,
            creation_date: k.created_at,
            expiration_date: k.expires_at,
            role_assignments: k.platform_roles.as_deref().map(platform_assignments),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ApiKeysResponse {
    pub keys: Vec<ApiKeyResponse>,
}

/// `{}`: the spec's `EmptyResponse`.
#[derive(Debug, Serialize)]
pub struct EmptyResponse {}

/// The `RoleAssignments` JSON of platform roles: `{"platform": [{"role_id": ...}, ...]}`.
pub fn platform_assignments(roles: &[Role]) -> Value {
    let platform: Vec<Value> = roles
        .iter()
        .map(|r| serde_json::json!({ "role_id": r.as_str() }))
        .collect();
    serde_json::json!({ "platform": platform })
}
