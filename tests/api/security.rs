//! Security: brute-force protection (429 + Retry-After), the audit log, and the offline recovery
//! commands (`ece-server user ...`, `ece-server audit`) run against the test's database.
//!
//! Thresholds are made small through `Settings`; no test waits for a lock to expire (the waits
//! themselves are unit-tested in `src/security/throttle.rs` with an injected clock).
//!
//! - `security/throttling.rs`: brute-force protection, per user name and per source address;
//! - `security/audit_log.rs`: the audit log, and what it leaves out (secrets, refused writes);
//! - `security/cli.rs`: the `ece-server user ...` and `ece-server audit` commands.

mod audit_log;
mod cli;
mod throttling;

use ece_server::store::{AuditFilter, AuditRecord};
use serde_json::json;

use crate::helpers::{Auth, TestApp};

const LOGIN: &str = "/users/auth/_login";

async fn login_status(app: &TestApp, user: &str, password: &str) -> crate::helpers::Reply {
    app.post(
        LOGIN,
        &Auth::None,
        json!({"username": user, "password": password}),
    )
    .await
}

/// Asserts a 429 `root.too_many_requests` with a `Retry-After` of 1 to `max` seconds.
#[track_caller]
fn assert_throttled(reply: crate::helpers::Reply, max: u64) {
    let retry: u64 = reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no numeric Retry-After: {:?}", reply.headers));
    assert!((1..=max).contains(&retry), "Retry-After {retry}");
    reply.expect_error(429, "root.too_many_requests");
}

async fn audit(app: &TestApp) -> Vec<AuditRecord> {
    app.store.list_audit(&AuditFilter::default()).await.unwrap()
}

fn find<'a>(events: &'a [AuditRecord], event: &str, outcome: &str) -> Vec<&'a AuditRecord> {
    events
        .iter()
        .filter(|e| e.event == event && e.outcome == outcome)
        .collect()
}
