//! Hostile input: malformed, oversized, deeply nested, mistyped and odd-Unicode bodies on every
//! endpoint that takes one, long and percent-garbled path parameters, and hostile `Authorization`
//! headers. Each request must be answered, within a bound, with a 4xx ECE envelope (never a 5xx, a
//! panic or a hang); nothing stored may change; and the server must keep serving afterwards.
//!
//! Bodies are built from a valid body per endpoint: one field at a time is replaced by raw JSON
//! text (so invalid UTF-8, raw NUL bytes and out-of-range numbers can be sent), with the values that
//! are wrong for that field's kind.
//!
//! - `hostile/harness.rs`: the wrong values per field kind, the hostile bodies, the bounded
//!   request and its checks, the barrage and the snapshot of stored state it must leave untouched;
//! - `hostile/bodies.rs`: the barrage on the account, users, API keys and login endpoints;
//! - `hostile/paths.rs`: long and percent-garbled path parameters;
//! - `hostile/headers.rs`: hostile `Authorization` headers.

mod harness;

mod bodies;
mod headers;
mod paths;
