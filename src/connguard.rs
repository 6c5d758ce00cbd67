//! Defences of the connection layer against clients that hold connections without using them:
//! a per-connection deadline and idle timer ([`Activity`]), a cap on connections per client
//! address ([`AddressCap`]), and raising the open-file limit at start.
//!
//! hyper's own `header_read_timeout` does not cover hyper-util's protocol detection (a socket
//! that sends nothing is never read past it) and HTTP/2 has no idle timeout at all, so a client
//! could keep thousands of silent sockets open until the connection cap or the file limit was
//! reached (issue 11, point 1). [`Activity`] watches the connection from outside hyper, so it
//! covers HTTP/1, h2c and TLS alike: a connection is closed when no request head arrived within
//! the first-request deadline, or when no request has been in flight for the idle timeout, or,
//! on HTTP/1, when the next request's head has not arrived within the header timeout of the last
//! reply.
//!
//! That last deadline is the one hyper's `header_read_timeout` kept for HTTP/1 (it starts when
//! hyper waits for the next head, i.e. at the end of the previous reply, and closes the
//! connection without a reply). hyper's is switched off (`crate::server`): it allocated a timer
//! and put it in the runtime's timer wheel, and took it out again, for every request, a
//! measurable share of a cached read (bench/RESULTS.md); here one timer per connection does it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// What one connection has been doing, as seen from the service hyper calls per request.
#[derive(Debug)]
pub struct Activity {
    state: Mutex<ActivityState>,
}

#[derive(Debug)]
struct ActivityState {
    accepted: Instant,
    /// Whether a complete request head has reached the service (HTTP/1 request, h2 stream).
    seen_request: bool,
    in_flight: usize,
    last_reply: Instant,
    /// Whether the last request came over HTTP/1 (the next head is then due within the header
    /// timeout of its reply).
    http1: bool,
}

/// The deadlines [`Activity::expired`] enforces.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// The header timeout: from accept to the first complete request head, and on HTTP/1 from a
    /// reply to the next complete head.
    pub head: Duration,
    /// From the last reply, with nothing in flight (any protocol).
    pub idle: Duration,
}

/// Held while a request is being served; its drop (also on cancellation, e.g. an HTTP/2 stream
/// reset) marks the end of the request.
pub struct Busy(Arc<Activity>);

impl Activity {
    pub fn new() -> Arc<Self> {
        let now = Instant::now();
        Arc::new(Activity {
            state: Mutex::new(ActivityState {
                accepted: now,
                seen_request: false,
                in_flight: 0,
                last_reply: now,
                http1: false,
            }),
        })
    }

    /// A request head arrived (over HTTP/1 if `http1`): the connection is busy until the
    /// returned guard is dropped.
    pub fn begin(self: &Arc<Self>, http1: bool) -> Busy {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.seen_request = true;
        s.in_flight += 1;
        s.http1 = http1;
        Busy(self.clone())
    }

    /// Resolves when the connection should be closed, by [`Deadlines`].
    pub async fn expired(&self, limits: Deadlines) {
        loop {
            let deadline = {
                let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if !s.seen_request {
                    s.accepted + limits.head
                } else if s.in_flight > 0 {
                    // Requests are bounded by the request timeout; look again later.
                    Instant::now() + limits.idle
                } else if s.http1 {
                    s.last_reply + limits.idle.min(limits.head)
                } else {
                    s.last_reply + limits.idle
                }
            };
            if deadline <= Instant::now() {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut s = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        s.in_flight = s.in_flight.saturating_sub(1);
        s.last_reply = Instant::now();
    }
}

/// Caps the connections open at once from one client address (IPv6: one /64, which a single
/// client usually owns), so one client cannot take all of `--max-connections`.
#[derive(Debug)]
pub struct AddressCap {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted against its address; released on drop.
pub struct AddressSlot {
    cap: Option<Arc<AddressCap>>,
    key: IpAddr,
}

impl AddressCap {
    /// `max == 0`: no cap.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(AddressCap {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for a new connection from `ip`, or `None` when that address is at its cap.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let key = crate::security::throttle::client_network(ip);
        if self.max == 0 {
            return Some(AddressSlot { cap: None, key });
        }
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(key).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            cap: Some(self.clone()),
            key,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Some(cap) = &self.cap {
            let mut open = cap.open.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = open.get_mut(&self.key) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&self.key);
                }
            }
        }
    }
}

/// Raises the soft limit on open files to the hard limit (many systems start services with a
/// soft limit of 1,024, a few hundred sockets short of `--max-connections`). Returns the limit
/// now in force, if it could be read.
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct passed by pointer.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return None;
            }
            if lim.rlim_cur < lim.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: lim.rlim_max,
                    rlim_max: lim.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    lim = raised;
                }
            }
        }
        #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every platform
        Some(lim.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    None
}

/// Exponential back-off for failed `accept` calls (e.g. EMFILE: the failure repeats at once
/// until a connection ends, so retrying immediately would spin and flood the log).
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    current: Option<Duration>,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    /// The wait after one more failure.
    pub fn failed(&mut self) -> Duration {
        let next = self.current.map_or(Self::FIRST, |d| (d * 2).min(Self::MAX));
        self.current = Some(next);
        next
    }

    /// Whether the last failure was the first of a run (worth a log line) or the wait is at
    /// its longest (one line a second at most).
    pub fn should_log(&self) -> bool {
        matches!(self.current, Some(d) if d == Self::FIRST || d == Self::MAX)
    }

    pub fn succeeded(&mut self) {
        self.current = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_counts_ipv6_per_64_and_releases_on_drop() {
        let cap = AddressCap::new(2);
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        let other: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        let s1 = cap.try_acquire(a).unwrap();
        let _s2 = cap.try_acquire(b).unwrap();
        assert!(cap.try_acquire(a).is_none(), "same /64");
        assert!(cap.try_acquire(other).is_some(), "another /64");
        drop(s1);
        assert!(cap.try_acquire(b).is_some());
        assert!(AddressCap::new(0).try_acquire(a).is_some());
    }

    #[test]
    fn backoff_doubles_up_to_a_second() {
        let mut b = AcceptBackoff::default();
        assert_eq!(b.failed(), Duration::from_millis(10));
        assert!(b.should_log());
        assert_eq!(b.failed(), Duration::from_millis(20));
        assert!(!b.should_log());
        for _ in 0..10 {
            b.failed();
        }
        assert_eq!(b.failed(), Duration::from_secs(1));
        b.succeeded();
        assert_eq!(b.failed(), Duration::from_millis(10));
    }
}
