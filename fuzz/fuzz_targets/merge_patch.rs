//! JSON bodies and JSON Merge Patch: `json::parse`, `json::merge`, then the validations that
//! PATCH /account and the user endpoints run on the merged document.
//!
//! The input is parsed as a request body. When it is a two-element array `[target, patch]` the
//! pair is merged as is; every parsed value is also used as a patch of the stored account settings
//! and of a stored user (what PATCH /account, PATCH /users/{name} and PATCH /user do).
//!
//! Invariants: nothing panics; `merge` is idempotent (`merge(merge(t, p), p) == merge(t, p)`),
//! a non-object patch replaces the target, an object patch yields an object without the keys it
//! nulls; an accepted account document has a boolean `trust_all`; an accepted user document has
//! known, distinct roles, a password of 8 to 128 characters, a full name and an email without
//! control characters, and the same document validates the same way twice.
#![no_main]

use chrono::{TimeZone, Utc};
use ece_server::http::json::{merge, parse};
use ece_server::domain::model::UserRecord;
use ece_server::domain::roles::Role;
use ece_server::domain::users::{to_json, UserDoc, MAX_PASSWORD, MIN_PASSWORD};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

fn stored_user() -> UserRecord {
    let t = Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap();
    UserRecord {
        user_name: "alice".into(),
        full_name: Some("Alice".into()),
        email: Some("alice@example.com".into()),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        roles: vec![Role::PlatformViewer],
        deployments: Vec::new(),
        enabled: true,
        builtin: false,
        created_at: t,
        created_by: Some("admin".into()),
        updated_at: t,
        updated_by: Some("admin".into()),
        first_login_at: Some(t),
        last_login_at: None,
        version: 3,
    }
}

/// RFC 7396 properties of one merge.
fn check_merge(target: &Value, patch: &Value) -> Value {
    let merged = merge(target, patch);
    assert_eq!(merge(&merged, patch), merged, "merge is not idempotent");
    match patch.as_object() {
        None => assert_eq!(&merged, patch, "a non-object patch must replace the target"),
        Some(p) => {
            let m = merged
                .as_object()
                .expect("an object patch yields an object");
            for (k, v) in p {
                if v.is_null() {
                    assert!(
                        !m.contains_key(k),
                        "key {k:?} nulled by the patch is still there"
                    );
                } else {
                    assert!(m.contains_key(k), "key {k:?} set by the patch is missing");
                }
            }
            if let Some(t) = target.as_object() {
                for (k, v) in t {
                    if !p.contains_key(k) {
                        assert_eq!(
                            m.get(k),
                            Some(v),
                            "key {k:?} untouched by the patch changed"
                        );
                    }
                }
            }
        }
    }
    merged
}

fn check_account(doc: &Value) {
    if let Ok(trust) = ece_server::http::validate_account(doc) {
        assert!(
            trust.get("trust_all").is_some_and(Value::is_boolean),
            "accepted trust settings without a boolean trust_all: {trust}"
        );
    }
}

fn check_user(doc: &Value, current: Option<&UserRecord>) {
    let check = || {
        ece_server::http::user_doc(doc)
            .and_then(|d: UserDoc| d.validate(current).map_err(Into::into))
    };
    let (first, second) = (check(), check());
    assert_eq!(
        first.is_ok(),
        second.is_ok(),
        "validation is not deterministic"
    );
    if let (Err(a), Err(b)) = (&first, &second) {
        assert_eq!(a.code, b.code);
        assert!(
            (400..500).contains(&a.code.http_status()),
            "validation failed with {:?}",
            a.code
        );
    }
    let Ok(wanted) = first else { return };
    let mut seen = Vec::new();
    for r in &wanted.roles {
        assert!(Role::ALL.contains(r), "unknown role {r:?} accepted");
        assert!(!seen.contains(r), "duplicate role {r:?} accepted");
        seen.push(*r);
    }
    if let Some(p) = &wanted.password {
        assert!((MIN_PASSWORD..=MAX_PASSWORD).contains(&p.chars().count()));
    }
    for text in [&wanted.full_name, &wanted.email].into_iter().flatten() {
        assert!(!text.is_empty() && !text.contains(char::is_control));
    }
    if let Some(e) = &wanted.email {
        assert!(e.contains('@'));
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = parse::<Value>(data) else {
        // Typed parsing of the same bytes must not panic either.
        let _ = parse::<UserDoc>(data);
        return;
    };
    let _ = parse::<UserDoc>(data);

    if let Some([target, patch]) = value.as_array().map(Vec::as_slice) {
        let merged = check_merge(target, patch);
        check_account(&merged);
        check_user(&merged, None);
    }

    // PUT /account and POST /users validate the body itself.
    check_account(&value);
    check_user(&value, None);

    // PATCH /account: the patch applied to the stored settings.
    for trust in [
        json!({"trust_all": true}),
        json!({"trust_all": false, "x": [1]}),
    ] {
        let merged = check_merge(&json!({ "trust": trust }), &value);
        check_account(&merged);
    }

    // PATCH /users/{name}: the patch applied to the user as GET returns it.
    let current = stored_user();
    let merged = check_merge(&to_json(&current), &value);
    check_user(&merged, Some(&current));
});
