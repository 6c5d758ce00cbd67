//! The throttle's rules, with the clock passed in.

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
