//! `security::credentials::parse_authorization` on arbitrary header bytes.
//!
//! Invariants: never panics; non-UTF-8 input is refused; `Basic` never yields an empty user, a
//! user containing ':' or credentials containing NUL; `ApiKey`/`Bearer` secrets are non-empty, at
//! most 1024 bytes and contain no whitespace; whatever is accepted parses back to the same
//! credentials when re-encoded; and any `user:password` text whose base64 fits is accepted as
//! Basic exactly when its user is non-empty and it has no NUL.
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ece_server::security::credentials::{parse_authorization, Credentials};
use libfuzzer_sys::fuzz_target;

/// `MAX_CREDENTIAL_LEN` of src/security/credentials.rs.
const MAX_CREDENTIAL_LEN: usize = 1024;

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

fuzz_target!(|data: &[u8]| {
    let parsed = parse_authorization(data);
    if std::str::from_utf8(data).is_err() {
        assert!(parsed.is_none(), "non-UTF-8 header accepted: {parsed:?}");
    }
    match &parsed {
        None => {}
        Some(Credentials::Basic { user, password }) => {
            assert!(!user.is_empty(), "Basic with an empty user");
            assert!(!user.contains(':'), "Basic user contains ':': {user:?}");
            assert!(
                !user.contains('\0') && !password.contains('\0'),
                "Basic credentials with a NUL accepted"
            );
            let again = parse_authorization(basic(user, password).as_bytes());
            assert_eq!(again.as_ref(), parsed.as_ref(), "Basic does not round-trip");
        }
        Some(Credentials::ApiKey(secret)) | Some(Credentials::Bearer(secret)) => {
            assert!(!secret.is_empty(), "empty secret accepted");
            assert!(
                secret.len() <= MAX_CREDENTIAL_LEN,
                "overlong secret accepted"
            );
            assert!(
                !secret.contains(char::is_whitespace),
                "secret with whitespace accepted"
            );
            let scheme = match parsed {
                Some(Credentials::ApiKey(_)) => "ApiKey",
                _ => "Bearer",
            };
            let again = parse_authorization(format!("{scheme} {secret}").as_bytes());
            assert_eq!(
                again.as_ref(),
                parsed.as_ref(),
                "{scheme} does not round-trip"
            );
        }
    }

    // The same bytes as the decoded `user:password` of a Basic header.
    if let Ok(text) = std::str::from_utf8(data) {
        let encoded = format!("Basic {}", STANDARD.encode(text));
        if encoded.len() - "Basic ".len() <= MAX_CREDENTIAL_LEN {
            let got = parse_authorization(encoded.as_bytes());
            match text.split_once(':') {
                Some((user, password)) if !user.is_empty() && !text.contains('\0') => assert_eq!(
                    got,
                    Some(Credentials::Basic {
                        user: user.to_string(),
                        password: password.to_string()
                    }),
                    "valid Basic credentials refused"
                ),
                _ => assert_eq!(got, None, "Basic without a user, or with a NUL, accepted"),
            }
        }
    }
});
