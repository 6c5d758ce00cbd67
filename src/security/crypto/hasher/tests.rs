//! The hashing pool: hashes verify, reused memory matches the reference, the queue is bounded.

use super::*;

#[test]
fn hash_then_verify() {
    let phc = hash_password("correct horse").unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert!(verify_password("correct horse", &phc));
    assert!(!verify_password("wrong", &phc));
    assert!(!verify_password("x", "not a phc string"));
}

#[test]
fn verifying_in_reused_memory_matches_the_reference() {
    let phc = hash_password("correct horse").unwrap();
    let mut memory = Vec::new();
    for _ in 0..2 {
        assert!(verify_with_memory("correct horse", &phc, &mut memory));
        assert!(!verify_with_memory("wrong", &phc, &mut memory));
    }
    assert!(!verify_with_memory("x", "not a phc string", &mut memory));
    // Other parameters (an older or tuned hash) verify too.
    let params = argon2::Params::new(8 * 1024, 1, 1, None).unwrap();
    let salt = SaltString::generate(&mut OsRng);
    let other = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(b"pw", &salt)
        .unwrap()
        .to_string();
    assert!(verify_with_memory("pw", &other, &mut memory));
    assert!(!verify_with_memory("pw2", &other, &mut memory));
}

#[tokio::test]
async fn the_pool_hashes_and_verifies() {
    let pool = PasswordHasherPool::new(2, 64);
    let phc = pool.hash("a password".into()).await.unwrap();
    let checks: Vec<_> = (0..4)
        .map(|i| {
            let (pool, phc) = (pool.clone(), phc.clone());
            tokio::spawn(async move {
                let pw = if i % 2 == 0 { "a password" } else { "another" };
                pool.verify(pw.into(), Some(phc)).await
            })
        })
        .collect();
    let mut got = Vec::new();
    for c in checks {
        got.push(c.await.unwrap());
    }
    assert_eq!(got, [true, false, true, false]);
    assert!(!pool.verify("a password".into(), None).await);
}

#[tokio::test]
async fn the_queue_is_bounded_and_abandoned_jobs_are_skipped() {
    let pool = PasswordHasherPool::new(1, 2);
    let phc = hash_password("pw").unwrap();
    // Eight checks submitted at once (each task reaches the queue before any hash, which
    // takes milliseconds, can finish): one hashing and two queued at most, the rest refused
    // at once while the others still wait (at least one, even if the test thread is preempted
    // for a whole hash in between).
    let mut jobs = Vec::new();
    for i in 0..8 {
        let (pool, phc) = (pool.clone(), phc.clone());
        let pw = if i < 3 { "pw" } else { "x" };
        jobs.push(tokio::spawn(async move {
            pool.try_verify(pw.into(), Some(phc)).await
        }));
    }
    let results: Vec<_> = join_handles(jobs).await;
    let refused = results
        .iter()
        .filter(|r| **r == Err(NotChecked::QueueFull))
        .count();
    assert!(refused >= 1, "a full queue refuses: {results:?}");
    assert!(results
        .iter()
        .all(|r| matches!(r, Ok(_) | Err(NotChecked::QueueFull))));
    // Abandoned: a caller that stops waiting before its job starts costs no hash.
    let blocker = {
        let (pool, phc) = (pool.clone(), phc.clone());
        tokio::spawn(async move { pool.verify("pw".into(), Some(phc)).await })
    };
    let gone = {
        let (pool, phc) = (pool.clone(), phc.clone());
        tokio::spawn(async move { pool.try_verify("pw".into(), Some(phc)).await })
    };
    tokio::task::yield_now().await;
    gone.abort();
    let _ = gone.await;
    assert!(blocker.await.unwrap());
    // The worker thread has passed the abandoned job by now (or will, before idling).
    assert!(pool.verify("pw".into(), Some(phc)).await);
    assert_eq!(pool.stats().skipped, 1);
}

#[tokio::test]
async fn a_held_pool_keeps_checks_queued_and_an_empty_hash_needs_no_place() {
    let pool = PasswordHasherPool::new(1, 2);
    let phc = hash_password("pw").unwrap();
    let paused = pool.pause();
    let queued: Vec<_> = (0..2)
        .map(|_| {
            let (pool, phc) = (pool.clone(), phc.clone());
            tokio::spawn(async move { pool.try_verify("pw".into(), Some(phc)).await })
        })
        .collect();
    while pool.stats().submitted < 2 {
        tokio::task::yield_now().await;
    }
    // The one thread is held and two checks wait: the queue is full.
    assert_eq!(
        pool.try_verify("pw".into(), Some(phc.clone())).await,
        Err(NotChecked::QueueFull)
    );
    // An external user's empty hash never verifies, and needs no place in the queue.
    assert_eq!(
        pool.try_verify("pw".into(), Some(String::new())).await,
        Ok(false)
    );
    drop(paused);
    assert_eq!(join_handles(queued).await, [Ok(true), Ok(true)]);
    assert_eq!(pool.stats().submitted, 2);
}

async fn join_handles<T>(jobs: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for j in jobs {
        out.push(j.await.unwrap());
    }
    out
}
