//! Signing the AuthnRequest when the realm's `signing_saml_messages` names `AuthnRequest`: the
//! HTTP-Redirect binding's query signature (SAML 2.0 bindings, 3.4.4.1), RSA with SHA-256 over
//! `SAMLRequest=…&RelayState=…&SigAlg=…` exactly as sent, with the key of the realm's
//! `signing_certificate_url` bundle (`saml/<realm id>/signing.key`). ring does the signing.
//!
//! Limits: RSA keys only (PKCS#8 or PKCS#1 PEM), unencrypted (ring reads no encrypted key; a
//! bundle password is not used for signing). Logout messages are never sent (no single logout),
//! so `LogoutRequest` / `LogoutResponse` in the list change nothing.

use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;

pub const SIG_ALG: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// `query` (`SAMLRequest=…&RelayState=…`, already encoded) with `SigAlg` and `Signature` added.
pub fn sign_query(query: &str, key_pem: &[u8]) -> Result<String, String> {
    let key = match PrivateKeyDer::from_pem_slice(key_pem) {
        Ok(PrivateKeyDer::Pkcs8(k)) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
        Ok(PrivateKeyDer::Pkcs1(k)) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
        Ok(_) => return Err("signing.key is not an RSA key".into()),
        Err(_) => return Err("signing.key is not an unencrypted PEM private key".into()),
    }
    .map_err(|e| format!("signing.key is not a usable RSA key ({e})"))?;
    let signed = format!("{query}&SigAlg={}", urlencoding::encode(SIG_ALG));
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signed.as_bytes(),
        &mut sig,
    )
    .map_err(|_| "signing the AuthnRequest failed".to_string())?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(sig);
    Ok(format!("{signed}&Signature={}", urlencoding::encode(&b64)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};

    #[test]
    fn the_query_is_signed_as_sent() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k.pem");
        let ok = std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
            ])
            .arg(&key)
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok);
        let pem = std::fs::read(&key).unwrap();
        let signed = sign_query("SAMLRequest=abc%2B&RelayState=_x", &pem).unwrap();
        let (body, sig) = signed.rsplit_once("&Signature=").unwrap();
        assert!(body
            .ends_with("&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256"));
        let sig = base64::engine::general_purpose::STANDARD
            .decode(urlencoding::decode(sig).unwrap().as_bytes())
            .unwrap();
        let PrivateKeyDer::Pkcs8(k) = PrivateKeyDer::from_pem_slice(&pem).unwrap() else {
            panic!("openssl genpkey writes PKCS#8")
        };
        let pair = RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()).unwrap();
        let public = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pair.public().as_ref());
        public.verify(body.as_bytes(), &sig).unwrap();
        assert!(sign_query("x", b"not a key").is_err());
    }
}
