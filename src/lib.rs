//! ece-server: a self-hosted server for the identity plane of the Elastic Cloud Enterprise API.
//!
//! See ARCHITECTURE.md for the bird's-eye view and the code map.

pub mod admin;
pub mod app;
pub mod audit;
pub mod auth;
pub mod authcache;
pub mod backup;
pub mod bootstrap;
pub mod cas;
pub mod config;
pub mod connguard;
pub mod crypto;
pub mod datafiles;
pub mod duration;
pub mod error;
pub mod http;
pub mod json;
pub mod logwriter;
pub mod model;
pub mod rawerrors;
pub mod rbac;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod throttle;
pub mod users;
