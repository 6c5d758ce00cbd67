//! The small XML toolkit of the SAML code: one strict parser for every document that comes from
//! outside (no DTD, hence no entities, no external references, bounded size and node count), the
//! SAML namespaces, and element helpers.
//!
//! roxmltree is a read-only, pure-Rust parser that refuses DTDs by default: an XML bomb or an
//! external entity never gets as far as being expanded. It is used to read and check the
//! structure; signatures are checked by xmlsec (`xmlsec.rs`) on the same bytes.

use roxmltree::{Document, Node, ParsingOptions};

pub const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";

/// Most nodes a SAML document may have (a real response has a few hundred).
const MAX_NODES: u32 = 20_000;

/// Parses `text` strictly: no DTD, at most [`MAX_NODES`] nodes.
pub fn parse(text: &str) -> Result<Document<'_>, String> {
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
    };
    Document::parse_with_options(text, options).map_err(|e| format!("not well-formed XML ({e})"))
}

/// Whether `n` is the element `{ns}name`.
pub fn is(n: &Node, ns: &str, name: &str) -> bool {
    n.is_element() && n.tag_name().name() == name && n.tag_name().namespace() == Some(ns)
}

/// The child elements `{ns}name` of `n`.
pub fn children<'a, 'i: 'a>(
    n: Node<'a, 'i>,
    ns: &'a str,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    n.children().filter(move |c| is(c, ns, name))
}

/// The one child `{ns}name` of `n`, or `None` when there is none; more than one is an error.
pub fn only_child<'a, 'i: 'a>(
    n: Node<'a, 'i>,
    ns: &'a str,
    name: &'a str,
) -> Result<Option<Node<'a, 'i>>, String> {
    let mut found = children(n, ns, name);
    let first = found.next();
    if found.next().is_some() {
        return Err(format!("more than one {name} in {}", n.tag_name().name()));
    }
    Ok(first)
}

/// The text of an element that must hold text only: a comment, processing instruction or child
/// element inside it is refused, not skipped (`admin<!---->@evil` must not read as `admin`, nor
/// as `admin@evil` when the signed form is a different string).
pub fn text_only(n: Node) -> Result<String, String> {
    let mut text = String::new();
    for c in n.children() {
        if c.is_text() {
            text.push_str(c.text().unwrap_or_default());
        } else {
            return Err(format!(
                "{} holds something other than text (a comment, an element or an instruction)",
                n.tag_name().name()
            ));
        }
    }
    Ok(text.trim().to_string())
}

/// Escapes `s` for an XML attribute value or text.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtds_and_entities_are_refused() {
        for bomb in [
            "<!DOCTYPE a [<!ENTITY x \"xx\"><!ENTITY y \"&x;&x;\">]><a>&y;</a>",
            "<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>",
            "<!DOCTYPE a SYSTEM \"http://127.0.0.1:1/x.dtd\"><a/>",
        ] {
            assert!(parse(bomb).is_err(), "{bomb}");
        }
    }

    #[test]
    fn text_with_a_comment_is_refused() {
        let doc = parse("<n>admin<!---->@evil</n>").unwrap();
        assert!(text_only(doc.root_element()).is_err());
        let doc = parse("<n> admin@example.com </n>").unwrap();
        assert_eq!(text_only(doc.root_element()).unwrap(), "admin@example.com");
    }
}
