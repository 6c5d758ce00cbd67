//! The hostile-input harness: the wrong values for each kind of field, whole bodies no endpoint
//! accepts, one bounded request checked to be answered with a conforming 4xx envelope, the barrage
//! of one endpoint, and the stored state (account, users, keys) it must leave unchanged.

use std::time::Duration;

use reqwest::header::HeaderValue;
use serde_json::{json, Value};

use crate::helpers::{Auth, Reply, TestApp, ADMIN_PASSWORD};

/// No request may take longer (the server's own request timeout is 30 s).
const BOUND: Duration = Duration::from_secs(25);
/// The server's default body limit (`--max-body-bytes`).
const LIMIT: usize = 1024 * 1024;

/// What a field expects, which decides the values that are wrong for it.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Kind {
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

pub(super) struct Field {
    pointer: &'static str,
    kind: Kind,
    /// `null` is a valid value here (absent, or "remove" in a merge patch): not sent.
    nullable: bool,
}

pub(super) const fn field(pointer: &'static str, kind: Kind, nullable: bool) -> Field {
    Field {
        pointer,
        kind,
        nullable,
    }
}

pub(super) struct Endpoint {
    pub(super) method: &'static str,
    pub(super) path: String,
    pub(super) auth: Auth,
    /// A valid body, of which one field at a time is replaced.
    pub(super) base: Value,
    pub(super) fields: Vec<Field>,
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
pub(super) async fn hostile(
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

pub(super) fn shorten(s: &str) -> String {
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

pub(super) fn header(auth: &Auth) -> Option<HeaderValue> {
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
pub(super) async fn snapshot(app: &TestApp, admin: &Auth) -> Value {
    json!({
        "account": app.get("/account", admin).await.expect(200),
        "users": app.get("/users?include_disabled=true", admin).await.expect(200),
        "keys": app.get("/users/auth/keys/_all", admin).await.expect(200),
    })
}

/// A user for the barrage to aim at and a native user with a key, both signed in; plus the
/// admin's bearer token. Signing in first keeps the login stamps out of the comparison.
pub(super) struct World {
    pub(super) admin: Auth,
    pub(super) keyuser: Auth,
}

pub(super) async fn world(app: &TestApp) -> World {
    app.create_user("alice", &["ece_platform_viewer"]).await;
    let keyuser = app.create_user("keyuser", &["ece_platform_viewer"]).await;
    app.create_key(&keyuser, Some("1d")).await;
    World {
        admin: Auth::Bearer(app.login("admin", ADMIN_PASSWORD).await),
        keyuser: Auth::Bearer(app.login("keyuser", "keyuser-password").await),
    }
}

/// Runs `endpoints` through the barrage and checks nothing changed and the server still serves.
pub(super) async fn run(app: &TestApp, w: &World, endpoints: Vec<Endpoint>) {
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
