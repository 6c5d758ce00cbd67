//! `ece-server backup --to FILE`: an online, consistent copy of the embedded SQLite store.
//!
//! The copy is made with SQLite's `VACUUM INTO`, which reads one transaction's snapshot of the
//! database: it runs while the server serves (WAL readers never block the writer, nor the other
//! way round) and the copy is exactly the state of one moment, never half of a write. The copy is
//! written next to the target under a temporary name, checked (`PRAGMA quick_check`), synced and
//! only then renamed into place, so a crash or a full disk never leaves a truncated backup under
//! the requested name. The result is a plain SQLite database: `--database-url sqlite://FILE` (or
//! copying it to `<data-dir>/ece.db` while the server is stopped) restores it.
//!
//! A PostgreSQL store is refused: PostgreSQL's own `pg_dump` is the right tool there.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::config::DbArgs;

/// Options of `ece-server backup`.
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// File to write the copy to; it must not exist yet.
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,

    #[command(flatten)]
    pub db: DbArgs,
}

/// `ece-server backup`: copies the store `args.db` names to `args.to`; returns the copy's size.
pub async fn run(args: &BackupArgs) -> anyhow::Result<u64> {
    let busy = Duration::from_millis(args.db.db_statement_timeout_ms.max(1000));
    backup(&args.db.url(), &args.to, busy).await
}

/// Copies the SQLite database at `url` to `to` with `VACUUM INTO`; returns the copy's size in
/// bytes. `busy_timeout` bounds how long the copy waits for a lock (e.g. a checkpoint).
pub async fn backup(url: &str, to: &Path, busy_timeout: Duration) -> anyhow::Result<u64> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        bail!(
            "`ece-server backup` copies the embedded SQLite store only; {} is PostgreSQL. \
             Back it up with PostgreSQL's own tools, e.g.\n  \
             pg_dump --format=custom --file=ece.dump '{}'\n\
             (add --schema=NAME if the URL sets a search_path; restore with pg_restore). \
             See docs/deploy.md.",
            crate::store::redact(url),
            crate::store::redact(url),
        );
    }
    if !url.starts_with("sqlite:") {
        bail!(
            "unsupported database URL (expected sqlite://PATH): {}",
            crate::store::redact(url)
        );
    }
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("invalid database URL {url}"))?
        .create_if_missing(false)
        .busy_timeout(busy_timeout);
    let source = options.get_filename().to_path_buf();
    if !source.is_file() {
        bail!(
            "no database at {}: nothing to back up (check --data-dir / --database-url)",
            source.display()
        );
    }
    if to.exists() {
        bail!(
            "{} already exists; choose a new file name (a backup never overwrites)",
            to.display()
        );
    }
    let name = to
        .file_name()
        .with_context(|| format!("{} is not a file name", to.display()))?;
    let dir = match to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        bail!("directory {} does not exist", dir.display());
    }
    let partial = dir.join(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&partial); // a leftover of an earlier crash of this very pid
    let partial_str = partial
        .to_str()
        .with_context(|| format!("{} is not valid UTF-8", partial.display()))?
        .to_string();

    let result = async {
        let mut conn = options
            .connect()
            .await
            .with_context(|| format!("cannot open {}", source.display()))?;
        // A database that is not ours would be copied just as well; refuse it instead, so a
        // wrong --data-dir is noticed now rather than at restore time.
        let ours: Option<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_optional(&mut conn)
        .await?;
        if ours.is_none() {
            bail!("{} is not an ece-server database", source.display());
        }
        sqlx::query("VACUUM INTO ?")
            .bind(&partial_str)
            .execute(&mut conn)
            .await
            .context("VACUUM INTO failed")?;
        conn.close().await?;
        check_copy(&partial).await?;
        let file = std::fs::File::open(&partial)?;
        file.sync_all()?;
        let size = file.metadata()?.len();
        std::fs::rename(&partial, to)?;
        // Make the rename itself durable.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(size)
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Opens the fresh copy read-only and runs SQLite's structural check on it.
async fn check_copy(path: &Path) -> anyhow::Result<()> {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await?;
    let verdict: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    if verdict != "ok" {
        bail!("the copy failed SQLite's quick_check: {verdict}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::UserRecord;
    use crate::store::{self, StoreOptions};

    fn user(name: &str) -> UserRecord {
        let now = chrono::Utc::now();
        UserRecord {
            full_name: Some(format!("Full {name}")),
            ..UserRecord::new(
                name,
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
                vec![crate::domain::roles::Role::PlatformViewer],
                None,
                now,
            )
        }
    }

    /// A store still open (its last writes possibly only in the WAL) is copied with its data,
    /// while writes keep going; the copy opens as a store of its own.
    #[tokio::test]
    async fn copies_a_live_store() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("ece.db").display());
        let live = store::open(&url, &StoreOptions::default()).await.unwrap();
        live.init_account("acct-1", &serde_json::json!({"trust_all": false}))
            .await
            .unwrap();
        for i in 0..20 {
            live.insert_user(&user(&format!("before-{i}")))
                .await
                .unwrap();
        }
        // Writes continue during the backup.
        let writer = {
            let live = live.clone();
            tokio::spawn(async move {
                for i in 0..200 {
                    live.insert_user(&user(&format!("during-{i}")))
                        .await
                        .unwrap();
                }
            })
        };
        let to = dir.path().join("copy.db");
        let size = backup(&url, &to, Duration::from_secs(5)).await.unwrap();
        writer.await.unwrap();
        assert!(size > 0 && to.is_file());
        assert!(std::fs::read_dir(dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains(".partial")));

        let copy_url = format!("sqlite://{}", to.display());
        let copy = store::open(&copy_url, &StoreOptions::default())
            .await
            .unwrap();
        assert_eq!(copy.get_account().await.unwrap().unwrap().id, "acct-1");
        for i in 0..20 {
            let u = copy
                .get_user(&format!("before-{i}"))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(u.full_name.as_deref(), Some(&*format!("Full before-{i}")));
        }
        // A snapshot: the "during" users form a prefix of the insertion order, never a gap.
        let during: Vec<usize> = copy
            .list_users()
            .await
            .unwrap()
            .iter()
            .filter_map(|u| u.user_name.strip_prefix("during-")?.parse().ok())
            .collect();
        let n = during.len();
        assert!(
            (0..n).all(|i| during.contains(&i)),
            "not a snapshot: {during:?}"
        );
    }

    #[tokio::test]
    async fn refuses_to_overwrite_a_missing_source_and_postgres() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("ece.db").display());
        let to = dir.path().join("copy.db");
        let err = backup(&url, &to, Duration::from_secs(1)).await.unwrap_err();
        assert!(err.to_string().contains("nothing to back up"), "{err}");
        assert!(
            !dir.path().join("ece.db").exists(),
            "the source must not be created"
        );

        store::open(&url, &StoreOptions::default()).await.unwrap();
        std::fs::write(&to, b"precious").unwrap();
        let err = backup(&url, &to, Duration::from_secs(1)).await.unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert_eq!(std::fs::read(&to).unwrap(), b"precious");

        let pg = "postgres://ece:secret@db.example/ece";
        let err = backup(pg, &to, Duration::from_secs(1)).await.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("pg_dump") && !msg.contains("secret"), "{msg}");
    }
}
