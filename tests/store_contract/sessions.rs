//! Store-contract cases of sessions and their tokens: a login in one transaction (session, token,
//! login stamps, audit event), token lookups, conflicts rolled back, revoking one session or a
//! user's, and purging revoked and expired sessions.

use serde_json::json;

use ece_server::domain::model::{SessionRecord, TokenRecord, UserRecord};
use ece_server::store::{AuditFilter, AuditRecord, StoreError};

use super::*;

pub(crate) async fn start_session(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice"]).await?;
    let mut sess = session("s1", "alice");
    sess.created_at = at(MIN);
    let audit = AuditRecord {
        id: 0,
        at: at(MIN),
        event: "login".into(),
        outcome: "success".into(),
        actor: Some("alice".into()),
        source: None,
        target: Some("alice".into()),
        detail: json!({"session": "s1"}),
    };
    s.start_session(&sess, &h("t1"), &audit).await?;
    // One transaction did all three: the session and token, the login stamp, the audit event.
    assert_eq!(s.find_token(&h("t1")).await?.unwrap().session, sess);
    let u = s.get_user("alice").await?.unwrap();
    assert_eq!(
        (u.first_login_at, u.last_login_at),
        (Some(at(MIN)), Some(at(MIN)))
    );
    let events = s.list_audit(&AuditFilter::default()).await?;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].event.as_str(), &events[0].detail),
        ("login", &json!({"session": "s1"}))
    );
    // A duplicate session id fails as a whole: no second audit event.
    assert!(s.start_session(&sess, &h("t2"), &audit).await.is_err());
    assert!(s.find_token(&h("t2")).await?.is_none());
    assert_eq!(s.list_audit(&AuditFilter::default()).await?.len(), 1);
    Ok(())
}

pub(crate) async fn sessions(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice"]).await?;
    let sess = session("s1", "alice");
    create_session(s, &sess, "t1").await?;
    let found = s.find_token(&h("t1")).await?.unwrap();
    let token = TokenRecord {
        token_hash: h("t1"),
        session_id: "s1".into(),
        valid_until: None,
    };
    assert_eq!(found.token, token);
    assert_eq!(found.session, sess);
    let logged_in = UserRecord {
        first_login_at: Some(sess.created_at),
        last_login_at: Some(sess.created_at),
        ..user("alice")
    };
    assert_eq!(*found.user, logged_in);
    assert!(s.find_token(&h("unknown")).await?.is_none());

    let dup_token = create_session(s, &session("s2", "alice"), "t1").await;
    assert!(
        matches!(dup_token, Err(StoreError::Conflict(_))),
        "{dup_token:?}"
    );
    let dup_id = create_session(s, &session("s1", "alice"), "t-other").await;
    assert!(matches!(dup_id, Err(StoreError::Conflict(_))), "{dup_id:?}");
    assert!(
        s.find_token(&h("t-other")).await?.is_none(),
        "a failed create must roll back"
    );
    let orphan = create_session(s, &session("s3", "ghost"), "t3").await;
    assert!(orphan.is_err(), "a session needs an existing user");
    Ok(())
}

pub(crate) async fn revoke_and_purge(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice", "bob"]).await?;
    for (id, who) in [
        ("a1", "alice"),
        ("a2", "alice"),
        ("a3", "alice"),
        ("b1", "bob"),
    ] {
        create_session(s, &session(id, who), &format!("t-{id}")).await?;
    }
    s.revoke_session("a1").await?;
    s.revoke_session("no-such-session").await?;
    assert!(revoked(s, "t-a1").await? && !revoked(s, "t-a2").await?);
    // Only sessions not yet revoked are counted.
    assert_eq!(s.revoke_user_sessions("alice", Some("a2")).await?, 1);
    assert!(revoked(s, "t-a3").await? && !revoked(s, "t-a2").await?);
    assert_eq!(s.revoke_user_sessions("alice", None).await?, 1);
    assert!(revoked(s, "t-a2").await?);
    assert_eq!(s.revoke_user_sessions("alice", None).await?, 0);
    assert!(!revoked(s, "t-b1").await?);

    // Purge: revoked sessions, and those whose idle or absolute expiry is strictly before.
    let idle_ended = SessionRecord {
        idle_expires_at: at(MIN),
        ..session("b2", "bob")
    };
    let abs_ended = SessionRecord {
        absolute_expires_at: at(2 * MIN),
        ..session("b3", "bob")
    };
    let at_boundary = SessionRecord {
        idle_expires_at: at(5 * MIN),
        ..session("b4", "bob")
    };
    for sess in [&idle_ended, &abs_ended, &at_boundary] {
        create_session(s, sess, &format!("t-{}", sess.id)).await?;
    }
    assert_eq!(s.purge_sessions(at(5 * MIN)).await?, 5);
    for gone in ["t-a1", "t-a2", "t-a3", "t-b2", "t-b3"] {
        assert!(
            s.find_token(&h(gone)).await?.is_none(),
            "{gone} should be purged"
        );
    }
    for kept in ["t-b1", "t-b4"] {
        assert!(
            s.find_token(&h(kept)).await?.is_some(),
            "{kept} should be kept"
        );
    }
    assert_eq!(s.purge_sessions(at(5 * MIN)).await?, 0);
    Ok(())
}
