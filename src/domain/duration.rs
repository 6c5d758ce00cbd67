//! Parses the API-key `expiration` durations of the ECE API (`30m`, `3h`, `1d`, `90d`, ...).
//!
//! Grammar: a positive whole number followed by one unit: `s` seconds, `m` minutes, `h` hours,
//! `d` days, `w` weeks, `y` years of 365 days. The word `never` asks for a key that does not expire.
//! Results are bounded to [1 minute, 10 years] so that no arithmetic can overflow.

use chrono::Duration;

/// What an `expiration` string asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiration {
    After(Duration),
    Never,
}

pub const MIN: Duration = Duration::minutes(1);
pub const MAX: Duration = Duration::days(3650);

/// Parses an `expiration`, or explains what is wrong with it.
pub fn parse(input: &str) -> Result<Expiration, String> {
    let s = input.trim();
    if s.eq_ignore_ascii_case("never") {
        return Ok(Expiration::Never);
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    if digits.is_empty() || digits.len() > 9 {
        return Err(format!("invalid expiration [{input}]: expected a number and a unit, like 30m, 3h, 1d or 90d, or 'never'"));
    }
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("invalid expiration [{input}]"))?;
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => {
            return Err(format!(
                "invalid expiration unit in [{input}]: use s, m, h, d, w or y"
            ))
        }
    };
    // Bounded as seconds, before a Duration exists: `Duration::seconds` panics beyond about
    // 292 million years, which nine digits of years reach (e.g. "306013360y", a fuzzing find).
    let seconds = n.saturating_mul(seconds_per_unit);
    if seconds < MIN.num_seconds() || seconds > MAX.num_seconds() {
        return Err(format!("expiration [{input}] must be between 1m and 3650d"));
    }
    Ok(Expiration::After(Duration::seconds(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("30m"), Ok(Expiration::After(Duration::minutes(30))));
        assert_eq!(parse("3h"), Ok(Expiration::After(Duration::hours(3))));
        assert_eq!(parse("90d"), Ok(Expiration::After(Duration::days(90))));
        assert_eq!(parse("1y"), Ok(Expiration::After(Duration::days(365))));
        assert_eq!(parse("never"), Ok(Expiration::Never));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "d",
            "10",
            "1x",
            "-1d",
            "1.5d",
            "0m",
            "59s",
            "3651d",
            "99999999999d",
            "1d2h",
            "１d",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn huge_numbers_are_refused_without_panicking() {
        // Found by fuzz/fuzz_targets/duration.rs: "306013360y" made Duration::seconds panic.
        for huge in ["306013360y", "999999999y", "999999999w", "999999999d"] {
            assert!(parse(huge).is_err(), "{huge}");
        }
        assert_eq!(parse("10y"), Ok(Expiration::After(MAX)));
        assert_eq!(parse("3650d"), Ok(Expiration::After(MAX)));
        assert_eq!(parse("315360000s"), Ok(Expiration::After(MAX)));
        assert!(parse("315360001s").is_err());
        assert_eq!(parse("1m"), Ok(Expiration::After(MIN)));
    }
}
