//! What a realm's `certificate_url` serves, turned into CA sources for `tls.rs`: a zip (what ECE
//! points at, "a zip of a keystore") holding PEM or DER certificates or a PKCS#12 truststore, or
//! one such file served directly.
//!
//! Zips are untrusted input: at most [`MAX_ENTRIES`] entries and [`MAX_UNCOMPRESSED`] bytes once
//! inflated (counted while reading, so a lying size in the header does not help a zip bomb);
//! encrypted entries are refused. Java JKS/JCEKS keystores are recognised by their magic number and
//! refused with the `keytool` command that converts them. Nothing in an error echoes file content.

use std::io::{Cursor, Read};

use super::CaSource;

/// Entries a zip may hold (directories included).
pub const MAX_ENTRIES: usize = 64;
/// Bytes all entries of a zip may inflate to, together.
pub const MAX_UNCOMPRESSED: u64 = 1024 * 1024;

/// How to read the files (from `certificate_url_truststore_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaFormat {
    /// Type unset (or `jks`): each file by its content: PEM, a DER certificate or a PKCS#12 file.
    Detect,
    /// `PKCS12`: binary files are PKCS#12 truststores (PEM files are still read as PEM).
    Pkcs12,
}

pub const JKS_NOT_SUPPORTED: &str = "Java JKS/JCEKS keystores are not supported: convert it with \
     `keytool -importkeystore -srckeystore ca.jks -destkeystore ca.p12 -deststoretype pkcs12`, \
     serve the .p12 (or a zip of it) and set certificate_url_truststore_type to PKCS12";

/// The CA sources in `data` (fetched from a URL whose last path segment is `name`), at least one.
/// `Err` is a cause for the audit log, safe to show (no content, no password).
pub fn extract(
    name: &str,
    data: &[u8],
    format: CaFormat,
    password: Option<&str>,
) -> Result<Vec<CaSource>, String> {
    let files = if is_zip(data) {
        unzip(data)?
    } else {
        vec![(name.to_string(), data.to_vec())]
    };
    let mut sources = Vec::new();
    let mut skipped = Vec::new();
    for (name, data) in files {
        match classify(&name, data, format, password)? {
            Some(source) => sources.push(source),
            None => skipped.push(name),
        }
    }
    if sources.is_empty() {
        let skipped = if skipped.is_empty() {
            String::new()
        } else {
            format!(" (not certificates: {})", skipped.join(", "))
        };
        return Err(format!("no PEM, DER or PKCS#12 certificate found{skipped}"));
    }
    Ok(sources)
}

fn is_zip(data: &[u8]) -> bool {
    // A local file header, or the end record of an empty archive.
    data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06")
}

/// The files of a zip with their names, within the limits.
pub fn unzip(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(data)).map_err(|e| format!("unreadable zip ({e})"))?;
    if archive.len() > MAX_ENTRIES {
        return Err(format!(
            "the zip holds {} entries, more than the {MAX_ENTRIES} accepted",
            archive.len()
        ));
    }
    let mut files = Vec::new();
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive
            .by_index(i)
            .map_err(|e| format!("unreadable zip entry ({e})"))?;
        let name = entry.name().to_string();
        if entry.is_dir() || ignored(&name) {
            continue;
        }
        if entry.encrypted() {
            return Err(format!("zip entry {name} is encrypted"));
        }
        let room = MAX_UNCOMPRESSED - total;
        if entry.size() > room {
            return Err(too_big());
        }
        // The declared size may lie: read at most one byte past the room left.
        let mut bytes = Vec::new();
        entry
            .take(room + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("zip entry {name} unreadable ({e})"))?;
        total += bytes.len() as u64;
        if total > MAX_UNCOMPRESSED {
            return Err(too_big());
        }
        files.push((name, bytes));
    }
    Ok(files)
}

fn too_big() -> String {
    format!("the zip inflates to more than {MAX_UNCOMPRESSED} bytes")
}

/// macOS resource forks and hidden files that zip tools add.
fn ignored(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    name.starts_with("__MACOSX/") || base.starts_with('.')
}

/// One file as a CA source; `None` for a file that is no certificate at all (a README).
fn classify(
    name: &str,
    data: Vec<u8>,
    format: CaFormat,
    password: Option<&str>,
) -> Result<Option<CaSource>, String> {
    // JKS: 0xFEEDFEED, JCEKS: 0xCECECECE.
    if data.starts_with(&[0xFE, 0xED, 0xFE, 0xED]) || data.starts_with(&[0xCE, 0xCE, 0xCE, 0xCE]) {
        return Err(format!("{name}: {JKS_NOT_SUPPORTED}"));
    }
    let pkcs12 = |data| CaSource::Pkcs12 {
        data,
        password: password.unwrap_or_default().to_string(),
    };
    if data.windows(11).any(|w| w == b"-----BEGIN ") {
        return Ok(Some(CaSource::Pem(data)));
    }
    Ok(match (format, der_kind(&data)) {
        (CaFormat::Pkcs12, Some(_)) | (CaFormat::Detect, Some(Der::Pfx)) => Some(pkcs12(data)),
        (CaFormat::Detect, Some(Der::Certificate)) => Some(CaSource::Pem(data)),
        (_, None) => None,
    })
}

enum Der {
    Certificate,
    Pfx,
}

/// A DER SEQUENCE whose first element is a SEQUENCE (an X.509 certificate's tbsCertificate) or an
/// INTEGER (a PKCS#12 PFX's version); `None` for anything else.
fn der_kind(data: &[u8]) -> Option<Der> {
    if data.first() != Some(&0x30) {
        return None;
    }
    let len_byte = *data.get(1)?;
    let header = if len_byte < 0x80 {
        2
    } else {
        2 + usize::from(len_byte & 0x7F)
    };
    match data.get(header)? {
        0x30 => Some(Der::Certificate),
        0x02 => Some(Der::Pfx),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::security::directory::tls::certificates;

    fn ca() -> rcgen::CertifiedKey {
        rcgen::generate_simple_self_signed(vec!["ca.test".to_string()]).unwrap()
    }

    fn p12(der: &[u8]) -> Vec<u8> {
        let mut store = p12_keystore::KeyStore::new();
        let cert = p12_keystore::Certificate::from_der(der).unwrap();
        store.add_entry("ca", p12_keystore::KeyStoreEntry::Certificate(cert));
        store.writer("changeit").write().unwrap()
    }

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in files {
            w.start_file(*name, options).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn count(sources: &[CaSource]) -> usize {
        sources.iter().map(|s| certificates(s).unwrap().len()).sum()
    }

    #[test]
    fn plain_files_pem_der_and_pkcs12() {
        let (a, b) = (ca(), ca());
        let two = format!("{}{}", a.cert.pem(), b.cert.pem());
        let sources = extract("ca.pem", two.as_bytes(), CaFormat::Detect, None).unwrap();
        assert_eq!(count(&sources), 2);
        let der = a.cert.der().to_vec();
        let sources = extract("ca.cer", &der, CaFormat::Detect, None).unwrap();
        assert!(matches!(&sources[..], [CaSource::Pem(d)] if d == &der));
        // PKCS#12 is recognised by its content, with or without the type.
        for format in [CaFormat::Detect, CaFormat::Pkcs12] {
            let sources = extract("ts", &p12(&der), format, Some("changeit")).unwrap();
            assert!(
                matches!(&sources[..], [CaSource::Pkcs12 { password, .. }] if password == "changeit")
            );
            assert_eq!(count(&sources), 1);
        }
    }

    #[test]
    fn a_zip_of_certificates_and_a_truststore() {
        let (a, b) = (ca(), ca());
        let zip = zip_of(&[
            ("certs/", b""),
            ("certs/a.pem", a.cert.pem().as_bytes()),
            ("certs/b.der", b.cert.der()),
            ("truststore.p12", &p12(a.cert.der())),
            ("README.txt", b"install me"),
            ("__MACOSX/certs/._a.pem", b"\x00\x05\x16\x07junk"),
        ]);
        let sources = extract("ca.zip", &zip, CaFormat::Detect, Some("changeit")).unwrap();
        assert_eq!(sources.len(), 3);
        assert_eq!(count(&sources), 3);
        // Nothing usable in it: the cause names what was skipped, never the content.
        let cause = extract(
            "x.zip",
            &zip_of(&[("README.txt", b"install me")]),
            CaFormat::Detect,
            None,
        )
        .unwrap_err();
        assert!(
            cause.contains("README.txt") && !cause.contains("install"),
            "{cause}"
        );
        assert!(extract("x.zip", &zip_of(&[]), CaFormat::Detect, None).is_err());
    }

    #[test]
    fn jks_is_refused_with_the_conversion() {
        let jks = [&[0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2][..], &[0; 40]].concat();
        for data in [jks.clone(), zip_of(&[("cacerts.jks", &jks)])] {
            let cause = extract("ca", &data, CaFormat::Detect, Some("hunter2")).unwrap_err();
            assert!(
                cause.contains("JKS") && cause.contains("keytool"),
                "{cause}"
            );
            assert!(!cause.contains("hunter2"), "{cause}");
        }
    }

    #[test]
    fn zip_bombs_are_refused() {
        // Many entries.
        let names: Vec<String> = (0..=MAX_ENTRIES).map(|i| format!("{i}.pem")).collect();
        let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
        let cause = extract("z", &zip_of(&files), CaFormat::Detect, None).unwrap_err();
        assert!(cause.contains("entries"), "{cause}");
        // One entry inflating past the limit (a few KiB compressed).
        let zeros = vec![0u8; MAX_UNCOMPRESSED as usize + 1];
        let bomb = zip_of(&[("big.pem", &zeros)]);
        assert!(bomb.len() < 16 * 1024);
        let cause = extract("z", &bomb, CaFormat::Detect, None).unwrap_err();
        assert!(cause.contains("inflates"), "{cause}");
        // Several entries under the limit each, over it together.
        let half = vec![0u8; MAX_UNCOMPRESSED as usize / 2 + 1];
        let cause = extract(
            "z",
            &zip_of(&[("a", &half), ("b", &half)]),
            CaFormat::Detect,
            None,
        )
        .unwrap_err();
        assert!(cause.contains("inflates"), "{cause}");
    }

    #[test]
    fn a_lying_size_in_the_header_does_not_help() {
        // An entry whose headers claim 1 byte: every uncompressed-size field patched.
        let big = vec![b'A'; MAX_UNCOMPRESSED as usize + 10];
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let deflated = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file("a.pem", deflated).unwrap();
        w.write_all(&big).unwrap();
        let mut zip = w.finish().unwrap().into_inner();
        let size = (big.len() as u32).to_le_bytes();
        let mut i = 0;
        while i + 4 <= zip.len() {
            if zip[i..i + 4] == size {
                zip[i..i + 4].copy_from_slice(&1u32.to_le_bytes());
            }
            i += 1;
        }
        let cause = extract("z", &zip, CaFormat::Detect, None).unwrap_err();
        // Caught by counting the bytes read, not by the (lying) declared size.
        assert!(cause.contains("inflates"), "{cause}");
    }

    #[test]
    fn garbage_is_no_certificate() {
        assert!(extract("x", b"hello", CaFormat::Detect, None).is_err());
        assert!(extract("x", b"PK\x03\x04garbage", CaFormat::Detect, None).is_err());
    }
}
