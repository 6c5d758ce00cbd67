//! SAML 2.0 single sign-on, the service provider side (Web Browser SSO profile, SP-initiated):
//! [`begin`] makes the AuthnRequest that `_init` redirects to, [`finish`] turns the IdP's
//! Response posted to `_callback` into a user the realm vouches for. Recording that user and
//! starting the session are the HTTP layer's (`http::saml`), as for directory sign-in.
//!
//! What is refused and why: docs/realms.md, "SAML sign-in". In short, checked in this order:
//! strict parsing without DTDs (`xml.rs`), the structure that keeps signature wrapping out
//! (`response.rs`), the AuthnRequest named by `InResponseTo` (taken from the store: single use,
//! any replica), for an encrypted assertion the Response's signature then decryption
//! (`encrypted.rs`), the signatures by xmlsec against the metadata's certificate (`xmlsec.rs`),
//! the assertion's issuer, audience, recipient and time window (`assertion.rs`), replay of the
//! assertion (`store::sso`), then the role mappings (the caller refuses a user with no role).

mod assertion;
mod bundle;
mod encrypted;
pub mod metadata;
mod request;
mod response;
mod signing;
mod xml;
mod xmlsec;

use std::path::Path;
use std::time::Duration;

use base64::Engine;

use crate::domain::model::{RealmRef, Timestamp};
use crate::domain::realms::mapping::map_saml_roles;
use crate::domain::realms::{RealmRecord, RealmType, SamlSettings};
use crate::domain::roles::Role;
use crate::security::crypto;
use crate::security::directory::DirectoryError;
use crate::security::sealed::Sealer;
use crate::store::{SamlRequest, Store, StoreError};
use xmlsec::Signed;

/// How long the user has at the IdP before the AuthnRequest is forgotten.
pub const REQUEST_LIFETIME: chrono::Duration = chrono::Duration::minutes(10);
/// Most AuthnRequests in flight at once, all realms and replicas together (a flood guard for an
/// unauthenticated endpoint that writes).
pub const MAX_PENDING: u64 = 10_000;
/// Clock difference tolerated between the IdP and this server.
pub const SKEW: chrono::Duration = chrono::Duration::seconds(60);
/// Largest `SAMLResponse` accepted (base64 text).
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// Why a SAML step failed. Every cause is safe to log and audit: it never holds a token, a key
/// or the message itself.
#[derive(Debug, thiserror::Error)]
pub enum SamlError {
    /// No enabled SAML realm (or not the one asked for).
    #[error("no enabled SAML realm{0}")]
    NoRealm(String),
    /// The IdP's metadata could not be fetched.
    #[error("{0}")]
    Unavailable(String),
    /// The realm cannot work as configured (bad metadata, a feature not supported).
    #[error("{0}")]
    Misconfigured(String),
    /// Too many sign-ins in flight.
    #[error("too many SAML sign-ins are in progress")]
    Busy,
    /// The Response is refused: the cause says which rule it broke.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A failed fetch of a realm's URL (metadata, key bundle): the server down is `Unavailable`,
/// anything else `Misconfigured`.
impl From<DirectoryError> for SamlError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::Unavailable { cause } => SamlError::Unavailable(cause),
            DirectoryError::Misconfigured { cause } => SamlError::Misconfigured(cause),
            DirectoryError::InvalidCredentials => SamlError::Misconfigured("fetch refused".into()),
        }
    }
}

/// The enabled SAML realms, in order.
pub fn enabled(realms: &[RealmRecord]) -> Vec<&RealmRecord> {
    let mut saml: Vec<&RealmRecord> = realms
        .iter()
        .filter(|r| r.enabled && r.realm_type == RealmType::Saml)
        .collect();
    saml.sort_by_key(|r| r.position);
    saml
}

fn settings(realm: &RealmRecord) -> Result<SamlSettings, SamlError> {
    serde_json::from_value(realm.to_json())
        .map_err(|e| SamlError::Misconfigured(format!("stored settings unreadable: {e}")))
}

/// Starts a sign-in through `realm_id` (or the first enabled SAML realm): records the
/// AuthnRequest and gives the URL to redirect the browser to.
pub async fn begin(
    store: &dyn Store,
    realm_id: Option<&str>,
    state: Option<String>,
    now: Timestamp,
    within: Duration,
) -> Result<String, SamlError> {
    let realms = store.list_realms().await?;
    let candidates = enabled(&realms);
    let realm = match realm_id {
        Some(id) => candidates.into_iter().find(|r| r.id == id),
        None => candidates.into_iter().next(),
    }
    .ok_or_else(|| {
        SamlError::NoRealm(realm_id.map(|id| format!(" \"{id}\"")).unwrap_or_default())
    })?;
    let s = settings(realm)?;
    let signs = s
        .signing_saml_messages
        .as_ref()
        .is_some_and(|m| m.iter().any(|t| t == "AuthnRequest"));
    let signing_key =
        match (&s.signing_certificate_url, signs) {
            (Some(url), true) => Some(
                bundle::key("signing_certificate_url", url, &realm.id, "signing", within).await?,
            ),
            (None, true) => return Err(SamlError::Misconfigured(
                "signing_saml_messages names AuthnRequest but signing_certificate_url is not set"
                    .into(),
            )),
            (_, false) => None,
        };
    let meta = metadata::load(&s.idp.metadata_path, &s.idp.entity_id, within).await?;
    // xs:ID must start with a letter or '_'.
    let id = format!("_{}", crypto::new_id());
    let saved = store
        .begin_saml_request(
            &SamlRequest {
                id: id.clone(),
                realm_id: realm.id.clone(),
                state,
                expires_at: now + REQUEST_LIFETIME,
            },
            now,
            MAX_PENDING,
        )
        .await?;
    if !saved {
        return Err(SamlError::Busy);
    }
    let req = request::AuthnRequest {
        id: &id,
        issue_instant: now,
        destination: &meta.sso_url,
        issuer: &s.sp.entity_id,
        acs: &s.sp.acs,
        force_authn: s.force_authn.unwrap_or(false),
        nameid_format: s.nameid_format.as_deref(),
    };
    let mut query = req.query(&id);
    if let Some(key) = signing_key {
        query = signing::sign_query(&query, &key).map_err(SamlError::Misconfigured)?;
    }
    Ok(req.url_with(&query))
}

/// A user a SAML realm vouched for.
#[derive(Debug, Clone)]
pub struct SamlUser {
    pub realm: RealmRef,
    pub user_name: String,
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub dn: Option<String>,
    pub groups: Vec<String>,
    pub roles: Vec<Role>,
    /// The `state` given to `_init`.
    pub state: Option<String>,
}

/// Checks the posted `SAMLResponse` (base64) and gives the user it signs in (with no roles when
/// the realm maps none: the caller refuses them). The `Err` names the realm when the response
/// got far enough to have one.
pub async fn finish(
    store: &dyn Store,
    sealer: &Sealer,
    xmlsec1: &Path,
    saml_response: &str,
    now: Timestamp,
    within: Duration,
) -> Result<SamlUser, (Option<String>, SamlError)> {
    let refuse = |cause: String| (None, SamlError::Refused(cause));
    if saml_response.len() > MAX_RESPONSE_BYTES {
        return Err(refuse("the SAMLResponse is too large".into()));
    }
    let compact: String = saml_response.split_ascii_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| refuse("the SAMLResponse is not base64".into()))?;
    let text =
        String::from_utf8(bytes).map_err(|_| refuse("the SAMLResponse is not UTF-8".into()))?;
    let doc = xml::parse(&text).map_err(refuse)?;
    // The whole structure is checked before anything is looked up or written.
    let encrypted = response::check_encrypted(&doc, &text).map_err(refuse)?;
    if encrypted.is_none() {
        response::check(&doc, &text, false).map_err(refuse)?;
    }
    let request_id = doc
        .root_element()
        .attribute("InResponseTo")
        .ok_or_else(|| refuse("unsolicited: the Response answers no AuthnRequest".into()))?;
    // Taken (deleted) before the signature is checked: whatever happens next, this AuthnRequest
    // cannot be answered twice.
    let request = store
        .take_saml_request(request_id, now)
        .await
        .map_err(|e| (None, e.into()))?
        .ok_or_else(|| refuse("the Response answers no AuthnRequest in progress here (unknown, expired or already answered)".into()))?;
    let realm_id = Some(request.realm_id.clone());
    let fail = |e: SamlError| (realm_id.clone(), e);
    let refused = |cause: String| fail(SamlError::Refused(cause));
    let realms = store.list_realms().await.map_err(|e| fail(e.into()))?;
    let realm = enabled(&realms)
        .into_iter()
        .find(|r| r.id == request.realm_id)
        .ok_or_else(|| fail(SamlError::NoRealm(format!(" \"{}\"", request.realm_id))))?;
    let s = settings(realm).map_err(&fail)?;
    let meta = metadata::load(&s.idp.metadata_path, &s.idp.entity_id, within)
        .await
        .map_err(&fail)?;
    let certs = &meta.signing_certs;
    let (text, response_verified) = match encrypted {
        None => (text, false),
        Some(outer) => {
            if let Some(copy) = &outer {
                check_signature(xmlsec1, copy, Signed::Response, certs)
                    .await
                    .map_err(&fail)?;
            }
            let url = s.encryption_certificate_url.as_deref().ok_or_else(|| {
                refused(
                    "the assertion is encrypted and the realm has no encryption_certificate_url"
                        .into(),
                )
            })?;
            let key = encrypted::key(&realm.id, url, within)
                .await
                .map_err(&fail)?;
            let secrets = crate::security::realm_signin::secrets(realm, sealer)
                .map_err(|c| fail(SamlError::Misconfigured(c)))?;
            let password = secrets.encryption_certificate_url_password.as_deref();
            let plain = encrypted::decrypt(xmlsec1, &text, &key, password)
                .await
                .map_err(&fail)?;
            (plain, outer.is_some())
        }
    };
    let doc = xml::parse(&text).map_err(&refused)?;
    let structure = response::check(&doc, &text, response_verified).map_err(&refused)?;
    for (which, copy) in &structure.signatures {
        check_signature(xmlsec1, copy, *which, certs)
            .await
            .map_err(&fail)?;
    }
    let expected = assertion::Expected {
        idp_entity_id: &s.idp.entity_id,
        sp_entity_id: &s.sp.entity_id,
        acs: &s.sp.acs,
        request_id: &request.id,
        now,
        skew: SKEW,
    };
    let asserted = assertion::check(&structure, &expected).map_err(&refused)?;
    let replay_key = format!("{} {}", realm.id, asserted.assertion_id);
    let first = store
        .use_assertion(&replay_key, asserted.usable_until, now)
        .await
        .map_err(|e| fail(e.into()))?;
    if !first {
        return Err(refused("the Assertion was already used (replay)".into()));
    }
    user(realm, &s, &asserted, request.state).map_err(&refused)
}

/// Refuses unless the `which` signature in `copy` verifies with one of `certs`.
async fn check_signature(
    xmlsec1: &Path,
    copy: &str,
    which: Signed,
    certs: &[String],
) -> Result<(), SamlError> {
    match xmlsec::verify(xmlsec1, copy, which, certs).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(SamlError::Refused(format!(
            "the {which:?} signature does not verify with the IdP's certificate"
        ))),
        Err(xmlsec::Unchecked::Busy) => Err(SamlError::Busy),
        Err(xmlsec::Unchecked::Failed(e)) => Err(SamlError::Misconfigured(e)),
    }
}

/// The user the assertion names, with the roles the realm maps.
fn user(
    realm: &RealmRecord,
    s: &SamlSettings,
    asserted: &assertion::Asserted,
    state: Option<String>,
) -> Result<SamlUser, String> {
    let first = |name: &Option<String>| {
        name.as_deref()
            .and_then(|n| asserted.values(n).into_iter().next())
            .filter(|v| !v.is_empty())
    };
    // `nameid` is the Subject's NameID; `nameid:<format>` (Elasticsearch's form, e.g.
    // `nameid:persistent`) the NameID only when its Format ends with `:<format>`.
    let principal = match s.attributes.principal.split_once(':') {
        _ if s.attributes.principal == "nameid" => asserted.name_id.clone(),
        Some(("nameid", format)) => asserted.name_id.clone().filter(|_| {
            asserted
                .name_id_format
                .as_deref()
                .is_some_and(|f| f.ends_with(&format!(":{format}")))
        }),
        _ => asserted.values(&s.attributes.principal).into_iter().next(),
    };
    let user_name = principal.filter(|p| !p.is_empty()).ok_or_else(|| {
        format!(
            "the Assertion has no principal ({})",
            s.attributes.principal
        )
    })?;
    crate::domain::roles::UserName::parse(&user_name).map_err(|_| {
        "the principal is not a usable user name (letters, digits, '.', '_', '-', '@')".to_string()
    })?;
    let groups = asserted.values(&s.attributes.groups);
    let dn = first(&s.attributes.dn);
    let roles = map_saml_roles(
        &s.role_mappings.clone().unwrap_or_default(),
        &user_name,
        &groups,
        dn.as_deref(),
    );
    Ok(SamlUser {
        realm: RealmRef {
            id: realm.id.clone(),
            realm_type: RealmType::Saml,
        },
        full_name: first(&s.attributes.name),
        email: first(&s.attributes.mail),
        user_name,
        dn,
        groups,
        roles,
        state,
    })
}

#[cfg(test)]
mod tests;
