//! [`AppState`]: what every handler can reach, and the [`Settings`] they read at run time.

use std::sync::Arc;
use std::time::Duration;

use crate::security::crypto::PasswordHasherPool;
use crate::store::Store;

/// What every handler can reach: one reference-counted pointer, so that the `State` extractor's
/// clone per request is one atomic increment rather than one per field (each of which the
/// worker threads would otherwise contend on).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The fields of [`AppState`].
pub struct Shared {
    pub store: Arc<dyn Store>,
    pub settings: Arc<Settings>,
    pub hasher: PasswordHasherPool,
    /// Brute-force protection of password checks (in memory, per replica).
    pub throttle: Arc<crate::security::throttle::Throttle>,
    /// Credential checks cached with bounded staleness (see `crate::security::cache`).
    pub authcache: Arc<crate::security::cache::AuthCache>,
    /// Writers of one account or user row queue here before their compare-and-swap
    /// (see `crate::store::cas`).
    pub row_locks: Arc<crate::store::cas::RowLocks>,
    /// The rate bound on audit events for refused requests.
    pub refusals: Arc<crate::http::audit::Refusals>,
    /// Seals and opens the realm secrets (`crate::security::sealed`).
    pub sealer: Arc<crate::security::sealed::Sealer>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        settings: Settings,
        hash_concurrency: Option<usize>,
        sealer: crate::security::sealed::Sealer,
    ) -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let threads = hash_concurrency.unwrap_or(cores).max(1);
        let queued = settings.hash_queue.unwrap_or(8 * threads);
        let hasher =
            PasswordHasherPool::new(threads, queued).with_admission_wait(settings.hash_queue_wait);
        AppState(Arc::new(Shared {
            refusals: Arc::new(crate::http::audit::Refusals::new(
                settings.audit_refusals_per_minute,
            )),
            store,
            throttle: crate::security::throttle::Throttle::new(settings.brute_force.clone()),
            authcache: Arc::new(crate::security::cache::AuthCache::with_lookup_ttl(
                settings.credential_cache,
            )),
            row_locks: Arc::default(),
            sealer: Arc::new(sealer),
            settings: Arc::new(settings),
            hasher,
        }))
    }
}

/// The settings handlers read at run time. `crate::config` makes them from the command line;
/// their `Default` is an empty command line's (see `ServeArgs::defaults`).
#[derive(Debug, Clone)]
pub struct Settings {
    pub session_idle: chrono::Duration,
    pub session_max: chrono::Duration,
    pub refresh_grace: chrono::Duration,
    pub max_api_keys_per_user: u32,
    pub default_api_key_lifetime: chrono::Duration,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    /// Whether `/metrics` is served on the API port (no `--metrics-listen`).
    pub metrics_on_api_port: bool,
    /// Brute-force protection of password checks.
    pub brute_force: crate::security::throttle::ThrottleConfig,
    /// How long audit events are kept; `None`: forever.
    pub audit_retention: Option<chrono::Duration>,
    /// Most refused requests audited per minute (`crate::http::audit::Refusals`).
    pub audit_refusals_per_minute: u32,
    /// Most sign-in checks queued for hashing; `None`: 8 per hashing thread.
    pub hash_queue: Option<usize>,
    /// How long a sign-in check waits for a place in a full hashing queue before its 429.
    pub hash_queue_wait: Duration,
    /// How long store answers about credentials and the account are reused (`crate::security::cache`).
    pub credential_cache: Duration,
    /// Bounds of a realm sign-in's directory conversations (`--directory-*timeout-ms`).
    pub directory_timeouts: crate::security::realm_signin::Timeouts,
    /// The program that checks SAML signatures (`--xmlsec1`).
    pub xmlsec1: std::path::PathBuf,
    /// How many refreshes one session may make per window (`_refresh` answers 429 beyond).
    pub refresh_limit: crate::store::RefreshLimit,
    /// How long an expired API key is kept before housekeeping deletes it.
    pub expired_key_retention: chrono::Duration,
    /// The time sessions and keys expire by (the system clock; tests move it forward).
    pub clock: crate::domain::clock::Clock,
}
