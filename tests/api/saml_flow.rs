//! SAML sign-in through a real identity provider (saml-idp, `saml_idp.rs`): a SAML realm made
//! over the API points at the IdP's metadata; the client follows `_init` to the IdP, signs in
//! there and posts the IdP's form to `_callback`, which redirects to `/sso/token#TOKEN` (the
//! bearer token of a new session). Also the fixture the attack tests (`saml_attacks.rs`) use.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, Auth, Reply, TestApp};
use crate::saml_idp::{IdpOptions, SamlIdp};

/// The SP entity id (audience) of the realm under test.
pub const SP_ENTITY_ID: &str = "http://ece.test/sp";
/// The realm under test.
pub const REALM_ID: &str = "test-idp";
/// The IdP group mapped to `ece_platform_admin` (the IdP's user is in it unless told otherwise).
pub const ADMIN_GROUP: &str = "ece-admins";

const REALMS: &str = "/platform/configuration/security/realms";

/// A server with a SAML realm trusting a running IdP.
pub struct SamlFixture {
    pub app: TestApp,
    pub idp: SamlIdp,
}

/// The realm document for `idp`, with `sp_entity_id` as audience and the ACS of `app`.
pub fn realm_doc(app: &TestApp, idp: &SamlIdp, id: &str, sp_entity_id: &str) -> Value {
    let a = &idp.attributes;
    json!({
        "id": id,
        "name": format!("SAML {id}"),
        "idp": {"entity_id": idp.entity_id, "metadata_path": idp.metadata_url},
        "sp": {"entity_id": sp_entity_id, "acs": acs(app), "logout": format!("{}/logout", app.base)},
        "attributes": {"principal": a.principal, "groups": a.groups, "name": a.name, "mail": a.mail},
        "role_mappings": {"default_roles": [], "rules": [
            {"type": "groups", "value": ADMIN_GROUP, "roles": ["ece_platform_admin"]}]}
    })
}

/// The server's assertion consumer service URL.
pub fn acs(app: &TestApp) -> String {
    format!("{}/users/auth/saml/_callback", app.base)
}

impl SamlFixture {
    /// A fresh server, an IdP started with `opts` and the realm [`REALM_ID`] trusting it.
    pub async fn start(opts: IdpOptions) -> SamlFixture {
        let app = spawn_app().await;
        let idp = SamlIdp::start(&acs(&app), SP_ENTITY_ID, opts);
        app.post(
            &format!("{REALMS}/saml"),
            &Auth::admin(),
            realm_doc(&app, &idp, REALM_ID, SP_ENTITY_ID),
        )
        .await
        .expect(201);
        SamlFixture { app, idp }
    }

    /// `GET _init` (302): where the server sends the browser.
    pub async fn init(&self, query: &str) -> String {
        let reply = self
            .app
            .get(&format!("/users/auth/saml/_init{query}"), &Auth::None)
            .await;
        assert_eq!(reply.status, 302, "_init: {}", reply.body);
        reply.headers["location"].to_str().unwrap().to_string()
    }

    /// A sign-in the server asked for (`_init`, then the IdP): the response and RelayState.
    pub async fn signed_response(&self) -> (String, Option<String>) {
        let location = self.init("?state=attack").await;
        self.idp.sign_in(&self.app.client, &location).await
    }

    /// `POST _callback` with this SAMLResponse and RelayState, form-encoded as a browser does.
    pub async fn callback(&self, saml_response: &str, relay_state: Option<&str>) -> Reply {
        let mut body = format!("SAMLResponse={}", urlencoding::encode(saml_response));
        if let Some(r) = relay_state {
            body.push_str(&format!("&RelayState={}", urlencoding::encode(r)));
        }
        self.app
            .send_raw(
                "POST",
                "/users/auth/saml/_callback",
                &Auth::None,
                "application/x-www-form-urlencoded",
                body.into_bytes(),
            )
            .await
    }

    /// Sessions open on the server now.
    pub async fn sessions(&self) -> i64 {
        let now = self.app.settings.clock.now();
        self.app.store.count_active_sessions(now).await.unwrap()
    }
}

/// The token and state of a successful `_callback`'s `Location: /sso/token#TOKEN[?state=S]`.
#[track_caller]
pub fn token_of(reply: &Reply) -> (String, Option<String>) {
    assert_eq!(reply.status, 302, "_callback refused: {}", reply.body);
    let location = reply.headers["location"].to_str().unwrap();
    let fragment = location
        .strip_prefix("/sso/token#")
        .unwrap_or_else(|| panic!("unexpected redirect {location}"));
    match fragment.split_once("?state=") {
        Some((token, state)) => (
            token.to_string(),
            Some(urlencoding::decode(state).unwrap().into_owned()),
        ),
        None => (fragment.to_string(), None),
    }
}

#[tokio::test]
async fn a_user_signs_in_through_the_identity_provider() {
    let f = SamlFixture::start(IdpOptions {
        user: Some("jane.saml".into()),
        groups: Some(vec!["staff".into(), ADMIN_GROUP.into()]),
        ..IdpOptions::default()
    })
    .await;
    let app = &f.app;
    assert_eq!(f.idp.base, format!("http://127.0.0.1:{}", f.idp.port));

    let methods = app
        .get("/users/auth/methods", &Auth::None)
        .await
        .expect(200);
    assert_eq!(methods["password"], true);
    assert_eq!(methods["saml"], true);
    assert_eq!(
        methods["sso_methods"],
        json!([{"name": format!("SAML {REALM_ID}"), "sso_type": "saml",
                "url": format!("/api/v1/users/auth/saml/_init?realm_id={REALM_ID}")}])
    );

    // The server sends the browser to the IdP's HTTP-Redirect endpoint with an AuthnRequest.
    let location = f.init("?state=xyz").await;
    assert!(
        location.starts_with(&format!("{}?", f.idp.sso_url)),
        "{location}"
    );
    let query = crate::saml_idp::query_of(&location);
    let names: Vec<&str> = query.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        names.contains(&"SAMLRequest") && names.contains(&"RelayState"),
        "{location}"
    );

    let (request, _) = crate::saml_idp::authn_request_of(&location);
    for part in [
        format!(r#"AssertionConsumerServiceURL="{}""#, acs(app)),
        format!(r#"Destination="{}""#, f.idp.sso_url),
        format!(">{SP_ENTITY_ID}</"),
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST".to_string(),
    ] {
        assert!(
            request.contains(&part),
            "{part} not in the AuthnRequest {request}"
        );
    }

    // The IdP answers for the server's ACS, with the server's RelayState.
    let server_relay = query
        .iter()
        .find(|(k, _)| k == "RelayState")
        .unwrap()
        .1
        .clone();
    let post = f.idp.sign_in_form(&app.client, &location).await;
    assert_eq!(post.action, acs(app));
    assert_eq!(post.relay_state.as_deref(), Some(server_relay.as_str()));
    let xml = crate::saml_idp::decode(&post.saml_response);
    assert!(
        xml.contains(&format!("<saml:Audience>{SP_ENTITY_ID}</saml:Audience>")),
        "{xml}"
    );

    assert_eq!(f.sessions().await, 0);
    let reply = f
        .callback(&post.saml_response, post.relay_state.as_deref())
        .await;
    let (token, state) = token_of(&reply);
    assert_eq!(state.as_deref(), Some("xyz"));
    assert_eq!(f.sessions().await, 1);

    let me = app
        .get("/user", &Auth::Bearer(token.clone()))
        .await
        .expect(200);
    assert_eq!(me["user_name"], "jane.saml");
    assert_eq!(
        me["security"]["security_realm"],
        json!({"id": REALM_ID, "type": "saml"})
    );
    let recorded = app.user("jane.saml").await;
    assert_eq!(
        recorded["security"]["security_realm"],
        json!({"id": REALM_ID, "type": "saml"})
    );
    assert_eq!(recorded["security"]["roles"], json!(["ece_platform_admin"]));
    // The token is a session of an administrator.
    app.get("/users", &Auth::Bearer(token)).await.expect(200);
}

#[tokio::test]
async fn without_state_the_token_comes_alone_and_init_needs_a_realm() {
    let app = spawn_app().await;
    // No SAML realm yet: nothing to sign in with.
    app.get("/users/auth/saml/_init?state=s", &Auth::None)
        .await
        .expect_error(501, "authc.no_authentication_cluster");
    let methods = app
        .get("/users/auth/methods", &Auth::None)
        .await
        .expect(200);
    assert_eq!(
        (&methods["saml"], &methods["sso_methods"]),
        (&json!(false), &json!([]))
    );

    let idp = SamlIdp::start(&acs(&app), SP_ENTITY_ID, IdpOptions::default());
    app.post(
        &format!("{REALMS}/saml"),
        &Auth::admin(),
        realm_doc(&app, &idp, REALM_ID, SP_ENTITY_ID),
    )
    .await
    .expect(201);
    let f = SamlFixture { app, idp };
    f.app
        .get("/users/auth/saml/_init?realm_id=nope", &Auth::None)
        .await
        .expect_error(501, "authc.no_authentication_cluster");

    let location = f.init(&format!("?realm_id={REALM_ID}")).await;
    let (response, relay) = f.idp.sign_in(&f.app.client, &location).await;
    let (token, state) = token_of(&f.callback(&response, relay.as_deref()).await);
    assert_eq!(state, None);
    let me = f.app.get("/user", &Auth::Bearer(token)).await.expect(200);
    assert_eq!(me["user_name"], "saml.user");
}

#[tokio::test]
async fn a_user_whose_groups_map_no_role_is_refused() {
    let f = SamlFixture::start(IdpOptions {
        user: Some("nobody.saml".into()),
        groups: Some(vec!["staff".into()]),
        ..IdpOptions::default()
    })
    .await;
    let (response, relay) = f.signed_response().await;
    f.callback(&response, relay.as_deref())
        .await
        .expect_error(401, "root.unauthenticated");
    assert_eq!(f.sessions().await, 0);
    f.app
        .get("/users/nobody.saml", &Auth::admin())
        .await
        .expect_error(404, "user.not_found");
}

#[tokio::test]
async fn unreachable_metadata_is_a_gateway_error() {
    let app = spawn_app().await;
    let idp = SamlIdp::start(&acs(&app), SP_ENTITY_ID, IdpOptions::default());
    let doc = realm_doc(&app, &idp, REALM_ID, SP_ENTITY_ID);
    // A port nothing listens on: the IdP's, once it is gone.
    drop(idp);
    app.post(&format!("{REALMS}/saml"), &Auth::admin(), doc)
        .await
        .expect(201);
    app.get("/users/auth/saml/_init?state=s", &Auth::None)
        .await
        .expect_error(502, "authc.authentication_cluster_error");
}
