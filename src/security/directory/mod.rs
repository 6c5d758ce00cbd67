//! The directory client: authenticates a user name and password against an LDAP or Active Directory
//! server and says who the user is (DN, groups, name, e-mail).
//!
//! [`authenticate`] is the one entry point. It knows nothing of realms as the API stores them: the
//! caller turns a realm into a [`DirectoryConfig`] (plain Rust, no serde) and maps the outcome to
//! roles. The parts:
//! - `escape.rs`: user names into filters (RFC 4515) and DNs (RFC 4514), and the names refused
//!   before any connection;
//! - `tls.rs`: CA certificates (PEM, DER, PKCS#12) into a rustls configuration;
//! - `ca_fetch.rs` and `ca_archive.rs`: a realm's `certificate_url` fetched (bounded, cached) and
//!   unzipped (zip-bomb guards) into CA sources;
//! - `conn.rs`: connecting with failover or round robin, timeouts, the pool of service connections,
//!   what a failure means (`Unavailable`, `InvalidCredentials`, ...);
//! - `flow.rs`: the sign-in flows (DN templates, user search, Active Directory) and the groups.
//!
//! docs/realms.md ("The directory client") describes the behaviour for operators.

pub mod ca_archive;
pub mod ca_fetch;
mod conn;
mod escape;
mod flow;
mod tls;

use std::fmt;
use std::time::Duration;

pub use ca_archive::{CaFormat, JKS_NOT_SUPPORTED};
pub use escape::{dn_value, filter_value};

/// Where and how to find users: what a realm's settings say, in the client's own terms.
#[derive(Clone)]
pub struct DirectoryConfig {
    pub kind: DirectoryKind,
    /// `ldap://host[:port]` or `ldaps://host[:port]`, tried as `load_balance` says.
    pub urls: Vec<String>,
    pub load_balance: LoadBalance,
    /// Trusted CA certificates for `ldaps://` and StartTLS. Empty: the system's roots.
    pub ca: Vec<CaSource>,
    /// For `ldap://` URLs: upgrade with StartTLS before anything is sent. `Auto` does so when a CA
    /// is configured (a CA says the operator wants TLS) and sends in clear otherwise.
    pub starttls: StartTls,
    /// The identity of the searches: anonymous or a service account.
    pub bind: Bind,
    pub user: UserLookup,
    /// `None`: the kind's default (LDAP: no groups; Active Directory: `memberOf` plus nested groups).
    pub groups: Option<GroupLookup>,
    /// Bound on establishing one connection (TCP, TLS, StartTLS), per URL tried.
    pub connect_timeout: Duration,
    /// Bound on each LDAP operation (bind, search).
    pub operation_timeout: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DirectoryKind {
    Ldap,
    /// `domain_name` (e.g. `corp.example`): the UPN suffix and, by default, the search base.
    ActiveDirectory {
        domain_name: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadBalance {
    /// Always the first URL first; the next only when one is unavailable.
    Failover,
    /// Each sign-in starts at the next URL (per URL list), then fails over like `Failover`.
    RoundRobin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartTls {
    Auto,
    Always,
    Never,
}

/// A trusted certificate bundle as the operator gave it.
#[derive(Clone)]
pub enum CaSource {
    /// One or more `-----BEGIN CERTIFICATE-----` blocks, or one DER certificate.
    Pem(Vec<u8>),
    /// A PKCS#12 truststore (`.p12`/`.pfx`): every certificate in it is trusted.
    Pkcs12 { data: Vec<u8>, password: String },
}

#[derive(Clone)]
pub enum Bind {
    Anonymous,
    Dn { dn: String, password: String },
}

#[derive(Clone, Debug)]
pub enum UserLookup {
    /// DN templates with `{0}` for the (DN-escaped) user name, tried in order: the first whose bind
    /// succeeds is the user.
    Templates(Vec<String>),
    /// Search for the user (filter with `{0}` for the filter-escaped user name), then bind as it.
    Search(UserSearch),
    /// The kind's own lookup: Active Directory by `sAMAccountName` or `userPrincipalName` under the
    /// domain's base. Refused as misconfigured for plain LDAP.
    Default,
}

#[derive(Clone, Debug)]
pub struct UserSearch {
    pub base_dn: String,
    pub scope: Scope,
    /// `None`: `(uid={0})` for LDAP, the AD filter for Active Directory.
    pub filter: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Base,
    OneLevel,
    SubTree,
}

#[derive(Clone, Debug)]
pub enum GroupLookup {
    /// Groups whose filter matches: `{0}` is the user's DN, `{1}` the user's `uid` (or the name
    /// as typed), both filter-escaped. `None`: membership in group, groupOfNames,
    /// groupOfUniqueNames and posixGroup entries.
    Search {
        base_dn: String,
        scope: Scope,
        filter: Option<String>,
    },
    /// The DNs in an attribute of the user's entry, e.g. `memberOf`.
    UserAttribute(String),
}

/// Who the directory says the user is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryUser {
    pub dn: String,
    /// Group DNs, sorted, without duplicates.
    pub groups: Vec<String>,
    pub full_name: Option<String>,
    pub email: Option<String>,
}

/// Why a sign-in did not succeed. Every `cause` is safe to log: it never holds a password.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    /// Wrong password, unknown user, a refused name or an empty password: the caller cannot tell
    /// which, on purpose.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// No configured server could be used: refused, timed out, TLS failure, server busy.
    #[error("directory unavailable: {cause}")]
    Unavailable { cause: String },
    /// The configuration cannot work (bad URL, unreadable CA, a template without `{0}`,
    /// an operation the server refuses as malformed).
    #[error("directory misconfigured: {cause}")]
    Misconfigured { cause: String },
}

/// Checks `username` and `password` against the directory `cfg` describes.
///
/// An empty password, or a user name that could not be a directory name, is refused before any
/// connection is made: a bind with an empty password is an *unauthenticated* bind, which LDAP
/// servers answer with success. Never takes longer than the timeouts allow: connect timeout per URL
/// tried plus the operation timeout per operation.
pub async fn authenticate(
    cfg: &DirectoryConfig,
    username: &str,
    password: &str,
) -> Result<DirectoryUser, DirectoryError> {
    if password.is_empty() || !escape::acceptable_name(username) {
        return Err(DirectoryError::InvalidCredentials);
    }
    flow::run(cfg, username, password).await
}

// Secrets stay out of debug output (and so out of logs that print a config).
impl fmt::Debug for Bind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bind::Anonymous => f.write_str("Anonymous"),
            Bind::Dn { dn, .. } => f.debug_struct("Dn").field("dn", dn).finish_non_exhaustive(),
        }
    }
}

impl fmt::Debug for CaSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaSource::Pem(b) => write!(f, "Pem({} bytes)", b.len()),
            CaSource::Pkcs12 { data, .. } => write!(f, "Pkcs12({} bytes)", data.len()),
        }
    }
}

impl fmt::Debug for DirectoryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectoryConfig")
            .field("kind", &self.kind)
            .field("urls", &self.urls)
            .field("load_balance", &self.load_balance)
            .field("ca", &self.ca)
            .field("starttls", &self.starttls)
            .field("bind", &self.bind)
            .field("user", &self.user)
            .field("groups", &self.groups)
            .field("connect_timeout", &self.connect_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .finish()
    }
}
