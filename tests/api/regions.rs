//! The region-prefixed paths of the official Go SDK (`/api/v1/regions/ece-region/...`) and the
//! string-bodied merge patch it sends for `patch-current-account`. The RBAC matrix (rbac.rs) runs
//! every operation through both path forms; these are the cases around it.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, Auth};
use crate::spec::REGION_PREFIX;

#[tokio::test]
async fn the_account_answers_the_same_through_both_forms() {
    let app = spawn_app().await;
    let plain = app.get("/account", &Auth::admin()).await.expect(200);
    let regional = app
        .get(&format!("{REGION_PREFIX}/account"), &Auth::admin())
        .await
        .expect(200);
    assert_eq!(plain, regional);

    let body = json!({"trust": {"trust_all": false}});
    let put = app
        .put(&format!("{REGION_PREFIX}/account"), &Auth::admin(), body)
        .await
        .expect(200);
    assert_eq!(put["trust"]["trust_all"], false);
    assert_eq!(
        app.get("/account", &Auth::admin()).await.expect(200)["trust"]["trust_all"],
        false
    );
}

#[tokio::test]
async fn errors_and_authentication_are_those_of_the_plain_form() {
    let app = spawn_app().await;
    // No credentials: 401, never a 404.
    app.get(&format!("{REGION_PREFIX}/account"), &Auth::None)
        .await
        .expect_error(401, "root.unauthenticated");
    // A role without the permission: 403.
    let viewer = app.create_user("viewer-x", &["ece_platform_viewer"]).await;
    app.patch(
        &format!("{REGION_PREFIX}/account"),
        &viewer,
        json!({"trust": {"trust_all": true}}),
    )
    .await
    .expect_error(403, "root.unauthorized.rbac");
    // Unknown resource under the region: the 404 names the path the client sent.
    let body = app
        .get(&format!("{REGION_PREFIX}/nothing-here"), &Auth::admin())
        .await
        .expect_error(404, "root.resource_not_found");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("/regions/ece-region/nothing-here"),
        "{message}"
    );
}

#[tokio::test]
async fn an_unknown_region_is_a_clear_ece_error() {
    let app = spawn_app().await;
    for region in ["us-east-1", "ECE-REGION", "", "ece-region%2f.."] {
        let reply = app
            .get(&format!("/regions/{region}/account"), &Auth::admin())
            .await;
        let body = reply.expect_error(404, "root.resource_not_found");
        assert_eq!(body["errors"][0]["fields"], json!(["region"]), "{region}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("ece-region"), "{message}");
    }
}

#[tokio::test]
async fn query_parameters_survive_the_prefix() {
    let app = spawn_app().await;
    app.create_user("sleepy", &[]).await;
    app.patch(
        "/users/sleepy",
        &Auth::admin(),
        json!({"security": {"enabled": false}}),
    )
    .await
    .expect(200);
    let names = |v: &Value| -> Vec<String> {
        v["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["user_name"].as_str().unwrap().to_string())
            .collect()
    };
    let without = app
        .get(&format!("{REGION_PREFIX}/users"), &Auth::admin())
        .await
        .expect(200);
    let with = app
        .get(
            &format!("{REGION_PREFIX}/users?include_disabled=true"),
            &Auth::admin(),
        )
        .await
        .expect(200);
    assert!(!names(&without).contains(&"sleepy".to_string()));
    assert!(names(&with).contains(&"sleepy".to_string()));
}

#[tokio::test]
async fn the_account_merge_patch_may_come_as_a_json_string() {
    let app = spawn_app().await;
    for (path, value) in [
        ("/account", false),
        (&format!("{REGION_PREFIX}/account")[..], true),
    ] {
        // What the Go SDK sends: the patch document as a JSON string literal.
        let patch = Value::String(format!("{{\"trust\":{{\"trust_all\":{value}}}}}"));
        let reply = app.patch(path, &Auth::admin(), patch).await.expect(200);
        assert_eq!(reply["trust"]["trust_all"], value, "{path}");
    }
    assert_eq!(
        app.get("/account", &Auth::admin()).await.expect(200)["trust"]["trust_all"],
        true
    );
}

#[tokio::test]
async fn a_string_body_must_hold_a_json_object() {
    let app = spawn_app().await;
    let before = app.get("/account", &Auth::admin()).await.expect(200);
    for text in [
        "[1,2]",
        "not json",
        "\"{}\"",
        "{\"trust\":{}} trailing",
        "{\"trust\":{},\"trust\":{}}",
        "{\"trust\":{\"trust_all\":\"yes\"}}",
    ] {
        app.patch("/account", &Auth::admin(), Value::String(text.into()))
            .await
            .expect_error(400, "root.invalid_json_request");
    }
    // Only that operation takes a string: a user patch still needs an object.
    app.patch(
        "/users/admin",
        &Auth::admin(),
        Value::String("{\"full_name\":\"x\"}".into()),
    )
    .await
    .expect_error(400, "root.invalid_json_request");
    assert_eq!(
        app.get("/account", &Auth::admin()).await.expect(200),
        before
    );
}
