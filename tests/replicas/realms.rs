//! Security realms across replicas (included by `tests/replicas.rs`): a realm configured on one
//! replica signs directory users in on another (one shared realm secrets key), and disabling it
//! on one replica ends its external users' sessions and keys on every replica within
//! [`PROPAGATION`](super::PROPAGATION). The directory is a real `slapd` (tests/directory).

use reqwest::Method;
use serde_json::json;

use super::*;
use crate::slapd::Slapd;

const REALMS: &str = "/platform/configuration/security/realms";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_realm_works_on_every_replica_and_disabling_it_ends_access_everywhere() {
    let name = "a_realm_works_on_every_replica_and_disabling_it_ends_access_everywhere";
    pg_test(name, |ctx| async move {
        let Some(directory) = Slapd::start(name) else {
            return;
        };
        let url = ctx.fresh_schema().await;
        // Every replica must open the secrets another sealed: one key file for all.
        let key = ctx.dir.join("realm-secrets.key").display().to_string();
        let extra = ["--realm-secrets-key-file", key.as_str()];
        let a = ctx.start("realms-a", &url, &extra).await;
        let b = ctx.start("realms-b", &url, &extra).await;

        let realm = json!({
            "id": "corp",
            "name": "Corp LDAP",
            "urls": [directory.ldap_url],
            "enabled": true,
            "bind_anonymously": false,
            "bind_dn": "cn=reader,ou=system,dc=example,dc=org",
            "bind_password": "reader-pw",
            "bind_type": "user_search",
            "user_search": {"base_dn": "ou=people,dc=example,dc=org", "scope": "sub_tree"},
            "user_group_attribute": "memberOf",
            "role_mappings": {"default_roles": [], "rules": [
                {"type": "group_dn", "value": "cn=ops,ou=groups,dc=example,dc=org",
                 "roles": ["ece_platform_viewer"]}
            ]}
        });
        a.post(&format!("{REALMS}/ldap"), &admin(), realm.clone())
            .await
            .expect(201);
        // b opens the bind password a sealed, and signs bob in.
        let token = Auth::Bearer(b.login("bob", "bob-pw").await);
        let key = b
            .post(
                "/users/auth/keys",
                &token,
                json!({"description": "bob's key"}),
            )
            .await
            .expect(201);
        let key = Auth::ApiKey(key["key"].as_str().unwrap().to_string());
        for r in [&a, &b] {
            r.get("/user", &token).await.expect(200);
            r.get("/user", &key).await.expect(200);
        }

        let mut disabled = realm.clone();
        disabled["enabled"] = json!(false);
        a.send(
            Method::PUT,
            &format!("{REALMS}/ldap/corp"),
            &admin(),
            Some(disabled),
        )
        .await
        .expect(200);
        for r in [&a, &b] {
            for auth in [&token, &key] {
                let reply = eventually(r, "/user", auth, 401, PROPAGATION).await;
                reply.expect_error(401, "root.unauthenticated");
            }
        }
        // The user is still recorded; the native admin is unaffected.
        b.get("/users/bob", &admin()).await.expect(200);
        drop(directory);
    })
    .await;
}
