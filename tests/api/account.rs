//! `/account`: get, replace, merge-patch, validation, concurrency and durability.

use serde_json::json;

use crate::helpers::{spawn_app, Auth};

#[tokio::test]
async fn account_exists_from_first_start_with_default_trust() {
    let app = spawn_app().await;
    let body = app.get("/account", &Auth::admin()).await.expect(200);
    assert!(body["id"].as_str().unwrap().len() >= 16);
    assert_eq!(body["trust"], json!({"trust_all": true}));
    // Stable: the same id on every read and for every reader.
    let again = app.get("/account", &Auth::readonly()).await.expect(200);
    assert_eq!(again["id"], body["id"]);
}

#[tokio::test]
async fn put_replaces_and_validates() {
    let app = spawn_app().await;
    let body = app
        .put(
            "/account",
            &Auth::admin(),
            json!({"trust": {"trust_all": false, "extra": "kept"}}),
        )
        .await
        .expect(200);
    assert_eq!(body["trust"], json!({"trust_all": false, "extra": "kept"}));
    // An empty request reverts to the default.
    let body = app
        .put("/account", &Auth::admin(), json!({}))
        .await
        .expect(200);
    assert_eq!(body["trust"], json!({"trust_all": true}));
    let err = app
        .put("/account", &Auth::admin(), json!({"trust": {}}))
        .await
        .expect_error(400, "root.invalid_json_request");
    assert_eq!(err["errors"][0]["fields"], json!(["trust.trust_all"]));
    app.put(
        "/account",
        &Auth::admin(),
        json!({"trust": {"trust_all": "no"}}),
    )
    .await
    .expect_error(400, "root.invalid_json_request");
    app.put("/account", &Auth::admin(), json!({"trust": 3}))
        .await
        .expect_error(400, "root.invalid_json_request");
    // Nothing of the refused writes was stored.
    assert_eq!(
        app.get("/account", &Auth::admin()).await.expect(200)["trust"],
        json!({"trust_all": true})
    );
}

#[tokio::test]
async fn patch_merges_reverts_with_null_and_refuses_invalid_results() {
    let app = spawn_app().await;
    let body = app
        .patch(
            "/account",
            &Auth::admin(),
            json!({"trust": {"trust_all": false, "note": "x"}}),
        )
        .await
        .expect(200);
    assert_eq!(body["trust"], json!({"trust_all": false, "note": "x"}));
    // Omitted fields are reapplied; null removes a field.
    let body = app
        .patch("/account", &Auth::admin(), json!({"trust": {"note": null}}))
        .await
        .expect(200);
    assert_eq!(body["trust"], json!({"trust_all": false}));
    // A restating patch changes nothing and is not refused.
    let body = app
        .patch(
            "/account",
            &Auth::admin(),
            json!({"trust": {"trust_all": false}}),
        )
        .await
        .expect(200);
    assert_eq!(body["trust"], json!({"trust_all": false}));
    // null on the whole object reverts to the default.
    let body = app
        .patch("/account", &Auth::admin(), json!({"trust": null}))
        .await
        .expect(200);
    assert_eq!(body["trust"], json!({"trust_all": true}));
    // An invalid merge result is a 400 and changes nothing.
    app.patch(
        "/account",
        &Auth::admin(),
        json!({"trust": {"trust_all": null, "note": "y"}}),
    )
    .await
    .expect_error(400, "root.invalid_json_request");
    app.patch(
        "/account",
        &Auth::admin(),
        json!({"trust": {"trust_all": 1}}),
    )
    .await
    .expect_error(400, "root.invalid_json_request");
    for not_an_object in [json!("text"), json!([1]), json!(true), json!(null)] {
        app.patch("/account", &Auth::admin(), not_an_object)
            .await
            .expect_error(400, "root.invalid_json_request");
    }
    assert_eq!(
        app.get("/account", &Auth::admin()).await.expect(200)["trust"],
        json!({"trust_all": true})
    );
}

#[tokio::test]
async fn concurrent_patches_lose_no_update() {
    let app = spawn_app().await;
    let n = 20;
    let patches = (0..n).map(|i| {
        let app = &app;
        async move {
            app.patch(
                "/account",
                &Auth::admin(),
                json!({"trust": {format!("k{i}"): i}}),
            )
            .await
            .expect(200);
        }
    });
    futures::future::join_all(patches).await;
    let trust = app.get("/account", &Auth::admin()).await.expect(200)["trust"].clone();
    for i in 0..n {
        assert_eq!(
            trust[format!("k{i}")],
            json!(i),
            "update {i} was lost: {trust}"
        );
    }
}

#[tokio::test]
async fn account_survives_a_restart() {
    let app = spawn_app().await;
    let before = app
        .patch(
            "/account",
            &Auth::admin(),
            json!({"trust": {"trust_all": false}}),
        )
        .await
        .expect(200);
    let app = app.restart().await;
    let after = app.get("/account", &Auth::admin()).await.expect(200);
    assert_eq!(before, after);
}

#[tokio::test]
async fn only_admins_change_the_account() {
    let app = spawn_app().await;
    app.get("/account", &Auth::readonly()).await.expect(200);
    app.put("/account", &Auth::readonly(), json!({}))
        .await
        .expect_error(403, "root.unauthorized.rbac");
    app.patch("/account", &Auth::readonly(), json!({}))
        .await
        .expect_error(403, "root.unauthorized.rbac");
    app.get("/account", &Auth::None)
        .await
        .expect_error(401, "root.unauthenticated");
}
