//! External users (recorded by a sign-in through an LDAP or Active Directory realm, later SAML) over HTTP:
//! `security.security_realm` names their realm, and no endpoint changes, deletes or re-roles them
//! (`user.cannot_modify_external`). These tests record the user through the store, exactly as a
//! directory sign-in would (realm set, no password), so they need no directory server; sign-in
//! itself and the end of an external user's access are in `realm_signin.rs`.

use ece_server::domain::model::{RealmRef, UserRecord};
use ece_server::domain::realms::RealmType;
use ece_server::domain::roles::Role;
use serde_json::json;

use crate::helpers::{spawn_app, Auth, TestApp};

async fn record_external(app: &TestApp, name: &str) {
    let user = UserRecord {
        realm: Some(RealmRef {
            id: "corp".into(),
            realm_type: RealmType::Ldap,
        }),
        ..UserRecord::new(
            name,
            String::new(),
            vec![Role::PlatformViewer],
            None,
            chrono::Utc::now(),
        )
    };
    app.store.insert_user(&user).await.unwrap();
}

#[tokio::test]
async fn external_users_show_their_realm_and_cannot_be_modified() {
    let app = spawn_app().await;
    record_external(&app, "carol").await;
    let carol = app.user("carol").await;
    assert_eq!(
        carol["security"]["security_realm"],
        json!({"type": "ldap", "id": "corp"})
    );
    // Native users keep the native realm.
    assert_eq!(
        app.user("admin").await["security"]["security_realm"],
        json!({"type": "native", "id": "native"})
    );

    let admin = Auth::admin();
    app.patch("/users/carol", &admin, json!({"full_name": "Carol"}))
        .await
        .expect_error(400, "user.cannot_modify_external");
    app.patch(
        "/users/carol",
        &admin,
        json!({"security": {"password": "a directory password"}}),
    )
    .await
    .expect_error(400, "user.cannot_modify_external");
    // Restating the stored document is not a change.
    app.patch("/users/carol", &admin, json!({}))
        .await
        .expect(200);
    app.delete("/users/carol", &admin, None)
        .await
        .expect_error(400, "user.cannot_modify_external");
    app.post(
        "/users/carol/role_assignments",
        &admin,
        json!({"platform": [{"role_id": "ece_platform_admin"}]}),
    )
    .await
    .expect_error(400, "user.cannot_modify_external");
    assert_eq!(app.user("carol").await, carol);
}

#[tokio::test]
async fn an_external_user_never_signs_in_with_a_native_password() {
    let app = spawn_app().await;
    record_external(&app, "carol").await;
    // Its stored password hash is empty: no password, not even an empty one, verifies.
    for password in ["", "x", "a directory password"] {
        assert_eq!(app.auth_status(&Auth::basic("carol", password)).await, 401);
    }
    let login = app
        .post(
            "/users/auth/_login",
            &Auth::None,
            json!({"username": "carol", "password": "a directory password"}),
        )
        .await;
    login.expect_error(401, "root.unauthenticated");
}

/// An external user of a SAML realm (recorded through the store, as the sign-in flow will) shows
/// its realm, survives the realm being disabled, and goes with the realm, as a directory realm's.
#[tokio::test]
async fn a_saml_realms_external_users_go_with_it() {
    let app = spawn_app().await;
    app.create_realm("saml", "okta").await;
    let carol = UserRecord {
        realm: Some(RealmRef {
            id: "okta".into(),
            realm_type: RealmType::Saml,
        }),
        ..UserRecord::new(
            "carol",
            String::new(),
            vec![Role::PlatformViewer],
            None,
            chrono::Utc::now(),
        )
    };
    app.store.insert_user(&carol).await.unwrap();
    let user = app.get("/users/carol", &Auth::admin()).await.expect(200);
    assert_eq!(
        user["security"]["security_realm"],
        json!({"type": "saml", "id": "okta"})
    );
    let mut disabled = crate::realm_saml::saml_doc("okta");
    disabled["enabled"] = json!(false);
    app.put(
        &crate::realms::path("saml", "okta"),
        &Auth::admin(),
        disabled,
    )
    .await
    .expect(200);
    app.get("/users/carol", &Auth::admin()).await.expect(200);
    app.delete(&crate::realms::path("saml", "okta"), &Auth::admin(), None)
        .await
        .expect(200);
    app.get("/users/carol", &Auth::admin())
        .await
        .expect_error(404, "user.not_found");
}
