//! Start-up: one [`Application`] that `ece-server serve` and the test harness both build and
//! run, so tests serve exactly what production serves (bootstrap, housekeeping, limits).
//!
//! [`Application::build`] opens the store, bootstraps it, warms the hasher up and binds the
//! listeners; [`Application::run_until`] serves until the given signal, then stops the
//! housekeeping and finishes the requests in flight.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::bootstrap::ChosenPasswords;
use crate::http::{AppState, Settings};
use crate::server::Limits;
use crate::store::StoreOptions;

/// Everything a server is built from; `crate::config` makes one from the command line.
pub struct Config {
    /// Address to listen on (port 0: any free port, see [`Application::address`]).
    pub listen: SocketAddr,
    /// The database URL (`sqlite://...` or `postgres://...`).
    pub database_url: String,
    pub store: StoreOptions,
    /// Where `bootstrap-secrets.json` is written (and the embedded store lives by default).
    pub data_dir: PathBuf,
    /// Passwords for the built-in users; `None`: generated on first start.
    pub passwords: ChosenPasswords,
    pub settings: Settings,
    pub limits: Limits,
    /// Most password hashes computed at once (default: the number of cores).
    pub hash_concurrency: Option<usize>,
    /// Serve HTTPS with this acceptor.
    pub tls: Option<TlsAcceptor>,
    /// Serve `/metrics` on this separate address.
    pub metrics_listen: Option<SocketAddr>,
    /// The key file of the realm secrets; `None`: `realm-secrets.key` in `data_dir`.
    pub realm_secrets_key_file: Option<PathBuf>,
}

/// A server with its store open and bootstrapped and its listeners bound, ready to run.
pub struct Application {
    state: AppState,
    listener: TcpListener,
    metrics: Option<TcpListener>,
    limits: Limits,
    tls: Option<TlsAcceptor>,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        let url = &config.database_url;
        let store = crate::datafiles::open(url, &config.store).await?;
        tracing::info!(database = %crate::store::redact(url), "store opened");
        crate::bootstrap::ensure(&*store, &config.data_dir, &config.passwords)
            .await
            .with_context(|| {
                format!(
                    "cannot create the account and built-in users (data directory {})",
                    config.data_dir.display()
                )
            })?;
        crypto_warm_up().await;
        let sealer = realm_sealer(&config)?;
        let state = AppState::new(store, config.settings, config.hash_concurrency, sealer);
        let listener = listen(config.listen).with_context(|| {
            format!("cannot listen on {} (--listen, ECE_LISTEN)", config.listen)
        })?;
        let metrics = match config.metrics_listen {
            Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| {
                format!("cannot listen on {addr} (--metrics-listen, ECE_METRICS_LISTEN)")
            })?),
            None => None,
        };
        Ok(Application {
            state,
            listener,
            metrics,
            limits: config.limits,
            tls: config.tls,
        })
    }

    /// The address the API listens on.
    pub fn address(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The address `/metrics` listens on, when it has its own.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The state handlers see (its store, settings, throttle).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT or SIGTERM.
    pub async fn run(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let housekeeping = spawn_housekeeping(self.state.clone());
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        tracing::info!(
            "ece-server listening on {scheme}://{}/api/v1",
            self.address()
        );
        let metrics = self.metrics.map(|listener| {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!("metrics on http://{addr}/metrics");
            }
            let router = crate::http::telemetry::metrics_only(self.state.clone());
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(error = %e, "metrics listener failed");
                }
            })
        });
        let app = crate::http::router(self.state);
        let served = crate::server::run(self.listener, app, self.limits, self.tls, shutdown).await;
        housekeeping.abort();
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        served?;
        tracing::info!("ece-server stopped");
        Ok(())
    }
}

/// The realm secrets key: the file given, else `realm-secrets.key` in the data directory
/// (created on first start). Replicas on one PostgreSQL database must share one key; without
/// `--realm-secrets-key-file` each would make its own, so that case is logged loudly (a secret
/// sealed by another replica then answers `security_realm.secrets_unavailable`, naming both keys).
fn realm_sealer(config: &Config) -> anyhow::Result<crate::security::sealed::Sealer> {
    let path = match &config.realm_secrets_key_file {
        Some(path) => path.clone(),
        None => {
            if !config.database_url.starts_with("sqlite:") {
                tracing::warn!(
                    "no --realm-secrets-key-file (ECE_REALM_SECRETS_KEY_FILE) with a shared database: using \
                     {}/realm-secrets.key; every replica must use the same key file",
                    config.data_dir.display()
                );
            }
            std::fs::create_dir_all(&config.data_dir).with_context(|| {
                format!(
                    "cannot create the data directory {}",
                    config.data_dir.display()
                )
            })?;
            config.data_dir.join("realm-secrets.key")
        }
    };
    let sealer = crate::security::sealed::Sealer::load_or_create(&path)?;
    tracing::info!(path = %path.display(), key_id = sealer.key_id(), "realm secrets key loaded");
    Ok(sealer)
}

async fn crypto_warm_up() {
    let _ = tokio::task::spawn_blocking(crate::security::crypto::warm_up).await;
}

/// Removes ended sessions, long-expired API keys and old audit events once an hour, so the
/// tables do not grow without bound.
fn spawn_housekeeping(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            // Keep a day of history past the end, for tokens in their grace period and for audits.
            let before = chrono::Utc::now() - chrono::Duration::days(1);
            match state.store.purge_sessions(before).await {
                Ok(n) if n > 0 => tracing::info!(sessions = n, "purged ended sessions"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "session purge failed"),
            }
            let keys_before = chrono::Utc::now() - state.settings.expired_key_retention;
            match state.store.purge_api_keys(keys_before).await {
                Ok(n) if n > 0 => tracing::info!(keys = n, "purged expired API keys"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "API key purge failed"),
            }
            if let Some(keep) = state.settings.audit_retention {
                match state.store.purge_audit(chrono::Utc::now() - keep).await {
                    Ok(n) if n > 0 => tracing::info!(events = n, "purged old audit events"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "audit purge failed"),
                }
            }
        }
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received, finishing in-flight requests");
}

/// How many finished handshakes the kernel may hold for the API port before the server accepts
/// them (capped by `net.core.somaxconn`). Tokio's default is 1,024: a burst of more connections
/// than that while the server is busy would see the excess handshakes dropped, and those clients
/// would believe themselves connected to a server that never heard of them.
const LISTEN_BACKLOG: u32 = 4096;

fn listen(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As TcpListener::bind does: a restarted server can bind while old connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}
