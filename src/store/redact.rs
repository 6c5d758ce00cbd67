//! Database URLs as they may be logged: every secret they can carry replaced by `***`.
//!
//! A secret can sit in the user information (`postgres://user:secret@host/db`) or in a query
//! parameter (`postgres://user@host/db?password=secret`, `sslpassword=...`); a libpq-style
//! `key=value` string (`host=h password=secret`) is covered too, in case one is passed.

/// Query or connection-string keys whose value is a secret.
fn is_secret_key(key: &str) -> bool {
    let key = key.trim().to_ascii_lowercase();
    key.contains("password")
        || key.contains("passwd")
        || key == "pwd"
        || key.contains("secret")
        || key.contains("token")
}

/// `url` with every password it carries replaced by `***`, for logs and errors.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return redact_key_values(url);
    };
    let rest_start = scheme_end + 3;
    let rest = &url[rest_start..];
    // The authority ends at the path, the query or the fragment.
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..rest_start]);
    match authority.rfind('@') {
        Some(at) => {
            let user_info = &authority[..at];
            match user_info.find(':') {
                Some(colon) => {
                    out.push_str(&user_info[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(user_info),
            }
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let after = &rest[authority_len..];
    match after.find('?') {
        Some(q) => {
            out.push_str(&after[..=q]);
            let query = &after[q + 1..];
            let (query, fragment) = match query.find('#') {
                Some(h) => query.split_at(h),
                None => (query, ""),
            };
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if is_secret_key(&decoded(k)) => format!("{k}=***"),
                    _ => pair.to_string(),
                })
                .collect();
            out.push_str(&pairs.join("&"));
            out.push_str(fragment);
        }
        None => out.push_str(after),
    }
    out
}

fn decoded(key: &str) -> String {
    urlencoding::decode(key)
        .map(|k| k.into_owned())
        .unwrap_or_else(|_| key.to_string())
}

/// A libpq `key=value ...` string with secret values masked (quoted values included).
fn redact_key_values(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(eq) = rest.find('=') {
        let key_start = rest[..eq].rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let key = &rest[key_start..eq];
        out.push_str(&rest[..=eq]);
        let value = &rest[eq + 1..];
        let value_len = if value.starts_with('\'') {
            // A quoted value ends at the next unescaped quote.
            let mut end = value.len();
            let mut escaped = false;
            for (i, c) in value.char_indices().skip(1) {
                match c {
                    '\\' if !escaped => escaped = true,
                    '\'' if !escaped => {
                        end = i + 1;
                        break;
                    }
                    _ => escaped = false,
                }
            }
            end
        } else {
            value.find(char::is_whitespace).unwrap_or(value.len())
        };
        if is_secret_key(key) {
            out.push_str("***");
        } else {
            out.push_str(&value[..value_len]);
        }
        rest = &value[value_len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn every_form_of_password_is_masked() {
        let cases = [
            (
                "postgres://u:secret@h:5432/db",
                "postgres://u:***@h:5432/db",
            ),
            (
                "postgres://u@h/db?password=secret",
                "postgres://u@h/db?password=***",
            ),
            (
                "postgresql://u@h/db?sslmode=require&PassWord=secret&application_name=x",
                "postgresql://u@h/db?sslmode=require&PassWord=***&application_name=x",
            ),
            (
                "postgres://h/db?sslpassword=secret",
                "postgres://h/db?sslpassword=***",
            ),
            (
                "postgres://u@h/db?pass%77ord=secret",
                "postgres://u@h/db?pass%77ord=***",
            ),
            (
                "postgres://u:s1@h/db?password=s2#x",
                "postgres://u:***@h/db?password=***#x",
            ),
            // An `@` in the query does not make the query look like user information.
            (
                "postgres://h/db?options=a@b&password=secret",
                "postgres://h/db?options=a@b&password=***",
            ),
            (
                "host=h user=u password=secret dbname=d",
                "host=h user=u password=*** dbname=d",
            ),
            (
                "host=h password='se cret' dbname=d",
                "host=h password=*** dbname=d",
            ),
            (
                "sqlite:///var/lib/ece/ece.db",
                "sqlite:///var/lib/ece/ece.db",
            ),
            ("postgres://u@h/db", "postgres://u@h/db"),
        ];
        for (url, want) in cases {
            let got = redact(url);
            assert_eq!(got, want, "redact({url})");
            assert!(
                !got.contains("secret") && !got.contains("s1") && !got.contains("s2"),
                "{got}"
            );
        }
    }
}
