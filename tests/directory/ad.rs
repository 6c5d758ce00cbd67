//! The Active Directory flow on the AD-shaped tree (dc=corp,dc=example, `corp.ldif`).

use ece_server::security::directory::{
    Bind, DirectoryConfig, DirectoryError, DirectoryKind, UserLookup,
};

use super::slapd::Slapd;
use super::{auth, templates};

fn active_directory(url: &str, bind: Bind) -> DirectoryConfig {
    DirectoryConfig {
        kind: DirectoryKind::ActiveDirectory {
            domain_name: "corp.example".into(),
        },
        bind,
        user: UserLookup::Default,
        groups: None,
        ..templates(url)
    }
}

const DAVE: &str = "cn=Dave Doe,cn=Users,dc=corp,dc=example";

#[tokio::test]
async fn active_directory_tree_by_sam_account_name_and_upn() {
    let Some(s) = Slapd::start("active_directory_tree_by_sam_account_name_and_upn") else {
        return;
    };
    let svc = Bind::Dn {
        dn: "cn=svc-ldap,cn=Users,dc=corp,dc=example".into(),
        password: "svc-pw".into(),
    };
    let cfg = active_directory(&s.ldap_url, svc);
    for name in ["dave", "DAVE", "dave@corp.example"] {
        let dave = auth(&cfg, name, "dave-pw").await.unwrap();
        assert_eq!(dave.dn, DAVE, "{name}");
        // memberOf as stored; Staff (which contains Engineers) only through AD's chain rule,
        // which OpenLDAP does not have.
        assert_eq!(
            dave.groups,
            vec!["cn=Engineers,cn=Groups,dc=corp,dc=example".to_string()]
        );
        assert_eq!(dave.full_name.as_deref(), Some("Dave D. Doe"));
        assert_eq!(dave.email.as_deref(), Some("dave@corp.example"));
    }
    assert!(auth(&cfg, "erin", "erin-pw")
        .await
        .unwrap()
        .groups
        .is_empty());
    for (name, password) in [
        ("dave", "erin-pw"),
        ("nobody", "dave-pw"),
        ("dave@other.example", "dave-pw"),
        ("CORP\\dave", "dave-pw"),
        ("*", "dave-pw"),
        ("d*", "dave-pw"),
        ("dave)(cn=*", "dave-pw"),
        ("dave", ""),
    ] {
        assert_eq!(
            auth(&cfg, name, password).await,
            Err(DirectoryError::InvalidCredentials),
            "{name}"
        );
    }
}

/// Without a bind_dn the AD flow binds as `user@domain`, a name only Active Directory accepts:
/// slapd refuses it as a DN, which is reported as a misconfiguration (never as a success).
#[tokio::test]
async fn active_directory_upn_bind_against_a_non_ad_server_is_misconfigured() {
    let Some(s) =
        Slapd::start("active_directory_upn_bind_against_a_non_ad_server_is_misconfigured")
    else {
        return;
    };
    let cfg = active_directory(&s.ldap_url, Bind::Anonymous);
    match auth(&cfg, "dave", "dave-pw").await {
        Err(DirectoryError::Misconfigured { cause }) => {
            assert!(cause.contains("Active Directory"), "{cause}")
        }
        other => panic!("{other:?}"),
    }
}
