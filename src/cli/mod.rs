//! The commands besides `serve`: user recovery, backup, the audit log.

pub mod audit;
pub mod backup;
pub mod user;
