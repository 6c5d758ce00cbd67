//! The directory client (`ece_server::security::directory`) against a real OpenLDAP `slapd`
//! (`slapd.rs` starts one per test). Here: both ways of finding users, group search and
//! attribute, refusals (wrong password, unknown user, empty password, injection attempts),
//! misconfigurations. `servers.rs`: unavailable servers (closed port, a server that never
//! answers), LDAPS and StartTLS with right and wrong CAs, failover, round robin. `ad.rs`: the
//! Active Directory flow on an AD-shaped tree. Run alone with `cargo test --test directory`.
//!
//! Waits are upper bounds that keep a failing test from hanging, never timing assertions.

mod ad;
mod servers;
mod slapd;

use std::time::Duration;

use ece_server::security::directory::{
    authenticate, Bind, DirectoryConfig, DirectoryError, DirectoryKind, DirectoryUser, GroupLookup,
    LoadBalance, Scope, StartTls, UserLookup, UserSearch,
};
use slapd::Slapd;

/// Upper bound on any one `authenticate` call here.
const BOUND: Duration = Duration::from_secs(20);
const PEOPLE: &str = "ou=people,dc=example,dc=org";
const GROUPS: &str = "ou=groups,dc=example,dc=org";

fn group(cn: &str) -> String {
    format!("cn={cn},{GROUPS}")
}

fn templates(url: &str) -> DirectoryConfig {
    DirectoryConfig {
        kind: DirectoryKind::Ldap,
        urls: vec![url.to_string()],
        load_balance: LoadBalance::Failover,
        ca: vec![],
        starttls: StartTls::Auto,
        bind: Bind::Anonymous,
        user: UserLookup::Templates(vec![format!("uid={{0}},{PEOPLE}")]),
        groups: Some(GroupLookup::Search {
            base_dn: GROUPS.into(),
            scope: Scope::OneLevel,
            filter: None,
        }),
        connect_timeout: Duration::from_secs(2),
        operation_timeout: Duration::from_secs(2),
    }
}

fn searching(url: &str, bind: Bind) -> DirectoryConfig {
    DirectoryConfig {
        bind,
        user: UserLookup::Search(UserSearch {
            base_dn: PEOPLE.into(),
            scope: Scope::SubTree,
            filter: None,
        }),
        ..templates(url)
    }
}

fn reader() -> Bind {
    Bind::Dn {
        dn: "cn=reader,ou=system,dc=example,dc=org".into(),
        password: "reader-pw".into(),
    }
}

async fn auth(
    cfg: &DirectoryConfig,
    user: &str,
    password: &str,
) -> Result<DirectoryUser, DirectoryError> {
    tokio::time::timeout(BOUND, authenticate(cfg, user, password))
        .await
        .unwrap_or_else(|_| panic!("authenticate({user:?}) did not finish within {BOUND:?}"))
}

fn unavailable(r: Result<DirectoryUser, DirectoryError>) -> String {
    match r {
        Err(DirectoryError::Unavailable { cause }) => cause,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn user_templates_bind_reads_the_entry_and_all_kinds_of_groups() {
    let Some(s) = Slapd::start("user_templates_bind_reads_the_entry_and_all_kinds_of_groups")
    else {
        return;
    };
    let cfg = templates(&s.ldap_url);
    let alice = auth(&cfg, "alice", "alice-pw").await.unwrap();
    assert_eq!(alice.dn, format!("uid=alice,{PEOPLE}"));
    assert_eq!(alice.groups, vec![group("admins"), group("devs")]);
    assert_eq!(alice.full_name.as_deref(), Some("Alice Archer"));
    assert_eq!(alice.email.as_deref(), Some("alice@example.org"));
    // groupOfUniqueNames by DN and posixGroup by uid.
    let bob = auth(&cfg, "bob", "bob-pw").await.unwrap();
    assert_eq!(bob.groups, vec![group("devs"), group("ops")]);
    let carol = auth(&cfg, "carol", "carol-pw").await.unwrap();
    assert!(carol.groups.is_empty());
    // Templates are tried in order.
    let cfg = DirectoryConfig {
        user: UserLookup::Templates(vec![
            "uid={0},ou=nobody,dc=example,dc=org".into(),
            format!("uid={{0}},{PEOPLE}"),
        ]),
        ..cfg
    };
    assert_eq!(
        auth(&cfg, "alice", "alice-pw").await.unwrap().dn,
        format!("uid=alice,{PEOPLE}")
    );
}

#[tokio::test]
async fn user_search_with_a_service_account_and_anonymously() {
    let Some(s) = Slapd::start("user_search_with_a_service_account_and_anonymously") else {
        return;
    };
    for bind in [reader(), Bind::Anonymous] {
        let cfg = searching(&s.ldap_url, bind.clone());
        let bob = auth(&cfg, "bob", "bob-pw").await.unwrap();
        assert_eq!(bob.dn, format!("uid=bob,{PEOPLE}"), "{bind:?}");
        assert_eq!(bob.groups, vec![group("devs"), group("ops")], "{bind:?}");
        // The user search reaches the sub-tree (the template above does not).
        let boss = auth(&cfg, "boss", "boss-pw").await.unwrap();
        assert_eq!(boss.dn, format!("uid=boss,ou=staff,{PEOPLE}"));
        // Pooled service connections are reused: a second round works the same.
        assert_eq!(auth(&cfg, "bob", "bob-pw").await.unwrap(), bob);
    }
}

#[tokio::test]
async fn groups_from_a_user_attribute() {
    let Some(s) = Slapd::start("groups_from_a_user_attribute") else {
        return;
    };
    let cfg = DirectoryConfig {
        groups: Some(GroupLookup::UserAttribute("memberOf".into())),
        ..searching(&s.ldap_url, reader())
    };
    assert_eq!(
        auth(&cfg, "alice", "alice-pw").await.unwrap().groups,
        vec![group("admins"), group("devs")]
    );
    assert!(auth(&cfg, "carol", "carol-pw")
        .await
        .unwrap()
        .groups
        .is_empty());
}

#[tokio::test]
async fn wrong_password_and_unknown_user_are_invalid_credentials() {
    let Some(s) = Slapd::start("wrong_password_and_unknown_user_are_invalid_credentials") else {
        return;
    };
    for cfg in [
        templates(&s.ldap_url),
        searching(&s.ldap_url, reader()),
        searching(&s.ldap_url, Bind::Anonymous),
    ] {
        for (user, password) in [
            ("alice", "bob-pw"),
            ("alice", "ALICE-PW"),
            ("nobody", "alice-pw"),
        ] {
            assert_eq!(
                auth(&cfg, user, password).await,
                Err(DirectoryError::InvalidCredentials),
                "{user}"
            );
        }
    }
}

/// An empty password would be an unauthenticated bind, which LDAP answers with success: it is
/// refused before any connection (the listener here would count one).
#[tokio::test]
async fn empty_password_is_refused_without_connecting() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ldap://{}", listener.local_addr().unwrap());
    for cfg in [templates(&url), searching(&url, Bind::Anonymous)] {
        assert_eq!(
            auth(&cfg, "alice", "").await,
            Err(DirectoryError::InvalidCredentials)
        );
    }
    let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
    assert!(
        accepted.is_err(),
        "a connection was made for an empty password"
    );
}

#[tokio::test]
async fn injection_never_widens_a_search_nor_binds_someone_else() {
    let Some(s) = Slapd::start("injection_never_widens_a_search_nor_binds_someone_else") else {
        return;
    };
    let hostile = [
        "*",
        ")(uid=*",
        "admin)(|(uid=*",
        "*)(uid=*))(|(uid=*",
        "al*",
        "a\0lice",
        "alice\0",
        "\\",
        "alice\\",
        "\\2a",
        "alice,ou=x",
        "admin)",
        "(uid=admin)",
    ];
    for cfg in [
        searching(&s.ldap_url, reader()),
        searching(&s.ldap_url, Bind::Anonymous),
        templates(&s.ldap_url),
    ] {
        for name in hostile {
            for password in ["alice-pw", "admin-pw", "twin-pw"] {
                assert_eq!(
                    auth(&cfg, name, password).await,
                    Err(DirectoryError::InvalidCredentials),
                    "{name:?} / {password}"
                );
            }
        }
    }
    // A DN template: `boss,ou=staff` must not become uid=boss,ou=staff,ou=people (a real entry).
    let cfg = templates(&s.ldap_url);
    for name in [
        "boss,ou=staff",
        "boss+ou=staff",
        "boss,ou=staff,ou=people,dc=example,dc=org",
    ] {
        assert_eq!(
            auth(&cfg, name, "boss-pw").await,
            Err(DirectoryError::InvalidCredentials),
            "{name}"
        );
    }
    // A filter that matches two entries is a refusal, even with their (shared) password...
    let by_cn = DirectoryConfig {
        user: UserLookup::Search(UserSearch {
            base_dn: PEOPLE.into(),
            scope: Scope::SubTree,
            filter: Some("(cn={0})".into()),
        }),
        ..searching(&s.ldap_url, reader())
    };
    assert_eq!(
        auth(&by_cn, "Twin Name", "twin-pw").await,
        Err(DirectoryError::InvalidCredentials)
    );
    assert_eq!(
        auth(&by_cn, "Twin*", "twin-pw").await,
        Err(DirectoryError::InvalidCredentials)
    );
    // ...while that password does work for one of them, found alone.
    let twin = auth(&searching(&s.ldap_url, reader()), "twin1", "twin-pw")
        .await
        .unwrap();
    assert_eq!(twin.dn, format!("uid=twin1,{PEOPLE}"));
}

#[tokio::test]
async fn misconfigurations_say_what_is_wrong() {
    let Some(s) = Slapd::start("misconfigurations_say_what_is_wrong") else {
        return;
    };
    let misconfigured = |r: Result<DirectoryUser, DirectoryError>| match r {
        Err(DirectoryError::Misconfigured { cause }) => cause,
        other => panic!("expected Misconfigured, got {other:?}"),
    };
    let no_placeholder = DirectoryConfig {
        user: UserLookup::Templates(vec![format!("uid=alice,{PEOPLE}")]),
        ..templates(&s.ldap_url)
    };
    assert!(misconfigured(auth(&no_placeholder, "bob", "alice-pw").await).contains("{0}"));
    let bad_service = searching(
        &s.ldap_url,
        Bind::Dn {
            dn: "cn=reader,ou=system,dc=example,dc=org".into(),
            password: "wrong".into(),
        },
    );
    let cause = misconfigured(auth(&bad_service, "alice", "alice-pw").await);
    assert!(
        cause.contains("bind_dn") && !cause.contains("wrong"),
        "{cause}"
    );
    let http = DirectoryConfig {
        urls: vec!["http://127.0.0.1:1".into()],
        ..templates(&s.ldap_url)
    };
    misconfigured(auth(&http, "alice", "alice-pw").await);
    let plain_default = DirectoryConfig {
        user: UserLookup::Default,
        ..templates(&s.ldap_url)
    };
    misconfigured(auth(&plain_default, "alice", "alice-pw").await);
}
