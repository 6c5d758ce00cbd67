//! Fixtures shared by the store-contract cases: times as milliseconds after [`T0`], records
//! (users, sessions, API keys), digests of named test tokens, and store calls the cases repeat
//! (logins, refreshes, lookups, running tasks concurrently).

use std::future::Future;

use chrono::TimeZone;
use serde_json::json;

use ece_server::domain::model::{ApiKeyRecord, Digest, SessionRecord, Timestamp, UserRecord};
use ece_server::domain::roles::{DeploymentRoleAssignment, Role};
use ece_server::store::{AuditRecord, RefreshLimit, RefreshOutcome, Store, StoreResult};

pub(crate) const T0: i64 = 1_700_000_000_000;
pub(crate) const MIN: i64 = 60_000;

/// `T0 + ms`, as the stores keep it (millisecond precision).
pub(crate) fn at(ms: i64) -> Timestamp {
    chrono::Utc.timestamp_millis_opt(T0 + ms).unwrap()
}

pub(crate) fn user(name: &str) -> UserRecord {
    UserRecord {
        user_name: name.into(),
        full_name: Some(format!("{name} Example")),
        email: None,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        roles: vec![Role::PlatformViewer],
        deployments: vec![DeploymentRoleAssignment {
            role_id: "ece_deployment_viewer".into(),
            organization_id: "org".into(),
            all: Some(true),
            deployment_ids: None,
            application_roles: None,
        }],
        enabled: true,
        builtin: false,
        created_at: at(0),
        created_by: Some("admin".into()),
        updated_at: at(0),
        updated_by: None,
        first_login_at: None,
        last_login_at: None,
        version: 1,
        realm: None,
    }
}

/// The stored digest of a named test token or key (the store keeps 32-byte SHA-256 digests).
pub(crate) fn h(name: &str) -> Digest {
    ece_server::security::crypto::digest(name)
}

/// A login as the server makes it: the session, its first token, the login stamps and an
/// audit event, in one transaction. (The event names no target, so that the cases that list
/// the targets of refresh events see only those.)
pub(crate) async fn create_session(
    s: &dyn Store,
    session: &SessionRecord,
    token: &str,
) -> StoreResult<()> {
    let audit = AuditRecord {
        id: 0,
        at: session.created_at,
        event: "login".into(),
        outcome: "success".into(),
        actor: Some(session.user_name.clone()),
        source: None,
        target: None,
        detail: json!({"session": session.id}),
    };
    s.start_session(session, &h(token), &audit).await
}

pub(crate) async fn user_count(s: &dyn Store) -> StoreResult<usize> {
    Ok(s.list_users().await?.len())
}

/// A session created at T0, idle expiry T0+10min, absolute expiry T0+60min.
pub(crate) fn session(id: &str, user: &str) -> SessionRecord {
    SessionRecord {
        id: id.into(),
        user_name: user.into(),
        created_at: at(0),
        idle_expires_at: at(10 * MIN),
        absolute_expires_at: at(60 * MIN),
        revoked: false,
    }
}

pub(crate) fn key(id: &str, user: &str, created: i64, expires: Option<i64>) -> ApiKeyRecord {
    ApiKeyRecord {
        id: id.into(),
        user_name: user.into(),
        description: format!("key {id}"),
        key_hash: h(&format!("hash-{id}")),
        created_at: at(created),
        expires_at: expires.map(at),
        platform_roles: None,
    }
}

pub(crate) async fn add_users(s: &dyn Store, names: &[&str]) -> StoreResult<()> {
    for n in names {
        s.insert_user(&user(n)).await?;
    }
    Ok(())
}

pub(crate) async fn user_names(s: &dyn Store) -> StoreResult<Vec<String>> {
    Ok(s.list_users()
        .await?
        .into_iter()
        .map(|u| u.user_name)
        .collect())
}

/// `valid_until` of a token: `None` when the token is unknown, `Some(None)` when current.
pub(crate) async fn token_state(
    s: &dyn Store,
    hash: &str,
) -> StoreResult<Option<Option<Timestamp>>> {
    Ok(s.find_token(&h(hash)).await?.map(|l| l.token.valid_until))
}

pub(crate) async fn revoked(s: &dyn Store, token: &str) -> StoreResult<bool> {
    let found = s.find_token(&h(token)).await?.expect("token exists");
    Ok(found.session.revoked)
}

/// `refresh_session` with every time given as milliseconds after T0 and a limit no case reaches;
/// its audit event names the new token as its target.
pub(crate) async fn refresh_at(
    s: &dyn Store,
    tokens: (&str, &str),
    now: i64,
    grace: i64,
    idle: i64,
) -> StoreResult<RefreshOutcome> {
    let limit = RefreshLimit::per_minute(1000);
    refresh_limited(s, tokens, now, (grace, idle), limit).await
}

/// [`refresh_at`] under `limit`.
pub(crate) async fn refresh_limited(
    s: &dyn Store,
    (old, new): (&str, &str),
    now: i64,
    (grace, idle): (i64, i64),
    limit: RefreshLimit,
) -> StoreResult<RefreshOutcome> {
    let audit = AuditRecord {
        id: 0,
        at: at(now),
        event: "refresh".into(),
        outcome: "success".into(),
        actor: None,
        source: None,
        target: Some(new.into()),
        detail: json!({}),
    };
    s.refresh_session(
        &h(old),
        &h(new),
        at(now),
        at(grace),
        at(idle),
        limit,
        &audit,
    )
    .await
}

/// Runs `n` copies of `task` at once; returns their results (a panicking task fails the test).
pub(crate) async fn concurrently<T, Fut>(n: i64, task: impl Fn(i64) -> Fut) -> Vec<T>
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(task(i))).collect();
    let joined = futures::future::join_all(handles).await;
    joined
        .into_iter()
        .map(|j| j.expect("task panicked"))
        .collect()
}
