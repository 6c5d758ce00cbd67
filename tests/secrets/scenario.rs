//! The scenario of the secrets scan: known passwords, bearer tokens, API keys and realm secrets go
//! through the real binary logging at debug level; then the database files and the log are
//! scanned for every one of them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::json;

use super::*;

#[tokio::test]
async fn no_secret_reaches_the_database_files_or_the_debug_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let out = dir.path().join("server.out");
    let env = [
        ("ECE_ADMIN_PASSWORD", ADMIN_PASSWORD),
        ("ECE_READONLY_PASSWORD", READONLY_PASSWORD),
        // Small thresholds so that the failures below also exercise throttling.
        ("ECE_BRUTE_FORCE_MAX_FAILURES", "3"),
    ];
    let server = Server::start(&data, &env, &out, &log).await;
    let (c, base) = (reqwest::Client::new(), server.base.clone());
    let url = |p: &str| format!("{base}{p}");
    use reqwest::Method as M;

    let mut secrets: Vec<(String, String)> = vec![
        ("admin password".into(), ADMIN_PASSWORD.into()),
        ("readonly password".into(), READONLY_PASSWORD.into()),
    ];
    let mut secret = |label: &str, value: &str| secrets.push((label.into(), value.into()));

    // Login, refresh.
    let login = |user: &str, password: &str| json!({"username": user, "password": password});
    let (s, body) = call(
        &c,
        M::POST,
        url("/users/auth/_login"),
        None,
        Some(login("admin", ADMIN_PASSWORD)),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let t1 = body["token"].as_str().unwrap().to_string();
    secret("login token", &t1);
    let (s, body) = call(
        &c,
        M::POST,
        url("/users/auth/_refresh"),
        Some(format!("Bearer {t1}")),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let t2 = body["token"].as_str().unwrap().to_string();
    secret("refreshed token", &t2);
    let admin = Some(format!("Bearer {t2}"));

    // Create a user; Basic authentication as them; change their password (self-service).
    let (p1, p2) = ("Scan-User-First-Pw-91d2", "Scan-User-Second-Pw-55e0");
    secret("user password 1", p1);
    secret("user password 2", p2);
    let new_user = json!({"user_name": "scanner", "security": {"password": p1, "roles": ["ece_platform_viewer"]}});
    let (s, body) = call(&c, M::POST, url("/users"), admin.clone(), Some(new_user)).await;
    assert_eq!(s, 200, "{body}");
    let (s, _) = call(&c, M::GET, url("/user"), Some(basic("scanner", p1)), None).await;
    assert_eq!(s, 200);
    secret(
        "Basic header (user password 1)",
        &STANDARD.encode(format!("scanner:{p1}")),
    );
    let change = json!({"security": {"password": p2}});
    let (s, body) = call(
        &c,
        M::PATCH,
        url("/user"),
        Some(basic("scanner", p1)),
        Some(change),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    // An admin sets it again.
    let p3 = "Scan-User-Third-Pw-c4a7";
    secret("user password 3", p3);
    let set = json!({"security": {"password": p3}});
    let (s, body) = call(
        &c,
        M::PATCH,
        url("/users/scanner"),
        admin.clone(),
        Some(set),
    )
    .await;
    assert_eq!(s, 200, "{body}");

    // Login as the user, create an API key, use it, delete it.
    let (s, body) = call(
        &c,
        M::POST,
        url("/users/auth/_login"),
        None,
        Some(login("scanner", p3)),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let t3 = body["token"].as_str().unwrap().to_string();
    secret("user token", &t3);
    let user = Some(format!("Bearer {t3}"));
    let (s, body) = call(
        &c,
        M::POST,
        url("/users/auth/keys"),
        user.clone(),
        Some(json!({"description": "scan key"})),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let (key_id, key) = (
        body["id"].as_str().unwrap().to_string(),
        body["key"].as_str().unwrap().to_string(),
    );
    secret("API key", &key);
    let (s, _) = call(
        &c,
        M::GET,
        url("/user"),
        Some(format!("ApiKey {key}")),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = call(
        &c,
        M::DELETE,
        url(&format!("/users/auth/keys/{key_id}")),
        user.clone(),
        None,
    )
    .await;
    assert_eq!(s, 200);

    // Failed logins, Basic failures, throttling; a login_state redirect carrying a token.
    let wrong = [
        "Scan-Wrong-Pw-0001",
        "Scan-Wrong-Pw-0002",
        "Scan-Wrong-Pw-0003",
        "Scan-Wrong-Pw-0004",
    ];
    for (i, w) in wrong.iter().enumerate() {
        secret(&format!("wrong password {i}"), w);
        let (s, _) = call(
            &c,
            M::POST,
            url("/users/auth/_login"),
            None,
            Some(login("admin", w)),
        )
        .await;
        assert!(s == 401 || s == 429, "{s}");
        let (s, _) = call(
            &c,
            M::POST,
            url("/users/auth/_login"),
            None,
            Some(login("nobody", w)),
        )
        .await;
        assert!(s == 401 || s == 429, "{s}");
        let (s, _) = call(
            &c,
            M::GET,
            url("/users/auth"),
            Some(basic("readonly", w)),
            None,
        )
        .await;
        assert!(s == 401 || s == 429, "{s}");
        secret(
            &format!("Basic header (wrong password {i})"),
            &STANDARD.encode(format!("readonly:{w}")),
        );
    }
    let redirect =
        json!({"username": "scanner", "password": p3, "login_state": {"path": "/deployments"}});
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = no_redirects
        .post(url("/users/auth/_login"))
        .json(&redirect)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 302);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let t4 = location
        .split('#')
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    secret("redirect token", &t4);

    // A security realm with write-only secrets: created, updated with new ones, read back.
    let realms = "/platform/configuration/security/realms/ldap";
    let mut realm = json!({
        "id": "scan", "name": "Scan", "urls": ["ldaps://ldap.example.com"],
        "bind_anonymously": false, "bind_type": "user_search",
        "user_search": {"base_dn": "ou=people,dc=example,dc=com"},
        "bind_dn": "cn=svc,dc=example,dc=com", "bind_password": "Scan-Bind-Pw-5e1d07",
        "certificate_url": "https://certs.example.com/ca.zip",
        "certificate_url_truststore_password": "Scan-Truststore-Pw-c3a9"
    });
    secret("realm bind password", "Scan-Bind-Pw-5e1d07");
    secret("realm truststore password", "Scan-Truststore-Pw-c3a9");
    let (s, _) = call(&c, M::POST, url(realms), admin.clone(), Some(realm.clone())).await;
    assert_eq!(s, 201);
    realm["bind_password"] = json!("Scan-Bind-Pw-2-8b44f1");
    secret("second realm bind password", "Scan-Bind-Pw-2-8b44f1");
    let (s, _) = call(
        &c,
        M::PUT,
        url(&format!("{realms}/scan")),
        admin.clone(),
        Some(realm),
    )
    .await;
    assert_eq!(s, 200);
    let (s, got) = call(
        &c,
        M::GET,
        url(&format!("{realms}/scan")),
        admin.clone(),
        None,
    )
    .await;
    assert_eq!((s, got.get("bind_password")), (200, None));

    // Logout.
    let (s, _) = call(
        &c,
        M::POST,
        url("/users/auth/_logout"),
        user.clone(),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = call(
        &c,
        M::POST,
        url("/users/auth/_logout"),
        admin.clone(),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200);
    server.stop();

    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.contains("DEBUG"), "the log was not at debug level");
    assert!(
        log_text.contains("request finished") || log_text.contains("login"),
        "the log is too thin to prove anything"
    );
    let files = files_to_scan(&data, &[&log, &out]);
    // Control: the scan does find what is there (a user name, in the database and the log).
    let control = scan(&files, &[("control".into(), "scanner".into())]);
    assert!(control.iter().any(|h| h.contains("ece.db")), "{control:?}");
    assert!(
        control.iter().any(|h| h.contains("server.log")),
        "{control:?}"
    );
    let hits = scan(&files, &secrets);
    assert!(
        hits.is_empty(),
        "secrets found at rest or in logs: {hits:#?}"
    );
}
