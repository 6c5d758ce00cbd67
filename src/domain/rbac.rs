//! Roles, the operations of the API, and which role may call which operation.
//!
//! Every served operation is declared once in `operations!` below with its swagger operationId,
//! method, path and [`Scope`]. The macro generates a marker type per operation (used by the
//! `Authorized<op::X>` extractor, in the spirit of meilisearch's `GuardedData<ActionPolicy<..>>`)
//! and the [`OPERATIONS`] table that `docs/rbac.md`, the API description and the tests use.

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

pub const PLATFORM_ADMIN: &str = "ece_platform_admin";
pub const PLATFORM_VIEWER: &str = "ece_platform_viewer";
pub const DEPLOYMENT_MANAGER: &str = "ece_deployment_manager";
pub const DEPLOYMENT_VIEWER: &str = "ece_deployment_viewer";

/// The roles ECE knows, platform roles first.
pub const ROLES: &[&str] = &[
    PLATFORM_ADMIN,
    PLATFORM_VIEWER,
    DEPLOYMENT_MANAGER,
    DEPLOYMENT_VIEWER,
];

/// Whether `role` grants operations of `scope`.
pub fn role_grants(role: &str, scope: Scope) -> bool {
    match scope {
        Scope::Public | Scope::SelfService => true,
        Scope::AccountRead => ROLES.contains(&role),
        Scope::PlatformRead => role == PLATFORM_ADMIN || role == PLATFORM_VIEWER,
        Scope::PlatformAdmin => role == PLATFORM_ADMIN,
    }
}

/// A served operation.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub id: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    pub scope: Scope,
}

/// Implemented by the marker type of each operation.
pub trait OperationId: Send + Sync + 'static {
    const OP: Operation;
}

macro_rules! operations {
    ($($name:ident => $id:literal, $method:literal, $path:literal, $scope:ident;)*) => {
        /// Marker types, one per operation, for `Authorized<op::X>`.
        pub mod op {
            use super::*;
            $(
                #[doc = concat!("`", $method, " ", $path, "` (`", $id, "`)")]
                pub struct $name;
                impl OperationId for $name {
                    const OP: Operation = Operation { id: $id, method: $method, path: $path, scope: Scope::$scope };
                }
            )*
        }
        /// Every served operation, in the order of the official swagger.
        pub const OPERATIONS: &[Operation] = &[
            $(Operation { id: $id, method: $method, path: $path, scope: Scope::$scope },)*
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
    Login => "login", "POST", "/users/auth/_login", Public;
    Logout => "logout", "POST", "/users/auth/_logout", SelfService;
    RefreshToken => "refresh-token", "POST", "/users/auth/_refresh", SelfService;
    GetApiKeys => "get-api-keys", "GET", "/users/auth/keys", SelfService;
    CreateApiKey => "create-api-key", "POST", "/users/auth/keys", SelfService;
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
    AddRoleAssignments => "add-role-assignments", "POST", "/users/{user_id}/role_assignments", PlatformAdmin;
    RemoveRoleAssignments => "remove-role-assignments", "DELETE", "/users/{user_id}/role_assignments", PlatformAdmin;
    GetUser => "get-user", "GET", "/users/{user_name}", PlatformRead;
    DeleteUser => "delete-user", "DELETE", "/users/{user_name}", PlatformAdmin;
    UpdateUser => "update-user", "PATCH", "/users/{user_name}", PlatformAdmin;
}

/// Whether a holder of `roles` may call `op`.
pub fn allowed(roles: &[String], op: &Operation) -> bool {
    matches!(op.scope, Scope::Public | Scope::SelfService)
        || roles.iter().any(|r| role_grants(r, op.scope))
}

/// The operationIds `roles` grant, in table order (the `User.security.permissions` field).
pub fn permissions(roles: &[String]) -> Vec<String> {
    OPERATIONS
        .iter()
        .filter(|op| allowed(roles, op))
        .map(|op| op.id.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_operations_with_unique_ids() {
        let mut ids: Vec<_> = OPERATIONS.iter().map(|o| o.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 30);
    }

    #[test]
    fn admin_gets_everything_viewer_reads() {
        let admin = permissions(&[PLATFORM_ADMIN.into()]);
        assert_eq!(admin.len(), 30);
        let viewer = permissions(&[PLATFORM_VIEWER.into()]);
        assert!(viewer.contains(&"get-users".to_string()));
        assert!(!viewer.contains(&"create-user".to_string()));
        let nobody = permissions(&[]);
        assert!(nobody.contains(&"get-current-user".to_string()));
        assert!(!nobody.contains(&"get-current-account".to_string()));
    }
}
