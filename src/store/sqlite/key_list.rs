//! One user's API keys, read inline through the hot-path readers (`hot_path::Readers`).
//!
//! Why not sqlx: its SQLite driver hands every row of a result from its worker thread to the
//! caller through a channel, so listing a user with 1,000 keys cost ~1,000 hand-offs (7 µs of
//! CPU per key in bench/RESULTS.md). Here the rows are stepped and decoded in place. The listing
//! is bounded by the per-user key limit, so it blocks the async worker for well under a
//! millisecond; everybody's keys (`_all`, unbounded) still go through sqlx.

use super::hot_path::{Lookup, Readers};
use crate::domain::model::ApiKeyRecord;
use crate::store::rows::{self, map_lite, LiteRow, KEY_COLUMNS};
use crate::store::StoreResult;

/// Served by the `api_keys_by_user` index alone, in listing order (it carries every listed
/// column: migration 0010).
static SELECT_USER_KEYS: Lookup = Lookup::new(|| {
    format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE user_name = ? ORDER BY created_at, id")
});

impl Readers {
    /// The keys of `user`, oldest first (then by id).
    pub fn api_keys_of(&self, user: &str) -> StoreResult<Vec<ApiKeyRecord>> {
        self.with(|conn| {
            let (mut stmt, names) = SELECT_USER_KEYS.prepare(conn)?;
            let mut found = stmt.query([user]).map_err(map_lite)?;
            let mut keys = Vec::new();
            while let Some(row) = found.next().map_err(map_lite)? {
                keys.push(rows::api_key(&LiteRow::new(row, names))?);
            }
            Ok(keys)
        })
    }
}
