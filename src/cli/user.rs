//! Offline recovery commands: `ece-server user reset-password` and `ece-server user end-sessions`.
//!
//! They talk to the database directly, so they work whether the server is stopped or running
//! (SQLite in WAL mode takes a second process; PostgreSQL any number of clients), and every replica
//! sees the change at its next request because requests re-read the user and the session. They
//! never migrate the schema: that is `ece-server migrate`'s (or `serve`'s) job.

use std::io::Read;
use std::sync::Arc;

use chrono::Utc;
use clap::Subcommand;

use crate::config::DbArgs;
use crate::http::audit::{self, Event};
use crate::store::Store;

/// `ece-server user ...`
#[derive(Debug, Clone, Subcommand)]
pub enum UserCommand {
    /// Sets a new password (Argon2id) and ends the user's sessions. Without --password-stdin, a
    /// password is generated and printed once.
    ResetPassword {
        /// The user name.
        name: String,
        /// Read the new password from standard input (up to the first newline).
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Ends every session of the user: their bearer tokens stop working at once.
    EndSessions {
        /// The user name.
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Opens the database a command names, refusing to create an empty one by mistake.
pub async fn open_existing(db: &DbArgs) -> anyhow::Result<Arc<dyn Store>> {
    if db.database_url.is_none() {
        let file = db.data_dir.join("ece.db");
        anyhow::ensure!(
            file.exists(),
            "no database at {} (use --data-dir or --database-url)",
            file.display()
        );
    }
    db.open_store(false).await
}

pub async fn run(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::ResetPassword {
            name,
            password_stdin,
            db,
        } => {
            let store = open_existing(&db).await?;
            let (password, generated) = if password_stdin {
                (read_password(std::io::stdin().lock())?, false)
            } else {
                (crate::security::crypto::random_token(18), true)
            };
            reset_password(&*store, &name, &password).await?;
            if generated {
                // Printed once, to stdout only; it is stored nowhere but as its Argon2id hash.
                println!("New password for {name}: {password}");
            } else {
                println!("Password of {name} changed.");
            }
            println!("Sessions of {name} ended.");
            Ok(())
        }
        UserCommand::EndSessions { name, db } => {
            let store = open_existing(&db).await?;
            let n = end_sessions(&*store, &name).await?;
            println!("{n} session(s) of {name} ended.");
            Ok(())
        }
    }
}

/// The password on `input` up to the first line break.
fn read_password(mut input: impl Read) -> anyhow::Result<String> {
    let mut buf = String::new();
    input.read_to_string(&mut buf)?;
    let password = buf.lines().next().unwrap_or("").to_string();
    crate::domain::users::validate_password(&password).map_err(|e| anyhow::anyhow!(e.message))?;
    Ok(password)
}

/// Replaces the user's password hash and revokes all their sessions in one transaction.
pub async fn reset_password(store: &dyn Store, name: &str, password: &str) -> anyhow::Result<()> {
    crate::domain::users::validate_password(password).map_err(|e| anyhow::anyhow!(e.message))?;
    let to_hash = password.to_string();
    let hash =
        tokio::task::spawn_blocking(move || crate::security::crypto::hash_password(&to_hash))
            .await??;
    // No row lock: this process writes nothing else; the budget alone copes with the server.
    let mut cas = crate::store::cas::Retry::lock(None, name, "password reset").await;
    loop {
        let Some(user) = store.get_user(name).await? else {
            anyhow::bail!("no user named {name}");
        };
        let updated = crate::domain::model::UserRecord {
            password_hash: hash.clone(),
            updated_at: Utc::now(),
            ..user
        };
        if store.update_user_cas(&updated, true, None).await?.is_some() {
            tracing::info!(user = %name, "password reset from the command line");
            audit::record_in(store, Event::local("user.password_reset").target(name)).await;
            return Ok(());
        }
        cas.lost().await?;
    }
}

/// Revokes every session of the user; returns how many were still active.
pub async fn end_sessions(store: &dyn Store, name: &str) -> anyhow::Result<u64> {
    anyhow::ensure!(
        store.get_user(name).await?.is_some(),
        "no user named {name}"
    );
    let n = store.revoke_user_sessions(name, None).await?;
    tracing::info!(user = %name, sessions = n, "sessions ended from the command line");
    let event = Event::local("user.end_sessions")
        .target(name)
        .detail("sessions", n);
    audit::record_in(store, event).await;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_line() {
        assert_eq!(
            read_password(&b"correct horse\nignored"[..]).unwrap(),
            "correct horse"
        );
        assert_eq!(read_password(&b"12345678\r\n"[..]).unwrap(), "12345678");
        assert!(read_password(&b"short\n"[..]).is_err());
        assert!(read_password(&b""[..]).is_err());
    }
}
