//! Opening the store at start (`serve`, `migrate`) with errors that say what failed and how to
//! fix it, and the file modes of the embedded store.
//!
//! The data directory is created 0700 and `ece.db` 0600 before SQLite opens it: SQLite gives
//! its `-wal` and `-shm` files the mode of the database file, so none of the three is ever
//! readable by other users (the store holds password hashes and token digests). Files of an
//! existing installation are tightened to 0600 on start. An empty `ece.db` is refused: it is
//! what a failed copy or a full disk leaves, and opening it would silently start a new
//! installation with new built-in passwords.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context;

use crate::store::{self, Store, StoreOptions};

/// Opens the store at `url` with `options`.
pub async fn open(url: &str, options: &StoreOptions) -> anyhow::Result<Arc<dyn Store>> {
    let shown = store::redact(url);
    let file = sqlite_file(url)?;
    if let Some(file) = &file {
        prepare(file)?;
    }
    let opened = store::open(url, options).await;
    let store = match (opened, &file) {
        (Ok(s), _) => s,
        (Err(e), Some(file)) if format!("{e:#}").contains("not a database") => {
            anyhow::bail!(
                "{} is not an SQLite database, or is damaged ({e}): restore it from a backup \
                 (see `ece-server backup`), or point --data-dir / ECE_DATABASE_URL elsewhere",
                file.display()
            )
        }
        (Err(e), _) => return Err(e.context(format!("cannot open the database {shown}"))),
    };
    if let Some(file) = &file {
        restrict(file);
    }
    Ok(store)
}

/// The file of an SQLite URL, `None` for another database.
fn sqlite_file(url: &str) -> anyhow::Result<Option<PathBuf>> {
    if !url.starts_with("sqlite:") {
        return Ok(None);
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .with_context(|| format!("bad database URL {}", store::redact(url)))?;
    let path = options.get_filename();
    // In-memory databases have no file.
    Ok((path != Path::new(":memory:")).then(|| path.to_path_buf()))
}

/// Creates the directory (0700) and the file (0600) of a new store; refuses an empty one.
fn prepare(file: &Path) -> anyhow::Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        if dir.exists() && !dir.is_dir() {
            anyhow::bail!(
                "the data directory {} exists but is not a directory: choose another \
                 --data-dir (ECE_DATA_DIR)",
                dir.display()
            );
        }
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).with_context(|| {
            format!(
                "cannot create the data directory {} (check the permissions of its parent, \
                 or choose another --data-dir)",
                dir.display()
            )
        })?;
    }
    match std::fs::metadata(file) {
        Ok(meta) if meta.is_dir() => anyhow::bail!(
            "the database path {} is a directory, not a file",
            file.display()
        ),
        Ok(meta) if meta.len() == 0 => anyhow::bail!(
            "the database file {} is empty (0 bytes): it holds no installation, and opening it \
             would start a new one. Restore it from a backup, or delete it to start a new \
             installation on purpose",
            file.display()
        ),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            options
                .open(file)
                .map(drop)
                .with_context(|| format!("cannot create the database file {}", file.display()))
        }
        Err(e) => {
            Err(e).with_context(|| format!("cannot read the database file {}", file.display()))
        }
    }
}

/// Tightens the store's files to 0600 (installations created before they were made so).
fn restrict(file: &Path) {
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        let path = PathBuf::from(name);
        if let Ok(meta) = std::fs::metadata(&path) {
            if meta.permissions().mode() & 0o077 != 0 {
                match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
                    Ok(()) => tracing::info!(file = %path.display(), "file mode set to 0600"),
                    Err(e) => tracing::warn!(file = %path.display(), error = %e,
                        "cannot set the file mode to 0600"),
                }
            }
        }
    }
}
