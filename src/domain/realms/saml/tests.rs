//! Unit tests of the SAML settings checks, through `validate_settings` as the API calls it.

use serde_json::{json, Value};

use crate::domain::error::Code;
use crate::domain::realms::{validate_settings, RealmType};

fn saml() -> Value {
    json!({"id": "okta", "name": "Okta",
           "idp": {"entity_id": "http://www.okta.com/exk1", "metadata_path": "https://idp.example.com/metadata"},
           "sp": {"entity_id": "https://ece.example.com", "acs": "https://ece.example.com/api/v1/users/auth/saml/_callback",
                  "logout": "https://ece.example.com/logout"},
           "attributes": {"principal": "nameid:persistent", "groups": "groups"},
           "signing_certificate_url": "https://certs.example.com/signing.zip",
           "signing_certificate_url_password": "sign-s3cret",
           "ssl_certificate_url_truststore_password": "ssl-s3cret"})
}

fn refusal(doc: Value) -> (Code, Vec<String>) {
    let e = validate_settings(RealmType::Saml, &doc).unwrap_err();
    (e.code, e.fields)
}

#[test]
fn secrets_are_split_off_and_other_types_secrets_dropped() {
    let mut d = saml();
    d["bind_password"] = json!("not-a-saml-field");
    let v = validate_settings(RealmType::Saml, &d).unwrap();
    assert_eq!(
        v.secrets.signing_certificate_url_password.as_deref(),
        Some("sign-s3cret")
    );
    assert_eq!(
        v.secrets.ssl_certificate_url_truststore_password.as_deref(),
        Some("ssl-s3cret")
    );
    assert_eq!(v.secrets.bind_password, None);
    let text = v.settings.to_string();
    assert!(!text.contains("s3cret") && !text.contains("not-a-saml-field"));
    assert_eq!(v.settings["idp"]["entity_id"], "http://www.okta.com/exk1");
    assert!(v.settings.get("id").is_none());
}

#[test]
fn refusals_name_their_field() {
    let cases: Vec<(&str, Value, Code, &str)> = vec![
        (
            "idp",
            json!({"entity_id": "x"}),
            Code::InvalidJson,
            "idp.metadata_path",
        ),
        (
            "idp",
            json!({"entity_id": "no uri", "metadata_path": "https://i/m"}),
            Code::InvalidJson,
            "idp.entity_id",
        ),
        (
            "idp",
            json!({"entity_id": "urn:idp", "metadata_path": "ftp://i/m"}),
            Code::RealmSamlInvalidIdpMetadataUrl,
            "idp.metadata_path",
        ),
        (
            "idp",
            json!({"entity_id": "urn:idp", "metadata_path": "/etc/idp.xml"}),
            Code::RealmSamlInvalidIdpMetadataUrl,
            "idp.metadata_path",
        ),
        (
            "sp",
            json!({"entity_id": "urn:sp", "acs": "/relative", "logout": "https://h/l"}),
            Code::RealmInvalidUrl,
            "sp.acs",
        ),
        (
            "sp",
            json!({"entity_id": "urn:sp", "acs": "https://h/a", "logout": ""}),
            Code::RealmInvalidUrl,
            "sp.logout",
        ),
        (
            "sp",
            json!({"entity_id": "", "acs": "https://h/a", "logout": "https://h/l"}),
            Code::InvalidJson,
            "sp.entity_id",
        ),
        (
            "attributes",
            json!({"principal": " ", "groups": "g"}),
            Code::InvalidJson,
            "attributes.principal",
        ),
        (
            "attributes",
            json!({"principal": "p"}),
            Code::InvalidJson,
            "attributes.groups",
        ),
        (
            "signing_certificate_url",
            json!("gopher://x"),
            Code::RealmInvalidBundleUrl,
            "signing_certificate_url",
        ),
        (
            "encryption_certificate_url",
            json!("x.zip"),
            Code::RealmInvalidBundleUrl,
            "encryption_certificate_url",
        ),
        (
            "ssl_certificate_url_truststore_type",
            json!("pem"),
            Code::InvalidJson,
            "ssl_certificate_url_truststore_type",
        ),
        (
            "signing_saml_messages",
            json!(["AuthnRequest", "Assertion"]),
            Code::InvalidJson,
            "signing_saml_messages[1]",
        ),
        (
            "override_yaml",
            json!("idp.use_single_logout: true"),
            Code::RealmInvalidYaml,
            "override_yaml",
        ),
        ("order", json!(-1), Code::RealmInvalidOrder, "order"),
        ("id", json!("native"), Code::RealmInvalidId, "id"),
        (
            "role_mappings",
            json!({"default_roles": [], "rules": [{"type": "user_dn", "value": "x", "roles": ["ece_platform_viewer"]}]}),
            Code::InvalidJson,
            "role_mappings.rules[0].type",
        ),
        (
            "role_mappings",
            json!({"default_roles": [], "rules": [{"type": "dn", "value": "not a dn", "roles": ["ece_platform_viewer"]}]}),
            Code::InvalidJson,
            "role_mappings.rules[0].value",
        ),
        (
            "role_mappings",
            json!({"default_roles": [], "rules": [{"type": "groups", "value": "admins", "roles": ["ece_platform_admin", "ece_platform_viewer"]}]}),
            Code::UserRolesForbidden,
            "role_mappings.rules[0].roles",
        ),
        (
            "role_mappings",
            json!({"default_roles": ["nope"], "rules": []}),
            Code::UserRolesInvalid,
            "role_mappings.default_roles",
        ),
    ];
    for (field, value, code, named) in cases {
        let mut d = saml();
        d[field] = value.clone();
        assert_eq!(
            refusal(d),
            (code, vec![named.to_string()]),
            "{field}: {value}"
        );
    }
    let mut d = saml();
    d.as_object_mut().unwrap().remove("signing_certificate_url");
    d["signing_saml_messages"] = json!(["AuthnRequest"]);
    assert_eq!(refusal(d).1, vec!["signing_saml_messages".to_string()]);
}

#[test]
fn the_spec_rule_types_and_file_metadata_are_accepted() {
    let mut d = saml();
    d["idp"]["metadata_path"] = json!("file:///etc/ece/idp-metadata.xml");
    d["role_mappings"] = json!({"default_roles": ["ece_platform_viewer"], "rules": [
        {"type": "username", "value": "alice@example.com", "roles": ["ece_platform_admin"]},
        {"type": "groups", "value": "ece-admins", "roles": ["ece_platform_admin"]},
        {"type": "dn", "value": "cn=alice,dc=example,dc=com", "roles": ["ece_platform_viewer"]}]});
    d["signing_saml_messages"] = json!(["AuthnRequest", "LogoutRequest", "LogoutResponse"]);
    d["force_authn"] = json!(true);
    d["idp"]["use_single_logout"] = json!(true);
    d["nameid_format"] = json!("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent");
    let v = validate_settings(RealmType::Saml, &d).unwrap();
    assert_eq!(v.settings["role_mappings"]["rules"][2]["type"], "dn");
    assert_eq!(v.settings["idp"]["use_single_logout"], true);
    assert_eq!(v.settings["force_authn"], true);
}
