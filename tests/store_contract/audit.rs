//! Store-contract cases of the audit log: events appended and listed oldest first, filtered by
//! user (actor or target), event and time window, limited to the most recent, and purged.

use serde_json::json;

use ece_server::store::{AuditFilter, AuditRecord, StoreResult};

use super::*;

pub(crate) async fn audit_log(ctx: Ctx) -> Res {
    let s = &*ctx.store;
    let ev = |ms: i64, event: &str, actor: Option<&str>, target: Option<&str>| AuditRecord {
        id: 0,
        at: at(ms),
        event: event.into(),
        outcome: "success".into(),
        actor: actor.map(Into::into),
        source: Some("192.0.2.7".into()),
        target: target.map(Into::into),
        detail: json!({"n": ms}),
    };
    assert!(s.list_audit(&AuditFilter::default()).await?.is_empty());
    s.append_audit(&ev(1_000, "login", Some("alice"), Some("alice")))
        .await?;
    s.append_audit(&ev(2_000, "user.create", Some("alice"), Some("bob")))
        .await?;
    s.append_audit(&ev(3_000, "login", None, Some("bob")))
        .await?;
    s.append_audit(&ev(4_000, "logout", Some("carol"), Some("carol")))
        .await?;

    let all = s.list_audit(&AuditFilter::default()).await?;
    let rel = |e: &AuditRecord| (e.at - at(0)).num_milliseconds();
    let times: Vec<i64> = all.iter().map(rel).collect();
    assert_eq!(times, [1_000, 2_000, 3_000, 4_000], "oldest first");
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "ids grow");
    assert_eq!(all[1].actor.as_deref(), Some("alice"));
    assert_eq!(all[1].target.as_deref(), Some("bob"));
    assert_eq!(all[1].source.as_deref(), Some("192.0.2.7"));
    assert_eq!(all[1].detail, json!({"n": 2_000}));
    assert_eq!(all[2].actor, None);

    let ms = |f: AuditFilter| async move {
        let found = s.list_audit(&f).await?;
        StoreResult::Ok(found.iter().map(rel).collect::<Vec<_>>())
    };
    // A user matches as actor or as target.
    let bob = AuditFilter {
        user: Some("bob".into()),
        ..Default::default()
    };
    assert_eq!(ms(bob).await?, [2_000, 3_000]);
    let logins = AuditFilter {
        event: Some("login".into()),
        ..Default::default()
    };
    assert_eq!(ms(logins).await?, [1_000, 3_000]);
    // `since` is inclusive, `until` exclusive.
    let window = AuditFilter {
        since: Some(at(2_000)),
        until: Some(at(4_000)),
        ..Default::default()
    };
    assert_eq!(ms(window).await?, [2_000, 3_000]);
    // The limit keeps the most recent events, still oldest first.
    let last_two = AuditFilter {
        limit: Some(2),
        ..Default::default()
    };
    assert_eq!(ms(last_two).await?, [3_000, 4_000]);
    let both = AuditFilter {
        user: Some("alice".into()),
        event: Some("login".into()),
        ..Default::default()
    };
    assert_eq!(ms(both).await?, [1_000]);

    assert_eq!(s.purge_audit(at(3_000)).await?, 2);
    assert_eq!(ms(AuditFilter::default()).await?, [3_000, 4_000]);
    assert_eq!(s.purge_audit(at(3_000)).await?, 0);
    Ok(())
}
