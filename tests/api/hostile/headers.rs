//! Hostile `Authorization` headers: empty, oversized, malformed Basic, bearer and API key
//! credentials, odd bytes; each is answered with a 4xx envelope and changes nothing.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::header::HeaderValue;
use serde_json::json;

use super::harness::{hostile, snapshot, world};
use crate::helpers::{spawn_app, Auth, ADMIN_PASSWORD};

#[tokio::test]
async fn hostile_authorization_headers() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let before = snapshot(&app, &w.admin).await;
    let b64 = |raw: &[u8]| STANDARD.encode(raw);
    let admin_pw = format!("admin:{ADMIN_PASSWORD}");
    let long_basic = format!("admin:{}", "p".repeat(10_000));
    let headers: Vec<(&str, Vec<u8>)> = vec![
        ("empty", b"".to_vec()),
        (
            "10 kB bearer",
            format!("Bearer {}", "a".repeat(10_240)).into_bytes(),
        ),
        (
            "10 kB api key",
            format!("ApiKey {}", "a".repeat(10_240)).into_bytes(),
        ),
        (
            "10 kB basic",
            format!("Basic {}", b64(long_basic.as_bytes())).into_bytes(),
        ),
        ("10 kB scheme", "B".repeat(10_240).into_bytes()),
        ("non-ASCII bytes", b"Basic \xff\xfe\x80\x81".to_vec()),
        ("non-ASCII bearer", b"Bearer \xc3\xa9t\xc3\xa9".to_vec()),
        ("non-ASCII scheme", b"B\xc3\xa1sic YWRtaW46eA==".to_vec()),
        (
            "basic without a colon",
            format!("Basic {}", b64(b"adminpassword")).into_bytes(),
        ),
        (
            "basic of invalid UTF-8",
            format!("Basic {}", b64(b"\xff\xfe:\xff")).into_bytes(),
        ),
        (
            "basic of invalid UTF-8 password",
            format!("Basic {}", b64(b"admin:\xff\xfe")).into_bytes(),
        ),
        (
            "basic with an empty user",
            format!("Basic {}", b64(b":password")).into_bytes(),
        ),
        (
            "basic of a lone colon",
            format!("Basic {}", b64(b":")).into_bytes(),
        ),
        (
            "basic with NUL in the user",
            format!("Basic {}", b64(b"\0admin:x")).into_bytes(),
        ),
        (
            "basic with NUL in the password",
            format!(
                "Basic {}",
                b64(format!("admin:{ADMIN_PASSWORD}\0").as_bytes())
            )
            .into_bytes(),
        ),
        (
            "basic with NUL only",
            format!("Basic {}", b64(b"\0:\0")).into_bytes(),
        ),
        (
            "basic with RTL override",
            format!("Basic {}", b64("\u{202e}nimda:x".as_bytes())).into_bytes(),
        ),
        (
            "basic of 700 colons",
            format!("Basic {}", b64(&[b':'; 700])).into_bytes(),
        ),
        ("basic, bad padding", b"Basic YWRtaW46eA=".to_vec()),
        ("basic, only padding", b"Basic ====".to_vec()),
        (
            "basic, url-safe alphabet",
            format!(
                "Basic {}",
                base64::engine::general_purpose::URL_SAFE.encode(b"\xfb\xff:x")
            )
            .into_bytes(),
        ),
        (
            "basic with spaces inside",
            format!("Basic {} {}", b64(admin_pw.as_bytes()), b64(b"x")).into_bytes(),
        ),
        (
            "scheme only, many spaces",
            format!("Basic{}", " ".repeat(5_000)).into_bytes(),
        ),
        ("spaces only", " ".repeat(5_000).into_bytes()),
        (
            "many spaces, wrong password",
            format!("Basic{}{}", " ".repeat(5_000), b64(b"admin:wrong-password")).into_bytes(),
        ),
        (
            "tab separator",
            format!("Basic\t{}", b64(admin_pw.as_bytes())).into_bytes(),
        ),
        ("bearer with a tab inside", b"Bearer abc\tdef".to_vec()),
        (
            "two schemes",
            format!("Bearer x, Basic {}", b64(admin_pw.as_bytes())).into_bytes(),
        ),
        (
            "unknown scheme",
            format!("Digest {}", b64(admin_pw.as_bytes())).into_bytes(),
        ),
        (
            "bearer of a basic credential",
            format!("Bearer {}", b64(admin_pw.as_bytes())).into_bytes(),
        ),
        ("api key of NULs escaped", b"ApiKey %00%00".to_vec()),
    ];
    let mut sent = 0;
    for (label, raw) in &headers {
        let value = HeaderValue::from_bytes(raw).unwrap_or_else(|e| panic!("{label}: {e}"));
        for (method, path, body) in [
            ("GET", "/account", None),
            (
                "PATCH",
                "/account",
                Some(json!({"trust": {"trust_all": false}})),
            ),
            ("GET", "/users", None),
            (
                "POST",
                "/users",
                Some(json!({"user_name": "mallory", "security": {"password": "mallory-password"}})),
            ),
            ("PATCH", "/users/alice", Some(json!({"full_name": "x"}))),
            (
                "POST",
                "/users/auth/keys",
                Some(json!({"description": "k"})),
            ),
            ("DELETE", "/users/auth/keys", Some(json!({"keys": ["x"]}))),
            (
                "POST",
                "/users/alice/role_assignments",
                Some(json!({"platform": [{"role_id": "ece_platform_admin"}]})),
            ),
        ] {
            let body = body.map(|b| serde_json::to_vec(&b).unwrap());
            let r = hostile(&app, label, method, path, Some(value.clone()), body).await;
            // 429 once the wrong passwords among these reach the brute-force threshold.
            assert!(
                matches!(r.status, 401 | 429),
                "{method} {path} [{label}]: {}",
                r.body
            );
            sent += 1;
        }
    }
    assert!(sent > 200);
    eprintln!("hostile: {sent} requests, each a 4xx envelope");
    assert_eq!(snapshot(&app, &w.admin).await, before);
    app.get("/users/auth/methods", &Auth::None)
        .await
        .expect(200);
}
