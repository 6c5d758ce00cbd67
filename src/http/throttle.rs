//! Brute-force protection for password checks (`_login` and Basic authentication).
//!
//! Failed password checks are counted per user name and per source address (IPv4 address, or
//! IPv6 /64 network). Once a counter reaches its threshold, that name or address must wait
//! before its next password check, Keycloak-style: `wait_increment` after the threshold is
//! reached, one more `wait_increment` for each further failure, at most `max_wait`. A counter is
//! forgotten `failure_reset` after its last failure; a successful check resets the user name's
//! counter (not the address's: an attacker could otherwise reset it with an account of their own).
//!
//! The check runs **before** the user lookup and the Argon2 hash, so a throttled request costs
//! neither. While a name or address already has failures, the checks it may have in flight are
//! bounded by what is left of its allowance, so firing many attempts at once does not get more
//! guesses than sending them one by one.
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

use crate::http::audit::{self, Event, Outcome};
use crate::http::error::{ApiError, Code};
use crate::http::AppState;

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

impl Default for ThrottleConfig {
    /// Keycloak's defaults: 30 failures, then 1 minute more per failure, at most 15 minutes;
    /// counters reset after 12 hours without a failure.
    fn default() -> Self {
        ThrottleConfig {
            user_max_failures: 30,
            address_max_failures: 30,
            wait_increment: Duration::from_secs(60),
            max_wait: Duration::from_secs(900),
            failure_reset: Duration::from_secs(12 * 3600),
            max_entries: 100_000,
        }
    }
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

    /// IPv6 clients usually own a whole /64: count the network, not the single address.
    fn address(ip: IpAddr) -> Key {
        let ip = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
            },
            v4 => v4,
        };
        Key::Address(ip)
    }
}

#[derive(Debug)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
    /// Password checks started and not yet finished.
    pending: u32,
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

    /// The 429 reply. The same message whether the name or the address is throttled.
    pub fn to_error(self) -> ApiError {
        let secs = self.retry_after_secs();
        ApiError::new(
            Code::TooManyRequests,
            format!("Too many failed sign-in attempts. Retry in {secs} seconds."),
        )
        .with_header("retry-after", secs.to_string())
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
}

/// The brute-force throttle of one replica.
pub struct Throttle {
    cfg: ThrottleConfig,
    state: Mutex<State>,
    allowed: AtomicU64,
    refused: AtomicU64,
    evicted: AtomicU64,
}

impl Throttle {
    pub fn new(cfg: ThrottleConfig) -> Arc<Self> {
        Arc::new(Throttle {
            cfg,
            state: Mutex::new(State::default()),
            allowed: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
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

    fn keys(&self, user: &str, source: Option<IpAddr>) -> Vec<(Key, u32)> {
        let mut keys = Vec::with_capacity(2);
        if self.cfg.user_max_failures > 0 {
            keys.push((Key::user(user), self.cfg.user_max_failures));
        }
        if let (Some(ip), true) = (source, self.cfg.address_max_failures > 0) {
            keys.push((Key::address(ip), self.cfg.address_max_failures));
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
        for (key, max) in &keys {
            let Some(entry) = state.entries.get_mut(key) else {
                continue;
            };
            if now.duration_since(entry.last_failure) >= self.cfg.failure_reset
                && entry.locked_until.is_none_or(|t| t <= now)
            {
                entry.failures = 0;
                entry.locked_until = None;
            }
            if let Some(until) = entry.locked_until.filter(|t| *t > now) {
                wait = wait.max(until - now);
            } else if entry.failures > 0
                && entry.pending >= max.saturating_sub(entry.failures).max(1)
            {
                // Enough checks in flight to use up the allowance: wait for them to finish.
                wait = wait.max(Duration::from_secs(1));
            }
        }
        if !wait.is_zero() {
            drop(state);
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(Throttled { retry_after: wait });
        }
        let mut held = Vec::with_capacity(keys.len());
        for (key, max) in keys {
            let took = match state.entries.get_mut(&key) {
                Some(entry) => {
                    entry.pending += 1;
                    true
                }
                None => false,
            };
            held.push((key, max, took));
        }
        drop(state);
        self.allowed.fetch_add(1, Ordering::Relaxed);
        Ok(Attempt {
            throttle: self.clone(),
            keys: held,
            user: user.to_string(),
            source,
            finished: false,
        })
    }

    fn release(&self, state: &mut State, key: &Key, took: bool) {
        if took {
            if let Some(entry) = state.entries.get_mut(key) {
                entry.pending = entry.pending.saturating_sub(1);
            }
        }
    }

    /// Counts a failure on `key`; returns the wait it imposes, if any.
    fn fail(&self, state: &mut State, key: Key, max: u32, now: Instant) -> Option<Duration> {
        if !state.entries.contains_key(&key) {
            while state.entries.len() >= self.cfg.max_entries.max(1) {
                let Some((_, oldest)) = state.order.pop_first() else {
                    break;
                };
                state.entries.remove(&oldest);
                self.evicted.fetch_add(1, Ordering::Relaxed);
            }
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        let reset = self.cfg.failure_reset;
        let entry = state.entries.entry(key).or_insert(Entry {
            failures: 0,
            last_failure: now,
            locked_until: None,
            pending: 0,
            seq,
        });
        if now.duration_since(entry.last_failure) >= reset {
            entry.failures = 0;
        }
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

/// A password check allowed by the throttle. Report how it ended with [`Attempt::succeeded`] or
/// [`Attempt::failed`]; dropping it (e.g. the database was unreachable) counts nothing.
pub struct Attempt {
    throttle: Arc<Throttle>,
    keys: Vec<(Key, u32, bool)>,
    user: String,
    source: Option<IpAddr>,
    finished: bool,
}

impl Attempt {
    /// The password was right: the user name's counter starts over.
    pub fn succeeded(mut self) {
        let mut state = self.throttle.lock();
        for (key, _, took) in &self.keys {
            match key {
                Key::User(_) => {
                    if let Some(entry) = state.entries.remove(key) {
                        state.order.remove(&entry.seq);
                    }
                }
                Key::Address(_) => self.throttle.release(&mut state, key, *took),
            }
        }
        self.finished = true;
    }

    /// The password was wrong (or the user unknown or disabled): counts the failure.
    pub fn failed_now(mut self) -> Lockout {
        self.finished = true;
        self.fail_at(Instant::now())
    }

    fn fail_at(&self, now: Instant) -> Lockout {
        let mut lockout = Lockout {
            user: None,
            address: None,
        };
        let mut state = self.throttle.lock();
        for (key, max, took) in &self.keys {
            self.throttle.release(&mut state, key, *took);
            let wait = self.throttle.fail(&mut state, *key, *max, now);
            match key {
                Key::User(_) => lockout.user = wait,
                Key::Address(_) => lockout.address = wait,
            }
        }
        lockout
    }

    /// Counts the failure and writes it to the audit log, with the wait it imposed if any.
    /// `via`: `password` (`_login`) or `basic`.
    pub async fn failed(self, app: &AppState, via: &'static str) {
        let (user, source) = (self.user.clone(), self.source);
        let lockout = self.failed_now();
        let event = |outcome| {
            Event::anonymous("login", source)
                .target(&user)
                .outcome(outcome)
                .detail("auth", via)
        };
        audit::record(app, event(Outcome::Failure)).await;
        for (scope, wait) in [("user", lockout.user), ("address", lockout.address)] {
            if let Some(wait) = wait {
                tracing::warn!(user = %user, source = ?source, scope, wait_secs = wait.as_secs(), "brute-force protection: sign-in attempts throttled");
                let e = event(Outcome::Throttled)
                    .detail("scope", scope)
                    .detail("wait_seconds", wait.as_secs());
                audit::record(app, e).await;
            }
        }
    }
}

impl std::fmt::Debug for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt")
            .field("user", &self.user)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.finished {
            let mut state = self.throttle.lock();
            for (key, _, took) in &self.keys {
                self.throttle.release(&mut state, key, *took);
            }
        }
    }
}

/// Asks the app's throttle for a password check; a refusal becomes the 429 reply.
pub fn begin(app: &AppState, user: &str, source: Option<IpAddr>) -> Result<Attempt, Throttled> {
    app.throttle.begin(user, source).inspect_err(|t| {
        crate::http::telemetry::login_throttled();
        tracing::debug!(user = %user, source = ?source, retry_after = t.retry_after_secs(), "sign-in attempt refused by brute-force protection");
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(user: u32, address: u32) -> ThrottleConfig {
        ThrottleConfig {
            user_max_failures: user,
            address_max_failures: address,
            wait_increment: Duration::from_secs(60),
            max_wait: Duration::from_secs(180),
            failure_reset: Duration::from_secs(3600),
            max_entries: 100,
        }
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn fail(t: &Arc<Throttle>, user: &str, src: Option<IpAddr>, now: Instant) -> Lockout {
        let a = t.begin_at(user, src, now).expect("not throttled");
        let mut a = a;
        a.finished = true;
        a.fail_at(now)
    }

    #[test]
    fn waits_grow_per_failure_up_to_the_maximum() {
        let t = Throttle::new(cfg(3, 0));
        let t0 = Instant::now();
        assert_eq!(fail(&t, "bob", None, t0).user, None);
        assert_eq!(fail(&t, "bob", None, t0).user, None);
        assert_eq!(
            fail(&t, "bob", None, t0).user,
            Some(Duration::from_secs(60))
        );
        let refused = t.begin_at("bob", None, t0 + Duration::from_secs(10)).err();
        assert_eq!(refused.unwrap().retry_after_secs(), 50);
        let t1 = t0 + Duration::from_secs(60);
        assert_eq!(
            fail(&t, "bob", None, t1).user,
            Some(Duration::from_secs(120))
        );
        let t2 = t1 + Duration::from_secs(120);
        assert_eq!(
            fail(&t, "bob", None, t2).user,
            Some(Duration::from_secs(180))
        );
        let t3 = t2 + Duration::from_secs(180);
        assert_eq!(
            fail(&t, "bob", None, t3).user,
            Some(Duration::from_secs(180))
        );
        // Other names are not affected.
        assert!(t.begin_at("alice", None, t3).is_ok());
    }

    #[test]
    fn success_resets_the_user_name_but_not_the_address() {
        let t = Throttle::new(cfg(3, 5));
        let now = Instant::now();
        let src = ip("10.0.0.1");
        fail(&t, "bob", src, now);
        fail(&t, "bob", src, now);
        t.begin_at("bob", src, now).unwrap().succeeded();
        fail(&t, "bob", src, now);
        assert_eq!(fail(&t, "bob", src, now).user, None, "counter started over");
        // The address kept counting: 4 failures so far, the 5th locks it.
        let l = fail(&t, "carol", src, now);
        assert_eq!(l.address, Some(Duration::from_secs(60)));
        assert!(t.begin_at("dave", src, now).is_err());
        assert!(t.begin_at("dave", ip("10.0.0.2"), now).is_ok());
    }

    #[test]
    fn counters_expire_after_the_reset_time() {
        let t = Throttle::new(cfg(2, 0));
        let now = Instant::now();
        fail(&t, "bob", None, now);
        let later = now + Duration::from_secs(3600);
        assert_eq!(fail(&t, "bob", None, later).user, None);
    }

    #[test]
    fn dropped_attempts_count_nothing() {
        let t = Throttle::new(cfg(1, 0));
        for _ in 0..10 {
            drop(t.begin("bob", None).unwrap());
        }
        assert!(t.begin("bob", None).is_ok());
    }

    #[test]
    fn checks_in_flight_cannot_exceed_the_allowance() {
        let t = Throttle::new(cfg(3, 0));
        let now = Instant::now();
        fail(&t, "bob", None, now);
        // Two failures left: two checks may run at once, the third waits.
        let a = t.begin_at("bob", None, now).unwrap();
        let b = t.begin_at("bob", None, now).unwrap();
        let refused = t.begin_at("bob", None, now).unwrap_err();
        assert_eq!(refused.retry_after_secs(), 1);
        drop(a);
        drop(b);
        assert!(t.begin_at("bob", None, now).is_ok());
        // Without any failure, concurrency is not limited (legitimate parallel clients).
        let many: Vec<_> = (0..50)
            .map(|_| t.begin_at("alice", None, now).unwrap())
            .collect();
        drop(many);
    }

    #[test]
    fn memory_is_bounded() {
        let mut c = cfg(3, 3);
        c.max_entries = 10;
        let t = Throttle::new(c);
        let now = Instant::now();
        for i in 0..100 {
            fail(&t, &format!("user{i}"), None, now);
        }
        assert_eq!(t.len(), 10);
        assert_eq!(t.stats().evicted, 90);
        // The most recent failures are the ones kept.
        fail(&t, "user99", None, now);
        assert_eq!(
            fail(&t, "user99", None, now).user,
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn ipv6_counts_per_64_network() {
        let t = Throttle::new(cfg(0, 1));
        let now = Instant::now();
        fail(&t, "x", ip("2001:db8:1:2::1"), now);
        assert!(t.begin_at("y", ip("2001:db8:1:2:ffff::9"), now).is_err());
        assert!(t.begin_at("y", ip("2001:db8:1:3::1"), now).is_ok());
        fail(&t, "x", ip("::ffff:192.0.2.1"), now);
        assert!(t.begin_at("y", ip("192.0.2.1"), now).is_err());
    }

    #[test]
    fn disabled_when_thresholds_are_zero() {
        let t = Throttle::new(cfg(0, 0));
        let now = Instant::now();
        for _ in 0..100 {
            fail(&t, "bob", ip("10.0.0.1"), now);
        }
        assert!(t.begin_at("bob", ip("10.0.0.1"), now).is_ok());
        assert!(t.is_empty());
    }

    #[test]
    fn retry_after_rounds_up() {
        let t = Throttled {
            retry_after: Duration::from_millis(59_001),
        };
        assert_eq!(t.retry_after_secs(), 60);
        let t = Throttled {
            retry_after: Duration::from_millis(1),
        };
        assert_eq!(t.retry_after_secs(), 1);
    }
}
