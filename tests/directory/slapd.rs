//! A real OpenLDAP `slapd` for the directory tests: a child process on free loopback ports
//! (`ldap://` and `ldaps://`), configured from a generated `slapd.conf` in a temporary directory
//! (schemas core, cosine, inetorgperson, nis and the small AD schema `ad.schema`), filled with
//! `slapadd` from `example.ldif` (dc=example,dc=org) and `corp.ldif` (dc=corp,dc=example), with a
//! CA and server certificate generated for each instance. Killed when dropped. The system's slapd
//! service, if any, is never used.
//!
//! Without `/usr/sbin/slapd` (Debian package `slapd`; scripts/test.sh installs it) [`Slapd::start`]
//! prints a loud SKIPPED line and returns `None`; under `CI=true` it panics instead.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SLAPD: &str = "/usr/sbin/slapd";
const SLAPADD: &str = "/usr/sbin/slapadd";
const SCHEMAS: &[&str] = &["core", "cosine", "inetorgperson", "nis"];

pub struct Slapd {
    child: Child,
    _dir: tempfile::TempDir,
    pub ldap_url: String,
    pub ldaps_url: String,
    /// The CA that signed the server certificate (PEM, and DER).
    pub ca_pem: Vec<u8>,
    pub ca_der: Vec<u8>,
    ports: (u16, u16),
}

impl Slapd {
    /// A fresh directory, or `None` (after saying so) when slapd is not installed.
    pub fn start(test: &str) -> Option<Slapd> {
        if !Path::new(SLAPD).exists() || !Path::new(SLAPADD).exists() {
            let ci = std::env::var("CI").as_deref() == Ok("true");
            assert!(
                !ci,
                "{test}: {SLAPD} is not installed and CI=true: the directory tests must run \
                 (scripts/test.sh installs the Debian package slapd)"
            );
            // Written to the stderr handle, not with eprintln!: the test harness would capture
            // that and show it only for failing tests.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\n!!!!!!!!!! directory test SKIPPED: {SLAPD} is not installed \
                 (apt-get install slapd ldap-utils) !!!!!!!!!!\nSKIPPED {test}\n"
            );
            return None;
        }
        // A port picked free can be taken before slapd binds it: try again with new ones.
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start() {
                Ok(s) => return Some(s),
                Err(e) => last = e,
            }
        }
        panic!("slapd did not start: {last}");
    }

    fn try_start() -> Result<Slapd, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let d = dir.path();
        let (ca_pem, ca_der) = write_certificates(d);
        std::fs::write(d.join("ad.schema"), include_str!("ad.schema")).unwrap();
        std::fs::write(d.join("example.ldif"), include_str!("example.ldif")).unwrap();
        std::fs::write(d.join("corp.ldif"), include_str!("corp.ldif")).unwrap();
        for db in ["example", "corp"] {
            std::fs::create_dir(d.join(db)).unwrap();
        }
        std::fs::write(d.join("slapd.conf"), config(d)).unwrap();
        for (suffix, ldif) in [
            ("dc=example,dc=org", "example.ldif"),
            ("dc=corp,dc=example", "corp.ldif"),
        ] {
            let out = Command::new(SLAPADD)
                .arg("-f")
                .arg(d.join("slapd.conf"))
                .args(["-b", suffix, "-l"])
                .arg(d.join(ldif))
                .output()
                .map_err(|e| format!("slapadd: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "slapadd {ldif}: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        let (p1, p2) = (free_port(), free_port());
        let mut slapd = Slapd {
            child: spawn(d, p1, p2)?,
            ldap_url: format!("ldap://127.0.0.1:{p1}"),
            ldaps_url: format!("ldaps://127.0.0.1:{p2}"),
            ca_pem,
            ca_der,
            _dir: dir,
            ports: (p1, p2),
        };
        slapd.wait_listening()?;
        Ok(slapd)
    }

    /// Stops slapd and starts it again on the same ports and data: every connection to it ends.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (p1, p2) = self.ports;
        // The ports are free again once the old process is gone; a few tries cover TIME_WAIT.
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            self.child = spawn(self._dir.path(), p1, p2).unwrap();
            match self.wait_listening() {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => panic!("slapd did not restart: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    fn wait_listening(&mut self) -> Result<(), String> {
        let (p1, p2) = self.ports;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log =
                    std::fs::read_to_string(self._dir.path().join("slapd.log")).unwrap_or_default();
                return Err(format!("slapd exited ({status}): {log}"));
            }
            if listening(p1) && listening(p2) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("slapd did not listen within 15 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// slapd in the foreground (`-d 0`: the child is slapd itself, logging nothing extra).
fn spawn(d: &Path, p1: u16, p2: u16) -> Result<Child, String> {
    let log = std::fs::File::create(d.join("slapd.log")).unwrap();
    Command::new(SLAPD)
        .arg("-f")
        .arg(d.join("slapd.conf"))
        .arg("-h")
        .arg(format!("ldap://127.0.0.1:{p1}/ ldaps://127.0.0.1:{p2}/"))
        .args(["-d", "0"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("spawn slapd: {e}"))
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listening(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// A loopback port nothing listens on (at the time of asking).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(d: &Path) -> String {
    let d = d.display();
    let mut c = String::new();
    for s in SCHEMAS {
        c += &format!("include /etc/ldap/schema/{s}.schema\n");
    }
    c += &format!(
        "include {d}/ad.schema
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile {d}/ca.pem
TLSCertificateFile {d}/server.pem
TLSCertificateKeyFile {d}/server.key
# tlsonly may bind only over TLS: how the StartTLS test knows TLS was really used.
access to dn.exact=\"uid=tlsonly,ou=people,dc=example,dc=org\" attrs=userPassword
  by anonymous tls_ssf=128 auth
  by * none
access to attrs=userPassword
  by anonymous auth
  by * none
access to * by * read
database mdb
suffix \"dc=example,dc=org\"
directory {d}/example
maxsize 10485760
database mdb
suffix \"dc=corp,dc=example\"
directory {d}/corp
maxsize 10485760
"
    );
    c
}

/// Writes ca.pem, server.pem and server.key (server certificate for 127.0.0.1 and localhost);
/// returns the CA as PEM and DER.
fn write_certificates(d: &Path) -> (Vec<u8>, Vec<u8>) {
    let (ca, ca_key) = ca("ece directory test CA");
    let server_key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "127.0.0.1");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let server = params.signed_by(&server_key, &ca, &ca_key).unwrap();
    std::fs::write(d.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(d.join("server.pem"), server.pem()).unwrap();
    std::fs::write(d.join("server.key"), server_key.serialize_pem()).unwrap();
    (ca.pem().into_bytes(), ca.der().to_vec())
}

/// A self-signed CA certificate and its key.
pub fn ca(name: &str) -> (rcgen::Certificate, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).unwrap();
    (cert, key)
}
