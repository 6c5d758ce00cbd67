//! Security realms configuration (`/platform/configuration/security/realms...`): CRUD of LDAP and
//! Active Directory realms, the list (native first), reorder, versions, validation, RBAC, and
//! write-only secrets sealed at rest (`realm_secrets.rs`). Every reply is checked against the spec by the helpers.

use serde_json::{json, Value};

use crate::helpers::{realm_doc, spawn_app, Auth, TestApp};
use crate::spec::REGION_PREFIX;

pub const REALMS: &str = "/platform/configuration/security/realms";

pub fn path(kind: &str, id: &str) -> String {
    format!("{REALMS}/{kind}/{id}")
}

/// (id, type, order) of every listed realm, in order.
async fn listed(app: &TestApp) -> Vec<(String, String, i64)> {
    let list = app.get(REALMS, &Auth::readonly()).await.expect(200);
    list["realms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["type"].as_str().unwrap().to_string(),
                r["order"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn version_of(reply: &crate::helpers::Reply) -> String {
    reply.headers["x-cloud-resource-version"]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn realms_are_created_listed_updated_and_deleted_in_order() {
    let app = spawn_app().await;
    let native = |n: &[(String, String, i64)]| n[0] == ("native".into(), "native".into(), 0);
    let only = listed(&app).await;
    assert_eq!(only.len(), 1);
    assert!(native(&only));

    app.create_realm("ldap", "corp").await;
    app.create_realm("active-directory", "ad").await;
    let mut third = realm_doc("ldap", "late");
    third["order"] = json!(10);
    third["enabled"] = json!(false);
    let created = app
        .post(&format!("{REALMS}/ldap"), &Auth::admin(), third)
        .await;
    assert_eq!(version_of(&created), "1");
    assert!(created.headers.contains_key("x-cloud-resource-created"));
    created.expect(201);
    let all = listed(&app).await;
    assert!(native(&all));
    assert_eq!(
        all[1..],
        [
            ("corp".into(), "ldap".into(), 1),
            ("ad".into(), "active_directory".into(), 2),
            ("late".into(), "ldap".into(), 10)
        ]
    );
    let list = app.get(REALMS, &Auth::admin()).await.expect(200);
    assert_eq!(list["realms"][3]["enabled"], false);
    assert_eq!(
        list["realms"][1]["urls"],
        json!(["ldaps://ldap1.example.com:636", "ldaps://ldap2.example.com"])
    );

    // GET returns the settings with id, order and enabled, and the resource version.
    let got = app.get(&path("ldap", "corp"), &Auth::readonly()).await;
    assert_eq!(version_of(&got), "1");
    let doc = got.expect(200);
    assert_eq!(doc["id"], "corp");
    assert_eq!(doc["order"], 1);
    assert_eq!(doc["enabled"], true);
    assert_eq!(doc["user_search"]["base_dn"], "ou=people,dc=example,dc=com");
    assert!(doc.get("bind_password").is_none());

    // Update with the current version, then with a stale one.
    let mut changed = realm_doc("ldap", "corp");
    changed["name"] = json!("Corporate directory");
    let put = app
        .put(
            &format!("{}?version=1", path("ldap", "corp")),
            &Auth::admin(),
            changed.clone(),
        )
        .await;
    assert_eq!(version_of(&put), "2");
    put.expect(200);
    assert_eq!(
        app.get(&path("ldap", "corp"), &Auth::admin())
            .await
            .expect(200)["name"],
        "Corporate directory"
    );
    app.put(
        &format!("{}?version=1", path("ldap", "corp")),
        &Auth::admin(),
        changed.clone(),
    )
    .await
    .expect_error(409, "security_realm.version_conflict");
    // Without a version the update applies to the latest state; order and enabled are kept.
    app.put(&path("ldap", "corp"), &Auth::admin(), changed)
        .await
        .expect(200);
    let doc = app
        .get(&path("ldap", "corp"), &Auth::admin())
        .await
        .expect(200);
    assert_eq!(
        (doc["order"].as_i64(), doc["enabled"].as_bool()),
        (Some(1), Some(true))
    );

    // Delete: stale version refused, then gone.
    app.delete(
        &format!("{}?version=1", path("ldap", "corp")),
        &Auth::admin(),
        None,
    )
    .await
    .expect_error(409, "security_realm.version_conflict");
    app.delete(
        &format!("{}?version=3", path("ldap", "corp")),
        &Auth::admin(),
        None,
    )
    .await
    .expect(200);
    app.get(&path("ldap", "corp"), &Auth::admin())
        .await
        .expect_error(404, "security_realm.not_found");
    app.delete(&path("ldap", "corp"), &Auth::admin(), None)
        .await
        .expect_error(404, "security_realm.not_found");
    app.put(
        &path("ldap", "corp"),
        &Auth::admin(),
        realm_doc("ldap", "corp"),
    )
    .await
    .expect_error(404, "security_realm.not_found");
    // A realm is found only under its own type.
    app.get(&path("ldap", "ad"), &Auth::admin())
        .await
        .expect_error(404, "security_realm.not_found");
    app.delete(&path("ldap", "ad"), &Auth::admin(), None)
        .await
        .expect_error(404, "security_realm.not_found");
    app.put(&path("ldap", "ad"), &Auth::admin(), realm_doc("ldap", "ad"))
        .await
        .expect_error(400, "security_realm.invalid_type");
    // The native realm is not a configured realm: it cannot be fetched, changed or deleted.
    for kind in ["ldap", "active-directory"] {
        app.delete(&path(kind, "native"), &Auth::admin(), None)
            .await
            .expect_error(404, "security_realm.not_found");
    }
    assert!(native(&listed(&app).await));
}

#[tokio::test]
async fn bad_settings_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let create = |kind: &'static str, doc: Value| {
        let app = &app;
        async move {
            app.post(&format!("{REALMS}/{kind}"), &Auth::admin(), doc)
                .await
        }
    };
    let with = |kind: &str, id: &str, field: &str, value: Value| {
        let mut d = realm_doc(kind, id);
        d[field] = value;
        d
    };
    let fields = |body: &Value| body["errors"][0]["fields"].clone();

    for id in ["-rf", "native", "a b", "", "_x"] {
        let body = create("ldap", realm_doc("ldap", id))
            .await
            .expect_error(400, "security_realm.invalid_id");
        assert_eq!(fields(&body), json!(["id"]), "{id}");
    }
    app.create_realm("ldap", "taken").await;
    create("active-directory", realm_doc("active-directory", "taken"))
        .await
        .expect_error(400, "security_realm.id_conflict");
    let body = create("ldap", with("ldap", "o0", "order", json!(0)))
        .await
        .expect_error(400, "security_realm.invalid_order");
    assert_eq!(fields(&body), json!(["order"]));
    create("ldap", with("ldap", "o1", "order", json!(1)))
        .await
        .expect_error(400, "security_realm.order_conflict");
    let body = create(
        "ldap",
        with("ldap", "u", "urls", json!(["ldap://a", "ldaps://b"])),
    )
    .await
    .expect_error(400, "security_realm.ldap.invalid_url");
    assert_eq!(fields(&body), json!(["urls"]));
    let body = create(
        "active-directory",
        with("active-directory", "u", "urls", json!(["https://dc1"])),
    )
    .await
    .expect_error(400, "security_realm.active_directory.invalid_url");
    assert_eq!(fields(&body), json!(["urls[0]"]));
    create("ldap", with("ldap", "u", "urls", json!([])))
        .await
        .expect_error(400, "security_realm.invalid_url");
    create(
        "ldap",
        with(
            "ldap",
            "y",
            "override_yaml",
            json!("ssl.verification_mode: none"),
        ),
    )
    .await
    .expect_error(400, "security_realm.invalid_yaml");
    create(
        "ldap",
        with("ldap", "c", "certificate_url", json!("ftp://x/ca.zip")),
    )
    .await
    .expect_error(400, "security_realm.invalid_bundle_url");
    let mut no_type = realm_doc("ldap", "t");
    no_type.as_object_mut().unwrap().remove("bind_type");
    let body = create("ldap", no_type)
        .await
        .expect_error(400, "root.invalid_json_request");
    assert_eq!(fields(&body), json!(["bind_type"]));
    let mut no_password = realm_doc("ldap", "p");
    no_password.as_object_mut().unwrap().remove("bind_password");
    let body = create("ldap", no_password)
        .await
        .expect_error(400, "root.invalid_json_request");
    assert_eq!(fields(&body), json!(["bind_password"]));
    let bad_role = with(
        "ldap",
        "r",
        "role_mappings",
        json!({"default_roles": ["root"], "rules": []}),
    );
    let body = create("ldap", bad_role)
        .await
        .expect_error(400, "user.roles.invalid");
    assert_eq!(fields(&body), json!(["role_mappings.default_roles"]));
    // An update cannot rename a realm.
    let body = app
        .put(
            &path("ldap", "taken"),
            &Auth::admin(),
            realm_doc("ldap", "other"),
        )
        .await
        .expect_error(400, "security_realm.invalid_id");
    assert_eq!(fields(&body), json!(["id"]));
    // A version that is not a version number can match none: a conflict, on PUT and DELETE.
    for version in ["x", "", "-1"] {
        let at = format!("{}?version={version}", path("ldap", "taken"));
        app.put(&at, &Auth::admin(), realm_doc("ldap", "taken"))
            .await
            .expect_error(409, "security_realm.version_conflict");
        app.delete(&at, &Auth::admin(), None)
            .await
            .expect_error(409, "security_realm.version_conflict");
    }
    let nowhere = format!("{}?version=x", path("ldap", "nowhere"));
    app.delete(&nowhere, &Auth::admin(), None)
        .await
        .expect_error(404, "security_realm.not_found");
    // Nothing of the refused documents was stored.
    assert_eq!(listed(&app).await.len(), 2);
}

#[tokio::test]
async fn reorder_renumbers_every_realm_or_none() {
    let app = spawn_app().await;
    for id in ["a", "b", "c"] {
        app.create_realm("ldap", id).await;
    }
    app.create_realm("active-directory", "d").await;
    let reorder = |ids: Value| {
        let app = &app;
        async move {
            app.post(
                &format!("{REALMS}/_reorder"),
                &Auth::admin(),
                json!({"realms": ids}),
            )
            .await
        }
    };
    reorder(json!(["d", "c", "a", "b"])).await.expect(200);
    let ids: Vec<(String, i64)> = listed(&app)
        .await
        .into_iter()
        .map(|(i, _, o)| (i, o))
        .collect();
    assert_eq!(
        ids,
        [
            ("native".into(), 0),
            ("d".into(), 1),
            ("c".into(), 2),
            ("a".into(), 3),
            ("b".into(), 4)
        ]
    );
    // Every realm's version moved with its order.
    let got = app.get(&path("ldap", "a"), &Auth::admin()).await;
    assert_eq!(version_of(&got), "2");
    // `native` may lead the list.
    reorder(json!(["native", "a", "b", "c", "d"]))
        .await
        .expect(200);
    let before = listed(&app).await;
    let body = reorder(json!(["a", "b", "c", "d", "nope"]))
        .await
        .expect_error(400, "security_realm.invalid_ids");
    assert_eq!(body["errors"][0]["fields"], json!(["nope"]));
    reorder(json!(["a", "a", "b", "c", "d"]))
        .await
        .expect_error(400, "security_realm.invalid_ids");
    reorder(json!(["a", "native", "b", "c", "d"]))
        .await
        .expect_error(400, "security_realm.invalid_ids");
    let body = reorder(json!(["b", "a"]))
        .await
        .expect_error(400, "security_realm.missing_ids");
    assert_eq!(body["errors"][0]["fields"], json!(["c", "d"]));
    assert_eq!(
        listed(&app).await,
        before,
        "a refused reorder changes nothing"
    );
}

#[tokio::test]
async fn viewers_read_and_only_admins_write() {
    let app = spawn_app().await;
    app.create_realm("ldap", "corp").await;
    let viewer = Auth::readonly();
    app.get(REALMS, &viewer).await.expect(200);
    app.get(&path("ldap", "corp"), &viewer).await.expect(200);
    let writes: [(&str, String, Option<Value>); 4] = [
        (
            "POST",
            format!("{REALMS}/ldap"),
            Some(realm_doc("ldap", "x")),
        ),
        ("PUT", path("ldap", "corp"), Some(realm_doc("ldap", "corp"))),
        ("DELETE", path("ldap", "corp"), None),
        (
            "POST",
            format!("{REALMS}/_reorder"),
            Some(json!({"realms": ["corp"]})),
        ),
    ];
    for (method, p, body) in writes.iter().cloned() {
        app.send(method, &p, &viewer, body.clone())
            .await
            .expect_error(403, "root.unauthorized.rbac");
        app.send(method, &p, &Auth::None, body)
            .await
            .expect_error(401, "root.unauthenticated");
    }
    app.get(REALMS, &Auth::None)
        .await
        .expect_error(401, "root.unauthenticated");
    let deployer = app
        .create_user("deployer", &["ece_deployment_manager"])
        .await;
    app.get(REALMS, &deployer)
        .await
        .expect_error(403, "root.unauthorized.rbac");
    assert_eq!(listed(&app).await.len(), 2, "nothing changed");
}

#[tokio::test]
async fn realms_are_served_under_the_region_prefix() {
    let app = spawn_app().await;
    app.post(
        &format!("{REGION_PREFIX}{REALMS}/active-directory"),
        &Auth::admin(),
        realm_doc("active-directory", "regional"),
    )
    .await
    .expect(201);
    let doc = app
        .get(
            &format!("{REGION_PREFIX}{}", path("active-directory", "regional")),
            &Auth::readonly(),
        )
        .await
        .expect(200);
    assert_eq!(doc["domain_name"], "example.com");
    app.get(&path("active-directory", "regional"), &Auth::readonly())
        .await
        .expect(200);
    let list = app
        .get(&format!("{REGION_PREFIX}{REALMS}"), &Auth::readonly())
        .await
        .expect(200);
    assert_eq!(list["realms"][1]["id"], "regional");
}
