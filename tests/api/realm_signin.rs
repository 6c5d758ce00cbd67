//! `_login` through an LDAP realm against a real OpenLDAP `slapd` (the harness of
//! tests/directory): the realm is created through the API, directory users sign in and become
//! external users with their mapped roles, and every failure (wrong password, no mapped role,
//! injection, a stopped directory) is the same 401 while native users are unaffected. A SAML
//! realm is never asked for a password.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, Auth, TestApp};
use crate::slapd::Slapd;

const REALM: &str = "example-ldap";

fn ldap_realm(url: &str) -> Value {
    json!({
        "id": REALM,
        "name": "Example LDAP",
        "urls": [url],
        "bind_anonymously": false,
        "bind_dn": "cn=reader,ou=system,dc=example,dc=org",
        "bind_password": "reader-pw",
        "bind_type": "user_search",
        "user_search": {"base_dn": "ou=people,dc=example,dc=org", "scope": "sub_tree"},
        "user_group_attribute": "memberOf",
        "role_mappings": {
            "default_roles": [],
            "rules": [
                {"type": "group_dn", "value": "cn=admins,ou=groups,dc=example,dc=org",
                 "roles": ["ece_platform_admin"]},
                {"type": "group_dn", "value": "cn=ops,ou=groups,dc=example,dc=org",
                 "roles": ["ece_platform_viewer"]}
            ]
        }
    })
}

async fn login_status(app: &TestApp, user: &str, password: &str) -> u16 {
    let reply = app
        .post(
            "/users/auth/_login",
            &Auth::None,
            json!({"username": user, "password": password}),
        )
        .await;
    if reply.status == 401 {
        assert_eq!(reply.body["errors"][0]["code"], "root.unauthenticated");
    }
    reply.status
}

#[tokio::test]
async fn directory_users_sign_in_through_an_ldap_realm() {
    let Some(directory) = Slapd::start("directory_users_sign_in_through_an_ldap_realm") else {
        return;
    };
    let app = spawn_app().await;
    app.post(
        "/platform/configuration/security/realms/ldap",
        &Auth::admin(),
        ldap_realm(&directory.ldap_url),
    )
    .await
    .expect(201);

    // alice is in cn=admins: a token, and she is now an external user of the realm.
    let token = app.login("alice", "alice-pw").await;
    let me = app
        .get("/user", &Auth::Bearer(token.clone()))
        .await
        .expect(200);
    assert_eq!(me["user_name"], "alice");
    assert_eq!(
        me["security"]["security_realm"],
        json!({"type": "ldap", "id": REALM})
    );
    assert_eq!(me["security"]["roles"], json!(["ece_platform_admin"]));
    // bob is in cn=ops: a viewer. A second sign-in finds the recorded user.
    app.login("bob", "bob-pw").await;
    let bob = app.login("bob", "bob-pw").await;
    let bob_me = app.get("/user", &Auth::Bearer(bob)).await.expect(200);
    assert_eq!(bob_me["security"]["roles"], json!(["ece_platform_viewer"]));

    // Basic with the directory password works too; a wrong one does not.
    let basic = Auth::basic("bob", "bob-pw");
    assert_eq!(
        app.get("/user", &basic).await.expect(200)["user_name"],
        "bob"
    );
    assert_eq!(app.get("/user", &basic).await.status, 200);
    assert_eq!(app.auth_status(&Auth::basic("bob", "wrong-pw")).await, 401);
    // Native users are unaffected by the realm.
    let native = app.create_user("dave", &["ece_platform_viewer"]).await;
    assert_eq!(app.auth_status(&native).await, 200);

    // Every failure is the same 401.
    assert_eq!(login_status(&app, "alice", "wrong-pw").await, 401);
    assert_eq!(
        login_status(&app, "carol", "carol-pw").await,
        401,
        "no mapped role"
    );
    assert_eq!(app.get("/users/carol", &Auth::admin()).await.status, 404);
    assert_eq!(login_status(&app, "*", "alice-pw").await, 401, "injection");
    assert_eq!(login_status(&app, "nobody", "x-pw").await, 401);
    // A directory user named like a native user is the native user: `admin` of the directory
    // (admin-pw) does not get in; the native admin does.
    assert_eq!(login_status(&app, "admin", "admin-pw").await, 401);
    assert_eq!(app.auth_status(&Auth::admin()).await, 200);

    // The external user is not changed through the API.
    app.patch(
        "/users/alice",
        &Auth::admin(),
        json!({"full_name": "Alice"}),
    )
    .await
    .expect_error(400, "user.cannot_modify_external");

    // The directory stops: its users get the same 401, the audit log says why, natives sign in.
    drop(directory);
    assert_eq!(login_status(&app, "alice", "alice-pw").await, 401);
    assert_eq!(app.auth_status(&Auth::admin()).await, 200);
    assert_eq!(app.auth_status(&native).await, 200);
    // A write on this replica ends the fresh window of bob's cached Basic credential: his
    // directory password is not accepted on the strength of the cache, the directory is asked.
    app.create_user("erin", &["ece_platform_viewer"]).await;
    assert_eq!(app.auth_status(&basic).await, 401);
    let events = app.store.list_audit(&Default::default()).await.unwrap();
    let last = events
        .iter()
        .rfind(|e| e.event == "realm.signin")
        .expect("a realm.signin event");
    assert_eq!(last.detail["realm"], REALM);
    assert_eq!(last.detail["result"], "unavailable");
    assert!(last.detail["cause"].is_string(), "{:?}", last.detail);
    let everything =
        serde_json::to_string(&events.iter().map(|e| &e.detail).collect::<Vec<_>>()).unwrap();
    assert!(!everything.contains("alice-pw") && !everything.contains("reader-pw"));
}

#[tokio::test]
async fn realms_are_asked_in_order_and_active_directory_users_sign_in() {
    let Some(directory) =
        Slapd::start("realms_are_asked_in_order_and_active_directory_users_sign_in")
    else {
        return;
    };
    let app = spawn_app().await;
    let admin = Auth::admin();
    app.post(
        "/platform/configuration/security/realms/ldap",
        &admin,
        ldap_realm(&directory.ldap_url),
    )
    .await
    .expect(201);
    app.post(
        "/platform/configuration/security/realms/active-directory",
        &admin,
        json!({
            "id": "corp-ad",
            "name": "Corp AD",
            "urls": [directory.ldap_url],
            "domain_name": "corp.example",
            "bind_anonymously": false,
            "bind_dn": "cn=svc-ldap,cn=Users,dc=corp,dc=example",
            "bind_password": "svc-pw",
            "role_mappings": {
                "default_roles": [],
                "rules": [{"type": "group_dn", "value": "cn=Engineers,cn=Groups,dc=corp,dc=example",
                           "roles": ["ece_platform_viewer"]}]
            }
        }),
    )
    .await
    .expect(201);
    // The LDAP realm (first) does not know dave; the Active Directory one (second) does.
    let token = app.login("dave", "dave-pw").await;
    let me = app.get("/user", &Auth::Bearer(token)).await.expect(200);
    assert_eq!(
        me["security"]["security_realm"],
        json!({"type": "active_directory", "id": "corp-ad"})
    );
    assert_eq!(me["security"]["roles"], json!(["ece_platform_viewer"]));
    assert_eq!(me["full_name"], "Dave D. Doe");
    assert_eq!(me["email"], "dave@corp.example");
    // erin is in no mapped group: refused.
    assert_eq!(login_status(&app, "erin", "erin-pw").await, 401);
    let events = app.store.list_audit(&Default::default()).await.unwrap();
    let realms_asked: Vec<(String, String)> = events
        .iter()
        .filter(|e| e.event == "realm.signin" && e.target.as_deref() == Some("dave"))
        .map(|e| {
            (
                e.detail["realm"].as_str().unwrap().to_string(),
                e.detail["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        realms_asked.contains(&(REALM.into(), "invalid_credentials".into()))
            && realms_asked.contains(&("corp-ad".into(), "success".into())),
        "{realms_asked:?}"
    );
}

/// An external user's sessions and API keys end when a sign-in through their realm maps no role,
/// when the realm is disabled (the user stays and signs in again once it is enabled) and when it
/// is deleted (the user goes too). Native users keep theirs throughout.
#[tokio::test]
async fn external_access_ends_with_the_realm_or_its_roles() {
    let Some(directory) = Slapd::start("external_access_ends_with_the_realm_or_its_roles") else {
        return;
    };
    let app = spawn_app().await;
    let admin = Auth::admin();
    let realm_path = format!("/platform/configuration/security/realms/ldap/{REALM}");
    let mut settings = ldap_realm(&directory.ldap_url);
    settings["enabled"] = json!(true);
    app.post(
        "/platform/configuration/security/realms/ldap",
        &admin,
        settings.clone(),
    )
    .await
    .expect(201);
    let native = app.create_user("dave", &["ece_platform_viewer"]).await;
    // bob (cn=ops, a viewer) signs in and makes a key.
    let (token, key) = bob_signs_in(&app).await;
    assert_eq!(app.auth_status(&token).await, 200);
    assert_eq!(app.auth_status(&key).await, 200);

    // The ops rule goes: bob's next sign-in maps no role, is refused, and ends his access.
    let mut no_ops = settings.clone();
    no_ops["role_mappings"]["rules"]
        .as_array_mut()
        .unwrap()
        .pop();
    app.put(&realm_path, &admin, no_ops).await.expect(200);
    assert_eq!(
        app.auth_status(&token).await,
        200,
        "a mapping change alone ends nothing"
    );
    assert_eq!(login_status(&app, "bob", "bob-pw").await, 401);
    assert_eq!(app.auth_status(&token).await, 401);
    assert_eq!(app.auth_status(&key).await, 401);
    let events = app.store.list_audit(&Default::default()).await.unwrap();
    let ended = events
        .iter()
        .rfind(|e| e.event == "realm.access_ended")
        .expect("a realm.access_ended event");
    assert_eq!(ended.target.as_deref(), Some("bob"));
    assert_eq!(
        (
            ended.detail["sessions"].as_u64(),
            ended.detail["api_keys"].as_u64()
        ),
        (Some(1), Some(1))
    );

    // Mapped again: bob signs in; the login event names the realm that vouched for him.
    app.put(&realm_path, &admin, settings.clone())
        .await
        .expect(200);
    let (token, key) = bob_signs_in(&app).await;
    let events = app.store.list_audit(&Default::default()).await.unwrap();
    let login = events.iter().rfind(|e| e.event == "login").unwrap();
    assert_eq!(login.detail["realm"], REALM);

    // Disabled: his access ends, his user stays; enabled again, he signs in again.
    let mut disabled = settings.clone();
    disabled["enabled"] = json!(false);
    app.put(&realm_path, &admin, disabled).await.expect(200);
    assert_eq!(app.auth_status(&token).await, 401);
    assert_eq!(app.auth_status(&key).await, 401);
    assert_eq!(login_status(&app, "bob", "bob-pw").await, 401);
    app.get("/users/bob", &admin).await.expect(200);
    assert_eq!(app.auth_status(&native).await, 200);
    app.put(&realm_path, &admin, settings.clone())
        .await
        .expect(200);
    let (token, key) = bob_signs_in(&app).await;

    // Deleted: bob goes with it, and with him his session and key.
    app.delete(&realm_path, &admin, None).await.expect(200);
    assert_eq!(app.auth_status(&token).await, 401);
    assert_eq!(app.auth_status(&key).await, 401);
    assert_eq!(app.get("/users/bob", &admin).await.status, 404);
    assert_eq!(app.auth_status(&native).await, 200);
    assert_eq!(app.auth_status(&admin).await, 200);
}

/// bob signs in through the realm and makes an API key: his token and key.
async fn bob_signs_in(app: &TestApp) -> (Auth, Auth) {
    let token = Auth::Bearer(app.login("bob", "bob-pw").await);
    let (_, key) = app.create_key(&token, None).await;
    (token, Auth::ApiKey(key))
}

/// SAML users sign in at their IdP: an enabled SAML realm first in order is never asked for a
/// password, leaves no `realm.signin` event, and changes nothing for native users.
#[tokio::test]
async fn a_saml_realm_takes_no_part_in_password_sign_in() {
    let app = spawn_app().await;
    app.create_realm("saml", "okta").await;
    let login = |user: &'static str, password: &'static str| {
        let app = &app;
        async move {
            app.post(
                "/users/auth/_login",
                &Auth::None,
                json!({"username": user, "password": password}),
            )
            .await
        }
    };
    let admin = ("admin", crate::helpers::ADMIN_PASSWORD);
    login(admin.0, admin.1).await.expect(200);
    login(admin.0, "wrong-password")
        .await
        .expect_error(401, "root.unauthenticated");
    login("viewer@example.com", "any-password")
        .await
        .expect_error(401, "root.unauthenticated");
    app.get("/user", &Auth::basic("viewer@example.com", "any-password"))
        .await
        .expect_error(401, "root.unauthenticated");
    app.get("/user", &Auth::basic(admin.0, admin.1))
        .await
        .expect(200);
    let events = app.store.list_audit(&Default::default()).await.unwrap();
    assert!(
        !events.iter().any(|e| e.event == "realm.signin"),
        "no realm asked: {events:?}"
    );
    let users = app.get("/users", &Auth::admin()).await.expect(200);
    assert!(!users.to_string().contains("viewer@example.com"));
}
