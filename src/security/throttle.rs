//! Brute-force protection for password checks (`_login` and Basic authentication).
//!
//! Failed password checks are counted per user name and per source address (IPv4 address, or
//! IPv6 /64 network). Once a counter reaches its threshold, that name or address must wait
//! before its next password check, Keycloak-style: `wait_increment` after the threshold is
//! reached, one more `wait_increment` for each further failure, at most `max_wait`. A counter is
//! forgotten `failure_reset` after its last failure. A successful check forgives the user name's
//! failures only when all of them came from the success's own address (the user's own typos):
//! failures from elsewhere stay, so a legitimate client cannot reset an attacker's counter. The
//! address's counter is never reset by a success (an attacker could reset it with an account of
//! their own).
//!
//! The check runs **before** the user lookup and the Argon2 hash, so a throttled request costs
//! neither. Every check reserves its place in the allowance of its name and its address
//! atomically (checks in flight + failures < threshold), fresh names and addresses included, so
//! firing many attempts at once gets no more guesses than sending them one by one. An attempt
//! abandoned before its outcome is known (the client hung up, the request timed out) counts as a
//! failure: otherwise hanging up would be a free way to make the server hash.
//!
//! A credential this replica has already verified ([`begin_known`]) is not a guess: it is let
//! through even while its name or address must wait, reserves nothing and resets nothing.
//!
//! Unknown user names are counted exactly like known ones (no user enumeration through the
//! throttle), which is why user names are kept as SHA-256 digests: memory per entry is bounded
//! whatever clients send. The table holds at most `max_entries` names and addresses; when full,
//! the entry with the oldest last failure is forgotten first.
//!
//! The state lives in memory, per replica (see docs/security.md for why and what it implies).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Brute-force protection settings (`--brute-force-*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures per user name before waits start; 0 turns the per-user-name throttle off.
    pub user_max_failures: u32,
    /// Failures per source address before waits start; 0 turns the per-address throttle off.
    pub address_max_failures: u32,
    /// The first wait, and how much each further failure adds.
    pub wait_increment: Duration,
    /// The longest wait.
    pub max_wait: Duration,
    /// A counter is forgotten this long after its last failure.
    pub failure_reset: Duration,
    /// Most user names and addresses tracked at once.
    pub max_entries: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    User([u8; 32]),
    Address(IpAddr),
}

impl Key {
    fn user(name: &str) -> Key {
        Key::User(Sha256::digest(name.as_bytes()).into())
    }

    fn address(ip: IpAddr) -> Key {
        Key::Address(client_network(ip))
    }
}

/// The unit a client is counted by, here and by the connection layer's per-address cap: the IPv4
/// address, or the IPv6 /64 network (IPv6 clients usually own a whole /64; IPv4-mapped IPv6 is
/// the IPv4 address).
pub fn client_network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
        v4 => v4,
    }
}

#[derive(Debug)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
    /// Password checks started and not yet finished.
    pending: u32,
    /// User names: the address (as a [`Key::Address`]) all the current failures came from;
    /// `None` once they came from several addresses, or from an unknown one.
    only_from: Option<Key>,
    /// Position in `State::order` (least recently failed first).
    seq: u64,
}

#[derive(Default)]
struct State {
    entries: HashMap<Key, Entry>,
    order: BTreeMap<u64, Key>,
    next_seq: u64,
}

/// A request refused because its user name or address must wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after: Duration,
}

impl Throttled {
    /// Whole seconds for `Retry-After`, rounded up, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        let d = self.retry_after;
        (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
    }
}

/// A wait imposed by a failure, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    pub user: Option<Duration>,
    pub address: Option<Duration>,
}

/// Counters since start, for tests and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Password checks let through.
    pub allowed: u64,
    /// Requests refused before any lookup or hash.
    pub refused: u64,
    /// Entries forgotten because the table was full.
    pub evicted: u64,
    /// Attempts abandoned before their outcome was known, counted as failures.
    pub abandoned: u64,
}

/// The brute-force throttle of one replica.
pub struct Throttle {
    cfg: ThrottleConfig,
    state: Mutex<State>,
    allowed: AtomicU64,
    refused: AtomicU64,
    evicted: AtomicU64,
    abandoned: AtomicU64,
}

impl Throttle {
    pub fn new(cfg: ThrottleConfig) -> Arc<Self> {
        Arc::new(Throttle {
            cfg,
            state: Mutex::new(State::default()),
            allowed: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
        })
    }

    pub fn config(&self) -> &ThrottleConfig {
        &self.cfg
    }

    pub fn stats(&self) -> Stats {
        Stats {
            allowed: self.allowed.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            evicted: self.evicted.load(Ordering::Relaxed),
            abandoned: self.abandoned.load(Ordering::Relaxed),
        }
    }

    /// How many names and addresses are tracked now.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the map inconsistent in a harmful way.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn keys(&self, user: &str, source: Option<IpAddr>) -> Vec<Counter> {
        let mut keys = Vec::with_capacity(2);
        if self.cfg.user_max_failures > 0 {
            keys.push(Counter {
                key: Key::user(user),
                max_failures: self.cfg.user_max_failures,
            });
        }
        if let (Some(ip), true) = (source, self.cfg.address_max_failures > 0) {
            keys.push(Counter {
                key: Key::address(ip),
                max_failures: self.cfg.address_max_failures,
            });
        }
        keys
    }

    /// Asks to check a password for `user` from `source`. Call this before any lookup or hash;
    /// then report the outcome on the returned [`Attempt`].
    pub fn begin(
        self: &Arc<Self>,
        user: &str,
        source: Option<IpAddr>,
    ) -> Result<Attempt, Throttled> {
        self.begin_at(user, source, Instant::now())
    }

    fn begin_at(
        self: &Arc<Self>,
        user: &str,
        source: Option<IpAddr>,
        now: Instant,
    ) -> Result<Attempt, Throttled> {
        let keys = self.keys(user, source);
        let mut state = self.lock();
        let mut wait = Duration::ZERO;
        for Counter {
            key,
            max_failures: max,
        } in &keys
        {
            let Some(entry) = state.entries.get_mut(key) else {
                continue; // a fresh name or address: its whole allowance is free
            };
            if now.duration_since(entry.last_failure) >= self.cfg.failure_reset
                && entry.locked_until.is_none_or(|t| t <= now)
            {
                entry.failures = 0;
                entry.locked_until = None;
            }
            if let Some(until) = entry.locked_until.filter(|t| *t > now) {
                wait = wait.max(until - now);
            } else if entry.pending >= max.saturating_sub(entry.failures).max(1) {
                // The checks in flight could use up the allowance: wait for them to finish.
                wait = wait.max(Duration::from_secs(1));
            }
        }
        if !wait.is_zero() {
            drop(state);
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(Throttled { retry_after: wait });
        }
        // Reserve a place in every allowance, under the same lock as the check.
        for Counter { key, .. } in &keys {
            self.entry(&mut state, *key, now).pending += 1;
        }
        drop(state);
        self.allowed.fetch_add(1, Ordering::Relaxed);
        Ok(self.attempt(keys, user, source, false))
    }

    /// A check of a credential this replica has already verified: not a guess, so it is let
    /// through even while the name or address must wait, and reserves nothing.
    pub fn begin_known(self: &Arc<Self>, user: &str, source: Option<IpAddr>) -> Attempt {
        self.allowed.fetch_add(1, Ordering::Relaxed);
        self.attempt(self.keys(user, source), user, source, true)
    }

    fn attempt(
        self: &Arc<Self>,
        keys: Vec<Counter>,
        user: &str,
        source: Option<IpAddr>,
        known: bool,
    ) -> Attempt {
        Attempt {
            throttle: self.clone(),
            keys,
            user: user.to_string(),
            source,
            known,
            finished: false,
            on_abandon: None,
        }
    }

    /// The entry of `key`, created (evicting the least recently failed one if the table is full)
    /// if there is none.
    fn entry<'a>(&self, state: &'a mut State, key: Key, now: Instant) -> &'a mut Entry {
        if !state.entries.contains_key(&key) {
            while state.entries.len() >= self.cfg.max_entries.max(1) {
                let Some((_, oldest)) = state.order.pop_first() else {
                    break;
                };
                state.entries.remove(&oldest);
                self.evicted.fetch_add(1, Ordering::Relaxed);
            }
            let seq = state.next_seq;
            state.next_seq += 1;
            state.order.insert(seq, key);
            state.entries.insert(
                key,
                Entry {
                    failures: 0,
                    last_failure: now,
                    locked_until: None,
                    pending: 0,
                    only_from: None,
                    seq,
                },
            );
        }
        state.entries.get_mut(&key).expect("just inserted")
    }

    /// Ends a reserved check; an entry left with neither failures nor checks is forgotten (fresh
    /// names cost memory only while they are being checked).
    fn release(&self, state: &mut State, key: &Key) {
        let Some(entry) = state.entries.get_mut(key) else {
            return; // evicted meanwhile
        };
        entry.pending = entry.pending.saturating_sub(1);
        if entry.pending == 0 && entry.failures == 0 && entry.locked_until.is_none() {
            let seq = entry.seq;
            state.entries.remove(key);
            state.order.remove(&seq);
        }
    }

    /// Counts a failure on `key` (from `from`, the address key of the attempt); returns the
    /// wait it imposes, if any.
    fn fail(
        &self,
        state: &mut State,
        key: Key,
        max: u32,
        from: Option<Key>,
        now: Instant,
    ) -> Option<Duration> {
        let reset = self.cfg.failure_reset;
        let seq = state.next_seq;
        state.next_seq += 1;
        let entry = self.entry(state, key, now);
        if now.duration_since(entry.last_failure) >= reset
            && entry.locked_until.is_none_or(|t| t <= now)
        {
            entry.failures = 0;
        }
        entry.only_from = if entry.failures == 0 || entry.only_from == from {
            from
        } else {
            None
        };
        let old_seq = std::mem::replace(&mut entry.seq, seq);
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        let wait = (entry.failures >= max).then(|| {
            let steps = entry.failures - max + 1;
            self.cfg
                .wait_increment
                .saturating_mul(steps)
                .min(self.cfg.max_wait)
        });
        if let Some(w) = wait.filter(|w| !w.is_zero()) {
            entry.locked_until = Some(now + w);
        }
        state.order.remove(&old_seq);
        state.order.insert(seq, key);
        wait.filter(|w| !w.is_zero())
    }

    /// Forgets every counter (tests, or an operator's reset).
    pub fn clear(&self) {
        let mut state = self.lock();
        state.entries.clear();
        state.order.clear();
    }
}

mod attempt;
use attempt::Counter;
pub use attempt::{Attempt, OnAbandon};

#[cfg(test)]
mod tests;
