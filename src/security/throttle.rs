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

/// What an abandoned attempt calls with its user name, source and the wait it imposed.
/// Called with the user name, the address and the wait imposed when an attempt is abandoned.
pub type OnAbandon = Box<dyn FnOnce(String, Option<IpAddr>, Lockout) + Send>;

/// One counter an attempt is checked against: a user name's or an address's, with its threshold.
struct Counter {
    key: Key,
    max_failures: u32,
}

/// A password check allowed by the throttle. Report how it ended with [`Attempt::succeeded`],
/// [`Attempt::failed`] or, when it could not be decided (the database was unreachable, the
/// hashing queue was full), [`Attempt::undecided`]. Dropping it otherwise (the request was
/// abandoned) counts a failure.
pub struct Attempt {
    throttle: Arc<Throttle>,
    keys: Vec<Counter>,
    user: String,
    source: Option<IpAddr>,
    /// A credential this replica verified before ([`Throttle::begin_known`]).
    known: bool,
    finished: bool,
    /// Called with the wait imposed when the attempt is abandoned (the audit record).
    on_abandon: Option<OnAbandon>,
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

    fn fail_at(&self, now: Instant) -> Lockout {
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
    fn undecided_attempts_count_nothing_and_abandoned_ones_count_failures() {
        let t = Throttle::new(cfg(3, 0));
        for _ in 0..10 {
            t.begin("bob", None).unwrap().undecided();
        }
        assert!(
            t.is_empty(),
            "a fresh name is forgotten once its checks end"
        );
        drop(t.begin("bob", None).unwrap());
        drop(t.begin("bob", None).unwrap());
        assert_eq!(t.stats().abandoned, 2);
        let l = t.begin("bob", None).unwrap().failed();
        assert_eq!(l.user, Some(Duration::from_secs(60)), "the third failure");
        assert!(t.begin("bob", None).is_err());
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
        a.undecided();
        b.undecided();
        assert!(t.begin_at("bob", None, now).is_ok());
    }

    #[test]
    fn a_burst_on_a_fresh_name_or_address_gets_the_allowance_and_no_more() {
        let t = Throttle::new(cfg(30, 30));
        let now = Instant::now();
        let burst: Vec<_> = (0..1500)
            .filter_map(|_| t.begin_at("fresh", ip("10.0.0.9"), now).ok())
            .collect();
        assert_eq!(burst.len(), 30);
        // The address is reserved too, whatever the names.
        let other = t.begin_at("other", ip("10.0.0.9"), now).unwrap_err();
        assert_eq!(other.retry_after_secs(), 1);
        for a in burst {
            a.undecided();
        }
        assert!(t.is_empty());
        let spread: Vec<_> = (0..100)
            .filter_map(|i| t.begin_at(&format!("u{i}"), ip("10.0.0.9"), now).ok())
            .collect();
        assert_eq!(spread.len(), 30);
    }

    #[test]
    fn only_failures_from_the_own_address_are_forgiven_by_a_success() {
        let t = Throttle::new(cfg(3, 0));
        let now = Instant::now();
        let (home, attacker) = (ip("10.0.0.1"), ip("10.0.0.66"));
        fail(&t, "bob", attacker, now);
        fail(&t, "bob", home, now);
        t.begin_at("bob", home, now).unwrap().succeeded();
        let l = fail(&t, "bob", attacker, now);
        assert_eq!(
            l.user,
            Some(Duration::from_secs(60)),
            "nothing was forgiven"
        );
        // The user's own typos are.
        fail(&t, "carol", home, now);
        fail(&t, "carol", home, now);
        t.begin_at("carol", home, now).unwrap().succeeded();
        assert_eq!(fail(&t, "carol", home, now).user, None);
        assert_eq!(fail(&t, "carol", home, now).user, None);
    }

    #[test]
    fn a_known_credential_passes_a_wait_and_resets_nothing() {
        let t = Throttle::new(cfg(2, 2));
        let now = Instant::now();
        let src = ip("10.0.0.1");
        fail(&t, "bob", src, now);
        fail(&t, "bob", src, now);
        assert!(t.begin_at("bob", src, now).is_err());
        t.begin_known("bob", src).succeeded();
        drop(t.begin_known("bob", src));
        assert!(t.begin_at("bob", src, now).is_err(), "still waiting");
        assert_eq!(t.stats().abandoned, 0);
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
