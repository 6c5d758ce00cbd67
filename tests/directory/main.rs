//! The directory client (`ece_server::security::directory`) against a real OpenLDAP `slapd`
//! (`slapd.rs` starts one per test): both ways of finding users, group search and attribute,
//! refusals (wrong password, unknown user, empty password, injection attempts), unavailable
//! servers (closed port, a server that never answers), LDAPS and StartTLS with right and wrong
//! CAs, failover, round robin, and the Active Directory flow on an AD-shaped tree.
//!
//! Waits are upper bounds that keep a failing test from hanging, never timing assertions.

mod slapd;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ece_server::security::directory::{
    authenticate, Bind, CaSource, DirectoryConfig, DirectoryError, DirectoryKind, DirectoryUser,
    GroupLookup, LoadBalance, Scope, StartTls, UserLookup, UserSearch,
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
        groups: Some(GroupLookup::Search { base_dn: GROUPS.into(), scope: Scope::OneLevel, filter: None }),
        connect_timeout: Duration::from_secs(2),
        operation_timeout: Duration::from_secs(2),
    }
}

fn searching(url: &str, bind: Bind) -> DirectoryConfig {
    DirectoryConfig {
        bind,
        user: UserLookup::Search(UserSearch { base_dn: PEOPLE.into(), scope: Scope::SubTree, filter: None }),
        ..templates(url)
    }
}

fn reader() -> Bind {
    Bind::Dn { dn: "cn=reader,ou=system,dc=example,dc=org".into(), password: "reader-pw".into() }
}

async fn auth(cfg: &DirectoryConfig, user: &str, password: &str) -> Result<DirectoryUser, DirectoryError> {
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
    let Some(s) = Slapd::start("user_templates_bind_reads_the_entry_and_all_kinds_of_groups") else { return };
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
    assert_eq!(auth(&cfg, "alice", "alice-pw").await.unwrap().dn, format!("uid=alice,{PEOPLE}"));
}

#[tokio::test]
async fn user_search_with_a_service_account_and_anonymously() {
    let Some(s) = Slapd::start("user_search_with_a_service_account_and_anonymously") else { return };
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
    let Some(s) = Slapd::start("groups_from_a_user_attribute") else { return };
    let cfg = DirectoryConfig {
        groups: Some(GroupLookup::UserAttribute("memberOf".into())),
        ..searching(&s.ldap_url, reader())
    };
    assert_eq!(auth(&cfg, "alice", "alice-pw").await.unwrap().groups, vec![group("admins"), group("devs")]);
    assert!(auth(&cfg, "carol", "carol-pw").await.unwrap().groups.is_empty());
}

#[tokio::test]
async fn wrong_password_and_unknown_user_are_invalid_credentials() {
    let Some(s) = Slapd::start("wrong_password_and_unknown_user_are_invalid_credentials") else { return };
    for cfg in [templates(&s.ldap_url), searching(&s.ldap_url, reader()), searching(&s.ldap_url, Bind::Anonymous)] {
        for (user, password) in [("alice", "bob-pw"), ("alice", "ALICE-PW"), ("nobody", "alice-pw")] {
            assert_eq!(auth(&cfg, user, password).await, Err(DirectoryError::InvalidCredentials), "{user}");
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
        assert_eq!(auth(&cfg, "alice", "").await, Err(DirectoryError::InvalidCredentials));
    }
    let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
    assert!(accepted.is_err(), "a connection was made for an empty password");
}

#[tokio::test]
async fn injection_never_widens_a_search_nor_binds_someone_else() {
    let Some(s) = Slapd::start("injection_never_widens_a_search_nor_binds_someone_else") else { return };
    let hostile = [
        "*", ")(uid=*", "admin)(|(uid=*", "*)(uid=*))(|(uid=*", "al*", "a\0lice", "alice\0", "\\",
        "alice\\", "\\2a", "alice,ou=x", "admin)", "(uid=admin)",
    ];
    for cfg in [searching(&s.ldap_url, reader()), searching(&s.ldap_url, Bind::Anonymous), templates(&s.ldap_url)] {
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
    for name in ["boss,ou=staff", "boss+ou=staff", "boss,ou=staff,ou=people,dc=example,dc=org"] {
        assert_eq!(auth(&cfg, name, "boss-pw").await, Err(DirectoryError::InvalidCredentials), "{name}");
    }
    // A filter that matches two entries is a refusal, even with their (shared) password...
    let by_cn = DirectoryConfig {
        user: UserLookup::Search(UserSearch { base_dn: PEOPLE.into(), scope: Scope::SubTree, filter: Some("(cn={0})".into()) }),
        ..searching(&s.ldap_url, reader())
    };
    assert_eq!(auth(&by_cn, "Twin Name", "twin-pw").await, Err(DirectoryError::InvalidCredentials));
    assert_eq!(auth(&by_cn, "Twin*", "twin-pw").await, Err(DirectoryError::InvalidCredentials));
    // ...while that password does work for one of them, found alone.
    let twin = auth(&searching(&s.ldap_url, reader()), "twin1", "twin-pw").await.unwrap();
    assert_eq!(twin.dn, format!("uid=twin1,{PEOPLE}"));
}

#[tokio::test]
async fn stopped_directory_is_unavailable() {
    let url = format!("ldap://127.0.0.1:{}", slapd::free_port());
    for cfg in [templates(&url), searching(&url, reader())] {
        let cause = unavailable(auth(&cfg, "alice", "alice-pw").await);
        assert!(cause.contains(&url), "{cause}");
        assert!(!cause.contains("alice-pw") && !cause.contains("reader-pw"), "{cause}");
    }
}

/// A server that accepts connections and never answers (plain or TLS) is unavailable once the
/// timeouts pass; the sign-in does not hang.
#[tokio::test]
async fn silent_server_is_unavailable_within_the_timeouts() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket); // held open, never read or written
        }
    });
    let short = |url: String| DirectoryConfig {
        connect_timeout: Duration::from_millis(500),
        operation_timeout: Duration::from_millis(500),
        ..searching(&url, reader())
    };
    for url in [format!("ldap://{addr}"), format!("ldaps://{addr}")] {
        let cause = unavailable(auth(&short(url.clone()), "alice", "alice-pw").await);
        assert!(cause.contains("timed out"), "{url}: {cause}");
    }
    held.abort();
}

#[tokio::test]
async fn ldaps_trusts_the_configured_ca_only() {
    let Some(s) = Slapd::start("ldaps_trusts_the_configured_ca_only") else { return };
    let with_ca = |ca: Vec<CaSource>| DirectoryConfig { ca, ..searching(&s.ldaps_url, reader()) };
    // PEM, DER, and a PKCS#12 truststore holding the CA.
    let mut store = p12_keystore::KeyStore::new();
    let cert = p12_keystore::Certificate::from_der(&s.ca_der).unwrap();
    store.add_entry("ca", p12_keystore::KeyStoreEntry::Certificate(cert));
    let p12 = store.writer("changeit").write().unwrap();
    for ca in [
        CaSource::Pem(s.ca_pem.clone()),
        CaSource::Pem(s.ca_der.clone()),
        CaSource::Pkcs12 { data: p12, password: "changeit".into() },
    ] {
        let alice = auth(&with_ca(vec![ca.clone()]), "alice", "alice-pw").await;
        assert_eq!(alice.unwrap().dn, format!("uid=alice,{PEOPLE}"), "{ca:?}");
    }
    // Another CA, or the system's roots: the handshake fails, as unavailable, saying TLS.
    let (other, _) = slapd::ca("some other CA");
    for ca in [vec![CaSource::Pem(other.pem().into_bytes())], vec![]] {
        let cause = unavailable(auth(&with_ca(ca), "alice", "alice-pw").await);
        assert!(cause.contains("TLS"), "{cause}");
    }
}

#[tokio::test]
async fn starttls_upgrades_ldap_urls() {
    let Some(s) = Slapd::start("starttls_upgrades_ldap_urls") else { return };
    let cfg = |starttls, ca: &[u8]| DirectoryConfig {
        starttls,
        ca: vec![CaSource::Pem(ca.to_vec())],
        ..searching(&s.ldap_url, reader())
    };
    // slapd lets tlsonly bind only over TLS: success proves StartTLS happened.
    for mode in [StartTls::Auto, StartTls::Always] {
        let user = auth(&cfg(mode, &s.ca_pem), "tlsonly", "tlsonly-pw").await;
        assert_eq!(user.unwrap().dn, format!("uid=tlsonly,{PEOPLE}"), "{mode:?}");
    }
    let clear = auth(&cfg(StartTls::Never, &s.ca_pem), "tlsonly", "tlsonly-pw").await;
    assert_eq!(clear, Err(DirectoryError::InvalidCredentials));
    let (other, _) = slapd::ca("some other CA");
    let cause = unavailable(auth(&cfg(StartTls::Auto, other.pem().as_bytes()), "alice", "alice-pw").await);
    assert!(cause.contains("TLS"), "{cause}");
}

/// Accepts and closes every connection at once, counting them.
async fn slamming_door() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ldap://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (url, count)
}

#[tokio::test]
async fn failover_and_round_robin() {
    let Some(s) = Slapd::start("failover_and_round_robin") else { return };
    // A closed port first: failover goes on to the live server.
    let dead = format!("ldap://127.0.0.1:{}", slapd::free_port());
    let cfg = DirectoryConfig { urls: vec![dead, s.ldap_url.clone()], ..templates(&s.ldap_url) };
    assert!(auth(&cfg, "alice", "alice-pw").await.is_ok());

    // A server that hangs up: with failover every sign-in tries it first; with round robin only
    // every other one starts there.
    for (balance, expected) in [(LoadBalance::Failover, 4), (LoadBalance::RoundRobin, 2)] {
        let (door, knocks) = slamming_door().await;
        let cfg = DirectoryConfig {
            urls: vec![door, s.ldap_url.clone()],
            load_balance: balance,
            ..searching(&s.ldap_url, Bind::Anonymous)
        };
        for _ in 0..4 {
            assert!(auth(&cfg, "alice", "alice-pw").await.is_ok(), "{balance:?}");
        }
        assert_eq!(knocks.load(Ordering::SeqCst), expected, "{balance:?}");
    }
    // All down: unavailable, naming each.
    let (a, b) = (slapd::free_port(), slapd::free_port());
    let cfg = DirectoryConfig {
        urls: vec![format!("ldap://127.0.0.1:{a}"), format!("ldap://127.0.0.1:{b}")],
        ..templates(&s.ldap_url)
    };
    let cause = unavailable(auth(&cfg, "alice", "alice-pw").await);
    assert!(cause.contains(&a.to_string()) && cause.contains(&b.to_string()), "{cause}");
}

#[tokio::test]
async fn misconfigurations_say_what_is_wrong() {
    let Some(s) = Slapd::start("misconfigurations_say_what_is_wrong") else { return };
    let misconfigured = |r: Result<DirectoryUser, DirectoryError>| match r {
        Err(DirectoryError::Misconfigured { cause }) => cause,
        other => panic!("expected Misconfigured, got {other:?}"),
    };
    let no_placeholder = DirectoryConfig { user: UserLookup::Templates(vec![format!("uid=alice,{PEOPLE}")]), ..templates(&s.ldap_url) };
    assert!(misconfigured(auth(&no_placeholder, "bob", "alice-pw").await).contains("{0}"));
    let bad_service = searching(&s.ldap_url, Bind::Dn { dn: "cn=reader,ou=system,dc=example,dc=org".into(), password: "wrong".into() });
    let cause = misconfigured(auth(&bad_service, "alice", "alice-pw").await);
    assert!(cause.contains("bind_dn") && !cause.contains("wrong"), "{cause}");
    let http = DirectoryConfig { urls: vec!["http://127.0.0.1:1".into()], ..templates(&s.ldap_url) };
    misconfigured(auth(&http, "alice", "alice-pw").await);
    let plain_default = DirectoryConfig { user: UserLookup::Default, ..templates(&s.ldap_url) };
    misconfigured(auth(&plain_default, "alice", "alice-pw").await);
}

fn active_directory(url: &str, bind: Bind) -> DirectoryConfig {
    DirectoryConfig {
        kind: DirectoryKind::ActiveDirectory { domain_name: "corp.example".into() },
        bind,
        user: UserLookup::Default,
        groups: None,
        ..templates(url)
    }
}

const DAVE: &str = "cn=Dave Doe,cn=Users,dc=corp,dc=example";

#[tokio::test]
async fn active_directory_tree_by_sam_account_name_and_upn() {
    let Some(s) = Slapd::start("active_directory_tree_by_sam_account_name_and_upn") else { return };
    let svc = Bind::Dn { dn: "cn=svc-ldap,cn=Users,dc=corp,dc=example".into(), password: "svc-pw".into() };
    let cfg = active_directory(&s.ldap_url, svc);
    for name in ["dave", "DAVE", "dave@corp.example"] {
        let dave = auth(&cfg, name, "dave-pw").await.unwrap();
        assert_eq!(dave.dn, DAVE, "{name}");
        // memberOf as stored; Staff (which contains Engineers) only through AD's chain rule,
        // which OpenLDAP does not have.
        assert_eq!(dave.groups, vec!["cn=Engineers,cn=Groups,dc=corp,dc=example".to_string()]);
        assert_eq!(dave.full_name.as_deref(), Some("Dave D. Doe"));
        assert_eq!(dave.email.as_deref(), Some("dave@corp.example"));
    }
    assert!(auth(&cfg, "erin", "erin-pw").await.unwrap().groups.is_empty());
    for (name, password) in [
        ("dave", "erin-pw"), ("nobody", "dave-pw"), ("dave@other.example", "dave-pw"),
        ("CORP\\dave", "dave-pw"), ("*", "dave-pw"), ("d*", "dave-pw"), ("dave)(cn=*", "dave-pw"),
        ("dave", ""),
    ] {
        assert_eq!(auth(&cfg, name, password).await, Err(DirectoryError::InvalidCredentials), "{name}");
    }
}

/// Without a bind_dn the AD flow binds as `user@domain`, a name only Active Directory accepts:
/// slapd refuses it as a DN, which is reported as a misconfiguration (never as a success).
#[tokio::test]
async fn active_directory_upn_bind_against_a_non_ad_server_is_misconfigured() {
    let Some(s) = Slapd::start("active_directory_upn_bind_against_a_non_ad_server_is_misconfigured") else { return };
    let cfg = active_directory(&s.ldap_url, Bind::Anonymous);
    match auth(&cfg, "dave", "dave-pw").await {
        Err(DirectoryError::Misconfigured { cause }) => assert!(cause.contains("Active Directory"), "{cause}"),
        other => panic!("{other:?}"),
    }
}
