//! Write contention: many concurrent writes of one row must all be answered without a 5xx (they
//! queue on the replica's row lock, see `src/store/cas.rs`), and the row must end as one of the writes.

use std::collections::HashSet;

use serde_json::json;

use crate::helpers::{spawn_app, Auth};

/// Concurrent `PATCH /user` of one user, by that user (no role needed).
const WRITERS: usize = 200;

#[tokio::test]
async fn concurrent_patches_of_one_user_never_answer_5xx() {
    let app = spawn_app().await;
    let Auth::Basic(name, password) = app.create_user("contended", &[]).await else {
        unreachable!()
    };
    // A bearer token: the requests race on the row, not on Argon2 checks of a Basic password.
    let auth = Auth::Bearer(app.login(&name, &password).await);
    let writes: Vec<String> = (0..WRITERS).map(|i| format!("Writer {i}")).collect();
    let replies = futures::future::join_all(writes.iter().map(|full_name| {
        let (app, auth) = (&app, &auth);
        async move {
            let reply = app
                .patch("/user", auth, json!({"full_name": full_name}))
                .await;
            (reply.status, reply.body)
        }
    }))
    .await;
    let failed: Vec<_> = replies.iter().filter(|(s, _)| *s >= 500).collect();
    assert!(
        failed.is_empty(),
        "{} of {WRITERS} writes answered 5xx, e.g. {:?}",
        failed.len(),
        failed.first()
    );
    assert!(replies.iter().all(|(s, _)| *s == 200));
    let written: HashSet<&str> = writes.iter().map(String::as_str).collect();
    let last = app.user(&name).await;
    let stored = last["full_name"].as_str().unwrap_or_default();
    assert!(written.contains(stored), "final full name {stored:?}");
}
