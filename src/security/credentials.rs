//! The `Authorization` header as sent: `Basic`, `ApiKey` and `Bearer` credentials, parsed
//! without looking anything up. Checking them is the HTTP layer's middleware (`crate::http::auth`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Credentials as sent; a key or token borrows the header's bytes (visible ASCII; it is only
/// hashed, so it is not turned into a `str`).
#[derive(PartialEq, Eq)]
pub enum Credentials<'a> {
    Basic { user: String, password: String },
    ApiKey(&'a [u8]),
    Bearer(&'a [u8]),
}

impl std::fmt::Debug for Credentials<'_> {
    // Never print a secret, even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Basic { user, .. } => write!(f, "Basic({user}, ***)"),
            Credentials::ApiKey(_) => f.write_str("ApiKey(***)"),
            Credentials::Bearer(_) => f.write_str("Bearer(***)"),
        }
    }
}

/// Longest credential accepted; anything longer cannot be ours and is not worth hashing.
const MAX_CREDENTIAL_LEN: usize = 1024;

/// Parses an `Authorization` header value. `None` for anything malformed or of an unknown scheme.
pub fn parse_authorization(value: &[u8]) -> Option<Credentials<'_>> {
    // Bytes, not chars: every credential we issue is ASCII, so anything else is refused whole.
    // The scheme is a short token and the credential one run of visible ASCII (a header value
    // cannot hold a control character; a space inside the credential is refused): one pass
    // over each, as this runs on every request.
    let value = value.trim_ascii();
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = (&value[..space], value[space + 1..].trim_ascii_start());
    if rest.is_empty() || rest.len() > MAX_CREDENTIAL_LEN || !visible_ascii(rest) {
        return None;
    }
    if scheme.eq_ignore_ascii_case(b"basic") {
        let decoded = String::from_utf8(STANDARD.decode(rest).ok()?).ok()?;
        let (user, password) = decoded.split_once(':')?;
        // No user has an empty name or one with a NUL (PostgreSQL cannot even look such a name
        // up: the lookup failed and the request got a 503), and no password has a NUL either.
        if user.is_empty() || decoded.contains('\0') {
            return None;
        }
        Some(Credentials::Basic {
            user: user.to_string(),
            password: password.to_string(),
        })
    } else if scheme.eq_ignore_ascii_case(b"apikey") {
        Some(Credentials::ApiKey(rest))
    } else if scheme.eq_ignore_ascii_case(b"bearer") {
        Some(Credentials::Bearer(rest))
    } else {
        None
    }
}

/// Whether every byte is visible ASCII (`!` to `~`). Without an early exit, so that the compiler
/// checks many bytes at a time: a credential is 20 to 1,024 bytes, checked on every request.
fn visible_ascii(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .fold(true, |ok, &b| ok & (b.wrapping_sub(b'!') < b'~' - b'!' + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_schemes() {
        let basic = format!("Basic {}", STANDARD.encode("admin:pa:ss"));
        assert_eq!(
            parse_authorization(basic.as_bytes()),
            Some(Credentials::Basic {
                user: "admin".into(),
                password: "pa:ss".into()
            })
        );
        assert_eq!(
            parse_authorization(b"ApiKey abc"),
            Some(Credentials::ApiKey(&b"abc"[..]))
        );
        assert_eq!(
            parse_authorization(b"bearer xyz"),
            Some(Credentials::Bearer(&b"xyz"[..]))
        );
    }

    #[test]
    fn rejects_malformed_headers() {
        for bad in [
            &b""[..],
            b"Bearer",
            b"Bearer ",
            b"Token abc",
            b"Basic !!!",
            b"Basic Og==",
            b"ApiKey a b",
            b"\xff\xfe",
            "Bearer \u{a0}abc".as_bytes(),
            "ApiKey ab\u{2003}c".as_bytes(),
        ] {
            assert_eq!(parse_authorization(bad), None, "{bad:?}");
        }
        let long = format!("ApiKey {}", "a".repeat(MAX_CREDENTIAL_LEN + 1));
        assert_eq!(parse_authorization(long.as_bytes()), None);
        // Every byte outside `!`..=`~` is refused inside the credential, and at either end too
        // unless it is whitespace (trimmed).
        for b in (0u8..=255).filter(|b| !b.is_ascii_graphic()) {
            let ends: &[usize] = if b.is_ascii_whitespace() {
                &[]
            } else {
                &[0, 19]
            };
            for &at in ends.iter().chain(&[7]) {
                let mut key = vec![b'k'; 20];
                key[at] = b;
                let mut header = b"ApiKey ".to_vec();
                header.extend_from_slice(&key);
                assert_eq!(parse_authorization(&header), None, "{b:#x} at {at}");
            }
        }
    }

    #[test]
    fn refuses_nul_in_basic_credentials() {
        // Found by tests/api/hostile.rs: on PostgreSQL the user lookup failed, giving a 503.
        for raw in [
            "\0admin:password",
            "admin\0:password",
            "admin:pass\0word",
            "\0:\0",
        ] {
            let header = format!("Basic {}", STANDARD.encode(raw));
            assert_eq!(parse_authorization(header.as_bytes()), None, "{raw:?}");
        }
    }
}
