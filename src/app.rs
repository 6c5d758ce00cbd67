//! The application: shared state, start-up (store, bootstrap) and serving with graceful shutdown.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::{ServeArgs, Settings};
use crate::crypto::PasswordHasherPool;
use crate::store::Store;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub settings: Arc<Settings>,
    pub hasher: PasswordHasherPool,
    /// Brute-force protection of password checks (in memory, per replica).
    pub throttle: Arc<crate::throttle::Throttle>,
    /// Credential checks cached with bounded staleness (see `crate::authcache`).
    pub authcache: Arc<crate::authcache::AuthCache>,
    /// Writers of one account or user row queue here before their compare-and-swap
    /// (see `crate::cas`).
    pub row_locks: Arc<crate::cas::RowLocks>,
    /// The rate bound on audit events for refused requests.
    pub refusals: Arc<crate::audit::Refusals>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, settings: Settings, hash_concurrency: Option<usize>) -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let threads = hash_concurrency.unwrap_or(cores).max(1);
        let queued = settings.hash_queue.unwrap_or(8 * threads);
        AppState {
            refusals: Arc::new(crate::audit::Refusals::new(
                settings.audit_refusals_per_minute,
            )),
            store,
            throttle: crate::throttle::Throttle::new(settings.brute_force.clone()),
            authcache: Arc::new(crate::authcache::AuthCache::with_lookup_ttl(
                settings.credential_cache,
            )),
            row_locks: Arc::default(),
            settings: Arc::new(settings),
            hasher: PasswordHasherPool::new(threads, queued),
        }
    }
}

/// `ece-server serve`: open the store, bootstrap it, listen until SIGINT/SIGTERM.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let chosen = crate::bootstrap::ChosenPasswords::from_env()?;
    if let Some(files) = crate::connguard::raise_open_file_limit() {
        tracing::info!(limit = files, "open file limit");
    }
    let url = args.db.url();
    let store = crate::datafiles::open_store(&args.db, true).await?;
    tracing::info!(database = %crate::store::redact(&url), "store opened");
    crate::bootstrap::ensure(&*store, &args.db.data_dir, &chosen)
        .await
        .with_context(|| {
            format!(
                "cannot create the account and built-in users (data directory {})",
                args.db.data_dir.display()
            )
        })?;
    crypto_warm_up().await;

    let state = AppState::new(store, Settings::from_args(&args), args.hash_concurrency);
    spawn_housekeeping(state.clone());
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::server::tls_acceptor(cert, key)?),
        _ => None,
    };
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--listen, ECE_LISTEN)", args.listen))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(
        "ece-server listening on {scheme}://{}/api/v1",
        listener.local_addr()?
    );
    if let Some(addr) = args.metrics_listen {
        let metrics = TcpListener::bind(addr).await.with_context(|| {
            format!("cannot listen on {addr} (--metrics-listen, ECE_METRICS_LISTEN)")
        })?;
        tracing::info!("metrics on http://{}/metrics", metrics.local_addr()?);
        let router = crate::telemetry::metrics_only(state.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(metrics, router).await {
                tracing::error!(error = %e, "metrics listener failed");
            }
        });
    }
    let app = crate::http::router(state);
    crate::server::run(listener, app, args.limits(), tls, shutdown_signal()).await?;
    tracing::info!("ece-server stopped");
    Ok(())
}

async fn crypto_warm_up() {
    let _ = tokio::task::spawn_blocking(crate::crypto::warm_up).await;
}

/// Removes ended sessions, long-expired API keys and old audit events once an hour, so the
/// tables do not grow without bound.
fn spawn_housekeeping(state: AppState) {
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
    });
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
