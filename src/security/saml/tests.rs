//! Signature checking end to end on this machine's xmlsec1: a Response signed here (xmlsec1
//! `--sign`, a fresh RSA key from openssl) passes the structure and the signature; the same
//! Response with a changed value, or checked against another certificate, does not. The attack
//! corpus built from a real IdP's responses is `tests/api/saml_attacks.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::response;
use super::xml;
use super::xmlsec::{self, Signed};

fn key_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let cert = dir.join(format!("{name}.pem"));
    let ok = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        ])
        .arg(format!("/CN={name}"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs")
        .status
        .success();
    assert!(ok, "openssl could not make a key pair");
    (key, cert)
}

const TEMPLATE: &str = r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" InResponseTo="_q1"><saml:Issuer>urn:idp</saml:Issuer><Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo><CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><Reference URI="#_r1"><Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></Transforms><DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue/></Reference></SignedInfo><SignatureValue/><KeyInfo><X509Data/></KeyInfo></Signature><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="_a1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>urn:idp</saml:Issuer><saml:Subject><saml:NameID>alice@example.com</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>"##;

fn sign(dir: &Path, key: &Path, cert: &Path) -> String {
    let tpl = dir.join("tpl.xml");
    let out = dir.join("signed.xml");
    std::fs::write(&tpl, TEMPLATE).unwrap();
    let run = Command::new("xmlsec1")
        .arg("--sign")
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:protocol:Response",
        ])
        .arg("--privkey-pem")
        .arg(format!("{},{}", key.display(), cert.display()))
        .arg("--output")
        .arg(&out)
        .arg(&tpl)
        .output()
        .expect("xmlsec1 runs (scripts/test.sh installs it)");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::read_to_string(out).unwrap()
}

async fn verifies(text: &str, cert: &Path) -> bool {
    let doc = xml::parse(text).unwrap();
    let s = response::check(&doc, text, false).unwrap();
    assert_eq!(s.signatures.len(), 1);
    let (which, copy) = &s.signatures[0];
    assert_eq!(*which, Signed::Response);
    assert!(
        !copy.contains("X509Certificate"),
        "KeyInfo is removed before checking"
    );
    let pem = std::fs::read_to_string(cert).unwrap();
    xmlsec::verify(Path::new("xmlsec1"), copy, *which, &[pem])
        .await
        .unwrap()
}

#[tokio::test]
async fn a_signed_response_verifies_and_a_changed_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = key_pair(dir.path(), "idp");
    let (_, other) = key_pair(dir.path(), "other");
    let signed = sign(dir.path(), &key, &cert);
    assert!(
        signed.contains("X509Certificate"),
        "xmlsec1 filled in KeyInfo"
    );
    assert!(verifies(&signed, &cert).await);
    assert!(
        !verifies(&signed, &other).await,
        "another key's certificate"
    );
    let changed = signed.replace("alice@example.com", "admin@example.com");
    assert!(!verifies(&changed, &cert).await, "a changed NameID");
}

#[tokio::test]
async fn a_missing_program_is_an_error_not_a_refusal() {
    let got = xmlsec::verify(
        Path::new("/nonexistent/xmlsec1"),
        TEMPLATE,
        Signed::Response,
        &["x".into()],
    )
    .await;
    match got {
        Err(xmlsec::Unchecked::Failed(cause)) => assert!(cause.contains("could not be run")),
        other => panic!("{other:?}"),
    }
}
