//! SAML sign-in across replicas (included by `tests/replicas.rs`): a flow started on one replica
//! (`_init` records the AuthnRequest in the database) is finished on another (`_callback` takes
//! it there), and the same response posted again to either replica is refused: single use and
//! replay hold across replicas, not just within one. The IdP is the real one of tests/saml.

use serde_json::json;

use super::*;
use crate::saml_idp::{IdpOptions, SamlIdp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_started_on_one_replica_finishes_on_another_once() {
    let name = "a_sign_in_started_on_one_replica_finishes_on_another_once";
    pg_test(name, |ctx| async move {
        let url = ctx.fresh_schema().await;
        let key = ctx.dir.join("realm-secrets.key").display().to_string();
        let extra = ["--realm-secrets-key-file", key.as_str()];
        let a = ctx.start("saml-a", &url, &extra).await;
        let b = ctx.start("saml-b", &url, &extra).await;
        // The ACS names replica b: the IdP posts the user back there.
        let acs = format!("{}/users/auth/saml/_callback", b.base);
        let idp = SamlIdp::start(&acs, "urn:ece:replicas", IdpOptions::default());
        let realm = json!({
            "id": "idp",
            "name": "Test IdP",
            "enabled": true,
            "idp": {"entity_id": idp.entity_id, "metadata_path": idp.metadata_url},
            "sp": {"entity_id": "urn:ece:replicas", "acs": acs, "logout": format!("{}/logout", b.base)},
            "attributes": {"principal": idp.attributes.principal, "groups": idp.attributes.groups},
            "role_mappings": {"default_roles": ["ece_platform_viewer"], "rules": []}
        });
        a.post("/platform/configuration/security/realms/saml", &admin(), realm)
            .await
            .expect(201);

        let started = a
            .http
            .get(format!("{}/users/auth/saml/_init?state=replicas", a.base))
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 302);
        let location = started.headers()["location"].to_str().unwrap().to_string();
        let (response, relay) = idp.sign_in(&a.http, &location).await;
        let mut form = vec![("SAMLResponse", response)];
        if let Some(relay) = relay {
            form.push(("RelayState", relay));
        }
        let post = |r: &Replica| {
            r.http
                .post(format!("{}/users/auth/saml/_callback", r.base))
                .form(&form)
                .send()
        };
        let finished = post(&b).await.unwrap();
        assert_eq!(finished.status(), 302);
        let to = finished.headers()["location"].to_str().unwrap().to_string();
        assert!(to.starts_with("/sso/token#") && to.ends_with("?state=replicas"), "{to}");
        let token = Auth::Bearer(to["/sso/token#".len()..].split('?').next().unwrap().into());
        for r in [&a, &b] {
            let me = r.get("/user", &token).await.expect(200);
            assert_eq!(me["security"]["security_realm"], json!({"id": "idp", "type": "saml"}));
        }
        // The same response again, on either replica: refused.
        for r in [&a, &b] {
            let again = post(r).await.unwrap();
            assert_eq!(again.status(), 401, "replayed on {}", r.label);
        }
    })
    .await;
}
