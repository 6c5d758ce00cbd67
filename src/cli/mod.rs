//! The commands besides `serve`: migrations, user recovery, backup, the audit log.

pub mod audit;
pub mod backup;
pub mod migrate;
pub mod user;
