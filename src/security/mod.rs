//! Security: credentials as sent and who they resolve to, secrets and digests, password hashing,
//! the credential cache, brute-force protection.
//!
//! Depends on `domain` and `store` only (see ARCHITECTURE.md, "Layers").

pub mod cache;
pub mod credentials;
pub mod crypto;
pub mod resolve;
pub mod sealed;
pub mod throttle;
