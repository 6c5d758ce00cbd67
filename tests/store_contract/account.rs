//! Store-contract cases of the account: created once and idempotently (also by many replicas
//! at once), updated by compare-and-swap on its version, one concurrent writer winning.

use serde_json::json;

use super::*;

pub(crate) async fn account(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    s.ping().await?;
    assert_eq!(s.get_account().await?, None);
    let first = s.init_account("acc-1", &json!({"a": 1})).await?;
    assert_eq!((first.id.as_str(), first.version), ("acc-1", 1));
    assert_eq!(first.trust, json!({"a": 1}));
    // Idempotent: a second init keeps the first account.
    assert_eq!(s.init_account("acc-2", &json!({"b": 2})).await?, first);
    assert_eq!(s.get_account().await?, Some(first));

    let updated = s.update_account_cas(&json!({"c": 3}), 1).await?;
    let updated = updated.expect("CAS with the current version writes");
    assert_eq!((updated.version, &updated.trust), (2, &json!({"c": 3})));
    assert_eq!(
        s.update_account_cas(&json!({"d": 4}), 1).await?,
        None,
        "stale"
    );
    assert_eq!(s.get_account().await?, Some(updated));
    Ok(())
}

pub(crate) async fn account_concurrent(ctx: Ctx) -> Res {
    // Many replicas initialising at once all get the same single account; one CAS wins.
    let accounts = concurrently(10, |i| {
        let s = ctx.store.clone();
        async move { s.init_account(&format!("acc-{i}"), &json!({})).await }
    })
    .await;
    let first = accounts[0].as_ref().unwrap();
    assert!(accounts.iter().all(|a| a.as_ref().unwrap() == first));
    let writes = concurrently(10, |i| {
        let s = ctx.store.clone();
        async move { s.update_account_cas(&json!({ "n": i }), 1).await }
    })
    .await;
    assert_eq!(
        writes
            .iter()
            .filter(|w| w.as_ref().unwrap().is_some())
            .count(),
        1
    );
    assert_eq!(ctx.store.get_account().await?.unwrap().version, 2);
    Ok(())
}
