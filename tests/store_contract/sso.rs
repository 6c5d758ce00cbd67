//! Store-contract cases of SAML sign-in state (included by `tests/store_contract.rs`, run on
//! every backend): an AuthnRequest is handed back once, even to concurrent takers; an expired one
//! is not; the pending bound holds; an assertion is usable once until it expires.

use ece_server::store::SamlRequest;

use super::{at, concurrently, Ctx, Res};

fn request(id: &str, expires: i64) -> SamlRequest {
    SamlRequest {
        id: id.into(),
        realm_id: "okta".into(),
        state: Some("s=1&x".into()),
        expires_at: at(expires),
    }
}

pub async fn saml_requests(ctx: Ctx) -> Res {
    let s = &ctx.store;
    assert!(
        s.begin_saml_request(&request("_a", 10_000), at(0), 10)
            .await?
    );
    assert!(
        s.begin_saml_request(&request("_old", 500), at(0), 10)
            .await?
    );
    // Taken once, with what was stored.
    assert_eq!(
        s.take_saml_request("_a", at(1)).await?,
        Some(request("_a", 10_000))
    );
    assert_eq!(s.take_saml_request("_a", at(1)).await?, None);
    // Expired: not handed back (and gone).
    assert_eq!(s.take_saml_request("_old", at(600)).await?, None);
    assert_eq!(s.take_saml_request("_unknown", at(1)).await?, None);
    // The bound counts unexpired requests only: expired ones are purged by the next begin.
    for i in 0..3 {
        assert!(
            s.begin_saml_request(&request(&format!("_b{i}"), 2_000), at(0), 3)
                .await?
        );
    }
    assert!(
        !s.begin_saml_request(&request("_c", 9_000), at(0), 3)
            .await?
    );
    assert!(
        s.begin_saml_request(&request("_c", 9_000), at(2_000), 3)
            .await?
    );
    // Concurrent takers: exactly one gets it.
    assert!(
        s.begin_saml_request(&request("_race", 90_000), at(0), 100)
            .await?
    );
    let store = ctx.store.clone();
    let got = concurrently(8, move |_| {
        let store = store.clone();
        async move { store.take_saml_request("_race", at(1)).await.unwrap() }
    })
    .await;
    assert_eq!(got.iter().filter(|r| r.is_some()).count(), 1);
    Ok(())
}

pub async fn saml_assertions(ctx: Ctx) -> Res {
    let s = &ctx.store;
    assert!(s.use_assertion("okta _x", at(1_000), at(0)).await?);
    assert!(!s.use_assertion("okta _x", at(1_000), at(10)).await?);
    assert!(s.use_assertion("other _x", at(1_000), at(10)).await?);
    // Once expired it is purged, and could be recorded again (the assertion itself is expired
    // by then, which the caller refuses before asking).
    assert!(s.use_assertion("okta _x", at(5_000), at(2_000)).await?);
    let store = ctx.store.clone();
    let got = concurrently(8, move |_| {
        let store = store.clone();
        async move {
            store
                .use_assertion("okta _y", at(90_000), at(0))
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(got.iter().filter(|first| **first).count(), 1);
    Ok(())
}
