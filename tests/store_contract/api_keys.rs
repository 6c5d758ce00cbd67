//! Store-contract cases of API keys: insert under the per-user limit (expired keys not counted,
//! also under concurrent inserts), list, lookup by id and by digest, delete, and purging expired
//! keys.

use ece_server::domain::model::ApiKeyRecord;
use ece_server::store::InsertKeyOutcome::{Inserted, LimitReached, UserNotFound};
use ece_server::store::{StoreError, StoreResult};

use super::*;

pub(crate) async fn api_keys(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice", "bob"]).await?;
    let k1 = key("k1", "alice", 0, None);
    let k2 = ApiKeyRecord {
        platform_roles: Some(vec![]),
        ..key("k2", "alice", 1, Some(60 * MIN))
    };
    let k3 = key("k3", "bob", 2, None);
    for k in [&k1, &k2, &k3] {
        assert_eq!(s.insert_api_key(k, 2, at(0)).await?, Inserted);
    }
    let ghost = key("kg", "ghost", 0, None);
    assert_eq!(s.insert_api_key(&ghost, 2, at(0)).await?, UserNotFound);
    // Alice is at her limit of 2; once k2 has expired, it no longer counts.
    let k4 = key("k4", "alice", 3, None);
    assert_eq!(s.insert_api_key(&k4, 2, at(0)).await?, LimitReached);
    assert_eq!(s.insert_api_key(&k4, 2, at(60 * MIN)).await?, Inserted);
    let dup_hash = ApiKeyRecord {
        id: "k5".into(),
        ..key("k1", "bob", 4, None)
    };
    let dup = s.insert_api_key(&dup_hash, 10, at(0)).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");

    let alices = [k1.clone(), k2.clone(), k4.clone()];
    assert_eq!(s.list_api_keys(Some("alice")).await?, alices);
    assert_eq!(
        s.list_api_keys(Some("bob")).await?,
        std::slice::from_ref(&k3)
    );
    let all = [k1.clone(), k2.clone(), k3.clone(), k4.clone()];
    assert_eq!(s.list_api_keys(None).await?, all);
    assert_eq!(s.get_api_key("alice", "k2").await?, Some(k2.clone()));
    assert_eq!(s.get_api_key("bob", "k2").await?, None);
    let found = s.find_api_key(&h("hash-k2")).await?.unwrap();
    assert_eq!((found.key, (*found.user).clone()), (k2, user("alice")));
    assert!(s.find_api_key(&h("hash-none")).await?.is_none());

    // Deleting by id only touches the named user's keys; each key counts once.
    let ids = ["k1", "missing", "k3", "k1"].map(String::from);
    assert_eq!(s.delete_api_keys("alice", &ids).await?, 1);
    assert_eq!(s.delete_api_keys("alice", &[]).await?, 0);
    assert_eq!(s.get_api_key("bob", "k3").await?, Some(k3.clone()));
    assert_eq!(s.delete_all_api_keys("alice").await?, 2);
    assert!(s.list_api_keys(Some("alice")).await?.is_empty());
    assert_eq!(s.list_api_keys(None).await?, [k3]);
    Ok(())
}

/// Housekeeping deletes keys that expired before the given time, and only those.
pub(crate) async fn api_key_purge(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    add_users(s, &["alice"]).await?;
    for (id, expires) in [
        ("old", Some(MIN)),
        ("recent", Some(10 * MIN)),
        ("never", None),
    ] {
        s.insert_api_key(&key(id, "alice", 0, expires), 10, at(0))
            .await?;
    }
    assert_eq!(s.purge_api_keys(at(5 * MIN)).await?, 1);
    let ids: Vec<_> = s
        .list_api_keys(None)
        .await?
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(ids, ["never", "recent"]);
    assert_eq!(s.purge_api_keys(at(5 * MIN)).await?, 0);
    Ok(())
}

pub(crate) async fn api_key_limit_concurrent(ctx: Ctx) -> Res {
    add_users(&*ctx.store, &["alice"]).await?;
    let outcomes = concurrently(20, |i| {
        let s = ctx.store.clone();
        let k = key(&format!("k{i:02}"), "alice", i, None);
        async move { s.insert_api_key(&k, 5, at(0)).await }
    })
    .await;
    let outcomes: Vec<_> = outcomes.into_iter().collect::<StoreResult<_>>()?;
    assert_eq!(outcomes.iter().filter(|o| **o == Inserted).count(), 5);
    assert_eq!(outcomes.iter().filter(|o| **o == LimitReached).count(), 15);
    assert_eq!(ctx.store.list_api_keys(Some("alice")).await?.len(), 5);
    Ok(())
}
