//! User names into LDAP filters (RFC 4515) and DNs (RFC 4514), and the names refused outright.
//!
//! Escaping is what keeps a user name a value: `*` in a filter is a wildcard and `)(uid=*` closes
//! the filter, `,` or `+` in a DN starts another RDN. Every `{0}` the client fills goes through
//! [`filter_value`] or [`dn_value`], never as typed.

use std::borrow::Cow;

/// The longest user name considered (bytes). Longer names are refused before any connection: no
/// directory has them, and they would only make the requests bigger.
const MAX_NAME: usize = 256;

/// `value` as an assertion value of a filter: `\`, `*`, `(`, `)` and NUL become `\5c`, `\2a`,
/// `\28`, `\29`, `\00` (RFC 4515, section 3).
pub fn filter_value(value: &str) -> Cow<'_, str> {
    ldap3::ldap_escape(value)
}

/// `value` as the value of one RDN: `,` `+` `"` `\` `<` `>` `;` `=` NUL, a leading `#` or space
/// and a trailing space are hex-escaped (RFC 4514, section 2.4).
pub fn dn_value(value: &str) -> Cow<'_, str> {
    ldap3::dn_escape(value)
}

/// Whether `name` may be looked up at all: not empty, at most 256 bytes, no control character
/// (NUL included) and no leading or trailing white space. Directory matching ignores such spaces
/// (`" alice"` finds `alice`), so one person would get two user names.
pub fn acceptable_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.chars().any(char::is_control)
        && name.trim() == name
}

/// Whether `name` can be an Active Directory logon name: `sAMAccountName` forbids
/// `" / \ [ ] : ; | = , + * ? < >` and so does the user part of a `userPrincipalName`. Refusing
/// them also keeps `DOMAIN\user` (down-level logon names, not supported) from being tried.
/// At most one `@`, and not first or last.
pub fn acceptable_ad_name(name: &str) -> bool {
    const FORBIDDEN: &[char] = &[
        '"', '/', '\\', '[', ']', ':', ';', '|', '=', ',', '+', '*', '?', '<', '>', '(', ')',
    ];
    let ats = name.matches('@').count();
    acceptable_name(name)
        && !name.contains(FORBIDDEN)
        && (ats == 0 || (ats == 1 && !name.starts_with('@') && !name.ends_with('@')))
}

/// `template` with every `{0}` replaced by `value` (already escaped by the caller), or `None` when
/// the template has no `{0}`: such a template would give everyone the same identity.
pub fn fill(template: &str, value: &str) -> Option<String> {
    template
        .contains("{0}")
        .then(|| template.replace("{0}", value))
}

/// The base DN of an Active Directory domain: `corp.example` → `dc=corp,dc=example`.
pub fn domain_base(domain: &str) -> Option<String> {
    let labels: Vec<&str> = domain.trim_end_matches('.').split('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        return None;
    }
    Some(
        labels
            .iter()
            .map(|l| format!("dc={}", dn_value(l)))
            .collect::<Vec<_>>()
            .join(","),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_cannot_close_or_widen_the_filter() {
        assert_eq!(filter_value("*"), "\\2a");
        assert_eq!(filter_value(")(uid=*"), "\\29\\28uid=\\2a");
        assert_eq!(filter_value("a\\b"), "a\\5cb");
        assert_eq!(filter_value("a\0b"), "a\\00b");
        assert_eq!(filter_value("élodie"), "élodie");
    }

    #[test]
    fn dn_values_cannot_add_rdns() {
        assert_eq!(dn_value("x,ou=admins"), "x\\2cou\\3dadmins");
        assert_eq!(dn_value("a+cn=b"), "a\\2bcn\\3db");
        assert_eq!(dn_value("#x"), "\\23x");
        assert_eq!(dn_value("back\\slash"), "back\\5cslash");
    }

    #[test]
    fn names_refused_before_any_connection() {
        assert!(acceptable_name("alice"));
        assert!(acceptable_name("a*b"));
        for bad in ["", " alice", "alice ", "a\0b", "a\nb", &"x".repeat(257)] {
            assert!(!acceptable_name(bad), "{bad:?}");
        }
        assert!(acceptable_ad_name("dave"));
        assert!(acceptable_ad_name("dave@corp.example"));
        for bad in ["CORP\\dave", "*", "a,b", "@corp", "dave@", "a@b@c", "x)(y"] {
            assert!(!acceptable_ad_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn templates_need_the_placeholder() {
        assert_eq!(fill("uid={0},ou=p", "a").as_deref(), Some("uid=a,ou=p"));
        assert_eq!(fill("uid=fixed,ou=p", "a"), None);
    }

    #[test]
    fn domain_bases() {
        assert_eq!(
            domain_base("corp.example").as_deref(),
            Some("dc=corp,dc=example")
        );
        assert_eq!(domain_base("corp..example"), None);
        assert_eq!(domain_base(""), None);
    }
}
