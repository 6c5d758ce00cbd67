//! Audit events: what a security event records ([`Event`], [`Outcome`], [`EVENTS`]) and its
//! stored form ([`AuditRecord`]).
//!
//! Events are built only from names, ids, roles and counts: no constructor takes a password,
//! token, key or hash, so no secret can reach the log through here. Who writes them, and how a
//! refused write is handled, is `crate::http::audit`'s business (see docs/security.md).

use std::net::IpAddr;

use serde_json::{json, Map, Value};

use crate::domain::model::{fmt_ts, Timestamp};

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
    "realm.create",
    "realm.update",
    "realm.delete",
    "realm.reorder",
    "realm.signin",
    "realm.access_ended",
    "saml.signin",
];

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

/// One stored audit event (see [`Event`]). Never holds a secret.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: Timestamp,
    /// What happened: `login`, `user.create`, ... ([`EVENTS`]).
    pub event: String,
    /// `success`, `failure` or `throttled`.
    pub outcome: String,
    /// The authenticated user who acted, if any.
    pub actor: Option<String>,
    /// The client's IP address, if known.
    pub source: Option<String>,
    /// What the event is about: a user name, an API key id.
    pub target: Option<String>,
    /// A JSON object of non-secret details.
    pub detail: Value,
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

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
}
