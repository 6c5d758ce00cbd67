//! SAML realms: the wire types of `SamlSettings` (spec/ece-realms-swagger.json, field names
//! exactly) and the checks specific to them ([`check`]); the checks every realm shares (id,
//! name, order, `override_yaml`) are `validate.rs`'s.
//!
//! Only the configuration is served: the sign-in flow (`/users/auth/saml/_init`, `_callback`)
//! is a later step, so nothing here fetches the IdP metadata or reads a certificate bundle. What
//! is checked is what a wrong value would make unusable later: the URLs the flow will fetch or
//! redirect to, the attribute names it will read, the rules it will evaluate.

use serde::{Deserialize, Serialize};

use super::validate::{check_default_roles, check_rule_roles};
use super::{mapping, urls, TruststoreType};
use crate::domain::error::{Code, Error, Result};

/// `SamlIdpSettings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamlIdpSettings {
    pub entity_id: String,
    pub metadata_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_single_logout: Option<bool>,
}

/// `SamlSpSettings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamlSpSettings {
    pub entity_id: String,
    pub acs: String,
    pub logout: String,
}

/// `SamlAttributeSettings`: the names of the SAML attributes holding each user property.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamlAttributeSettings {
    pub principal: String,
    pub groups: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
}

/// The `type` of a `SamlSecurityRealmRoleMappingRule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SamlRuleType {
    /// The principal attribute equals `value`.
    Username,
    /// One of the groups attribute's values equals `value`.
    Groups,
    /// The dn attribute is the DN `value` (compared as DNs).
    Dn,
}

/// `SamlSecurityRealmRoleMappingRule`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamlRoleMappingRule {
    #[serde(rename = "type")]
    pub rule_type: SamlRuleType,
    pub value: String,
    pub roles: Vec<String>,
}

/// `SamlSecurityRealmRoleMappingRules`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SamlRoleMappings {
    pub default_roles: Vec<String>,
    pub rules: Vec<SamlRoleMappingRule>,
}

/// `SamlSettings` (the secret fields are `RealmSecrets`').
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamlSettings {
    pub id: String,
    pub name: String,
    pub idp: SamlIdpSettings,
    pub sp: SamlSpSettings,
    pub attributes: SamlAttributeSettings,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nameid_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_mappings: Option<SamlRoleMappings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_authn: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_certificate_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_saml_messages: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_certificate_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_certificate_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_certificate_url_truststore_type: Option<TruststoreType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_yaml: Option<String>,
}

/// The fields of `SamlSettings` kept in the stored document (secrets, `id`, `order` and
/// `enabled` aside).
pub const SAML_FIELDS: &[&str] = &[
    "name",
    "idp",
    "sp",
    "attributes",
    "nameid_format",
    "role_mappings",
    "force_authn",
    "signing_certificate_url",
    "signing_saml_messages",
    "encryption_certificate_url",
    "ssl_certificate_url",
    "ssl_certificate_url_truststore_type",
    "override_yaml",
];

/// The SAML messages this installation may be asked to sign (`signing_saml_messages`).
const SIGNABLE: &[&str] = &["AuthnRequest", "LogoutRequest", "LogoutResponse"];

/// Entity IDs are URIs of at most 1024 characters (SAML core 8.3.6).
const MAX_ENTITY_ID: usize = 1024;

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
    Error::new(Code::InvalidJson, message).with_fields([field.into()])
}

/// `scheme://host...` with one of `schemes`, a non-empty host, no whitespace or control
/// characters.
fn is_url(s: &str, schemes: &[&str]) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // file:///path has no host, a path instead.
    let located = if scheme.eq_ignore_ascii_case("file") {
        rest.len() > 1 && rest.starts_with('/')
    } else {
        !host.is_empty()
    };
    schemes.iter().any(|x| scheme.eq_ignore_ascii_case(x))
        && located
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A SAML entity ID: a URI (a URL or a URN), 1 to 1024 characters, no whitespace.
fn check_entity_id(field: &str, v: &str) -> Result<()> {
    let ok = !v.is_empty()
        && v.chars().count() <= MAX_ENTITY_ID
        && v.contains(':')
        && !v.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("[{field}] must be a URI (a URL or a URN such as urn:example:sp) of at most 1024 characters, without spaces."),
        ))
    }
}

/// The checks of a SAML realm's own fields.
pub fn check(s: &SamlSettings) -> Result<()> {
    check_entity_id("idp.entity_id", &s.idp.entity_id)?;
    // The flow will fetch the metadata: from the IdP (http, https) or from this host's disk
    // (file://, for an IdP that publishes none).
    if !is_url(&s.idp.metadata_path, &["http", "https", "file"]) {
        return Err(Error::new(
            Code::RealmSamlInvalidIdpMetadataUrl,
            "[idp.metadata_path] must be an http://, https:// or file:// URL of the IdP's SAML 2.0 metadata.",
        )
        .with_fields(["idp.metadata_path"]));
    }
    check_entity_id("sp.entity_id", &s.sp.entity_id)?;
    for (field, url) in [("sp.acs", &s.sp.acs), ("sp.logout", &s.sp.logout)] {
        if !is_url(url, &["http", "https"]) {
            return Err(Error::new(
                Code::RealmInvalidUrl,
                format!("[{field}] must be an absolute http:// or https:// URL (e.g. https://HOST/api/v1/users/auth/saml/_callback for sp.acs)."),
            )
            .with_fields([field]));
        }
    }
    let a = &s.attributes;
    let named = [
        ("attributes.principal", Some(&a.principal)),
        ("attributes.groups", Some(&a.groups)),
        ("attributes.name", a.name.as_ref()),
        ("attributes.mail", a.mail.as_ref()),
        ("attributes.dn", a.dn.as_ref()),
        ("nameid_format", s.nameid_format.as_ref()),
    ];
    for (field, v) in named {
        if v.is_some_and(|v| {
            v.trim().is_empty() || v.len() > 1024 || v.chars().any(char::is_control)
        }) {
            return Err(invalid(
                field,
                format!("[{field}] must be a SAML attribute name (or URI): 1 to 1024 characters."),
            ));
        }
    }
    for (field, url) in [
        ("signing_certificate_url", &s.signing_certificate_url),
        ("encryption_certificate_url", &s.encryption_certificate_url),
        ("ssl_certificate_url", &s.ssl_certificate_url),
    ] {
        urls::check_bundle_url(field, url.as_deref())?;
    }
    let messages = s.signing_saml_messages.as_deref().unwrap_or_default();
    if let Some(i) = messages
        .iter()
        .position(|m| !SIGNABLE.contains(&m.as_str()))
    {
        return Err(invalid(
            format!("signing_saml_messages[{i}]"),
            "[signing_saml_messages] may list AuthnRequest, LogoutRequest and LogoutResponse only.",
        ));
    }
    if !messages.is_empty()
        && s.signing_certificate_url
            .as_deref()
            .is_none_or(str::is_empty)
    {
        return Err(invalid(
            "signing_saml_messages",
            "[signing_saml_messages] needs a [signing_certificate_url] to sign with.",
        ));
    }
    if let Some(m) = &s.role_mappings {
        check_mappings(m)?;
    }
    Ok(())
}

/// The roles as native users' (`ece_platform_admin` alone); a `dn` rule's value a DN, the
/// others' any non-empty value (group names from an IdP are rarely DNs).
fn check_mappings(m: &SamlRoleMappings) -> Result<()> {
    check_default_roles(&m.default_roles)?;
    for (i, rule) in m.rules.iter().enumerate() {
        let value_ok = match rule.rule_type {
            SamlRuleType::Dn => mapping::normalize_dn(&rule.value).is_some(),
            SamlRuleType::Username | SamlRuleType::Groups => {
                !rule.value.trim().is_empty() && !rule.value.chars().any(char::is_control)
            }
        };
        if !value_ok {
            let what = match rule.rule_type {
                SamlRuleType::Dn => {
                    "a distinguished name (e.g. cn=admins,ou=groups,dc=example,dc=com)"
                }
                _ => "a non-empty value without control characters",
            };
            return Err(invalid(
                format!("role_mappings.rules[{i}].value"),
                format!("The rule's value must be {what}."),
            ));
        }
        check_rule_roles(i, &rule.roles)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
