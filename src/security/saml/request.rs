//! The AuthnRequest that `_init` sends the user's browser to the IdP with, in the HTTP-Redirect
//! binding (SAML 2.0 bindings, 3.4.4): the XML deflated (raw DEFLATE), base64-encoded and
//! percent-encoded into the IdP's SingleSignOnService URL with a `RelayState`.
//!
//! The request's `ID` is random (128 bits) and is recorded in the store with the realm and the
//! client's `state` (`store::sso`): the response must name it in `InResponseTo`.

use std::io::Write;

use base64::Engine;
use flate2::write::DeflateEncoder;
use flate2::Compression;

use super::xml::escape;
use crate::domain::model::Timestamp;

const HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// What an AuthnRequest says.
pub struct AuthnRequest<'a> {
    /// `ID`: starts with a letter as xs:ID requires.
    pub id: &'a str,
    pub issue_instant: Timestamp,
    /// The IdP's SingleSignOnService location (`Destination`).
    pub destination: &'a str,
    /// `sp.entity_id` (`Issuer`).
    pub issuer: &'a str,
    /// `sp.acs` (`AssertionConsumerServiceURL`).
    pub acs: &'a str,
    pub force_authn: bool,
    /// `nameid_format` (`NameIDPolicy/@Format`), when the realm sets one.
    pub nameid_format: Option<&'a str>,
}

impl AuthnRequest<'_> {
    pub fn to_xml(&self) -> String {
        let mut xml = format!(
            "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
             xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{}\" Version=\"2.0\" \
             IssueInstant=\"{}\" Destination=\"{}\" AssertionConsumerServiceURL=\"{}\" \
             ProtocolBinding=\"{HTTP_POST}\"",
            escape(self.id),
            self.issue_instant
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            escape(self.destination),
            escape(self.acs),
        );
        if self.force_authn {
            xml.push_str(" ForceAuthn=\"true\"");
        }
        xml.push_str(&format!(
            "><saml:Issuer>{}</saml:Issuer>",
            escape(self.issuer)
        ));
        if let Some(format) = self.nameid_format {
            xml.push_str(&format!(
                "<samlp:NameIDPolicy Format=\"{}\" AllowCreate=\"true\"/>",
                escape(format)
            ));
        }
        xml.push_str("</samlp:AuthnRequest>");
        xml
    }

    /// The binding's query: `SAMLRequest` (deflated, base64) and `RelayState`, percent-encoded.
    pub fn query(&self, relay_state: &str) -> String {
        let mut deflater = DeflateEncoder::new(Vec::new(), Compression::default());
        // Writing to a Vec cannot fail.
        let _ = deflater.write_all(self.to_xml().as_bytes());
        let deflated = deflater.finish().unwrap_or_default();
        let encoded = base64::engine::general_purpose::STANDARD.encode(deflated);
        format!(
            "SAMLRequest={}&RelayState={}",
            urlencoding::encode(&encoded),
            urlencoding::encode(relay_state)
        )
    }

    /// The URL the browser is redirected to: the destination with `query` added to whatever
    /// query it already has.
    pub fn url_with(&self, query: &str) -> String {
        let join = if self.destination.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{join}{query}", self.destination)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn the_redirect_carries_the_deflated_request_and_the_relay_state() {
        let req = AuthnRequest {
            id: "id_1",
            issue_instant: chrono::Utc::now(),
            destination: "https://idp.test/sso?tenant=a",
            issuer: "https://ece.test/sp",
            acs: "https://ece.test/api/v1/users/auth/saml/_callback",
            force_authn: true,
            nameid_format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"),
        };
        let url = req.url_with(&req.query("id_1"));
        assert!(
            url.starts_with("https://idp.test/sso?tenant=a&SAMLRequest="),
            "{url}"
        );
        assert!(url.ends_with("&RelayState=id_1"), "{url}");
        let b64 = url
            .split("SAMLRequest=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        let b64 = urlencoding::decode(b64).unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .unwrap();
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(&raw[..])
            .read_to_string(&mut xml)
            .unwrap();
        let doc = super::super::xml::parse(&xml).unwrap();
        let root = doc.root_element();
        assert_eq!(root.attribute("ID"), Some("id_1"));
        assert_eq!(root.attribute("ForceAuthn"), Some("true"));
        assert_eq!(
            root.attribute("AssertionConsumerServiceURL"),
            Some("https://ece.test/api/v1/users/auth/saml/_callback")
        );
    }
}
