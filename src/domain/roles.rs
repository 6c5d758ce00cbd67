//! The domain's names for things that travel as strings on the wire: ECE roles, user names and
//! role assignments. Each is parsed once, where it enters (a request body, a stored row), so the
//! rest of the code holds a value that is known to be valid instead of re-checking a string.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::error::{Code, Error, Result};

/// The roles ECE knows. The order is the one lists of roles are kept in: platform roles first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    #[serde(rename = "ece_platform_admin")]
    PlatformAdmin,
    #[serde(rename = "ece_platform_viewer")]
    PlatformViewer,
    #[serde(rename = "ece_deployment_manager")]
    DeploymentManager,
    #[serde(rename = "ece_deployment_viewer")]
    DeploymentViewer,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::PlatformAdmin,
        Role::PlatformViewer,
        Role::DeploymentManager,
        Role::DeploymentViewer,
    ];

    /// The role's id on the wire (`ece_platform_admin`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::PlatformAdmin => "ece_platform_admin",
            Role::PlatformViewer => "ece_platform_viewer",
            Role::DeploymentManager => "ece_deployment_manager",
            Role::DeploymentViewer => "ece_deployment_viewer",
        }
    }

    pub fn parse(id: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == id)
    }

    /// Deployment-scoped roles are the only ones a deployment role assignment may name.
    pub fn is_deployment_scoped(self) -> bool {
        matches!(self, Role::DeploymentManager | Role::DeploymentViewer)
    }

    /// Every role id, for messages that list the valid ones.
    pub fn all_ids() -> String {
        Role::ALL.map(Role::as_str).join(", ")
    }
}

/// A role equals its id on the wire (`Role::PlatformAdmin == "ece_platform_admin"`).
impl PartialEq<&str> for Role {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Known roles, no duplicates, in [`Role`] order; `ece_platform_admin` already grants everything
/// and is not combined with another role. `field` names the request field in errors.
pub fn parse_roles(ids: &[String], field: &str) -> Result<Vec<Role>> {
    let mut roles = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(role) = Role::parse(id) else {
            return Err(Error::new(
                Code::UserRolesInvalid,
                format!("Unknown role [{id}]. Valid roles: {}.", Role::all_ids()),
            )
            .with_fields([field.to_string()]));
        };
        roles.push(role);
    }
    normalize(roles, field)
}

/// Sorts and deduplicates `roles`, refusing `ece_platform_admin` combined with another role.
pub fn normalize(mut roles: Vec<Role>, field: &str) -> Result<Vec<Role>> {
    roles.sort();
    roles.dedup();
    if roles.len() > 1 && roles.contains(&Role::PlatformAdmin) {
        return Err(Error::new(
            Code::UserRolesForbidden,
            "The role [ece_platform_admin] cannot be combined with other roles: it already grants every operation.",
        )
        .with_fields([field.to_string()]));
    }
    Ok(roles)
}

/// A deployment-scope role assignment of a user (`DeploymentRoleAssignment` of the spec). This
/// server manages no deployments: they are validated and kept, and grant nothing here.
#[derive(Debug, Deserialize, Serialize, PartialEq, Eq, Clone)]
pub struct DeploymentRoleAssignment {
    pub role_id: String,
    pub organization_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_roles: Option<Vec<String>>,
}

/// A user name: letters, digits, `.`, `_`, `-` and `@`, 1 to 64 characters, starting with a
/// letter or digit, not a word reserved by the routes under `/users/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserName(String);

/// Names that would collide with routes under `/users/`.
const RESERVED_NAMES: &[&str] = &["auth", "_all"];

impl UserName {
    pub fn parse(name: &str) -> Result<UserName> {
        let ok = (1..=64).contains(&name.len())
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
            && !RESERVED_NAMES.contains(&name);
        if ok {
            Ok(UserName(name.to_string()))
        } else {
            Err(Error::new(
                Code::UserNameInvalid,
                "The user name must be 1 to 64 characters: letters, digits, '.', '_', '-' or '@', starting with a \
                 letter or digit (and not a reserved word such as 'auth').",
            )
            .with_fields(["user_name"]))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_order() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        assert_eq!(Role::parse("root"), None);
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_roles(
                &ids(&[
                    "ece_deployment_viewer",
                    "ece_platform_viewer",
                    "ece_platform_viewer"
                ]),
                "security.roles"
            )
            .unwrap(),
            vec![Role::PlatformViewer, Role::DeploymentViewer]
        );
        let err = parse_roles(&ids(&["root"]), "security.roles").unwrap_err();
        assert_eq!(err.code, Code::UserRolesInvalid);
        let err = parse_roles(
            &ids(&["ece_platform_admin", "ece_platform_viewer"]),
            "security.roles",
        )
        .unwrap_err();
        assert_eq!(err.code, Code::UserRolesForbidden);
    }

    #[test]
    fn user_names() {
        for ok in ["bob", "a", "jane.doe@example.com", "ops_1-x"] {
            assert!(UserName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "auth", "-x", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(UserName::parse(bad).is_err(), "{bad}");
        }
    }
}
