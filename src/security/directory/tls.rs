//! The TLS configuration of directory connections: which CA certificates are trusted.
//!
//! Accepted: PEM (one or more `CERTIFICATE` blocks; other blocks such as keys are ignored), a single
//! DER certificate, and PKCS#12 truststores with their password (every certificate bag is trusted;
//! legacy 3DES/RC2 and current AES/PBES2 encryption both read). Java JKS keystores are not read:
//! `keytool -importkeystore -deststoretype pkcs12` converts one. No CA configured: the system's
//! roots. Configurations are built once per distinct CA (a PKCS#12 password derivation is slow on
//! purpose) and kept in a small process-wide table.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use super::{CaSource, DirectoryError};

/// Distinct CA bundles kept; past that the table starts again (they are cheap to rebuild).
const MAX_CACHED: usize = 64;

/// The client configuration trusting `ca` (the system's roots when empty).
pub fn client_config(ca: &[CaSource]) -> Result<Arc<ClientConfig>, DirectoryError> {
    let key = fingerprint(ca);
    static CACHE: OnceLock<Mutex<HashMap<[u8; 32], Arc<ClientConfig>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(config) = cache.lock().unwrap().get(&key) {
        return Ok(config.clone());
    }
    let config = build(ca)?;
    let mut cache = cache.lock().unwrap();
    if cache.len() >= MAX_CACHED {
        cache.clear();
    }
    cache.insert(key, config.clone());
    Ok(config)
}

fn fingerprint(ca: &[CaSource]) -> [u8; 32] {
    let mut h = Sha256::new();
    for source in ca {
        let (tag, data, password) = match source {
            CaSource::Pem(d) => (b'p', d, ""),
            CaSource::Pkcs12 { data, password } => (b'k', data, password.as_str()),
        };
        h.update([tag]);
        h.update((data.len() as u64).to_be_bytes());
        h.update(data);
        h.update((password.len() as u64).to_be_bytes());
        h.update(password.as_bytes());
    }
    h.finalize().into()
}

fn build(ca: &[CaSource]) -> Result<Arc<ClientConfig>, DirectoryError> {
    let mut roots = RootCertStore::empty();
    if ca.is_empty() {
        // Unreadable system certificates are skipped: the handshake then fails with a cause.
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
    }
    for source in ca {
        for cert in certificates(source)? {
            roots
                .add(cert)
                .map_err(|e| misconfigured(format!("unusable CA certificate: {e}")))?;
        }
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| misconfigured(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The certificates of one source, at least one.
pub fn certificates(source: &CaSource) -> Result<Vec<CertificateDer<'static>>, DirectoryError> {
    let certs = match source {
        CaSource::Pem(data) if looks_like_pem(data) => CertificateDer::pem_slice_iter(data)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| misconfigured(format!("CA certificates: bad PEM ({e})")))?,
        // A lone DER certificate (what `certificate_url` often points at as `.cer`/`.der`).
        CaSource::Pem(data) if data.first() == Some(&0x30) => {
            vec![CertificateDer::from(data.clone())]
        }
        CaSource::Pem(_) => {
            return Err(misconfigured("CA certificates: neither PEM nor DER".into()))
        }
        CaSource::Pkcs12 { data, password } => {
            let archive =
                p12_keystore::Pkcs12Archive::from_pkcs12(data, password).map_err(|e| {
                    misconfigured(format!(
                        "CA truststore: not a PKCS#12 file or wrong password ({e})"
                    ))
                })?;
            archive
                .certs
                .iter()
                .map(|bag| CertificateDer::from(bag.cert.as_der().to_vec()))
                .collect()
        }
    };
    if certs.is_empty() {
        return Err(misconfigured(
            "CA certificates: no certificate found".into(),
        ));
    }
    Ok(certs)
}

fn looks_like_pem(data: &[u8]) -> bool {
    data.windows(11).any(|w| w == b"-----BEGIN ")
}

fn misconfigured(cause: String) -> DirectoryError {
    DirectoryError::Misconfigured { cause }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca() -> rcgen::CertifiedKey {
        rcgen::generate_simple_self_signed(vec!["ca.test".to_string()]).unwrap()
    }

    #[test]
    fn pem_der_and_pkcs12_are_read() {
        let ca = ca();
        let pem = ca.cert.pem().into_bytes();
        assert_eq!(certificates(&CaSource::Pem(pem)).unwrap().len(), 1);
        let der = ca.cert.der().to_vec();
        assert_eq!(certificates(&CaSource::Pem(der.clone())).unwrap().len(), 1);

        let mut store = p12_keystore::KeyStore::new();
        let cert = p12_keystore::Certificate::from_der(&der).unwrap();
        store.add_entry("ca", p12_keystore::KeyStoreEntry::Certificate(cert));
        let data = store.writer("changeit").write().unwrap();
        let p12 = CaSource::Pkcs12 {
            data: data.clone(),
            password: "changeit".into(),
        };
        assert_eq!(certificates(&p12).unwrap(), vec![CertificateDer::from(der)]);
        let wrong = CaSource::Pkcs12 {
            data,
            password: "wrong".into(),
        };
        assert!(matches!(
            certificates(&wrong),
            Err(DirectoryError::Misconfigured { .. })
        ));
    }

    #[test]
    fn garbage_is_misconfigured_and_never_echoed() {
        for bad in [
            b"hello".to_vec(),
            b"-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n".to_vec(),
        ] {
            match certificates(&CaSource::Pem(bad)) {
                Err(DirectoryError::Misconfigured { cause }) => assert!(!cause.contains("hello")),
                other => panic!("{other:?}"),
            }
        }
    }
}
