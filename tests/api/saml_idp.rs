//! The real SAML identity provider of the SAML tests: `tests/saml/idp.js` (saml-idp on Node, its
//! own key) started per test on a free loopback port, and a browser's part of the sign-in: follow
//! the server's redirect to the IdP, submit its login form, read the auto-POST form it answers
//! (the test posts it, or a mutation of it, to the server itself).
//!
//! Node and the npm package are required: `scripts/test.sh` installs them. A missing one is a
//! loud panic, never a skipped test.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Deserialize;
use tempfile::TempDir;

use crate::saml_html::{form_action, form_fields};

/// What the launcher is asked for beyond the ACS and the audience.
#[derive(Clone, Debug, Default)]
pub struct IdpOptions {
    /// Entity id (Issuer); the launcher's default `urn:ece-test:saml-idp` when `None`.
    pub issuer: Option<String>,
    /// The user signing in (NameID and principal attribute); `saml.user` when `None`.
    pub user: Option<String>,
    /// The user's groups; `["ece-admins"]` when `None`, none when empty.
    pub groups: Option<Vec<String>>,
    /// Encrypt assertions for this SP certificate (PEM file).
    pub encrypt_cert: Option<PathBuf>,
    /// Shift the IdP's clock by this many seconds (expired / not-yet-valid assertions).
    pub clock_offset_secs: i64,
    /// Key directory: an IdP given the directory of another signs with the same key. A fresh
    /// temporary directory (a new key) when `None`.
    pub key_dir: Option<PathBuf>,
}

/// The SAML attribute names the IdP puts the user's details in.
#[derive(Clone, Debug, Deserialize)]
pub struct IdpAttributes {
    pub principal: String,
    pub groups: String,
    pub name: String,
    pub mail: String,
}

#[derive(Deserialize)]
struct Ready {
    port: u16,
    base: String,
    metadata_url: String,
    entity_id: String,
    sso_url: String,
    attributes: IdpAttributes,
}

/// A running IdP; killed when dropped.
pub struct SamlIdp {
    pub port: u16,
    pub base: String,
    pub metadata_url: String,
    pub entity_id: String,
    pub sso_url: String,
    pub attributes: IdpAttributes,
    /// Where its key (`idp-key.pem`), certificate (`idp-cert.pem`) and log are.
    pub dir: PathBuf,
    log: PathBuf,
    child: Child,
    _tmp: Option<TempDir>,
}

/// The auto-POST form the IdP answers after sign-in.
#[derive(Clone, Debug)]
pub struct IdpPost {
    /// Where the browser would post it (the AuthnRequest's AssertionConsumerServiceURL).
    pub action: String,
    pub saml_response: String,
    pub relay_state: Option<String>,
}

fn launcher() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/saml/idp.js")
}

impl SamlIdp {
    /// Starts the IdP for an SP with this ACS URL and audience (SP entity id); returns once it
    /// listens. Panics (loudly) when Node or the npm package is missing.
    pub fn start(acs: &str, audience: &str, opts: IdpOptions) -> SamlIdp {
        let package =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/saml/node_modules/saml-idp");
        assert!(
            package.join("package.json").exists(),
            "\n!!! The SAML test IdP is not installed ({}). Run `npm ci` in tests/saml \
             (scripts/test.sh does it). The SAML tests cannot run without it. !!!\n",
            package.display()
        );
        let (tmp, dir) = match &opts.key_dir {
            Some(d) => (None, d.clone()),
            None => {
                let t = tempfile::tempdir().expect("temp dir for the IdP");
                let d = t.path().to_path_buf();
                (Some(t), d)
            }
        };
        let log = dir.join(format!("idp-{:08x}.log", rand::random::<u32>()));
        let mut cmd = Command::new("node");
        cmd.arg(launcher())
            .args(["--acs", acs, "--audience", audience])
            .arg("--dir")
            .arg(&dir)
            .args(["--clock-offset", &opts.clock_offset_secs.to_string()]);
        if let Some(i) = &opts.issuer {
            cmd.args(["--issuer", i]);
        }
        if let Some(u) = &opts.user {
            cmd.args(["--user", u]);
        }
        if let Some(g) = &opts.groups {
            cmd.args(["--groups", &g.join(",")]);
        }
        if let Some(c) = &opts.encrypt_cert {
            cmd.arg("--encrypt-cert").arg(c);
        }
        let log_file = std::fs::File::create(&log).expect("IdP log file");
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file));
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "\n!!! cannot run `node` for the SAML test IdP: {e}. Install Node.js \
                 (scripts/test.sh does it). The SAML tests cannot run without it. !!!\n"
            )
        });
        // The ready line, read on a thread so that a launcher that hangs fails the test.
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(&mut stdout).read_line(&mut line);
            let _ = tx.send(line);
            // Keep reading (nothing is expected) so that the pipe stays open.
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let ready: Ready = match serde_json::from_str(line.trim()) {
            Ok(r) => r,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let mut text = String::new();
                let _ = std::fs::File::open(&log).and_then(|mut f| f.read_to_string(&mut text));
                panic!(
                    "the SAML test IdP did not start ({e}); its line: [{line}]; its log:\n{text}"
                );
            }
        };
        SamlIdp {
            port: ready.port,
            base: ready.base,
            metadata_url: ready.metadata_url,
            entity_id: ready.entity_id,
            sso_url: ready.sso_url,
            attributes: ready.attributes,
            dir,
            log,
            child,
            _tmp: tmp,
        }
    }

    /// The IdP's log so far (what saml-idp printed: requests, the responses it minted).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The browser's part of a sign-in: `init_location` is the server's `_init` redirect (or any
    /// HTTP-Redirect AuthnRequest URL of this IdP); submits the login form as it stands and
    /// returns the SAMLResponse (base64) and RelayState the IdP would have auto-posted.
    pub async fn sign_in(
        &self,
        client: &reqwest::Client,
        init_location: &str,
    ) -> (String, Option<String>) {
        let post = self.sign_in_form(client, init_location).await;
        (post.saml_response, post.relay_state)
    }

    /// [`SamlIdp::sign_in`], also telling where the form would be posted.
    pub async fn sign_in_form(&self, client: &reqwest::Client, init_location: &str) -> IdpPost {
        assert!(
            init_location.starts_with(&self.sso_url),
            "the redirect [{init_location}] does not lead to this IdP ({})",
            self.sso_url
        );
        let page = client
            .get(init_location)
            .send()
            .await
            .expect("IdP reachable");
        let status = page.status();
        let page = page.text().await.unwrap();
        assert_eq!(
            status,
            200,
            "IdP login page: {page}\nIdP log:\n{}",
            self.log()
        );
        let fields = form_fields(&page, "/signin")
            .unwrap_or_else(|| panic!("no login form on the IdP's page:\n{page}"));
        assert!(
            fields.iter().any(|(n, _)| n == "_authnRequest"),
            "the IdP did not take the AuthnRequest:\n{page}\nIdP log:\n{}",
            self.log()
        );
        let reply = client
            .post(format!("{}/signin", self.base))
            .form(&fields)
            .send()
            .await
            .expect("IdP sign-in");
        let status = reply.status();
        let html = reply.text().await.unwrap();
        assert_eq!(status, 200, "IdP sign-in: {html}\nIdP log:\n{}", self.log());
        let action = form_action(&html).expect("auto-POST form");
        let fields = form_fields(&html, &action).expect("auto-POST form fields");
        let get = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        IdpPost {
            saml_response: get("SAMLResponse").expect("SAMLResponse in the IdP's form"),
            relay_state: get("RelayState").filter(|r| !r.is_empty()),
            action,
        }
    }

    /// An HTTP-Redirect AuthnRequest URL of this IdP the server never issued (an attacker's own).
    pub fn authn_request_url(&self, id: &str, acs: &str, sp_entity_id: &str) -> String {
        let xml = format!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{dest}" AssertionConsumerServiceURL="{acs}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>{sp_entity_id}</saml:Issuer></samlp:AuthnRequest>"#,
            now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
            dest = self.sso_url,
        );
        self.redirect_url(&xml, Some("attacker"))
    }

    /// The HTTP-Redirect binding URL of this IdP for an AuthnRequest's XML (deflated, base64).
    pub fn redirect_url(&self, authn_request: &str, relay_state: Option<&str>) -> String {
        let mut deflate =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        deflate.write_all(authn_request.as_bytes()).unwrap();
        let request = B64.encode(deflate.finish().unwrap());
        let mut url = format!(
            "{}?SAMLRequest={}",
            self.sso_url,
            urlencoding::encode(&request)
        );
        if let Some(r) = relay_state {
            url.push_str(&format!("&RelayState={}", urlencoding::encode(r)));
        }
        url
    }

    /// The same redirect, to this IdP (one started on another key, clock or audience).
    pub fn retarget(&self, location: &str) -> String {
        let query = location.split_once('?').expect("a redirect with a query").1;
        format!("{}?{query}", self.sso_url)
    }
}

/// The parameters of a redirect URL, decoded.
pub fn query_of(location: &str) -> Vec<(String, String)> {
    let query = location.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let v = urlencoding::decode(&v.replace('+', " "))
                .unwrap()
                .into_owned();
            (k.to_string(), v)
        })
        .collect()
}

/// The AuthnRequest XML of an HTTP-Redirect URL (`SAMLRequest`: deflated, base64) and its
/// RelayState.
pub fn authn_request_of(location: &str) -> (String, Option<String>) {
    let q = query_of(location);
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let raw = B64
        .decode(get("SAMLRequest").expect("SAMLRequest"))
        .expect("base64");
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&raw[..])
        .read_to_string(&mut xml)
        .expect("a deflated AuthnRequest");
    (xml, get("RelayState"))
}

impl Drop for SamlIdp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The XML of a base64 SAMLResponse.
pub fn decode(saml_response: &str) -> String {
    String::from_utf8(
        B64.decode(saml_response.trim())
            .expect("SAMLResponse is base64"),
    )
    .expect("SAMLResponse is UTF-8")
}

/// The base64 SAMLResponse of some XML.
pub fn encode(xml: &str) -> String {
    B64.encode(xml.as_bytes())
}
