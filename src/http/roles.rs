//! `/users/{user_id}/role_assignments` (tag UserRoleAssignments): add and remove roles.
//!
//! Platform-scope assignments are the user's `security.roles`. Deployment-scope assignments are
//! validated and stored with the user (this server manages no deployments, so they grant nothing
//! here yet). Organization and project scopes do not exist in self-hosted ECE and are refused.

use axum::extract::{RawQuery, State};
use axum::Json;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{query_flag, PathArgs};
use crate::domain::model::{EmptyResponse, UserRecord};
use crate::domain::rbac::op;
use crate::domain::roles::{normalize, DeploymentRoleAssignment, Role};
use crate::http::audit::{self, Event};
use crate::http::auth::{Authorized, Caller};
use crate::http::error::{ApiError, ApiResult, Code};
use crate::http::json::ValidJson;
use crate::http::AppState;

#[derive(Deserialize)]
pub struct RoleAssignments {
    platform: Option<Vec<PlatformRoleAssignment>>,
    organization: Option<Vec<Value>>,
    deployment: Option<Vec<DeploymentRoleAssignment>>,
    project: Option<Value>,
}

#[derive(Deserialize)]
struct PlatformRoleAssignment {
    role_id: String,
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(Code::RoleAssignmentsInvalid, message).with_fields([field.to_string()])
}

/// The validated content of a request: platform roles and deployment assignments.
fn validate(ra: RoleAssignments) -> ApiResult<Assignments> {
    let non_empty_project = ra
        .project
        .as_ref()
        .and_then(Value::as_object)
        .is_some_and(|p| {
            p.values()
                .any(|v| v.as_array().is_some_and(|a| !a.is_empty()))
        });
    if ra.organization.as_ref().is_some_and(|o| !o.is_empty()) || non_empty_project {
        return Err(invalid(
            "organization",
            "Organization and project role assignments do not exist in self-hosted ECE.",
        ));
    }
    let mut platform = Vec::new();
    for p in ra.platform.unwrap_or_default() {
        let Some(role) = Role::parse(&p.role_id) else {
            return Err(invalid(
                "platform",
                format!(
                    "Unknown role [{}]. Valid roles: {}.",
                    p.role_id,
                    Role::all_ids()
                ),
            ));
        };
        platform.push(role);
    }
    let deployment = ra.deployment.unwrap_or_default();
    for d in &deployment {
        if !Role::parse(&d.role_id).is_some_and(Role::is_deployment_scoped) {
            return Err(invalid(
                "deployment",
                format!("[{}] is not a deployment-scoped role.", d.role_id),
            ));
        }
        // The spec: `deployment_ids` "must be absent if `all` is true, and present if `all` is false".
        let valid = match (d.all.unwrap_or(false), &d.deployment_ids) {
            (true, ids) => ids.is_none(),
            (false, ids) => ids.as_ref().is_some_and(|ids| !ids.is_empty()),
        };
        if !valid {
            return Err(invalid(
                "deployment",
                "A deployment role assignment needs either all=true (without deployment_ids) or a non-empty \
                 deployment_ids.",
            ));
        }
    }
    Ok((platform, deployment))
}

pub async fn add(
    State(app): State<AppState>,
    caller: Authorized<op::AddRoleAssignments>,
    PathArgs(user_id): PathArgs<String>,
    ValidJson(body): ValidJson<RoleAssignments>,
) -> ApiResult<Json<EmptyResponse>> {
    let (platform, deployment) = validate(body)?;
    change(&app, &caller, &user_id, |user| {
        let mut roles = user.roles.clone();
        roles.extend(platform.iter().copied());
        // Said with this endpoint's own code (the users endpoints say `user.roles.forbidden`).
        if roles.contains(&Role::PlatformAdmin) && roles.iter().any(|r| *r != Role::PlatformAdmin) {
            return Err(ApiError::new(
                Code::RoleAssignmentsInvalid,
                "The role [ece_platform_admin] cannot be combined with other platform roles: \
                 remove the user's other platform roles first.",
            )
            .with_fields(["platform"]));
        }
        let mut deployments = user.deployments.clone();
        for d in &deployment {
            if !deployments.contains(d) {
                deployments.push(d.clone());
            }
        }
        Ok((normalize(roles, "security.roles")?, deployments))
    })
    .await
}

pub async fn remove(
    State(app): State<AppState>,
    caller: Authorized<op::RemoveRoleAssignments>,
    PathArgs(user_id): PathArgs<String>,
    RawQuery(query): RawQuery,
    ValidJson(body): ValidJson<RoleAssignments>,
) -> ApiResult<Json<EmptyResponse>> {
    let force = query_flag(query.as_deref(), "force")?.unwrap_or(false);
    let (platform, deployment) = validate(body)?;
    let caller_name = caller.user.user_name.clone();
    change(&app, &caller, &user_id, |user| {
        // Removing your own admin role locks you out; ask for it explicitly.
        if user.user_name == caller_name && platform.contains(&Role::PlatformAdmin) && !force {
            return Err(ApiError::new(
                Code::RoleAssignmentsUnauthorized,
                "Removing your own ece_platform_admin role requires force=true.",
            ));
        }
        let roles = user
            .roles
            .iter()
            .filter(|r| !platform.contains(r))
            .cloned()
            .collect();
        let deployments = user
            .deployments
            .iter()
            .filter(|d| !deployment.contains(d))
            .cloned()
            .collect();
        Ok((roles, deployments))
    })
    .await
}

/// The roles and deployment assignments a change leads to.
type Assignments = (Vec<Role>, Vec<DeploymentRoleAssignment>);

/// Applies a role change to `user_id` with compare-and-swap, retrying on concurrent writes.
async fn change(
    app: &AppState,
    caller: &Caller,
    user_id: &str,
    compute: impl Fn(&UserRecord) -> ApiResult<Assignments>,
) -> ApiResult<Json<EmptyResponse>> {
    let by = caller.user.user_name.as_str();
    let key = format!("user:{user_id}");
    let mut cas = crate::store::cas::Retry::lock(Some(&app.row_locks), &key, "role change").await;
    loop {
        let Some(user) = app.store.get_user(user_id).await? else {
            return Err(ApiError::new(
                Code::RoleAssignmentsInvalidTarget,
                format!("The target user [{user_id}] does not exist."),
            ));
        };
        // An external user's roles are the realm's role mappings, recomputed at every sign-in.
        if user.is_external() {
            return Err(ApiError::new(
                Code::UserCannotModifyExternal,
                "The roles of external users come from their realm's role mappings.",
            ));
        }
        if user.builtin {
            return Err(ApiError::new(
                Code::RoleAssignmentsUnauthorized,
                "The roles of built-in users cannot change.",
            ));
        }
        let (roles, deployments) = compute(&user)?;
        if roles == user.roles && deployments == user.deployments {
            return Ok(Json(EmptyResponse {}));
        }
        let roles_before = json!(user.roles);
        let assignments_before = json!({ "deployment": user.deployments });
        let updated = UserRecord {
            roles,
            deployments,
            updated_at: Utc::now(),
            updated_by: Some(by.to_string()),
            ..user
        };
        if app
            .store
            .update_user_cas(&updated, false, None)
            .await?
            .is_some()
        {
            tracing::info!(user = %user_id, by = %by, roles = ?updated.roles, "role assignments changed");
            audit::record(
                app,
                Event::by(caller, "user.role_change")
                    .target(user_id)
                    .detail("roles_before", roles_before)
                    .detail("roles", json!(updated.roles))
                    .detail("role_assignments_before", assignments_before)
                    .detail(
                        "role_assignments",
                        json!({ "deployment": updated.deployments }),
                    ),
            )
            .await;
            return Ok(Json(EmptyResponse {}));
        }
        cas.lost().await?;
    }
}
