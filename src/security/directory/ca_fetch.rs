//! Fetching a realm's `certificate_url` (`http://`, `https://` or `file://`) and turning it into the
//! CA sources of a [`super::DirectoryConfig`].
//!
//! - Bounded: the whole fetch (connect, redirects, body) within the given time (the realm sign-in
//!   passes the directory connect plus operation timeouts) and at most [`MAX_BYTES`].
//! - Cached per URL in this process: fetched bytes for [`FRESH`], a failure for [`FAILED`] (so a
//!   broken URL does not cost every sign-in a timeout). The bytes, not the parsed certificates,
//!   are kept: the truststore password and type may change without the URL changing.
//! - `https://` URLs are verified against the bundled Mozilla roots (webpki-roots).
//! - Errors: a server that cannot be reached or answers 5xx is `Unavailable`; a bad URL, a 4xx, a
//!   missing file, too large or unusable content is `Misconfigured`. Causes name the URL without its
//!   credentials, query or fragment (a presigned URL's signature is a secret) and never a password.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use reqwest::Url;

use super::ca_archive::{self, CaFormat};
use super::{CaSource, DirectoryError};

/// Bytes a `certificate_url` may serve.
pub const MAX_BYTES: u64 = 1024 * 1024;
/// How long fetched bytes are used before the URL is fetched again.
pub const FRESH: Duration = Duration::from_secs(300);
/// How long a failed fetch is answered from the cache.
pub const FAILED: Duration = Duration::from_secs(10);
/// URLs cached; past that the table starts again.
const MAX_CACHED: usize = 64;

pub type Fetched = Result<Arc<Vec<u8>>, DirectoryError>;

/// The CA sources `url` serves, read as `format` with `password` (PKCS#12), fetched within
/// `within` or taken from the cache.
pub async fn load(
    url: &str,
    format: CaFormat,
    password: Option<&str>,
    within: Duration,
) -> Result<Vec<CaSource>, DirectoryError> {
    let parsed = Url::parse(url).map_err(|e| DirectoryError::Misconfigured {
        cause: format!("certificate_url is not a URL ({e})"),
    })?;
    let shown = shown(&parsed);
    let bytes = cached_fetch("certificate_url", url, &parsed, &shown, within).await?;
    let name = parsed
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or_default();
    ca_archive::extract(name, &bytes, format, password).map_err(|cause| {
        DirectoryError::Misconfigured {
            cause: format!("certificate_url [{shown}]: {cause}"),
        }
    })
}

fn cache() -> &'static Mutex<HashMap<String, (Instant, Fetched)>> {
    static CACHE: OnceLock<Mutex<HashMap<String, (Instant, Fetched)>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The bytes `url` serves, under the same bounds and cache as a `certificate_url`; causes name
/// the URL as `label [url]` (e.g. a SAML realm's `idp.metadata_path`).
pub async fn fetch_url(label: &str, url: &str, within: Duration) -> Fetched {
    let parsed = Url::parse(url).map_err(|e| DirectoryError::Misconfigured {
        cause: format!("{label} is not a URL ({e})"),
    })?;
    cached_fetch(label, url, &parsed, &shown(&parsed), within).await
}

async fn cached_fetch(
    label: &str,
    url: &str,
    parsed: &Url,
    shown: &str,
    within: Duration,
) -> Fetched {
    if let Some((at, fetched)) = cache().lock().unwrap().get(url) {
        let bound = if fetched.is_ok() { FRESH } else { FAILED };
        if at.elapsed() < bound {
            return fetched.clone();
        }
    }
    // Concurrent misses each fetch (bounded by the size and time limits): no sign-in waits on
    // another's fetch.
    let fetched = match tokio::time::timeout(within, fetch(parsed)).await {
        Ok(Ok(bytes)) => Ok(Arc::new(bytes)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(Failure::Unavailable(format!(
            "timed out after {} ms",
            within.as_millis()
        ))),
    }
    .map_err(|f| f.into_error(label, shown));
    let mut cache = cache().lock().unwrap();
    if cache.len() >= MAX_CACHED {
        cache.clear();
    }
    cache.insert(url.to_string(), (Instant::now(), fetched.clone()));
    fetched
}

enum Failure {
    Unavailable(String),
    Misconfigured(String),
}

impl Failure {
    fn into_error(self, label: &str, shown: &str) -> DirectoryError {
        match self {
            Failure::Unavailable(c) => DirectoryError::Unavailable {
                cause: format!("{label} [{shown}] could not be fetched: {c}"),
            },
            Failure::Misconfigured(c) => DirectoryError::Misconfigured {
                cause: format!("{label} [{shown}]: {c}"),
            },
        }
    }
}

async fn fetch(url: &Url) -> Result<Vec<u8>, Failure> {
    match url.scheme() {
        "http" | "https" => fetch_http(url).await,
        "file" => read_file(url).await,
        other => Err(Failure::Misconfigured(format!(
            "the scheme {other}:// is not supported (http, https or file)"
        ))),
    }
}

fn client() -> Result<reqwest::Client, Failure> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c.clone());
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .map_err(|e| Failure::Unavailable(format!("HTTP client: {e}")))?;
    Ok(CLIENT.get_or_init(|| client).clone())
}

async fn fetch_http(url: &Url) -> Result<Vec<u8>, Failure> {
    // Without the error's own text: reqwest's Display repeats the full URL (query included).
    let mut reply = client()?.get(url.clone()).send().await.map_err(|e| {
        let what = if e.is_connect() {
            "connection failed"
        } else if e.is_redirect() {
            "too many redirects"
        } else {
            "request failed"
        };
        Failure::Unavailable(format!("{what}{}", source_of(&e)))
    })?;
    let status = reply.status();
    if status.is_server_error() {
        return Err(Failure::Unavailable(format!("HTTP {status}")));
    }
    if !status.is_success() {
        return Err(Failure::Misconfigured(format!("HTTP {status}")));
    }
    if reply.content_length().is_some_and(|n| n > MAX_BYTES) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = reply
        .chunk()
        .await
        .map_err(|e| Failure::Unavailable(format!("reading the body failed{}", source_of(&e))))?
    {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > MAX_BYTES {
            return Err(too_big());
        }
    }
    Ok(body)
}

/// The innermost cause of a reqwest error (e.g. "Connection refused", a TLS verification failure),
/// which does not hold the URL.
fn source_of(e: &reqwest::Error) -> String {
    let mut inner: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut last = None;
    while let Some(s) = inner {
        last = Some(s.to_string());
        inner = s.source();
    }
    last.map(|s| format!(" ({s})")).unwrap_or_default()
}

async fn read_file(url: &Url) -> Result<Vec<u8>, Failure> {
    let path = url.to_file_path().map_err(|_| {
        Failure::Misconfigured("a file:// URL must name an absolute local path".into())
    })?;
    let bytes = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let file = std::fs::File::open(&path)?;
        let mut bytes = Vec::new();
        file.take(MAX_BYTES + 1).read_to_end(&mut bytes)?;
        Ok::<_, std::io::Error>(bytes)
    })
    .await
    .map_err(|e| Failure::Unavailable(format!("reading the file failed ({e})")))?
    .map_err(|e| Failure::Misconfigured(format!("the file cannot be read ({})", e.kind())))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(too_big());
    }
    Ok(bytes)
}

fn too_big() -> Failure {
    Failure::Misconfigured(format!("larger than {MAX_BYTES} bytes"))
}

/// `url` as causes show it: no user, password, query or fragment.
fn shown(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    let elided = u.query().is_some() || u.fragment().is_some();
    u.set_query(None);
    u.set_fragment(None);
    if elided {
        format!("{u}?…")
    } else {
        u.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(5);

    fn pem() -> String {
        rcgen::generate_simple_self_signed(vec!["ca.test".to_string()])
            .unwrap()
            .cert
            .pem()
    }

    fn file_url(path: &std::path::Path) -> String {
        Url::from_file_path(path).unwrap().to_string()
    }

    #[tokio::test]
    async fn a_file_url_is_read_once_then_cached() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        let first = pem();
        std::fs::write(&path, &first).unwrap();
        let url = file_url(&path);
        let got = load(&url, CaFormat::Detect, None, T).await.unwrap();
        assert!(matches!(&got[..], [CaSource::Pem(d)] if d == first.as_bytes()));
        // Replaced on disk: the cached bytes are still used (within FRESH).
        std::fs::write(&path, pem()).unwrap();
        let again = load(&url, CaFormat::Detect, None, T).await.unwrap();
        assert!(matches!(&again[..], [CaSource::Pem(d)] if d == first.as_bytes()));
    }

    #[tokio::test]
    async fn missing_too_large_and_unsupported_are_misconfigured() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.pem");
        std::fs::write(&big, vec![b'A'; MAX_BYTES as usize + 1]).unwrap();
        for (url, says) in [
            (file_url(&dir.path().join("missing.zip")), "cannot be read"),
            (file_url(&big), "larger than"),
            ("ftp://example.com/ca.zip".to_string(), "not supported"),
            ("not a url".to_string(), "not a URL"),
        ] {
            match load(&url, CaFormat::Detect, None, T).await {
                Err(DirectoryError::Misconfigured { cause }) => {
                    assert!(cause.contains(says), "{cause}")
                }
                other => panic!("{url}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable_and_the_url_is_shown_without_secrets() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let url = format!("http://user:s3cret@127.0.0.1:{port}/ca.zip?sig=t0ken#x");
        match load(&url, CaFormat::Detect, None, T).await {
            Err(DirectoryError::Unavailable { cause }) => {
                assert!(
                    cause.contains(&format!("127.0.0.1:{port}/ca.zip?…")),
                    "{cause}"
                );
                assert!(
                    !cause.contains("s3cret") && !cause.contains("t0ken"),
                    "{cause}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
