//! The audit log: security events written to the database (`audit_events`), one row each, with
//! time, event, outcome, actor, source address, target and a small detail object.
//!
//! Handlers call [`record`] with one line each, after the change they report has been stored.
//! The events themselves are `crate::domain::audit`'s; this module adds [`Event::by`] (who
//! called, and how they authenticated) and the writing.
//!
//! `login` and `refresh` events are written by the store in the transaction of the session or
//! token they record ([`Event::into_record`] builds them for it). Other writes fail soft: if the
//! database refuses the event, the request still succeeds (its change is already committed;
//! failing it now would only mislead the client) and the complete event is written to the server
//! log at ERROR level instead, so it is not lost. See docs/security.md.
//!
//! Refused requests (403, or a bad bearer token or API key: `access.denied`) are recorded through
//! [`Refusals`], a per-replica rate bound: an attacker must not be able to fill the table with
//! refusals. Failed password checks are `login` events, bounded by brute-force protection.

use std::convert::Infallible;
use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;

pub use crate::domain::audit::{to_json, Event, Outcome, EVENTS};
use crate::domain::model::UserRecord;
use crate::http::AppState;
use crate::security::resolve::{Caller, Method};
use crate::store::Store;

impl Event {
    /// An event caused by an authenticated caller; records how they authenticated.
    pub fn by(caller: &Caller, kind: &'static str) -> Event {
        let e = Event::anonymous(kind, caller.source).actor(caller.user.user_name.as_str());
        match &caller.method {
            Method::Password => e.detail("auth", "basic"),
            Method::Bearer { .. } => e.detail("auth", "bearer"),
            Method::ApiKey { key } => e
                .detail("auth", "api_key")
                .detail("auth_key_id", key.key.id.as_str()),
        }
    }
}

/// The rate bound on `access.denied` events of one replica: at most `per_minute` are written
/// per minute; the others are counted, and the count is written with the next event that is
/// (`detail.suppressed_before`), logged at WARN once per minute and exported as a metric.
pub struct Refusals {
    per_minute: u32,
    window: std::sync::Mutex<RefusalWindow>,
}

struct RefusalWindow {
    start: std::time::Instant,
    written: u32,
    suppressed: u64,
}

impl Refusals {
    pub fn new(per_minute: u32) -> Self {
        Refusals {
            per_minute,
            window: std::sync::Mutex::new(RefusalWindow {
                start: std::time::Instant::now(),
                written: 0,
                suppressed: 0,
            }),
        }
    }

    /// `Some(n)`: write this refusal, saying that `n` before it were not written. `None`: don't.
    fn admit(&self) -> Option<u64> {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        if w.start.elapsed() >= std::time::Duration::from_secs(60) {
            w.start = std::time::Instant::now();
            w.written = 0;
        }
        if w.written < self.per_minute {
            w.written += 1;
            return Some(std::mem::take(&mut w.suppressed));
        }
        w.suppressed += 1;
        metrics::counter!("ece_audit_refusals_suppressed_total").increment(1);
        if w.written == self.per_minute {
            w.written += 1; // warn once per window
            tracing::warn!(
                per_minute = self.per_minute,
                "refused requests beyond the audit rate bound are counted, not written"
            );
        }
        None
    }
}

/// Records a refused request (`access.denied`), within the replica's rate bound.
pub async fn refused(app: &AppState, event: Event) {
    if let Some(suppressed) = app.refusals.admit() {
        let event = if suppressed > 0 {
            event.detail("suppressed_before", suppressed)
        } else {
            event
        };
        record(app, event.outcome(Outcome::Failure)).await;
    }
}

/// Writes an event to the audit log. Never fails the request: see the module documentation.
pub async fn record(app: &AppState, event: Event) {
    record_in(&*app.store, event).await;
}

/// [`record`] for callers without an `AppState` (the command line).
pub async fn record_in(store: &dyn Store, event: Event) {
    let record = event.into_record(Utc::now());
    if let Err(e) = store.append_audit(&record).await {
        tracing::error!(
            error = %e,
            audit_event = %to_json(&record),
            "audit event could not be stored; it is logged here instead"
        );
    }
}

/// Records what a user update changed: one event per kind of change.
pub async fn user_changed(
    app: &AppState,
    caller: &Caller,
    before: &UserRecord,
    after: &UserRecord,
    password_changed: bool,
) {
    let name = after.user_name.as_str();
    let event = |kind| Event::by(caller, kind).target(name);
    if password_changed {
        record(app, event("user.password_change")).await;
    }
    if before.enabled != after.enabled {
        let kind = if after.enabled {
            "user.enable"
        } else {
            "user.disable"
        };
        record(app, event(kind)).await;
    }
    if before.roles != after.roles {
        let e = event("user.role_change")
            .detail("roles_before", serde_json::json!(before.roles))
            .detail("roles", serde_json::json!(after.roles));
        record(app, e).await;
    }
    let mut fields = Vec::new();
    if before.full_name != after.full_name {
        fields.push("full_name");
    }
    if before.email != after.email {
        fields.push("email");
    }
    if !fields.is_empty() {
        record(app, event("user.update").detail("fields", fields)).await;
    }
}

/// The client's IP address (the TCP peer), when the server knows it.
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(ClientAddr(
            crate::http::peer(&parts.extensions).map(|a| a.ip()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_rate_bounded_and_counted() {
        let r = Refusals::new(3);
        let admitted: Vec<_> = (0..10).map(|_| r.admit()).collect();
        assert_eq!(admitted[..3], [Some(0), Some(0), Some(0)]);
        assert!(admitted[3..].iter().all(Option::is_none));
        // The next window writes again, with the count of those that were not written.
        r.window.lock().unwrap().start -= std::time::Duration::from_secs(60);
        assert_eq!(r.admit(), Some(7));
        assert_eq!(r.admit(), Some(0));
        assert_eq!(Refusals::new(0).admit(), None);
    }
}
