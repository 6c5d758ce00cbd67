//! `ece_http_request_duration_seconds`: the request-duration histogram per operation, kept in
//! fixed buckets of atomic counters and rendered beside the `metrics` recorder's output.
//!
//! Why not the recorder's own histogram: `metrics-exporter-prometheus` keeps every recorded
//! value (with a timestamp) until an "upkeep" or a scrape drains them, so a server nobody
//! scrapes grew by ~16 bytes per request without bound, and each record read a clock and
//! pinned an epoch. Here a record is three atomic additions into memory fixed at the first
//! request of each operation, whether or not anybody scrapes.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds (`le`); the last bucket is `+Inf`.
pub const BOUNDS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

const NAME: &str = "ece_http_request_duration_seconds";

/// The durations of one operation.
#[derive(Debug, Default)]
pub struct Durations {
    /// Requests per bucket (not cumulative; the exposition sums them).
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Durations {
    pub fn record(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let bucket = BOUNDS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(BOUNDS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every operation's durations, in the order first seen.
type Registry = Mutex<Vec<(&'static str, Arc<Durations>)>>;

fn registry() -> &'static Registry {
    static ALL: OnceLock<Registry> = OnceLock::new();
    ALL.get_or_init(Default::default)
}

/// The durations of operation `op` (callers keep the handle: this takes a lock).
pub fn of(op: &'static str) -> Arc<Durations> {
    let mut all = registry().lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, d)) = all.iter().find(|(name, _)| *name == op) {
        return d.clone();
    }
    let d = Arc::new(Durations::default());
    all.push((op, d.clone()));
    d
}

/// Appends the histogram in the Prometheus text format.
pub fn render(out: &mut String) {
    let all = registry().lock().unwrap_or_else(|e| e.into_inner());
    if all.is_empty() {
        return;
    }
    let _ = writeln!(out, "# TYPE {NAME} histogram");
    for (op, d) in all.iter() {
        // Read the buckets first: a request recorded meanwhile can only make `count` larger
        // than the `+Inf` bucket, never smaller, which Prometheus tolerates.
        let mut cumulative = 0;
        for (i, bucket) in d.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            match BOUNDS.get(i) {
                Some(le) => {
                    let _ = writeln!(
                        out,
                        "{NAME}_bucket{{operation=\"{op}\",le=\"{le}\"}} {cumulative}"
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "{NAME}_bucket{{operation=\"{op}\",le=\"+Inf\"}} {cumulative}"
                    );
                }
            }
        }
        let sum = d.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let count = d.count.load(Ordering::Relaxed).max(cumulative);
        let _ = writeln!(out, "{NAME}_sum{{operation=\"{op}\"}} {sum}");
        let _ = writeln!(out, "{NAME}_count{{operation=\"{op}\"}} {count}");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_in_the_exposition() {
        let d = of("durations-test-op");
        d.record(Duration::from_micros(300)); // le 0.0005
        d.record(Duration::from_millis(3)); // le 0.005
        d.record(Duration::from_secs(10)); // +Inf
        let mut out = String::new();
        render(&mut out);
        let line = |le: &str| {
            let prefix = format!("{NAME}_bucket{{operation=\"durations-test-op\",le=\"{le}\"}} ");
            out.lines()
                .find_map(|l| l.strip_prefix(prefix.as_str()))
                .unwrap_or_else(|| panic!("no bucket {le} in {out}"))
                .to_string()
        };
        assert_eq!(line("0.0005"), "1");
        assert_eq!(line("0.0025"), "1");
        assert_eq!(line("0.005"), "2");
        assert_eq!(line("2.5"), "2");
        assert_eq!(line("+Inf"), "3");
        assert!(
            out.contains("_count{operation=\"durations-test-op\"} 3"),
            "{out}"
        );
        assert!(
            out.contains("_sum{operation=\"durations-test-op\"} 10.0033"),
            "{out}"
        );
        assert!(Arc::ptr_eq(&d, &of("durations-test-op")));
    }
}
