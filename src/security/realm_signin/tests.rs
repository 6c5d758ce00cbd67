//! Unit tests of realm_signin.rs: realms into directory configurations, and the CA of a
//! `certificate_url` as part of the realm walk.

use super::*;
use serde_json::json;

fn realm(
    t: RealmType,
    settings: serde_json::Value,
    sealer: &Sealer,
    secrets: serde_json::Value,
) -> RealmRecord {
    let now = chrono::Utc::now();
    RealmRecord {
        id: "r1".into(),
        realm_type: t,
        name: "R1".into(),
        position: 0,
        enabled: true,
        settings,
        sealed_secrets: Some(sealer.seal(&realm_context(t, "r1"), secrets.to_string().as_bytes())),
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

const T: Timeouts = Timeouts {
    connect: Duration::from_millis(10),
    operation: Duration::from_millis(20),
};

#[test]
fn an_ldap_realm_becomes_a_directory_config() {
    let sealer = Sealer::from_key(&[7; 32]);
    let r = realm(
        RealmType::Ldap,
        json!({"name": "R1", "urls": ["ldap://a", "ldap://b"], "bind_anonymously": false,
               "bind_type": "user_search", "bind_dn": "cn=svc",
               "user_search": {"base_dn": "ou=people", "scope": "one_level"},
               "user_group_attribute": "memberOf",
               "load_balance": {"type": "round_robin"},
               "role_mappings": {"default_roles": ["ece_platform_viewer"], "rules": []}}),
        &sealer,
        json!({"bind_password": "svc-pw"}),
    );
    let (cfg, mappings, ca) = config(&r, &sealer, T).unwrap();
    assert!(ca.is_none());
    assert_eq!(cfg.urls, ["ldap://a", "ldap://b"]);
    assert_eq!(cfg.load_balance, LoadBalance::RoundRobin);
    assert!(
        matches!(&cfg.bind, Bind::Dn { dn, password } if dn == "cn=svc" && password == "svc-pw")
    );
    assert!(
        matches!(&cfg.user, UserLookup::Search(u) if u.base_dn == "ou=people" && u.scope == Scope::OneLevel)
    );
    assert!(matches!(&cfg.groups, Some(GroupLookup::UserAttribute(a)) if a == "memberOf"));
    assert_eq!(
        (cfg.connect_timeout, cfg.operation_timeout),
        (T.connect, T.operation)
    );
    assert_eq!(mappings.default_roles, ["ece_platform_viewer"]);
}

#[test]
fn templates_bind_anonymously_and_a_certificate_url_is_fetched_at_sign_in() {
    let sealer = Sealer::from_key(&[7; 32]);
    let doc = json!({"name": "R1", "urls": ["ldap://a"], "bind_anonymously": false,
                     "bind_type": "user_templates", "user_dn_templates": ["uid={0},ou=people"]});
    let (cfg, _, ca) = config(
        &realm(RealmType::Ldap, doc.clone(), &sealer, json!({})),
        &sealer,
        T,
    )
    .unwrap();
    assert!(matches!(cfg.bind, Bind::Anonymous));
    assert!(matches!(&cfg.user, UserLookup::Templates(t) if t == &["uid={0},ou=people"]));
    assert!(ca.is_none());
    // A certificate_url is not refused: it says where the CA comes from, with the sealed
    // truststore password and the type; the fetch is bounded by both timeouts.
    let mut with_ca = doc;
    with_ca["certificate_url"] = json!("https://example.com/ca.zip");
    with_ca["certificate_url_truststore_type"] = json!("PKCS12");
    let (_, _, ca) = config(
        &realm(
            RealmType::Ldap,
            with_ca.clone(),
            &sealer,
            json!({"certificate_url_truststore_password": "changeit"}),
        ),
        &sealer,
        T,
    )
    .unwrap();
    let ca = ca.unwrap();
    assert_eq!(ca.url, "https://example.com/ca.zip");
    assert_eq!(ca.format, CaFormat::Pkcs12);
    assert_eq!(ca.password.as_deref(), Some("changeit"));
    assert_eq!(ca.within, T.connect + T.operation);
    // `jks` (ECE's default type) reads the files by their content.
    with_ca["certificate_url_truststore_type"] = json!("jks");
    let (_, _, ca) = config(
        &realm(RealmType::Ldap, with_ca, &sealer, json!({})),
        &sealer,
        T,
    )
    .unwrap();
    assert_eq!(ca.unwrap().format, CaFormat::Detect);
    // Secrets sealed for another realm do not open.
    let mut moved = realm(RealmType::Ldap, json!({}), &sealer, json!({}));
    moved.id = "r2".into();
    assert!(config(&moved, &sealer, T)
        .err()
        .unwrap()
        .contains("secrets"));
}

/// A CA that cannot be fetched is this realm's failure, with a cause; the walk goes on.
#[tokio::test]
async fn an_unreadable_certificate_url_fails_the_realm_and_the_next_is_asked() {
    let sealer = Sealer::from_key(&[7; 32]);
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("file://{}/missing.zip", dir.path().display());
    let mut r1 = realm(
        RealmType::Ldap,
        json!({"name": "R1", "urls": ["ldap://127.0.0.1:1"], "bind_anonymously": true,
               "bind_type": "user_templates", "user_dn_templates": ["uid={0},ou=people"],
               "certificate_url": missing}),
        &sealer,
        json!({}),
    );
    r1.position = 1;
    let mut r2 = r1.clone();
    r2.id = "r2".into();
    r2.position = 2;
    r2.sealed_secrets = None;
    r2.settings["certificate_url"] = json!(format!("file://{}/other.zip", dir.path().display()));
    let (signed, outcomes) = sign_in(&[r2, r1], &sealer, T, "alice", "alice-pw").await;
    assert!(signed.is_none());
    let seen: Vec<_> = outcomes
        .iter()
        .map(|o| (o.realm_id.as_str(), o.outcome))
        .collect();
    assert_eq!(seen, [("r1", "misconfigured"), ("r2", "misconfigured")]);
    let cause = outcomes[0].cause.as_deref().unwrap();
    assert!(
        cause.contains("certificate_url") && cause.contains("missing.zip"),
        "{cause}"
    );
}

#[test]
fn an_active_directory_realm_uses_its_own_lookup() {
    let sealer = Sealer::from_key(&[7; 32]);
    let r = realm(
        RealmType::ActiveDirectory,
        json!({"name": "R1", "urls": ["ldaps://dc"], "domain_name": "corp.example",
               "bind_anonymously": true}),
        &sealer,
        json!({}),
    );
    let (cfg, mappings, ca) = config(&r, &sealer, T).unwrap();
    assert!(ca.is_none());
    assert_eq!(
        cfg.kind,
        DirectoryKind::ActiveDirectory {
            domain_name: "corp.example".into()
        }
    );
    assert!(matches!(cfg.user, UserLookup::Default));
    assert!(cfg.groups.is_none());
    assert!(mappings.rules.is_empty());
}

/// A SAML realm is not a password realm: skipped without a connection or an outcome, even
/// first in order and enabled.
#[tokio::test]
async fn saml_realms_are_never_asked_for_a_password() {
    let sealer = Sealer::from_key(&[7; 32]);
    let saml = realm(
        RealmType::Saml,
        json!({"name": "Okta", "idp": {"entity_id": "urn:idp", "metadata_path": "https://idp/m"},
               "sp": {"entity_id": "urn:sp", "acs": "https://h/a", "logout": "https://h/l"},
               "attributes": {"principal": "p", "groups": "g"},
               "role_mappings": {"default_roles": ["ece_platform_admin"], "rules": []}}),
        &sealer,
        json!({"signing_certificate_url_password": "pw"}),
    );
    let (signed, outcomes) = sign_in(std::slice::from_ref(&saml), &sealer, T, "alice", "pw").await;
    assert!(signed.is_none());
    assert!(outcomes.is_empty(), "{outcomes:?}");
    assert!(config(&saml, &sealer, T).is_err());
}
