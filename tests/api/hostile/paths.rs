//! Hostile path parameters: long and percent-garbled user names and key ids are answered with a
//! 4xx envelope, change nothing, and the server keeps serving.

use serde_json::json;

use super::harness::{header, hostile, shorten, snapshot, world};
use crate::helpers::{spawn_app, Auth};

#[tokio::test]
async fn hostile_path_parameters() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let before = snapshot(&app, &w.admin).await;
    let admin = header(&w.admin);
    let long = "a".repeat(10_000);
    let names = [
        long.as_str(),
        "%00",
        "alice%00",
        "%00alice",
        "%ff",
        "%ff%fe",
        "%c0%af",
        "%ed%a0%80",
        "alice%2f..%2fadmin",
        "%2f",
        "%252f",
        "%",
        "%zz",
        "%e2%80%aealice",
        "alice%e2%80%8b",
        "%20alice",
    ];
    let patch = serde_json::to_vec(&json!({"full_name": "x"})).unwrap();
    let roles =
        serde_json::to_vec(&json!({"platform": [{"role_id": "ece_platform_viewer"}]})).unwrap();
    let mut sent = 0;
    for name in names {
        let label = format!("user {}", shorten(name));
        for (method, path, body) in [
            ("GET", format!("/users/{name}"), None),
            ("PATCH", format!("/users/{name}"), Some(patch.clone())),
            ("DELETE", format!("/users/{name}"), None),
            ("GET", format!("/users/{name}/auth/keys"), None),
            ("DELETE", format!("/users/{name}/auth/keys"), None),
            ("GET", format!("/users/{name}/auth/keys/{name}"), None),
            ("DELETE", format!("/users/{name}/auth/keys/{name}"), None),
            ("GET", format!("/users/auth/keys/{name}"), None),
            ("DELETE", format!("/users/auth/keys/{name}"), None),
            (
                "POST",
                format!("/users/{name}/role_assignments"),
                Some(roles.clone()),
            ),
            (
                "DELETE",
                format!("/users/{name}/role_assignments"),
                Some(roles.clone()),
            ),
        ] {
            let r = hostile(&app, &label, method, &path, admin.clone(), body).await;
            assert!(
                matches!(r.status, 400 | 404),
                "{method} {} answered {}",
                shorten(&path),
                r.status
            );
            sent += 1;
        }
    }
    // Garbage after the prefix and in static segments.
    for path in [
        "/%00",
        "/users%00",
        "/users/auth/%00",
        "/account%2f",
        "/users/auth/keys/_all%00",
    ] {
        hostile(&app, "garbled route", "GET", path, admin.clone(), None).await;
        sent += 1;
    }
    assert!(sent > 150);
    eprintln!("hostile: {sent} requests, each a 4xx envelope");
    assert_eq!(snapshot(&app, &w.admin).await, before);
    app.get("/users/auth/methods", &Auth::None)
        .await
        .expect(200);
}
