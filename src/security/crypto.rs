//! Secrets: random tokens and ids, their digests, and Argon2id password hashing.
//!
//! - Bearer tokens and API keys are 256 bits from the OS CSPRNG, base64url-encoded. The store only
//!   ever sees their SHA-256 digest: a fast hash is right for high-entropy secrets (Elasticsearch
//!   does the same for API keys), and it makes lookups O(1) through a unique index.
//! - Passwords use Argon2id with the `argon2` crate's defaults (m=19 MiB, t=2, p=1, OWASP's
//!   recommendation). Hashing is CPU-heavy, so it runs on a few dedicated low-priority threads
//!   (as many as cores; see [`PasswordHasherPool`]): a login flood queues there and never starves
//!   the async runtime. The queue is bounded, and a job whose request is gone is skipped.
//! - Unknown users are checked against a dummy hash so that they cost the same time as known ones.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use subtle::ConstantTimeEq;

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

/// A short random identifier (120 bits), safe in URLs. Never starts with `-` or `_`: an id is
/// also a command-line argument (`ecctl auth key show ID`), where a leading `-` reads as a flag.
pub fn new_id() -> String {
    loop {
        let id = random_token(15);
        if id.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return id;
        }
    }
}

/// The digest stored in place of a token or key: 32 raw bytes, never hex text (the store's
/// indexes and the credential cache key on it as it is).
pub fn digest(secret: impl AsRef<[u8]>) -> crate::domain::model::Digest {
    // ring's SHA-256 (OpenSSL's assembly, SIMD where the CPU has it) rather than sha2's portable
    // code: this runs on every request with a token or key, and costs a third as much on CPUs
    // without SHA extensions (bench/RESULTS.md).
    let d = ring::digest::digest(&ring::digest::SHA256, secret.as_ref());
    d.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// Constant-time equality for digests and other secrets-derived strings.
pub fn ct_eq(a: impl AsRef<[u8]>, b: impl AsRef<[u8]>) -> bool {
    let (a, b) = (a.as_ref(), b.as_ref());
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// [`ct_eq`] for two SHA-256 digests, word by word: every request with a key or token compares
/// one, and the byte-wise form costs ~250 instructions to this one's ~20. The differences are
/// OR-ed together without a branch, and only the result goes through `subtle`.
pub fn digests_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a
        .chunks_exact(8)
        .zip(b.chunks_exact(8))
        .fold(0u64, |acc, (x, y)| acc | (word(x) ^ word(y)));
    bool::from(diff.ct_eq(&0))
}

fn word(bytes: &[u8]) -> u64 {
    u64::from_ne_bytes(bytes.try_into().expect("chunks of 8"))
}

mod hasher;
pub use hasher::{
    hash_password, verify_password, warm_up, HasherStats, NotChecked, PasswordHasherPool, Paused,
    QueueFull, HASHER_IDLE,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_never_start_with_a_dash_or_underscore() {
        // 2 of the 64 base64url characters: 10,000 ids would include ~300 such without the check.
        for _ in 0..10_000 {
            let id = new_id();
            assert!(id.starts_with(|c: char| c.is_ascii_alphanumeric()), "{id}");
            assert_eq!(id.len(), 20);
        }
    }

    #[test]
    fn secrets_are_long_and_distinct() {
        let (a, b) = (new_secret(), new_secret());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(digest("abc").len(), 32);
        assert!(ct_eq(digest("abc"), digest("abc")));
        assert!(!ct_eq(digest("abc"), digest("abd")));
        assert!(digests_eq(&digest("abc"), &digest("abc")));
        assert!(!digests_eq(&digest("abc"), &digest("abd")));
        // A difference in any one byte, the last included.
        let a = digest("abc");
        for i in 0..32 {
            let mut b = a;
            b[i] ^= 1;
            assert!(!digests_eq(&a, &b), "byte {i}");
        }
    }
}
