//! API keys: creation (expirations, validation, limits, role restriction), authentication with
//! `ApiKey`, and the own / everybody's / one user's listing and deletion endpoints.
//!
//! - `keys/create.rs`: `POST /users/auth/keys` (the secret shown once, expirations, refused
//!   requests, built-in users, the per-user limit of active keys, also under concurrency);
//! - `keys/listing.rs`: the own, everybody's and one user's keys, listed and deleted;
//! - `keys/restricted.rs`: keys restricted to some of their owner's roles.

mod create;
mod listing;
mod restricted;
