//! Direct, synchronous access to the SQLite file through rusqlite, for the embedded store's hot
//! paths: the point lookups every authenticated request makes, and the group commit.
//!
//! Why not sqlx here: sqlx runs every SQLite statement on a per-connection worker thread, so each
//! statement costs two thread hand-offs. Profiling the bench showed 35–44% of the server's CPU in
//! context switches on `GET /account` and five hand-offs per refresh inside the group commit. A
//! point lookup by primary key or unique index takes a few microseconds in SQLite itself, less
//! than the hand-offs around it, so these run inline on the calling thread:
//! - [`Readers`]: a small pool of read-only connections. Each lookup is one indexed statement
//!   (WAL readers never wait for the writer), so it blocks the async worker for microseconds,
//!   about as long as polling the channel of sqlx's worker would.
//! - [`run_group`] (in `group.rs`): one transaction with every queued refresh and audit event, run
//!   on a blocking thread (one hand-off per group instead of one per statement).
//!
//! Everything else (migrations, other writes, listings) still goes through sqlx (`mod.rs` and the
//! files it hands operations to), on the single writer connection; the group commit holds that
//! connection while it writes, so there is still exactly one writer at a time and nobody waits
//! on `SQLITE_BUSY`.

use std::path::PathBuf;
use std::sync::{LazyLock, Mutex, OnceLock};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::domain::model::{AccountRecord, Digest, UserRecord};
// The group commit lives in `group.rs`; its types are named from here as before.
pub use super::group::{run_group, BatchReply, BatchWrite, GroupError};
use crate::store::rows::{self, map_lite, LiteRow, KEY_COLUMNS, SESSION_COLUMNS, USER_COLUMNS};
use crate::store::{KeyLookup, StoreError, StoreResult, TokenLookup};

/// Idle read connections kept; more are opened under load and closed when returned.
const MAX_IDLE_READERS: usize = 8;

/// Page cache per read connection, in KiB (SQLite's default is 2 MiB). A key or token lookup in
/// a large store descends two or three B-trees; what misses this cache is a `pread` of a 4 KiB
/// page (a system call and a copy). Lookups run inline on the runtime's worker threads, so about
/// as many readers are busy at once as there are cores: 8 MiB each stays well inside the RSS
/// budget (bench/README.md), and a small store never fills it. Not `mmap_size`: every
/// connection maps the file separately, so each touched page would count once per reader.
const READER_CACHE_KIB: u32 = 8192;

/// How often the background checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// WAL size (in 4 KiB pages) at which a commit checkpoints by itself: only reached if the
/// background checkpointer falls behind (SQLite's default is 1000).
pub const WAL_AUTOCHECKPOINT_PAGES: u32 = 10_000;

/// Stamps a user's login times: `?1` the time, `?2` the user name (used by `group.rs`).
pub(super) const RECORD_LOGIN: &str = "UPDATE users SET last_login_at = ?1, \
    first_login_at = COALESCE(first_login_at, ?1) WHERE user_name = ?2";

/// A statement of the hot paths: its SQL, built once (it is also the key of each connection's
/// statement cache), and the names of its result columns, asked of SQLite once. They follow from
/// the SQL's explicit select list, so they are the same on every connection; decoding a row
/// compares against them instead of asking SQLite for each column's name (a C call, a `strlen`
/// and a UTF-8 check per column: a key lookup has 22 columns).
pub(super) struct Lookup {
    sql: LazyLock<String>,
    names: OnceLock<Vec<String>>,
}

impl Lookup {
    pub(super) const fn new(sql: fn() -> String) -> Self {
        Lookup {
            sql: LazyLock::new(sql),
            names: OnceLock::new(),
        }
    }

    /// The statement from `conn`'s cache and its result columns' names, for [`LiteRow::new`].
    pub(super) fn prepare<'c>(
        &'static self,
        conn: &'c Connection,
    ) -> StoreResult<(rusqlite::CachedStatement<'c>, &'static [String])> {
        let stmt = conn.prepare_cached(&self.sql).map_err(map_lite)?;
        let names = self.names.get_or_init(|| rows::column_names(&stmt));
        Ok((stmt, names))
    }
}

static SELECT_ACCOUNT: Lookup =
    Lookup::new(|| "SELECT id, trust, version FROM account WHERE singleton = 1".into());
static SELECT_USER: Lookup =
    Lookup::new(|| format!("SELECT {USER_COLUMNS} FROM users WHERE user_name = ?"));
static SELECT_TOKEN: Lookup = Lookup::new(|| {
    format!(
        "SELECT session_tokens.token_hash, session_tokens.valid_until, {SESSION_COLUMNS}, {USER_COLUMNS} \
         FROM session_tokens JOIN sessions ON sessions.id = session_tokens.session_id \
         JOIN users ON users.user_name = sessions.user_name WHERE session_tokens.token_hash = ?"
    )
});
static SELECT_KEY: Lookup = Lookup::new(|| {
    format!(
        "SELECT {KEY_COLUMNS}, {USER_COLUMNS} FROM api_keys JOIN users ON users.user_name = api_keys.user_name \
         WHERE api_keys.key_hash = ?"
    )
});

/// Read-only connections to the store's file.
pub struct Readers {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub fn new(path: PathBuf, busy_timeout: Duration) -> Self {
        Readers {
            path,
            busy_timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn connect(&self) -> StoreResult<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(map_lite)?;
        conn.busy_timeout(self.busy_timeout).map_err(map_lite)?;
        conn.execute_batch(&format!("PRAGMA cache_size = -{READER_CACHE_KIB};"))
            .map_err(map_lite)?;
        Ok(conn)
    }

    /// Runs `f` on an idle connection (or a new one) and gives the connection back.
    pub(super) fn with<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.connect()?,
        };
        let result = f(&conn);
        // A connection that failed at the database level may be broken: drop it.
        if !matches!(result, Err(StoreError::Unavailable(_))) {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
        result
    }

    pub fn account(&self) -> StoreResult<Option<AccountRecord>> {
        self.with(|c| one(c, &SELECT_ACCOUNT, [], |r| rows::account(&r)))
    }

    pub fn user(&self, name: &str) -> StoreResult<Option<UserRecord>> {
        self.with(|c| one(c, &SELECT_USER, [name], |r| rows::user(&r)))
    }

    pub fn token(&self, token_hash: &Digest) -> StoreResult<Option<TokenLookup>> {
        self.with(|c| {
            one(c, &SELECT_TOKEN, [&token_hash[..]], |r| {
                Ok(TokenLookup {
                    token: rows::token(&r)?,
                    session: rows::session(&r)?,
                    user: rows::user(&r)?.into(),
                })
            })
        })
    }

    pub fn api_key(&self, key_hash: &Digest) -> StoreResult<Option<KeyLookup>> {
        self.with(|c| {
            one(c, &SELECT_KEY, [&key_hash[..]], |r| {
                Ok(KeyLookup {
                    key: rows::api_key(&r)?,
                    user: rows::user(&r)?.into(),
                })
            })
        })
    }
}

/// The first row of a cached statement, decoded; `None` when there is none.
pub(super) fn one<T, P: rusqlite::Params>(
    conn: &Connection,
    lookup: &'static Lookup,
    params: P,
    decode: impl FnOnce(LiteRow<'_, '_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let (mut stmt, names) = lookup.prepare(conn)?;
    let mut found = stmt.query(params).map_err(map_lite)?;
    match found.next().map_err(map_lite)? {
        Some(row) => decode(LiteRow::new(row, names)).map(Some),
        None => Ok(None),
    }
}

/// Runs one cached statement.
pub(super) fn exec(
    conn: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_lite)?;
    stmt.execute(params).map(drop).map_err(map_lite)
}

/// Opens the group commit's connection (read-write, `synchronous=FULL` like every writer).
pub fn open_writer(path: &std::path::Path, busy_timeout: Duration) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(map_lite)?;
    conn.busy_timeout(busy_timeout).map_err(map_lite)?;
    conn.execute_batch(&format!(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES};"
    ))
    .map_err(map_lite)?;
    Ok(conn)
}

/// Checkpoints the WAL every [`CHECKPOINT_EVERY`] on its own thread and connection, until
/// `alive` is gone. Why: with SQLite's automatic checkpoints, the commit that crosses 1000 WAL
/// pages also copies them into the database and fsyncs it, so every few groups one of them (and
/// every request waiting on it) paid for a checkpoint. A PASSIVE checkpoint runs beside readers
/// and the writer without blocking either; durability is unchanged (a commit is durable once its
/// WAL frames are fsynced, checkpointed or not).
pub fn spawn_checkpointer(path: PathBuf, alive: std::sync::Weak<()>) {
    let run = move || {
        let Ok(conn) = open_writer(&path, Duration::from_secs(1)) else {
            return;
        };
        while alive.strong_count() > 0 {
            std::thread::sleep(CHECKPOINT_EVERY);
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::debug!(error = %e, "background WAL checkpoint failed; retrying later");
            }
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(run)
    {
        tracing::warn!(error = %e, "no background checkpointer; SQLite checkpoints on commit");
    }
}
