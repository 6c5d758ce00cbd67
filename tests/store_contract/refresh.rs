//! Store-contract cases of token refresh: the grace period of a replaced token, the idle expiry
//! capped by the absolute one, one chain per session under concurrent refreshes, the per-session
//! rate limit counted in the store, and many sessions refreshed at once failing independently.

use ece_server::store::{AuditFilter, RefreshLimit, RefreshOutcome, StoreError};

use super::*;

pub(crate) async fn refresh(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice"]).await?;
    create_session(s, &session("s1", "alice"), "t1").await?;

    // t1 -> t2 at +1min: t1 keeps working until the grace deadline, t2 is current.
    let out = refresh_at(s, ("t1", "t2"), MIN, MIN + 30_000, 11 * MIN).await?;
    let RefreshOutcome::Refreshed(sess) = out else {
        panic!("{out:?}")
    };
    assert_eq!(sess.idle_expires_at, at(11 * MIN));
    assert_eq!(token_state(s, "t1").await?, Some(Some(at(MIN + 30_000))));
    assert_eq!(token_state(s, "t2").await?, Some(None));
    assert_eq!(s.find_token(&h("t2")).await?.unwrap().session, sess);

    // The idle expiry is capped by the absolute one (T0+60min).
    let out = refresh_at(s, ("t2", "t3"), 2 * MIN, 3 * MIN, 600 * MIN).await?;
    let RefreshOutcome::Refreshed(sess) = out else {
        panic!("{out:?}")
    };
    assert_eq!(sess.idle_expires_at, at(60 * MIN));
    assert_eq!(s.find_token(&h("t3")).await?.unwrap().session, sess);

    // A replaced token, even inside its grace period, cannot start a second chain: nothing is
    // stored. The current one refreshes, and the tokens whose grace is over (t1) are deleted.
    let out = refresh_at(s, ("t2", "tx"), 2 * MIN + 1, 4 * MIN, 12 * MIN).await?;
    assert_eq!(out, RefreshOutcome::Replaced);
    assert_eq!(
        token_state(s, "tx").await?,
        None,
        "a refused refresh stores nothing"
    );
    let out = refresh_at(s, ("t3", "t4"), 2 * MIN + 1, 4 * MIN, 12 * MIN).await?;
    assert!(matches!(out, RefreshOutcome::Refreshed(_)), "{out:?}");
    assert_eq!(
        token_state(s, "t1").await?,
        None,
        "t1's grace ended: deleted"
    );
    let out = refresh_at(s, ("t1", "tx"), 5 * MIN, 6 * MIN, 15 * MIN).await?;
    assert_eq!(out, RefreshOutcome::Invalid);
    assert_eq!(
        token_state(s, "tx").await?,
        None,
        "an invalid refresh stores nothing"
    );
    for (t, until) in [("t2", 3 * MIN), ("t3", 4 * MIN)] {
        assert_eq!(token_state(s, t).await?, Some(Some(at(until))), "{t}");
    }
    assert_eq!(
        token_state(s, "t4").await?,
        Some(None),
        "t4 is the one current token"
    );

    // Unknown token, expired session, revoked session: Invalid, and nothing stored.
    let out = refresh_at(s, ("nope", "ty"), 5 * MIN, 6 * MIN, 15 * MIN).await?;
    assert_eq!(out, RefreshOutcome::Invalid, "unknown token");
    let out = refresh_at(s, ("t4", "ty"), 12 * MIN, 13 * MIN, 20 * MIN).await?;
    assert_eq!(out, RefreshOutcome::Invalid, "idle-expired session");
    create_session(s, &session("s2", "alice"), "u1").await?;
    let out = refresh_at(s, ("u1", "ty"), 60 * MIN, 61 * MIN, 70 * MIN).await?;
    assert_eq!(out, RefreshOutcome::Invalid, "absolute-expired session");
    s.revoke_session("s2").await?;
    let out = refresh_at(s, ("u1", "ty"), MIN, 2 * MIN, 11 * MIN).await?;
    assert_eq!(out, RefreshOutcome::Invalid, "revoked session");
    assert_eq!(token_state(s, "ty").await?, None);
    // Exactly the successful refreshes wrote their audit event (in their own transaction).
    let audited: Vec<_> = s.list_audit(&AuditFilter::default()).await?;
    let targets: Vec<_> = audited.iter().filter_map(|e| e.target.as_deref()).collect();
    assert_eq!(targets, ["t2", "t3", "t4"]);
    Ok(())
}

pub(crate) async fn refresh_concurrent(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice"]).await?;
    create_session(s, &session("s1", "alice"), "t0").await?;
    // t0 is now inside its grace period, t1 is current: both may be presented at once (e.g. two
    // browser tabs), and all refreshes of the session must still serialise: exactly one of them
    // (presenting t1) continues the chain, every other finds its token replaced.
    let first = refresh_at(s, ("t0", "t1"), MIN, 2 * MIN, 11 * MIN).await?;
    assert!(matches!(first, RefreshOutcome::Refreshed(_)));
    let outcomes = concurrently(20, |i| {
        let s = ctx.store.clone();
        let old = if i % 2 == 0 { "t0" } else { "t1" };
        async move {
            let out = refresh_at(&*s, (old, &format!("n{i}")), MIN + 1, 2 * MIN, 11 * MIN).await;
            (i, out)
        }
    })
    .await;
    let mut refreshed = Vec::new();
    for (i, out) in outcomes {
        match out? {
            RefreshOutcome::Refreshed(sess) => {
                assert_eq!(i % 2, 1, "only the current token refreshes");
                assert_eq!(sess.idle_expires_at, at(11 * MIN));
                refreshed.push(format!("n{i}"));
            }
            RefreshOutcome::Replaced => {}
            other => panic!("n{i}: {other:?}"),
        }
    }
    assert_eq!(refreshed.len(), 1, "one chain: {refreshed:?}");
    let mut current = 0;
    let tokens = ["t0".to_string(), "t1".to_string()];
    for t in tokens.into_iter().chain((0..20).map(|i| format!("n{i}"))) {
        match token_state(s, &t).await? {
            None => assert!(t.starts_with('n') && !refreshed.contains(&t), "{t} missing"),
            Some(None) => current += 1,
            Some(Some(until)) => assert_eq!(until, at(2 * MIN), "{t}"),
        }
    }
    assert_eq!(current, 1, "exactly one current token per session");
    Ok(())
}

/// At most `limit.max` refreshes per session and window, counted in the store (so on every
/// replica together); a refused refresh writes nothing, not even its audit event.
pub(crate) async fn refresh_rate_limit(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice"]).await?;
    create_session(s, &session("s1", "alice"), "t0").await?;
    create_session(s, &session("s2", "alice"), "u0").await?;
    let limit = RefreshLimit::per_minute(3);
    let times = (3 * MIN, 11 * MIN);
    for i in 0..3 {
        let (old, new) = (format!("t{i}"), format!("t{}", i + 1));
        let out = refresh_limited(s, (&old, &new), MIN + i, times, limit).await?;
        assert!(matches!(out, RefreshOutcome::Refreshed(_)), "{i}: {out:?}");
    }
    let out = refresh_limited(s, ("t3", "tx"), MIN + 10, times, limit).await?;
    assert_eq!(
        out,
        RefreshOutcome::Limited {
            retry_at: at(2 * MIN)
        }
    );
    assert_eq!(token_state(s, "tx").await?, None);
    assert_eq!(
        token_state(s, "t3").await?,
        Some(None),
        "t3 is still current"
    );
    // Another session has its own budget.
    let out = refresh_limited(s, ("u0", "u1"), MIN + 10, times, limit).await?;
    assert!(matches!(out, RefreshOutcome::Refreshed(_)), "{out:?}");
    // A new window starts once the last one is over.
    let out = refresh_limited(s, ("t3", "t4"), 2 * MIN, times, limit).await?;
    assert!(matches!(out, RefreshOutcome::Refreshed(_)), "{out:?}");
    let audited = s.list_audit(&AuditFilter::default()).await?;
    let targets: Vec<_> = audited.iter().filter_map(|e| e.target.as_deref()).collect();
    assert_eq!(targets, ["t1", "t2", "t3", "u1", "t4"]);
    Ok(())
}

/// Refreshes of many sessions at once, some of them invalid or failing: each gets its own
/// outcome, and a bad one never takes the others down with it (the SQLite store commits
/// concurrent refreshes in groups).
pub(crate) async fn refresh_many_sessions(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice"]).await?;
    for i in 0..16 {
        create_session(s, &session(&format!("s{i}"), "alice"), &format!("a{i}")).await?;
    }
    let outcomes = concurrently(48, |i| {
        let s = ctx.store.clone();
        async move {
            let n = i % 16;
            let (old, new) = match i / 16 {
                0 => (format!("a{n}"), format!("b{n}")),       // valid
                1 => (format!("unknown{n}"), format!("c{n}")), // invalid
                _ => (format!("a{n}"), format!("a{}", (n + 1) % 16)), // new token already exists
            };
            (
                i,
                refresh_at(&*s, (&old, &new), MIN, 2 * MIN, 11 * MIN).await,
            )
        }
    })
    .await;
    for (i, out) in outcomes {
        match (i / 16, out) {
            (0, Ok(RefreshOutcome::Refreshed(_))) | (1, Ok(RefreshOutcome::Invalid)) => {}
            // The new hash is taken: that refresh fails alone, its writes rolled back (else the
            // current token of its session would have lost its current status below).
            (2, Err(StoreError::Conflict(_))) => {}
            // Or the session's valid refresh came first and its token is no longer current.
            (2, Ok(RefreshOutcome::Replaced)) => {}
            (kind, other) => panic!("request {i} (kind {kind}): {other:?}"),
        }
    }
    for n in 0..16 {
        assert_eq!(
            token_state(s, &format!("b{n}")).await?,
            Some(None),
            "b{n} is current"
        );
        assert_eq!(
            token_state(s, &format!("c{n}")).await?,
            None,
            "c{n} was never stored"
        );
    }
    Ok(())
}
