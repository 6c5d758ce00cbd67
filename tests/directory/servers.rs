//! Servers that cannot be used (closed port, silent, hanging up), LDAPS and StartTLS with right
//! and wrong CAs, failover and round robin.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ece_server::security::directory::{
    Bind, CaSource, DirectoryConfig, DirectoryError, LoadBalance, StartTls,
};

use super::slapd::{self, Slapd};
use super::{auth, reader, searching, templates, unavailable, PEOPLE};

#[tokio::test]
async fn stopped_directory_is_unavailable() {
    let url = format!("ldap://127.0.0.1:{}", slapd::free_port());
    for cfg in [templates(&url), searching(&url, reader())] {
        let cause = unavailable(auth(&cfg, "alice", "alice-pw").await);
        assert!(cause.contains(&url), "{cause}");
        assert!(
            !cause.contains("alice-pw") && !cause.contains("reader-pw"),
            "{cause}"
        );
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
    let Some(s) = Slapd::start("ldaps_trusts_the_configured_ca_only") else {
        return;
    };
    let with_ca = |ca: Vec<CaSource>| DirectoryConfig {
        ca,
        ..searching(&s.ldaps_url, reader())
    };
    // PEM, DER, and a PKCS#12 truststore holding the CA.
    let mut store = p12_keystore::KeyStore::new();
    let cert = p12_keystore::Certificate::from_der(&s.ca_der).unwrap();
    store.add_entry("ca", p12_keystore::KeyStoreEntry::Certificate(cert));
    let p12 = store.writer("changeit").write().unwrap();
    for ca in [
        CaSource::Pem(s.ca_pem.clone()),
        CaSource::Pem(s.ca_der.clone()),
        CaSource::Pkcs12 {
            data: p12,
            password: "changeit".into(),
        },
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
    let Some(s) = Slapd::start("starttls_upgrades_ldap_urls") else {
        return;
    };
    let cfg = |starttls, ca: &[u8]| DirectoryConfig {
        starttls,
        ca: vec![CaSource::Pem(ca.to_vec())],
        ..searching(&s.ldap_url, reader())
    };
    // slapd lets tlsonly bind only over TLS: success proves StartTLS happened.
    for mode in [StartTls::Auto, StartTls::Always] {
        let user = auth(&cfg(mode, &s.ca_pem), "tlsonly", "tlsonly-pw").await;
        assert_eq!(
            user.unwrap().dn,
            format!("uid=tlsonly,{PEOPLE}"),
            "{mode:?}"
        );
    }
    let clear = auth(&cfg(StartTls::Never, &s.ca_pem), "tlsonly", "tlsonly-pw").await;
    assert_eq!(clear, Err(DirectoryError::InvalidCredentials));
    let (other, _) = slapd::ca("some other CA");
    let cause = unavailable(
        auth(
            &cfg(StartTls::Auto, other.pem().as_bytes()),
            "alice",
            "alice-pw",
        )
        .await,
    );
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
    let Some(s) = Slapd::start("failover_and_round_robin") else {
        return;
    };
    // A closed port first: failover goes on to the live server.
    let dead = format!("ldap://127.0.0.1:{}", slapd::free_port());
    let cfg = DirectoryConfig {
        urls: vec![dead, s.ldap_url.clone()],
        ..templates(&s.ldap_url)
    };
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
        urls: vec![
            format!("ldap://127.0.0.1:{a}"),
            format!("ldap://127.0.0.1:{b}"),
        ],
        ..templates(&s.ldap_url)
    };
    let cause = unavailable(auth(&cfg, "alice", "alice-pw").await);
    assert!(
        cause.contains(&a.to_string()) && cause.contains(&b.to_string()),
        "{cause}"
    );
}

/// Pooled service connections that the server has since closed are not a failed sign-in: the
/// search is tried once more on a new connection.
#[tokio::test]
async fn pooled_connections_survive_a_directory_restart() {
    let Some(mut s) = Slapd::start("pooled_connections_survive_a_directory_restart") else {
        return;
    };
    let cfg = searching(&s.ldap_url, reader());
    for _ in 0..2 {
        assert!(auth(&cfg, "alice", "alice-pw").await.is_ok());
        s.restart();
        assert!(auth(&cfg, "bob", "bob-pw").await.is_ok());
    }
}

/// A realm's `certificate_url` as a `file://` zip: the CA it holds is trusted for LDAPS, another
/// CA's zip fails the handshake.
#[tokio::test]
async fn certificate_url_zip_gives_the_trusted_ca() {
    use ece_server::security::directory::{ca_fetch, CaFormat};
    use std::io::Write;
    let Some(s) = Slapd::start("certificate_url_zip_gives_the_trusted_ca") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let zip_file = |name: &str, pem: &[u8]| {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file("certs/ca.pem", options).unwrap();
        w.write_all(pem).unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, w.finish().unwrap().into_inner()).unwrap();
        format!("file://{}", path.display())
    };
    let (other, _) = slapd::ca("some other CA");
    let good = zip_file("good.zip", &s.ca_pem);
    let wrong = zip_file("wrong.zip", other.pem().as_bytes());
    let within = Duration::from_secs(5);
    let ca = ca_fetch::load(&good, CaFormat::Detect, None, within)
        .await
        .unwrap();
    let cfg = DirectoryConfig {
        ca,
        ..searching(&s.ldaps_url, reader())
    };
    let alice = auth(&cfg, "alice", "alice-pw").await.unwrap();
    assert_eq!(alice.dn, format!("uid=alice,{PEOPLE}"));
    let ca = ca_fetch::load(&wrong, CaFormat::Detect, None, within)
        .await
        .unwrap();
    let cfg = DirectoryConfig { ca, ..cfg };
    let cause = unavailable(auth(&cfg, "alice", "alice-pw").await);
    assert!(cause.contains("TLS"), "{cause}");
}
