//! `ece-server migrate`: applies the pending database migrations of either backend, then exits.
//! `serve` applies them too at start; this command lets an operator run them once, ahead of
//! rolling out replicas.

use crate::config::DbArgs;

/// Opens the store with migrations on, and returns the URL it migrated with its password hidden
/// (the caller prints it).
pub async fn run(db: &DbArgs) -> anyhow::Result<String> {
    let url = db.url();
    db.open_store(true).await?;
    Ok(crate::store::redact(&url))
}
