//! Security: credentials as sent and who they resolve to, secrets and digests, password hashing,
//! the credential cache, brute-force protection, the LDAP/Active Directory client, SAML single
//! sign-on (the service provider side).
//!
//! Depends on `domain` and `store` only (see ARCHITECTURE.md, "Layers").

pub mod cache;
pub mod credentials;
pub mod crypto;
pub mod directory;
pub mod realm_signin;
pub mod resolve;
pub mod saml;
pub mod sealed;
pub mod throttle;
