//! What both backends share about security realms: the statements (written with `$n`
//! placeholders; SQLite reads them as `?n` through [`lite`]) and the check of a reorder's ids.
//!
//! Every realm write runs in one transaction that first makes itself the only realm writer
//! (SQLite: its single writer connection; PostgreSQL: [`PG_LOCK`]), then checks ids, positions
//! and versions and writes. So "which id / which position is taken" is answered inside the
//! transaction rather than guessed from a unique-constraint message afterwards.

use std::collections::HashSet;

use super::rows::REALM_COLUMNS;
use super::ReorderOutcome;

/// Blocks other realm writers on PostgreSQL until commit, not readers.
pub const PG_LOCK: &str = "LOCK TABLE realms IN SHARE ROW EXCLUSIVE MODE";

pub fn select_all() -> String {
    format!("SELECT {REALM_COLUMNS} FROM realms ORDER BY position")
}

pub fn select_one() -> String {
    format!("SELECT {REALM_COLUMNS} FROM realms WHERE id = $1")
}

pub const ID_TAKEN: &str = "SELECT 1 FROM realms WHERE id = $1";
pub const POSITION_TAKEN: &str = "SELECT 1 FROM realms WHERE position = $1 AND id <> $2";
pub const NEXT_POSITION: &str = "SELECT COALESCE(MAX(position), 0) + 1 FROM realms";
pub const ALL_IDS: &str = "SELECT id FROM realms ORDER BY position";

pub const INSERT: &str = "INSERT INTO realms (id, realm_type, name, position, enabled, settings, \
    secrets, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)";

pub const UPDATE: &str =
    "UPDATE realms SET name = $1, position = $2, enabled = $3, settings = $4, \
    secrets = $5, version = version + 1, updated_at = $6 \
    WHERE id = $7 AND realm_type = $8 AND version = $9";

pub const DELETE: &str = "DELETE FROM realms WHERE id = $1";

/// A disabled realm's external users keep their rows but lose every session (their tokens go by
/// cascade) and API key: access they got through the realm ends with it (docs/realms.md).
pub const END_SESSIONS_OF_REALM: &str =
    "DELETE FROM sessions WHERE user_name IN (SELECT user_name FROM users WHERE realm_id = $1)";
pub const END_KEYS_OF_REALM: &str =
    "DELETE FROM api_keys WHERE user_name IN (SELECT user_name FROM users WHERE realm_id = $1)";
/// A deleted realm's external users go with it (sessions and keys by cascade): left behind, their
/// names would stay locked to a realm that no longer exists.
pub const DELETE_USERS_OF_REALM: &str = "DELETE FROM users WHERE realm_id = $1";

/// Positions move through negative values first, so that no two rows ever share one.
pub const NEGATE_POSITIONS: &str = "UPDATE realms SET position = -position WHERE position > 0";
pub const SET_POSITION: &str =
    "UPDATE realms SET position = $1, version = version + 1, updated_at = $2 WHERE id = $3";

/// A statement for SQLite: `$n` → `?n`.
pub fn lite(sql: &str) -> String {
    sql.replace('$', "?")
}

/// Whether `ids` names every stored realm once and nothing else; `None` when it does.
pub fn mismatch(stored: &[String], ids: &[String]) -> Option<ReorderOutcome> {
    let stored_set: HashSet<&str> = stored.iter().map(String::as_str).collect();
    let given: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let unknown: Vec<String> = ids
        .iter()
        .filter(|id| !stored_set.contains(id.as_str()))
        .cloned()
        .collect();
    let missing: Vec<String> = stored
        .iter()
        .filter(|id| !given.contains(id.as_str()))
        .cloned()
        .collect();
    (!unknown.is_empty() || !missing.is_empty() || given.len() != ids.len())
        .then_some(ReorderOutcome::Mismatch { unknown, missing })
}
