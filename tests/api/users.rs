//! `/users`, `/users/{user_name}` and `/user`: create, list, get, merge-patch, delete, the
//! self-service profile, what disabling, deleting and password changes do to credentials,
//! metadata, and concurrency.
//!
//! - `users/create.rs`: `POST /users` (names, roles, read-only fields, the password policy) and no
//!   reply ever showing a password or its hash;
//! - `users/list_patch.rs`: the listing, unknown users, and `PATCH /users/{user_name}` (merging,
//!   no-op restatements, a whole-body edit, refused renames and read-only fields, built-in users);
//! - `users/disable_delete.rs`: disabling and deleting users and what that does to their
//!   credentials, nobody changing their own status or roles, names with punctuation in paths;
//! - `users/self_service.rs`: the `/user` profile and password changes (own or by an admin);
//! - `users/metadata_concurrency.rs`: who and when in the metadata, concurrent creates and patches.

mod create;
mod disable_delete;
mod list_patch;
mod metadata_concurrency;
mod self_service;

use serde_json::Value;

use crate::helpers::{Auth, TestApp};

/// Creates `name` with `roles` and a known password; returns (Basic credentials, password).
async fn user_with_password(app: &TestApp, name: &str, roles: &[&str]) -> (Auth, String) {
    let auth = app.create_user(name, roles).await;
    let password = format!("{name}-password");
    (auth, password)
}

fn names(list: &Value) -> Vec<String> {
    list["users"]
        .as_array()
        .expect("users array")
        .iter()
        .map(|u| u["user_name"].as_str().unwrap().to_string())
        .collect()
}
