//! The web console: a static single-page app (plain JavaScript modules, no build step) served at
//! `/` (and at `/sso/token`, where single sign-on hands over its token) with its assets under
//! `/console/`. The files live in `console/` at the repository root and are embedded in the
//! binary at build time, so the console works offline and needs no files next to the server.
//! See `docs/console.md`.
//!
//! Every asset is compressed once, when the routes are built (gzip and brotli, kept in memory), and
//! served in the encoding the client accepts. `index.html` is never cached and links the assets
//! under a versioned prefix, `/console/<build>/...` (`<build>` hashes every embedded file), served
//! as immutable for a year: a new binary changes the prefix, so browsers never mix versions. The
//! plain `/console/<path>` URLs still work, revalidated by ETag. Every reply carries a strict
//! Content-Security-Policy.

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, REFERRER_POLICY, VARY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use crate::http::error::{ApiError, Code};

/// Scripts, styles, images and API calls from this origin only; nothing inline, no framing.
pub const CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Versioned assets never change under their URL.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

macro_rules! assets {
    ($($path:literal => $mime:literal,)*) => {
        /// Path under `console/`, content type, content.
        const ASSETS: &[(&str, &str, &[u8])] = &[
            $(($path, $mime, include_bytes!(concat!("../../console/", $path))),)*
        ];
    };
}

assets! {
    "index.html" => "text/html; charset=utf-8",
    "app.css" => "text/css; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
    "js/main.js" => "text/javascript; charset=utf-8",
    "js/api.js" => "text/javascript; charset=utf-8",
    "js/session.js" => "text/javascript; charset=utf-8",
    "js/ui.js" => "text/javascript; charset=utf-8",
    "js/table.js" => "text/javascript; charset=utf-8",
    "js/format.js" => "text/javascript; charset=utf-8",
    "js/guard.js" => "text/javascript; charset=utf-8",
    "js/sso.js" => "text/javascript; charset=utf-8",
    "js/pages/login.js" => "text/javascript; charset=utf-8",
    "js/pages/account.js" => "text/javascript; charset=utf-8",
    "js/pages/keys.js" => "text/javascript; charset=utf-8",
    "js/pages/allkeys.js" => "text/javascript; charset=utf-8",
    "js/pages/users.js" => "text/javascript; charset=utf-8",
    "js/pages/profile.js" => "text/javascript; charset=utf-8",
    "js/pages/realms.js" => "text/javascript; charset=utf-8",
    "js/pages/realm-form.js" => "text/javascript; charset=utf-8",
}

/// One representation of an asset: its bytes and strong ETag.
struct Variant {
    body: Bytes,
    etag: HeaderValue,
}

/// An asset as served: identity, and gzip/brotli when they are smaller.
struct Served {
    mime: &'static str,
    identity: Variant,
    gzip: Option<Variant>,
    br: Option<Variant>,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Encoding {
    Identity,
    Gzip,
    Br,
}

/// Where single sign-on hands the browser its token (`/sso/token#<TOKEN>?state=<S>`, as ECE's
/// `_callback` and `_login` with a `login_state` redirect): the app itself, which reads the
/// fragment (never sent here) and signs in.
pub const SSO_HANDOFF: &str = "/sso/token";

/// `/` (the app), `/sso/token` (the app, for the SSO hand-off) and `/console/{*path}` (its
/// assets). Compresses the assets now, so no request waits for it.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    served();
    Router::new()
        .route("/", get(index))
        .route(SSO_HANDOFF, get(index))
        .route("/console/{*path}", get(asset))
        .method_not_allowed_fallback(method_not_allowed)
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        Code::MethodNotAllowed,
        format!("Method [{method}] is not allowed on [{}].", uri.path()),
    )
}

async fn index(headers: HeaderMap) -> Response {
    let i = find("index.html").expect("index.html is embedded");
    serve(i, &headers, "no-store")
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let (rest, cache) = match path.split_once('/') {
        Some((v, rest)) if v == build() => (rest, IMMUTABLE),
        _ => (path.as_str(), "no-cache"),
    };
    match find(rest).filter(|&i| ASSETS[i].0 != "index.html") {
        Some(i) => serve(i, &headers, cache),
        None => ApiError::new(
            Code::ResourceNotFound,
            format!("The requested resource [/console/{path}] could not be found."),
        )
        .into_response(),
    }
}

fn find(path: &str) -> Option<usize> {
    ASSETS.iter().position(|(p, _, _)| *p == path)
}

fn digest_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    hex::encode(h.finalize())
}

/// The version of the embedded console: a hash of every file, the prefix of immutable URLs.
fn build() -> &'static str {
    static BUILD: OnceLock<String> = OnceLock::new();
    BUILD.get_or_init(|| {
        let parts: Vec<&[u8]> = ASSETS
            .iter()
            .flat_map(|(p, _, b)| [p.as_bytes(), b])
            .collect();
        format!("v-{}", &digest_hex(&parts)[..16])
    })
}

/// Every asset, compressed once. `index.html` links the versioned URLs.
fn served() -> &'static [Served] {
    static SERVED: OnceLock<Vec<Served>> = OnceLock::new();
    SERVED.get_or_init(|| {
        ASSETS
            .iter()
            .map(|(path, mime, body)| {
                let body = if *path == "index.html" {
                    String::from_utf8_lossy(body)
                        .replace("/console/", &format!("/console/{}/", build()))
                        .into_bytes()
                } else {
                    body.to_vec()
                };
                let tag = digest_hex(&[&body]);
                let variant = |body: Vec<u8>, suffix: &str| Variant {
                    etag: HeaderValue::from_str(&format!("\"{}{suffix}\"", &tag[..32]))
                        .expect("hex is a valid header value"),
                    body: Bytes::from(body),
                };
                let smaller = |c: Vec<u8>| (c.len() < body.len()).then_some(c);
                Served {
                    mime,
                    gzip: smaller(gzip(&body)).map(|c| variant(c, "-gz")),
                    br: smaller(brotli(&body)).map(|c| variant(c, "-br")),
                    identity: variant(body, ""),
                }
            })
            .collect()
    })
}

fn gzip(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(body).expect("writing to memory");
    enc.finish().expect("writing to memory")
}

fn brotli(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &body[..], &mut out, &params).expect("writing to memory");
    out
}

/// The best encoding `Accept-Encoding` allows among those available: brotli, gzip, identity.
/// A coding with `q=0` is refused; `*` stands for any coding not named.
fn negotiate(headers: &HeaderMap, has_gzip: bool, has_br: bool) -> Encoding {
    let mut gzip_q = None;
    let mut br_q = None;
    let mut any_q = None;
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match coding.as_str() {
                "gzip" | "x-gzip" => gzip_q = Some(q),
                "br" => br_q = Some(q),
                "*" => any_q = Some(q),
                _ => {}
            }
        }
    }
    let ok = |q: Option<f32>| q.or(any_q).is_some_and(|q| q > 0.0);
    if has_br && ok(br_q) {
        Encoding::Br
    } else if has_gzip && ok(gzip_q) {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

fn serve(i: usize, headers: &HeaderMap, cache: &'static str) -> Response {
    let asset = &served()[i];
    let encoding = negotiate(headers, asset.gzip.is_some(), asset.br.is_some());
    let variant = match encoding {
        Encoding::Br => asset.br.as_ref(),
        Encoding::Gzip => asset.gzip.as_ref(),
        Encoding::Identity => None,
    }
    .unwrap_or(&asset.identity);
    let tag = variant.etag.to_str().unwrap_or_default();
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(CONTENT_TYPE, asset.mime)], variant.body.clone()).into_response()
    };
    let h = res.headers_mut();
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(ETAG, variant.etag.clone());
    match encoding {
        Encoding::Br if asset.br.is_some() => {
            h.insert(CONTENT_ENCODING, HeaderValue::from_static("br"));
        }
        Encoding::Gzip if asset.gzip.is_some() => {
            h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        _ => {}
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_found_and_tagged() {
        for (i, (path, mime, body)) in ASSETS.iter().enumerate() {
            assert_eq!(find(path), Some(i));
            assert!(!body.is_empty(), "{path} is empty");
            assert!(mime.contains('/'));
            assert_eq!(served()[i].identity.etag.len(), 34);
        }
        assert_eq!(find("nope.js"), None);
    }

    #[test]
    fn accept_encoding_picks_brotli_then_gzip_and_honours_q0() {
        let pick = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            negotiate(&h, true, true)
        };
        assert_eq!(pick("gzip, deflate, br, zstd"), Encoding::Br);
        assert_eq!(pick("gzip"), Encoding::Gzip);
        assert_eq!(pick("br;q=0, gzip;q=0.5"), Encoding::Gzip);
        assert_eq!(pick("br;q=0, gzip;q=0"), Encoding::Identity);
        assert_eq!(pick("*"), Encoding::Br);
        assert_eq!(pick("*;q=0"), Encoding::Identity);
        assert_eq!(pick("identity"), Encoding::Identity);
        assert_eq!(negotiate(&HeaderMap::new(), true, true), Encoding::Identity);
    }

    #[test]
    fn compressed_variants_decode_to_the_asset() {
        use std::io::Read;
        for (i, asset) in served().iter().enumerate() {
            let plain = &asset.identity.body;
            if let Some(gz) = &asset.gzip {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&gz.body[..])
                    .read_to_end(&mut out)
                    .unwrap();
                assert_eq!(&out[..], &plain[..], "gzip of {}", ASSETS[i].0);
            }
            let br = asset
                .br
                .as_ref()
                .expect("every text asset shrinks with brotli");
            let mut out = Vec::new();
            brotli::BrotliDecompress(&mut &br.body[..], &mut out).unwrap();
            assert_eq!(&out[..], &plain[..], "brotli of {}", ASSETS[i].0);
        }
    }

    #[test]
    fn index_html_references_only_embedded_assets() {
        let html = std::str::from_utf8(ASSETS[find("index.html").unwrap()].2).unwrap();
        for part in html.split("/console/").skip(1) {
            let path: String = part
                .chars()
                .take_while(|c| !matches!(c, '"' | '\''))
                .collect();
            assert!(
                find(&path).is_some(),
                "index.html links missing asset {path}"
            );
        }
        assert!(
            !html.contains("<script>"),
            "no inline scripts under the CSP"
        );
        assert!(!html.contains("style="), "no inline styles under the CSP");
    }

    #[test]
    fn module_imports_resolve_to_embedded_assets() {
        for (path, _, body) in ASSETS.iter().filter(|(p, _, _)| p.ends_with(".js")) {
            let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
            let text = std::str::from_utf8(body).unwrap();
            for part in text.split(" from '").skip(1) {
                let spec = part.split('\'').next().unwrap();
                let mut segs: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
                for seg in spec.split('/') {
                    match seg {
                        "." => {}
                        ".." => {
                            segs.pop();
                        }
                        s => segs.push(s),
                    }
                }
                let target = segs.join("/");
                assert!(
                    find(&target).is_some(),
                    "{path} imports {spec}: {target} is not embedded"
                );
            }
        }
    }
}
