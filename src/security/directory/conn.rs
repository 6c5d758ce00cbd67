//! Connections to the directory: the order the URLs are tried in, TLS, timeouts, the pool of
//! service connections, and what a failure means.
//!
//! Every network step is bounded: connecting (TCP, then TLS or StartTLS) by the connect timeout,
//! each operation by the operation timeout, with `tokio::time::timeout` around ldap3's own bounds
//! so a server that accepts and never answers cannot hold a sign-in. A connection whose operation
//! timed out is dropped (its driver task ends with the last handle), never reused.
//!
//! Service connections (bound as the configured `bind_dn`, or anonymous) only search, so they are
//! pooled per URL and identity: at most [`POOL_IDLE_MAX`] idle ones, each reused for at most
//! [`POOL_IDLE_AGE`]; a search that fails on a reused one is tried once more on a new one
//! (`flow.rs`). A user's own bind always gets a fresh connection (a bind changes who the
//! connection is), closed after the sign-in.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult};
use sha2::{Digest, Sha256};

use super::{tls, Bind, DirectoryConfig, DirectoryError, LoadBalance, StartTls};

/// Idle service connections kept per URL and identity.
const POOL_IDLE_MAX: usize = 8;
/// An idle service connection older than this is closed rather than reused (servers close idle
/// connections on their own schedule; a fresh one costs one round trip more).
const POOL_IDLE_AGE: Duration = Duration::from_secs(60);

/// LDAP result codes the client tells apart.
pub mod rc {
    pub const NO_SUCH_OBJECT: u32 = 32;
    pub const INVALID_DN_SYNTAX: u32 = 34;
    pub const INVALID_CREDENTIALS: u32 = 49;
    pub const BUSY: u32 = 51;
    pub const UNAVAILABLE: u32 = 52;
    pub const UNWILLING: u32 = 53;
}

/// The URLs in the order this sign-in tries them.
pub fn order(cfg: &DirectoryConfig) -> Vec<String> {
    let n = cfg.urls.len();
    let start = match cfg.load_balance {
        LoadBalance::Failover => 0,
        LoadBalance::RoundRobin if n > 0 => next_turn(&cfg.urls) % n,
        LoadBalance::RoundRobin => 0,
    };
    (0..n).map(|i| cfg.urls[(start + i) % n].clone()).collect()
}

/// A rotating counter per URL list, so two realms do not share (and skew) one rotation.
fn next_turn(urls: &[String]) -> usize {
    static TURNS: OnceLock<Mutex<HashMap<Vec<String>, Arc<AtomicUsize>>>> = OnceLock::new();
    let turns = TURNS.get_or_init(Default::default);
    let counter = {
        let mut turns = turns.lock().unwrap();
        if turns.len() > 1024 {
            turns.clear(); // bounded whatever the configurations are
        }
        turns.entry(urls.to_vec()).or_default().clone()
    };
    counter.fetch_add(1, Ordering::Relaxed)
}

/// One connection, with the bounds of its configuration.
pub struct Conn {
    pub ldap: Ldap,
    op_timeout: Duration,
    url: String,
    /// Taken from the pool: the server may have closed it without the driver noticing yet.
    pub reused: bool,
}

impl Conn {
    /// Opens a connection to `url` (StartTLS or LDAPS as configured), not yet bound.
    pub async fn open(cfg: &DirectoryConfig, url: &str) -> Result<Conn, DirectoryError> {
        // ldap3 parses the rest of the URL (and says what is wrong with it).
        let scheme = url
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase())
            .unwrap_or_default();
        let starttls = match (scheme.as_str(), cfg.starttls) {
            ("ldaps", _) => false,
            ("ldap", StartTls::Always) => true,
            ("ldap", StartTls::Auto) => !cfg.ca.is_empty(),
            ("ldap", StartTls::Never) => false,
            (other, _) => {
                return Err(misconfigured(format!(
                    "directory URL {url:?}: scheme {other:?} is not ldap or ldaps"
                )))
            }
        };
        let mut settings = LdapConnSettings::new()
            .set_conn_timeout(cfg.connect_timeout)
            .set_starttls(starttls);
        if scheme == "ldaps" || starttls {
            settings = settings.set_config(tls::client_config(&cfg.ca)?);
        }
        let connecting = LdapConnAsync::with_settings(settings, url);
        let (driver, ldap) = match tokio::time::timeout(cfg.connect_timeout, connecting).await {
            Err(_) => return Err(unavailable(url, "connect timed out".into())),
            Ok(Err(e)) => return Err(classify(url, e)),
            Ok(Ok(pair)) => pair,
        };
        // The driver ends when the server closes or the last `Ldap` handle is dropped.
        tokio::spawn(async move {
            if let Err(e) = driver.drive().await {
                tracing::debug!(error = %e, "directory connection ended");
            }
        });
        Ok(Conn {
            ldap,
            op_timeout: cfg.operation_timeout,
            url: url.to_string(),
            reused: false,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A simple bind. `Ok(Err(rc))` is the server's refusal with its result code (49: wrong
    /// password, ...), for the caller to interpret; `Err` is a failure of the connection.
    pub async fn bind(
        &mut self,
        dn: &str,
        password: &str,
    ) -> Result<Result<(), u32>, DirectoryError> {
        // Callers refuse empty passwords before; this keeps an unauthenticated bind impossible
        // whatever a future caller forgets.
        if password.is_empty() {
            return Ok(Err(rc::INVALID_CREDENTIALS));
        }
        let (limit, url) = (self.op_timeout, self.url.clone());
        let result = bounded(limit, &url, self.ldap.simple_bind(dn, password)).await?;
        Ok(if result.rc == 0 {
            Ok(())
        } else {
            Err(result.rc)
        })
    }

    /// A search returning at most `limit` + 1 entries (so the caller can tell "more than
    /// `limit`"), each with the `attrs` asked for.
    pub async fn search(
        &mut self,
        base: &str,
        scope: ldap3::Scope,
        filter: &str,
        attrs: &[&str],
        limit: i32,
    ) -> Result<Vec<ldap3::SearchEntry>, DirectoryError> {
        let op_timeout = self.op_timeout;
        let limit_secs = op_timeout.as_secs().clamp(1, i32::MAX as u64) as i32;
        let op = self
            .ldap
            .with_search_options(
                ldap3::SearchOptions::new()
                    .sizelimit(limit + 1)
                    .timelimit(limit_secs),
            )
            .search(base, scope, filter, attrs.to_vec());
        let url = self.url.clone();
        let result = match tokio::time::timeout(op_timeout, op).await {
            Err(_) => return Err(unavailable(&url, "search timed out".into())),
            Ok(Err(e)) => return Err(classify(&url, e)),
            Ok(Ok(r)) => r,
        };
        let ldap3::SearchResult(entries, done) = result;
        match done.rc {
            // sizeLimitExceeded still delivers the entries: the caller sees limit + 1 of them.
            0 | 4 => {}
            rc::NO_SUCH_OBJECT => return Ok(Vec::new()),
            _ => return Err(refused(&url, "search", &done)),
        }
        Ok(entries
            .into_iter()
            .filter(|e| !e.is_ref() && !e.is_intermediate())
            .map(ldap3::SearchEntry::construct)
            .collect())
    }
}

/// `op` within `limit`; a timeout or a failure of the connection is `Unavailable`.
async fn bounded(
    limit: Duration,
    url: &str,
    op: impl std::future::Future<Output = Result<LdapResult, LdapError>>,
) -> Result<LdapResult, DirectoryError> {
    match tokio::time::timeout(limit, op).await {
        Err(_) => Err(unavailable(url, "operation timed out".into())),
        Ok(Err(e)) => Err(classify(url, e)),
        Ok(Ok(r)) => Ok(r),
    }
}

/// Identifies a pool: URL, identity (the password only as a digest), TLS settings.
#[derive(Clone, PartialEq, Eq, Hash)]
struct PoolKey([u8; 32]);

fn pool_key(cfg: &DirectoryConfig, url: &str) -> PoolKey {
    let mut h = Sha256::new();
    h.update(url.as_bytes());
    h.update([0]);
    if let Bind::Dn { dn, password } = &cfg.bind {
        h.update(dn.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
    }
    h.update([0, cfg.starttls as u8]);
    h.update(format!("{:?}", cfg.ca).as_bytes()); // sizes only: a changed CA usually changes them
    for source in &cfg.ca {
        let data = match source {
            super::CaSource::Pem(d) => d,
            super::CaSource::Pkcs12 { data, .. } => data,
        };
        h.update(data);
    }
    PoolKey(h.finalize().into())
}

type Idle = Vec<(Conn, Instant)>;

fn pool() -> &'static Mutex<HashMap<PoolKey, Idle>> {
    static POOL: OnceLock<Mutex<HashMap<PoolKey, Idle>>> = OnceLock::new();
    POOL.get_or_init(Default::default)
}

/// A service connection to `url`: an idle pooled one, or a new one bound as the configured
/// identity. A refused service bind is a misconfiguration (the realm's `bind_dn`/password).
pub async fn service(cfg: &DirectoryConfig, url: &str) -> Result<Conn, DirectoryError> {
    let key = pool_key(cfg, url);
    loop {
        let idle = pool().lock().unwrap().get_mut(&key).and_then(Vec::pop);
        let Some((mut conn, since)) = idle else { break };
        if since.elapsed() < POOL_IDLE_AGE && !conn.ldap.is_closed() {
            conn.reused = true;
            return Ok(conn);
        }
        // Stale: dropped here, which closes it.
    }
    fresh_service(cfg, url).await
}

/// A new service connection, bound as the configured identity (never from the pool).
pub async fn fresh_service(cfg: &DirectoryConfig, url: &str) -> Result<Conn, DirectoryError> {
    let mut conn = Conn::open(cfg, url).await?;
    if let Bind::Dn { dn, password } = &cfg.bind {
        if password.is_empty() {
            return Err(misconfigured("the bind_dn has an empty password".into()));
        }
        if let Err(code) = conn.bind(dn, password).await? {
            return Err(match code {
                rc::BUSY | rc::UNAVAILABLE => {
                    unavailable(url, format!("service bind: result code {code}"))
                }
                _ => misconfigured(format!(
                    "the directory refused the bind_dn {dn:?} (result code {code})"
                )),
            });
        }
    }
    Ok(conn)
}

/// Returns a service connection that worked to the pool.
pub fn give_back(cfg: &DirectoryConfig, mut conn: Conn) {
    conn.reused = false;
    let key = pool_key(cfg, &conn.url);
    let mut pool = pool().lock().unwrap();
    if pool.len() > 256 {
        pool.clear(); // bounded whatever the configurations are
    }
    let idle = pool.entry(key).or_default();
    if idle.len() < POOL_IDLE_MAX {
        idle.push((conn, Instant::now()));
    }
}

/// What an ldap3 error means for a sign-in.
fn classify(url: &str, e: LdapError) -> DirectoryError {
    match e {
        LdapError::Io { source } => {
            let tls = source
                .get_ref()
                .is_some_and(|inner| inner.is::<tokio_rustls::rustls::Error>());
            if tls {
                unavailable(url, format!("TLS: {source}"))
            } else {
                unavailable(url, source.to_string())
            }
        }
        LdapError::Rustls { source } => unavailable(url, format!("TLS: {source}")),
        LdapError::DNSName { source } => misconfigured(format!(
            "directory URL {url:?}: not a TLS server name ({source})"
        )),
        LdapError::Timeout { .. } => unavailable(url, "timed out".into()),
        LdapError::UrlParsing { source } => {
            misconfigured(format!("bad directory URL {url:?}: {source}"))
        }
        LdapError::UnknownScheme(s) => {
            misconfigured(format!("directory URL {url:?}: unknown scheme {s:?}"))
        }
        LdapError::LdapResult { result } => match result.rc {
            rc::BUSY | rc::UNAVAILABLE => {
                unavailable(url, format!("server answered {}", result.rc))
            }
            // StartTLS refused (e.g. the server has no certificate): the operator must choose.
            _ => misconfigured(format!("{url}: {result}")),
        },
        LdapError::FilterParsing => {
            misconfigured("a search filter of the realm does not parse".into())
        }
        // The connection's driver went away (server closed it) and the like.
        other => unavailable(url, other.to_string()),
    }
}

/// A search or bind the server refused for a reason other than the credentials.
pub fn refused(url: &str, what: &str, result: &LdapResult) -> DirectoryError {
    match result.rc {
        rc::BUSY | rc::UNAVAILABLE => {
            unavailable(url, format!("{what}: server answered {}", result.rc))
        }
        _ => misconfigured(format!(
            "{url}: {what} refused: result code {} {}",
            result.rc, result.text
        )),
    }
}

pub fn unavailable(url: &str, cause: String) -> DirectoryError {
    DirectoryError::Unavailable {
        cause: format!("{url}: {cause}"),
    }
}

pub fn misconfigured(cause: String) -> DirectoryError {
    DirectoryError::Misconfigured { cause }
}
