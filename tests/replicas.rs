//! Many stateless replicas on one PostgreSQL database behave as one server.
//!
//! Every test here starts real `ece-server` processes (the binary Cargo built for this test run)
//! on loopback ports, each with its own data directory, against one fresh PostgreSQL schema
//! (`?options=-c search_path=<schema>` appended to `ECE_TEST_DATABASE_URL`), and talks to them
//! over HTTP; the database is also read directly to check invariants the API cannot show.
//!
//! - bootstrap (`replicas/bootstrap.rs`): three replicas starting at once on an empty schema
//!   create one account, one of each built-in user, and apply the migrations once;
//! - revocations (`replicas/revocations.rs`: logout, API key deletion, disabling, password
//!   change, role removal) done on one replica are enforced by the others within one second
//!   (issue 4; the per-replica cache, `src/security/cache.rs`, reuses token, key and Basic user
//!   lookups and the account for at most 250 ms);
//! - concurrent writes spread over the replicas (`replicas/concurrency.rs`): one winner for a user
//!   name, no lost account update, one current token per session after concurrent refreshes;
//! - `kill -9` of a replica under load (`replicas/kill9.rs`) loses no acknowledged write and
//!   leaves no half-written row;
//! - losing the database (`replicas/database_loss.rs`: a TCP proxy, `replicas/proxy.rs`, between
//!   a replica and PostgreSQL is cut in three ways) gives 503 `root.store_unavailable` within the
//!   acquire timeout, never a hang or a 500, and the replica recovers by itself;
//! - `ece-server backup` (`replicas/backup.rs`) copies a live SQLite store (no PostgreSQL needed);
//! - security realms (`replicas/realms.rs`): a realm set up on one replica signs directory users
//!   in on another, and disabling it ends their access on every replica;
//! - SAML sign-in (`replicas/saml.rs`): a flow started on one replica finishes on another, once.
//!
//! Without `ECE_TEST_DATABASE_URL` the PostgreSQL tests pass after a loud SKIPPED banner and a
//! `SKIPPED <test>` line on stderr; with `CI=true` they fail instead. They run one at a time (each starts several servers on a small machine).
//!
//! The harness: `replicas/harness.rs` (schemas, the test runner, credentials and replies) and
//! `replicas/replica.rs` (the server processes).

use std::time::Duration;

const PG_ENV: &str = "ECE_TEST_DATABASE_URL";
const ADMIN_PASSWORD: &str = "replica-admin-password";
const VIEWER: &str = "ece_platform_viewer";
const BIN: &str = env!("CARGO_BIN_EXE_ece-server");
/// Upper bound for one whole test, replicas' start-up included.
const TEST_LIMIT: Duration = Duration::from_secs(240);
/// How soon a revocation done on one replica must be enforced by the others.
const PROPAGATION: Duration = Duration::from_secs(1);

/// The PostgreSQL tests run one after the other: each starts up to three servers.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[path = "replicas/harness.rs"]
mod harness;
#[path = "replicas/replica.rs"]
mod replica;

use harness::*;
use replica::*;

#[path = "replicas/backup.rs"]
mod backup;
#[path = "replicas/bootstrap.rs"]
mod bootstrap;
#[path = "replicas/concurrency.rs"]
mod concurrency;
#[path = "replicas/database_loss.rs"]
mod database_loss;
#[path = "replicas/kill9.rs"]
mod kill9;
#[path = "replicas/proxy.rs"]
mod proxy;
#[path = "replicas/revocations.rs"]
mod revocations;

#[path = "replicas/realms.rs"]
mod realms;
#[path = "replicas/saml.rs"]
mod saml;
#[allow(dead_code)]
#[path = "api/saml_html.rs"]
mod saml_html;
#[allow(dead_code)]
#[path = "api/saml_idp.rs"]
mod saml_idp;
#[path = "directory/slapd.rs"]
#[allow(dead_code)] // the TLS and restart parts serve tests/directory
mod slapd;
