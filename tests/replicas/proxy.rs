//! The switchable TCP proxy the database-loss tests (`database_loss.rs`) put between a replica and
//! PostgreSQL: it forwards, drops every connection, swallows every packet, or refuses connections
//! ([`Cut`]); and the 503 `root.store_unavailable` an outage must produce.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::*;

/// How the proxy treats traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Cut {
    /// Forward to PostgreSQL.
    None = 0,
    /// Close every proxied connection; accept new ones and close them at once (the database
    /// host is up but PostgreSQL is not: a restart, a crash).
    Drop = 1,
    /// Keep connections open but forward nothing, new ones included (a network partition that
    /// swallows packets).
    Blackhole = 2,
    /// Close every proxied connection and stop listening: connections are refused.
    Refuse = 3,
}

/// A TCP proxy on loopback between a replica and PostgreSQL, with a switch.
pub(crate) struct Proxy {
    pub(crate) addr: SocketAddr,
    upstream: SocketAddr,
    pub(crate) mode: Arc<AtomicU8>,
    /// Bumped on every switch: each proxied connection re-reads the mode then.
    generation: Arc<watch::Sender<u64>>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    pub(crate) async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let mut proxy = Proxy {
            addr: listener.local_addr().unwrap(),
            upstream,
            mode: Arc::new(AtomicU8::new(Cut::None as u8)),
            generation: Arc::new(watch::channel(0).0),
            accept: None,
        };
        proxy.accept = Some(proxy.accept_loop(listener));
        proxy
    }

    fn accept_loop(&self, listener: TcpListener) -> JoinHandle<()> {
        let (mode, generation, upstream) =
            (self.mode.clone(), self.generation.clone(), self.upstream);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let switch = generation.subscribe();
                let mode = mode.clone();
                tokio::spawn(proxy_connection(client, upstream, mode, switch));
            }
        })
    }

    /// Switches to `cut`; the connections in place follow the new mode at once.
    pub(crate) async fn set(&mut self, cut: Cut) {
        self.mode.store(cut as u8, Ordering::SeqCst);
        if cut == Cut::Refuse {
            if let Some(accept) = self.accept.take() {
                accept.abort();
                let _ = accept.await; // the listener is closed once the task is gone
            }
        } else if self.accept.is_none() {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.set_reuseaddr(true).unwrap();
            socket.bind(self.addr).expect("proxy port still free");
            self.accept = Some(self.accept_loop(socket.listen(128).unwrap()));
        }
        self.generation.send_modify(|g| *g += 1);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
        // Closes every proxied connection.
        self.mode.store(Cut::Drop as u8, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }
}

async fn proxy_connection(
    mut client: TcpStream,
    upstream: SocketAddr,
    mode: Arc<AtomicU8>,
    mut switch: watch::Receiver<u64>,
) {
    let current = || mode.load(Ordering::SeqCst);
    if current() == Cut::Blackhole as u8 {
        let _ = switch.changed().await; // hold it, silent, until the next switch
        return;
    }
    if current() != Cut::None as u8 {
        return; // dropped: closed at once
    }
    let connect = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(upstream));
    let Ok(Ok(mut server)) = connect.await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = switch.changed() => {
            if current() == Cut::Blackhole as u8 {
                let _ = switch.changed().await;
            }
        }
    }
}

/// `url` with its host and port replaced by `addr`.
pub(crate) fn via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("URL with a scheme");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let userinfo = authority.rfind('@').map_or("", |at| &authority[..=at]);
    format!("{scheme}://{userinfo}{addr}{tail}")
}

/// Asserts the 503 a store outage must produce.
#[track_caller]
pub(crate) fn assert_unavailable(what: &str, reply: &Reply) {
    assert_eq!(reply.status, 503, "{what}: {} {}", reply.status, reply.body);
    reply.expect_error(503, "root.store_unavailable");
    assert!(
        reply.headers.contains_key("retry-after"),
        "{what}: no Retry-After"
    );
}
