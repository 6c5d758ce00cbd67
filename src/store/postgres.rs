//! The shared store for many replicas: PostgreSQL. (Being written; see issue 4.)

use std::sync::Arc;

use super::{Store, StoreOptions};

pub async fn connect(_url: &str, _opts: &StoreOptions) -> anyhow::Result<Arc<dyn Store>> {
    anyhow::bail!("the PostgreSQL backend is not available in this build yet")
}
