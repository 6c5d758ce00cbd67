//! Checking an XML signature with xmlsec, the reference XML-DSig implementation (libxmlsec1 on
//! OpenSSL), through its command-line program `xmlsec1` (Debian package `xmlsec1`), as pysaml2
//! does. Canonicalisation and signature checking are exactly what must not be written by hand;
//! a subprocess keeps the C library out of the server's address space and its build.
//!
//! What it is asked is narrow, and the caller has already checked the structure (`response.rs`):
//! one `Signature` picked by an exact XPath (the Response's own, or its one Assertion's), its
//! `KeyInfo` removed so that no key or certificate carried by the message is ever used (only the
//! metadata's certificate, loaded with `--pubkey-cert-pem`), references to the same document
//! only, and `ID` declared as the ID attribute of Response and Assertion only.
//!
//! Bounded, like password hashing: at most [`MAX_RUNNING`] xmlsec1 processes at once, at most
//! [`MAX_WAITING`] more waiting for one (beyond that [`Busy`]: the caller answers 429 at once),
//! each check killed after [`TIME_LIMIT`]. A flood of well-formed responses therefore costs at
//! most one core and a short queue, never a process per request.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::Semaphore;

use super::xml::{DS, SAML, SAMLP};

const MAX_RUNNING: usize = 1;
const MAX_WAITING: usize = 16;
const TIME_LIMIT: Duration = Duration::from_secs(10);

/// Too many checks are running or waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// A place in the bounded queue of xmlsec1 runs, held while waiting and running.
struct Place;

static WAITING: AtomicUsize = AtomicUsize::new(0);

impl Place {
    fn take() -> Result<Place, Busy> {
        let before = WAITING.fetch_add(1, Ordering::AcqRel);
        if before >= MAX_RUNNING + MAX_WAITING {
            WAITING.fetch_sub(1, Ordering::AcqRel);
            return Err(Busy);
        }
        Ok(Place)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a check could not be made (not the message's fault).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unchecked {
    Busy,
    Failed(String),
}

/// Which signature of a Response is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signed {
    /// The Response's own `Signature` (a child of the root).
    Response,
    /// The `Signature` of the Response's one Assertion.
    Assertion,
}

impl Signed {
    fn xpath(self) -> String {
        let sig = format!("*[local-name()='Signature' and namespace-uri()='{DS}']");
        match self {
            Signed::Response => format!("/*[namespace-uri()='{SAMLP}']/{sig}"),
            Signed::Assertion => format!(
                "/*[namespace-uri()='{SAMLP}']/*[local-name()='Assertion' and namespace-uri()='{SAML}']/{sig}"
            ),
        }
    }
}

fn slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| Semaphore::new(MAX_RUNNING))
}

/// Whether the `which` signature of `document` verifies with one of `certs` (PEM). `Err`: the
/// check could not be made (busy, program missing, timed out), which is not the message's fault.
pub async fn verify(
    program: &Path,
    document: &str,
    which: Signed,
    certs: &[String],
) -> Result<bool, Unchecked> {
    bounded(|dir| async move {
        let doc_path = dir.join("response.xml");
        write(&doc_path, document.as_bytes()).await?;
        for (i, cert) in certs.iter().enumerate() {
            let cert_path = dir.join(format!("idp-{i}.pem"));
            write(&cert_path, cert.as_bytes()).await?;
            if run(program, &doc_path, &cert_path, which).await? {
                return Ok(true);
            }
        }
        Ok(false)
    })
    .await
}

/// Runs `job` in its own private temporary directory (0700: key files in it are the server's
/// alone), within the bounds of the module header: a place in the queue or [`Unchecked::Busy`],
/// one slot to run, [`TIME_LIMIT`].
async fn bounded<T, F, Fut>(job: F) -> Result<T, Unchecked>
where
    F: FnOnce(PathBuf) -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let _place = Place::take().map_err(|_| Unchecked::Busy)?;
    let work = async {
        let _slot = slots().acquire().await.map_err(|e| e.to_string())?;
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        job(dir.path().to_path_buf()).await
    };
    tokio::time::timeout(TIME_LIMIT, work)
        .await
        .map_err(|_| format!("xmlsec1 took longer than {} s", TIME_LIMIT.as_secs()))
        .and_then(|r| r)
        .map_err(Unchecked::Failed)
}

async fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    tokio::fs::write(path, bytes)
        .await
        .map_err(|e| format!("temporary file: {e}"))
}

async fn run(program: &Path, doc: &Path, cert: &Path, which: Signed) -> Result<bool, String> {
    let output = Command::new(program)
        .arg("--verify")
        .args(["--enabled-reference-uris", "same-doc"])
        .args(["--id-attr:ID", &format!("{SAMLP}:Response")])
        .args(["--id-attr:ID", &format!("{SAML}:Assertion")])
        .args(["--node-xpath", &which.xpath()])
        .arg("--pubkey-cert-pem")
        .arg(cert)
        .arg(doc)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| {
            format!(
                "the xmlsec1 program could not be run ({}: {e}); SAML sign-in needs it installed",
                program.display()
            )
        })?;
    if output.status.success() {
        return Ok(true);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    tracing::debug!(stderr = %stderr.chars().take(2000).collect::<String>(), "xmlsec1 refused a signature");
    Ok(false)
}

/// `document` with its one `EncryptedData` decrypted by the private key `key_pem` (PEM, opened
/// with `password` when it is encrypted). `Err`: it could not be decrypted (wrong key, bad
/// data) or the program could not run; the two are not told apart to the sender.
///
/// The password, when there is one, is given on xmlsec1's command line (the program reads it
/// nowhere else), where other processes of the same host can see it while it runs: docs/realms.md
/// recommends an unencrypted key in a bundle only the server can read.
pub async fn decrypt(
    program: &Path,
    document: &str,
    key_pem: &[u8],
    password: Option<&str>,
) -> Result<String, Unchecked> {
    bounded(|dir| async move {
        let (doc, key, out) = (
            dir.join("response.xml"),
            dir.join("sp.key"),
            dir.join("decrypted.xml"),
        );
        write(&doc, document.as_bytes()).await?;
        write(&key, key_pem).await?;
        let mut cmd = Command::new(program);
        cmd.arg("--decrypt")
            .arg("--privkey-pem")
            .arg(&key)
            .arg("--output")
            .arg(&out);
        if let Some(p) = password {
            cmd.args(["--pwd", p]);
        }
        let status = cmd
            .arg(&doc)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .status()
            .await
            .map_err(|e| {
                format!(
                    "the xmlsec1 program could not be run ({}: {e})",
                    program.display()
                )
            })?;
        if !status.success() {
            return Err(
                "the EncryptedAssertion could not be decrypted with the realm's encryption key"
                    .into(),
            );
        }
        tokio::fs::read_to_string(&out)
            .await
            .map_err(|e| format!("decrypted output: {e}"))
    })
    .await
}
