//! Forged SAML responses, each built from one the real IdP signed for a request the server issued
//! (a fresh sign-in per attack, so that nothing but the forgery is wrong with it), must be refused
//! with 401 `root.unauthenticated` and open no session: XML Signature Wrapping XSW1..XSW8, a
//! signature moved off the element it signs, an unsigned assertion beside the signed one, and a
//! comment splitting the signed user name. The protocol checks (audience, recipient, validity,
//! replay, unsolicited responses, the key, DTDs) are in `saml_attacks_protocol.rs`.

use serde_json::json;

use crate::helpers::{Auth, Reply};
use crate::saml_flow::{token_of, SamlFixture};
use crate::saml_idp::{decode, encode, IdpOptions};
use crate::saml_xml::{self as x, EVIL, VICTIM};

/// Asserts that the server refused `name` as it must.
#[track_caller]
pub fn assert_refused(name: &str, reply: &Reply) {
    let code = reply.body["errors"][0]["code"].as_str().unwrap_or_default();
    assert!(
        reply.status == 401 && code == "root.unauthenticated",
        "{name}: expected 401 root.unauthenticated, got {} {} (location: {:?})",
        reply.status,
        reply.body,
        reply.headers.get("location")
    );
}

/// Signs in afresh, forges the response with `forge` and posts it: refused, and no session.
pub async fn refuses(f: &SamlFixture, name: &str, forge: impl Fn(&str) -> String) {
    let (response, relay) = f.signed_response().await;
    let forged = forge(&decode(&response));
    let reply = f.callback(&encode(&forged), relay.as_deref()).await;
    assert_refused(name, &reply);
    assert_eq!(f.sessions().await, 0, "{name} opened a session");
}

/// The user is absent from the server (no external user was recorded for it).
pub async fn assert_no_user(f: &SamlFixture, name: &str) {
    let reply = f.app.get(&format!("/users/{name}"), &Auth::admin()).await;
    assert_eq!(reply.status, 404, "user {name} exists: {}", reply.body);
}

async fn assert_native_admin(f: &SamlFixture) {
    assert_eq!(
        f.app.user("admin").await["security"]["security_realm"],
        json!({"type": "native", "id": "native"})
    );
}

#[tokio::test]
async fn signature_wrapping_is_refused() {
    let f = SamlFixture::start(IdpOptions::default()).await;

    // The forms that must pass, so that the refusals below are the forgeries' doing: the response
    // as signed (Response and Assertion), and with only its Assertion signed.
    let (response, relay) = f.signed_response().await;
    let xml = decode(&response);
    assert!(
        x::response_signature(&xml).is_some() && xml.contains(&format!(">{VICTIM}<")),
        "the IdP signs the Response and the Assertion for {VICTIM}: {xml}"
    );
    let (response2, relay2) = f.signed_response().await;
    let only_assertion = x::without_response_signature(&decode(&response2));
    for (what, response, relay) in [
        ("the signed response", response.clone(), relay),
        (
            "the response with only its assertion signed",
            encode(&only_assertion),
            relay2,
        ),
    ] {
        let reply = f.callback(&response, relay.as_deref()).await;
        assert_eq!(reply.status, 302, "{what} refused: {}", reply.body);
        let (token, _) = token_of(&reply);
        f.app
            .post("/users/auth/_logout", &Auth::Bearer(token), json!({}))
            .await
            .expect(200);
    }
    assert_eq!(f.sessions().await, 0, "sign-out ends the sessions");

    for n in 1..=8u8 {
        refuses(&f, &format!("XSW{n}"), |signed| x::xsw(n, signed)).await;
    }

    // The Assertion's signature moved up to the Response: it still verifies (its Reference names
    // the Assertion, which is unchanged), but it signs neither its parent nor leaves the
    // Assertion signed; the Response's own fields (Destination, InResponseTo) go unsigned.
    refuses(
        &f,
        "signature moved to the Response",
        x::signature_moved_to_response,
    )
    .await;
    // The Response's signature moved into the Assertion (in place of the Assertion's own).
    refuses(
        &f,
        "Response signature moved into the Assertion",
        |signed| {
            let rs = x::response_signature(signed).unwrap();
            let moved = signed[rs.clone()].to_string();
            let doc = x::cut(signed, rs);
            let sig = x::assertion_signature(&doc);
            format!("{}{moved}{}", &doc[..sig.start], &doc[sig.end..])
        },
    )
    .await;

    // An unsigned evil assertion beside the signed one (after it: XSW3 puts it before).
    refuses(&f, "unsigned assertion after the signed one", |signed| {
        let doc = x::without_response_signature(signed);
        let a = x::assertion(&doc);
        let copy = x::evil(&doc[a.clone()]);
        let sig = x::element(&copy, "Signature", 0);
        let copy = x::set_attribute(&x::cut(&copy, sig), 0, "ID", "_unsigned_assertion");
        x::insert(&doc, a.end, &copy)
    })
    .await;
    // The signed response's assertion content changed (the plainest forgery).
    refuses(&f, "assertion edited after signing", x::evil).await;
    refuses(
        &f,
        "assertion edited, response signature stripped",
        |signed| x::evil(&x::without_response_signature(signed)),
    )
    .await;
    // Both signatures stripped.
    refuses(&f, "unsigned response", |signed| {
        let doc = x::without_response_signature(signed);
        let sig = x::assertion_signature(&doc);
        x::cut(&doc, sig)
    })
    .await;

    assert_no_user(&f, EVIL).await;
}

#[tokio::test]
async fn a_comment_inside_the_signed_user_name_is_refused() {
    // The IdP signs `admin@evil`; a comment after `admin` leaves the signature valid (canonical
    // XML drops comments) but a reader taking the first text node would see `admin`.
    let signed_name = "admin@evil";
    let f = SamlFixture::start(IdpOptions {
        user: Some(signed_name.into()),
        ..IdpOptions::default()
    })
    .await;
    let nameid = |signed: &str| {
        let n = x::element(signed, "saml:NameID", 0);
        let commented = x::comment_in_name(&signed[n.clone()], signed_name, "admin".len());
        format!("{}{commented}{}", &signed[..n.start], &signed[n.end..])
    };
    let principal = |signed: &str| {
        let a = x::element(signed, "saml:AttributeStatement", 0);
        let commented = x::comment_in_name(&signed[a.clone()], signed_name, "admin".len());
        format!("{}{commented}{}", &signed[..a.start], &signed[a.end..])
    };
    refuses(&f, "comment in the NameID", nameid).await;
    refuses(&f, "comment in the principal attribute", principal).await;
    refuses(&f, "comment in both", |s| principal(&nameid(s))).await;
    // Also with only the Assertion signed.
    refuses(&f, "comment in both, assertion-only signature", |s| {
        principal(&nameid(&x::without_response_signature(s)))
    })
    .await;
    // `admin` is the built-in administrator: still the native one, never taken over by SAML.
    assert_native_admin(&f).await;
    assert_no_user(&f, signed_name).await;

    // The same name without the comment signs in as itself.
    let (response, relay) = f.signed_response().await;
    let (token, _) = token_of(&f.callback(&response, relay.as_deref()).await);
    let me = f.app.get("/user", &Auth::Bearer(token)).await.expect(200);
    assert_eq!(me["user_name"], signed_name);
    assert_native_admin(&f).await;
}

/// The forgeries are good ones: xmlsec1 alone (what a verifier that checks "a signature" and
/// reads another element relies on) still finds their signature valid, so their refusal above is
/// the server's own checks at work. Needs the IdP only, not the server's SAML side.
#[tokio::test]
async fn the_forgeries_keep_a_valid_signature() {
    let idp = crate::saml_idp::SamlIdp::start(
        "http://ece.test/acs",
        crate::saml_flow::SP_ENTITY_ID,
        IdpOptions::default(),
    );
    let client = reqwest::Client::new();
    let url = idp.authn_request_url(
        "_req1",
        "http://ece.test/acs",
        crate::saml_flow::SP_ENTITY_ID,
    );
    let (response, _) = idp.sign_in(&client, &url).await;
    let signed = decode(&response);
    let cert = idp.dir.join("idp-cert.pem");
    assert!(x::xmlsec_verifies(&signed, &cert), "{signed}");
    assert!(
        !x::xmlsec_verifies(&x::evil(&signed), &cert),
        "an edit breaks the signature"
    );
    let verifying: Vec<u8> = (1..=8u8)
        .filter(|&n| {
            let forged = x::xsw(n, &signed);
            assert!(forged.contains(EVIL), "XSW{n} carries the attacker's name");
            x::xmlsec_verifies(&forged, &cert)
        })
        .collect();
    // xmlsec1 itself refuses repeated IDs (XSW1, 2, 7 and 8 repeat the signed element's) and a
    // signature holding what it signs (XSW6).
    assert_eq!(verifying, [3, 4, 5]);
    for (what, forged) in [
        (
            "signature moved to the Response",
            x::signature_moved_to_response(&signed),
        ),
        (
            "comments in the user name",
            x::comment_in_name(&signed, VICTIM, 4),
        ),
        (
            "unused DTD",
            format!("<!DOCTYPE samlp:Response [<!ENTITY a \"b\">]>{signed}"),
        ),
    ] {
        assert!(x::xmlsec_verifies(&forged, &cert), "{what}: {forged}");
    }
}
