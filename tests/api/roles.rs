//! `/users/{user_id}/role_assignments`: adding and removing platform roles (visible in the user
//! and effective at once for its existing credentials), deployment-scope assignments, refusals.
//!
//! - `roles/platform.rs`: platform roles added and removed (and effective at once), the role
//!   rules, target users that must exist and be native, and who may assign roles;
//! - `roles/scopes.rs`: deployment-scope assignments, refused organization and project scopes,
//!   and removing your own admin role (`force`).

mod platform;
mod scopes;

use serde_json::{json, Value};

use crate::helpers::{Auth, TestApp};

fn platform(roles: &[&str]) -> Value {
    json!({"platform": roles.iter().map(|r| json!({"role_id": r})).collect::<Vec<_>>()})
}

async fn add(app: &TestApp, auth: &Auth, user: &str, body: Value) -> crate::helpers::Reply {
    app.post(&format!("/users/{user}/role_assignments"), auth, body)
        .await
}

async fn remove(app: &TestApp, auth: &Auth, path: &str, body: Value) -> crate::helpers::Reply {
    app.delete(&format!("/users/{path}"), auth, Some(body))
        .await
}

async fn roles_of(app: &TestApp, user: &str) -> Value {
    app.user(user).await["security"]["roles"].clone()
}

/// The deployment assignments as stored (the `User` definition has no field for them).
async fn stored_deployments(app: &TestApp, user: &str) -> Value {
    let record = app
        .store
        .get_user(user)
        .await
        .unwrap()
        .expect("user exists");
    json!(record.deployments)
}
