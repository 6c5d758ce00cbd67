//! Store-contract cases of security realms (included by `tests/store_contract.rs`, run on every
//! backend): ids and positions checked inside the write, compare-and-swap versions, atomic
//! reorder, concurrent creates taking distinct positions.

use ece_server::domain::realms::{RealmRecord, RealmType};
use ece_server::store::{RealmWrite, ReorderOutcome};
use serde_json::json;

use ece_server::domain::model::{RealmRef, UserRecord};
use ece_server::domain::roles::Role;

use super::{at, concurrently, create_session, h, key, session, user, Ctx, Res};

fn realm(id: &str, t: RealmType, position: i32) -> RealmRecord {
    RealmRecord {
        id: id.into(),
        realm_type: t,
        name: format!("Realm {id}"),
        position,
        enabled: true,
        settings: json!({"name": format!("Realm {id}"), "urls": ["ldap://x"]}),
        sealed_secrets: Some(format!("v1.test.{id}")),
        version: 1,
        created_at: at(1_000),
        updated_at: at(1_000),
    }
}

fn done(w: RealmWrite) -> RealmRecord {
    match w {
        RealmWrite::Done(r) => r,
        other => panic!("expected a write, got {other:?}"),
    }
}

async fn order(ctx: &Ctx) -> anyhow::Result<Vec<(String, i32)>> {
    Ok(ctx
        .store
        .list_realms()
        .await?
        .into_iter()
        .map(|r| (r.id, r.position))
        .collect())
}

pub async fn realms(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    assert!(s.list_realms().await?.is_empty());
    let a = done(s.insert_realm(&realm("a", RealmType::Ldap, 0)).await?);
    assert_eq!((a.position, a.version), (1, 1));
    assert_eq!(a.sealed_secrets.as_deref(), Some("v1.test.a"));
    done(
        s.insert_realm(&realm("b", RealmType::ActiveDirectory, 0))
            .await?,
    );
    done(s.insert_realm(&realm("c", RealmType::Ldap, 7)).await?);
    assert_eq!(
        s.insert_realm(&realm("a", RealmType::ActiveDirectory, 0))
            .await?,
        RealmWrite::IdConflict
    );
    assert_eq!(
        s.insert_realm(&realm("d", RealmType::Ldap, 7)).await?,
        RealmWrite::OrderConflict
    );
    assert_eq!(
        order(&ctx).await?,
        [("a".into(), 1), ("b".into(), 2), ("c".into(), 7)]
    );
    assert_eq!(
        s.get_realm("b").await?.unwrap().realm_type,
        RealmType::ActiveDirectory
    );
    assert_eq!(s.get_realm("zz").await?, None);

    // Compare-and-swap on the version; the type is part of the realm's identity.
    let mut changed = a.clone();
    changed.name = "Renamed".into();
    changed.sealed_secrets = None;
    changed.enabled = false;
    changed.updated_at = at(2_000);
    let stored = done(s.update_realm_cas(&changed).await?);
    assert_eq!(
        (stored.version, stored.enabled, stored.name.as_str()),
        (2, false, "Renamed")
    );
    assert_eq!(
        (stored.sealed_secrets, stored.created_at, stored.updated_at),
        (None, at(1_000), at(2_000))
    );
    assert_eq!(
        s.update_realm_cas(&changed).await?,
        RealmWrite::VersionConflict
    );
    let mut wrong_type = changed.clone();
    wrong_type.realm_type = RealmType::ActiveDirectory;
    wrong_type.version = 2;
    assert_eq!(s.update_realm_cas(&wrong_type).await?, RealmWrite::NotFound);
    let mut taken = changed.clone();
    taken.version = 2;
    taken.position = 2;
    assert_eq!(s.update_realm_cas(&taken).await?, RealmWrite::OrderConflict);

    // Delete: only at the expected version, only of its type.
    assert_eq!(
        s.delete_realm("a", RealmType::Ldap, Some(1)).await?,
        RealmWrite::VersionConflict
    );
    assert_eq!(
        s.delete_realm("a", RealmType::ActiveDirectory, None)
            .await?,
        RealmWrite::NotFound
    );
    assert_eq!(
        done(s.delete_realm("a", RealmType::Ldap, Some(2)).await?).id,
        "a"
    );
    assert_eq!(
        s.delete_realm("a", RealmType::Ldap, None).await?,
        RealmWrite::NotFound
    );
    assert_eq!(order(&ctx).await?, [("b".into(), 2), ("c".into(), 7)]);
    Ok(())
}

pub async fn realms_reorder(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    for id in ["a", "b", "c"] {
        done(s.insert_realm(&realm(id, RealmType::Ldap, 0)).await?);
    }
    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        s.reorder_realms(&ids(&["c", "a", "b"]), at(5_000)).await?,
        ReorderOutcome::Done
    );
    assert_eq!(
        order(&ctx).await?,
        [("c".into(), 1), ("a".into(), 2), ("b".into(), 3)]
    );
    let c = s.get_realm("c").await?.unwrap();
    assert_eq!((c.version, c.updated_at), (2, at(5_000)));
    assert_eq!(
        s.reorder_realms(&ids(&["a", "b", "x"]), at(6_000)).await?,
        ReorderOutcome::Mismatch {
            unknown: ids(&["x"]),
            missing: ids(&["c"])
        }
    );
    assert_eq!(
        s.reorder_realms(&ids(&["a", "b", "c", "c"]), at(6_000))
            .await?,
        ReorderOutcome::Mismatch {
            unknown: vec![],
            missing: vec![]
        }
    );
    assert_eq!(
        order(&ctx).await?,
        [("c".into(), 1), ("a".into(), 2), ("b".into(), 3)]
    );
    assert_eq!(
        s.get_realm("c").await?.unwrap().version,
        2,
        "a refused reorder writes nothing"
    );
    // A new realm goes after the last one.
    assert_eq!(
        done(s.insert_realm(&realm("d", RealmType::Ldap, 0)).await?).position,
        4
    );
    Ok(())
}

pub async fn realms_concurrent(ctx: Ctx) -> Res {
    let store = ctx.store.clone();
    let inserted = concurrently(10, |i| {
        let store = store.clone();
        async move {
            store
                .insert_realm(&realm(&format!("r{i}"), RealmType::Ldap, 0))
                .await
        }
    })
    .await;
    let mut positions: Vec<i32> = inserted
        .into_iter()
        .map(|w| done(w.unwrap()).position)
        .collect();
    positions.sort();
    assert_eq!(positions, (1..=10).collect::<Vec<_>>());
    let base = ctx.store.get_realm("r0").await?.unwrap();
    let updates = concurrently(8, |i| {
        let store = store.clone();
        let mut r = base.clone();
        r.name = format!("writer {i}");
        async move { store.update_realm_cas(&r).await }
    })
    .await;
    let won = updates
        .into_iter()
        .filter(|w| matches!(w, Ok(RealmWrite::Done(_))))
        .count();
    assert_eq!(won, 1, "one compare-and-swap per version");
    Ok(())
}

/// External users (signed in through a realm) keep their realm through every read path: the
/// plain lookup, the list, a compare-and-swap update, a token and an API key lookup.
pub(super) async fn external_users(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    let carol = UserRecord {
        password_hash: String::new(),
        realm: Some(RealmRef {
            id: "corp-ldap".into(),
            realm_type: RealmType::ActiveDirectory,
        }),
        ..user("carol")
    };
    s.insert_user(&carol).await?;
    s.insert_user(&user("alice")).await?;
    assert_eq!(s.get_user("carol").await?, Some(carol.clone()));
    assert_eq!(s.get_user("alice").await?.unwrap().realm, None);
    let listed = s.list_users().await?;
    assert_eq!(listed.iter().find(|u| u.user_name == "carol"), Some(&carol));

    let edit = UserRecord {
        roles: vec![Role::PlatformAdmin],
        ..carol.clone()
    };
    let stored = s.update_user_cas(&edit, false, None).await?.unwrap();
    assert_eq!(stored.realm, carol.realm);

    create_session(s, &session("sc", "carol"), "t-carol").await?;
    let by_token = s.find_token(&h("t-carol")).await?.unwrap();
    assert_eq!(by_token.user.realm, carol.realm);
    s.insert_api_key(&key("k1", "carol", 0, None), 10, at(0))
        .await?;
    let by_key = s
        .find_api_key(&key("k1", "carol", 0, None).key_hash)
        .await?
        .unwrap();
    assert_eq!(by_key.user.realm, carol.realm);
    Ok(())
}

/// Disabling a realm ends its external users' sessions and API keys (the users stay); deleting it
/// removes the users too. Other realms' users and native users keep theirs.
pub(super) async fn realm_end_ends_external_access(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    let external = |name: &str, realm: &str| UserRecord {
        password_hash: String::new(),
        realm: Some(RealmRef {
            id: realm.into(),
            realm_type: RealmType::Ldap,
        }),
        ..user(name)
    };
    let corp = done(s.insert_realm(&realm("corp", RealmType::Ldap, 0)).await?);
    done(s.insert_realm(&realm("other", RealmType::Ldap, 0)).await?);
    for (i, u) in [
        external("carol", "corp"),
        external("dave", "other"),
        user("alice"),
    ]
    .iter()
    .enumerate()
    {
        s.insert_user(u).await?;
        let name = &u.user_name;
        create_session(
            s,
            &session(&format!("s-{name}"), name),
            &format!("t-{name}"),
        )
        .await?;
        s.insert_api_key(&key(&format!("k{i}"), name, 0, None), 10, at(0))
            .await?;
    }
    let usable = |name: &'static str, i: usize| async move {
        let token = s.find_token(&h(&format!("t-{name}"))).await.unwrap();
        let key = s
            .find_api_key(&key(&format!("k{i}"), name, 0, None).key_hash)
            .await
            .unwrap();
        (token.is_some(), key.is_some())
    };

    // Saved enabled: nothing ends.
    let renamed = done(
        s.update_realm_cas(&RealmRecord {
            name: "renamed".into(),
            ..corp.clone()
        })
        .await?,
    );
    assert_eq!(usable("carol", 0).await, (true, true));
    // Saved disabled: carol's access ends, her row stays; dave and alice are untouched.
    let disabled = done(
        s.update_realm_cas(&RealmRecord {
            enabled: false,
            ..renamed
        })
        .await?,
    );
    assert_eq!(usable("carol", 0).await, (false, false));
    assert!(s.get_user("carol").await?.is_some());
    assert_eq!(usable("dave", 1).await, (true, true));
    assert_eq!(usable("alice", 2).await, (true, true));

    // A new session while disabled (cannot happen through sign-in, but the store does not care),
    // then the delete: carol goes with her realm.
    create_session(s, &session("s-carol-2", "carol"), "t-carol-2").await?;
    done(
        s.delete_realm("corp", RealmType::Ldap, Some(disabled.version))
            .await?,
    );
    assert!(s.get_user("carol").await?.is_none());
    assert!(s.find_token(&h("t-carol-2")).await?.is_none());
    assert_eq!(usable("dave", 1).await, (true, true));
    assert_eq!(usable("alice", 2).await, (true, true));
    Ok(())
}
