//! Secrets sealed at rest with a key that is not in the database: the write-only realm secrets
//! (`bind_password`, truststore passwords) are stored as XChaCha20-Poly1305 ciphertexts (RustCrypto's
//! `chacha20poly1305`), so a copy of the database (a backup, a stolen dump) reveals none of them.
//!
//! The key is 32 random bytes kept as 64 hex digits in a file (`realm-secrets.key` in the data
//! directory, mode 0600, created on first start; `--realm-secrets-key-file` names another). Each
//! sealed value is `v1.<key id>.<base64 of nonce and ciphertext>`: the 24-byte nonce is random
//! (XChaCha's nonce is long enough for that), the associated data binds the value to its realm
//! (a ciphertext copied onto another realm does not open) and the key id (the first 8 hex digits
//! of the key's SHA-256) lets a replica with another key say so instead of failing obscurely.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

const PREFIX: &str = "v1";
const NONCE_LEN: usize = 24;

/// Why a sealed value did not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "sealed with key {found}, this server's key is {ours}: replicas must share one key file"
    )]
    OtherKey { found: String, ours: String },
    #[error("the sealed value is malformed or was tampered with")]
    Corrupt,
}

/// Seals and opens values with one key.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    key_id: String,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer(key {})", self.key_id)
    }
}

impl Sealer {
    pub fn from_key(key: &[u8; 32]) -> Sealer {
        let digest = Sha256::digest(key);
        Sealer {
            cipher: XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key)),
            key_id: hex::encode(&digest[..4]),
        }
    }

    /// Reads the key file at `path`, creating it (mode 0600) with a fresh random key when it
    /// does not exist. Replicas starting together on one shared directory agree on one key: the
    /// file appears complete or not at all (written aside, then linked into place).
    pub fn load_or_create(path: &Path) -> anyhow::Result<Sealer> {
        match std::fs::read_to_string(path) {
            Ok(text) => return Self::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("cannot read the realm secrets key {}", path.display())
                })
            }
        }
        let key: [u8; 32] = rand::random();
        let tmp = path.with_extension(format!("tmp-{}", hex::encode(rand::random::<[u8; 6]>())));
        let written = (|| -> std::io::Result<()> {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&tmp)?;
            writeln!(file, "{}", hex::encode(key))?;
            file.sync_all()?;
            match std::fs::hard_link(&tmp, path) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
                _ => Ok(()),
            }
        })();
        let _ = std::fs::remove_file(&tmp);
        written
            .with_context(|| format!("cannot create the realm secrets key {}", path.display()))?;
        // Whoever linked first won: read what is in place.
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the realm secrets key {}", path.display()))?;
        Self::parse(path, &text)
    }

    fn parse(path: &Path, text: &str) -> anyhow::Result<Sealer> {
        let bytes = hex::decode(text.trim()).ok();
        let key: [u8; 32] = bytes.and_then(|b| b.try_into().ok()).with_context(|| {
            format!(
                "the realm secrets key {} must hold 64 hex digits (32 bytes)",
                path.display()
            )
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(path) {
                if meta.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(path = %path.display(), "the realm secrets key file is readable by others: chmod 600 it");
                }
            }
        }
        Ok(Self::from_key(&key))
    }

    /// The key's id, as sealed values name it (never the key).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Seals `plaintext` for `context` (e.g. the realm it belongs to).
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> String {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption does not fail for in-memory sizes");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        format!(
            "{PREFIX}.{}.{}",
            self.key_id,
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(blob)
        )
    }

    /// Opens a value sealed for `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, OpenError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(PREFIX), Some(key_id), Some(data)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(OpenError::Corrupt);
        };
        if key_id != self.key_id {
            return Err(OpenError::OtherKey {
                found: key_id.to_string(),
                ours: self.key_id.clone(),
            });
        }
        let blob = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(data)
            .map_err(|_| OpenError::Corrupt)?;
        if blob.len() < NONCE_LEN {
            return Err(OpenError::Corrupt);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| OpenError::Corrupt)
    }
}

/// What the sealed secrets of a realm are bound to: a sealed value moved to another realm (or
/// another type of realm) does not open.
pub fn realm_context(t: crate::domain::realms::RealmType, id: &str) -> String {
    format!("ece-realm:{}:{id}", t.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_bound_to_its_context() {
        let s = Sealer::from_key(&[7; 32]);
        let sealed = s.seal("ldap:corp", b"hunter2");
        assert!(!sealed.contains("hunter2"));
        assert_ne!(
            sealed,
            s.seal("ldap:corp", b"hunter2"),
            "fresh nonce each time"
        );
        assert_eq!(s.open("ldap:corp", &sealed).unwrap(), b"hunter2");
        assert!(matches!(
            s.open("ldap:other", &sealed),
            Err(OpenError::Corrupt)
        ));
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(s.open("ldap:corp", &tampered).is_err());
        let other = Sealer::from_key(&[8; 32]);
        assert!(matches!(
            other.open("ldap:corp", &sealed),
            Err(OpenError::OtherKey { .. })
        ));
    }

    #[test]
    fn key_file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("realm-secrets.key");
        let a = Sealer::load_or_create(&path).unwrap();
        let b = Sealer::load_or_create(&path).unwrap();
        assert_eq!(a.key_id(), b.key_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not a key").unwrap();
        assert!(Sealer::load_or_create(&path).is_err());
    }
}
