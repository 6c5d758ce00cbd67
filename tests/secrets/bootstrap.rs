//! Generated bootstrap passwords: kept in `bootstrap-secrets.json` with mode 0600, printed once on
//! stdout, and found neither in the database nor in the log.

use serde_json::{json, Value};

use super::*;

#[tokio::test]
async fn generated_bootstrap_passwords_are_kept_in_a_0600_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (out, log) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let server = Server::start(&data, &[], &out, &log).await;
    let secrets_file = data.join("bootstrap-secrets.json");
    let generated: Value = serde_json::from_slice(&std::fs::read(&secrets_file).unwrap()).unwrap();
    let admin = generated["admin_password"]
        .as_str()
        .expect("admin password")
        .to_string();
    let readonly = generated["readonly_password"]
        .as_str()
        .expect("readonly password")
        .to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secrets_file)
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "bootstrap-secrets.json is {mode:o}");
    }
    // The generated password works.
    let res = reqwest::Client::new()
        .post(format!("{}/users/auth/_login", server.base))
        .json(&json!({"username": "admin", "password": admin}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    server.stop();
    // Printed once on stdout, on purpose; never in the log nor the database.
    let printed = std::fs::read_to_string(&out).unwrap();
    assert!(printed.contains(&admin) && printed.contains(&readonly));
    let secrets = vec![
        ("admin".to_string(), admin),
        ("readonly".to_string(), readonly),
    ];
    let hits = scan(&files_to_scan(&data, &[&log]), &secrets);
    assert!(hits.is_empty(), "generated passwords found: {hits:#?}");
}
