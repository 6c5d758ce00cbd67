//! SAML responses that are properly signed but must still be refused (401 `root.unauthenticated`,
//! no session): meant for another SP (audience) or another ACS (recipient), from another issuer
//! or signed with another key, expired or not yet valid, answering a request the server never
//! made, replayed, or carrying a DTD (entities, external entities and external subsets: refused
//! and never fetched). Each comes from the real IdP; where one IdP cannot mint it, a second
//! launcher does (same key and entity id, but another audience, clock or key).

use std::time::Duration;

use crate::helpers::Auth;
use crate::saml_attacks::{assert_no_user, assert_refused, refuses};
use crate::saml_flow::{acs, token_of, SamlFixture, SP_ENTITY_ID};
use crate::saml_idp::{authn_request_of, decode, IdpOptions, SamlIdp};
use crate::saml_xml::VICTIM;

/// A second IdP for the fixture's server: the fixture IdP's key and entity id unless `opts`
/// says otherwise.
fn sibling(f: &SamlFixture, audience: &str, opts: IdpOptions) -> SamlIdp {
    let opts = IdpOptions {
        issuer: opts.issuer.or(Some(f.idp.entity_id.clone())),
        key_dir: opts.key_dir.or(Some(f.idp.dir.clone())),
        ..opts
    };
    SamlIdp::start(&acs(&f.app), audience, opts)
}

/// A server-issued request answered by `idp` instead of the fixture's IdP, posted back.
async fn answered_by(f: &SamlFixture, idp: &SamlIdp) -> crate::helpers::Reply {
    let location = f.init("?state=s").await;
    let (response, relay) = idp.sign_in(&f.app.client, &idp.retarget(&location)).await;
    f.callback(&response, relay.as_deref()).await
}

#[tokio::test]
async fn responses_meant_for_someone_else_are_refused() {
    let f = SamlFixture::start(IdpOptions::default()).await;

    let other_sp = sibling(&f, "http://other.test/sp", IdpOptions::default());
    assert_refused("audience of another SP", &answered_by(&f, &other_sp).await);
    drop(other_sp);

    let other_dir = tempfile::tempdir().unwrap();
    let other_key = sibling(
        &f,
        SP_ENTITY_ID,
        IdpOptions {
            key_dir: Some(other_dir.path().to_path_buf()),
            ..IdpOptions::default()
        },
    );
    assert_refused(
        "signed with another key",
        &answered_by(&f, &other_key).await,
    );
    drop(other_key);

    let other_issuer = sibling(
        &f,
        SP_ENTITY_ID,
        IdpOptions {
            issuer: Some("urn:ece-test:another-idp".into()),
            ..IdpOptions::default()
        },
    );
    assert_refused("another issuer", &answered_by(&f, &other_issuer).await);
    drop(other_issuer);

    // The server's own AuthnRequest, its ACS changed on the way to the IdP: the signed response
    // names another Destination and Recipient.
    let location = f.init("?state=s").await;
    let (request, relay) = authn_request_of(&location);
    let elsewhere = "http://127.0.0.1:9/elsewhere/_callback";
    let changed = request.replace(
        &format!(r#"AssertionConsumerServiceURL="{}""#, acs(&f.app)),
        &format!(r#"AssertionConsumerServiceURL="{elsewhere}""#),
    );
    assert_ne!(
        changed, request,
        "the AuthnRequest names the ACS: {request}"
    );
    let post = f
        .idp
        .sign_in_form(
            &f.app.client,
            &f.idp.redirect_url(&changed, relay.as_deref()),
        )
        .await;
    assert_eq!(post.action, elsewhere);
    let reply = f
        .callback(&post.saml_response, post.relay_state.as_deref())
        .await;
    assert_refused("another recipient", &reply);

    // Unsolicited: the IdP answers an AuthnRequest the server never issued (IdP-initiated or an
    // attacker's own request), with everything else right.
    let url = f
        .idp
        .authn_request_url("_never_issued_by_the_server", &acs(&f.app), SP_ENTITY_ID);
    let (response, relay) = f.idp.sign_in(&f.app.client, &url).await;
    assert!(decode(&response).contains(r#"InResponseTo="_never_issued_by_the_server""#));
    assert_refused(
        "unsolicited response",
        &f.callback(&response, relay.as_deref()).await,
    );
    let (response, _) = f.idp.sign_in(&f.app.client, &url).await;
    assert_refused(
        "unsolicited response without RelayState",
        &f.callback(&response, None).await,
    );

    assert_eq!(f.sessions().await, 0);
    assert_no_user(&f, VICTIM).await;
}

#[tokio::test]
async fn assertions_outside_their_validity_window_are_refused() {
    let f = SamlFixture::start(IdpOptions::default()).await;
    // An IdP two hours behind signs assertions that expired an hour ago (its lifetime is one
    // hour); one ten minutes ahead signs assertions not valid for ten minutes.
    for (what, offset) in [("expired", -7200), ("not yet valid", 600)] {
        let idp = sibling(
            &f,
            SP_ENTITY_ID,
            IdpOptions {
                clock_offset_secs: offset,
                ..IdpOptions::default()
            },
        );
        assert_refused(what, &answered_by(&f, &idp).await);
    }
    assert_eq!(f.sessions().await, 0);
    // Within the allowed skew (60 s): accepted.
    let idp = sibling(
        &f,
        SP_ENTITY_ID,
        IdpOptions {
            clock_offset_secs: 20,
            ..IdpOptions::default()
        },
    );
    token_of(&answered_by(&f, &idp).await);
    assert_eq!(f.sessions().await, 1);
}

#[tokio::test]
async fn a_response_is_accepted_once() {
    let f = SamlFixture::start(IdpOptions::default()).await;
    let (response, relay) = f.signed_response().await;
    let (token, _) = token_of(&f.callback(&response, relay.as_deref()).await);
    f.app.get("/user", &Auth::Bearer(token)).await.expect(200);
    for attempt in ["replayed", "replayed again", "replayed without RelayState"] {
        let relay = if attempt.ends_with("RelayState") {
            None
        } else {
            relay.as_deref()
        };
        assert_refused(attempt, &f.callback(&response, relay).await);
    }
    assert_eq!(f.sessions().await, 1);
}

/// A forgery of a signed response's XML.
type Forge<'a> = Box<dyn Fn(&str) -> String + 'a>;

#[tokio::test]
async fn documents_with_a_dtd_are_refused_and_nothing_is_fetched() {
    let f = SamlFixture::start(IdpOptions::default()).await;
    let probe = format!("{}/xxe-probe", f.idp.base);
    let bomb = "<!DOCTYPE samlp:Response [<!ENTITY l0 \"lol\">\
        <!ENTITY l1 \"&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;&l0;\">\
        <!ENTITY l2 \"&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;\">\
        <!ENTITY l3 \"&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;\">\
        <!ENTITY l4 \"&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;\">\
        <!ENTITY l5 \"&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;\">\
        <!ENTITY l6 \"&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;\">\
        <!ENTITY l7 \"&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;\">\
        <!ENTITY l8 \"&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;\">\
        <!ENTITY l9 \"&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;\">]>";
    let in_name =
        |doc: &str, entity: &str| doc.replace(&format!(">{VICTIM}<"), &format!(">&{entity};<"));
    let cases: Vec<(&str, Forge)> = vec![
        // Declarations only, never used: the signature still verifies; a DTD is refused as such.
        (
            "unused entity declarations",
            Box::new(move |s: &str| format!("{bomb}{s}")),
        ),
        (
            "billion laughs",
            Box::new(move |s: &str| format!("{bomb}{}", in_name(s, "l9"))),
        ),
        (
            "external entity",
            Box::new({
                let probe = probe.clone();
                move |s: &str| {
                    let dtd = format!(
                        "<!DOCTYPE samlp:Response [<!ENTITY x SYSTEM \"{probe}/entity\">]>"
                    );
                    format!("{dtd}{}", in_name(s, "x"))
                }
            }),
        ),
        (
            "local file entity",
            Box::new(|s: &str| {
                let dtd = "<!DOCTYPE samlp:Response [<!ENTITY x SYSTEM \"file:///etc/hostname\">]>";
                format!("{dtd}{}", in_name(s, "x"))
            }),
        ),
        (
            "external subset",
            Box::new({
                let probe = probe.clone();
                move |s: &str| format!("<!DOCTYPE samlp:Response SYSTEM \"{probe}/subset\">{s}")
            }),
        ),
        (
            "external parameter entity",
            Box::new({
                let probe = probe.clone();
                move |s: &str| {
                    format!(
                        "<!DOCTYPE samlp:Response [<!ENTITY % p SYSTEM \"{probe}/param\"> %p;]>{s}"
                    )
                }
            }),
        ),
        (
            "DTD after an XML declaration",
            Box::new(move |s: &str| {
                format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{bomb}{s}")
            }),
        ),
    ];
    for (name, forge) in &cases {
        // Each within seconds: nothing is expanded.
        tokio::time::timeout(Duration::from_secs(20), refuses(&f, name, forge))
            .await
            .unwrap_or_else(|_| panic!("{name}: no answer within 20 s"));
    }
    // The server fetched nothing from the IdP's host (saml-idp logs every request it serves).
    let log = f.idp.log();
    assert!(
        !log.contains("/xxe-probe"),
        "the server fetched an entity or DTD:\n{log}"
    );
    assert_no_user(&f, "lol").await;
    // A response without a DTD passes: the unused declarations were all that was wrong above.
    let (response, relay) = f.signed_response().await;
    token_of(&f.callback(&response, relay.as_deref()).await);
}
