//! The write-only secret fields of a realm's settings as one value ([`RealmSecrets`]): split off
//! a settings document when it arrives, sealed at rest as JSON (`crate::security::sealed`),
//! merged under an update, never rendered (its `Debug` says which are set, not what they are).
//! Every field defaults to absent, so values sealed before a field existed still open.

use serde::{Deserialize, Serialize};

use super::RealmType;

/// The secret fields of a settings document as sent: `Some("")` removes a stored secret,
/// `None` (absent or null) keeps it, anything else replaces it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealmSecrets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_url_truststore_password: Option<String>,
    // SAML's (older sealed values lack them: absent, none set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_certificate_url_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_certificate_url_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_certificate_url_truststore_password: Option<String>,
}

impl RealmSecrets {
    /// The secrets `realm_type` has: a field of another type, sent by mistake, is dropped.
    pub fn only_for(self, realm_type: RealmType) -> RealmSecrets {
        let keep = |name: &str, v: Option<String>| {
            v.filter(|_| realm_type.secret_fields().contains(&name))
        };
        RealmSecrets {
            bind_password: keep("bind_password", self.bind_password),
            certificate_url_truststore_password: keep(
                "certificate_url_truststore_password",
                self.certificate_url_truststore_password,
            ),
            signing_certificate_url_password: keep(
                "signing_certificate_url_password",
                self.signing_certificate_url_password,
            ),
            encryption_certificate_url_password: keep(
                "encryption_certificate_url_password",
                self.encryption_certificate_url_password,
            ),
            ssl_certificate_url_truststore_password: keep(
                "ssl_certificate_url_truststore_password",
                self.ssl_certificate_url_truststore_password,
            ),
        }
    }

    /// The stored secrets after an update that sent `self`: omitted fields keep `stored`'s,
    /// empty strings remove them.
    pub fn merged_over(self, stored: &RealmSecrets) -> RealmSecrets {
        let pick = |sent: Option<String>, kept: &Option<String>| match sent {
            None => kept.clone(),
            Some(s) if s.is_empty() => None,
            Some(s) => Some(s),
        };
        RealmSecrets {
            bind_password: pick(self.bind_password, &stored.bind_password),
            certificate_url_truststore_password: pick(
                self.certificate_url_truststore_password,
                &stored.certificate_url_truststore_password,
            ),
            signing_certificate_url_password: pick(
                self.signing_certificate_url_password,
                &stored.signing_certificate_url_password,
            ),
            encryption_certificate_url_password: pick(
                self.encryption_certificate_url_password,
                &stored.encryption_certificate_url_password,
            ),
            ssl_certificate_url_truststore_password: pick(
                self.ssl_certificate_url_truststore_password,
                &stored.ssl_certificate_url_truststore_password,
            ),
        }
    }

    pub fn is_empty(&self) -> bool {
        self == &RealmSecrets::default()
    }
}

impl std::fmt::Debug for RealmSecrets {
    /// Never the values: which secrets are set.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "bind_password set: {}, truststore password set: {}, SAML signing/encryption/ssl passwords set: {}/{}/{}",
            self.bind_password.is_some(),
            self.certificate_url_truststore_password.is_some(),
            self.signing_certificate_url_password.is_some(),
            self.encryption_certificate_url_password.is_some(),
            self.ssl_certificate_url_truststore_password.is_some()
        )
    }
}
