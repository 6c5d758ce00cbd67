//! The checks of the one Assertion of a Response whose structure and signature passed
//! (`response.rs`), and the values read from it. Every value comes from the Assertion (signed
//! itself, or inside a signed Response), never from elsewhere in the message.
//!
//! - `Issuer` is `idp.entity_id` (the Response's, when present, too).
//! - The Response's `Destination`, when present, is `sp.acs`.
//! - A bearer `SubjectConfirmation` whose data names `Recipient` = `sp.acs`, is not expired, and
//!   names the AuthnRequest in `InResponseTo` (required when only the Assertion is signed: then
//!   the Response's own `InResponseTo` is not covered by any signature).
//! - `Conditions`: `NotBefore` / `NotOnOrAfter` hold at `now` within `skew`, and every
//!   `AudienceRestriction` names `sp.entity_id`.

use chrono::{DateTime, Utc};
use roxmltree::Node;

use super::response::Structure;
use super::xml::{self, SAML};
use crate::domain::model::Timestamp;

const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// What the assertion must match.
pub struct Expected<'a> {
    pub idp_entity_id: &'a str,
    pub sp_entity_id: &'a str,
    pub acs: &'a str,
    /// The AuthnRequest this response answers.
    pub request_id: &'a str,
    pub now: Timestamp,
    pub skew: chrono::Duration,
}

/// What a valid assertion says.
#[derive(Debug, Clone, PartialEq)]
pub struct Asserted {
    pub assertion_id: String,
    pub name_id: Option<String>,
    /// The NameID's `Format`, when it has one.
    pub name_id_format: Option<String>,
    /// Each attribute's `Name`, `FriendlyName` and values.
    pub attributes: Vec<(String, Option<String>, Vec<String>)>,
    /// Until when the assertion could be presented (for replay detection).
    pub usable_until: Timestamp,
}

impl Asserted {
    /// The values of the attributes called `name` (by `Name` or `FriendlyName`), all of them:
    /// some IdPs send a multi-valued attribute as several `Attribute` elements of one name.
    pub fn values(&self, name: &str) -> Vec<String> {
        self.attributes
            .iter()
            .filter(|(n, f, _)| n == name || f.as_deref() == Some(name))
            .flat_map(|(_, _, v)| v.iter().cloned())
            .collect()
    }
}

pub fn check(s: &Structure, want: &Expected) -> Result<Asserted, String> {
    let a = s.assertion;
    let issuer = |n: Node| -> Result<Option<String>, String> {
        xml::only_child(n, SAML, "Issuer")?
            .map(xml::text_only)
            .transpose()
    };
    if issuer(a)?.as_deref() != Some(want.idp_entity_id) {
        return Err("the Assertion's Issuer is not idp.entity_id".into());
    }
    if issuer(s.root)?.is_some_and(|i| i != want.idp_entity_id) {
        return Err("the Response's Issuer is not idp.entity_id".into());
    }
    if s.root
        .attribute("Destination")
        .is_some_and(|d| d != want.acs)
    {
        return Err("the Response's Destination is not sp.acs".into());
    }
    if s.root.attribute("InResponseTo") != Some(want.request_id) {
        return Err("the Response does not answer the AuthnRequest it names".into());
    }
    let subject = xml::only_child(a, SAML, "Subject")?.ok_or("the Assertion has no Subject")?;
    let confirmed = xml::children(subject, SAML, "SubjectConfirmation")
        .filter(|c| c.attribute("Method") == Some(BEARER))
        .filter_map(|c| xml::children(c, SAML, "SubjectConfirmationData").next())
        .map(|d| confirmation(d, want, s.response_signed()))
        .collect::<Vec<_>>();
    let until = match confirmed.iter().find_map(|r| r.as_ref().ok()) {
        Some(until) => *until,
        None => {
            return Err(confirmed
                .into_iter()
                .find_map(Result::err)
                .unwrap_or_else(|| "the Subject has no bearer SubjectConfirmation".into()))
        }
    };
    let conditions =
        xml::only_child(a, SAML, "Conditions")?.ok_or("the Assertion has no Conditions")?;
    window(conditions, want)?;
    let restrictions: Vec<Node> = xml::children(conditions, SAML, "AudienceRestriction").collect();
    if restrictions.is_empty() {
        return Err("the Assertion names no Audience".into());
    }
    for r in restrictions {
        let audiences = xml::children(r, SAML, "Audience")
            .map(xml::text_only)
            .collect::<Result<Vec<_>, _>>()?;
        if !audiences.iter().any(|x| x == want.sp_entity_id) {
            return Err("the Assertion is meant for another audience than sp.entity_id".into());
        }
    }
    let conditions_until = time(conditions, "NotOnOrAfter")?;
    let name_id_node = xml::only_child(subject, SAML, "NameID")?;
    let name_id = name_id_node.map(xml::text_only).transpose()?;
    let name_id_format = name_id_node
        .and_then(|n| n.attribute("Format"))
        .map(str::to_string);
    let mut attributes = Vec::new();
    for statement in xml::children(a, SAML, "AttributeStatement") {
        for attr in xml::children(statement, SAML, "Attribute") {
            let values = xml::children(attr, SAML, "AttributeValue")
                .map(xml::text_only)
                .collect::<Result<Vec<_>, _>>()?;
            attributes.push((
                attr.attribute("Name").unwrap_or_default().to_string(),
                attr.attribute("FriendlyName").map(str::to_string),
                values,
            ));
        }
    }
    let cap = want.now + chrono::Duration::days(1);
    let usable_until = conditions_until.map_or(until, |c| c.max(until)) + want.skew;
    Ok(Asserted {
        assertion_id: a.attribute("ID").unwrap_or_default().to_string(),
        name_id,
        name_id_format,
        attributes,
        usable_until: usable_until.min(cap),
    })
}

/// A bearer `SubjectConfirmationData`: recipient, request and expiry; gives its expiry.
fn confirmation(d: Node, want: &Expected, response_signed: bool) -> Result<Timestamp, String> {
    if d.attribute("Recipient") != Some(want.acs) {
        return Err("the SubjectConfirmation's Recipient is not sp.acs".into());
    }
    match d.attribute("InResponseTo") {
        Some(id) if id == want.request_id => {}
        Some(_) => return Err("the SubjectConfirmation answers another AuthnRequest".into()),
        None if response_signed => {}
        None => {
            return Err(
                "only the Assertion is signed and its SubjectConfirmation names no AuthnRequest"
                    .into(),
            )
        }
    }
    if time(d, "NotBefore")?.is_some_and(|t| t > want.now + want.skew) {
        return Err("the SubjectConfirmation is not valid yet".into());
    }
    match time(d, "NotOnOrAfter")? {
        Some(t) if t + want.skew > want.now => Ok(t),
        Some(_) => Err("the SubjectConfirmation has expired".into()),
        None => Err("the SubjectConfirmation has no NotOnOrAfter".into()),
    }
}

fn window(conditions: Node, want: &Expected) -> Result<(), String> {
    if time(conditions, "NotBefore")?.is_some_and(|t| t > want.now + want.skew) {
        return Err("the Assertion is not valid yet (NotBefore)".into());
    }
    if time(conditions, "NotOnOrAfter")?.is_some_and(|t| t + want.skew <= want.now) {
        return Err("the Assertion has expired (NotOnOrAfter)".into());
    }
    Ok(())
}

fn time(n: Node, attr: &str) -> Result<Option<Timestamp>, String> {
    n.attribute(attr)
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| format!("{attr} is not a date-time: {v}"))
        })
        .transpose()
}
