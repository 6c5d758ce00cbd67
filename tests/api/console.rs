//! The web console's assets over HTTP: compressed by `Accept-Encoding` (brotli, gzip, or plain),
//! `Vary`, strong ETags per encoding, immutable versioned URLs and a never-cached `index.html`.

use std::io::Read;

use crate::helpers::spawn_app;

struct Got {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// The client has no decompression built in: bodies arrive exactly as sent.
async fn get(root: &str, path: &str, headers: &[(&str, &str)]) -> Got {
    let mut req = reqwest::Client::new().get(format!("{root}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    Got {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: res.bytes().await.unwrap().to_vec(),
    }
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn unbrotli(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::BrotliDecompress(&mut &body[..], &mut out).unwrap();
    out
}

#[tokio::test]
async fn assets_are_served_compressed_by_accept_encoding() {
    let app = spawn_app().await;
    let root = app.base.replace("/api/v1", "");

    let index = get(&root, "/", &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(index.status, 200);
    assert_eq!(index.header("content-encoding"), Some("br"));
    assert_eq!(index.header("vary"), Some("Accept-Encoding"));
    assert_eq!(index.header("cache-control"), Some("no-store"));
    let html = String::from_utf8(unbrotli(&index.body)).unwrap();
    let version = html
        .split("/console/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_string();
    assert!(
        version.starts_with("v-") && version.len() == 18,
        "index.html links versioned assets: {version}"
    );

    let plain = get(
        &root,
        "/console/app.css",
        &[("accept-encoding", "identity")],
    )
    .await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("cache-control"), Some("no-cache"));
    assert!(plain
        .header("content-type")
        .unwrap()
        .starts_with("text/css"));

    let versioned = format!("/console/{version}/app.css");
    let mut tags = Vec::new();
    for (accept, encoding) in [
        ("br;q=1, gzip;q=0.5", Some("br")),
        ("br;q=0, gzip", Some("gzip")),
        ("gzip;q=0, br;q=0", None),
        ("", None),
    ] {
        let got = get(&root, &versioned, &[("accept-encoding", accept)]).await;
        assert_eq!(got.status, 200, "{accept}");
        assert_eq!(got.header("content-encoding"), encoding, "{accept}");
        assert_eq!(got.header("vary"), Some("Accept-Encoding"));
        assert_eq!(
            got.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        assert!(got.header("content-security-policy").is_some());
        let body = match encoding {
            Some("br") => unbrotli(&got.body),
            Some("gzip") => gunzip(&got.body),
            _ => got.body.clone(),
        };
        assert_eq!(body, plain.body, "{accept} decodes to the asset");
        if encoding.is_some() {
            assert!(got.body.len() < plain.body.len() / 2, "{accept} compresses");
        }
        let tag = got.header("etag").unwrap().to_string();
        // A strong validator names one representation: revalidating gives 304 with it.
        let again = get(
            &root,
            &versioned,
            &[("accept-encoding", accept), ("if-none-match", &tag)],
        )
        .await;
        assert_eq!(again.status, 304, "{accept}");
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), Some(tag.as_str()));
        tags.push(tag);
    }
    tags.dedup();
    assert_eq!(tags.len(), 3, "one ETag per encoding: {tags:?}");

    // Another build's prefix is not this one's asset.
    let stale = get(&root, "/console/v-0000000000000000/app.css", &[]).await;
    assert_eq!(stale.status, 404);
    assert!(String::from_utf8_lossy(&stale.body).contains("root.resource_not_found"));
}

/// Every file in `console/` is embedded and served (the asset list in `src/http/console.rs` is
/// written by hand: a new page module left out of it would answer 404 only once opened).
#[tokio::test]
async fn every_console_file_is_served() {
    let app = spawn_app().await;
    let root = app.base.replace("/api/v1", "");
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
    let mut dirs = vec![base.clone()];
    let mut served = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(&base)
                .unwrap()
                .to_str()
                .unwrap()
                .replace('\\', "/");
            if rel == "index.html" {
                // Served at `/`, with the asset links rewritten to the versioned prefix.
                assert_eq!(get(&root, "/", &[]).await.status, 200);
                served += 1;
                continue;
            }
            let got = get(&root, &format!("/console/{rel}"), &[]).await;
            assert_eq!(got.status, 200, "console/{rel} is not served");
            assert_eq!(got.body, std::fs::read(&path).unwrap(), "console/{rel}");
            served += 1;
        }
    }
    assert!(served >= 10, "{served} files");
}

/// `/sso/token`, where single sign-on hands the browser its token in the fragment, is the console
/// itself (same page, headers and caching as `/`); nothing below it is, and it takes GET only.
#[tokio::test]
async fn the_sso_hand_off_page_is_the_console() {
    let app = spawn_app().await;
    let root = app.base.replace("/api/v1", "");
    let index = get(&root, "/", &[]).await;
    let sso = get(&root, "/sso/token", &[]).await;
    assert_eq!(sso.status, 200);
    assert_eq!(sso.body, index.body);
    for header in [
        "content-type",
        "cache-control",
        "content-security-policy",
        "referrer-policy",
        "x-frame-options",
        "etag",
    ] {
        assert_eq!(sso.header(header), index.header(header), "{header}");
    }
    assert_eq!(sso.header("cache-control"), Some("no-store"));
    assert_eq!(sso.header("referrer-policy"), Some("no-referrer"));

    let below = get(&root, "/sso/token/x", &[]).await;
    assert_eq!(below.status, 404);
    assert!(String::from_utf8_lossy(&below.body).contains("root.resource_not_found"));
    let post = reqwest::Client::new()
        .post(format!("{root}/sso/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
}
