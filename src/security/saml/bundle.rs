//! A SAML realm's certificate bundles (`signing_certificate_url`, `encryption_certificate_url`):
//! a zip holding `saml/<realm id>/<name>.key` and `<name>.pem`, as ECE documents them, fetched
//! through the bounded, cached fetch of `ca_fetch` and read with `ca_archive`'s zip-bomb guards.

use std::time::Duration;

use super::SamlError;
use crate::security::directory::{ca_archive, ca_fetch};

/// The private key file `<name>.key` (PEM) of the bundle at `url` (`label` names the field).
pub async fn key(
    label: &str,
    url: &str,
    realm_id: &str,
    name: &str,
    within: Duration,
) -> Result<Vec<u8>, SamlError> {
    let bytes = ca_fetch::fetch_url(label, url, within)
        .await
        .map_err(SamlError::from)?;
    let files =
        ca_archive::unzip(&bytes).map_err(|e| SamlError::Misconfigured(format!("{label}: {e}")))?;
    let wanted = format!("saml/{realm_id}/{name}.key");
    let file = format!("{name}.key");
    files
        .into_iter()
        .find(|(n, _)| {
            let n = n.trim_start_matches('/');
            n == wanted || n == file
        })
        .map(|(_, key)| key)
        .ok_or_else(|| SamlError::Misconfigured(format!("{label}: the zip holds no {wanted}")))
}
