//! First start: the installation's account and the built-in users `admin` and `readonly`.
//!
//! Safe when several replicas start at once against one empty database: the account is an
//! insert-if-absent on a singleton row and users are unique by name, so exactly one of each is
//! created and the losers of the race simply read what the winner wrote. Generated passwords are
//! printed once and written to `<data-dir>/bootstrap-secrets.json` (mode 0600) only by the
//! replica that created the user, like ECE's bootstrap secrets file.

use std::path::Path;

use anyhow::Context;
use chrono::Utc;
use serde_json::json;

use crate::domain::model::{default_trust, UserRecord};
use crate::domain::roles::Role;
use crate::security::crypto;
use crate::store::{Store, StoreError};

/// The built-in users.
pub const BUILTIN_USERS: &[BuiltinUser] = &[ADMIN, READONLY];

/// A user every installation has from its first start.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinUser {
    pub name: &'static str,
    pub role: Role,
    /// The environment variable that may choose its first password.
    pub password_env: &'static str,
}

pub const ADMIN: BuiltinUser = BuiltinUser {
    name: "admin",
    role: Role::PlatformAdmin,
    password_env: "ECE_ADMIN_PASSWORD",
};

pub const READONLY: BuiltinUser = BuiltinUser {
    name: "readonly",
    role: Role::PlatformViewer,
    password_env: "ECE_READONLY_PASSWORD",
};

/// Passwords chosen by the operator for the built-in users (from `ECE_ADMIN_PASSWORD` and
/// `ECE_READONLY_PASSWORD`); `None` means generate one.
#[derive(Debug, Clone, Default)]
pub struct ChosenPasswords {
    pub admin: Option<String>,
    pub readonly: Option<String>,
}

impl ChosenPasswords {
    /// Reads the variables; a password outside the policy every other password follows (8 to
    /// 128 characters) is refused here, at start, naming the variable.
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| -> anyhow::Result<Option<String>> {
            let Some(p) = std::env::var(name).ok().filter(|p| !p.is_empty()) else {
                return Ok(None);
            };
            crate::domain::users::validate_password(&p).map_err(|e| {
                anyhow::anyhow!("{name} is not an acceptable password: {}", e.message)
            })?;
            Ok(Some(p))
        };
        Ok(ChosenPasswords {
            admin: var(ADMIN.password_env)?,
            readonly: var(READONLY.password_env)?,
        })
    }

    fn for_user(&self, name: &str) -> Option<String> {
        match name {
            "admin" => self.admin.clone(),
            "readonly" => self.readonly.clone(),
            _ => None,
        }
    }
}

/// Creates what a first start needs, if missing. Idempotent and race-safe.
pub async fn ensure(
    store: &dyn Store,
    data_dir: &Path,
    chosen: &ChosenPasswords,
) -> anyhow::Result<()> {
    let account = store
        .init_account(&hex::encode(rand::random::<[u8; 16]>()), &default_trust())
        .await?;
    tracing::info!(account = %account.id, "account ready");

    // Read before any user is created: a file that cannot be read must stop the start, not be
    // overwritten (it may hold the only copy of earlier generated passwords).
    let earlier = read_secrets(data_dir)?;
    let mut generated = serde_json::Map::new();
    for &BuiltinUser {
        name,
        role,
        password_env: env,
    } in BUILTIN_USERS
    {
        if store.get_user(name).await?.is_some() {
            continue;
        }
        let (password, was_chosen) = match chosen.for_user(name) {
            Some(p) => (p, true),
            None => (crypto::random_token(18), false),
        };
        let to_hash = password.clone();
        let password_hash =
            tokio::task::spawn_blocking(move || crypto::hash_password(&to_hash)).await??;
        let now = Utc::now();
        let user = UserRecord {
            builtin: true,
            ..UserRecord::new(name, password_hash, vec![role], None, now)
        };
        match store.insert_user(&user).await {
            Ok(()) if was_chosen => tracing::info!(
                user = name,
                "built-in user created with the password from {env}"
            ),
            Ok(()) => {
                generated.insert(name.to_string(), json!(password));
            }
            Err(StoreError::Conflict(_)) => continue, // another replica won the race
            Err(e) => return Err(e.into()),
        }
    }
    if !generated.is_empty() {
        write_secrets(data_dir, earlier, &generated)?;
    }
    Ok(())
}

/// What `bootstrap-secrets.json` holds already (nothing if there is no such file). A file that
/// cannot be read, or is not a JSON object, is an error naming it.
fn read_secrets(data_dir: &Path) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let path = data_dir.join("bootstrap-secrets.json");
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{} is not a JSON object; it may hold generated passwords: move it away to start",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::Map::new()),
        Err(e) => Err(anyhow::Error::new(e).context(format!(
            "cannot read {}; it may hold generated passwords: fix its permissions or move it away",
            path.display()
        ))),
    }
}

/// Writes the generated passwords beside the `earlier` ones to `bootstrap-secrets.json` (0600)
/// and prints them once.
fn write_secrets(
    data_dir: &Path,
    mut all: serde_json::Map<String, serde_json::Value>,
    generated: &serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join("bootstrap-secrets.json");
    for (user, password) in generated {
        all.insert(format!("{user}_password"), password.clone());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path)?;
    std::io::Write::write_all(&mut file, serde_json::to_string_pretty(&all)?.as_bytes())?;
    file.sync_all()?;
    // Printed once, on purpose: this is the operator's only chance to see them outside the file.
    // It goes to stdout, not to the log, so log shipping does not carry the passwords.
    println!(
        "Generated passwords for the built-in users (also in {}):",
        path.display()
    );
    for (user, password) in generated {
        println!("  {user}: {}", password.as_str().unwrap_or_default());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secrets_file_that_cannot_be_read_stops_the_start_and_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_secrets(dir.path()).unwrap().is_empty());
        let path = dir.path().join("bootstrap-secrets.json");
        std::fs::write(&path, "admin_password: not JSON").unwrap();
        let e = read_secrets(dir.path()).unwrap_err();
        assert!(format!("{e:#}").contains("bootstrap-secrets.json"), "{e:#}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "admin_password: not JSON"
        );
        std::fs::write(&path, r#"{"admin_password":"x"}"#).unwrap();
        assert_eq!(read_secrets(dir.path()).unwrap()["admin_password"], "x");
    }
}
