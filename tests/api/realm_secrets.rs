//! Realm secrets (`bind_password`, `certificate_url_truststore_password`): never in a reply or an
//! audit event, sealed at rest with the key file of the data directory, kept when an update omits
//! them, removed by an empty string. The sealed values are read from the store and opened with the
//! key file, as an operator with both could.

use ece_server::security::sealed::Sealer;
use serde_json::{json, Value};

use crate::helpers::{realm_doc, spawn_app, Auth, TestApp, REALM_BIND_PASSWORD};
use crate::realms::{path, REALMS};

/// Opens what the store holds for `id` with the key file of the server's data directory.
pub async fn stored_secrets(app: &TestApp, id: &str) -> (Option<String>, Option<Value>) {
    let realm = app.store.get_realm(id).await.unwrap().unwrap();
    assert!(!realm.settings.to_string().contains("password"));
    let key = app.dir.path().join("realm-secrets.key");
    let sealer = Sealer::load_or_create(&key).unwrap();
    let opened = realm.sealed_secrets.as_ref().map(|s| {
        let context = format!("ece-realm:{}:{id}", realm.realm_type.as_str());
        serde_json::from_slice(&sealer.open(&context, s).unwrap()).unwrap()
    });
    (realm.sealed_secrets, opened)
}

#[tokio::test]
async fn secrets_are_write_only_sealed_and_kept_when_omitted() {
    let app = spawn_app().await;
    let mut doc = realm_doc("active-directory", "ad");
    doc["certificate_url"] = json!("https://certs.example.com/ad.zip");
    doc["certificate_url_truststore_password"] = json!("truststore-secret-91");
    doc["certificate_url_truststore_type"] = json!("PKCS12");
    let created = app
        .send(
            "POST",
            &format!("{REALMS}/active-directory"),
            &Auth::admin(),
            Some(doc.clone()),
        )
        .await;
    let first_text = created.body.to_string();
    created.expect(201);
    let mut replies = vec![first_text];
    replies.push(
        app.get(&path("active-directory", "ad"), &Auth::admin())
            .await
            .expect(200)
            .to_string(),
    );
    replies.push(
        app.get(REALMS, &Auth::admin())
            .await
            .expect(200)
            .to_string(),
    );
    for text in &replies {
        assert!(
            !text.contains(REALM_BIND_PASSWORD) && !text.contains("truststore-secret-91"),
            "{text}"
        );
    }
    let (sealed, opened) = stored_secrets(&app, "ad").await;
    let sealed = sealed.expect("secrets stored");
    assert!(!sealed.contains(REALM_BIND_PASSWORD));
    assert_eq!(
        opened.unwrap(),
        json!({"bind_password": REALM_BIND_PASSWORD,
               "certificate_url_truststore_password": "truststore-secret-91"})
    );
    // The key file was created on first start, readable by its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(app.dir.path().join("realm-secrets.key")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }

    // An update without the secrets keeps them: the very same sealed value.
    let mut without = doc.clone();
    without.as_object_mut().unwrap().remove("bind_password");
    without
        .as_object_mut()
        .unwrap()
        .remove("certificate_url_truststore_password");
    without["name"] = json!("Renamed");
    app.put(
        &path("active-directory", "ad"),
        &Auth::admin(),
        without.clone(),
    )
    .await
    .expect(200);
    assert_eq!(
        stored_secrets(&app, "ad").await.0.as_deref(),
        Some(sealed.as_str())
    );
    // A new password replaces only that secret.
    let mut new_password = without.clone();
    new_password["bind_password"] = json!("second-bind-password");
    app.put(
        &path("active-directory", "ad"),
        &Auth::admin(),
        new_password,
    )
    .await
    .expect(200);
    let (resealed, opened) = stored_secrets(&app, "ad").await;
    assert_ne!(resealed.as_deref(), Some(sealed.as_str()));
    assert_eq!(
        opened.unwrap(),
        json!({"bind_password": "second-bind-password",
               "certificate_url_truststore_password": "truststore-secret-91"})
    );
    // Empty strings remove them.
    let mut cleared = without;
    cleared["bind_password"] = json!("");
    cleared["certificate_url_truststore_password"] = json!("");
    app.put(&path("active-directory", "ad"), &Auth::admin(), cleared)
        .await
        .expect(200);
    assert_eq!(stored_secrets(&app, "ad").await, (None, None));

    // No audit event carries a secret, and every write left one.
    let events = app
        .store
        .list_audit(&ece_server::store::AuditFilter::default())
        .await
        .unwrap();
    let realm_events: Vec<&str> = events
        .iter()
        .filter(|e| e.event.starts_with("realm."))
        .map(|e| e.event.as_str())
        .collect();
    assert_eq!(
        realm_events,
        [
            "realm.create",
            "realm.update",
            "realm.update",
            "realm.update"
        ]
    );
    let all = format!("{events:?}");
    for secret in [
        REALM_BIND_PASSWORD,
        "truststore-secret-91",
        "second-bind-password",
    ] {
        assert!(!all.contains(secret));
    }
}

/// `--realm-secrets-key-file` puts the key elsewhere (e.g. a file all replicas share): it is
/// created there, 0600, and used; the data directory gets none. A file that is not a key stops
/// the start with an error naming it.
#[tokio::test]
async fn the_key_file_can_live_outside_the_data_directory() {
    use ece_server::bootstrap::ChosenPasswords;
    use ece_server::startup::{Application, Config};

    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let key = elsewhere.path().join("shared.key");
    let url = crate::helpers::fresh_database(&dir).await;
    let config = |key: &std::path::Path| Config {
        realm_secrets_key_file: Some(key.to_path_buf()),
        ..crate::helpers::test_config(
            &url,
            &dir,
            ChosenPasswords {
                admin: Some("admin-test-password".into()),
                readonly: None,
            },
            Default::default(),
        )
    };
    let app = Application::build(config(&key)).await.unwrap();
    assert!(!dir.path().join("realm-secrets.key").exists());
    let shared = Sealer::load_or_create(&key).unwrap();
    assert_eq!(app.state().sealer.key_id(), shared.key_id());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    drop(app);
    let bad = elsewhere.path().join("bad.key");
    std::fs::write(&bad, "not a key\n").unwrap();
    let err = Application::build(config(&bad))
        .await
        .err()
        .expect("refused");
    assert!(format!("{err:#}").contains("bad.key"), "{err:#}");
}
