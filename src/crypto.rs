//! Secrets: random tokens and ids, their digests, and Argon2id password hashing.
//!
//! - Bearer tokens and API keys are 256 bits from the OS CSPRNG, base64url-encoded. The store only
//!   ever sees their SHA-256 digest: a fast hash is right for high-entropy secrets (Elasticsearch
//!   does the same for API keys), and it makes lookups O(1) through a unique index.
//! - Passwords use Argon2id with the `argon2` crate's defaults (m=19 MiB, t=2, p=1, OWASP's
//!   recommendation). Hashing is CPU-heavy, so it runs on Tokio's blocking pool behind a semaphore
//!   sized to the cores: a login flood queues there and never starves the async runtime.
//! - Unknown users are checked against a dummy hash so that they cost the same time as known ones.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

/// `n` random bytes from the OS, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A new bearer token or API key secret (256 bits).
pub fn new_secret() -> String {
    random_token(32)
}

/// A short random identifier (120 bits), safe in URLs.
pub fn new_id() -> String {
    random_token(15)
}

/// The digest stored in place of a token or key.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time equality for digests and other secrets-derived strings.
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Argon2id hashing on the blocking pool, with bounded concurrency.
#[derive(Clone)]
pub struct PasswordHasherPool {
    permits: Arc<Semaphore>,
}

impl PasswordHasherPool {
    pub fn new(max_concurrent: usize) -> Self {
        PasswordHasherPool {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
        }
    }

    /// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
    pub async fn hash(&self, password: String) -> anyhow::Result<String> {
        let _permit = self.permits.acquire().await?;
        tokio::task::spawn_blocking(move || hash_password(&password)).await?
    }

    /// Checks a password against a PHC string. `None` checks against a dummy hash and fails, so
    /// that an unknown user costs as much as a wrong password.
    pub async fn verify(&self, password: String, phc: Option<String>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        tokio::task::spawn_blocking(move || {
            let known = phc.is_some();
            let phc = phc.unwrap_or_else(|| dummy_hash().to_string());
            verify_password(&password, &phc) && known
        })
        .await
        .unwrap_or(false)
    }
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        // The verifier compares the derived hash in constant time.
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password with the server's parameters, computed once.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password(&new_secret()).expect("argon2 with default parameters cannot fail")
    })
}

/// Computes the dummy hash ahead of the first login so that it does not skew that login's timing.
pub fn warm_up() {
    let _ = dummy_hash();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let phc = hash_password("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("wrong", &phc));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn secrets_are_long_and_distinct() {
        let (a, b) = (new_secret(), new_secret());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(digest("abc").len(), 64);
        assert!(ct_eq(&digest("abc"), &digest("abc")));
        assert!(!ct_eq(&digest("abc"), &digest("abd")));
    }
}
