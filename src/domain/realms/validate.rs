//! Validation of `LdapSettings`, `ActiveDirectorySettings` and `SamlSettings` documents (SAML's
//! own fields in `saml.rs`): every refusal is an
//! [`Error`] whose `fields` names the offending field, with the spec's `security_realm.*` codes
//! where it documents one and `root.invalid_json_request` otherwise.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{
    mapping, saml, urls, ActiveDirectorySettings, LdapBindType, LdapSettings, RealmSecrets,
    RealmType, RoleMappings, SamlSettings, NATIVE_REALM_ID, SECRET_FIELDS,
};
use crate::domain::error::{Code, Error, Result};
use crate::domain::roles::parse_roles;

/// A checked settings document, split the way it is stored.
#[derive(Debug, Clone)]
pub struct Validated {
    pub id: String,
    pub name: String,
    /// `order`, when sent (> 0).
    pub order: Option<i32>,
    /// `enabled`, when sent.
    pub enabled: Option<bool>,
    /// The document without `id`, `order`, `enabled` and the secrets, as stored.
    pub settings: Value,
    /// The secrets as sent (see [`RealmSecrets::merged_over`]).
    pub secrets: RealmSecrets,
    /// Role mappings of a directory realm, checked (SAML's stay in `settings`).
    pub role_mappings: Option<RoleMappings>,
}

/// Ids of realms: 1 to 64 letters, digits, `_` or `-`, starting with a letter or digit (an id
/// starting with `-` would be read as a flag by `ecctl`), and not `native`.
pub fn validate_realm_id(id: &str) -> Result<()> {
    let ok = (1..=64).contains(&id.len())
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        && id != NATIVE_REALM_ID;
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            Code::RealmInvalidId,
            "The realm id must be 1 to 64 characters: letters, digits, '_' or '-', starting with a letter or digit, \
             and not 'native'.",
        )
        .with_fields(["id"]))
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
    Error::new(Code::InvalidJson, message).with_fields([field.into()])
}

fn typed<T: DeserializeOwned>(doc: &Value) -> Result<T> {
    serde_path_to_error::deserialize(doc).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // A missing field is reported at the object that misses it.
        let field = match message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            Some(name) if path == "." => name.to_string(),
            Some(name) => format!("{path}.{name}"),
            None if path == "." => String::new(),
            None => path,
        };
        let err = Error::new(
            Code::InvalidJson,
            format!("The settings do not match the schema: {message}"),
        );
        if field.is_empty() {
            err
        } else {
            err.with_fields([field])
        }
    })
}

/// Checks a document sent to create or update a realm of `realm_type`.
pub fn validate_settings(realm_type: RealmType, doc: &Value) -> Result<Validated> {
    if !doc.is_object() {
        return Err(Error::new(
            Code::InvalidJson,
            "The realm settings must be a JSON object.",
        ));
    }
    let secrets = typed::<RealmSecrets>(doc)?.only_for(realm_type);
    let (id, name, order, enabled, mappings) = match realm_type {
        RealmType::Ldap => {
            let s: LdapSettings = typed(doc)?;
            check_common(&s.id, &s.name, s.order, s.override_yaml.as_deref())?;
            check_ldap(&s)?;
            check_directory(realm_type, &s.urls, &s.certificate_url, &s.role_mappings)?;
            (s.id, s.name, s.order, s.enabled, s.role_mappings)
        }
        RealmType::ActiveDirectory => {
            let s: ActiveDirectorySettings = typed(doc)?;
            if s.domain_name.trim().is_empty() {
                return Err(invalid("domain_name", "[domain_name] must not be empty."));
            }
            check_common(&s.id, &s.name, s.order, s.override_yaml.as_deref())?;
            check_directory(realm_type, &s.urls, &s.certificate_url, &s.role_mappings)?;
            (s.id, s.name, s.order, s.enabled, s.role_mappings)
        }
        RealmType::Saml => {
            let s: SamlSettings = typed(doc)?;
            check_common(&s.id, &s.name, s.order, s.override_yaml.as_deref())?;
            saml::check(&s)?;
            (s.id, s.name, s.order, s.enabled, None)
        }
    };
    let mut settings = doc.clone();
    if let Some(obj) = settings.as_object_mut() {
        for field in SECRET_FIELDS.iter().chain(&["id", "order", "enabled"]) {
            obj.remove(*field);
        }
        // Only the fields of the definition are kept (an unknown field is ignored, as ECE does).
        let known = match realm_type {
            RealmType::Ldap => LDAP_FIELDS,
            RealmType::ActiveDirectory => AD_FIELDS,
            RealmType::Saml => saml::SAML_FIELDS,
        };
        obj.retain(|k, v| known.contains(&k.as_str()) && !v.is_null());
    }
    Ok(Validated {
        id,
        name,
        order,
        enabled,
        settings,
        secrets,
        role_mappings: mappings,
    })
}

/// What every realm type checks alike: the id, the name, the order and `override_yaml`.
fn check_common(id: &str, name: &str, order: Option<i32>, yaml: Option<&str>) -> Result<()> {
    validate_realm_id(id)?;
    if name.trim().is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err(invalid(
            "name",
            "[name] must be 1 to 255 characters, without control characters.",
        ));
    }
    if order.is_some_and(|o| o <= 0) {
        return Err(Error::new(
            Code::RealmInvalidOrder,
            "Order must be greater than zero (0 is the native realm's).",
        )
        .with_fields(["order"]));
    }
    if yaml.is_some_and(|y| !y.trim().is_empty()) {
        return Err(Error::new(
            Code::RealmInvalidYaml,
            "[override_yaml] is not supported: this server does not run Elasticsearch and cannot honour \
             advanced realm settings. Leave it out or empty.",
        )
        .with_fields(["override_yaml"]));
    }
    Ok(())
}

/// The directory realms' URLs, CA bundle and role mappings.
fn check_directory(
    realm_type: RealmType,
    server_urls: &[String],
    bundle: &Option<String>,
    mappings: &Option<RoleMappings>,
) -> Result<()> {
    urls::check_urls(realm_type, server_urls)?;
    urls::check_bundle_url("certificate_url", bundle.as_deref())?;
    if let Some(m) = mappings {
        check_mappings(m)?;
    }
    Ok(())
}

const LDAP_FIELDS: &[&str] = &[
    "name",
    "urls",
    "bind_anonymously",
    "bind_type",
    "group_search",
    "user_search",
    "user_dn_templates",
    "bind_dn",
    "user_group_attribute",
    "load_balance",
    "certificate_url",
    "certificate_url_truststore_type",
    "role_mappings",
    "override_yaml",
];

const AD_FIELDS: &[&str] = &[
    "name",
    "urls",
    "domain_name",
    "bind_anonymously",
    "group_search",
    "user_search",
    "bind_dn",
    "load_balance",
    "certificate_url",
    "certificate_url_truststore_type",
    "role_mappings",
    "override_yaml",
];

fn check_ldap(s: &LdapSettings) -> Result<()> {
    match s.bind_type {
        LdapBindType::UserTemplates => {
            let templates = s.user_dn_templates.as_deref().unwrap_or_default();
            if templates.is_empty() {
                return Err(invalid(
                    "user_dn_templates",
                    "[user_dn_templates] needs at least one template when [bind_type] is user_templates.",
                ));
            }
            if let Some(i) = templates
                .iter()
                .position(|t| !t.contains("{0}") || mapping::normalize_dn(t).is_none())
            {
                return Err(invalid(
                    format!("user_dn_templates[{i}]"),
                    "Each user DN template must be a DN containing {0} (the user name), e.g. uid={0},ou=people,dc=example,dc=com.",
                ));
            }
        }
        LdapBindType::UserSearch => {
            let base = s.user_search.as_ref().and_then(|u| u.base_dn.as_deref());
            if base.is_none_or(|b| mapping::normalize_dn(b).is_none()) {
                return Err(invalid(
                    "user_search.base_dn",
                    "[user_search.base_dn] must be a DN when [bind_type] is user_search.",
                ));
            }
            if !s.bind_anonymously && s.bind_dn.as_deref().is_none_or(|d| d.trim().is_empty()) {
                return Err(invalid(
                    "bind_dn",
                    "[bind_dn] is required unless [bind_anonymously] is true.",
                ));
            }
        }
    }
    Ok(())
}

fn check_mappings(m: &RoleMappings) -> Result<()> {
    check_default_roles(&m.default_roles)?;
    for (i, rule) in m.rules.iter().enumerate() {
        if mapping::normalize_dn(&rule.value).is_none() {
            return Err(invalid(
                format!("role_mappings.rules[{i}].value"),
                format!("[{}] is not a distinguished name (e.g. cn=admins,ou=groups,dc=example,dc=com).", rule.value),
            ));
        }
        check_rule_roles(i, &rule.roles)?;
    }
    Ok(())
}

/// `role_mappings.default_roles` of any realm type: the rules of native users' roles.
pub(super) fn check_default_roles(roles: &[String]) -> Result<()> {
    parse_roles(roles, "role_mappings.default_roles")
        .map(|_| ())
        .map_err(|e| Error {
            fields: vec!["role_mappings.default_roles".into()],
            ..e
        })
}

/// The roles of rule `i` of any realm type's role mappings: at least one, each known.
pub(super) fn check_rule_roles(i: usize, roles: &[String]) -> Result<()> {
    if roles.is_empty() {
        return Err(invalid(
            format!("role_mappings.rules[{i}].roles"),
            "A role mapping rule needs at least one role.",
        ));
    }
    parse_roles(roles, "role_mappings.rules")
        .map(|_| ())
        .map_err(|e| Error {
            fields: vec![format!("role_mappings.rules[{i}].roles")],
            ..e
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ldap() -> Value {
        json!({"id": "corp", "name": "Corp", "urls": ["ldaps://ldap.example.com:636"],
               "bind_anonymously": false, "bind_type": "user_search",
               "user_search": {"base_dn": "ou=people,dc=example,dc=com"},
               "bind_dn": "cn=svc,dc=example,dc=com", "bind_password": "s3cret"})
    }

    fn fields(doc: Value) -> (Code, Vec<String>) {
        let e = validate_settings(RealmType::Ldap, &doc).unwrap_err();
        (e.code, e.fields)
    }

    #[test]
    fn ids() {
        let (longest, too_long) = ("x".repeat(64), "x".repeat(65));
        for ok in ["a", "ldap1", "Corp_AD-2", longest.as_str()] {
            validate_realm_id(ok).unwrap();
        }
        for bad in [
            "",
            "-x",
            "_x",
            "native",
            "a b",
            "a/b",
            "é",
            too_long.as_str(),
        ] {
            assert_eq!(
                validate_realm_id(bad).unwrap_err().code,
                Code::RealmInvalidId,
                "{bad}"
            );
        }
    }

    #[test]
    fn secrets_are_split_off() {
        let v = validate_settings(RealmType::Ldap, &ldap()).unwrap();
        assert_eq!(v.secrets.bind_password.as_deref(), Some("s3cret"));
        assert!(!v.settings.to_string().contains("s3cret"));
        assert!(v.settings.get("id").is_none());
        assert_eq!(v.id, "corp");
    }

    #[test]
    fn refusals_name_their_field() {
        let mut d = ldap();
        d["urls"] = json!(["ldap://a", "ldaps://b"]);
        assert_eq!(fields(d), (Code::RealmLdapInvalidUrl, vec!["urls".into()]));
        let mut d = ldap();
        d["urls"] = json!(["http://a"]);
        assert_eq!(
            fields(d),
            (Code::RealmLdapInvalidUrl, vec!["urls[0]".into()])
        );
        let mut d = ldap();
        d["urls"] = json!(["ldap://a:99999"]);
        assert_eq!(fields(d), (Code::RealmInvalidUrl, vec!["urls[0]".into()]));
        let mut d = ldap();
        d["order"] = json!(0);
        assert_eq!(fields(d), (Code::RealmInvalidOrder, vec!["order".into()]));
        let mut d = ldap();
        d["override_yaml"] = json!("ssl.verification_mode: none");
        assert_eq!(fields(d).0, Code::RealmInvalidYaml);
        let mut d = ldap();
        d["certificate_url"] = json!("ftp://x/y.zip");
        assert_eq!(fields(d).0, Code::RealmInvalidBundleUrl);
        let mut d = ldap();
        d["bind_type"] = json!("nope");
        assert_eq!(fields(d), (Code::InvalidJson, vec!["bind_type".into()]));
        let mut d = ldap();
        d["role_mappings"] = json!({"default_roles": [], "rules": [
            {"type": "group_dn", "value": "cn=a,dc=x", "roles": ["ece_platform_admin", "ece_platform_viewer"]}]});
        assert_eq!(
            fields(d),
            (
                Code::UserRolesForbidden,
                vec!["role_mappings.rules[0].roles".into()]
            )
        );
        let mut d = ldap();
        d["bind_type"] = json!("user_templates");
        d["user_dn_templates"] = json!(["uid=x,dc=example"]);
        assert_eq!(fields(d).1, vec!["user_dn_templates[0]".to_string()]);
        let mut d = ldap();
        d["id"] = json!("-rm");
        assert_eq!(fields(d).0, Code::RealmInvalidId);
    }

    #[test]
    fn active_directory_needs_a_domain() {
        let doc = json!({"id": "ad", "name": "AD", "urls": ["ldap://dc1"], "domain_name": " ",
                         "bind_anonymously": true});
        let e = validate_settings(RealmType::ActiveDirectory, &doc).unwrap_err();
        assert_eq!(e.fields, vec!["domain_name"]);
    }
}
