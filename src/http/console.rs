//! The web console: a static single-page app (plain JavaScript modules, no build step) served at
//! `/` with its assets under `/console/`. The files live in `console/` at the repository root and
//! are embedded in the binary at build time, so the console works offline and needs no files next
//! to the server. Every reply carries a strict Content-Security-Policy; `index.html` is never
//! cached, the assets are revalidated by ETag. See `docs/console.md`.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
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
    "js/format.js" => "text/javascript; charset=utf-8",
    "js/pages/login.js" => "text/javascript; charset=utf-8",
    "js/pages/account.js" => "text/javascript; charset=utf-8",
    "js/pages/keys.js" => "text/javascript; charset=utf-8",
    "js/pages/users.js" => "text/javascript; charset=utf-8",
    "js/pages/profile.js" => "text/javascript; charset=utf-8",
}

/// `/` (the app) and `/console/{*path}` (its assets).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/console/{*path}", get(asset))
        .method_not_allowed_fallback(method_not_allowed)
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        Code::MethodNotAllowed,
        format!("Method [{method}] is not allowed on [{}].", uri.path()),
    )
}

async fn index() -> Response {
    let mut res = serve(find("index.html").expect("index.html is embedded"), None);
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match find(&path).filter(|&i| ASSETS[i].0 != "index.html") {
        Some(i) => serve(i, headers.get(IF_NONE_MATCH)),
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

/// Strong ETags of the assets, computed once.
fn etag(i: usize) -> &'static str {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    &ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|(_, _, body)| format!("\"{}\"", &hex::encode(Sha256::digest(body))[..32]))
            .collect()
    })[i]
}

fn serve(i: usize, if_none_match: Option<&HeaderValue>) -> Response {
    let (_, mime, body) = ASSETS[i];
    let tag = etag(i);
    let fresh = if_none_match
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(CONTENT_TYPE, mime)], body).into_response()
    };
    let h = res.headers_mut();
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(tag) {
        h.insert(ETAG, v);
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
            assert_eq!(etag(i).len(), 34);
        }
        assert_eq!(find("nope.js"), None);
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
