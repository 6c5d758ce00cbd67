//! Client-side bounds for the PostgreSQL store, for a database that goes silent.
//!
//! The server-side `statement_timeout` only helps while the server can still answer. When the
//! network swallows packets (a partition, a failover whose old address is gone), nothing comes
//! back and sqlx would wait until the kernel gives up on the socket (`net.ipv4.tcp_retries2`,
//! about 15 minutes on Linux). Two things bound that wait:
//! - [`Bound::run`] wraps every statement (and `BEGIN`/`COMMIT`): past the bound it answers
//!   [`StoreError::Unavailable`] (503) instead of waiting for the request timeout (408).
//! - [`release_check`] is the pool's `after_release` hook. A connection whose statement was
//!   abandoned (timed out here, or the request was cancelled) goes back to the pool through a
//!   `ping` that sqlx does not bound, so on a silent socket it would keep its pool slot for those
//!   15 minutes. The hook pings first, bounded; when that fails or times out, sqlx closes the
//!   connection without a round trip (`close_hard`) and the slot is free for a new connection.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sqlx::pool::PoolConnectionMetadata;
use sqlx::postgres::PgConnection;
use sqlx::Connection;

use crate::store::{map_sqlx, StoreError, StoreOptions, StoreResult};

/// What sqlx's pool hooks return (`futures::future::BoxFuture`, without the dependency).
type BoxFuture<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// Slack for the network on top of the database's own limits.
const MARGIN: Duration = Duration::from_secs(1);

/// How long one statement may take, client side, before the database counts as unreachable.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bound(Duration);

impl Bound {
    /// A statement on the pool may first wait for a connection (`acquire_timeout`), then run
    /// until the server cancels it (`statement_timeout`); a live server has answered by then.
    pub(super) fn new(opts: &StoreOptions) -> Bound {
        Bound(opts.acquire_timeout + opts.statement_timeout + MARGIN)
    }

    /// Runs one database call; an error or no answer within the bound becomes a `StoreError`.
    pub(super) async fn run<T>(
        self,
        call: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> StoreResult<T> {
        match tokio::time::timeout(self.0, call).await {
            Ok(done) => done.map_err(map_sqlx),
            Err(_) => Err(StoreError::Unavailable(format!(
                "the database did not answer within {:?}",
                self.0
            ))),
        }
    }
}

/// The pool's `after_release` hook: keeps a returned connection only if it answers a ping in
/// time. A connection abandoned mid-statement on a live server answers once that statement ends
/// (at most `statement_timeout`); one on a silent socket never does.
pub(super) fn release_check(
    opts: &StoreOptions,
) -> impl for<'c> Fn(&'c mut PgConnection, PoolConnectionMetadata) -> BoxFuture<'c, sqlx::Result<bool>>
       + Send
       + Sync
       + 'static {
    let limit = opts.statement_timeout + MARGIN;
    move |conn, _| {
        Box::pin(async move {
            match tokio::time::timeout(limit, conn.ping()).await {
                Ok(answered) => answered.map(|()| true),
                // An error (not `Ok(false)`) makes sqlx close without a graceful round trip.
                Err(_) => Err(sqlx::Error::Io(std::io::ErrorKind::TimedOut.into())),
            }
        })
    }
}
