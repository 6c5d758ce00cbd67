//! Signing in with a password through the configured LDAP and Active Directory realms (never
//! SAML ones): each enabled realm, in
//! `order`, turned into a [`DirectoryConfig`] (its settings plus its opened secrets) and asked by
//! the directory client; the first that knows the user and password wins and its role mappings
//! give the roles. Every realm asked leaves a [`RealmOutcome`], so the HTTP side can write audit
//! events and metrics naming the realm and the cause (never the password).
//!
//! Nothing here reads or writes users: recording the external user is the caller's (it decides
//! how a name owned by a native user or another realm is answered).

use std::time::Duration;

use crate::domain::model::RealmRef;
use crate::domain::realms::mapping::map_roles;
use crate::domain::realms::{
    ActiveDirectorySettings, GroupSearch, LdapBindType, LdapSettings, LoadBalanceType, RealmRecord,
    RealmSecrets, RealmType, SearchScope, TruststoreType, UserSearch,
};
use crate::domain::roles::Role;
use crate::security::directory::{
    self, ca_fetch, Bind, CaFormat, DirectoryConfig, DirectoryError, DirectoryKind, DirectoryUser,
    GroupLookup, LoadBalance, Scope, StartTls, UserLookup,
};
use crate::security::sealed::{realm_context, Sealer};

/// Bounds of each directory conversation (`--directory-connect-timeout-ms`, `--directory-timeout-ms`).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub operation: Duration,
}

/// A user the directory of `realm` vouched for, with the roles its mappings give.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub realm: RealmRef,
    pub user: DirectoryUser,
    pub roles: Vec<Role>,
}

/// What one realm answered, for the audit log and the metrics.
#[derive(Debug, Clone)]
pub struct RealmOutcome {
    pub realm_id: String,
    /// `success`, `invalid_credentials`, `no_role`, `unavailable`, `misconfigured`.
    pub outcome: &'static str,
    /// Why, when it failed for a reason an operator must see; never a password.
    pub cause: Option<String>,
}

/// Asks the enabled password realms of `realms` (any order: sorted here by `order`) about
/// `username`. The first success ends the walk; a realm that does not know the user, is down or
/// is misconfigured passes to the next. SAML realms are skipped, unasked and without an outcome:
/// their users sign in at the IdP, never with a password given here.
pub async fn sign_in(
    realms: &[RealmRecord],
    sealer: &Sealer,
    timeouts: Timeouts,
    username: &str,
    password: &str,
) -> (Option<SignedIn>, Vec<RealmOutcome>) {
    let mut enabled: Vec<&RealmRecord> = realms
        .iter()
        .filter(|r| r.enabled && r.realm_type.takes_passwords())
        .collect();
    enabled.sort_by_key(|r| r.position);
    let mut outcomes = Vec::new();
    for realm in enabled {
        let outcome = |outcome, cause| RealmOutcome {
            realm_id: realm.id.clone(),
            outcome,
            cause,
        };
        let (mut cfg, mappings, ca) = match config(realm, sealer, timeouts) {
            Ok(c) => c,
            Err(cause) => {
                outcomes.push(outcome("misconfigured", Some(cause)));
                continue;
            }
        };
        let fetched = match &ca {
            // Only a name this realm could hold costs a fetch: an empty password or a refused
            // name is answered by `authenticate` before any connection.
            Some(ca) if !password.is_empty() => {
                ca_fetch::load(&ca.url, ca.format, ca.password.as_deref(), ca.within)
                    .await
                    .map(|sources| cfg.ca = sources)
            }
            _ => Ok(()),
        };
        let result = match fetched {
            Ok(()) => directory::authenticate(&cfg, username, password).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(user) => {
                let roles = map_roles(&mappings, &user.dn, &user.groups);
                if roles.is_empty() {
                    // The directory knows the user, but no ECE role is theirs: refused here and
                    // not passed on (another realm must not grant what this one withholds).
                    outcomes.push(outcome("no_role", None));
                    return (None, outcomes);
                }
                outcomes.push(outcome("success", None));
                let realm = RealmRef {
                    id: realm.id.clone(),
                    realm_type: realm.realm_type,
                };
                return (Some(SignedIn { realm, user, roles }), outcomes);
            }
            Err(DirectoryError::InvalidCredentials) => {
                outcomes.push(outcome("invalid_credentials", None))
            }
            Err(DirectoryError::Unavailable { cause }) => {
                outcomes.push(outcome("unavailable", Some(cause)))
            }
            Err(DirectoryError::Misconfigured { cause }) => {
                outcomes.push(outcome("misconfigured", Some(cause)))
            }
        }
    }
    (None, outcomes)
}

/// The opened secrets of `realm` (none stored: none).
pub(crate) fn secrets(realm: &RealmRecord, sealer: &Sealer) -> Result<RealmSecrets, String> {
    let Some(sealed) = &realm.sealed_secrets else {
        return Ok(RealmSecrets::default());
    };
    let clear = sealer
        .open(&realm_context(realm.realm_type, &realm.id), sealed)
        .map_err(|e| format!("the realm's secrets cannot be opened: {e}"))?;
    serde_json::from_slice(&clear).map_err(|_| "the realm's secrets are not JSON".to_string())
}

/// Where a realm's CA comes from (`certificate_url`), fetched at sign-in.
struct CaSpec {
    url: String,
    format: CaFormat,
    password: Option<String>,
    /// Bound on the whole fetch: the connect plus the operation timeout.
    within: Duration,
}

/// What LDAP and Active Directory settings have in common, as the directory client needs it.
struct Parts {
    kind: DirectoryKind,
    urls: Vec<String>,
    load_balance: Option<crate::domain::realms::LoadBalance>,
    cert: Option<String>,
    store: Option<TruststoreType>,
    anonymous: bool,
    bind_dn: Option<String>,
    user: UserLookup,
    groups: Option<GroupLookup>,
    mappings: Option<crate::domain::realms::RoleMappings>,
}

/// The client configuration (without its CA) and role mappings of a stored realm, and where its
/// CA comes from.
fn config(
    realm: &RealmRecord,
    sealer: &Sealer,
    timeouts: Timeouts,
) -> Result<
    (
        DirectoryConfig,
        crate::domain::realms::RoleMappings,
        Option<CaSpec>,
    ),
    String,
> {
    let secrets = secrets(realm, sealer)?;
    let doc = realm.to_json();
    let bad = |e: serde_json::Error| format!("stored settings unreadable: {e}");
    let p = match realm.realm_type {
        RealmType::Ldap => {
            let s: LdapSettings = serde_json::from_value(doc).map_err(bad)?;
            let user = match s.bind_type {
                LdapBindType::UserTemplates => {
                    UserLookup::Templates(s.user_dn_templates.clone().unwrap_or_default())
                }
                LdapBindType::UserSearch => user_search(s.user_search.as_ref(), true)?,
            };
            let groups = match (&s.user_group_attribute, &s.group_search) {
                (Some(attr), _) => Some(GroupLookup::UserAttribute(attr.clone())),
                (None, Some(g)) => Some(group_search(g)?),
                (None, None) => None,
            };
            // DN templates need no service account: without a bind_dn, searches (groups) run
            // anonymously.
            let anonymous = s.bind_anonymously
                || (s.bind_type == LdapBindType::UserTemplates && s.bind_dn.is_none());
            Parts {
                kind: DirectoryKind::Ldap,
                urls: s.urls,
                load_balance: s.load_balance,
                cert: s.certificate_url,
                store: s.certificate_url_truststore_type,
                anonymous,
                bind_dn: s.bind_dn,
                user,
                groups,
                mappings: s.role_mappings,
            }
        }
        RealmType::Saml => return Err("a SAML realm takes no password".into()),
        RealmType::ActiveDirectory => {
            let s: ActiveDirectorySettings = serde_json::from_value(doc).map_err(bad)?;
            let user = match &s.user_search {
                Some(u) if u.base_dn.is_some() || u.filter.is_some() => {
                    user_search(Some(u), false)?
                }
                _ => UserLookup::Default,
            };
            Parts {
                kind: DirectoryKind::ActiveDirectory {
                    domain_name: s.domain_name.clone(),
                },
                groups: s.group_search.as_ref().map(group_search).transpose()?,
                urls: s.urls,
                load_balance: s.load_balance,
                cert: s.certificate_url,
                store: s.certificate_url_truststore_type,
                anonymous: s.bind_anonymously,
                bind_dn: s.bind_dn,
                user,
                mappings: s.role_mappings,
            }
        }
    };
    // JKS keystores are refused when met (ca_archive): with type `jks` the files are still read
    // by content, so a zip of PEM certificates works whatever the type says.
    let ca = p.cert.map(|url| CaSpec {
        url,
        format: match p.store {
            Some(TruststoreType::Pkcs12) => CaFormat::Pkcs12,
            Some(TruststoreType::Jks) | None => CaFormat::Detect,
        },
        password: secrets.certificate_url_truststore_password.clone(),
        within: timeouts.connect + timeouts.operation,
    });
    let bind = match (p.anonymous, p.bind_dn, secrets.bind_password) {
        (true, _, _) => Bind::Anonymous,
        (false, Some(dn), Some(password)) => Bind::Dn { dn, password },
        (false, _, _) => return Err("bind_dn and bind_password are required".into()),
    };
    let load_balance = match p.load_balance.and_then(|l| l.lb_type) {
        Some(LoadBalanceType::RoundRobin | LoadBalanceType::DnsRoundRobin) => {
            LoadBalance::RoundRobin
        }
        _ => LoadBalance::Failover,
    };
    let cfg = DirectoryConfig {
        kind: p.kind,
        urls: p.urls,
        load_balance,
        // Filled from `certificate_url` at sign-in; empty: the system's roots.
        ca: Vec::new(),
        starttls: StartTls::Auto,
        bind,
        user: p.user,
        groups: p.groups,
        connect_timeout: timeouts.connect,
        operation_timeout: timeouts.operation,
    };
    Ok((cfg, p.mappings.unwrap_or_default(), ca))
}

fn scope(s: Option<SearchScope>) -> Scope {
    match s {
        Some(SearchScope::Base) => Scope::Base,
        Some(SearchScope::OneLevel) => Scope::OneLevel,
        Some(SearchScope::SubTree) | None => Scope::SubTree,
    }
}

fn user_search(u: Option<&UserSearch>, base_required: bool) -> Result<UserLookup, String> {
    let u = u.cloned().unwrap_or_default();
    let base_dn = match u.base_dn {
        Some(b) => b,
        None if base_required => return Err("user_search.base_dn is required".into()),
        None => String::new(),
    };
    Ok(UserLookup::Search(directory::UserSearch {
        base_dn,
        scope: scope(u.scope),
        filter: u.filter,
    }))
}

fn group_search(g: &GroupSearch) -> Result<GroupLookup, String> {
    if let Some(attr) = &g.user_attribute {
        return Ok(GroupLookup::UserAttribute(attr.clone()));
    }
    let base_dn = g
        .base_dn
        .clone()
        .ok_or_else(|| "group_search.base_dn is required".to_string())?;
    Ok(GroupLookup::Search {
        base_dn,
        scope: scope(g.scope),
        filter: g.filter.clone(),
    })
}

#[cfg(test)]
mod tests;
