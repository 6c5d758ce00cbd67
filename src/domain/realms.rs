//! Security realms (tag PlatformConfigurationSecurity): the stored record, the wire types of the
//! official definitions (`LdapSettings`, `ActiveDirectorySettings`, `SecurityRealmInfo`, ...),
//! their validation ([`validate`]) and the pure role mapping ([`mapping`]).
//!
//! Field names follow `spec/ece-realms-swagger.json` exactly. The secret fields
//! ([`SECRET_FIELDS`]) are write-only: [`RealmRecord::settings`] never holds them (they travel
//! sealed, see `crate::security::sealed`), so no reply built from a record can carry one.
//! SAML realms (`SamlSettings`, [`saml`]) are configured here too; their sign-in flow is not
//! served yet, and password sign-in never asks them.

pub mod mapping;
pub mod saml;
mod secrets;
mod urls;
mod validate;

pub use saml::{SamlRoleMappings, SamlRuleType, SamlSettings};
pub use secrets::RealmSecrets;
pub use validate::{validate_realm_id, validate_settings, Validated};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::clock::Timestamp;

/// The id under which the native users are listed. Always evaluated first, never stored,
/// never deleted; a configured realm cannot take this id.
pub const NATIVE_REALM_ID: &str = "native";

/// The secret fields of LDAP and Active Directory settings: write-only, sealed at rest.
pub const DIRECTORY_SECRET_FIELDS: &[&str] =
    &["bind_password", "certificate_url_truststore_password"];

/// The secret fields of SAML settings (the passwords of its certificate bundles).
pub const SAML_SECRET_FIELDS: &[&str] = &[
    "signing_certificate_url_password",
    "encryption_certificate_url_password",
    "ssl_certificate_url_truststore_password",
];

/// Every secret field of every realm type: none of them is ever rendered, whatever the type.
pub const SECRET_FIELDS: &[&str] = &[
    "bind_password",
    "certificate_url_truststore_password",
    "signing_certificate_url_password",
    "encryption_certificate_url_password",
    "ssl_certificate_url_truststore_password",
];

/// The kinds of configured realm (the `type` of `SecurityRealmInfo`, native aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RealmType {
    Ldap,
    ActiveDirectory,
    Saml,
}

impl RealmType {
    /// The stored and listed name (`SecurityRealmInfo.type`).
    pub fn as_str(self) -> &'static str {
        match self {
            RealmType::Ldap => "ldap",
            RealmType::ActiveDirectory => "active_directory",
            RealmType::Saml => "saml",
        }
    }

    pub fn parse(s: &str) -> Option<RealmType> {
        match s {
            "ldap" => Some(RealmType::Ldap),
            "active_directory" => Some(RealmType::ActiveDirectory),
            "saml" => Some(RealmType::Saml),
            _ => None,
        }
    }

    /// How people call it in messages.
    pub fn label(self) -> &'static str {
        match self {
            RealmType::Ldap => "LDAP",
            RealmType::ActiveDirectory => "Active Directory",
            RealmType::Saml => "SAML",
        }
    }

    /// The write-only fields of this type's settings.
    pub fn secret_fields(self) -> &'static [&'static str] {
        match self {
            RealmType::Ldap | RealmType::ActiveDirectory => DIRECTORY_SECRET_FIELDS,
            RealmType::Saml => SAML_SECRET_FIELDS,
        }
    }

    /// Whether people sign in to it with a user name and password (`_login`, Basic).
    pub fn takes_passwords(self) -> bool {
        matches!(self, RealmType::Ldap | RealmType::ActiveDirectory)
    }
}

/// One configured realm as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RealmRecord {
    pub id: String,
    pub realm_type: RealmType,
    pub name: String,
    /// The evaluation order (`order` on the wire), > 0 and unique; the native realm is 0.
    /// On insert, 0 asks the store for the next free position (after the last realm).
    pub position: i32,
    pub enabled: bool,
    /// The settings document as the API shows it, without `id`, `order`, `enabled` (columns)
    /// and without any secret field.
    pub settings: Value,
    /// The secret fields, sealed (`crate::security::sealed`); `None`: no secret set.
    pub sealed_secrets: Option<String>,
    /// Optimistic-concurrency version, bumped by every write (reorders too).
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl RealmRecord {
    /// The settings document of a GET: the stored settings with `id`, `order` and `enabled`.
    pub fn to_json(&self) -> Value {
        let mut doc = self.settings.clone();
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("id".into(), Value::String(self.id.clone()));
            obj.insert("order".into(), Value::from(self.position));
            obj.insert("enabled".into(), Value::Bool(self.enabled));
            for secret in SECRET_FIELDS {
                obj.remove(*secret);
            }
        }
        doc
    }

    /// The realm's line in `GET /platform/configuration/security/realms`: the directory URLs,
    /// or a SAML realm's IdP metadata URL.
    pub fn info(&self) -> SecurityRealmInfo {
        let urls = match self.realm_type {
            RealmType::Saml => self.settings["idp"]["metadata_path"]
                .as_str()
                .map(|u| vec![u.to_string()])
                .unwrap_or_default(),
            _ => self.settings["urls"]
                .as_array()
                .map(|u| {
                    u.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        };
        SecurityRealmInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            realm_type: self.realm_type.as_str().to_string(),
            enabled: Some(self.enabled),
            order: Some(self.position),
            urls,
        }
    }
}

/// `SecurityRealmInfo`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecurityRealmInfo {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub realm_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<i32>,
    pub urls: Vec<String>,
}

impl SecurityRealmInfo {
    /// The native users' line: always enabled, always first (order 0), no URLs.
    pub fn native() -> SecurityRealmInfo {
        SecurityRealmInfo {
            id: NATIVE_REALM_ID.into(),
            name: "Native users".into(),
            realm_type: "native".into(),
            enabled: Some(true),
            order: Some(0),
            urls: Vec::new(),
        }
    }
}

/// `SecurityRealmsReorderRequest`.
#[derive(Debug, Clone, Deserialize)]
pub struct ReorderRequest {
    pub realms: Vec<String>,
}

/// `sub_tree`, `one_level` or `base`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchScope {
    SubTree,
    OneLevel,
    Base,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadBalanceType {
    Failover,
    DnsFailover,
    RoundRobin,
    DnsRoundRobin,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadBalance {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub lb_type: Option<LoadBalanceType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_ttl: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TruststoreType {
    #[serde(rename = "jks")]
    Jks,
    #[serde(rename = "PKCS12")]
    Pkcs12,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LdapBindType {
    UserSearch,
    UserTemplates,
}

/// `LdapUserSearch` / `ActiveDirectoryUserSearch` (same fields).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UserSearch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_dn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<SearchScope>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

/// `LdapGroupSearch` (Active Directory's has no `filter` / `user_attribute`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GroupSearch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_dn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<SearchScope>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_attribute: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleType {
    UserDn,
    GroupDn,
}

/// `LdapSecurityRealmRoleMappingRule` / `ActiveDirectorySecurityRealmRoleMappingRule`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleMappingRule {
    #[serde(rename = "type")]
    pub rule_type: RuleType,
    pub value: String,
    pub roles: Vec<String>,
}

/// `LdapSecurityRealmRoleMappingRules` / `ActiveDirectorySecurityRealmRoleMappingRules`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RoleMappings {
    pub default_roles: Vec<String>,
    pub rules: Vec<RoleMappingRule>,
}

/// `LdapSettings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LdapSettings {
    pub id: String,
    pub name: String,
    pub urls: Vec<String>,
    pub bind_anonymously: bool,
    pub bind_type: LdapBindType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_search: Option<GroupSearch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_search: Option<UserSearch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_dn_templates: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_dn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_group_attribute: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balance: Option<LoadBalance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_url_truststore_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_url_truststore_type: Option<TruststoreType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_mappings: Option<RoleMappings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_yaml: Option<String>,
}

/// `ActiveDirectorySettings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveDirectorySettings {
    pub id: String,
    pub name: String,
    pub urls: Vec<String>,
    pub domain_name: String,
    pub bind_anonymously: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_search: Option<GroupSearch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_search: Option<UserSearch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_dn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balance: Option<LoadBalance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_url_truststore_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_url_truststore_type: Option<TruststoreType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_mappings: Option<RoleMappings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_yaml: Option<String>,
}
