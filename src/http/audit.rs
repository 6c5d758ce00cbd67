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

use std::convert::Infallible;
use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::Utc;

pub use crate::domain::audit::{to_json, Event, Outcome, EVENTS};
use crate::domain::model::UserRecord;
use crate::http::auth::{Caller, Method};
use crate::http::AppState;
use crate::store::Store;

impl Event {
    /// An event caused by an authenticated caller; records how they authenticated.
    pub fn by(caller: &Caller, kind: &'static str) -> Event {
        let e = Event::anonymous(kind, caller.source).actor(caller.user.user_name.as_str());
        match &caller.method {
            Method::Password => e.detail("auth", "basic"),
            Method::Bearer { .. } => e.detail("auth", "bearer"),
            Method::ApiKey { key_id, .. } => e
                .detail("auth", "api_key")
                .detail("auth_key_id", key_id.as_str()),
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
            crate::http::peer(&parts.extensions).map(|a| a.ip()),
        ))
    }
}
