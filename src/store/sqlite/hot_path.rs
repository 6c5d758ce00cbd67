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
//! - [`run_group`]: one transaction with every queued refresh and audit event, run on a blocking
//!   thread (one hand-off per group instead of one per statement).
//!
//! Everything else (migrations, other writes, listings) still goes through sqlx in `sqlite.rs`,
//! which keeps the single writer connection; the group commit holds that connection while it
//! writes, so there is still exactly one writer at a time and nobody waits on `SQLITE_BUSY`.

use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::domain::model::{AccountRecord, Digest, SessionRecord, Timestamp, UserRecord};
use crate::store::rows::{self, millis, LiteRow, KEY_COLUMNS, SESSION_COLUMNS, USER_COLUMNS};
use crate::store::{AuditRecord, KeyLookup, RefreshOutcome, StoreError, StoreResult, TokenLookup};

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

/// Stamps a user's login times: `?1` the time, `?2` the user name (also used by `sqlite.rs`).
pub const RECORD_LOGIN: &str = "UPDATE users SET last_login_at = ?1, \
    first_login_at = COALESCE(first_login_at, ?1) WHERE user_name = ?2";

// The lookups' SQL, built once: it is the key of each connection's statement cache.
static SELECT_USER: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {USER_COLUMNS} FROM users WHERE user_name = ?"));
static SELECT_TOKEN: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT session_tokens.token_hash, session_tokens.valid_until, {SESSION_COLUMNS}, {USER_COLUMNS} \
         FROM session_tokens JOIN sessions ON sessions.id = session_tokens.session_id \
         JOIN users ON users.user_name = sessions.user_name WHERE session_tokens.token_hash = ?"
    )
});
static SELECT_KEY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {KEY_COLUMNS}, {USER_COLUMNS} FROM api_keys JOIN users ON users.user_name = api_keys.user_name \
         WHERE api_keys.key_hash = ?"
    )
});
static SELECT_TOKEN_SESSION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT session_tokens.token_hash, session_tokens.valid_until, {SESSION_COLUMNS} \
         FROM session_tokens JOIN sessions ON sessions.id = session_tokens.session_id \
         WHERE session_tokens.token_hash = ?"
    )
});

/// Maps a rusqlite error to the store's error kinds (busy or locked past the timeout: 503).
pub(crate) fn map_lite(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(e.to_string())
        }
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict(e.to_string()),
        _ => StoreError::Other(e.to_string()),
    }
}

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
        self.with(|c| {
            one(
                c,
                "SELECT id, trust, version FROM account WHERE singleton = 1",
                [],
                |r| rows::account(&r),
            )
        })
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
                    user: rows::user(&r)?,
                })
            })
        })
    }

    pub fn api_key(&self, key_hash: &Digest) -> StoreResult<Option<KeyLookup>> {
        self.with(|c| {
            one(c, &SELECT_KEY, [&key_hash[..]], |r| {
                Ok(KeyLookup {
                    key: rows::api_key(&r)?,
                    user: rows::user(&r)?,
                })
            })
        })
    }
}

/// The first row of a cached statement, decoded; `None` when there is none.
fn one<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    decode: impl FnOnce(LiteRow<'_, '_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_lite)?;
    let mut found = stmt.query(params).map_err(map_lite)?;
    match found.next().map_err(map_lite)? {
        Some(row) => decode(LiteRow::new(row)).map(Some),
        None => Ok(None),
    }
}

/// Runs one cached statement.
fn exec(conn: &Connection, sql: &str, params: &[&dyn rusqlite::ToSql]) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(sql).map_err(map_lite)?;
    stmt.execute(params).map(drop).map_err(map_lite)
}

/// A write that the group commit runs inside a shared transaction.
pub enum BatchWrite {
    /// A refresh and the audit event recording it (written only if the refresh succeeds).
    Refresh {
        old_hash: Digest,
        new_hash: Digest,
        now: Timestamp,
        grace_until: Timestamp,
        idle_expires_at: Timestamp,
        limit: crate::store::RefreshLimit,
        audit: Box<AuditRecord>,
    },
    /// A new session with its first token; for a login (`login`: its audit event) also the
    /// user's login stamp and that event.
    Session {
        session: Box<SessionRecord>,
        token_hash: Digest,
        login: Option<Box<AuditRecord>>,
    },
    Audit(Box<AuditRecord>),
}

pub enum BatchReply {
    Refresh(RefreshOutcome),
    /// An audit append or a session, done.
    Done,
}

/// Why a group failed.
pub enum GroupError {
    /// Write `i` failed; the group was rolled back.
    Write(usize, StoreError),
    /// The group failed as a whole.
    All(StoreError),
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

/// Runs every write of `writes` in one transaction and commits it (one fsync for all).
pub fn run_group<'a>(
    conn: &mut Connection,
    writes: impl Iterator<Item = &'a BatchWrite>,
) -> Result<Vec<BatchReply>, GroupError> {
    let all = |e| GroupError::All(map_lite(e));
    // IMMEDIATE: take the write lock at BEGIN (waiting up to the busy timeout for, say, an
    // `ece-server user` command in another process) rather than fail when upgrading later.
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(all)?;
    let mut replies = Vec::new();
    for (i, write) in writes.enumerate() {
        let result = match write {
            BatchWrite::Refresh {
                old_hash,
                new_hash,
                now,
                grace_until,
                idle_expires_at,
                limit,
                audit,
            } => refresh(
                &tx,
                (old_hash, new_hash),
                *now,
                *grace_until,
                *idle_expires_at,
                *limit,
            )
            .and_then(|outcome| {
                if matches!(outcome, RefreshOutcome::Refreshed(_)) {
                    append_audit(&tx, audit)?;
                }
                Ok(BatchReply::Refresh(outcome))
            }),
            BatchWrite::Session {
                session,
                token_hash,
                login,
            } => insert_session(&tx, session, token_hash, login.as_deref())
                .map(|()| BatchReply::Done),
            BatchWrite::Audit(e) => append_audit(&tx, e).map(|()| BatchReply::Done),
        };
        match result {
            Ok(reply) => replies.push(reply),
            // Dropping `tx` rolls the group back.
            Err(e @ StoreError::Unavailable(_)) => return Err(GroupError::All(e)),
            Err(e) => return Err(GroupError::Write(i, e)),
        }
    }
    tx.commit().map_err(all)?;
    Ok(replies)
}

fn refresh(
    conn: &Connection,
    (old_hash, new_hash): (&Digest, &Digest),
    now: Timestamp,
    grace_until: Timestamp,
    idle_expires_at: Timestamp,
    limit: crate::store::RefreshLimit,
) -> StoreResult<RefreshOutcome> {
    let found = one(conn, &SELECT_TOKEN_SESSION, [&old_hash[..]], |r| {
        Ok((rows::token(&r)?, rows::session(&r)?))
    })?;
    let Some((token, mut session)) = found else {
        return Ok(RefreshOutcome::Invalid);
    };
    if !crate::store::token_usable(&token, &session, now) {
        return Ok(RefreshOutcome::Invalid);
    }
    if token.valid_until.is_some() {
        return Ok(RefreshOutcome::Replaced);
    }
    session.idle_expires_at = idle_expires_at.min(session.absolute_expires_at);
    // Counts the refresh in the session's window (a new window if the last one is over), and
    // slides the idle expiry; changes nothing when the window's budget is spent.
    let (now_ms, window_ms) = (millis(now), limit.window.num_milliseconds());
    let counted = conn
        .prepare_cached(
            "UPDATE sessions SET \
               refresh_count = CASE WHEN refresh_window_start + ?2 <= ?1 THEN 1 \
                                    ELSE refresh_count + 1 END, \
               refresh_window_start = CASE WHEN refresh_window_start + ?2 <= ?1 THEN ?1 \
                                           ELSE refresh_window_start END, \
               idle_expires_at = ?3 \
             WHERE id = ?4 AND (refresh_window_start + ?2 <= ?1 OR refresh_count < ?5)",
        )
        .and_then(|mut stmt| {
            stmt.execute(rusqlite::params![
                now_ms,
                window_ms,
                millis(session.idle_expires_at),
                session.id,
                limit.max
            ])
        })
        .map_err(map_lite)?;
    if counted == 0 {
        let start: i64 = conn
            .query_row(
                "SELECT refresh_window_start FROM sessions WHERE id = ?",
                [&session.id],
                |r| r.get(0),
            )
            .map_err(map_lite)?;
        let retry_at = rows::from_millis(start + window_ms);
        return Ok(RefreshOutcome::Limited { retry_at });
    }
    // Tokens whose grace is over can never authenticate again: keep no row for them.
    exec(
        conn,
        "DELETE FROM session_tokens WHERE session_id = ? AND valid_until <= ?",
        &[&session.id, &now_ms],
    )?;
    // Every token still current (normally one) now only has the grace period left.
    exec(
        conn,
        "UPDATE session_tokens SET valid_until = ? WHERE session_id = ? AND valid_until IS NULL",
        &[&millis(grace_until), &session.id],
    )?;
    exec(conn, INSERT_CURRENT_TOKEN, &[&&new_hash[..], &session.id])?;
    Ok(RefreshOutcome::Refreshed(session))
}

/// Stores `token_hash` as the current token of a session (`valid_until` NULL).
const INSERT_CURRENT_TOKEN: &str =
    "INSERT INTO session_tokens (token_hash, session_id, valid_until) VALUES (?, ?, NULL)";

fn insert_session(
    conn: &Connection,
    s: &SessionRecord,
    token_hash: &Digest,
    login: Option<&AuditRecord>,
) -> StoreResult<()> {
    exec(
        conn,
        "INSERT INTO sessions (id, user_name, created_at, idle_expires_at, absolute_expires_at, revoked) \
         VALUES (?, ?, ?, ?, ?, ?)",
        &[
            &s.id,
            &s.user_name,
            &millis(s.created_at),
            &millis(s.idle_expires_at),
            &millis(s.absolute_expires_at),
            &s.revoked,
        ],
    )?;
    exec(conn, INSERT_CURRENT_TOKEN, &[&&token_hash[..], &s.id])?;
    if let Some(audit) = login {
        exec(conn, RECORD_LOGIN, &[&millis(s.created_at), &s.user_name])?;
        append_audit(conn, audit)?;
    }
    Ok(())
}

fn append_audit(conn: &Connection, e: &AuditRecord) -> StoreResult<()> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO audit_events (at, event, outcome, actor, source, target, detail) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .map_err(map_lite)?;
    stmt.execute(rusqlite::params![
        millis(e.at),
        e.event,
        e.outcome,
        e.actor,
        e.source,
        e.target,
        e.detail.to_string()
    ])
    .map(drop)
    .map_err(map_lite)
}
