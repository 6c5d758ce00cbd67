//! The identity provider's SAML metadata (`idp.metadata_path`): where to send the user
//! (`SingleSignOnService` with the HTTP-Redirect binding) and which certificates sign its
//! responses (`KeyDescriptor` with `use="signing"` or without `use`).
//!
//! Fetched through the same bounded, cached fetch as a directory realm's `certificate_url`
//! (`ca_fetch::fetch_url`: at most 1 MiB, within the given time, cached 5 minutes, a failure 10
//! seconds), so a changed IdP certificate is picked up within 5 minutes. Parsed without DTDs
//! (roxmltree refuses them), like every SAML document here.

use std::time::Duration;

use base64::Engine;
use roxmltree::Node;

use super::xml::{self, DS, MD};
use super::SamlError;
use crate::security::directory::ca_fetch;

pub const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// What the service provider needs of the IdP's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct IdpMetadata {
    /// Where AuthnRequests go (HTTP-Redirect binding).
    pub sso_url: String,
    /// The IdP's signing certificates, PEM: a response verifies against any of them (rollover).
    pub signing_certs: Vec<String>,
}

/// Fetches (or takes from the cache) and reads the metadata at `url` for the IdP `entity_id`.
pub async fn load(url: &str, entity_id: &str, within: Duration) -> Result<IdpMetadata, SamlError> {
    let bytes = ca_fetch::fetch_url("idp.metadata_path", url, within)
        .await
        .map_err(SamlError::from)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| SamlError::Misconfigured("idp.metadata_path: not UTF-8 XML".into()))?;
    parse(text, entity_id).map_err(|e| SamlError::Misconfigured(format!("idp.metadata_path: {e}")))
}

/// Reads metadata text: an `EntityDescriptor`, or an `EntitiesDescriptor` holding one with
/// `entityID` = `entity_id`.
pub fn parse(text: &str, entity_id: &str) -> Result<IdpMetadata, String> {
    let doc = xml::parse(text)?;
    let entity = doc
        .descendants()
        .find(|n| xml::is(n, MD, "EntityDescriptor") && n.attribute("entityID") == Some(entity_id))
        .ok_or_else(|| {
            format!("no EntityDescriptor with entityID \"{entity_id}\" (idp.entity_id)")
        })?;
    let idp = xml::children(entity, MD, "IDPSSODescriptor")
        .next()
        .ok_or("the entity has no IDPSSODescriptor")?;
    let sso_url = xml::children(idp, MD, "SingleSignOnService")
        .find(|n| n.attribute("Binding") == Some(REDIRECT_BINDING))
        .and_then(|n| n.attribute("Location"))
        .ok_or("the IdP offers no SingleSignOnService with the HTTP-Redirect binding")?;
    if !(sso_url.starts_with("https://") || sso_url.starts_with("http://")) {
        return Err(format!(
            "the SingleSignOnService location is not an http(s) URL: {sso_url}"
        ));
    }
    let signing_certs: Vec<String> = xml::children(idp, MD, "KeyDescriptor")
        .filter(|k| matches!(k.attribute("use"), None | Some("signing")))
        .flat_map(certificates)
        .collect::<Result<_, _>>()?;
    if signing_certs.is_empty() {
        return Err("the IdP's metadata names no signing certificate".into());
    }
    Ok(IdpMetadata {
        sso_url: sso_url.to_string(),
        signing_certs,
    })
}

/// The `X509Certificate`s of a `KeyDescriptor`, as PEM.
fn certificates<'a>(key: Node<'a, 'a>) -> impl Iterator<Item = Result<String, String>> + 'a {
    key.descendants()
        .filter(|n| xml::is(n, DS, "X509Certificate"))
        .map(|n| {
            let b64: String = n.text().unwrap_or_default().split_whitespace().collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(&b64)
                .map_err(|_| "an X509Certificate is not base64".to_string())?;
            Ok(pem(&der))
        })
}

fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: &str = r#"<?xml version="1.0"?>
<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="urn:idp">
  <IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#">
      <X509Data><X509Certificate>QUJD</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
    <KeyDescriptor use="encryption"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#">
      <X509Data><X509Certificate>REVG</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
    <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="http://idp/post"/>
    <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="http://idp/sso"/>
  </IDPSSODescriptor>
</EntityDescriptor>"#;

    #[test]
    fn reads_the_redirect_location_and_the_signing_certificates_only() {
        let m = parse(META, "urn:idp").unwrap();
        assert_eq!(m.sso_url, "http://idp/sso");
        assert_eq!(m.signing_certs.len(), 1);
        assert!(m.signing_certs[0].contains("QUJD"));
    }

    #[test]
    fn another_entity_a_dtd_or_no_certificate_is_refused() {
        assert!(parse(META, "urn:other")
            .unwrap_err()
            .contains("no EntityDescriptor"));
        let dtd = format!("<!DOCTYPE x [<!ENTITY a \"b\">]>{}", &META[22..]);
        assert!(parse(&dtd, "urn:idp").is_err());
        let bare = META.replace("use=\"signing\"", "use=\"encryption\"");
        assert!(parse(&bare, "urn:idp")
            .unwrap_err()
            .contains("no signing certificate"));
    }
}
