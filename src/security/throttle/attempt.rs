//! One password check let through by the throttle, and how it ended: success, failure,
//! undecided, or abandoned (dropped unreported, which counts as a failure).

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::{Key, Lockout, Throttle};

/// Called with the user name, the address and the wait imposed when an attempt is abandoned.
pub type OnAbandon = Box<dyn FnOnce(String, Option<IpAddr>, Lockout) + Send>;

/// One counter an attempt is checked against: a user name's or an address's, with its threshold.
pub(super) struct Counter {
    pub(super) key: Key,
    pub(super) max_failures: u32,
}

/// A password check allowed by the throttle. Report how it ended with [`Attempt::succeeded`],
/// [`Attempt::failed`] or, when it could not be decided (the database was unreachable, the
/// hashing queue was full), [`Attempt::undecided`]. Dropping it otherwise (the request was
/// abandoned) counts a failure.
pub struct Attempt {
    pub(super) throttle: Arc<Throttle>,
    pub(super) keys: Vec<Counter>,
    pub(super) user: String,
    pub(super) source: Option<IpAddr>,
    /// A credential this replica verified before ([`Throttle::begin_known`]).
    pub(super) known: bool,
    pub(super) finished: bool,
    /// Called with the wait imposed when the attempt is abandoned (the audit record).
    pub(super) on_abandon: Option<OnAbandon>,
}

impl Attempt {
    /// The user name the password is checked for.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The client address, when known.
    pub fn source(&self) -> Option<IpAddr> {
        self.source
    }

    /// What to do when the attempt is dropped unfinished (its caller writes the audit event).
    pub fn on_abandon(&mut self, record: OnAbandon) {
        self.on_abandon = Some(record);
    }

    /// The password was right. A credential checked for the first time forgives the user
    /// name's failures if they all came from this address; a known one changes nothing.
    pub fn succeeded(mut self) {
        self.finished = true;
        let from = self.source.map(Key::address);
        let mut state = self.throttle.lock();
        for Counter { key, .. } in &self.keys {
            if self.known {
                continue;
            }
            if let (Key::User(_), Some(entry)) = (key, state.entries.get_mut(key)) {
                if from.is_some() && entry.only_from == from {
                    entry.failures = 0;
                    entry.locked_until = None;
                }
            }
            self.throttle.release(&mut state, key);
        }
    }

    /// The check could not be decided (store unavailable, hashing queue full): counts nothing.
    pub fn undecided(mut self) {
        self.finished = true;
        self.release_all();
    }

    fn release_all(&self) {
        if self.known {
            return;
        }
        let mut state = self.throttle.lock();
        for Counter { key, .. } in &self.keys {
            self.throttle.release(&mut state, key);
        }
    }

    /// The password was wrong (or the user unknown or disabled): counts the failure.
    pub fn failed(mut self) -> Lockout {
        self.finished = true;
        self.fail_at(Instant::now())
    }

    pub(super) fn fail_at(&self, now: Instant) -> Lockout {
        let mut lockout = Lockout {
            user: None,
            address: None,
        };
        let from = self.source.map(Key::address);
        let mut state = self.throttle.lock();
        for Counter {
            key,
            max_failures: max,
        } in &self.keys
        {
            if !self.known {
                self.throttle.release(&mut state, key);
            }
            let wait = self.throttle.fail(&mut state, *key, *max, from, now);
            match key {
                Key::User(_) => lockout.user = wait,
                Key::Address(_) => lockout.address = wait,
            }
        }
        lockout
    }
}

impl std::fmt::Debug for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt")
            .field("user", &self.user)
            .field("source", &self.source)
            .field("known", &self.known)
            .finish_non_exhaustive()
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if self.known {
            return; // the user's own credential: nothing to count
        }
        // Abandoned: the hash may have run (or been skipped); either way it was a guess.
        self.throttle.abandoned.fetch_add(1, Ordering::Relaxed);
        let lockout = self.fail_at(Instant::now());
        if let Some(record) = self.on_abandon.take() {
            record(std::mem::take(&mut self.user), self.source, lockout);
        }
    }
}
