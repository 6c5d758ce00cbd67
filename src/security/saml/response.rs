//! The structure of a SAML Response, checked before any signature is: what keeps XML signature
//! wrapping (XSW) out. xmlsec tells whether *a* signature is good; these rules make sure that the
//! signed element is the one whose values are read, so a second, forged element beside, around or
//! inside the signed one cannot be what the server believes.
//!
//! - The root is a protocol `Response` with an `ID`; `ID` values are unique in the document.
//! - Exactly one `Assertion` in the whole document, a child of the root. (An encrypted Response,
//!   with one `EncryptedAssertion` instead, is checked by [`check_encrypted`] first, then
//!   decrypted (`encrypted.rs`), then checked here like any other.)
//! - Every `Signature` is a child of the root or of that Assertion, at most one each, and signs
//!   its parent: one `Reference`, `URI="#<parent ID>"`, only the enveloped-signature and
//!   exclusive/inclusive canonicalisation transforms (without comments), SHA-2 digests, RSA or
//!   ECDSA with SHA-2. No `Object` or `Manifest` (where wrapped copies hide).
//! - At least one signature; every signature present must verify (`xmlsec.rs`), each checked on
//!   a copy of the document without its `KeyInfo`, so only the metadata's certificate counts.
//!
//! The Assertion's contents are checked by `assertion.rs`.

use roxmltree::{Document, Node};

use super::xml::{self, DS, SAML, SAMLP, XENC};
use super::xmlsec::Signed;

const ALLOWED_C14N: &[&str] = &[
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
];
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const ALLOWED_SIGNATURE: &[&str] = &[
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
];
const ALLOWED_DIGEST: &[&str] = &[
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
];
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// A Response whose structure passed: the one Assertion, and the signatures to verify, each
/// with the document text to verify it on.
pub struct Structure<'a, 'i> {
    pub root: Node<'a, 'i>,
    pub assertion: Node<'a, 'i>,
    pub signatures: Vec<(Signed, String)>,
    /// The Response's signature was verified already, on the encrypted original.
    pub response_verified: bool,
}

impl Structure<'_, '_> {
    pub fn response_signed(&self) -> bool {
        self.response_verified || self.signatures.iter().any(|(s, _)| *s == Signed::Response)
    }
}

/// The rules every Response meets, encrypted or not: root, version, ID, unique IDs, status.
fn envelope<'a, 'i>(doc: &'a Document<'i>) -> Result<Node<'a, 'i>, String> {
    let root = doc.root_element();
    if !xml::is(&root, SAMLP, "Response") {
        return Err("the message is not a SAML Response".into());
    }
    if root.attribute("Version") != Some("2.0") {
        return Err("the Response is not SAML 2.0".into());
    }
    root.attribute("ID").ok_or("the Response has no ID")?;
    unique_ids(doc)?;
    status(root)?;
    Ok(root)
}

/// Whether `doc` is an encrypted Response; if so, checks it (one `EncryptedAssertion`, a child of
/// the root, no plain Assertion, no Signature but the Response's own) and gives the copy of
/// `text` to verify the Response's signature on, when it has one.
pub fn check_encrypted(doc: &Document, text: &str) -> Result<Option<Option<String>>, String> {
    let wrappers: Vec<Node> = doc
        .descendants()
        .filter(|n| xml::is(n, SAML, "EncryptedAssertion"))
        .collect();
    if wrappers.is_empty() {
        return Ok(None);
    }
    let root = envelope(doc)?;
    if wrappers.len() > 1 || wrappers[0].parent() != Some(root) {
        return Err(
            "the Response holds more than one EncryptedAssertion, or one out of place".into(),
        );
    }
    if doc.descendants().any(|n| xml::is(&n, SAML, "Assertion")) {
        return Err("the Response holds an Assertion beside its EncryptedAssertion".into());
    }
    let mut signed = None;
    for sig in doc.descendants().filter(|n| xml::is(n, DS, "Signature")) {
        if sig.parent() != Some(root) || signed.is_some() {
            return Err("a Signature of an encrypted Response is not the Response's own".into());
        }
        signature(sig, root.attribute("ID").unwrap_or_default())?;
        signed = Some(without_key_info(sig, text));
    }
    Ok(Some(signed))
}

/// Checks the structure of the parsed Response `doc` (whose text is `text`).
/// `response_verified`: the Response's signature was verified on the encrypted original (which
/// this decrypted text no longer matches), so it is counted, not checked again.
pub fn check<'a, 'i>(
    doc: &'a Document<'i>,
    text: &str,
    response_verified: bool,
) -> Result<Structure<'a, 'i>, String> {
    let root = envelope(doc)?;
    if doc
        .descendants()
        .any(|n| xml::is(&n, SAML, "EncryptedAssertion") || xml::is(&n, XENC, "EncryptedData"))
    {
        return Err("the Response still holds encrypted data".into());
    }
    let assertions: Vec<Node> = doc
        .descendants()
        .filter(|n| xml::is(n, SAML, "Assertion"))
        .collect();
    let assertion = match assertions[..] {
        [a] if a.parent() == Some(root) => a,
        [_] => return Err("the Assertion is not a child of the Response".into()),
        [] => return Err("the Response holds no Assertion".into()),
        _ => return Err("the Response holds more than one Assertion".into()),
    };
    assertion.attribute("ID").ok_or("the Assertion has no ID")?;
    let mut signatures = Vec::new();
    for sig in doc.descendants().filter(|n| xml::is(n, DS, "Signature")) {
        let parent = sig.parent().filter(|p| p.is_element());
        let which = match parent {
            Some(p) if p == root => Signed::Response,
            Some(p) if p == assertion => Signed::Assertion,
            _ => return Err("a Signature is neither the Response's nor the Assertion's".into()),
        };
        if signatures.iter().any(|(w, _)| *w == which) {
            return Err("an element carries more than one Signature".into());
        }
        let parent = parent.unwrap_or(root);
        signature(sig, parent.attribute("ID").unwrap_or_default())?;
        if !(which == Signed::Response && response_verified) {
            signatures.push((which, without_key_info(sig, text)));
        }
    }
    if signatures.is_empty() && !response_verified {
        return Err("neither the Response nor its Assertion is signed".into());
    }
    Ok(Structure {
        root,
        assertion,
        signatures,
        response_verified,
    })
}

fn unique_ids(doc: &Document) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for n in doc.descendants().filter(|n| n.is_element()) {
        for a in n.attributes() {
            let name = a.name();
            if (name == "ID" || name == "Id" || name == "id") && !seen.insert(a.value()) {
                return Err(format!("the ID \"{}\" appears more than once", a.value()));
            }
        }
    }
    Ok(())
}

fn status(root: Node) -> Result<(), String> {
    let code = xml::only_child(root, SAMLP, "Status")?
        .and_then(|s| xml::children(s, SAMLP, "StatusCode").next())
        .and_then(|c| c.attribute("Value"));
    match code {
        Some(SUCCESS) => Ok(()),
        Some(other) => Err(format!("the IdP did not sign the user in (status {other})")),
        None => Err("the Response has no status".into()),
    }
}

/// The rules of one `Signature` over the element with ID `parent_id`.
fn signature(sig: Node, parent_id: &str) -> Result<(), String> {
    if sig
        .descendants()
        .any(|n| xml::is(&n, DS, "Object") || xml::is(&n, DS, "Manifest"))
    {
        return Err("a Signature carries an Object or a Manifest".into());
    }
    let info = xml::only_child(sig, DS, "SignedInfo")?.ok_or("a Signature has no SignedInfo")?;
    let algorithm = |name: &'static str| algorithm_of(info, name);
    let c14n = algorithm("CanonicalizationMethod")?;
    if !ALLOWED_C14N.contains(&c14n) {
        return Err(format!("canonicalisation {c14n} is not allowed"));
    }
    let method = algorithm("SignatureMethod")?;
    if !ALLOWED_SIGNATURE.contains(&method) {
        return Err(format!(
            "signature algorithm {method} is not allowed (SHA-2 only)"
        ));
    }
    let mut references = xml::children(info, DS, "Reference");
    let reference = references.next().ok_or("SignedInfo has no Reference")?;
    if references.next().is_some() {
        return Err("SignedInfo has more than one Reference".into());
    }
    if reference.attribute("URI") != Some(&format!("#{parent_id}")) {
        return Err("the Signature does not sign the element that carries it".into());
    }
    if let Some(transforms) = xml::only_child(reference, DS, "Transforms")? {
        for t in transforms.children().filter(|n| n.is_element()) {
            let alg = t.attribute("Algorithm").unwrap_or_default();
            if !xml::is(&t, DS, "Transform") || !(alg == ENVELOPED || ALLOWED_C14N.contains(&alg)) {
                return Err(format!("transform {alg} is not allowed"));
            }
        }
    }
    let digest = xml::only_child(reference, DS, "DigestMethod")?
        .and_then(|n| n.attribute("Algorithm"))
        .ok_or("a Reference has no DigestMethod")?;
    if !ALLOWED_DIGEST.contains(&digest) {
        return Err(format!(
            "digest algorithm {digest} is not allowed (SHA-2 only)"
        ));
    }
    Ok(())
}

fn algorithm_of<'a>(info: Node<'a, '_>, name: &'static str) -> Result<&'a str, String> {
    xml::only_child(info, DS, name)?
        .and_then(|n| n.attribute("Algorithm"))
        .ok_or_else(|| format!("SignedInfo has no {name}"))
}

/// `text` without the `KeyInfo` of `sig` (the Signature is outside what it signs, so its
/// removal changes no digest; anything else signed that contains it would, which is why each
/// signature is checked on its own copy).
fn without_key_info(sig: Node, text: &str) -> String {
    match xml::children(sig, DS, "KeyInfo").next() {
        Some(k) => {
            let r = k.range();
            format!("{}{}", &text[..r.start], &text[r.end..])
        }
        None => text.to_string(),
    }
}
