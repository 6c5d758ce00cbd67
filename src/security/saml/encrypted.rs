//! Encrypted assertions: a Response whose one assertion is an `EncryptedAssertion`, for a realm
//! with an `encryption_certificate_url` (a zip holding `saml/<realm id>/encryption.key` and
//! `encryption.pem`, as ECE documents; the key may be encrypted with
//! `encryption_certificate_url_password`).
//!
//! Encryption proves nothing about the sender (anyone can encrypt to the SP's public key), so the
//! order is: the structure of the encrypted Response (`response::check_encrypted`), the
//! Response's signature over the ciphertext when it has one, then decryption by xmlsec1, then
//! the decrypted Response goes through every rule a plain one does (`response::check`), its
//! Assertion's own signature included; "at least one signature" is met by the Response's only
//! when it was verified on the encrypted original.

use std::path::Path;
use std::time::Duration;

use roxmltree::Document;

use super::xml::{self, SAML};
use super::xmlsec::Unchecked;
use super::SamlError;

/// The realm's decryption key (PEM) from its `encryption_certificate_url` bundle.
pub async fn key(realm_id: &str, url: &str, within: Duration) -> Result<Vec<u8>, SamlError> {
    super::bundle::key(
        "encryption_certificate_url",
        url,
        realm_id,
        "encryption",
        within,
    )
    .await
}

/// Decrypts the Response `text` and gives it back with its `EncryptedAssertion` replaced by the
/// decrypted `Assertion`.
pub async fn decrypt(
    program: &Path,
    text: &str,
    key_pem: &[u8],
    password: Option<&str>,
) -> Result<String, SamlError> {
    let decrypted = super::xmlsec::decrypt(program, text, key_pem, password)
        .await
        .map_err(|e| match e {
            Unchecked::Busy => SamlError::Busy,
            // A wrong key and bad ciphertext are not told apart to the sender.
            Unchecked::Failed(cause) => SamlError::Refused(cause),
        })?;
    unwrap(&decrypted).map_err(SamlError::Refused)
}

/// `decrypted` with the `EncryptedAssertion` element replaced by the one `Assertion` in it.
fn unwrap(decrypted: &str) -> Result<String, String> {
    let doc: Document = xml::parse(decrypted)?;
    let wrapper = doc
        .descendants()
        .find(|n| xml::is(n, SAML, "EncryptedAssertion"))
        .ok_or("the decrypted Response has no EncryptedAssertion")?;
    let assertion = xml::only_child(wrapper, SAML, "Assertion")?
        .ok_or("the EncryptedAssertion held no Assertion")?;
    let (outer, inner) = (wrapper.range(), assertion.range());
    Ok(format!(
        "{}{}{}",
        &decrypted[..outer.start],
        &decrypted[inner],
        &decrypted[outer.end..]
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_assertion_takes_the_place_of_its_wrapper() {
        let d = r#"<p:Response xmlns:p="urn:oasis:names:tc:SAML:2.0:protocol"><s:EncryptedAssertion xmlns:s="urn:oasis:names:tc:SAML:2.0:assertion"><s:Assertion xmlns:s="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a"/></s:EncryptedAssertion></p:Response>"#;
        let got = super::unwrap(d).unwrap();
        assert_eq!(
            got,
            r#"<p:Response xmlns:p="urn:oasis:names:tc:SAML:2.0:protocol"><s:Assertion xmlns:s="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a"/></p:Response>"#
        );
    }
}
