//! The URLs of a realm's settings: the directory servers (`urls`) and the CA bundle
//! (`certificate_url`), each refused with the spec's `security_realm.*` URL codes.

use super::RealmType;
use crate::domain::error::{Code, Error, Result};

/// A certificate bundle URL (`certificate_url`, SAML's `*_certificate_url`) in `field`, when
/// set: an `http://`, `https://` or `file://` URL.
pub fn check_bundle_url(field: &str, bundle: Option<&str>) -> Result<()> {
    if let Some(url) = bundle.filter(|u| !u.is_empty()) {
        let ok = ["http://", "https://", "file://"].iter().any(|s| {
            url.len() > s.len()
                && url
                    .get(..s.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(s))
        }) && !url.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(Error::new(
                Code::RealmInvalidBundleUrl,
                format!("[{field}] must be an http://, https:// or file:// URL."),
            )
            .with_fields([field]));
        }
    }
    Ok(())
}

/// One or more `ldap://host[:port]` or `ldaps://host[:port]` URLs, one scheme for all.
pub fn check_urls(realm_type: RealmType, urls: &[String]) -> Result<()> {
    if urls.is_empty() {
        return Err(
            Error::new(Code::RealmInvalidUrl, "[urls] needs at least one URL.")
                .with_fields(["urls"]),
        );
    }
    let code = match realm_type {
        RealmType::Ldap => Code::RealmLdapInvalidUrl,
        RealmType::ActiveDirectory => Code::RealmAdInvalidUrl,
        // SAML realms have no `urls` (saml.rs checks theirs).
        RealmType::Saml => Code::RealmInvalidUrl,
    };
    let mut schemes = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let field = format!("urls[{i}]");
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(Error::new(
                Code::RealmInvalidUrl,
                format!("[{url}] is not a URL (ldap[s]://host:port)."),
            )
            .with_fields([field]));
        };
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "ldap" && scheme != "ldaps" {
            return Err(Error::new(
                code,
                format!(
                    "{} URLs must be ldap://host[:port] or ldaps://host[:port].",
                    realm_type.label()
                ),
            )
            .with_fields([field]));
        }
        let hostport = rest.strip_suffix('/').unwrap_or(rest);
        if !valid_host_port(hostport) {
            return Err(Error::new(
                Code::RealmInvalidUrl,
                format!(
                    "[{url}] is not a valid URL: expected ldap[s]://host[:port], nothing after."
                ),
            )
            .with_fields([field]));
        }
        schemes.push(scheme);
    }
    schemes.dedup();
    if schemes.len() > 1 {
        return Err(
            Error::new(code, "ldap and ldaps URLs cannot be mixed in one realm.")
                .with_fields(["urls"]),
        );
    }
    Ok(())
}

fn valid_host_port(s: &str) -> bool {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        // [IPv6]:port
        let Some((host, after)) = rest.split_once(']') else {
            return false;
        };
        match after {
            "" => (host, None),
            p => match p.strip_prefix(':') {
                Some(p) => (host, Some(p)),
                None => return false,
            },
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            Some(_) => return false,
            None => (s, None),
        }
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
    host_ok && port_ok
}
