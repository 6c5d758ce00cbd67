//! ece-server: a self-hosted server for the identity plane of the Elastic Cloud Enterprise API.
//!
//! See ARCHITECTURE.md for the bird's-eye view, the layers and the code map.

pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod connguard;
pub mod datafiles;
pub mod domain;
pub mod http;
pub mod logwriter;
pub mod rawerrors;
pub mod security;
pub mod server;
pub mod startup;
pub mod store;
