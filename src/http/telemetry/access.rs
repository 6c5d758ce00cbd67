//! The access log: one "request finished" line per request, built by hand into a reused buffer
//! and handed to the log writer in one call.
//!
//! Why not a `tracing` event: through `tracing_subscriber::fmt` each line went through the
//! `core::fmt` machinery (timestamp, level, every field, the float duration) and, with the
//! request's span, one more formatted string per request; that was a measurable share of a
//! cached `GET /account` (bench/RESULTS.md). This record has fixed fields, so it is written with
//! a few byte copies and integer conversions, no allocation once the thread's buffer has grown.
//!
//! The sink is installed by `main` ([`install`]) with the log format it chose; the line keeps
//! that format (`text`: the fmt layout without colours; `json`: one object per line with the
//! same keys as the JSON formatter). Without a sink (tests, embedders) or when stderr is a
//! terminal (colours), the line is a `tracing` event as before.

use std::cell::RefCell;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::domain::rfc3339::{self, civil_from_days};

/// Writes one finished line (the batched stderr writer).
type WriteLine = Box<dyn Fn(&[u8]) + Send + Sync>;

/// Where finished lines go and in which format.
struct Sink {
    json: bool,
    write: WriteLine,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// Sends access lines to `write` (one complete line per call) in the text or JSON layout. The
/// first call wins; later ones are ignored (one process, one log). The caller installs it only
/// when the log filter lets INFO lines of [`TARGET`] through: every line is then written.
pub fn install(json: bool, write: impl Fn(&[u8]) + Send + Sync + 'static) {
    let _ = SINK.set(Sink {
        json,
        write: Box::new(write),
    });
}

/// One finished request.
pub struct Record<'a> {
    pub id: &'a [u8],
    pub method: &'a str,
    /// The request path as received (valid UTF-8: it came from a `Uri`).
    pub path: &'a [u8],
    pub op: &'a str,
    pub status: u16,
    pub elapsed: Duration,
}

/// Writes the line through the installed sink; `false` when there is none (the caller logs a
/// `tracing` event instead, if the filter lets it through).
pub fn write(record: &Record<'_>) -> bool {
    let Some(sink) = SINK.get() else {
        return false;
    };
    thread_local! {
        static BUF: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(512));
    }
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        if sink.json {
            json_line(&mut buf, record, SystemTime::now());
        } else {
            text_line(&mut buf, record, SystemTime::now());
        }
        (sink.write)(&buf);
    });
    true
}

/// The target the lines name (the module that used to log them as `tracing` events).
pub const TARGET: &str = "ece_server::http::telemetry";

/// `2026-11-29T18:24:32.123456Z  INFO ece_server::http::telemetry: request finished id=… …`
fn text_line(out: &mut Vec<u8>, r: &Record<'_>, now: SystemTime) {
    timestamp(out, now);
    out.extend_from_slice(b"  INFO ");
    out.extend_from_slice(TARGET.as_bytes());
    out.extend_from_slice(b": request finished id=");
    out.extend_from_slice(r.id);
    out.extend_from_slice(b" method=");
    out.extend_from_slice(r.method.as_bytes());
    out.extend_from_slice(b" path=");
    out.extend_from_slice(r.path);
    out.extend_from_slice(b" op=");
    out.extend_from_slice(r.op.as_bytes());
    out.extend_from_slice(b" status=");
    decimal(out, u64::from(r.status));
    out.extend_from_slice(b" ms=");
    millis(out, r.elapsed);
    out.push(b'\n');
}

/// The JSON formatter's layout: `{"timestamp":…,"level":"INFO","fields":{…},"target":…}`.
fn json_line(out: &mut Vec<u8>, r: &Record<'_>, now: SystemTime) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    timestamp(out, now);
    out.extend_from_slice(
        b"\",\"level\":\"INFO\",\"fields\":{\"message\":\"request finished\",\"id\":\"",
    );
    json_escaped(out, r.id);
    out.extend_from_slice(b"\",\"method\":\"");
    json_escaped(out, r.method.as_bytes());
    out.extend_from_slice(b"\",\"path\":\"");
    json_escaped(out, r.path);
    out.extend_from_slice(b"\",\"op\":\"");
    json_escaped(out, r.op.as_bytes());
    out.extend_from_slice(b"\",\"status\":");
    decimal(out, u64::from(r.status));
    out.extend_from_slice(b",\"ms\":");
    millis(out, r.elapsed);
    out.extend_from_slice(b"},\"target\":\"");
    out.extend_from_slice(TARGET.as_bytes());
    out.extend_from_slice(b"\"}\n");
}

/// A JSON string's content: quotes, backslashes and control characters escaped. Ids are
/// printable ASCII and paths valid URI paths, so this rarely does more than copy.
fn json_escaped(out: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0..=0x1f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 15)]);
            }
            _ => out.push(b),
        }
    }
}

fn decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// `n` as exactly `width` digits (leading zeros).
fn padded(out: &mut Vec<u8>, n: u64, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    rfc3339::digits(&mut out[start..], n);
}

/// Milliseconds with three decimals (microsecond resolution), e.g. `0.123`.
fn millis(out: &mut Vec<u8>, d: Duration) {
    let micros = d.as_micros().min(u128::from(u64::MAX)) as u64;
    decimal(out, micros / 1000);
    out.push(b'.');
    padded(out, micros % 1000, 3);
}

/// RFC 3339 UTC with microseconds, as the fmt formatter writes it. The text up to the seconds is
/// kept per thread and reused while the second lasts (the calendar arithmetic is most of it).
fn timestamp(out: &mut Vec<u8>, now: SystemTime) {
    thread_local! {
        static SECOND: std::cell::Cell<(u64, [u8; 19])> = const { std::cell::Cell::new((u64::MAX, [0; 19])) };
    }
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (cached, text) = SECOND.get();
    if cached == secs {
        out.extend_from_slice(&text);
    } else {
        let start = out.len();
        up_to_seconds(out, secs);
        if let Ok(text) = out[start..].try_into() {
            SECOND.set((secs, text));
        }
    }
    out.push(b'.');
    padded(out, u64::from(since.subsec_micros()), 6);
    out.push(b'Z');
}

/// `YYYY-MM-DDTHH:MM:SS` of `secs` after the epoch.
fn up_to_seconds(out: &mut Vec<u8>, secs: u64) {
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let in_day = secs % 86_400;
    padded(out, year.max(0) as u64, 4);
    out.push(b'-');
    padded(out, u64::from(month), 2);
    out.push(b'-');
    padded(out, u64::from(day), 2);
    out.push(b'T');
    padded(out, in_day / 3600, 2);
    out.push(b':');
    padded(out, in_day / 60 % 60, 2);
    out.push(b':');
    padded(out, in_day % 60, 2);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(path: &str) -> Record<'_> {
        Record {
            id: b"abc-1f",
            method: "GET",
            path: path.as_bytes(),
            op: "get-account",
            status: 200,
            elapsed: Duration::from_micros(1_234_567),
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let mut out = Vec::new();
        // 2024-02-29T23:59:58.000042Z: a leap day, just before midnight.
        timestamp(&mut out, UNIX_EPOCH + Duration::new(1_709_251_198, 42_000));
        assert_eq!(out, b"2024-02-29T23:59:58.000042Z");
        out.clear();
        timestamp(&mut out, UNIX_EPOCH);
        assert_eq!(out, b"1970-01-01T00:00:00.000000Z");
        // The same second again (from the thread's copy), then the next one.
        out.clear();
        timestamp(&mut out, UNIX_EPOCH + Duration::new(0, 999_999_000));
        assert_eq!(out, b"1970-01-01T00:00:00.999999Z");
        out.clear();
        timestamp(&mut out, UNIX_EPOCH + Duration::new(1, 0));
        assert_eq!(out, b"1970-01-01T00:00:01.000000Z");
    }

    #[test]
    fn text_lines_carry_every_field() {
        let mut out = Vec::new();
        text_line(&mut out, &record("/api/v1/account"), UNIX_EPOCH);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1970-01-01T00:00:00.000000Z  INFO ece_server::http::telemetry: request finished \
             id=abc-1f method=GET path=/api/v1/account op=get-account status=200 ms=1234.567\n"
        );
    }

    #[test]
    fn json_lines_are_json() {
        let mut out = Vec::new();
        json_line(&mut out, &record("/a\"b\\c"), UNIX_EPOCH);
        assert_eq!(out.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["fields"]["message"], "request finished");
        assert_eq!(v["fields"]["path"], "/a\"b\\c");
        assert_eq!(v["fields"]["status"], 200);
        assert_eq!(v["fields"]["ms"], 1234.567);
        assert_eq!(v["target"], TARGET);
    }
}
