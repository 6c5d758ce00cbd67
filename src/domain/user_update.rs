//! The authorization rules of a user update, as one pure function: who may change what of a
//! stored user, given the validated document ([`Wanted`]) a request asks for.
//!
//! The HTTP layer reads the user, merges the patch, validates it and calls [`authorize_update`];
//! what is allowed is decided here and tested without a server.

use crate::domain::error::{Code, Error, Result};
use crate::domain::model::UserRecord;
use crate::domain::users::Wanted;

/// Who asks for an update, as far as the rules care.
#[derive(Debug, Clone, Copy)]
pub struct Editor<'a> {
    /// The signed-in user's name.
    pub user_name: &'a str,
    /// Through `/user`: the caller edits itself, and only its full name, email and password.
    pub self_service: bool,
    /// Signed in with an API key restricted to fewer roles than its owner holds.
    pub restricted_key: bool,
}

/// What an allowed update does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// The document restates the stored user: nothing to write.
    Nothing,
    /// Something changes: write it.
    Write,
}

/// A document may restate the user's name, never change it.
pub fn refuse_rename(current: &UserRecord, asked: Option<&str>) -> Result<()> {
    match asked {
        Some(name) if name != current.user_name => Err(Error::new(
            Code::UserRestrictedField,
            "A user cannot be renamed.",
        )
        .with_fields(["user_name"])),
        _ => Ok(()),
    }
}

/// Whether `editor` may turn `current` into `wanted`, and whether that writes anything.
pub fn authorize_update(
    editor: Editor<'_>,
    current: &UserRecord,
    wanted: &Wanted,
) -> Result<Update> {
    let restricted = |f: &str, why: &str| {
        Error::new(Code::UserRestrictedField, why).with_fields([f.to_string()])
    };
    let on_self = editor.self_service || current.user_name == editor.user_name;
    // Your own roles, like your own enabled flag, are changed by another admin: an admin
    // demoting itself here would lock itself out (the role-assignment endpoint asks for
    // force=true for that).
    if wanted.roles != current.roles && on_self {
        return Err(restricted(
            "security.roles",
            "You cannot change your own roles.",
        ));
    }
    // A key restricted to fewer roles than its owner would escape its restriction by setting
    // the owner's password and signing in with it.
    if editor.self_service && wanted.password.is_some() && editor.restricted_key {
        return Err(restricted(
            "security.password",
            "An API key restricted to fewer roles than its owner cannot change the owner's password.",
        ));
    }
    if wanted.enabled != current.enabled && on_self {
        return Err(restricted(
            "security.enabled",
            "You cannot enable or disable yourself.",
        ));
    }
    let profile_changed = wanted.full_name != current.full_name
        || wanted.email != current.email
        || wanted.roles != current.roles
        || wanted.enabled != current.enabled;
    // External users' profile and roles are recomputed from the directory at every sign-in, and
    // their password is the directory's: nothing here would last, so nothing is accepted.
    if current.is_external() && (profile_changed || wanted.password.is_some()) {
        return Err(Error::new(
            Code::UserCannotModifyExternal,
            "External users cannot be modified.",
        ));
    }
    // Built-in users keep their profile and roles; they may only change their own password.
    if current.builtin && (profile_changed || (wanted.password.is_some() && !editor.self_service)) {
        return Err(Error::new(
            Code::UserCannotModify,
            "Built-in users cannot be modified.",
        ));
    }
    if !profile_changed && wanted.password.is_none() {
        return Ok(Update::Nothing);
    }
    Ok(Update::Write)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::roles::Role;

    fn user(name: &str, builtin: bool) -> UserRecord {
        let now = chrono::Utc::now();
        UserRecord {
            user_name: name.into(),
            full_name: None,
            email: None,
            roles: vec![Role::PlatformViewer],
            enabled: true,
            builtin,
            password_hash: String::new(),
            created_at: now,
            updated_at: now,
            created_by: None,
            updated_by: None,
            first_login_at: None,
            last_login_at: None,
            deployments: Vec::new(),
            version: 1,
            realm: None,
        }
    }

    fn same(u: &UserRecord) -> Wanted {
        Wanted {
            full_name: u.full_name.clone(),
            email: u.email.clone(),
            roles: u.roles.clone(),
            enabled: u.enabled,
            password: None,
        }
    }

    const ADMIN: Editor = Editor {
        user_name: "admin",
        self_service: false,
        restricted_key: false,
    };

    fn refused(r: Result<Update>) -> (Code, Vec<String>) {
        let e = r.unwrap_err();
        (e.code, e.fields)
    }

    #[test]
    fn a_restated_user_writes_nothing_and_a_change_writes() {
        let bob = user("bob", false);
        assert_eq!(
            authorize_update(ADMIN, &bob, &same(&bob)).unwrap(),
            Update::Nothing
        );
        let renamed = Wanted {
            full_name: Some("Bob".into()),
            ..same(&bob)
        };
        assert_eq!(
            authorize_update(ADMIN, &bob, &renamed).unwrap(),
            Update::Write
        );
        let password = Wanted {
            password: Some("a new password".into()),
            ..same(&bob)
        };
        assert_eq!(
            authorize_update(ADMIN, &bob, &password).unwrap(),
            Update::Write
        );
    }

    #[test]
    fn nobody_changes_their_own_roles_or_enabled_flag() {
        let admin = user("admin", false);
        let promote = Wanted {
            roles: vec![Role::PlatformAdmin],
            ..same(&admin)
        };
        assert_eq!(
            refused(authorize_update(ADMIN, &admin, &promote)),
            (Code::UserRestrictedField, vec!["security.roles".into()])
        );
        let disable = Wanted {
            enabled: false,
            ..same(&admin)
        };
        assert_eq!(
            refused(authorize_update(ADMIN, &admin, &disable)),
            (Code::UserRestrictedField, vec!["security.enabled".into()])
        );
        // Through /user the target is always the caller.
        let bob = user("bob", false);
        let own = Editor {
            user_name: "bob",
            self_service: true,
            restricted_key: false,
        };
        let disable = Wanted {
            enabled: false,
            ..same(&bob)
        };
        assert!(authorize_update(own, &bob, &disable).is_err());
        // Another admin may.
        assert_eq!(
            authorize_update(ADMIN, &bob, &disable).unwrap(),
            Update::Write
        );
    }

    #[test]
    fn a_restricted_key_cannot_set_its_owners_password() {
        let bob = user("bob", false);
        let key = Editor {
            user_name: "bob",
            self_service: true,
            restricted_key: true,
        };
        let password = Wanted {
            password: Some("a new password".into()),
            ..same(&bob)
        };
        assert_eq!(
            refused(authorize_update(key, &bob, &password)),
            (Code::UserRestrictedField, vec!["security.password".into()])
        );
        let full_name = Wanted {
            full_name: Some("Bob".into()),
            ..same(&bob)
        };
        assert_eq!(
            authorize_update(key, &bob, &full_name).unwrap(),
            Update::Write
        );
    }

    #[test]
    fn external_users_are_restated_never_changed() {
        let carol = UserRecord {
            realm: Some(crate::domain::model::RealmRef {
                id: "corp".into(),
                realm_type: crate::domain::realms::RealmType::Ldap,
            }),
            ..user("carol", false)
        };
        assert_eq!(
            authorize_update(ADMIN, &carol, &same(&carol)).unwrap(),
            Update::Nothing
        );
        let email = Wanted {
            email: Some("carol@example.com".into()),
            ..same(&carol)
        };
        let own = Editor {
            user_name: "carol",
            self_service: true,
            restricted_key: false,
        };
        let password = Wanted {
            password: Some("a new password".into()),
            ..same(&carol)
        };
        for (editor, wanted) in [
            (ADMIN, &email),
            (own, &email),
            (own, &password),
            (ADMIN, &password),
        ] {
            assert_eq!(
                refused(authorize_update(editor, &carol, wanted)).0,
                Code::UserCannotModifyExternal
            );
        }
    }

    #[test]
    fn built_in_users_only_change_their_own_password() {
        let readonly = user("readonly", true);
        let password = Wanted {
            password: Some("a new password".into()),
            ..same(&readonly)
        };
        let own = Editor {
            user_name: "readonly",
            self_service: true,
            restricted_key: false,
        };
        assert_eq!(
            authorize_update(own, &readonly, &password).unwrap(),
            Update::Write
        );
        assert_eq!(
            refused(authorize_update(ADMIN, &readonly, &password)).0,
            Code::UserCannotModify
        );
        let full_name = Wanted {
            full_name: Some("Read Only".into()),
            ..same(&readonly)
        };
        assert_eq!(
            refused(authorize_update(own, &readonly, &full_name)).0,
            Code::UserCannotModify
        );
    }

    #[test]
    fn names_are_restated_never_changed() {
        let bob = user("bob", false);
        assert!(refuse_rename(&bob, None).is_ok());
        assert!(refuse_rename(&bob, Some("bob")).is_ok());
        assert_eq!(
            refuse_rename(&bob, Some("robert")).unwrap_err().fields,
            ["user_name"]
        );
    }
}
