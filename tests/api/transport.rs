//! The connection layer: TLS, header and body limits, slow clients, connection cap.

use std::time::Duration;

use ece_server::bootstrap::ChosenPasswords;
use ece_server::http::Settings;
use ece_server::server::{self, Limits};
use ece_server::startup::{Application, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::test_config;

/// Starts the real server with the given limits (and TLS), returns its address.
async fn start(
    limits: Limits,
    settings: Settings,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> (std::net::SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ece.db").display());
    let passwords = ChosenPasswords {
        admin: Some("admin-password".into()),
        readonly: None,
    };
    let config = Config {
        limits,
        tls,
        ..test_config(&url, &dir, passwords, settings)
    };
    let app = Application::build(config).await.unwrap();
    let addr = app.address();
    tokio::spawn(app.run_until(std::future::pending()));
    (addr, dir)
}

#[tokio::test]
async fn serves_https_with_a_self_signed_certificate() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let acceptor = server::tls_acceptor(&cert_path, &key_path).unwrap();
    let (addr, _dir) = start(Limits::default(), Settings::default(), Some(acceptor)).await;

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", addr)
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/api/v1/account", addr.port());
    let res = client
        .get(&url)
        .basic_auth("admin", Some("admin-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Plain HTTP to the TLS port gets no answer.
    let plain = reqwest::get(format!("http://{addr}/api/v1/users/auth/methods")).await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
    // Bad files give a clear error.
    assert!(server::tls_acceptor(&key_path, &key_path).is_err());
    assert!(server::tls_acceptor(&dir.path().join("missing.pem"), &key_path).is_err());
}

#[tokio::test]
async fn oversized_headers_are_refused() {
    let limits = Limits {
        max_header_bytes: 16 * 1024,
        ..Limits::default()
    };
    let (addr, _dir) = start(limits, Settings::default(), None).await;
    let res = reqwest::Client::new()
        .get(format!("http://{addr}/api/v1/users/auth/methods"))
        .header("x-filler", "a".repeat(64 * 1024))
        .send()
        .await;
    // Either a 431, or the connection is closed (an error here): both are refusals.
    if let Ok(r) = res {
        assert_eq!(r.status(), 431);
    }
    let ok = reqwest::get(format!("http://{addr}/api/v1/users/auth/methods"))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let limits = Limits {
        header_read_timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let (addr, _dir) = start(limits, Settings::default(), None).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /api/v1/users/auth/methods HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    // The server closes the connection; reading returns (EOF) well before this bound.
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the slow connection was not closed");
}

#[tokio::test]
async fn a_body_that_trickles_in_gets_a_408() {
    let settings = Settings {
        request_timeout: Duration::from_millis(500),
        ..Settings::default()
    };
    let (addr, _dir) = start(Limits::default(), settings, None).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /api/v1/users/auth/_login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let reply = String::from_utf8_lossy(&buf[..n]);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("root.request_timeout"), "{reply}");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let limits = Limits {
        max_connections: 1,
        ..Limits::default()
    };
    let (addr, _dir) = start(limits, Settings::default(), None).await;
    // Hold the only slot with an idle connection.
    let mut first = TcpStream::connect(addr).await.unwrap();
    first
        .write_all(b"GET /api/v1/users/auth/methods HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = first.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // The second client is connected (the kernel's accept queue takes it) and its request is
    // sent before the wait starts, so a reply within the wait would be seen: the check cannot
    // pass merely because the request had not left yet.
    let mut second = TcpStream::connect(addr).await.unwrap();
    second
        .write_all(
            b"GET /api/v1/users/auth/methods HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut reply = vec![0u8; 4096];
    let early = tokio::time::timeout(Duration::from_millis(300), second.read(&mut reply)).await;
    assert!(
        early.is_err(),
        "the second connection was served while the cap was reached"
    );
    drop(first);
    let n = tokio::time::timeout(Duration::from_secs(10), second.read(&mut reply))
        .await
        .unwrap()
        .unwrap();
    let status: u16 = String::from_utf8_lossy(&reply[..n])
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert_eq!(status, 200);
}
