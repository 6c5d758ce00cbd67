//! The `Authorization` header as sent: `Basic`, `ApiKey` and `Bearer` credentials, parsed
//! without looking anything up. Checking them is the HTTP layer's middleware (`crate::http::auth`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Credentials as sent; a key or token borrows the header (it is only hashed).
#[derive(PartialEq, Eq)]
pub enum Credentials<'a> {
    Basic { user: String, password: String },
    ApiKey(&'a str),
    Bearer(&'a str),
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
    if rest.is_empty() || rest.len() > MAX_CREDENTIAL_LEN || !rest.iter().all(u8::is_ascii_graphic)
    {
        return None;
    }
    // All visible ASCII, so this cannot fail.
    let rest = std::str::from_utf8(rest).ok()?;
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
            Some(Credentials::ApiKey("abc"))
        );
        assert_eq!(
            parse_authorization(b"bearer xyz"),
            Some(Credentials::Bearer("xyz"))
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
