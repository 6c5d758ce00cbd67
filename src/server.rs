//! The connection layer: accepts TCP (optionally TLS) connections and serves the router on each
//! with hyper, enforcing the transport limits axum's built-in `serve` cannot express.
//!
//! Written by hand (about what `axum::serve` does, plus limits) because we need, together:
//! TLS with rustls, a cap on concurrent connections (accepting waits for a free slot, so excess
//! clients queue in the kernel backlog instead of exhausting file descriptors) and on connections
//! per client address, a deadline from accept to the first request head and an idle timeout for
//! every protocol (`crate::connguard`), a header-read timeout and size cap, ECE envelopes for
//! the requests hyper refuses itself (`crate::rawerrors`), and a graceful shutdown that lets
//! in-flight requests finish.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::connguard::{AcceptBackoff, Activity, AddressCap, Deadlines};

/// Transport limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most connections served at once.
    pub max_connections: usize,
    /// Time from accept to the first complete request head (HTTP/1 or HTTP/2 alike), and time
    /// allowed to send each later request's headers.
    pub header_read_timeout: Duration,
    /// How long a connection with no request in flight stays open after its last reply
    /// (keep-alive HTTP/1, HTTP/2).
    pub idle_timeout: Duration,
    /// Most connections open at once from one client address (IPv6: one /64); 0: no cap.
    pub max_connections_per_address: usize,
    /// Largest request head (request line and headers) accepted, in bytes.
    pub max_header_bytes: usize,
    /// Time allowed for a TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
}

/// How long a TLS handshake may take (not a command-line option).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long requests in flight may finish after a shutdown signal (not a command-line option).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Loads a PEM certificate chain and private key into a TLS acceptor (HTTP/1.1 and HTTP/2).
pub fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| anyhow::anyhow!("cannot read certificate {}: {e}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("bad certificate in {}: {e}", cert.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "no certificate found in {}",
        cert.display()
    );
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow::anyhow!("cannot read private key {}: {e}", key.display()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn run(
    listener: TcpListener,
    app: crate::http::Api,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        // The header timeout is `connguard::Activity`'s, one timer per connection: hyper's
        // would start a timer for every request.
        .header_read_timeout(None)
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(limits.max_header_bytes as u32)
        // Pings find peers that vanished while a stream is open; idle connections are closed
        // by `connguard::Activity` whatever the protocol.
        .keep_alive_interval(Some(limits.idle_timeout))
        .keep_alive_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_address = AddressCap::new(limits.max_connections_per_address);
    let mut backoff = AcceptBackoff::default();
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);

    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot?,
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => {
                    backoff.succeeded();
                    conn
                }
                Err(e) => {
                    // E.g. EMFILE: back off instead of spinning.
                    let wait = backoff.failed();
                    if backoff.should_log() {
                        tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "accept failed");
                    }
                    tokio::time::sleep(wait).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some(address_slot) = per_address.try_acquire(peer.ip()) else {
            // Closed at once: this client already holds its share of the connections.
            tracing::debug!(%peer, "connection refused: per-address cap reached");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let activity = Activity::new();
        let service = Connection {
            api: app.clone().with_peer(peer),
            activity: activity.clone(),
        };
        let (builder, watcher, tls) = (builder.clone(), graceful.watcher(), tls.clone());
        let handshake_timeout = limits.tls_handshake_timeout;
        let deadlines = Deadlines {
            head: limits.header_read_timeout,
            idle: limits.idle_timeout,
        };
        tokio::spawn(async move {
            let _slots = (slot, address_slot); // released when the connection ends
            let serve = async {
                match tls {
                    None => serve_connection(stream, &builder, service, watcher).await,
                    Some(acceptor) => {
                        match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await
                        {
                            Ok(Ok(tls_stream)) => {
                                serve_connection(tls_stream, &builder, service, watcher).await
                            }
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed")
                            }
                            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                        }
                    }
                }
            };
            // Dropping the connection closes it; nothing is in flight when the timer fires.
            tokio::select! {
                _ = serve => {}
                _ = activity.expired(deadlines) => {
                    tracing::debug!(%peer, "connection closed: no request before the deadline, or idle");
                }
            }
        });
    }

    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period over; closing the remaining connections");
    }
    Ok(())
}

/// The service hyper calls for each request of one connection: the API, which knows the
/// connection's peer, and the connection's [`Activity`], busy until the reply is ready.
struct Connection {
    api: crate::http::Api,
    activity: Arc<Activity>,
}

impl hyper::service::Service<Request<Incoming>> for Connection {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = Served;

    fn call(&self, req: Request<Incoming>) -> Served {
        let busy = self.activity.begin(req.version() < hyper::Version::HTTP_2);
        Served {
            reply: self.api.serve(req),
            busy: Some(busy),
        }
    }
}

pin_project_lite::pin_project! {
    /// A request's reply, with the connection marked busy until it is ready.
    struct Served {
        #[pin]
        reply: crate::http::ApiFuture,
        busy: Option<crate::connguard::Busy>,
    }
}

impl Future for Served {
    type Output = Result<axum::response::Response, std::convert::Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let res = std::task::ready!(this.reply.poll(cx));
        this.busy.take();
        Poll::Ready(res)
    }
}

async fn serve_connection<I>(
    io: I,
    builder: &auto::Builder<TokioExecutor>,
    service: Connection,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(crate::rawerrors::EnvelopeIo::new(io));
    let conn = builder.serve_connection_with_upgrades(io, service);
    if let Err(e) = watcher.watch(conn.into_owned()).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
