//! A realm's `certificate_url` end to end: the test serves zips of CAs from its own loopback HTTP
//! server, an LDAP realm is created through the API with `ldaps://` (then `ldap://`, StartTLS) and
//! that URL, and directory users sign in with `_login` against the real slapd, whose certificate
//! is signed by a CA the test generated. A zip of another CA: 401 and an audit event naming the
//! realm and a TLS cause. PEM and PKCS#12 (with the write-only truststore password) are served.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, Auth, TestApp};
use crate::slapd::{self, Slapd};

const REALM: &str = "ldaps-ca";
const PATH: &str = "/platform/configuration/security/realms/ldap";

fn zip_of(name: &str, data: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file(name, zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap().into_inner()
}

/// Serves `files` (path -> body) on a loopback port; counts the requests per path.
async fn serve(
    files: HashMap<&'static str, Vec<u8>>,
) -> (String, Arc<HashMap<String, AtomicUsize>>) {
    let hits: Arc<HashMap<String, AtomicUsize>> = Arc::new(
        files
            .keys()
            .map(|p| (p.to_string(), AtomicUsize::new(0)))
            .collect(),
    );
    let mut router = axum::Router::new();
    for (path, body) in files {
        let hits = hits.clone();
        router = router.route(
            path,
            axum::routing::get(move || async move {
                hits[path].fetch_add(1, Ordering::SeqCst);
                body
            }),
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, hits)
}

fn realm(url: &str, certificate_url: &str, extra: Value) -> Value {
    let mut doc = json!({
        "id": REALM,
        "name": "LDAPS with a fetched CA",
        "urls": [url],
        "certificate_url": certificate_url,
        "bind_anonymously": false,
        "bind_dn": "cn=reader,ou=system,dc=example,dc=org",
        "bind_password": "reader-pw",
        "bind_type": "user_search",
        "user_search": {"base_dn": "ou=people,dc=example,dc=org", "scope": "sub_tree"},
        "role_mappings": {"default_roles": ["ece_platform_viewer"], "rules": []}
    });
    for (k, v) in extra.as_object().unwrap() {
        doc[k] = v.clone();
    }
    doc
}

async fn login_status(app: &TestApp, user: &str, password: &str) -> u16 {
    app.post(
        "/users/auth/_login",
        &Auth::None,
        json!({"username": user, "password": password}),
    )
    .await
    .status
}

#[tokio::test]
async fn ldaps_trusts_the_ca_fetched_from_certificate_url() {
    let Some(directory) = Slapd::start("ldaps_trusts_the_ca_fetched_from_certificate_url") else {
        return;
    };
    let (other, _) = slapd::ca("some other CA");
    let mut store = p12_keystore::KeyStore::new();
    let cert = p12_keystore::Certificate::from_der(&directory.ca_der).unwrap();
    store.add_entry("ca", p12_keystore::KeyStoreEntry::Certificate(cert));
    let p12 = store.writer("store-pw").write().unwrap();
    let (base, hits) = serve(HashMap::from([
        ("/wrong.zip", zip_of("ca.pem", other.pem().as_bytes())),
        ("/ca.zip", zip_of("certs/ca.pem", &directory.ca_pem)),
        ("/truststore.zip", zip_of("truststore.p12", &p12)),
    ]))
    .await;
    let app = spawn_app().await;
    let admin = Auth::admin();

    // The wrong CA: the handshake fails, 401, and the audit event names the realm and TLS.
    let wrong = format!("{base}/wrong.zip");
    app.post(PATH, &admin, realm(&directory.ldaps_url, &wrong, json!({})))
        .await
        .expect(201);
    assert_eq!(login_status(&app, "alice", "alice-pw").await, 401);
    let events = app.store.list_audit(&Default::default()).await.unwrap();
    let last = events
        .iter()
        .rfind(|e| e.event == "realm.signin")
        .expect("a realm.signin event");
    assert_eq!(last.detail["realm"], REALM);
    assert_eq!(last.detail["result"], "unavailable");
    let cause = last.detail["cause"].as_str().unwrap();
    assert!(cause.contains("TLS"), "{cause}");

    // The right CA as PEM in a zip: alice signs in, twice, and the zip was fetched once.
    let good = format!("{base}/ca.zip");
    app.put(
        &format!("{PATH}/{REALM}"),
        &admin,
        realm(&directory.ldaps_url, &good, json!({})),
    )
    .await
    .expect(200);
    for _ in 0..2 {
        let token = app.login("alice", "alice-pw").await;
        let me = app.get("/user", &Auth::Bearer(token)).await.expect(200);
        assert_eq!(me["security"]["security_realm"]["id"], REALM);
    }
    assert_eq!(hits["/ca.zip"].load(Ordering::SeqCst), 1, "cached");

    // A PKCS#12 truststore in a zip, with its (write-only) password; the wrong password fails.
    let truststore = format!("{base}/truststore.zip");
    let p12_realm = |password: &str| {
        realm(
            &directory.ldaps_url,
            &truststore,
            json!({"certificate_url_truststore_type": "PKCS12",
                   "certificate_url_truststore_password": password}),
        )
    };
    app.put(&format!("{PATH}/{REALM}"), &admin, p12_realm("nope"))
        .await
        .expect(200);
    assert_eq!(login_status(&app, "bob", "bob-pw").await, 401);
    let events = app.store.list_audit(&Default::default()).await.unwrap();
    let last = events.iter().rfind(|e| e.event == "realm.signin").unwrap();
    assert_eq!(last.detail["result"], "misconfigured");
    app.put(&format!("{PATH}/{REALM}"), &admin, p12_realm("store-pw"))
        .await
        .expect(200);
    app.login("bob", "bob-pw").await;
    let shown = app
        .get(&format!("{PATH}/{REALM}"), &admin)
        .await
        .expect(200);
    assert!(shown.get("certificate_url_truststore_password").is_none());

    // ldap:// with the CA: StartTLS (tlsonly may bind only over TLS).
    app.put(
        &format!("{PATH}/{REALM}"),
        &admin,
        realm(&directory.ldap_url, &good, json!({})),
    )
    .await
    .expect(200);
    app.login("tlsonly", "tlsonly-pw").await;

    // No password of any kind in the audit log.
    let events = app.store.list_audit(&Default::default()).await.unwrap();
    let everything =
        serde_json::to_string(&events.iter().map(|e| &e.detail).collect::<Vec<_>>()).unwrap();
    for secret in ["store-pw", "nope", "reader-pw", "alice-pw"] {
        assert!(!everything.contains(secret), "{secret} in the audit log");
    }
}
