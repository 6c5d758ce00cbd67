//! Log output to stderr in batches instead of one `write` system call per line.
//!
//! At INFO every request logs a "request finished" line; written straight to stderr, that was one
//! system call per request, a measurable share of a `GET /account` (bench/README.md). Here lines
//! are appended to a buffer that a small thread writes out every [`INTERVAL`], or at once when it
//! exceeds [`HIGH_WATER`]. What does not change:
//! - every line is complete and in order: the formatter hands over one whole line per `write`, and
//!   the buffer is written out under the same lock that appends to it;
//! - WARN and ERROR lines are written at once, with everything before them, so a problem shows
//!   immediately and survives a crash that follows it;
//! - dropping the [`Guard`] (at the end of `main`) writes out what is left, and any line logged
//!   after that goes straight to stderr.
//!
//! The cost: an INFO or DEBUG line may reach stderr up to [`INTERVAL`] late, and a `kill -9` loses
//! at most that much of them.
//!
//! Why not `tracing-appender`'s non-blocking writer, the crate made for this: it hands each line
//! to a worker thread through a channel (an allocation and a wake-up per line), drops lines when
//! its queue is full unless configured otherwise, and has no way to write WARN/ERROR at once.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// How often buffered lines are written out.
pub const INTERVAL: Duration = Duration::from_millis(100);
/// Buffered bytes above which the logging thread writes them out itself.
pub const HIGH_WATER: usize = 64 * 1024;

struct Shared {
    buf: Mutex<Vec<u8>>,
    /// Set when the guard is dropped: from then on every line is written at once.
    stopped: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        self.buf.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Writes out a buffer; the caller holds the lock, which keeps lines in order. A failed write to
/// stderr has nowhere to be reported: the lines are dropped, as `eprintln!` would drop them.
fn drain(buf: &mut Vec<u8>) {
    if !buf.is_empty() {
        let _ = std::io::stderr().lock().write_all(buf);
        buf.clear();
    }
}

/// The `MakeWriter` to give to `tracing_subscriber::fmt().with_writer(..)`.
#[derive(Clone)]
pub struct Batched(Arc<Shared>);

impl Batched {
    /// Appends one complete INFO-level line formatted elsewhere (the access log, see
    /// `http::telemetry::access`), with the same batching as the formatter's lines.
    pub fn write_line(&self, line: &[u8]) {
        let _ = Line {
            shared: &self.0,
            urgent: false,
        }
        .write(line);
    }
}

/// Writes out the remaining lines when dropped; keep it alive as long as the program logs.
pub struct Guard {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

/// A batched stderr writer and the guard that flushes it.
pub fn stderr() -> (Batched, Guard) {
    let shared = Arc::new(Shared {
        buf: Mutex::new(Vec::with_capacity(HIGH_WATER)),
        stopped: AtomicBool::new(false),
    });
    let flusher = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || {
                while !shared.stopped.load(Ordering::Acquire) {
                    std::thread::park_timeout(INTERVAL);
                    drain(&mut shared.lock());
                }
            })
            .ok()
    };
    // Without the thread (it could not be spawned), every line is written at once.
    if flusher.is_none() {
        shared.stopped.store(true, Ordering::Release);
    }
    (Batched(shared.clone()), Guard { shared, flusher })
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Release);
        if let Some(thread) = self.flusher.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
        drain(&mut self.shared.lock());
    }
}

/// One event's writer.
pub struct Line<'a> {
    shared: &'a Shared,
    urgent: bool,
}

impl Write for Line<'_> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut buf = self.shared.lock();
        buf.extend_from_slice(line);
        if self.urgent || buf.len() >= HIGH_WATER || self.shared.stopped.load(Ordering::Acquire) {
            drain(&mut buf);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Batched {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            shared: &self.0,
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line<'a> {
        Line {
            shared: &self.0,
            urgent: urgent(meta.level()),
        }
    }
}

/// WARN and ERROR (more verbose levels compare greater).
fn urgent(level: &Level) -> bool {
    *level <= Level::WARN
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffered(w: &Batched) -> Vec<u8> {
        w.0.lock().clone()
    }

    #[test]
    fn lines_wait_for_the_flusher_and_the_guard_drains_them() {
        let (w, guard) = stderr();
        let mut line = w.make_writer();
        line.write_all(b"batched line\n").unwrap();
        let pending = buffered(&w);
        // Either still buffered or already written out by the flusher, never partly.
        assert!(pending.is_empty() || pending == b"batched line\n");
        drop(guard);
        assert!(buffered(&w).is_empty());
        // After the guard: written at once.
        w.make_writer().write_all(b"late line\n").unwrap();
        assert!(buffered(&w).is_empty());
    }

    #[test]
    fn warnings_are_written_at_once() {
        assert!(urgent(&Level::ERROR) && urgent(&Level::WARN));
        assert!(!urgent(&Level::INFO) && !urgent(&Level::DEBUG) && !urgent(&Level::TRACE));
        let (w, _guard) = stderr();
        w.make_writer().write_all(b"info line\n").unwrap();
        Line {
            shared: &w.0,
            urgent: true,
        }
        .write_all(b"warning line\n")
        .unwrap();
        assert!(
            buffered(&w).is_empty(),
            "the warning took the info line with it"
        );
    }
}
