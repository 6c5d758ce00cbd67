//! The queue in front of the group commit (`group.rs`): requests queue their writes here and wait
//! for the answer; one task takes whatever has queued, holds the writer connection and commits it
//! as one group.

use sqlx::sqlite::SqlitePool;

use super::hot_path::{self, BatchReply, BatchWrite, GroupError};
use super::SqliteStore;
use crate::store::{map_sqlx, StoreError, StoreResult};

/// Most writes committed in one group.
pub(super) const MAX_BATCH: usize = 256;

pub(super) struct BatchJob {
    write: BatchWrite,
    reply: tokio::sync::oneshot::Sender<StoreResult<BatchReply>>,
}

impl SqliteStore {
    /// Queues a write for the next group commit and waits until it is durable (or failed).
    pub(super) async fn batched(&self, write: BatchWrite) -> StoreResult<BatchReply> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let gone = || StoreError::Unavailable("the store's writer task has stopped".into());
        self.batch
            .send(BatchJob { write, reply })
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// Group commit: new sessions, refreshes and audit appends queued by concurrent requests are
/// written in one transaction, so one `fsync` (synchronous=FULL) makes a whole group durable
/// instead of one each. Answers are sent only after the COMMIT: nothing is acknowledged before it is durable.
///
/// Each write keeps its own outcome: a refresh found invalid writes nothing and answers
/// `Invalid`. A write that fails (e.g. a unique violation) must not take the others down: the
/// group is rolled back, that write gets its error, and the group is run again without it
/// (rare, so the common path needs no savepoints). A failure that is not about one write (the
/// database is unavailable, the COMMIT fails) gives every write of the group the error.
/// The task ends when the store is dropped.
pub(super) async fn group_commit(
    writer: SqlitePool,
    conn: rusqlite::Connection,
    mut jobs: tokio::sync::mpsc::Receiver<BatchJob>,
) {
    let conn = std::sync::Arc::new(std::sync::Mutex::new(conn));
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let group = std::mem::take(&mut batch);
        // Hold sqlx's single writer connection while rusqlite writes: one writer at a time.
        let held = match writer.acquire().await {
            Ok(held) => held,
            Err(e) => {
                let e = map_sqlx(e);
                for job in group {
                    let _ = job.reply.send(Err(same_error(&e)));
                }
                continue;
            }
        };
        let conn = conn.clone();
        // If the blocking task panics, the replies are dropped and the callers get Unavailable.
        let _ = tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            commit_group(&mut conn, group)
        })
        .await;
        drop(held);
    }
}

/// Commits `group`, retrying without a write that failed on its own; answers every job.
fn commit_group(conn: &mut rusqlite::Connection, mut group: Vec<BatchJob>) {
    while !group.is_empty() {
        match hot_path::run_group(conn, group.iter().map(|j| &j.write)) {
            Ok(replies) => {
                for (job, reply) in group.drain(..).zip(replies) {
                    let _ = job.reply.send(Ok(reply));
                }
            }
            Err(GroupError::Write(i, e)) => {
                let _ = group.remove(i).reply.send(Err(e));
            }
            Err(GroupError::All(e)) => {
                for job in group.drain(..) {
                    let _ = job.reply.send(Err(same_error(&e)));
                }
            }
        }
    }
}

fn same_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Conflict(m) => StoreError::Conflict(m.clone()),
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::SchemaTooNew(m) => StoreError::SchemaTooNew(m.clone()),
        StoreError::Other(m) => StoreError::Other(m.clone()),
    }
}
