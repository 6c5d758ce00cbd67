//! The group commit of the embedded store: every queued refresh, new session and audit event in
//! one rusqlite transaction with one fsync (see `hot_path.rs` for why rusqlite, and `queue.rs` for
//! the task that collects the groups).

use rusqlite::Connection;

use super::hot_path::{exec, one, Lookup, RECORD_LOGIN};
use crate::domain::model::{Digest, SessionRecord, Timestamp};
use crate::store::rows::{self, map_lite, millis, SESSION_COLUMNS};
use crate::store::{AuditRecord, RefreshOutcome, StoreError, StoreResult};

static SELECT_TOKEN_SESSION: Lookup = Lookup::new(|| {
    format!(
        "SELECT session_tokens.token_hash, session_tokens.valid_until, {SESSION_COLUMNS} \
         FROM session_tokens JOIN sessions ON sessions.id = session_tokens.session_id \
         WHERE session_tokens.token_hash = ?"
    )
});

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
    /// A login: a new session with its first token, the user's login stamp and the login's
    /// audit event.
    Session {
        session: Box<SessionRecord>,
        token_hash: Digest,
        login: Box<AuditRecord>,
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
            } => insert_session(&tx, session, token_hash, login).map(|()| BatchReply::Done),
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
    login: &AuditRecord,
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
    exec(conn, RECORD_LOGIN, &[&millis(s.created_at), &s.user_name])?;
    append_audit(conn, login)
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
