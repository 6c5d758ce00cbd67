//! Encrypted assertions: the IdP encrypts the (signed) assertion to the SP's certificate; the
//! realm's `encryption_certificate_url` is a zip holding `saml/<realm id>/encryption.key` and
//! `encryption.pem` (here a `file://` URL), the server decrypts with it. The sign-in works, and an
//! unsigned plain assertion slipped in beside the encrypted one is refused.

use std::io::Write;
use std::path::Path;

use serde_json::json;

use crate::helpers::{spawn_app, Auth};
use crate::saml_attacks::{assert_no_user, refuses};
use crate::saml_flow::{acs, realm_doc, token_of, SamlFixture, REALM_ID, SP_ENTITY_ID};
use crate::saml_idp::{decode, IdpOptions, SamlIdp};
use crate::saml_xml::{self as x, EVIL, VICTIM};

/// An RSA key and self-signed certificate for the SP (openssl CLI, as the IdP launcher uses).
fn sp_key_pair(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let (key, cert) = (dir.join("sp-key.pem"), dir.join("sp-cert.pem"));
    let status = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
        ])
        .args(["-subj", "/CN=ECE test SP encryption", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("\n!!! cannot run openssl ({e}) !!!\n"));
    assert!(status.success(), "openssl made no key");
    (std::fs::read(key).unwrap(), std::fs::read(cert).unwrap())
}

/// A server whose realm decrypts with a bundle, and an IdP encrypting to its certificate.
async fn encrypted_fixture() -> (SamlFixture, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = sp_key_pair(dir.path());
    let bundle = dir.path().join("encryption.zip");
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, data) in [("encryption.key", &key), ("encryption.pem", &cert)] {
        zip.start_file(format!("saml/{REALM_ID}/{name}"), options)
            .unwrap();
        zip.write_all(data).unwrap();
    }
    std::fs::write(&bundle, zip.finish().unwrap().into_inner()).unwrap();

    let app = spawn_app().await;
    let idp = SamlIdp::start(
        &acs(&app),
        SP_ENTITY_ID,
        IdpOptions {
            encrypt_cert: Some(dir.path().join("sp-cert.pem")),
            ..IdpOptions::default()
        },
    );
    let mut doc = realm_doc(&app, &idp, REALM_ID, SP_ENTITY_ID);
    doc["encryption_certificate_url"] = json!(format!("file://{}", bundle.display()));
    app.post(
        "/platform/configuration/security/realms/saml",
        &Auth::admin(),
        doc,
    )
    .await
    .expect(201);
    (SamlFixture { app, idp }, dir)
}

#[tokio::test]
async fn encrypted_assertions_are_decrypted_and_checked() {
    let (f, _dir) = encrypted_fixture().await;

    let (response, relay) = f.signed_response().await;
    let xml = decode(&response);
    assert!(
        xml.contains("EncryptedAssertion") && !xml.contains("<saml:Assertion"),
        "the IdP encrypts the assertion: {xml}"
    );
    assert!(
        !xml.contains(VICTIM),
        "the user is only inside the ciphertext"
    );
    let (token, _) = token_of(&f.callback(&response, relay.as_deref()).await);
    let me = f
        .app
        .get("/user", &Auth::Bearer(token.clone()))
        .await
        .expect(200);
    assert_eq!(me["user_name"], VICTIM);
    assert_eq!(
        me["security"]["security_realm"],
        json!({"id": REALM_ID, "type": "saml"})
    );
    f.app
        .post("/users/auth/_logout", &Auth::Bearer(token), json!({}))
        .await
        .expect(200);

    // A plain, unsigned assertion for the attacker beside the encrypted one (the Response's
    // signature stripped, which covered the ciphertext), before or after it.
    let plain = |signed: &str| {
        let doc = x::without_response_signature(signed);
        let e = x::element(&doc, "saml:EncryptedAssertion", 0);
        let forged = format!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" Version="2.0" ID="_plain_evil" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>{issuer}</saml:Issuer><saml:Subject><saml:NameID>{EVIL}</saml:NameID></saml:Subject></saml:Assertion>"#,
            issuer = f.idp.entity_id
        );
        (doc.clone(), e, forged)
    };
    refuses(&f, "plain assertion before the encrypted one", |signed| {
        let (doc, e, forged) = plain(signed);
        x::insert(&doc, e.start, &forged)
    })
    .await;
    refuses(&f, "plain assertion after the encrypted one", |signed| {
        let (doc, e, forged) = plain(signed);
        x::insert(&doc, e.end, &forged)
    })
    .await;
    // The encrypted assertion swapped for the attacker's plain one.
    refuses(
        &f,
        "encrypted assertion replaced by a plain one",
        |signed| {
            let (doc, e, forged) = plain(signed);
            format!("{}{forged}{}", &doc[..e.start], &doc[e.end..])
        },
    )
    .await;
    assert_no_user(&f, EVIL).await;
}
