//! Hostile input: malformed, oversized, deeply nested, mistyped and odd-Unicode bodies on every
//! endpoint that takes one, long and percent-garbled path parameters, and hostile `Authorization`
//! headers. Each request must be answered, within a bound, with a 4xx ECE envelope (never a 5xx, a
//! panic or a hang); nothing stored may change; and the server must keep serving afterwards.
//!
//! Bodies are built from a valid body per endpoint: one field at a time is replaced by raw JSON
//! text (so invalid UTF-8, raw NUL bytes and out-of-range numbers can be sent), with the values that
//! are wrong for that field's kind.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::header::HeaderValue;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Auth, Reply, TestApp, ADMIN_PASSWORD};

/// No request may take longer (the server's own request timeout is 30 s).
const BOUND: Duration = Duration::from_secs(25);
/// The server's default body limit (`--max-body-bytes`).
const LIMIT: usize = 1024 * 1024;

/// What a field expects, which decides the values that are wrong for it.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// A string with a strict grammar (a user name, a role, a duration): odd Unicode is refused.
    Strict,
    /// Free text of bounded length (a full name, a password): broken strings and 1 MB are refused.
    Text,
    /// Any string is acceptable (e.g. ids of keys to delete): only broken strings are refused.
    AnyString,
    Bool,
    Object,
    Array,
}

struct Field {
    pointer: &'static str,
    kind: Kind,
    /// `null` is a valid value here (absent, or "remove" in a merge patch): not sent.
    nullable: bool,
}

const fn field(pointer: &'static str, kind: Kind, nullable: bool) -> Field {
    Field {
        pointer,
        kind,
        nullable,
    }
}

struct Endpoint {
    method: &'static str,
    path: String,
    auth: Auth,
    /// A valid body, of which one field at a time is replaced.
    base: Value,
    fields: Vec<Field>,
}

/// The raw JSON text of a value that is wrong for a field of kind `kind`, with a label.
fn wrong_values(kind: Kind, nullable: bool, room: usize) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |label: &str, raw: &[u8]| out.push((label.to_string(), raw.to_vec()));
    // Wrong types, and numbers serde_json cannot hold or that are not what they seem.
    if !nullable {
        add("null", b"null");
    }
    if kind != Kind::Bool {
        add("bool", b"true");
    }
    add("number", b"1");
    add("-0", b"-0");
    add("2^64", b"18446744073709551616");
    add("1e400", b"1e400");
    add("-1e400", b"-1e400");
    if kind != Kind::Array {
        add("array", b"[\"x\"]");
    }
    if kind != Kind::Object {
        add("object", b"{\"a\":\"b\"}");
    }
    if !matches!(kind, Kind::Strict | Kind::Text | Kind::AnyString) {
        add("string", b"\"x\"");
    }
    add(
        "10k-deep array",
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).as_bytes(),
    );
    add(
        "10k-deep object",
        format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000)).as_bytes(),
    );
    // Broken strings: refused whatever the field.
    add("escaped NUL", b"\"\\u0000\"");
    add("escaped NUL inside", b"\"ece\\u0000admin\"");
    add("raw NUL byte", b"\"ece\x00admin\"");
    add("invalid UTF-8", b"\"\xff\xfe\"");
    add("truncated UTF-8", b"\"\xc3\"");
    add("overlong UTF-8", b"\"\xc0\xaf\"");
    add("UTF-16 surrogate as UTF-8", b"\"\xed\xa0\x80\"");
    add("lone high surrogate", b"\"\\ud800\"");
    add("lone low surrogate", b"\"\\udfff\"");
    add("reversed surrogates", b"\"\\udc00\\ud800\"");
    if matches!(kind, Kind::Strict) {
        add("RTL mark", "\"\u{200f}admin\"".as_bytes());
        add("RTL override", "\"\u{202e}nimda\"".as_bytes());
        add("zero-width space", "\"ad\u{200b}min\"".as_bytes());
        add("BOM", "\"\u{feff}admin\"".as_bytes());
        add(
            "combining marks",
            "\"a\u{301}\u{301}\u{301}dmin\"".as_bytes(),
        );
    }
    if matches!(kind, Kind::Strict | Kind::Text) {
        add(
            "1 MB string",
            format!("\"{}\"", "a".repeat(room)).as_bytes(),
        );
    }
    out
}

/// Replaces the value at `pointer` in `base` by the raw JSON text `raw`.
fn with_raw(base: &Value, pointer: &str, raw: &[u8]) -> Vec<u8> {
    const HOLE: &str = "\u{1}hole\u{1}";
    let mut doc = base.clone();
    *doc.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in {base}")) = json!(HOLE);
    let text = serde_json::to_vec(&doc).unwrap();
    let hole = serde_json::to_vec(HOLE).unwrap();
    let at = text
        .windows(hole.len())
        .position(|w| w == hole.as_slice())
        .unwrap();
    [&text[..at], raw, &text[at + hole.len()..]].concat()
}

/// Whole bodies that no endpoint accepts, given its valid body.
fn hostile_bodies(base: &Value) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |label: &str, raw: Vec<u8>| out.push((label.to_string(), raw));
    add("empty body", Vec::new());
    add("whitespace only", b" \t\r\n  ".to_vec());
    add("NUL bytes only", vec![0; 16]);
    add(
        "raw NUL before the body",
        [&[0u8][..], &serde_json::to_vec(base).unwrap()].concat(),
    );
    add(
        "raw NUL after the body",
        [&serde_json::to_vec(base).unwrap()[..], &[0u8][..]].concat(),
    );
    for scalar in ["42", "-0", "1e400", "\"a string\"", "true", "null", "[]"] {
        add(&format!("bare scalar {scalar}"), scalar.as_bytes().to_vec());
    }
    add(
        "10k-deep arrays",
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
    );
    add(
        "10k-deep objects",
        format!("{}null{}", "{\"a\":".repeat(10_000), "}".repeat(10_000)).into_bytes(),
    );
    add("10k-deep unclosed", "{\"a\":[".repeat(10_000).into_bytes());
    add("invalid UTF-8 outside strings", b"{\xff\xfe}".to_vec());
    add(
        "UTF-16 body",
        "{}".encode_utf16().flat_map(u16::to_le_bytes).collect(),
    );
    add(
        "UTF-8 BOM",
        [&b"\xef\xbb\xbf"[..], &serde_json::to_vec(base).unwrap()].concat(),
    );
    // Duplicate keys, at the top and nested, with the same and with a different value.
    let obj = base.as_object().unwrap();
    let (k, v) = obj.iter().next().unwrap();
    let pairs: Vec<String> = obj
        .iter()
        .map(|(k, v)| format!("{}:{}", json!(k), v))
        .collect();
    add(
        "duplicate key, same value",
        format!("{{{},{}:{}}}", pairs.join(","), json!(k), v).into_bytes(),
    );
    add(
        "duplicate key, other value",
        format!("{{{},{}:{}}}", pairs.join(","), json!(k), json!("other")).into_bytes(),
    );
    add(
        "duplicate nested key",
        format!("{{{},\"x\":{{\"a\":1,\"a\":2}}}}", pairs.join(",")).into_bytes(),
    );
    // Extra keys that are broken: NUL, invalid UTF-8, a lone surrogate.
    for (label, key) in [
        ("NUL in a key", &b"\"k\\u0000\""[..]),
        ("raw NUL in a key", b"\"k\x00\""),
        ("invalid UTF-8 in a key", b"\"\xff\""),
        ("lone surrogate in a key", b"\"\\ud800\""),
    ] {
        add(
            label,
            [
                &b"{"[..],
                key,
                b":1,",
                &serde_json::to_vec(base).unwrap()[1..],
            ]
            .concat(),
        );
    }
    // Just over the body limit.
    add(
        "body over 1 MiB",
        format!("{{\"x\":\"{}\"}}", "a".repeat(LIMIT)).into_bytes(),
    );
    add("1 MiB of spaces and a byte", {
        let mut b = vec![b' '; LIMIT];
        b.push(b'{');
        b
    });
    out
}

/// Sends one request, bounded in time, and checks the reply is a 4xx ECE envelope that conforms
/// to the swagger.
async fn hostile(
    app: &TestApp,
    label: &str,
    method: &str,
    path: &str,
    auth: Option<HeaderValue>,
    body: Option<Vec<u8>>,
) -> Reply {
    let mut req = app.client.request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        format!("{}{path}", app.base),
    );
    if let Some(h) = auth {
        req = req.header("authorization", h);
    }
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    let what = format!("{method} {} [{label}]", shorten(path));
    let (status, headers, bytes) = tokio::time::timeout(BOUND, async {
        let res = req.send().await.unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap_or_else(|e| panic!("{what}: {e}"));
        (status, headers, bytes)
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: no reply within {BOUND:?}"));
    let body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        panic!(
            "{what}: {status} with a body that is not JSON: {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        )
    });
    assert!(
        (400..500).contains(&status) && status != 408,
        "{what}: expected a 4xx, got {status}: {}",
        shorten(&body.to_string())
    );
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        ct.starts_with("application/json"),
        "{what}: content type [{ct}]"
    );
    let code = body["errors"][0]["code"].as_str().unwrap_or("");
    assert!(
        !code.is_empty() && body["errors"][0]["message"].is_string(),
        "{what}: not an ECE envelope: {}",
        shorten(&body.to_string())
    );
    crate::spec::check(method, path, status, &headers, &body);
    Reply {
        status,
        headers,
        body,
    }
}

fn shorten(s: &str) -> String {
    if s.len() <= 120 {
        s.to_string()
    } else {
        let mut end = 120;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}... ({} bytes)", &s[..end], s.len())
    }
}

fn header(auth: &Auth) -> Option<HeaderValue> {
    match auth {
        Auth::None => None,
        Auth::Bearer(t) => Some(HeaderValue::from_str(&format!("Bearer {t}")).unwrap()),
        other => panic!("use a bearer token, not {other:?}"),
    }
}

/// Sends every hostile body and every wrong field value to `ep`; returns how many were sent.
async fn barrage(app: &TestApp, ep: &Endpoint) -> usize {
    let auth = header(&ep.auth);
    let base_len = serde_json::to_vec(&ep.base).unwrap().len();
    let mut sent = 0;
    for (label, body) in hostile_bodies(&ep.base) {
        let over = body.len() > LIMIT;
        let r = hostile(app, &label, ep.method, &ep.path, auth.clone(), Some(body)).await;
        if over {
            assert_eq!(r.status, 413, "{} {} [{label}]", ep.method, ep.path);
        }
        sent += 1;
    }
    for f in &ep.fields {
        for (label, raw) in wrong_values(f.kind, f.nullable, LIMIT - base_len - 64) {
            let body = with_raw(&ep.base, f.pointer, &raw);
            assert!(body.len() <= LIMIT);
            let label = format!("{} = {label}", f.pointer);
            hostile(app, &label, ep.method, &ep.path, auth.clone(), Some(body)).await;
            sent += 1;
        }
    }
    sent
}

/// What the barrage must leave untouched: the account, every user, every API key.
async fn snapshot(app: &TestApp, admin: &Auth) -> Value {
    json!({
        "account": app.get("/account", admin).await.expect(200),
        "users": app.get("/users?include_disabled=true", admin).await.expect(200),
        "keys": app.get("/users/auth/keys/_all", admin).await.expect(200),
    })
}

/// A user for the barrage to aim at and a native user with a key, both signed in; plus the
/// admin's bearer token. Signing in first keeps the login stamps out of the comparison.
struct World {
    admin: Auth,
    keyuser: Auth,
}

async fn world(app: &TestApp) -> World {
    app.create_user("alice", &["ece_platform_viewer"]).await;
    let keyuser = app.create_user("keyuser", &["ece_platform_viewer"]).await;
    app.create_key(&keyuser, Some("1d")).await;
    World {
        admin: Auth::Bearer(app.login("admin", ADMIN_PASSWORD).await),
        keyuser: Auth::Bearer(app.login("keyuser", "keyuser-password").await),
    }
}

/// Runs `endpoints` through the barrage and checks nothing changed and the server still serves.
async fn run(app: &TestApp, w: &World, endpoints: Vec<Endpoint>) {
    let before = snapshot(app, &w.admin).await;
    let mut sent = 0;
    for ep in &endpoints {
        sent += barrage(app, ep).await;
    }
    assert!(sent > 100, "only {sent} hostile requests were sent");
    eprintln!("hostile: {sent} requests, each a 4xx envelope");
    assert_eq!(
        snapshot(app, &w.admin).await,
        before,
        "the barrage changed stored state"
    );
    app.get("/users/auth/methods", &Auth::None)
        .await
        .expect(200);
}

#[tokio::test]
async fn hostile_bodies_on_account() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let endpoints = ["PUT", "PATCH"]
        .into_iter()
        .map(|method| Endpoint {
            method,
            path: "/account".into(),
            auth: w.admin.clone(),
            base: json!({"trust": {"trust_all": true}}),
            fields: vec![
                field("/trust", Kind::Object, true),
                field("/trust/trust_all", Kind::Bool, false),
            ],
        })
        .collect();
    run(&app, &w, endpoints).await;
}

#[tokio::test]
async fn hostile_bodies_on_users() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let endpoints = vec![
        Endpoint {
            method: "POST",
            path: "/users".into(),
            auth: w.admin.clone(),
            base: json!({
                "user_name": "mallory",
                "full_name": "Mallory",
                "email": "mallory@example.com",
                "security": {
                    "password": "mallory-password",
                    "roles": ["ece_platform_viewer"],
                    "enabled": true
                }
            }),
            fields: vec![
                field("/user_name", Kind::Strict, false),
                field("/full_name", Kind::Text, true),
                field("/email", Kind::Strict, true),
                field("/security", Kind::Object, false),
                field("/security/password", Kind::Text, false),
                field("/security/roles", Kind::Array, true),
                field("/security/roles/0", Kind::Strict, false),
                field("/security/enabled", Kind::Bool, true),
            ],
        },
        Endpoint {
            method: "PATCH",
            path: "/users/alice".into(),
            auth: w.admin.clone(),
            base: json!({
                "full_name": "Alice",
                "email": "alice@example.com",
                "security": {
                    "password": "alice-new-password",
                    "roles": ["ece_platform_viewer"],
                    "enabled": true
                }
            }),
            // In a merge patch `null` removes a field: always valid.
            fields: vec![
                field("/full_name", Kind::Text, true),
                field("/email", Kind::Strict, true),
                field("/security", Kind::Object, true),
                field("/security/password", Kind::Text, true),
                field("/security/roles", Kind::Array, true),
                field("/security/roles/0", Kind::Strict, false),
                field("/security/enabled", Kind::Bool, true),
            ],
        },
        Endpoint {
            method: "POST",
            path: "/users/alice/role_assignments".into(),
            auth: w.admin.clone(),
            base: json!({"platform": [{"role_id": "ece_platform_viewer"}]}),
            fields: vec![
                field("/platform", Kind::Array, true),
                field("/platform/0", Kind::Object, false),
                field("/platform/0/role_id", Kind::Strict, false),
            ],
        },
        Endpoint {
            method: "POST",
            path: "/users/alice/role_assignments".into(),
            auth: w.admin.clone(),
            base: json!({"deployment": [{
                "role_id": "ece_deployment_viewer",
                "organization_id": "org",
                "all": true
            }]}),
            fields: vec![
                field("/deployment", Kind::Array, true),
                field("/deployment/0/role_id", Kind::Strict, false),
                field("/deployment/0/organization_id", Kind::AnyString, false),
                field("/deployment/0/all", Kind::Bool, false),
            ],
        },
    ];
    // The deployment base body is valid: send it first so that the barrage is a no-op change.
    app.post(
        "/users/alice/role_assignments",
        &w.admin,
        endpoints[3].base.clone(),
    )
    .await
    .expect(200);
    run(&app, &w, endpoints).await;
}

#[tokio::test]
async fn hostile_bodies_on_keys() {
    let app = spawn_app().await;
    let w = world(&app).await;
    let endpoints = vec![
        Endpoint {
            method: "POST",
            path: "/users/auth/keys".into(),
            auth: w.keyuser.clone(),
            base: json!({
                "description": "a key",
                "expiration": "1d",
                "role_assignments": {"platform": [{"role_id": "ece_platform_viewer"}]}
            }),
            fields: vec![
                field("/description", Kind::Text, false),
                field("/expiration", Kind::Strict, true),
                field("/role_assignments", Kind::Object, true),
                field("/role_assignments/platform", Kind::Array, true),
                field("/role_assignments/platform/0/role_id", Kind::Strict, false),
            ],
        },
        Endpoint {
            method: "DELETE",
            path: "/users/auth/keys".into(),
            auth: w.keyuser.clone(),
            base: json!({"keys": ["no-such-key"]}),
            fields: vec![
                field("/keys", Kind::Array, false),
                field("/keys/0", Kind::AnyString, false),
            ],
        },
    ];
    // Expirations beyond the bounds, some far enough to overflow a duration.
    let before = snapshot(&app, &w.admin).await;
    for expiration in [
        "306013360y",
        "999999999y",
        "999999999s",
        "0m",
        "-1d",
        "3651d",
        "1e3d",
        "never never",
    ] {
        let body = json!({"description": "a key", "expiration": expiration});
        let body = Some(serde_json::to_vec(&body).unwrap());
        let r = hostile(
            &app,
            expiration,
            "POST",
            "/users/auth/keys",
            header(&w.keyuser),
            body,
        )
        .await;
        r.expect_error(400, "api_keys.invalid_input");
    }
    assert_eq!(snapshot(&app, &w.admin).await, before);
    run(&app, &w, endpoints).await;
}

#[tokio::test]
async fn hostile_bodies_on_login() {
    let app = spawn_app().await;
    let w = world(&app).await;
    // Wrong credentials: whatever slips through the parser is refused with 401, never signs in.
    // Few enough password checks fail that brute-force protection does not start.
    let endpoints = vec![Endpoint {
        method: "POST",
        path: "/users/auth/_login".into(),
        auth: Auth::None,
        base: json!({
            "username": "admin",
            "password": "not-the-password",
            "login_state": {"path": "/deployments"}
        }),
        fields: vec![
            field("/username", Kind::Strict, false),
            field("/password", Kind::AnyString, false),
            field("/login_state", Kind::Object, true),
            field("/login_state/path", Kind::AnyString, true),
        ],
    }];
    run(&app, &w, endpoints).await;
}

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
