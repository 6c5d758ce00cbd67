//! Raw Argon2id verification rate with the server's parameters (the `argon2` crate's defaults:
//! m=19456 KiB, t=2, p=1), one thread per core this process may run on (so `taskset` limits it).
//!
//! Usage:
//! - `argon2-rate SECONDS [alloc]`: prints `{"threads":N,"verifies":V,"seconds":S,"per_second":R}`.
//!   By default each thread hashes into one memory buffer allocated once (the pure cost of
//!   Argon2id: the reference); with `alloc`, each verification allocates its 19 MiB as
//!   `PasswordVerifier::verify_password` does. The harness reads this process's CPU time too, so
//!   that the rate per CPU-second can be compared on a machine shared with other work;
//! - `argon2-rate hash PASSWORD`: prints the PHC string of PASSWORD (for seeding users).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, Block};
use rand_core::OsRng;

fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters cannot fail")
        .to_string()
}

/// Verifies on `threads` threads for `seconds`; returns the count and the seconds taken. With `reuse`, each
/// thread hashes into one memory buffer allocated once (the pure cost of Argon2id); without, each
/// verification allocates its 19 MiB as `PasswordVerifier::verify_password` does.
fn rate(threads: usize, seconds: f64, phc: &Arc<String>, reuse: bool) -> (u64, f64) {
    let (stop, count) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (phc, stop, count) = (phc.clone(), stop.clone(), count.clone());
            std::thread::spawn(move || {
                let parsed = PasswordHash::new(&phc).expect("valid PHC");
                let argon = Argon2::default();
                let mut blocks = vec![Block::default(); argon.params().block_count()];
                let mut salt = [0u8; 64];
                let salt = parsed.salt.expect("salted").decode_b64(&mut salt).expect("salt");
                let expected = parsed.hash.expect("hash");
                let mut out = vec![0u8; expected.len()];
                while !stop.load(Ordering::Relaxed) {
                    let ok = if reuse {
                        argon
                            .hash_password_into_with_memory(PASSWORD, salt, &mut out, &mut blocks)
                            .is_ok()
                            && out == expected.as_bytes()
                    } else {
                        // As the server does: parse the stored PHC string, then verify.
                        let parsed = PasswordHash::new(&phc).expect("valid PHC");
                        Argon2::default().verify_password(PASSWORD, &parsed).is_ok()
                    };
                    assert!(ok);
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker panicked");
    }
    (count.load(Ordering::Relaxed), start.elapsed().as_secs_f64())
}

const PASSWORD: &[u8] = b"a-bench-password";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("hash") {
        println!("{}", hash(args.get(1).expect("usage: argon2-rate hash PASSWORD")));
        return;
    }
    let seconds: f64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let reuse = args.get(1).map(String::as_str) != Some("alloc");
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let phc = Arc::new(hash(std::str::from_utf8(PASSWORD).expect("ASCII")));
    let (verifies, elapsed) = rate(threads, seconds, &phc, reuse);
    println!(
        "{}",
        serde_json::json!({
            "threads": threads,
            "reuse_memory": reuse,
            "verifies": verifies,
            "seconds": elapsed,
            "per_second": verifies as f64 / elapsed,
        })
    );
}
