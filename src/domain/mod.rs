//! The domain: records, the operation and role table, user-document rules, durations, audit
//! events and the error code table.
//!
//! Knows nothing of HTTP, SQL or `AppState` (see ARCHITECTURE.md, "Layers").

pub mod audit;
pub mod clock;
pub mod duration;
pub mod error;
pub mod model;
pub mod rbac;
pub mod realms;
pub mod rfc3339;
pub mod roles;
pub mod user_update;
pub mod users;
