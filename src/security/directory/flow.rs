//! The sign-in flows: find the user's DN, prove the password with a bind as that DN, read the
//! user's entry and groups.
//!
//! - DN templates: bind as each filled template in turn on one connection; the first that
//!   succeeds is the user.
//! - User search: search with a service connection (anonymous or `bind_dn`), exactly one entry or
//!   a refusal (none: unknown; several: the filter is ambiguous, logged), then bind as its DN on
//!   a fresh connection.
//! - Active Directory: the user search above by `sAMAccountName`/`userPrincipalName` when a
//!   `bind_dn` is configured; otherwise a bind as `user@domain` (UPN, which only AD accepts), then
//!   the same search on that connection.
//!
//! The whole flow runs against one URL; if that server is unavailable at any step the next URL is
//! tried from the start (`conn::order`).

use std::collections::BTreeSet;

use ldap3::SearchEntry;

use super::conn::{self, rc, Conn};
use super::escape::{acceptable_ad_name, dn_value, domain_base, fill, filter_value};
use super::{
    Bind, DirectoryConfig, DirectoryError, DirectoryKind, DirectoryUser, GroupLookup, Scope,
    UserLookup, UserSearch,
};

/// LDAP's default group filter: membership in the four usual group classes. `{0}` is the user's
/// DN (member, uniqueMember), `{1}` the user's uid (posixGroup's memberUid holds names).
const DEFAULT_GROUP_FILTER: &str = "(&(|(objectClass=group)(objectClass=groupOfNames)\
(objectClass=groupOfUniqueNames)(objectClass=posixGroup))\
(|(member={0})(uniqueMember={0})(memberUid={1})))";
/// AD's transitive membership rule (LDAP_MATCHING_RULE_IN_CHAIN): nested groups in one search.
/// Servers that do not know it (OpenLDAP) match nothing, and `memberOf` alone is used.
const AD_NESTED_GROUP_FILTER: &str = "(member:1.2.840.113556.1.4.1941:={0})";
/// At most this many groups are read per search.
const MAX_GROUPS: i32 = 1000;

pub async fn run(
    cfg: &DirectoryConfig,
    username: &str,
    password: &str,
) -> Result<DirectoryUser, DirectoryError> {
    if cfg.urls.is_empty() {
        return Err(conn::misconfigured("no directory URL".into()));
    }
    if matches!(cfg.kind, DirectoryKind::ActiveDirectory { .. }) && !acceptable_ad_name(username) {
        return Err(DirectoryError::InvalidCredentials);
    }
    let mut causes = Vec::new();
    for url in conn::order(cfg) {
        match on_server(cfg, &url, username, password).await {
            Err(DirectoryError::Unavailable { cause }) => causes.push(cause),
            other => return other,
        }
    }
    Err(DirectoryError::Unavailable {
        cause: causes.join("; "),
    })
}

async fn on_server(
    cfg: &DirectoryConfig,
    url: &str,
    username: &str,
    password: &str,
) -> Result<DirectoryUser, DirectoryError> {
    match (&cfg.kind, &cfg.user) {
        (_, UserLookup::Templates(templates)) => {
            with_templates(cfg, url, templates, username, password).await
        }
        (DirectoryKind::Ldap, UserLookup::Search(search)) => {
            let filter = search.filter.as_deref().unwrap_or("(uid={0})");
            search_then_bind(cfg, url, search, filter, username, password).await
        }
        (DirectoryKind::Ldap, UserLookup::Default) => Err(conn::misconfigured(
            "an LDAP directory needs user DN templates or a user search".into(),
        )),
        (DirectoryKind::ActiveDirectory { domain_name }, lookup) => {
            let search = match lookup {
                UserLookup::Search(s) => s.clone(),
                _ => UserSearch {
                    base_dn: domain_base(domain_name).ok_or_else(|| {
                        conn::misconfigured(format!("not a domain name: {domain_name:?}"))
                    })?,
                    scope: Scope::SubTree,
                    filter: None,
                },
            };
            let filter = match &search.filter {
                Some(f) => f.clone(),
                None => ad_filter(username, domain_name),
            };
            match cfg.bind {
                Bind::Dn { .. } => {
                    search_then_bind(cfg, url, &search, &filter, username, password).await
                }
                Bind::Anonymous => {
                    upn_bind(cfg, url, &search, &filter, username, domain_name, password).await
                }
            }
        }
    }
}

/// `(&(objectClass=user)(|(sAMAccountName={0})(userPrincipalName={0}@domain)))`, or by UPN only
/// when the name already has a domain.
fn ad_filter(username: &str, domain: &str) -> String {
    if username.contains('@') {
        "(&(objectClass=user)(userPrincipalName={0}))".into()
    } else {
        format!(
            "(&(objectClass=user)(|(sAMAccountName={{0}})(userPrincipalName={{0}}@{})))",
            filter_value(domain)
        )
    }
}

async fn with_templates(
    cfg: &DirectoryConfig,
    url: &str,
    templates: &[String],
    username: &str,
    password: &str,
) -> Result<DirectoryUser, DirectoryError> {
    let dns = templates
        .iter()
        .map(|t| fill(t, &dn_value(username)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| conn::misconfigured("a user DN template has no {0}".into()))?;
    if dns.is_empty() {
        return Err(conn::misconfigured("no user DN template".into()));
    }
    let mut user = Conn::open(cfg, url).await?;
    for dn in dns {
        match user.bind(&dn, password).await? {
            Ok(()) => {
                // The user reads their own entry and groups: no service identity in this mode.
                let entry = read_entry(&mut user, &dn).await?;
                let groups = groups(cfg, &mut user, &entry, username).await?;
                return Ok(identity(entry, groups));
            }
            Err(rc::INVALID_CREDENTIALS | rc::NO_SUCH_OBJECT) => continue,
            Err(rc::INVALID_DN_SYNTAX) => {
                return Err(conn::misconfigured(format!(
                    "the user DN template gives an invalid DN ({})",
                    templates.join(" | ")
                )))
            }
            Err(code) => return Err(bind_refused(url, code)),
        }
    }
    Err(DirectoryError::InvalidCredentials)
}

async fn search_then_bind(
    cfg: &DirectoryConfig,
    url: &str,
    search: &UserSearch,
    filter: &str,
    username: &str,
    password: &str,
) -> Result<DirectoryUser, DirectoryError> {
    let filter = fill(filter, &filter_value(username))
        .ok_or_else(|| conn::misconfigured("the user search filter has no {0}".into()))?;
    let mut service = conn::service(cfg, url).await?;
    let mut found = one_user(&mut service, search, &filter).await;
    if service.reused && matches!(found, Err(DirectoryError::Unavailable { .. })) {
        // A pooled connection the server had closed (idle timeout, restart): once more on a
        // new one before calling the server unavailable.
        service = conn::fresh_service(cfg, url).await?;
        found = one_user(&mut service, search, &filter).await;
    }
    let entry = match found {
        Ok(entry) => entry,
        Err(e @ DirectoryError::InvalidCredentials) => {
            conn::give_back(cfg, service);
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let mut user = Conn::open(cfg, url).await?;
    match user.bind(&entry.dn, password).await? {
        Ok(()) => {}
        Err(rc::INVALID_CREDENTIALS) => {
            conn::give_back(cfg, service);
            return Err(DirectoryError::InvalidCredentials);
        }
        Err(code) => return Err(bind_refused(url, code)),
    }
    // Groups are read as the service identity when there is one, else as the user (an anonymous
    // connection often may not read groups).
    let groups = match cfg.bind {
        Bind::Dn { .. } => groups(cfg, &mut service, &entry, username).await?,
        Bind::Anonymous => groups(cfg, &mut user, &entry, username).await?,
    };
    conn::give_back(cfg, service);
    Ok(identity(entry, groups))
}

async fn upn_bind(
    cfg: &DirectoryConfig,
    url: &str,
    search: &UserSearch,
    filter: &str,
    username: &str,
    domain: &str,
    password: &str,
) -> Result<DirectoryUser, DirectoryError> {
    let filter = fill(filter, &filter_value(username))
        .ok_or_else(|| conn::misconfigured("the user search filter has no {0}".into()))?;
    let upn = if username.contains('@') {
        username.to_string()
    } else {
        format!("{username}@{domain}")
    };
    let mut user = Conn::open(cfg, url).await?;
    match user.bind(&upn, password).await? {
        Ok(()) => {}
        Err(rc::INVALID_CREDENTIALS) => return Err(DirectoryError::InvalidCredentials),
        Err(rc::INVALID_DN_SYNTAX) => {
            return Err(conn::misconfigured(format!(
                "{url} refuses user@domain bind names: not Active Directory? Configure a bind_dn \
                 so users are searched and bound by DN"
            )))
        }
        Err(code) => return Err(bind_refused(url, code)),
    }
    let entry = one_user(&mut user, search, &filter).await?;
    let groups = groups(cfg, &mut user, &entry, username).await?;
    Ok(identity(entry, groups))
}

/// The one entry the user search finds. None or several: a refusal (several means the filter
/// does not identify users; it is logged for the operator, without the name typed).
async fn one_user(
    conn: &mut Conn,
    search: &UserSearch,
    filter: &str,
) -> Result<SearchEntry, DirectoryError> {
    let mut entries = conn
        .search(
            &search.base_dn,
            scope(search.scope),
            filter,
            &user_attrs(),
            1,
        )
        .await?;
    match entries.len() {
        1 => Ok(entries.remove(0)),
        0 => Err(DirectoryError::InvalidCredentials),
        _ => {
            tracing::warn!(
                url = conn.url(),
                base = %search.base_dn,
                "the directory user search matched several entries: sign-in refused"
            );
            Err(DirectoryError::InvalidCredentials)
        }
    }
}

/// The user's own entry, as far as the connection may read it (else just its DN).
async fn read_entry(conn: &mut Conn, dn: &str) -> Result<SearchEntry, DirectoryError> {
    let mut entries = conn
        .search(dn, ldap3::Scope::Base, "(objectClass=*)", &user_attrs(), 1)
        .await?;
    Ok(if entries.len() == 1 {
        entries.remove(0)
    } else {
        SearchEntry {
            dn: dn.to_string(),
            attrs: Default::default(),
            bin_attrs: Default::default(),
        }
    })
}

fn user_attrs() -> Vec<&'static str> {
    // `+`-less: operational attributes are not needed; `memberOf` is asked for by name (it is
    // operational on OpenLDAP's overlay). The configured group attribute is read from `*`.
    vec!["*", "memberOf"]
}

async fn groups(
    cfg: &DirectoryConfig,
    conn: &mut Conn,
    entry: &SearchEntry,
    username: &str,
) -> Result<Vec<String>, DirectoryError> {
    let mut groups = BTreeSet::new();
    match (&cfg.groups, &cfg.kind) {
        (Some(GroupLookup::UserAttribute(name)), _) => groups.extend(attr(entry, name)),
        (
            Some(GroupLookup::Search {
                base_dn,
                scope: s,
                filter,
            }),
            _,
        ) => {
            let filter = filter.as_deref().unwrap_or(DEFAULT_GROUP_FILTER);
            if !filter.contains("{0}") && !filter.contains("{1}") {
                return Err(conn::misconfigured(
                    "the group search filter has no {0} or {1}".into(),
                ));
            }
            let uid = attr(entry, "uid")
                .next()
                .unwrap_or_else(|| username.to_string());
            let filter = filter
                .replace("{0}", &filter_value(&entry.dn))
                .replace("{1}", &filter_value(&uid));
            let found = conn
                .search(base_dn, scope(*s), &filter, &["1.1"], MAX_GROUPS)
                .await?;
            groups.extend(found.into_iter().map(|e| e.dn));
        }
        (None, DirectoryKind::Ldap) => {}
        (None, DirectoryKind::ActiveDirectory { domain_name }) => {
            groups.extend(attr(entry, "memberOf"));
            if let Some(base) = domain_base(domain_name) {
                let filter = AD_NESTED_GROUP_FILTER.replace("{0}", &filter_value(&entry.dn));
                match conn
                    .search(&base, ldap3::Scope::Subtree, &filter, &["1.1"], MAX_GROUPS)
                    .await
                {
                    Ok(found) => groups.extend(found.into_iter().map(|e| e.dn)),
                    // A server that refuses the rule: `memberOf` is what there is.
                    Err(DirectoryError::Misconfigured { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(groups.into_iter().collect())
}

/// The values of attribute `name` (attribute names are case-insensitive).
fn attr<'a>(entry: &'a SearchEntry, name: &'a str) -> impl Iterator<Item = String> + 'a {
    entry
        .attrs
        .iter()
        .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.iter().cloned())
}

fn identity(entry: SearchEntry, groups: Vec<String>) -> DirectoryUser {
    let full_name = attr(&entry, "displayName")
        .next()
        .or_else(|| attr(&entry, "cn").next());
    let email = attr(&entry, "mail").next();
    DirectoryUser {
        dn: entry.dn,
        groups,
        full_name,
        email,
    }
}

fn bind_refused(url: &str, code: u32) -> DirectoryError {
    match code {
        rc::BUSY | rc::UNAVAILABLE => {
            conn::unavailable(url, format!("bind: server answered {code}"))
        }
        // unwillingToPerform: e.g. a disabled or locked account on some servers.
        rc::UNWILLING => DirectoryError::InvalidCredentials,
        _ => conn::misconfigured(format!("{url}: bind refused with result code {code}")),
    }
}

fn scope(s: Scope) -> ldap3::Scope {
    match s {
        Scope::Base => ldap3::Scope::Base,
        Scope::OneLevel => ldap3::Scope::OneLevel,
        Scope::SubTree => ldap3::Scope::Subtree,
    }
}
