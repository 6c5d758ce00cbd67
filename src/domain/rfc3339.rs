//! RFC 3339 timestamps written by hand: the `2024-01-02T03:04:05.678Z` form every reply uses,
//! and the calendar arithmetic behind it.
//!
//! Why: chrono's `to_rfc3339_opts` allocates a `String` and goes through `core::fmt`; a listing
//! of 1,000 API keys formats 2,000 of them, and the access log one per request. Both forms agree
//! for years 0 to 9999 (the tests compare them); outside that range callers fall back to chrono.

use chrono::{DateTime, Utc};

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's
/// `civil_from_days`, exact for every `i64` day count that fits the arithmetic).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Writes `n` as exactly `out.len()` decimal digits (leading zeros).
pub fn digits(out: &mut [u8], mut n: u64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ` in `buf`, or `None` for a year outside 0..=9999.
pub fn millis<'a>(t: &DateTime<Utc>, buf: &'a mut [u8; 24]) -> Option<&'a str> {
    // The date parts of the last two days written, per thread: a listing's keys and the
    // replies of one day mostly share them, and the calendar arithmetic is most of the work.
    // Two, because a key listing alternates between a creation and an expiry date.
    thread_local! {
        static DAYS: std::cell::Cell<[(i64, [u8; 10]); 2]> =
            const { std::cell::Cell::new([(i64::MIN, [0; 10]); 2]) };
    }
    let ms = t.timestamp_millis();
    let (secs, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000) as u64);
    let days = secs.div_euclid(86_400);
    *buf = *b"0000-00-00T00:00:00.000Z";
    let cached = DAYS.get();
    match cached.iter().find(|(d, _)| *d == days) {
        Some((_, date)) => buf[..10].copy_from_slice(date),
        None => {
            let (year, month, day) = civil_from_days(days);
            if !(0..=9999).contains(&year) {
                return None;
            }
            digits(&mut buf[0..4], year as u64);
            digits(&mut buf[5..7], u64::from(month));
            digits(&mut buf[8..10], u64::from(day));
            let mut date = [0; 10];
            date.copy_from_slice(&buf[..10]);
            // The newest first; the older of the two is forgotten.
            DAYS.set([(days, date), cached[0]]);
        }
    }
    let in_day = secs.rem_euclid(86_400) as u64;
    digits(&mut buf[11..13], in_day / 3600);
    digits(&mut buf[14..16], in_day / 60 % 60);
    digits(&mut buf[17..19], in_day % 60);
    digits(&mut buf[20..23], milli);
    std::str::from_utf8(&buf[..]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{SecondsFormat, TimeZone};

    #[test]
    fn agrees_with_chrono() {
        let samples = [
            0i64,
            1,
            999,
            -1,
            -86_400_000,
            951_782_400_000,     // 2000-02-29
            1_709_251_198_123,   // 2024-02-29T23:59:58.123
            4_102_444_799_999,   // 2099-12-31T23:59:59.999
            253_402_300_799_999, // 9999-12-31T23:59:59.999
            -62_167_219_200_000, // 0000-01-01
        ];
        let mut buf = [0u8; 24];
        for ms in samples
            .into_iter()
            .chain((0..2000).map(|i| i * 987_654_321_987 % 253_402_300_799_999))
            // The same day again (the per-thread date is reused), the next hour, and two days
            // in turn (as a key listing's creation and expiry dates alternate).
            .flat_map(|ms| {
                [
                    ms,
                    ms + 1,
                    ms + 3_600_000,
                    ms + 86_400_000,
                    ms + 2,
                    ms + 86_400_001,
                ]
            })
            .filter(|&ms| ms <= 253_402_300_799_999)
        {
            let t = Utc.timestamp_millis_opt(ms).unwrap();
            assert_eq!(
                millis(&t, &mut buf),
                Some(t.to_rfc3339_opts(SecondsFormat::Millis, true).as_str()),
                "{ms}"
            );
        }
        let far = Utc.timestamp_millis_opt(253_402_300_800_000).unwrap();
        assert_eq!(millis(&far, &mut buf), None);
    }
}
