//! User documents: the `User` wire shape, and turning a requested document (a create body, or the
//! result of a merge patch) into a validated change to a [`UserRecord`].
//!
//! Read-only fields (`builtin`, `metadata`, `security.permissions`, `security.security_realm`,
//! `security.elevated_permissions`) may be sent back unchanged, as the official CLI does; only an
//! actual change to them is refused with `user.restricted_field`.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::domain::error::{Code, Error, Result};
use crate::domain::model::{fmt_ts, UserRecord};
use crate::domain::rbac;
use crate::domain::roles::{parse_roles, Role};

pub const MIN_PASSWORD: usize = 8;
pub const MAX_PASSWORD: usize = 128;

/// The `User` definition of the spec, as returned to clients. Never contains the password.
pub fn to_json(u: &UserRecord) -> Value {
    let mut metadata = Map::new();
    metadata.insert("created_at".into(), json!(fmt_ts(&u.created_at)));
    metadata.insert("updated_at".into(), json!(fmt_ts(&u.updated_at)));
    if let Some(by) = &u.created_by {
        metadata.insert("created_by".into(), json!(by));
    }
    if let Some(by) = &u.updated_by {
        metadata.insert("updated_by".into(), json!(by));
    }
    if let Some(t) = &u.first_login_at {
        metadata.insert("first_login_at".into(), json!(fmt_ts(t)));
    }
    if let Some(t) = &u.last_login_at {
        metadata.insert("last_login_at".into(), json!(fmt_ts(t)));
    }
    let mut user = json!({
        "user_name": u.user_name,
        "builtin": u.builtin,
        "metadata": metadata,
        "security": {
            "roles": u.roles,
            "permissions": rbac::permissions(&u.roles),
            "enabled": u.enabled,
            "security_realm": match &u.realm {
                None => json!({ "type": "native", "id": "native" }),
                Some(r) => json!({ "type": r.realm_type.as_str(), "id": r.id }),
            },
        },
    });
    if let Some(v) = &u.full_name {
        user["full_name"] = json!(v);
    }
    if let Some(v) = &u.email {
        user["email"] = json!(v);
    }
    user
}

/// A user document as a client sends it. Absent (or, after a merge patch, null) fields mean the
/// default: no full name, no email, no roles, enabled.
#[derive(Debug, Default, Deserialize)]
pub struct UserDoc {
    pub user_name: Option<String>,
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub builtin: Option<bool>,
    pub metadata: Option<Value>,
    pub security: Option<SecurityDoc>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SecurityDoc {
    pub roles: Option<Vec<String>>,
    pub permissions: Option<Vec<String>>,
    pub password: Option<String>,
    pub enabled: Option<bool>,
    pub security_realm: Option<Value>,
    pub elevated_permissions: Option<Value>,
}

/// The editable state a document asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    pub full_name: Option<String>,
    pub email: Option<String>,
    pub roles: Vec<Role>,
    pub enabled: bool,
    /// A new password, if the document sets one.
    pub password: Option<String>,
}

impl UserDoc {
    /// Validates the document; `current` is the stored user (for updates), so read-only fields
    /// that restate it are accepted.
    pub fn validate(self, current: Option<&UserRecord>) -> Result<Wanted> {
        let sec = self.security.unwrap_or_default();
        let restricted = |field: &str| {
            Error::new(
                Code::UserRestrictedField,
                format!("The field [{field}] cannot be set."),
            )
            .with_fields([field.to_string()])
        };
        let builtin_now = current.is_some_and(|u| u.builtin);
        if self.builtin.is_some_and(|b| b != builtin_now) {
            return Err(restricted("builtin"));
        }
        let current_json = current.map(to_json);
        let unchanged = |path: &[&str], v: &Value| {
            current_json
                .as_ref()
                .is_some_and(|c| path.iter().try_fold(c, |c, k| c.get(*k)) == Some(v))
        };
        if let Some(m) = &self.metadata {
            // The login stamps move whenever the user signs in, without any write to the user: a
            // copy read before that login restates them stale. They are never stored from a
            // request, so they are left out of the comparison.
            let without_login_stamps = |v: &Value| {
                let mut v = v.clone();
                if let Some(o) = v.as_object_mut() {
                    o.remove("first_login_at");
                    o.remove("last_login_at");
                }
                v
            };
            let restated = current_json
                .as_ref()
                .is_some_and(|c| without_login_stamps(&c["metadata"]) == without_login_stamps(m));
            if !(is_empty(m) || restated) {
                return Err(restricted("metadata"));
            }
        }
        if let Some(p) = &sec.permissions {
            let v = json!(p);
            if !(p.is_empty() || unchanged(&["security", "permissions"], &v)) {
                return Err(restricted("security.permissions"));
            }
        }
        if let Some(realm) = &sec.security_realm {
            // An external user's document restates its own realm (a merge patch keeps it).
            let restated = unchanged(&["security", "security_realm"], realm);
            if !(is_empty(realm) || realm.get("type") == Some(&json!("native")) || restated) {
                return Err(restricted("security.security_realm"));
            }
        }
        if let Some(e) = &sec.elevated_permissions {
            if e.get("enabled").and_then(Value::as_bool).unwrap_or(false) {
                return Err(restricted("security.elevated_permissions"));
            }
        }
        let roles = parse_roles(&sec.roles.unwrap_or_default(), "security.roles")?;
        if let Some(p) = &sec.password {
            validate_password(p)?;
        }
        Ok(Wanted {
            full_name: check_text("full_name", self.full_name, 256)?,
            email: validate_email(self.email)?,
            roles,
            enabled: sec.enabled.unwrap_or(true),
            password: sec.password,
        })
    }
}

fn is_empty(v: &Value) -> bool {
    v.is_null() || v.as_object().is_some_and(Map::is_empty)
}

/// ASVS V2.1: at least 8 characters, at most 128, no composition rules.
pub fn validate_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if (MIN_PASSWORD..=MAX_PASSWORD).contains(&n) {
        Ok(())
    } else {
        Err(Error::new(
            Code::UserPasswordInvalid,
            format!("The password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long."),
        )
        .with_fields(["security.password"]))
    }
}

fn check_text(field: &str, value: Option<String>, max: usize) -> Result<Option<String>> {
    match value {
        Some(v) if v.chars().count() > max || v.chars().any(char::is_control) => Err(Error::new(
            Code::InvalidJson,
            format!("[{field}] must be at most {max} characters, without control characters."),
        )
        .with_fields([field])),
        Some(v) if v.is_empty() => Ok(None),
        other => Ok(other),
    }
}

fn validate_email(email: Option<String>) -> Result<Option<String>> {
    let email = check_text("email", email, 254)?;
    if let Some(e) = &email {
        let valid = e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !e.contains(char::is_whitespace)
        });
        if !valid {
            return Err(
                Error::new(Code::InvalidJson, "[email] is not an email address.")
                    .with_fields(["email"]),
            );
        }
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords() {
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password("1234567").is_err());
        assert!(validate_password(&"x".repeat(129)).is_err());
        assert!(validate_password("ééééééé").is_err());
    }
}
