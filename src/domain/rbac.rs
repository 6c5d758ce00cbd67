//! Roles, the operations of the API, and which role may call which operation.
//!
//! Every served operation is declared once in `operations!` below with its swagger operationId,
//! method, path and [`Scope`]. The macro generates a marker type per operation (used by the
//! `Authorized<op::X>` extractor, in the spirit of meilisearch's `GuardedData<ActionPolicy<..>>`)
//! and the [`OPERATIONS`] table that `docs/rbac.md`, the API description and the tests use.
//!
//! Policy that differs between operations is a column of the table, not a string test at the
//! call site: how a refusal is answered ([`Refusal`]) and what a success does to the per-replica
//! credential cache ([`CacheEffect`]). [`served_at`] finds the operation of a route.

use std::sync::OnceLock;

use crate::domain::roles::Role;

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// No authentication needed (login, methods, SAML endpoints).
    Public,
    /// Any authenticated user, acting on itself (its session, profile and API keys).
    SelfService,
    /// Reading the account: every ECE role.
    AccountRead,
    /// Reading users and everybody's keys: platform admins and viewers.
    PlatformRead,
    /// Changing the account, users, roles and other users' keys: platform admins only.
    PlatformAdmin,
}

/// How a refused call is answered; the spec documents its own codes for a few operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `root.unauthenticated` without valid credentials, `root.unauthorized.rbac` without the
    /// role.
    Standard,
    /// `_refresh`: `root.unauthorized` for a bad or expired token.
    Refresh,
    /// Role assignments: `root.unauthorized` without valid credentials,
    /// `role_assignments.unauthorized_role_assignments` without the role.
    RoleAssignments,
}

/// What a successful call does to what the per-replica credential cache holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheEffect {
    /// Revokes no credential and leaves the account alone (reads; login and key creation only
    /// add credentials).
    Keep,
    /// May revoke a credential or change the account: the cache is cleared before the reply
    /// leaves.
    Clear,
    /// Replaces the caller's bearer token (`_refresh`): the cache forgets the replaced one.
    ForgetCallerToken,
}

impl CacheEffect {
    /// Reads keep the cache, writes clear it, unless the table says otherwise.
    const fn of_method(method: &str) -> CacheEffect {
        match method.as_bytes() {
            b"GET" | b"HEAD" | b"OPTIONS" => CacheEffect::Keep,
            _ => CacheEffect::Clear,
        }
    }
}

/// A served operation.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub id: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    pub scope: Scope,
    pub refusal: Refusal,
    pub cache: CacheEffect,
}

/// Implemented by the marker type of each operation.
pub trait OperationId: Send + Sync + 'static {
    const OP: Operation;
}

/// One row of the table; `refusal` and `cache` default to [`Refusal::Standard`] and
/// [`CacheEffect::of_method`].
macro_rules! operation {
    ($id:literal, $method:literal, $path:literal, $scope:ident, $($refusal:ident)?, $($cache:ident)?) => {
        Operation {
            id: $id,
            method: $method,
            path: $path,
            scope: Scope::$scope,
            refusal: operation!(@or Refusal::Standard $(, Refusal::$refusal)?),
            cache: operation!(@or CacheEffect::of_method($method) $(, CacheEffect::$cache)?),
        }
    };
    (@or $default:expr) => { $default };
    (@or $default:expr, $given:expr) => { $given };
}

macro_rules! operations {
    ($($name:ident => $id:literal, $method:literal, $path:literal, $scope:ident
        $(, refusal: $refusal:ident)? $(, cache: $cache:ident)?;)*) => {
        /// Marker types, one per operation, for `Authorized<op::X>`.
        pub mod op {
            use super::*;
            $(
                #[doc = concat!("`", $method, " ", $path, "` (`", $id, "`)")]
                pub struct $name;
                impl OperationId for $name {
                    const OP: Operation = operation!($id, $method, $path, $scope, $($refusal)?, $($cache)?);
                }
            )*
        }
        /// Every served operation, in the order of the official swagger.
        pub const OPERATIONS: &[Operation] = &[
            $(operation!($id, $method, $path, $scope, $($refusal)?, $($cache)?),)*
        ];
    };
}

operations! {
    GetCurrentAccount => "get-current-account", "GET", "/account", AccountRead;
    UpdateCurrentAccount => "update-current-account", "PUT", "/account", PlatformAdmin;
    PatchCurrentAccount => "patch-current-account", "PATCH", "/account", PlatformAdmin;
    GetCurrentUser => "get-current-user", "GET", "/user", SelfService;
    UpdateCurrentUser => "update-current-user", "PATCH", "/user", SelfService;
    GetUsers => "get-users", "GET", "/users", PlatformRead;
    CreateUser => "create-user", "POST", "/users", PlatformAdmin;
    GetAuthenticationInfo => "get-authentication-info", "GET", "/users/auth", SelfService;
    Login => "login", "POST", "/users/auth/_login", Public, cache: Keep;
    Logout => "logout", "POST", "/users/auth/_logout", SelfService;
    RefreshToken => "refresh-token", "POST", "/users/auth/_refresh", SelfService, refusal: Refresh, cache: ForgetCallerToken;
    GetApiKeys => "get-api-keys", "GET", "/users/auth/keys", SelfService;
    CreateApiKey => "create-api-key", "POST", "/users/auth/keys", SelfService, cache: Keep;
    DeleteApiKeys => "delete-api-keys", "DELETE", "/users/auth/keys", SelfService;
    GetUsersApiKeys => "get-users-api-keys", "GET", "/users/auth/keys/_all", PlatformRead;
    DeleteUsersApiKeys => "delete-users-api-keys", "DELETE", "/users/auth/keys/_all", PlatformAdmin;
    GetApiKey => "get-api-key", "GET", "/users/auth/keys/{api_key_id}", SelfService;
    DeleteApiKey => "delete-api-key", "DELETE", "/users/auth/keys/{api_key_id}", SelfService;
    Methods => "methods", "GET", "/users/auth/methods", Public;
    SamlCallback => "saml-callback", "POST", "/users/auth/saml/_callback", Public;
    SamlInit => "saml-init", "GET", "/users/auth/saml/_init", Public;
    GetUserApiKeys => "get-user-api-keys", "GET", "/users/{user_id}/auth/keys", PlatformRead;
    DeleteUserApiKeys => "delete-user-api-keys", "DELETE", "/users/{user_id}/auth/keys", PlatformAdmin;
    GetUserApiKey => "get-user-api-key", "GET", "/users/{user_id}/auth/keys/{api_key_id}", PlatformRead;
    DeleteUserApiKey => "delete-user-api-key", "DELETE", "/users/{user_id}/auth/keys/{api_key_id}", PlatformAdmin;
    AddRoleAssignments => "add-role-assignments", "POST", "/users/{user_id}/role_assignments", PlatformAdmin, refusal: RoleAssignments;
    RemoveRoleAssignments => "remove-role-assignments", "DELETE", "/users/{user_id}/role_assignments", PlatformAdmin, refusal: RoleAssignments;
    GetUser => "get-user", "GET", "/users/{user_name}", PlatformRead;
    DeleteUser => "delete-user", "DELETE", "/users/{user_name}", PlatformAdmin;
    UpdateUser => "update-user", "PATCH", "/users/{user_name}", PlatformAdmin;
    // Security realms (spec/ece-realms-swagger.json).
    GetSecurityRealmConfigurations => "get-security-realm-configurations", "GET", "/platform/configuration/security/realms", PlatformRead;
    ReorderSecurityRealms => "reorder-security-realms", "POST", "/platform/configuration/security/realms/_reorder", PlatformAdmin;
    CreateActiveDirectoryConfiguration => "create-active-directory-configuration", "POST", "/platform/configuration/security/realms/active-directory", PlatformAdmin;
    GetActiveDirectoryConfiguration => "get-active-directory-configuration", "GET", "/platform/configuration/security/realms/active-directory/{realm_id}", PlatformRead;
    UpdateActiveDirectoryConfiguration => "update-active-directory-configuration", "PUT", "/platform/configuration/security/realms/active-directory/{realm_id}", PlatformAdmin;
    DeleteActiveDirectoryConfiguration => "delete-active-directory-configuration", "DELETE", "/platform/configuration/security/realms/active-directory/{realm_id}", PlatformAdmin;
    CreateLdapConfiguration => "create-ldap-configuration", "POST", "/platform/configuration/security/realms/ldap", PlatformAdmin;
    GetLdapConfiguration => "get-ldap-configuration", "GET", "/platform/configuration/security/realms/ldap/{realm_id}", PlatformRead;
    UpdateLdapConfiguration => "update-ldap-configuration", "PUT", "/platform/configuration/security/realms/ldap/{realm_id}", PlatformAdmin;
    DeleteLdapConfiguration => "delete-ldap-configuration", "DELETE", "/platform/configuration/security/realms/ldap/{realm_id}", PlatformAdmin;
    CreateSamlConfiguration => "create-saml-configuration", "POST", "/platform/configuration/security/realms/saml", PlatformAdmin;
    GetSamlConfiguration => "get-saml-configuration", "GET", "/platform/configuration/security/realms/saml/{realm_id}", PlatformRead;
    UpdateSamlConfiguration => "update-saml-configuration", "PUT", "/platform/configuration/security/realms/saml/{realm_id}", PlatformAdmin;
    DeleteSamlConfiguration => "delete-saml-configuration", "DELETE", "/platform/configuration/security/realms/saml/{realm_id}", PlatformAdmin;
}

/// Whether `role` grants operations of `scope`.
pub fn grants(role: Role, scope: Scope) -> bool {
    match scope {
        Scope::Public | Scope::SelfService | Scope::AccountRead => true,
        Scope::PlatformRead => matches!(role, Role::PlatformAdmin | Role::PlatformViewer),
        Scope::PlatformAdmin => role == Role::PlatformAdmin,
    }
}

/// Whether a holder of `roles` may call `op`.
pub fn allowed(roles: &[Role], op: &Operation) -> bool {
    matches!(op.scope, Scope::Public | Scope::SelfService)
        || roles.iter().any(|r| grants(*r, op.scope))
}

/// The operationIds `roles` grant, in table order (the `User.security.permissions` field).
pub fn permissions(roles: &[Role]) -> Vec<String> {
    OPERATIONS
        .iter()
        .filter(|op| allowed(roles, op))
        .map(|op| op.id.to_string())
        .collect()
}

/// The operation served at `path` (below `/api/v1`; a request's path, or a route template such
/// as `/users/{user_id}`, whatever its parameters are called) with `method`.
pub fn served_at(method: &str, path: &str) -> Option<&'static Operation> {
    with_method(operations_at(path)?, method)
}

/// Every operation served at `path` (as for [`served_at`]), whatever its method; `None` when no
/// operation has that path. Found with matchit, the matcher axum routes with, over the table
/// built once: the same precedence of static segments over parameters as the route table.
pub fn operations_at(path: &str) -> Option<&'static [&'static Operation]> {
    static TABLE: OnceLock<matchit::Router<Vec<&'static Operation>>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut by_path: Vec<(String, Vec<&'static Operation>)> = Vec::new();
        for op in OPERATIONS {
            let path = matcher_path(op.path);
            match by_path.iter_mut().find(|(p, _)| *p == path) {
                Some((_, ops)) => ops.push(op),
                None => by_path.push((path, vec![op])),
            }
        }
        let mut table = matchit::Router::new();
        for (path, ops) in by_path {
            table
                .insert(path, ops)
                .expect("the operation table's paths do not conflict");
        }
        table
    });
    table.at(path).ok().map(|found| found.value.as_slice())
}

/// The one of `ops` (operations at one path) whose method is `method`.
pub fn with_method(ops: &[&'static Operation], method: &str) -> Option<&'static Operation> {
    ops.iter()
        .copied()
        .find(|op| op.method.eq_ignore_ascii_case(method))
}

/// `/users/{user_name}/auth/keys/{api_key_id}` → `/users/{p2}/auth/keys/{p5}`: the matcher wants
/// one name per position, the table names parameters as the spec does.
fn matcher_path(template: &str) -> String {
    let segments = template.split('/').enumerate().map(|(i, s)| {
        if s.starts_with('{') {
            format!("{{p{i}}}")
        } else {
            s.to_string()
        }
    });
    segments.collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forty_four_operations_with_unique_ids() {
        // 30 identity operations and 14 security-realm ones.
        let mut ids: Vec<_> = OPERATIONS.iter().map(|o| o.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 44);
    }

    #[test]
    fn admin_gets_everything_viewer_reads() {
        let admin = permissions(&[Role::PlatformAdmin]);
        assert_eq!(admin.len(), 44);
        let viewer = permissions(&[Role::PlatformViewer]);
        assert!(viewer.contains(&"get-users".to_string()));
        assert!(!viewer.contains(&"create-user".to_string()));
        assert!(viewer.contains(&"get-ldap-configuration".to_string()));
        assert!(viewer.contains(&"get-saml-configuration".to_string()));
        assert!(!viewer.contains(&"update-saml-configuration".to_string()));
        assert!(!viewer.contains(&"reorder-security-realms".to_string()));
        let nobody = permissions(&[]);
        assert!(nobody.contains(&"get-current-user".to_string()));
        assert!(!nobody.contains(&"get-current-account".to_string()));
    }

    #[test]
    fn routes_find_their_operation_whatever_the_parameter_names() {
        assert_eq!(served_at("GET", "/users/{user_id}").unwrap().id, "get-user");
        assert_eq!(served_at("patch", "/users/{x}").unwrap().id, "update-user");
        assert_eq!(
            served_at("GET", "/users/{user_id}/auth/keys/{api_key_id}")
                .unwrap()
                .id,
            "get-user-api-key"
        );
        assert!(served_at("PUT", "/users/{user_id}").is_none());
        assert!(served_at("GET", "/nowhere").is_none());
        for op in OPERATIONS {
            assert_eq!(served_at(op.method, op.path).unwrap().id, op.id);
        }
    }

    /// Which successful requests clear the credential cache.
    #[test]
    fn which_requests_clear_the_lookups() {
        let clears = |method: &str, template: &str| {
            served_at(method, template).unwrap().cache == CacheEffect::Clear
        };
        assert!(!clears("GET", "/users"));
        assert!(!clears("POST", "/users/auth/_login"));
        assert!(!clears("POST", "/users/auth/_refresh"));
        assert!(!clears("POST", "/users/auth/keys"));
        assert!(clears("POST", "/users/auth/_logout"));
        assert!(clears("DELETE", "/users/auth/keys"));
        assert!(clears("DELETE", "/users/auth/keys/{api_key_id}"));
        assert!(clears("PATCH", "/users/{user_id}"));
        assert!(clears("PATCH", "/user"));
        assert!(clears("DELETE", "/users/{user_id}/role_assignments"));
        assert!(clears("POST", "/users/{user_id}/role_assignments"));
        assert_eq!(
            served_at("POST", "/users/auth/_refresh").unwrap().cache,
            CacheEffect::ForgetCallerToken
        );
    }
}
