//! The HTTP side of signing in through LDAP and Active Directory realms (`_login`): when the name
//! is not a native user's, the enabled realms are asked (`crate::security::realm_signin`), every
//! realm asked leaves an audit event (`realm.signin`: realm, outcome, cause) and a count in
//! `ece_realm_signins_total{realm,outcome}`, and the user the directory vouched for is recorded
//! as an external user (created at the first sign-in, roles, name and e-mail refreshed at each).
//!
//! Decisions (docs/realms.md, "Signing in through a realm"): a name owned by a native user never
//! goes to the realms; a name owned by another realm's external user is refused.

use std::net::IpAddr;

use crate::domain::audit::{Event, Outcome};
use crate::domain::model::UserRecord;
use crate::http::AppState;
use crate::security::realm_signin::{sign_in, SignedIn};
use crate::store::{StoreError, StoreResult};

/// Who a password check signed in, for `_login` and Basic alike: `stored` (what the store holds
/// under `username`) when its password was `verified` and it is enabled; otherwise, for an unknown
/// name or an external user, the enabled user the first willing realm vouches for; else `None`.
pub async fn signed_in(
    app: &AppState,
    source: Option<IpAddr>,
    username: &str,
    password: &str,
    stored: Option<UserRecord>,
    verified: bool,
) -> StoreResult<Option<UserRecord>> {
    match stored {
        Some(u) if verified && u.enabled => Ok(Some(u)),
        known => Ok(via_realms(app, source, username, password, known.as_ref())
            .await?
            .filter(|u| u.enabled)),
    }
}

/// The external user `username` signed in as, or `None` when no realm let them in. `known`: what
/// the store holds under that name (a native user there is refused without asking any realm).
async fn via_realms(
    app: &AppState,
    source: Option<IpAddr>,
    username: &str,
    password: &str,
    known: Option<&UserRecord>,
) -> StoreResult<Option<UserRecord>> {
    if known.is_some_and(|u| !u.is_external()) {
        return Ok(None);
    }
    let realms = app.store.list_realms().await?;
    if !realms
        .iter()
        .any(|r| r.enabled && r.realm_type.takes_passwords())
    {
        return Ok(None);
    }
    let (signed, outcomes) = sign_in(
        &realms,
        &app.sealer,
        app.settings.directory_timeouts,
        username,
        password,
    )
    .await;
    for o in &outcomes {
        metrics::counter!("ece_realm_signins_total", "realm" => o.realm_id.clone(), "outcome" => o.outcome)
            .increment(1);
        let mut event = Event::anonymous("realm.signin", source)
            .target(username)
            .outcome(if o.outcome == "success" {
                Outcome::Success
            } else {
                Outcome::Failure
            })
            .detail("realm", o.realm_id.as_str())
            .detail("result", o.outcome);
        if let Some(cause) = &o.cause {
            tracing::warn!(realm = %o.realm_id, user = %username, outcome = o.outcome, %cause, "realm sign-in failed");
            event = event.detail("cause", cause.as_str());
        }
        crate::http::audit::record(app, event).await;
    }
    let Some(signed) = signed else {
        if let Some(user) = known {
            end_if_unmapped(app, source, user, &outcomes).await?;
        }
        return Ok(None);
    };
    record(app, username, signed).await
}

/// A later sign-in through an external user's own realm that maps no role ends that user's
/// sessions and API keys: what the directory no longer grants must not live on in credentials
/// issued earlier (docs/realms.md, "External users"). The row stays, with its last roles, until
/// a sign-in maps roles again.
async fn end_if_unmapped(
    app: &AppState,
    source: Option<IpAddr>,
    user: &UserRecord,
    outcomes: &[crate::security::realm_signin::RealmOutcome],
) -> StoreResult<()> {
    let Some(realm) = &user.realm else {
        return Ok(());
    };
    let unmapped = outcomes
        .iter()
        .any(|o| o.outcome == "no_role" && o.realm_id == realm.id);
    if !unmapped {
        return Ok(());
    }
    end_access(app, source, &user.user_name, &realm.id).await
}

/// Ends the sessions and API keys of `user_name`, an external user whose own realm `realm_id`
/// now maps them to no role (directory and SAML sign-in alike), and audits it
/// (`realm.access_ended`) when there was anything to end.
pub(crate) async fn end_access(
    app: &AppState,
    source: Option<IpAddr>,
    user_name: &str,
    realm_id: &str,
) -> StoreResult<()> {
    let sessions = app.store.revoke_user_sessions(user_name, None).await?;
    let keys = app.store.delete_all_api_keys(user_name).await?;
    app.authcache.clear_lookups();
    if sessions + keys > 0 {
        let event = Event::anonymous("realm.access_ended", source)
            .target(user_name)
            .detail("realm", realm_id)
            .detail("reason", "no_role")
            .detail("sessions", sessions)
            .detail("api_keys", keys);
        crate::http::audit::record(app, event).await;
    }
    Ok(())
}

/// Creates or refreshes the external user; `None` when the name belongs to someone else.
/// (SAML sign-in records its users through this too.)
pub(crate) async fn record(
    app: &AppState,
    username: &str,
    signed: SignedIn,
) -> StoreResult<Option<UserRecord>> {
    // Two attempts: a concurrent first sign-in of the same user may insert between our read
    // and our insert, or bump the version between our read and our update.
    for _ in 0..3 {
        let now = app.settings.clock.now();
        match app.store.get_user(username).await? {
            None => {
                let user = UserRecord {
                    full_name: signed.user.full_name.clone(),
                    email: signed.user.email.clone(),
                    realm: Some(signed.realm.clone()),
                    // Never verifies: an external user has no native password.
                    ..UserRecord::new(username, String::new(), signed.roles.clone(), None, now)
                };
                match app.store.insert_user(&user).await {
                    Ok(()) => return Ok(Some(user)),
                    Err(StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(e),
                }
            }
            Some(u) if u.realm.as_ref() != Some(&signed.realm) => {
                tracing::warn!(user = %username, realm = %signed.realm.id,
                    "directory sign-in refused: the name belongs to a native user or another realm");
                return Ok(None);
            }
            Some(u) => {
                let same = u.roles == signed.roles
                    && u.full_name == signed.user.full_name
                    && u.email == signed.user.email;
                if same {
                    return Ok(Some(u));
                }
                let updated = UserRecord {
                    roles: signed.roles.clone(),
                    full_name: signed.user.full_name.clone(),
                    email: signed.user.email.clone(),
                    updated_at: now,
                    ..u
                };
                if let Some(stored) = app.store.update_user_cas(&updated, false, None).await? {
                    // Other requests of this user must see the new roles at once.
                    app.authcache.clear_lookups();
                    return Ok(Some(stored));
                }
            }
        }
    }
    Err(StoreError::Other(
        "external user record kept changing".into(),
    ))
}
