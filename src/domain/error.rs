//! The error code table, and the domain's own error: a [`Code`], a message for people and the
//! request fields it concerns.
//!
//! Codes are chosen where the failure is understood (a validation rule, the store), with no
//! knowledge of how they are sent: [`ErrorCode`] is how a lower layer's error names its code, in
//! the spirit of meilisearch's `ErrorCode` trait. The HTTP layer (`crate::http::error`) renders
//! every code as the ECE envelope with the status of this table. `docs/errors.md` documents the
//! table; a test keeps the two in step.

/// Declares the code table once: variant, wire code, HTTP status.
macro_rules! codes {
    ($($variant:ident => $code:literal, $status:literal;)*) => {
        /// Every error code this server can answer with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code { $($variant,)* }

        impl Code {
            /// The stable wire code clients match on (`errors[].code`).
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }
            /// The HTTP status this code is always sent with, as a number: the HTTP layer
            /// turns it into a response (see `crate::http::error`).
            pub fn http_status(self) -> u16 {
                match self { $(Code::$variant => $status,)* }
            }
            /// All codes, for documentation and tests.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];
        }
    };
}

codes! {
    // Generic request handling (ECE's own `root.*` family).
    InvalidJson => "root.invalid_json_request", 400;
    BadRequest => "root.bad_request", 400;
    UriTooLong => "root.uri_too_long", 414;
    HeaderTooLarge => "root.request_header_too_large", 431;
    UnsupportedMediaType => "root.unsupported_media_type", 415;
    PayloadTooLarge => "root.payload_too_large", 413;
    ResourceNotFound => "root.resource_not_found", 404;
    MethodNotAllowed => "root.method_not_allowed", 405;
    Unauthenticated => "root.unauthenticated", 401;
    Unauthorized => "root.unauthorized", 401;
    Forbidden => "root.unauthorized.rbac", 403;
    RequestTimeout => "root.request_timeout", 408;
    TooManyRequests => "root.too_many_requests", 429;
    Internal => "root.internal_server_error", 500;
    StoreUnavailable => "root.store_unavailable", 503;
    WriteContention => "root.write_contention", 409;
    // Authentication realms.
    NoAuthenticationCluster => "authc.no_authentication_cluster", 501;
    AuthenticationClusterError => "authc.authentication_cluster_error", 502;
    // Accounts.
    AccountNotFound => "accounts.not_found", 404;
    // API keys.
    ApiKeyInvalidInput => "api_keys.invalid_input", 400;
    ApiKeyNotFound => "api_keys.key_not_found", 404;
    ApiKeyUserNotFound => "api_keys.user_not_found", 404;
    // Users.
    UserNotFound => "user.not_found", 404;
    UserNameInvalid => "user.user_name.invalid", 400;
    UserNameConflict => "user.user_name.conflict", 409;
    UserRolesInvalid => "user.roles.invalid", 400;
    UserRolesForbidden => "user.roles.forbidden", 400;
    UserRestrictedField => "user.restricted_field", 400;
    UserCannotModify => "user.cannot_modify", 400;
    UserCannotModifyExternal => "user.cannot_modify_external", 400;
    UserRestrictedDeletion => "user.restricted_deletion", 400;
    UserPasswordInvalid => "user.password.invalid", 400;
    // Role assignments.
    RoleAssignmentsInvalidTarget => "role_assignments.invalid_target_user_id", 400;
    RoleAssignmentsInvalid => "role_assignments.invalid_input", 400;
    RoleAssignmentsUnauthorized => "role_assignments.unauthorized_role_assignments", 403;
    // Security realms (the spec documents the settings errors as 400, conflicts included).
    RealmIdConflict => "security_realm.id_conflict", 400;
    RealmInvalidId => "security_realm.invalid_id", 400;
    RealmInvalidOrder => "security_realm.invalid_order", 400;
    RealmInvalidType => "security_realm.invalid_type", 400;
    RealmOrderConflict => "security_realm.order_conflict", 400;
    RealmInvalidYaml => "security_realm.invalid_yaml", 400;
    RealmInvalidUrl => "security_realm.invalid_url", 400;
    RealmLdapInvalidUrl => "security_realm.ldap.invalid_url", 400;
    RealmAdInvalidUrl => "security_realm.active_directory.invalid_url", 400;
    RealmInvalidBundleUrl => "security_realm.invalid_bundle_url", 400;
    RealmSamlInvalidIdpMetadataUrl => "security_realm.saml.invalid_idp_metadata_url", 400;
    RealmInvalidIds => "security_realm.invalid_ids", 400;
    RealmMissingIds => "security_realm.missing_ids", 400;
    RealmNotFound => "security_realm.not_found", 404;
    RealmVersionConflict => "security_realm.version_conflict", 409;
    RealmSecretsUnavailable => "security_realm.secrets_unavailable", 500;
}

/// What an error of a lower layer answers with, whoever renders it.
pub trait ErrorCode {
    fn error_code(&self) -> Code;
}

/// A failure of a domain rule, with what a client needs to mend the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: Code,
    pub message: String,
    pub fields: Vec<String>,
}

impl Error {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    pub fn with_fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.fields = fields.into_iter().map(Into::into).collect();
        self
    }
}

impl ErrorCode for Error {
    fn error_code(&self) -> Code {
        self.code
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/errors.md documents every code of the table.
    #[test]
    fn every_code_is_documented() {
        let doc = include_str!("../../docs/errors.md");
        for code in Code::ALL {
            assert!(
                doc.contains(&format!("`{}` | {}", code.as_str(), code.http_status())),
                "docs/errors.md misses {}",
                code.as_str()
            );
        }
    }
}
