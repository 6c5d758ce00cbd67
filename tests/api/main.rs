//! HTTP integration suite: every test starts the real server on a loopback port over a fresh
//! store (a temporary SQLite file, or its own PostgreSQL schema when `ECE_TEST_BACKEND=postgres`)
//! and talks to it with a real HTTP client. Every reply is checked against the official swagger.

mod helpers;
mod spec;

mod account;
mod brute_force;
mod cache;
mod console;
mod contention;
mod durability;
mod errors;
mod external_users;
mod growth;
mod hostile;
mod keys;
mod ops;
mod rbac;
mod realm_ca;
mod realm_saml;
mod realm_secrets;
mod realm_signin;
mod realms;
mod regions;
mod roles;
mod saml_attacks;
mod saml_attacks_protocol;
mod saml_encrypted;
mod saml_flow;
mod saml_html;
mod saml_idp;
mod saml_sp;
mod saml_xml;
mod security;
mod session;
/// The slapd harness of tests/directory, shared: this suite uses part of it.
#[allow(dead_code)]
#[path = "../directory/slapd.rs"]
mod slapd;
mod transport;
mod users;
