//! The time that session and key expiry are judged by. In production it is the system clock; a
//! test can move it forward (`advance`) to see a session expire without waiting for it.
//!
//! Only the expiry decisions of requests read this clock. Timers that bound real waiting
//! (timeouts, the credential cache's staleness, throttle windows) measure real time on purpose.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};

/// A point in time, in UTC (what records store and the clock tells).
pub type Timestamp = DateTime<Utc>;

/// The system clock, plus an offset that only [`Clock::advance`] changes. Clones share the
/// offset, so a test advances the clock of a running server through its copy of the settings.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> Timestamp {
        let offset = self.offset_ms.load(Ordering::Relaxed);
        let now = Utc::now();
        if offset == 0 {
            now
        } else {
            now + chrono::Duration::milliseconds(offset)
        }
    }

    /// Moves this clock (and every clone of it) forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_a_clone_moves_every_copy() {
        let clock = Clock::default();
        let copy = clock.clone();
        let before = clock.now();
        copy.advance(chrono::Duration::hours(2));
        let after = clock.now();
        assert!(after - before >= chrono::Duration::hours(2));
        assert!(after - before < chrono::Duration::hours(3));
    }
}
