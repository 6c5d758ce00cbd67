//! Helpers of the users, keys, roles and RBAC suites (error fields, users and keys as admin), and
//! of the realm suites (a valid realm document and its creation).

use serde_json::{json, Value};

use super::*;

/// The `fields` of the first error of an ECE error body.
pub fn error_fields(body: &Value) -> Value {
    body["errors"][0]["fields"].clone()
}

impl TestApp {
    /// `GET /users/{name}` as the built-in admin.
    pub async fn user(&self, name: &str) -> Value {
        self.get(&format!("/users/{name}"), &Auth::admin())
            .await
            .expect(200)
    }

    /// `POST /users` as the built-in admin with an arbitrary body.
    pub async fn create_user_with(&self, body: Value) -> Reply {
        self.post("/users", &Auth::admin(), body).await
    }

    /// The status `GET /users/auth` answers for `auth`: 200 when the credentials work, 401 otherwise.
    pub async fn auth_status(&self, auth: &Auth) -> u16 {
        self.get("/users/auth", auth).await.status
    }

    /// Creates an API key for `auth`'s user with an arbitrary request body.
    pub async fn create_key_with(&self, auth: &Auth, body: Value) -> Reply {
        self.post("/users/auth/keys", auth, body).await
    }
}

/// The bind password every realm made by [`realm_doc`] carries (to search replies for it).
pub const REALM_BIND_PASSWORD: &str = "realm-bind-password-7f3a";

/// A valid settings document of a realm of `kind` (`ldap`, `active-directory` or `saml`, as the paths
/// name them) with id `id`.
pub fn realm_doc(kind: &str, id: &str) -> Value {
    if kind == "saml" {
        return crate::realm_saml::saml_doc(id);
    }
    let mut doc = json!({
        "id": id,
        "name": format!("Realm {id}"),
        "urls": ["ldaps://ldap1.example.com:636", "ldaps://ldap2.example.com"],
        "bind_anonymously": false,
        "bind_dn": "cn=svc,dc=example,dc=com",
        "bind_password": REALM_BIND_PASSWORD,
        "role_mappings": {
            "default_roles": [],
            "rules": [{"type": "group_dn", "value": "cn=admins,ou=groups,dc=example,dc=com",
                       "roles": ["ece_platform_admin"]}]
        }
    });
    if kind == "ldap" {
        doc["bind_type"] = json!("user_search");
        doc["user_search"] = json!({"base_dn": "ou=people,dc=example,dc=com", "scope": "sub_tree"});
    } else {
        doc["domain_name"] = json!("example.com");
    }
    doc
}

impl TestApp {
    /// Creates a realm of `kind` with [`realm_doc`] as the built-in admin.
    pub async fn create_realm(&self, kind: &str, id: &str) {
        self.post(
            &format!("/platform/configuration/security/realms/{kind}"),
            &Auth::admin(),
            realm_doc(kind, id),
        )
        .await
        .expect(201);
    }
}
