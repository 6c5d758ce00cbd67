//! `duration::parse` on arbitrary text.
//!
//! Invariants: never panics; every accepted duration is within [1m, 3650d]; `Never` only for
//! "never" (any case, surrounding whitespace); an accepted duration is exactly digits × unit for
//! input of the documented grammar (`[0-9]{1,9}[smhdwy]`, trimmed); and it round-trips as seconds.
#![no_main]

use chrono::Duration;
use ece_server::domain::duration::{parse, Expiration, MAX, MIN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    match parse(input) {
        Err(message) => assert!(!message.is_empty()),
        Ok(Expiration::Never) => {
            assert!(
                input.trim().eq_ignore_ascii_case("never"),
                "{input:?} read as never"
            )
        }
        Ok(Expiration::After(d)) => {
            assert!(
                d >= MIN && d <= MAX,
                "{input:?} gave {d:?}, out of [1m, 3650d]"
            );
            let s = input.trim();
            let (digits, unit) = s.split_at(s.len() - 1);
            assert!(
                (1..=9).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()),
                "{input:?} accepted outside the grammar"
            );
            let per_unit = match unit {
                "s" => 1,
                "m" => 60,
                "h" => 3_600,
                "d" => 86_400,
                "w" => 7 * 86_400,
                "y" => 365 * 86_400,
                other => panic!("{input:?} accepted with unit {other:?}"),
            };
            let n: i64 = digits.parse().unwrap();
            assert_eq!(d, Duration::seconds(n * per_unit), "{input:?}");
            assert_eq!(
                parse(&format!("{}s", d.num_seconds())),
                Ok(Expiration::After(d)),
                "{input:?} does not round-trip as seconds"
            );
        }
    }
});
