//! Store-contract cases of users: insert, read, list (in byte order, keys too), compare-and-swap
//! updates that keep login stamps and may end the user's sessions, deletion cascading to
//! sessions and API keys, login stamps, and concurrent inserts and updates with one winner.

use ece_server::domain::model::{SessionRecord, UserRecord};
use ece_server::domain::roles::Role;
use ece_server::store::InsertKeyOutcome::Inserted;
use ece_server::store::{StoreError, StoreResult};

use super::*;

pub(crate) async fn users(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    assert_eq!(user_count(s).await?, 0);
    let mut bob = user("bob");
    bob.email = Some("bob@example.com".into());
    bob.builtin = true;
    bob.first_login_at = Some(at(5));
    bob.last_login_at = Some(at(6));
    s.insert_user(&bob).await?;
    s.insert_user(&user("alice")).await?;
    let dup = s.insert_user(&user("alice")).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");

    assert_eq!(s.get_user("alice").await?, Some(user("alice")));
    assert_eq!(s.get_user("bob").await?, Some(bob.clone()));
    assert_eq!(s.get_user("nobody").await?, None);
    assert_eq!(user_names(s).await?, ["alice", "bob"]);
    assert_eq!(user_count(s).await?, 2);

    // CAS update: writes the editable fields, bumps the version.
    let mut edit = user("alice");
    edit.full_name = None;
    edit.email = Some("alice@example.com".into());
    edit.password_hash = "new-hash".into();
    edit.roles = vec![Role::PlatformAdmin];
    edit.deployments = vec![];
    edit.enabled = false;
    edit.updated_at = at(MIN);
    edit.updated_by = Some("root".into());
    let stored = s.update_user_cas(&edit, false, None).await?.unwrap();
    assert_eq!(
        stored,
        UserRecord {
            version: 2,
            ..edit.clone()
        }
    );
    assert_eq!(s.get_user("alice").await?, Some(stored.clone()));
    // A stale version (or an unknown user) writes nothing.
    let stale = UserRecord {
        full_name: Some("Stale".into()),
        ..edit
    };
    assert_eq!(s.update_user_cas(&stale, false, None).await?, None);
    assert_eq!(s.get_user("alice").await?, Some(stored));
    assert_eq!(s.update_user_cas(&user("ghost"), false, None).await?, None);

    // A CAS write made from a record read before a login keeps the login stamps.
    let mut login = session("sb", "bob");
    login.created_at = at(MIN);
    create_session(s, &login, "t-bob").await?;
    let bob_edit = UserRecord {
        full_name: Some("Robert".into()),
        ..bob
    };
    let bob_now = s.update_user_cas(&bob_edit, false, None).await?.unwrap();
    assert_eq!(bob_now.first_login_at, Some(at(5)));
    assert_eq!(bob_now.last_login_at, Some(at(MIN)));
    assert_eq!(bob_now.version, 2);
    Ok(())
}

pub(crate) async fn list_order(ctx: Ctx) -> Res {
    // Lists are in byte order on every backend, whatever the database's collation.
    let s = &*ctx.store;
    add_users(s, &["bob", "\u{c9}mile", "bc", "alice", "_x", "b-c", "Zed"]).await?;
    let sorted = ["Zed", "_x", "alice", "b-c", "bc", "bob", "\u{c9}mile"];
    assert_eq!(user_names(s).await?, sorted);
    // Keys: by creation time, then id.
    for (id, created) in [("k1", 0), ("K2", 0), ("a", 1), ("_b", 0)] {
        let k = key(id, "alice", created, None);
        assert_eq!(s.insert_api_key(&k, 10, at(0)).await?, Inserted);
    }
    let keys = s.list_api_keys(None).await?;
    let ids: Vec<_> = keys.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, ["K2", "_b", "k1", "a"]);
    Ok(())
}

pub(crate) async fn user_update_ends_sessions(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice", "bob"]).await?;
    for (id, who) in [
        ("s1", "alice"),
        ("s2", "alice"),
        ("s3", "alice"),
        ("s4", "bob"),
    ] {
        create_session(s, &session(id, who), &format!("t-{id}")).await?;
    }
    let alice = user("alice");
    // end_sessions = false leaves them alone.
    let alice = s.update_user_cas(&alice, false, None).await?.unwrap();
    assert!(!revoked(s, "t-s1").await?);
    // A stale write revokes nothing (the transaction rolls back).
    let stale = UserRecord {
        version: 1,
        ..alice.clone()
    };
    assert_eq!(s.update_user_cas(&stale, true, None).await?, None);
    assert!(!revoked(s, "t-s1").await?);
    // end_sessions with keep: all but the kept one.
    let alice = s.update_user_cas(&alice, true, Some("s2")).await?.unwrap();
    assert!(revoked(s, "t-s1").await? && revoked(s, "t-s3").await?);
    assert!(!revoked(s, "t-s2").await?, "keep_session must survive");
    assert!(
        !revoked(s, "t-s4").await?,
        "other users' sessions must survive"
    );
    // end_sessions without keep: all of them.
    s.update_user_cas(&alice, true, None).await?.unwrap();
    assert!(revoked(s, "t-s2").await?);
    assert!(!revoked(s, "t-s4").await?);
    Ok(())
}

pub(crate) async fn user_delete_cascades(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice", "bob"]).await?;
    create_session(s, &session("sa", "alice"), "t-a").await?;
    create_session(s, &session("sb", "bob"), "t-b").await?;
    for k in [key("ka", "alice", 0, None), key("kb", "bob", 0, None)] {
        assert_eq!(s.insert_api_key(&k, 10, at(0)).await?, Inserted);
    }
    assert!(s.delete_user("alice").await?);
    assert!(!s.delete_user("alice").await?);
    assert_eq!(s.get_user("alice").await?, None);
    assert!(s.find_token(&h("t-a")).await?.is_none());
    assert!(s.find_api_key(&h("hash-ka")).await?.is_none());
    assert!(s.list_api_keys(Some("alice")).await?.is_empty());
    // Re-creating the name does not resurrect anything.
    s.insert_user(&user("alice")).await?;
    assert!(s.find_token(&h("t-a")).await?.is_none());
    assert!(s.get_api_key("alice", "ka").await?.is_none());
    // Bob is untouched.
    assert!(s.find_token(&h("t-b")).await?.is_some());
    assert!(s.find_api_key(&h("hash-kb")).await?.is_some());
    assert_eq!(user_count(s).await?, 2);
    Ok(())
}

pub(crate) async fn login_stamps(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice"]).await?;
    let stamps = |u: UserRecord| (u.first_login_at, u.last_login_at, u.version);
    let login_at = |id: &str, ms: i64| SessionRecord {
        created_at: at(ms),
        ..session(id, "alice")
    };
    create_session(s, &login_at("s1", MIN), "t1").await?;
    let u = s.get_user("alice").await?.unwrap();
    assert_eq!(stamps(u), (Some(at(MIN)), Some(at(MIN)), 1));
    create_session(s, &login_at("s2", 2 * MIN), "t2").await?;
    let u = s.get_user("alice").await?.unwrap();
    // first_login_at is set once; the version is not bumped.
    assert_eq!(stamps(u), (Some(at(MIN)), Some(at(2 * MIN)), 1));
    // A login of an unknown user stores nothing.
    assert!(create_session(s, &session("s3", "nobody"), "t3")
        .await
        .is_err());
    assert_eq!(s.get_user("nobody").await?, None);
    Ok(())
}

pub(crate) async fn insert_user_concurrent(ctx: Ctx) -> Res {
    let outcomes = concurrently(20, |i| {
        let s = ctx.store.clone();
        let u = UserRecord {
            full_name: Some(format!("Alice {i}")),
            ..user("alice")
        };
        async move { s.insert_user(&u).await }
    })
    .await;
    let mut ok = 0;
    for out in outcomes {
        match out {
            Ok(()) => ok += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("expected Conflict, got {e:?}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(user_count(&*ctx.store).await?, 1);
    Ok(())
}

pub(crate) async fn update_user_concurrent(ctx: Ctx) -> Res {
    add_users(&*ctx.store, &["alice"]).await?;
    let outcomes = concurrently(10, |i| {
        let s = ctx.store.clone();
        let u = UserRecord {
            full_name: Some(format!("Alice {i}")),
            ..user("alice")
        };
        async move { s.update_user_cas(&u, false, None).await }
    })
    .await;
    let outcomes: Vec<_> = outcomes.into_iter().collect::<StoreResult<_>>()?;
    assert_eq!(
        outcomes.iter().filter(|o| o.is_some()).count(),
        1,
        "one CAS wins"
    );
    assert_eq!(ctx.store.get_user("alice").await?.unwrap().version, 2);
    Ok(())
}
