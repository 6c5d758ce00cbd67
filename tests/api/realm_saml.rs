//! SAML realm configuration (`.../realms/saml`): created, read, updated, listed, reordered and
//! deleted as the directory realms are, with versions, validation naming the field, RBAC, the
//! bundle passwords write-only and sealed. (That a SAML realm takes no part in password sign-in
//! is `realm_signin.rs`'s; the SAML sign-in flow itself is not served yet.)

use serde_json::{json, Value};

use crate::helpers::{error_fields, realm_doc, spawn_app, Auth};
use crate::realm_secrets::stored_secrets;
use crate::realms::{path, REALMS};

const SIGNING_PASSWORD: &str = "signing-bundle-pw-31";
const SSL_PASSWORD: &str = "ssl-truststore-pw-47";

/// A valid `SamlSettings` document with id `id` and two of its three bundle passwords.
pub fn saml_doc(id: &str) -> Value {
    json!({
        "id": id,
        "name": format!("SAML {id}"),
        "idp": {"entity_id": "http://www.okta.com/exk1abc", "metadata_path": "https://idp.example.com/app/exk1abc/sso/saml/metadata"},
        "sp": {"entity_id": "https://ece.example.com",
               "acs": "https://ece.example.com/api/v1/users/auth/saml/_callback",
               "logout": "https://ece.example.com/logout"},
        "attributes": {"principal": "nameid:persistent", "groups": "groups", "mail": "email"},
        "role_mappings": {"default_roles": [], "rules": [
            {"type": "groups", "value": "ece-admins", "roles": ["ece_platform_admin"]},
            {"type": "username", "value": "viewer@example.com", "roles": ["ece_platform_viewer"]}]},
        "force_authn": false,
        "signing_certificate_url": "https://certs.example.com/signing.zip",
        "signing_certificate_url_password": SIGNING_PASSWORD,
        "signing_saml_messages": ["AuthnRequest"],
        "ssl_certificate_url": "https://certs.example.com/ssl.zip",
        "ssl_certificate_url_truststore_password": SSL_PASSWORD,
        "ssl_certificate_url_truststore_type": "PKCS12"
    })
}

fn version_of(reply: &crate::helpers::Reply) -> String {
    reply.headers["x-cloud-resource-version"]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn saml_realms_are_created_read_updated_listed_reordered_and_deleted() {
    let app = spawn_app().await;
    app.create_realm("ldap", "corp").await;
    let created = app
        .post(&format!("{REALMS}/saml"), &Auth::admin(), saml_doc("okta"))
        .await;
    assert_eq!(version_of(&created), "1");
    assert_eq!(created.expect(201), json!({}));
    let again = app
        .post(&format!("{REALMS}/saml"), &Auth::admin(), saml_doc("corp"))
        .await;
    assert_eq!(
        error_fields(&again.expect_error(400, "security_realm.id_conflict")),
        json!(["id"])
    );

    let list = app.get(REALMS, &Auth::readonly()).await.expect(200);
    assert_eq!(list["realms"][2]["id"], "okta");
    assert_eq!(list["realms"][2]["type"], "saml");
    assert_eq!(list["realms"][2]["order"], 2);
    assert_eq!(
        list["realms"][2]["urls"],
        json!(["https://idp.example.com/app/exk1abc/sso/saml/metadata"])
    );

    let got = app.get(&path("saml", "okta"), &Auth::readonly()).await;
    assert_eq!(version_of(&got), "1");
    let doc = got.expect(200);
    let mut expected = saml_doc("okta");
    for secret in [
        "signing_certificate_url_password",
        "ssl_certificate_url_truststore_password",
    ] {
        expected.as_object_mut().unwrap().remove(secret);
    }
    expected["order"] = json!(2);
    expected["enabled"] = json!(true);
    assert_eq!(doc, expected);
    // The other types' paths do not see it, nor it theirs.
    app.get(&path("ldap", "okta"), &Auth::admin())
        .await
        .expect_error(404, "security_realm.not_found");
    app.get(&path("saml", "corp"), &Auth::admin())
        .await
        .expect_error(404, "security_realm.not_found");
    app.put(&path("saml", "corp"), &Auth::admin(), saml_doc("corp"))
        .await
        .expect_error(400, "security_realm.invalid_type");
    app.get(&path("saml", "nope"), &Auth::admin())
        .await
        .expect_error(404, "security_realm.not_found");

    // Updates: by version (a stale one is a conflict), disabling, renaming the display name.
    let mut changed = saml_doc("okta");
    changed["name"] = json!("Okta SSO");
    changed["enabled"] = json!(false);
    changed["idp"]["use_single_logout"] = json!(true);
    app.put(
        &format!("{}?version=7", path("saml", "okta")),
        &Auth::admin(),
        changed.clone(),
    )
    .await
    .expect_error(409, "security_realm.version_conflict");
    let updated = app
        .put(
            &format!("{}?version=1", path("saml", "okta")),
            &Auth::admin(),
            changed,
        )
        .await;
    assert_eq!(version_of(&updated), "2");
    updated.expect(200);
    let doc = app
        .get(&path("saml", "okta"), &Auth::admin())
        .await
        .expect(200);
    assert_eq!(
        (
            &doc["name"],
            &doc["enabled"],
            &doc["idp"]["use_single_logout"]
        ),
        (&json!("Okta SSO"), &json!(false), &json!(true))
    );
    app.put(&path("saml", "okta"), &Auth::admin(), saml_doc("other"))
        .await
        .expect_error(400, "security_realm.invalid_id");

    // Reorder: SAML realms are listed like the others.
    app.post(
        &format!("{REALMS}/_reorder"),
        &Auth::admin(),
        json!({"realms": ["okta", "corp"]}),
    )
    .await
    .expect(200);
    let list = app.get(REALMS, &Auth::admin()).await.expect(200);
    let order: Vec<(&str, &str, i64)> = list["realms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap(),
                r["type"].as_str().unwrap(),
                r["order"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            ("native", "native", 0),
            ("okta", "saml", 1),
            ("corp", "ldap", 2)
        ]
    );
    app.post(
        &format!("{REALMS}/_reorder"),
        &Auth::admin(),
        json!({"realms": ["corp"]}),
    )
    .await
    .expect_error(400, "security_realm.missing_ids");

    // Delete: a stale version is refused, then it goes (and only through its own path).
    app.delete(&path("ldap", "okta"), &Auth::admin(), None)
        .await
        .expect_error(404, "security_realm.not_found");
    app.delete(
        &format!("{}?version=1", path("saml", "okta")),
        &Auth::admin(),
        None,
    )
    .await
    .expect_error(409, "security_realm.version_conflict");
    app.delete(&path("saml", "okta"), &Auth::admin(), None)
        .await
        .expect(200);
    app.get(&path("saml", "okta"), &Auth::admin())
        .await
        .expect_error(404, "security_realm.not_found");
    app.delete(&path("saml", "okta"), &Auth::admin(), None)
        .await
        .expect_error(404, "security_realm.not_found");
    let list = app.get(REALMS, &Auth::admin()).await.expect(200);
    assert_eq!(list["realms"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn saml_bundle_passwords_are_write_only_sealed_and_kept_when_omitted() {
    let app = spawn_app().await;
    let mut doc = saml_doc("okta");
    doc["encryption_certificate_url"] = json!("file:///etc/ece/encryption.zip");
    doc["encryption_certificate_url_password"] = json!("encryption-pw-59");
    // A directory realm's secret sent to a SAML realm is not one of its fields: dropped.
    doc["bind_password"] = json!("stray-bind-pw-83");
    let created = app
        .post(&format!("{REALMS}/saml"), &Auth::admin(), doc.clone())
        .await;
    let mut replies = vec![created.body.to_string()];
    created.expect(201);
    for p in [path("saml", "okta"), REALMS.to_string()] {
        replies.push(app.get(&p, &Auth::admin()).await.expect(200).to_string());
    }
    let secrets = [
        SIGNING_PASSWORD,
        SSL_PASSWORD,
        "encryption-pw-59",
        "stray-bind-pw-83",
    ];
    for text in &replies {
        assert!(!secrets.iter().any(|s| text.contains(s)), "{text}");
    }
    let (sealed, opened) = stored_secrets(&app, "okta").await;
    let sealed = sealed.expect("secrets stored");
    assert!(!secrets.iter().any(|s| sealed.contains(s)));
    assert_eq!(
        opened.unwrap(),
        json!({"signing_certificate_url_password": SIGNING_PASSWORD,
               "encryption_certificate_url_password": "encryption-pw-59",
               "ssl_certificate_url_truststore_password": SSL_PASSWORD})
    );

    // Omitted: kept, the very same sealed value.
    let mut without = doc.clone();
    let obj = without.as_object_mut().unwrap();
    for f in [
        "signing_certificate_url_password",
        "encryption_certificate_url_password",
        "ssl_certificate_url_truststore_password",
        "bind_password",
    ] {
        obj.remove(f);
    }
    without["name"] = json!("Renamed");
    app.put(&path("saml", "okta"), &Auth::admin(), without.clone())
        .await
        .expect(200);
    assert_eq!(
        stored_secrets(&app, "okta").await.0.as_deref(),
        Some(sealed.as_str())
    );
    // One replaced, one removed by an empty string, one kept.
    let mut some = without.clone();
    some["signing_certificate_url_password"] = json!("new-signing-pw-11");
    some["ssl_certificate_url_truststore_password"] = json!("");
    app.put(&path("saml", "okta"), &Auth::admin(), some)
        .await
        .expect(200);
    assert_eq!(
        stored_secrets(&app, "okta").await.1.unwrap(),
        json!({"signing_certificate_url_password": "new-signing-pw-11",
               "encryption_certificate_url_password": "encryption-pw-59"})
    );
    let mut none = without;
    none["signing_certificate_url_password"] = json!("");
    none["encryption_certificate_url_password"] = json!("");
    app.put(&path("saml", "okta"), &Auth::admin(), none)
        .await
        .expect(200);
    assert_eq!(stored_secrets(&app, "okta").await, (None, None));

    let events = app
        .store
        .list_audit(&ece_server::store::AuditFilter::default())
        .await
        .unwrap();
    let realm_events: Vec<&str> = events
        .iter()
        .filter(|e| e.event.starts_with("realm."))
        .map(|e| e.event.as_str())
        .collect();
    assert_eq!(
        realm_events,
        [
            "realm.create",
            "realm.update",
            "realm.update",
            "realm.update"
        ]
    );
    let all = format!("{events:?}");
    assert!(!secrets
        .iter()
        .chain(&["new-signing-pw-11"])
        .any(|s| all.contains(s)));
}

#[tokio::test]
async fn bad_saml_settings_are_refused_naming_the_field() {
    let app = spawn_app().await;
    /// A change to a valid document, the code it must be refused with, the fields named.
    type Case = (fn(&mut Value), &'static str, Value);
    let cases: Vec<Case> = vec![
        (
            |d| {
                d.as_object_mut().unwrap().remove("idp");
            },
            "root.invalid_json_request",
            json!(["idp"]),
        ),
        (
            |d| {
                d["sp"].as_object_mut().unwrap().remove("acs");
            },
            "root.invalid_json_request",
            json!(["sp.acs"]),
        ),
        (
            |d| d["idp"]["metadata_path"] = json!("metadata.xml"),
            "security_realm.saml.invalid_idp_metadata_url",
            json!(["idp.metadata_path"]),
        ),
        (
            |d| d["sp"]["acs"] = json!("/api/v1/users/auth/saml/_callback"),
            "security_realm.invalid_url",
            json!(["sp.acs"]),
        ),
        (
            |d| d["attributes"]["groups"] = json!(""),
            "root.invalid_json_request",
            json!(["attributes.groups"]),
        ),
        (
            |d| d["ssl_certificate_url"] = json!("ldap://x"),
            "security_realm.invalid_bundle_url",
            json!(["ssl_certificate_url"]),
        ),
        (
            |d| d["role_mappings"]["rules"][0]["type"] = json!("group_dn"),
            "root.invalid_json_request",
            json!(["role_mappings.rules[0].type"]),
        ),
        (
            |d| {
                d["role_mappings"]["rules"][0]["roles"] =
                    json!(["ece_platform_admin", "ece_platform_viewer"])
            },
            "user.roles.forbidden",
            json!(["role_mappings.rules[0].roles"]),
        ),
        (
            |d| d["order"] = json!(0),
            "security_realm.invalid_order",
            json!(["order"]),
        ),
        (
            |d| d["id"] = json!("native"),
            "security_realm.invalid_id",
            json!(["id"]),
        ),
        (
            |d| d["override_yaml"] = json!("sp.acs: x"),
            "security_realm.invalid_yaml",
            json!(["override_yaml"]),
        ),
    ];
    for (i, (change, code, fields)) in cases.into_iter().enumerate() {
        let mut doc = saml_doc("okta");
        change(&mut doc);
        let body = app
            .post(&format!("{REALMS}/saml"), &Auth::admin(), doc)
            .await
            .expect_error(400, code);
        assert_eq!(error_fields(&body), fields, "case {i}");
    }
    let list = app.get(REALMS, &Auth::admin()).await.expect(200);
    assert_eq!(
        list["realms"].as_array().unwrap().len(),
        1,
        "nothing stored"
    );
}

#[tokio::test]
async fn viewers_read_saml_realms_and_only_admins_write_them() {
    let app = spawn_app().await;
    app.create_realm("saml", "okta").await;
    let viewer = Auth::readonly();
    let doc = app.get(&path("saml", "okta"), &viewer).await.expect(200);
    assert_eq!(doc["id"], "okta");
    let writes: [(&str, String, Option<Value>); 3] = [
        (
            "POST",
            format!("{REALMS}/saml"),
            Some(realm_doc("saml", "x")),
        ),
        ("PUT", path("saml", "okta"), Some(realm_doc("saml", "okta"))),
        ("DELETE", path("saml", "okta"), None),
    ];
    for (method, p, body) in writes {
        app.send(method, &p, &viewer, body.clone())
            .await
            .expect_error(403, "root.unauthorized.rbac");
        app.send(method, &p, &Auth::None, body)
            .await
            .expect_error(401, "root.unauthenticated");
    }
    app.get(&path("saml", "okta"), &Auth::None)
        .await
        .expect_error(401, "root.unauthenticated");
    let swagger = app
        .get("/api-docs/swagger.json", &Auth::None)
        .await
        .expect(200);
    let ops = &swagger["paths"]["/platform/configuration/security/realms/saml/{realm_id}"];
    assert!(ops["get"].is_object() && ops["put"].is_object() && ops["delete"].is_object());
    assert!(swagger["definitions"]["SamlSettings"].is_object());
}
