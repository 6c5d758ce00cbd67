//! The service-provider side of SAML that needs no identity provider: `methods`, `_init` (realm
//! choice, the AuthnRequest in the redirect, signed when configured, the IdP's metadata
//! unreachable) and `_callback` refusing what is not a SAML Response at all, audited. The flow
//! through a real IdP is `saml_flow.rs`; the attacks are `saml_attacks*.rs`.

use std::io::{Read, Write};

use base64::Engine;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Auth, TestApp};

const SSO: &str = "https://idp.test/sso";
const ENTITY: &str = "urn:idp.test";

/// IdP metadata naming `SSO` and a (throwaway) signing certificate, as a file:// URL.
fn metadata(app: &TestApp) -> String {
    let cert = rcgen::generate_simple_self_signed(vec!["idp.test".into()])
        .unwrap()
        .cert;
    let b64 = base64::engine::general_purpose::STANDARD.encode(cert.der());
    let xml = format!(
        r#"<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{ENTITY}"><IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>{b64}</X509Certificate></X509Data></KeyInfo></KeyDescriptor><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{SSO}"/></IDPSSODescriptor></EntityDescriptor>"#
    );
    let path = app.dir.path().join("idp-metadata.xml");
    std::fs::write(&path, xml).unwrap();
    format!("file://{}", path.display())
}

fn realm(id: &str, metadata_path: &str, extra: Value) -> Value {
    let mut doc = json!({
        "id": id,
        "name": format!("Sign in {id}"),
        "idp": {"entity_id": ENTITY, "metadata_path": metadata_path},
        "sp": {"entity_id": "https://ece.test/sp", "acs": "https://ece.test/api/v1/users/auth/saml/_callback",
               "logout": "https://ece.test/logout"},
        "attributes": {"principal": "uid", "groups": "groups"},
        "role_mappings": {"default_roles": ["ece_platform_viewer"], "rules": []},
        "enabled": true
    });
    for (k, v) in extra.as_object().unwrap() {
        doc[k] = v.clone();
    }
    doc
}

async fn create(app: &TestApp, doc: Value) {
    app.post(
        "/platform/configuration/security/realms/saml",
        &Auth::admin(),
        doc,
    )
    .await
    .expect(201);
}

/// The query parameters of a redirect `Location`, decoded.
fn params(location: &str) -> Vec<(String, String)> {
    let query = location.split_once('?').unwrap().1;
    query
        .split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (k.to_string(), urlencoding::decode(v).unwrap().into_owned())
        })
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    &params
        .iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .1
}

fn inflate(b64: &str) -> String {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&raw[..])
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

async fn init(app: &TestApp, query: &str) -> crate::helpers::Reply {
    app.get(&format!("/users/auth/saml/_init{query}"), &Auth::None)
        .await
}

#[tokio::test]
async fn methods_and_init_pick_enabled_realms_in_order() {
    let app = spawn_app().await;
    let meta = metadata(&app);
    init(&app, "")
        .await
        .expect_error(501, "authc.no_authentication_cluster");
    create(&app, realm("second", &meta, json!({"order": 2}))).await;
    create(&app, realm("first", &meta, json!({"order": 1}))).await;
    create(
        &app,
        realm("off", &meta, json!({"order": 3, "enabled": false})),
    )
    .await;
    let methods = app
        .get("/users/auth/methods", &Auth::None)
        .await
        .expect(200);
    assert_eq!(methods["saml"], json!(true));
    let names: Vec<&str> = methods["sso_methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "/api/v1/users/auth/saml/_init?realm_id=first",
            "/api/v1/users/auth/saml/_init?realm_id=second"
        ]
    );
    // No realm_id: the first by order; a disabled or unknown one: none.
    let reply = init(&app, "?state=s1").await;
    assert_eq!(reply.status, 302);
    let location = reply.headers["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{SSO}?SAMLRequest=")),
        "{location}"
    );
    init(&app, "?realm_id=off")
        .await
        .expect_error(501, "authc.no_authentication_cluster");
    init(&app, "?realm_id=nope")
        .await
        .expect_error(501, "authc.no_authentication_cluster");
}

#[tokio::test]
async fn the_authn_request_names_this_sp_and_is_kept_for_its_answer() {
    let app = spawn_app().await;
    let meta = metadata(&app);
    create(
        &app,
        realm(
            "okta",
            &meta,
            json!({"force_authn": true,
        "nameid_format": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"}),
        ),
    )
    .await;
    let reply = init(&app, "?realm_id=okta&state=%7B%22path%22%3A%22%2F%22%7D").await;
    assert_eq!(reply.status, 302);
    let location = reply.headers["location"].to_str().unwrap().to_string();
    let p = params(&location);
    let xml = inflate(param(&p, "SAMLRequest"));
    let relay = param(&p, "RelayState");
    for want in [
        format!("ID=\"{relay}\""),
        format!("Destination=\"{SSO}\""),
        "AssertionConsumerServiceURL=\"https://ece.test/api/v1/users/auth/saml/_callback\"".into(),
        "ForceAuthn=\"true\"".into(),
        "<saml:Issuer>https://ece.test/sp</saml:Issuer>".into(),
        "Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\"".into(),
    ] {
        assert!(xml.contains(&want), "{want} not in {xml}");
    }
    // The client's state stays on the server (it comes back after sign-in), not in the URL.
    assert!(!location.contains("path"), "{location}");
    let kept = app
        .store
        .take_saml_request(relay, chrono::Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.realm_id, "okta");
    assert_eq!(kept.state.as_deref(), Some(r#"{"path":"/"}"#));
    assert!(
        p.iter().all(|(k, _)| k != "Signature"),
        "not signed unless configured"
    );
}

#[tokio::test]
async fn authn_requests_are_signed_with_the_bundle_key_when_configured() {
    let app = spawn_app().await;
    let meta = metadata(&app);
    let key_path = app.dir.path().join("signing.key");
    let made = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key_path)
        .output()
        .unwrap();
    assert!(made.status.success());
    let key_pem = std::fs::read(&key_path).unwrap();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(
        "saml/signed/signing.key",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    zip.write_all(&key_pem).unwrap();
    let bundle = app.dir.path().join("signing.zip");
    std::fs::write(&bundle, zip.finish().unwrap().into_inner()).unwrap();
    create(
        &app,
        realm(
            "signed",
            &meta,
            json!({
        "signing_certificate_url": format!("file://{}", bundle.display()),
        "signing_saml_messages": ["AuthnRequest"]}),
        ),
    )
    .await;
    let reply = init(&app, "").await;
    assert_eq!(reply.status, 302, "{}", reply.body);
    let location = reply.headers["location"].to_str().unwrap().to_string();
    let query = location.split_once('?').unwrap().1;
    let (signed, sig) = query.rsplit_once("&Signature=").unwrap();
    assert!(
        signed.contains("&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256")
    );
    // Verified with openssl, against the key's public half.
    let dir = app.dir.path();
    std::fs::write(dir.join("signed.txt"), signed).unwrap();
    let sig = base64::engine::general_purpose::STANDARD
        .decode(urlencoding::decode(sig).unwrap().as_bytes())
        .unwrap();
    std::fs::write(dir.join("sig.bin"), sig).unwrap();
    let public = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key_path)
        .arg("-out")
        .arg(dir.join("pub.pem"))
        .status()
        .unwrap();
    assert!(public.success());
    let verified = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(dir.join("pub.pem"))
        .arg("-signature")
        .arg(dir.join("sig.bin"))
        .arg(dir.join("signed.txt"))
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
}

#[tokio::test]
async fn an_unreachable_idp_is_502_and_an_unconfigured_signer_too() {
    let app = spawn_app().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    create(
        &app,
        realm(
            "down",
            &format!("http://127.0.0.1:{port}/metadata"),
            json!({}),
        ),
    )
    .await;
    let reply = init(&app, "?realm_id=down").await;
    let body = reply.expect_error(502, "authc.authentication_cluster_error");
    assert!(
        !body.to_string().contains(&port.to_string()),
        "the cause is logged, not shown: {body}"
    );
    let meta = metadata(&app);
    create(
        &app,
        realm(
            "nokey",
            &meta,
            json!({"order": 9,
        "signing_certificate_url": "file:///nonexistent/bundle.zip",
        "signing_saml_messages": ["AuthnRequest"]}),
        ),
    )
    .await;
    init(&app, "?realm_id=nokey")
        .await
        .expect_error(502, "authc.authentication_cluster_error");
}

#[tokio::test]
async fn callback_refuses_what_is_not_a_response_and_audits_why() {
    let app = spawn_app().await;
    let form = "application/x-www-form-urlencoded";
    let b64 = |s: &str| {
        urlencoding::encode(&base64::engine::general_purpose::STANDARD.encode(s)).into_owned()
    };
    let cases: Vec<(&str, String)> = vec![
        ("application/json", r#"{"SAMLResponse":"x"}"#.into()),
        (form, "RelayState=abc".into()),
        (form, "SAMLResponse=%%%".into()),
        (form, format!("SAMLResponse={}", b64("<not xml"))),
        (form, format!("SAMLResponse={}", b64("<!DOCTYPE r [<!ENTITY a \"b\">]><r>&a;</r>"))),
        (form, format!("SAMLResponse={}", b64("<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_r\" Version=\"2.0\"/>"))),
        (form, format!("SAMLResponse={}", "A".repeat(300 * 1024))),
    ];
    for (content_type, body) in &cases {
        app.send_raw(
            "POST",
            "/users/auth/saml/_callback",
            &Auth::None,
            content_type,
            body.clone().into_bytes(),
        )
        .await
        .expect_error(401, "root.unauthenticated");
    }
    let events = app.store.list_audit(&Default::default()).await.unwrap();
    let refused: Vec<_> = events.iter().filter(|e| e.event == "saml.signin").collect();
    assert_eq!(refused.len(), cases.len(), "{events:?}");
    assert!(refused.iter().all(|e| e.detail["cause"].is_string()));
}
