//! Server settings: the `serve` command line (every flag also reads an `ECE_*` environment
//! variable) turned into the typed [`Settings`] the rest of the code uses.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, FromArgMatches};

use crate::http::Settings;

/// Options of `ece-server serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (ECE's API port is 12400).
    #[arg(long, env = "ECE_LISTEN", default_value = "127.0.0.1:12400")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub db: DbArgs,

    /// How long a session lives without a refresh (seconds).
    #[arg(long, env = "ECE_SESSION_IDLE_TIMEOUT", default_value_t = 3600)]
    pub session_idle_timeout: u64,

    /// Hard limit on a session's life, whatever the refreshes (seconds).
    #[arg(long, env = "ECE_SESSION_MAX_LIFETIME", default_value_t = 86_400)]
    pub session_max_lifetime: u64,

    /// How long a bearer token replaced by `_refresh` keeps working, so that requests already
    /// in flight with it do not fail (seconds).
    #[arg(long, env = "ECE_REFRESH_GRACE", default_value_t = 60)]
    pub refresh_grace: u64,

    /// Most unexpired API keys one user may hold.
    #[arg(long, env = "ECE_MAX_API_KEYS_PER_USER", default_value_t = 100)]
    pub max_api_keys_per_user: u32,

    /// Most password hashes computed at once (default: the number of cores).
    #[arg(long, env = "ECE_HASH_CONCURRENCY")]
    pub hash_concurrency: Option<usize>,

    /// Most sign-in password checks waiting for a hashing thread (default: 8 per hashing
    /// thread); a further one waits for a place up to `--hash-queue-wait-ms`, then gets 429
    /// with `Retry-After: 1`.
    #[arg(long, env = "ECE_HASH_QUEUE")]
    pub hash_queue: Option<usize>,

    /// How long a sign-in check that finds the hashing queue full waits for a place before its
    /// 429 (milliseconds, at most 10000; 0: refused at once).
    #[arg(long, env = "ECE_HASH_QUEUE_WAIT_MS", default_value_t = 1000)]
    pub hash_queue_wait_ms: u64,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "ECE_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest request head (request line and headers) accepted, in bytes.
    #[arg(long, env = "ECE_MAX_HEADER_BYTES", default_value_t = 64 * 1024)]
    pub max_header_bytes: usize,

    /// Most connections served at once; further clients wait in the accept queue.
    #[arg(long, env = "ECE_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// Most connections open at once from one client address (IPv6: per /64); further ones are
    /// closed at once (0: no cap; raise it behind a reverse proxy, which is one address).
    #[arg(long, env = "ECE_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 256)]
    pub max_connections_per_address: usize,

    /// Seconds from accepting a connection to its first complete request head (HTTP/1 or
    /// HTTP/2), and to send each later request's headers; the connection is closed after that.
    #[arg(long, env = "ECE_HEADER_TIMEOUT", default_value_t = 30)]
    pub header_timeout: u64,

    /// Seconds a connection with no request in flight (HTTP/1 keep-alive or HTTP/2) is kept
    /// open after its last reply.
    #[arg(long, env = "ECE_IDLE_TIMEOUT", default_value_t = 30)]
    pub idle_timeout: u64,

    /// Seconds a request may take from its headers to its reply (408 after that).
    #[arg(long, env = "ECE_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout: u64,

    /// Serve `/metrics` on this separate address only (default: on the API port).
    #[arg(long, env = "ECE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// PEM certificate chain: serve HTTPS instead of HTTP (with --tls-key).
    #[arg(long, env = "ECE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for --tls-cert.
    #[arg(long, env = "ECE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Brute-force protection: failed password checks per user name before sign-in attempts for
    /// it must wait (0: no per-user-name limit).
    #[arg(long, env = "ECE_BRUTE_FORCE_MAX_FAILURES", default_value_t = 30)]
    pub brute_force_max_failures: u32,

    /// Brute-force protection: failed password checks per client address (IPv6: per /64) before
    /// its sign-in attempts must wait (0: no per-address limit).
    #[arg(
        long,
        env = "ECE_BRUTE_FORCE_ADDRESS_MAX_FAILURES",
        default_value_t = 30
    )]
    pub brute_force_address_max_failures: u32,

    /// Brute-force protection: the first wait, and what each further failure adds (seconds).
    #[arg(long, env = "ECE_BRUTE_FORCE_WAIT_INCREMENT", default_value_t = 60)]
    pub brute_force_wait_increment: u64,

    /// Brute-force protection: the longest wait (seconds).
    #[arg(long, env = "ECE_BRUTE_FORCE_MAX_WAIT", default_value_t = 900)]
    pub brute_force_max_wait: u64,

    /// Brute-force protection: a counter is forgotten this long after its last failure (seconds).
    #[arg(long, env = "ECE_BRUTE_FORCE_FAILURE_RESET", default_value_t = 43_200)]
    pub brute_force_failure_reset: u64,

    /// Brute-force protection: most user names and addresses tracked in memory at once.
    #[arg(long, env = "ECE_BRUTE_FORCE_MAX_ENTRIES", default_value_t = 100_000)]
    pub brute_force_max_entries: usize,

    /// Days the audit log keeps events (0: forever).
    #[arg(long, env = "ECE_AUDIT_RETENTION_DAYS", default_value_t = 90)]
    pub audit_retention_days: u32,

    /// The most `_refresh` calls one session may make per minute (on all replicas together);
    /// more are answered 429 with `Retry-After`. Minimum 1.
    #[arg(long, env = "ECE_REFRESH_MAX_PER_MINUTE", default_value_t = 10)]
    pub refresh_max_per_minute: u32,

    /// Days an expired API key is still listed (as expired) before housekeeping deletes it.
    #[arg(long, env = "ECE_EXPIRED_KEY_RETENTION_DAYS", default_value_t = 30)]
    pub expired_key_retention_days: u32,

    /// Most refused requests (403, bad token or key) written to the audit log per minute by
    /// this replica; the rest are counted into one summary event (0: none written).
    #[arg(long, env = "ECE_AUDIT_REFUSALS_PER_MINUTE", default_value_t = 10)]
    pub audit_refusals_per_minute: u32,

    /// How long this replica reuses what the store said about a token, an API key, a Basic
    /// user or the account (milliseconds, at most 1000; 0: ask the store on every request).
    /// A revocation made on another replica takes effect here within this time.
    #[arg(long, env = "ECE_CREDENTIAL_CACHE_MS", default_value_t = 250)]
    pub credential_cache_ms: u64,

    /// Bound on connecting to one directory server of a realm (TCP, TLS, StartTLS), per URL
    /// tried at a sign-in (milliseconds).
    #[arg(long, env = "ECE_DIRECTORY_CONNECT_TIMEOUT_MS", default_value_t = 3000)]
    pub directory_connect_timeout_ms: u64,

    /// Bound on each directory operation (bind, search) of a realm sign-in (milliseconds).
    #[arg(long, env = "ECE_DIRECTORY_TIMEOUT_MS", default_value_t = 5000)]
    pub directory_timeout_ms: u64,

    /// The xmlsec1 program that checks the signatures of SAML responses (Debian package
    /// `xmlsec1`); only SAML sign-in needs it.
    #[arg(long, env = "ECE_XMLSEC1", default_value = "xmlsec1")]
    pub xmlsec1: std::path::PathBuf,

    /// The key that seals realm secrets (LDAP bind and truststore passwords) in the database:
    /// a file of 64 hex digits, created (mode 0600) if missing. Default: `realm-secrets.key` in
    /// the data directory. Replicas on one PostgreSQL database must all use the same file.
    #[arg(long, env = "ECE_REALM_SECRETS_KEY_FILE")]
    pub realm_secrets_key_file: Option<PathBuf>,
}

impl ServeArgs {
    /// The options of an empty command line, whatever the environment says: the production
    /// defaults, written once in the `#[arg]` attributes above.
    pub fn defaults() -> ServeArgs {
        empty_command_line()
    }

    /// What the server is built from: these options, with the built-in users' passwords from
    /// `ECE_ADMIN_PASSWORD` and `ECE_READONLY_PASSWORD`.
    pub fn config(&self) -> anyhow::Result<crate::startup::Config> {
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(crate::server::tls_acceptor(cert, key)?),
            _ => None,
        };
        Ok(crate::startup::Config {
            listen: self.listen,
            database_url: self.db.url(),
            store: self.db.store_options(true),
            data_dir: self.db.data_dir.clone(),
            passwords: crate::bootstrap::ChosenPasswords::from_env()?,
            settings: Settings::from(self),
            limits: self.limits(),
            hash_concurrency: self.hash_concurrency,
            tls,
            metrics_listen: self.metrics_listen,
            realm_secrets_key_file: self.realm_secrets_key_file.clone(),
        })
    }

    pub fn limits(&self) -> crate::server::Limits {
        crate::server::Limits {
            max_connections: self.max_connections,
            header_read_timeout: Duration::from_secs(self.header_timeout.max(1)),
            idle_timeout: Duration::from_secs(self.idle_timeout.max(1)),
            max_connections_per_address: self.max_connections_per_address,
            max_header_bytes: self.max_header_bytes,
            tls_handshake_timeout: crate::server::TLS_HANDSHAKE_TIMEOUT,
            shutdown_grace: crate::server::SHUTDOWN_GRACE,
        }
    }
}

/// Where the data lives; shared by `serve` and `migrate`.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Directory of the embedded store (`ece.db`) and of `bootstrap-secrets.json`.
    #[arg(long, env = "ECE_DATA_DIR", default_value = "./ece-data")]
    pub data_dir: PathBuf,

    /// Database URL: `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`. Default: the embedded
    /// SQLite store in the data directory.
    #[arg(long, env = "ECE_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Most pooled database connections.
    #[arg(long, env = "ECE_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// How long a request waits for a database connection before failing with 503 (milliseconds).
    #[arg(long, env = "ECE_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 3000)]
    pub db_acquire_timeout_ms: u64,

    /// Longest a single statement may run (milliseconds).
    #[arg(long, env = "ECE_DB_STATEMENT_TIMEOUT_MS", default_value_t = 5000)]
    pub db_statement_timeout_ms: u64,
}

impl DbArgs {
    /// Opens (and with `migrate`, migrates) the store these options name.
    pub async fn open_store(
        &self,
        migrate: bool,
    ) -> anyhow::Result<std::sync::Arc<dyn crate::store::Store>> {
        crate::datafiles::open(&self.url(), &self.store_options(migrate)).await
    }

    /// The options of an empty command line, whatever the environment says.
    pub fn defaults() -> DbArgs {
        empty_command_line()
    }

    /// The database URL in force: the explicit one, or the SQLite file in the data directory.
    pub fn url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("ece.db").display()),
        }
    }

    pub fn store_options(&self, migrate: bool) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            migrate,
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_millis(self.db_acquire_timeout_ms),
            statement_timeout: Duration::from_millis(self.db_statement_timeout_ms),
        }
    }
}

impl From<&ServeArgs> for Settings {
    fn from(args: &ServeArgs) -> Self {
        let secs = |s: u64| {
            chrono::Duration::seconds(
                i64::try_from(s)
                    .unwrap_or(i64::MAX / 1000)
                    .min(10 * 365 * 86_400),
            )
        };
        Settings {
            session_idle: secs(args.session_idle_timeout.max(1)),
            session_max: secs(args.session_max_lifetime.max(1)),
            refresh_grace: secs(args.refresh_grace),
            max_api_keys_per_user: args.max_api_keys_per_user,
            // "3 months", as ECE's default API key lifetime.
            default_api_key_lifetime: chrono::Duration::days(90),
            max_body_bytes: args.max_body_bytes,
            request_timeout: Duration::from_secs(args.request_timeout.max(1)),
            metrics_on_api_port: args.metrics_listen.is_none(),
            brute_force: crate::security::throttle::ThrottleConfig {
                user_max_failures: args.brute_force_max_failures,
                address_max_failures: args.brute_force_address_max_failures,
                wait_increment: Duration::from_secs(args.brute_force_wait_increment),
                max_wait: Duration::from_secs(args.brute_force_max_wait),
                failure_reset: Duration::from_secs(args.brute_force_failure_reset.max(1)),
                max_entries: args.brute_force_max_entries.max(1),
            },
            audit_retention: (args.audit_retention_days > 0)
                .then(|| chrono::Duration::days(i64::from(args.audit_retention_days))),
            audit_refusals_per_minute: args.audit_refusals_per_minute,
            hash_queue: args.hash_queue,
            hash_queue_wait: Duration::from_millis(args.hash_queue_wait_ms.min(10_000)),
            // Capped: replicas must enforce each other's revocations within a second.
            credential_cache: Duration::from_millis(args.credential_cache_ms.min(1000)),
            directory_timeouts: crate::security::realm_signin::Timeouts {
                connect: Duration::from_millis(args.directory_connect_timeout_ms.max(1)),
                operation: Duration::from_millis(args.directory_timeout_ms.max(1)),
            },
            xmlsec1: args.xmlsec1.clone(),
            refresh_limit: crate::store::RefreshLimit::per_minute(args.refresh_max_per_minute),
            expired_key_retention: chrono::Duration::days(i64::from(
                args.expired_key_retention_days,
            )),
            clock: Default::default(),
        }
    }
}

impl Default for Settings {
    /// What `ece-server serve` runs with when given no options.
    fn default() -> Self {
        Settings::from(&ServeArgs::defaults())
    }
}

impl Default for crate::server::Limits {
    /// The connection limits of `serve` given no options.
    fn default() -> Self {
        ServeArgs::defaults().limits()
    }
}

impl Default for crate::security::throttle::ThrottleConfig {
    /// The brute-force protection of `serve` given no options (Keycloak's defaults: 30 failures,
    /// then 1 minute more per failure, at most 15 minutes; counters reset after 12 hours).
    fn default() -> Self {
        Settings::default().brute_force
    }
}

impl Default for crate::store::StoreOptions {
    /// What `serve` opens the store with when given no options.
    fn default() -> Self {
        DbArgs::defaults().store_options(true)
    }
}

/// `T` parsed from an empty command line with every `env` source switched off, so its fields
/// hold the defaults written in its `#[arg]` attributes.
fn empty_command_line<T: Args + FromArgMatches>() -> T {
    let command =
        T::augment_args(clap::Command::new("defaults")).mut_args(|arg| arg.env(None::<&str>));
    let matches = command
        .try_get_matches_from(["defaults"])
        .expect("every option has a default or is optional");
    T::from_arg_matches(&matches).expect("the defaults are valid options")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_from_the_command_line_attributes() {
        let serve = ServeArgs::defaults();
        assert_eq!(serve.listen, "127.0.0.1:12400".parse().unwrap());
        assert_eq!(serve.db.data_dir, PathBuf::from("./ece-data"));
        let settings = Settings::default();
        assert_eq!(settings.session_idle, chrono::Duration::hours(1));
        assert_eq!(settings.max_api_keys_per_user, 100);
        assert_eq!(settings.credential_cache, Duration::from_millis(250));
        let store = crate::store::StoreOptions::default();
        assert!(store.migrate);
        assert_eq!(store.max_connections, 16);
        assert_eq!(store.acquire_timeout, Duration::from_secs(3));
        let limits = crate::server::Limits::default();
        assert_eq!(limits.max_connections, 4096);
        assert_eq!(limits.max_header_bytes, 64 * 1024);
        let brute_force = crate::security::throttle::ThrottleConfig::default();
        assert_eq!(brute_force.user_max_failures, 30);
        assert_eq!(brute_force.max_wait, Duration::from_secs(900));
    }
}
