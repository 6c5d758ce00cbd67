//! Argon2id password hashing on a bounded pool of dedicated, low-priority threads (see
//! [`PasswordHasherPool`]), and the dummy hash that unknown users are checked against.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::rngs::OsRng;

use super::new_secret;

mod memory;
use memory::{map_large_buffers, release_free_memory, verify_with_memory};

/// Argon2id hashing on a small pool of dedicated threads, with bounded concurrency.
///
/// - At most `max_concurrent` threads hash at once; further requests queue without blocking the
///   async runtime. Threads start on demand and exit after [`HASHER_IDLE`] without work.
/// - Sign-in checks ([`PasswordHasherPool::try_verify`]) queue only while fewer than `max_queued`
///   jobs wait: beyond that they wait for a place for at most the admission wait
///   ([`with_admission_wait`](PasswordHasherPool::with_admission_wait), 1 s in `serve`) and are
///   then refused ([`QueueFull`]), so a flood cannot make a real user's check wait behind
///   thousands of others, nor turn into a stream of instant refusals that crowds out every other
///   request. A job whose caller stopped waiting (the client hung up, the request timed out) is
///   skipped before it starts.
/// - Each thread verifies into one Argon2 memory buffer (19 MiB) that it reuses while busy: no
///   19 MiB allocation and page faults per login. The buffer is wiped and freed when the thread
///   exits, and the allocator is asked to give the memory back, so an idle server stays small.
/// - On Linux the threads run at a lower priority (nice 10): under a login flood the cores still
///   hash at full speed when nothing else wants them, but ordinary requests preempt the hashing
///   instead of queueing behind it.
#[derive(Clone)]
pub struct PasswordHasherPool {
    shared: Arc<PoolShared>,
    /// How long a sign-in check that finds the queue full waits for a place.
    admission_wait: std::time::Duration,
}

/// How long a hashing thread waits for work before exiting (and freeing its memory).
pub const HASHER_IDLE: std::time::Duration = std::time::Duration::from_secs(2);

struct PoolShared {
    state: std::sync::Mutex<PoolState>,
    ready: std::sync::Condvar,
    /// Told each time a hashing thread takes a job from the queue: a place is free.
    room: tokio::sync::Notify,
    max: usize,
    max_queued: usize,
    submitted: std::sync::atomic::AtomicU64,
    skipped: std::sync::atomic::AtomicU64,
    refused: std::sync::atomic::AtomicU64,
}

/// The hashing queue is full: the check was not queued (reply 429 with `Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull;

/// Why a sign-in check gave no answer. Neither is a wrong password: the caller counts nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotChecked {
    /// The queue was full ([`QueueFull`]).
    QueueFull,
    /// The hashing thread dropped the job without an answer (it panicked, or the pool is gone).
    PoolFailed,
}

impl From<QueueFull> for NotChecked {
    fn from(_: QueueFull) -> Self {
        NotChecked::QueueFull
    }
}

/// Counters of a [`PasswordHasherPool`] since start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HasherStats {
    /// Jobs queued.
    pub submitted: u64,
    /// Jobs dropped before they started because their caller had gone.
    pub skipped: u64,
    /// Checks refused because the queue was full.
    pub refused: u64,
}

struct PoolState {
    jobs: std::collections::VecDeque<Job>,
    threads: usize,
    idle: usize,
    /// Threads that have left the pool but are still wiping and freeing their buffer.
    exiting: usize,
}

enum Job {
    Hash(String, tokio::sync::oneshot::Sender<anyhow::Result<String>>),
    Verify(String, Option<String>, tokio::sync::oneshot::Sender<bool>),
    /// Holds its thread until the [`Paused`] guard is dropped (see [`PasswordHasherPool::pause`]);
    /// says on the sender when it starts.
    Hold(std::sync::mpsc::Sender<()>, std::sync::mpsc::Receiver<()>),
}

/// Keeps one hashing thread occupied while it lives; see [`PasswordHasherPool::pause`].
pub struct Paused {
    _release: std::sync::mpsc::Sender<()>,
}

impl Job {
    /// Whether the caller stopped waiting for the result.
    fn abandoned(&self) -> bool {
        match self {
            Job::Hash(_, tx) => tx.is_closed(),
            Job::Verify(_, _, tx) => tx.is_closed(),
            Job::Hold(..) => false,
        }
    }
}

impl PasswordHasherPool {
    /// A pool of at most `max_concurrent` threads; sign-in checks queue while fewer than
    /// `max_queued` jobs wait.
    pub fn new(max_concurrent: usize, max_queued: usize) -> Self {
        map_large_buffers();
        PasswordHasherPool {
            shared: Arc::new(PoolShared {
                state: std::sync::Mutex::new(PoolState {
                    jobs: std::collections::VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    exiting: 0,
                }),
                ready: std::sync::Condvar::new(),
                room: tokio::sync::Notify::new(),
                max: max_concurrent.max(1),
                max_queued: max_queued.max(1),
                submitted: Default::default(),
                skipped: Default::default(),
                refused: Default::default(),
            }),
            admission_wait: std::time::Duration::ZERO,
        }
    }

    /// Sign-in checks ([`try_verify`](Self::try_verify)) that find the queue full wait up to
    /// `wait` for a place before they are refused (without this: refused at once).
    pub fn with_admission_wait(self, wait: std::time::Duration) -> Self {
        PasswordHasherPool {
            admission_wait: wait,
            ..self
        }
    }

    pub fn stats(&self) -> HasherStats {
        use std::sync::atomic::Ordering::Relaxed;
        HasherStats {
            submitted: self.shared.submitted.load(Relaxed),
            skipped: self.shared.skipped.load(Relaxed),
            refused: self.shared.refused.load(Relaxed),
        }
    }

    /// Queues `job`; with `bounded`, only if fewer than `max_queued` jobs wait (else gives it
    /// back).
    fn submit(&self, job: Job, bounded: bool) -> Result<(), Job> {
        let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        if bounded && state.jobs.len() >= self.shared.max_queued {
            // Jobs whose callers left make room first.
            state.jobs.retain(|j| !j.abandoned());
            if state.jobs.len() >= self.shared.max_queued {
                return Err(job);
            }
        }
        state.jobs.push_back(job);
        self.shared
            .submitted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if state.idle > 0 {
            self.shared.ready.notify_one();
        } else if state.threads < self.shared.max {
            state.threads += 1;
            let shared = self.shared.clone();
            let spawned = std::thread::Builder::new()
                .name("argon2".into())
                .spawn(move || hasher_thread(&shared));
            if spawned.is_err() {
                // No thread could be started: the queued jobs wait for a running one, or fail.
                state.threads -= 1;
                if state.threads == 0 {
                    state.jobs.clear(); // dropping the senders fails the waiting requests
                }
            }
        }
        Ok(())
    }

    /// Occupies one hashing thread until the returned guard is dropped, so that jobs queued
    /// meanwhile stay queued (with a one-thread pool: every job). Tests use it to observe what
    /// happens to queued checks (skipped when their caller leaves, refused when the queue is
    /// full) without racing real hashing time. Returns once a thread holds (blocking the caller
    /// for as long as the jobs queued before it take). Not counted in [`stats`](Self::stats).
    pub fn pause(&self) -> Paused {
        let (release, held) = std::sync::mpsc::channel();
        let (started, holding) = std::sync::mpsc::channel();
        let _ = self.submit(Job::Hold(started, held), false);
        self.shared
            .submitted
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        let _ = holding.recv_timeout(std::time::Duration::from_secs(30));
        Paused { _release: release }
    }

    /// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
    pub async fn hash(&self, password: String) -> anyhow::Result<String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = self.submit(Job::Hash(password, tx), false);
        rx.await
            .map_err(|_| anyhow::anyhow!("password hashing is unavailable"))?
    }

    /// Checks a password against a PHC string. `None` checks against a dummy hash and fails, so
    /// that an unknown user costs as much as a wrong password.
    /// A failed pool answers `false` here, after an ERROR line; sign-in checks use
    /// [`try_verify`](Self::try_verify), which says so instead.
    pub async fn verify(&self, password: String, phc: Option<String>) -> bool {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = self.submit(Job::Verify(password, phc, tx), false);
        rx.await.unwrap_or_else(|_| {
            tracing::error!("the password hashing pool dropped a check without an answer");
            false
        })
    }

    /// [`verify`](Self::verify) for sign-in checks: refused when the queue stays full for the
    /// admission wait.
    /// An empty stored hash (an external user's: no native password) never verifies and is
    /// answered at once, without a place in the queue: directory sign-ins must not wait for, or
    /// crowd out, native password hashing. (It says nothing an attacker could not learn anyway:
    /// such a user's sign-in then takes the directory's time, not a hash's.)
    pub async fn try_verify(
        &self,
        password: String,
        phc: Option<String>,
    ) -> Result<bool, NotChecked> {
        if phc.as_deref() == Some("") {
            return Ok(false);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.admit(Job::Verify(password, phc, tx)).await?;
        rx.await.map_err(|_| NotChecked::PoolFailed)
    }

    /// Queues a sign-in check, waiting up to `admission_wait` for a place when the queue is full.
    /// Why wait instead of refusing at once: a refused client retries at once, and under a flood
    /// of sign-ins those cheap refusals were most of the server's work (25,000 a second on one
    /// core in the bench, against 50 hashes), crowding out every other request. A waiting check
    /// costs a timer and its connection, which the connection limits already bound.
    async fn admit(&self, mut job: Job) -> Result<(), QueueFull> {
        let deadline = tokio::time::Instant::now() + self.admission_wait;
        loop {
            // Registered before the attempt, so that a place freed in between is not missed.
            let room = self.shared.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            job = match self.submit(job, true) {
                Ok(()) => return Ok(()),
                Err(job) => job,
            };
            if tokio::time::timeout_at(deadline, room).await.is_err() {
                self.shared
                    .refused
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Err(QueueFull);
            }
        }
    }
}

fn hasher_thread(shared: &PoolShared) {
    lower_priority();
    let mut memory: Vec<argon2::Block> = Vec::new();
    let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(job) = state.jobs.pop_front() {
            drop(state);
            shared.room.notify_one();
            if job.abandoned() {
                shared
                    .skipped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
                continue;
            }
            match job {
                Job::Hash(password, tx) => {
                    let _ = tx.send(hash_password(&password));
                }
                Job::Verify(password, phc, tx) => {
                    let known = phc.is_some();
                    let phc = phc.unwrap_or_else(|| dummy_hash().to_string());
                    let ok = verify_with_memory(&password, &phc, &mut memory) && known;
                    let _ = tx.send(ok);
                }
                Job::Hold(started, held) => {
                    let _ = started.send(());
                    // Returns when the guard's sender is dropped.
                    let _ = held.recv();
                }
            }
            state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            continue;
        }
        state.idle += 1;
        let (guard, waited) = shared
            .ready
            .wait_timeout(state, HASHER_IDLE)
            .unwrap_or_else(|e| e.into_inner());
        state = guard;
        state.idle -= 1;
        if waited.timed_out() && state.jobs.is_empty() {
            state.threads -= 1;
            state.exiting += 1;
            drop(state);
            // Wipe what the last hashes left behind, free it and hand it back to the OS.
            memory
                .iter_mut()
                .for_each(|b| *b = argon2::Block::default());
            drop(memory);
            // The memory goes back to the OS once, when no thread is left and every buffer is
            // freed: the thread that left last is not always the last to free (threads that go
            // idle together leave together), and a buffer freed after the trim stayed resident
            // (19 MiB of idle RSS, in some bench runs).
            let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            state.exiting -= 1;
            let last = state.threads == 0 && state.exiting == 0;
            drop(state);
            if last {
                release_free_memory();
            }
            return;
        }
    }
}

/// Hashing threads yield to request handling (Linux: per-thread nice value).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority has no memory-safety preconditions; `0` is the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        // The verifier compares the derived hash in constant time.
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password with the server's parameters, computed once.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password(&new_secret()).expect("argon2 with default parameters cannot fail")
    })
}

/// Computes the dummy hash ahead of the first login so that it does not skew that login's timing.
pub fn warm_up() {
    let _ = dummy_hash();
    release_free_memory();
}

#[cfg(test)]
mod tests;
