//! The audit log: security events written to the database (`audit_events`), one row each, with
//! time, event, outcome, actor, source address, target and a small detail object.
//!
//! Handlers call [`record`] with one line each, after the change they report has been stored.
//! Events are built only from names, ids, roles and counts: no constructor takes a password, token,
//! key or hash, so no secret can reach the log through here.
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
//!
//! `ece-server audit` ([`run_cli`]) prints the stored events as JSON lines.

use std::convert::Infallible;
use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;
use clap::Args;
use serde_json::{json, Map, Value};

use crate::app::AppState;
use crate::auth::{Caller, Method};
use crate::config::DbArgs;
use crate::model::{fmt_ts, Timestamp, UserRecord};
use crate::store::{AuditFilter, AuditRecord, Store};

mod bound;

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    /// Brute-force protection imposed a wait.
    Throttled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Throttled => "throttled",
        }
    }
}

/// The events this server records (the `event` column).
pub const EVENTS: &[&str] = &[
    "login",
    "logout",
    "refresh",
    "api_key.create",
    "api_key.delete",
    "user.create",
    "user.update",
    "user.disable",
    "user.enable",
    "user.delete",
    "user.password_change",
    "user.role_change",
    "account.update",
    "user.password_reset",
    "user.end_sessions",
    "access.denied",
];

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

/// One security event, before it is stored.
#[derive(Debug, Clone)]
pub struct Event {
    kind: &'static str,
    outcome: Outcome,
    actor: Option<String>,
    source: Option<IpAddr>,
    target: Option<String>,
    detail: Map<String, Value>,
}

impl Event {
    /// An event without an authenticated actor (a sign-in attempt), from `source`.
    pub fn anonymous(kind: &'static str, source: Option<IpAddr>) -> Event {
        Event {
            kind,
            outcome: Outcome::Success,
            actor: None,
            source,
            target: None,
            detail: Map::new(),
        }
    }

    /// An event caused by an authenticated caller; records how they authenticated.
    pub fn by(caller: &Caller, kind: &'static str) -> Event {
        let mut e = Event::anonymous(kind, caller.source);
        e.actor = Some(caller.user.user_name.clone());
        match &caller.method {
            Method::Password => e.detail("auth", "basic"),
            Method::Bearer { .. } => e.detail("auth", "bearer"),
            Method::ApiKey { key_id, .. } => e
                .detail("auth", "api_key")
                .detail("auth_key_id", key_id.as_str()),
        }
    }

    /// An event caused by an operator on the server's machine (`ece-server user ...`).
    pub fn local(kind: &'static str) -> Event {
        let e = Event::anonymous(kind, None).detail("via", "cli");
        match std::env::var("USER") {
            Ok(os_user) if !os_user.is_empty() => e.detail("os_user", os_user),
            _ => e,
        }
    }

    /// Who acted (for a successful sign-in, the user who signed in).
    pub fn actor(mut self, actor: impl Into<String>) -> Event {
        self.actor = Some(actor.into());
        self
    }

    pub fn target(mut self, target: impl Into<String>) -> Event {
        self.target = Some(target.into());
        self
    }

    pub fn outcome(mut self, outcome: Outcome) -> Event {
        self.outcome = outcome;
        self
    }

    /// Adds a detail. Only names, ids, roles, counts and flags belong here, never a secret.
    pub fn detail(mut self, key: &'static str, value: impl Into<Value>) -> Event {
        self.detail.insert(key.to_string(), value.into());
        self
    }

    pub fn into_record(self, at: Timestamp) -> AuditRecord {
        AuditRecord {
            id: 0,
            at,
            event: self.kind.to_string(),
            outcome: self.outcome.as_str().to_string(),
            actor: self.actor,
            source: self.source.map(|ip| ip.to_string()),
            target: self.target,
            // Bounded: a detail built from a request (a list of ids) cannot make a huge row.
            detail: bound::bounded(self.detail),
        }
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
            .detail("roles_before", before.roles.clone())
            .detail("roles", after.roles.clone());
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
            crate::server::peer(&parts.extensions).map(|a| a.ip()),
        ))
    }
}

/// A stored event as one JSON object (the `ece-server audit` output format).
pub fn to_json(r: &AuditRecord) -> Value {
    json!({
        "id": r.id,
        "time": fmt_ts(&r.at),
        "event": r.event,
        "outcome": r.outcome,
        "actor": r.actor,
        "source": r.source,
        "target": r.target,
        "detail": r.detail,
    })
}

fn parse_time(s: &str) -> Result<Timestamp, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("expected an RFC 3339 time such as 2024-05-01T00:00:00Z: {e}"))
}

/// Options of `ece-server audit`.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// Only events whose actor or target is this user.
    #[arg(long)]
    pub user: Option<String>,

    /// Only this event (e.g. `login`, `user.password_change`).
    #[arg(long)]
    pub event: Option<String>,

    /// Only events at or after this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<Timestamp>,

    /// Only events before this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<Timestamp>,

    /// At most this many events: the most recent ones, printed oldest first.
    #[arg(long, default_value_t = 1000)]
    pub limit: u32,
}

/// `ece-server audit`: prints the matching events as JSON lines, oldest first.
pub async fn run_cli(args: AuditArgs) -> anyhow::Result<()> {
    let store = crate::admin::open_existing(&args.db).await?;
    let filter = AuditFilter {
        user: args.user,
        event: args.event,
        since: args.since,
        until: args.until,
        limit: Some(args.limit),
    };
    let events = store.list_audit(&filter).await?;
    let mut out = std::io::stdout().lock();
    for e in &events {
        std::io::Write::write_all(&mut out, format!("{}\n", to_json(e)).as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_carry_only_what_was_given() {
        let e = Event::anonymous("login", Some("10.1.2.3".parse().unwrap()))
            .target("bob")
            .outcome(Outcome::Failure)
            .detail("auth", "password");
        let r = e.into_record(Utc::now());
        assert_eq!(r.event, "login");
        assert_eq!(r.outcome, "failure");
        assert_eq!(r.actor, None);
        assert_eq!(r.source.as_deref(), Some("10.1.2.3"));
        assert_eq!(r.target.as_deref(), Some("bob"));
        assert_eq!(r.detail, json!({"auth": "password"}));
        let j = to_json(&r);
        assert_eq!(j["event"], "login");
        assert!(j["time"].as_str().unwrap().ends_with('Z'));
    }

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

    #[test]
    fn times_parse_as_rfc3339() {
        assert!(parse_time("2024-05-01T00:00:00Z").is_ok());
        assert!(parse_time("2024-05-01T02:00:00+02:00").is_ok());
        assert!(parse_time("yesterday").is_err());
    }
}
