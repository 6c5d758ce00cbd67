//! Role mapping of a directory user, pure: a realm's `role_mappings` plus the user's DN and the
//! DNs of their groups give the user's platform roles ([`map_roles`]).
//!
//! The result follows the rules of native users' roles (`crate::domain::roles::parse_roles`):
//! known roles only, no duplicates, in table order, and `ece_platform_admin` alone: it grants
//! every operation already, so a user mapped to it and to other roles gets it alone (the union is
//! normalised, not refused: each rule was validated when the realm was saved). An empty result
//! means the directory user has no ECE role; the sign-in is then refused (401, with an audit
//! event), since without a role a user could do nothing but look at themselves.
//!
//! DNs are compared as RFC 4514 describes where that is simple ([`normalize_dn`]): attribute
//! types and values without regard to case, spaces around `,` `+` `=` ignored and runs of spaces
//! inside values collapsed (the `caseIgnoreMatch` of most naming attributes), escapes (`\,`,
//! `\2C`) decoded, the values of a multi-valued RDN in any order.

use std::collections::BTreeSet;

use super::{RoleMappings, RuleType, SamlRoleMappings, SamlRuleType};
use crate::domain::roles::Role;

/// The platform roles `mappings` give a user with DN `user_dn` and member of `group_dns`.
/// Empty: no role at all.
pub fn map_roles(mappings: &RoleMappings, user_dn: &str, group_dns: &[String]) -> Vec<Role> {
    let user = normalize_dn(user_dn);
    let groups: BTreeSet<String> = group_dns.iter().filter_map(|g| normalize_dn(g)).collect();
    let mut granted: BTreeSet<&str> = mappings.default_roles.iter().map(String::as_str).collect();
    for rule in &mappings.rules {
        let Some(value) = normalize_dn(&rule.value) else {
            continue;
        };
        let matches = match rule.rule_type {
            RuleType::UserDn => user.as_deref() == Some(value.as_str()),
            RuleType::GroupDn => groups.contains(&value),
        };
        if matches {
            granted.extend(rule.roles.iter().map(String::as_str));
        }
    }
    normalise(granted)
}

/// The platform roles a SAML realm's `mappings` give a user with principal `username`, the
/// values of the groups attribute `groups` and, when the IdP sends one, the DN `dn`. Usernames
/// and groups are compared exactly (they are the IdP's strings); DNs as DNs.
pub fn map_saml_roles(
    mappings: &SamlRoleMappings,
    username: &str,
    groups: &[String],
    dn: Option<&str>,
) -> Vec<Role> {
    let user_dn = dn.and_then(normalize_dn);
    let mut granted: BTreeSet<&str> = mappings.default_roles.iter().map(String::as_str).collect();
    for rule in &mappings.rules {
        let matches = match rule.rule_type {
            SamlRuleType::Username => rule.value == username,
            SamlRuleType::Groups => groups.iter().any(|g| *g == rule.value),
            SamlRuleType::Dn => user_dn.is_some() && user_dn == normalize_dn(&rule.value),
        };
        if matches {
            granted.extend(rule.roles.iter().map(String::as_str));
        }
    }
    normalise(granted)
}

/// Known roles in table order; `ece_platform_admin` alone when granted.
fn normalise(granted: BTreeSet<&str>) -> Vec<Role> {
    if granted.contains(Role::PlatformAdmin.as_str()) {
        return vec![Role::PlatformAdmin];
    }
    Role::ALL
        .into_iter()
        .filter(|r| granted.contains(r.as_str()))
        .collect()
}

/// A canonical form of a DN for comparison, or `None` when `dn` is not a DN (empty, an RDN
/// without `=`, a dangling escape).
pub fn normalize_dn(dn: &str) -> Option<String> {
    let mut rdns: Vec<String> = Vec::new();
    for rdn in split_unescaped(dn, ',')? {
        let mut avas: Vec<String> = Vec::new();
        for ava in split_unescaped(&rdn, '+')? {
            let (attr, value) = ava.split_once('=')?;
            let attr = attr.trim().to_ascii_lowercase();
            if attr.is_empty()
                || !attr
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                return None;
            }
            let value = unescape(value.trim())?;
            let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
            if value.is_empty() {
                return None;
            }
            avas.push(format!("{attr}={}", escape(&value.to_lowercase())));
        }
        avas.sort();
        rdns.push(avas.join("+"));
    }
    Some(rdns.join(","))
}

/// Splits at every `sep` not preceded by a backslash escape; `None` on an empty part.
fn split_unescaped(s: &str, sep: char) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            cur.push(c);
            cur.push(chars.next()?);
        } else if c == sep {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    parts.push(cur);
    if parts.iter().any(|p| p.trim().is_empty()) {
        return None;
    }
    Some(parts)
}

/// Decodes `\c` and `\hh` escapes (RFC 4514 section 2.4) into the characters they stand for.
fn unescape(s: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let first = chars.next()?;
        match (
            first.to_digit(16),
            chars.peek().and_then(|c| c.to_digit(16)),
        ) {
            (Some(hi), Some(lo)) => {
                chars.next();
                bytes.push((hi * 16 + lo) as u8);
            }
            _ => {
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(first.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    String::from_utf8(bytes).ok()
}

/// Escapes the characters that would make the canonical form ambiguous.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, ',' | '+' | '=' | '\\' | '"' | '<' | '>' | ';') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::realms::RoleMappingRule;

    fn rule(t: RuleType, value: &str, roles: &[&str]) -> RoleMappingRule {
        RoleMappingRule {
            rule_type: t,
            value: value.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        }
    }

    fn mappings() -> RoleMappings {
        RoleMappings {
            default_roles: vec![],
            rules: vec![
                rule(
                    RuleType::GroupDn,
                    "cn=ops,ou=groups,dc=example,dc=com",
                    &["ece_platform_viewer"],
                ),
                rule(
                    RuleType::GroupDn,
                    "cn=deployers,ou=groups,dc=example,dc=com",
                    &["ece_deployment_manager"],
                ),
                rule(
                    RuleType::UserDn,
                    "uid=root,ou=people,dc=example,dc=com",
                    &["ece_platform_admin"],
                ),
            ],
        }
    }

    const ALICE: &str = "uid=alice,ou=people,dc=example,dc=com";

    #[test]
    fn groups_and_user_rules_add_up_in_table_order() {
        let groups = vec![
            "cn=deployers,ou=groups,dc=example,dc=com".to_string(),
            "CN=Ops, OU=Groups, DC=Example, DC=Com".to_string(),
        ];
        assert_eq!(
            map_roles(&mappings(), ALICE, &groups),
            vec!["ece_platform_viewer", "ece_deployment_manager"]
        );
    }

    #[test]
    fn no_match_no_role_unless_defaults() {
        assert!(map_roles(&mappings(), ALICE, &[]).is_empty());
        let mut m = mappings();
        m.default_roles = vec!["ece_deployment_viewer".into()];
        assert_eq!(map_roles(&m, ALICE, &[]), vec!["ece_deployment_viewer"]);
    }

    #[test]
    fn platform_admin_is_exclusive() {
        let mut m = mappings();
        m.default_roles = vec!["ece_deployment_viewer".into()];
        let groups = vec!["cn=ops,ou=groups,dc=example,dc=com".to_string()];
        assert_eq!(
            map_roles(&m, "UID=root , ou=People,dc=example,dc=com", &groups),
            vec!["ece_platform_admin"]
        );
    }

    #[test]
    fn a_group_named_like_the_user_does_not_match_a_user_rule() {
        let groups = vec!["uid=root,ou=people,dc=example,dc=com".to_string()];
        assert!(map_roles(&mappings(), ALICE, &groups).is_empty());
    }

    #[test]
    fn dn_normal_form() {
        let n = |s: &str| normalize_dn(s);
        assert_eq!(n("CN=A  B , DC=x"), n("cn=a b,dc=X"));
        assert_eq!(n("cn=a\\,b,dc=x"), n("cn=a\\2Cb,dc=x"));
        assert_ne!(n("cn=a\\,b,dc=x"), n("cn=a,cn=b,dc=x"));
        assert_eq!(n("cn=a+uid=b,dc=x"), n("UID=b + cn=A,dc=x"));
        for bad in ["", "cn", "cn=,dc=x", "cn=a,,dc=x", "cn=a\\", "c n=a"] {
            assert_eq!(n(bad), None, "{bad}");
        }
    }
}
