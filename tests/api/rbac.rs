//! The RBAC matrix, driven by `ece_server::domain::rbac::OPERATIONS`: every operation is called by every
//! role (and by a user without roles) against fresh state, and must be let through exactly when
//! `rbac::allowed` says so, once through the plain paths and once through the region-prefixed ones
//! the official Go SDK uses (`/api/v1/regions/ece-region/...`). Also keeps `docs/rbac.md` in step
//! with the table.

use std::collections::BTreeSet;

use ece_server::domain::rbac::{self, Operation, Scope, OPERATIONS};
use ece_server::domain::roles::Role;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::helpers::{realm_doc, spawn_app, Auth, Reply, TestApp, ADMIN_PASSWORD};
use crate::spec::{spec, REGION_PREFIX};

/// The callers of the matrix: each ECE role alone, and a user without any role.
fn callers() -> Vec<(&'static str, Vec<Role>)> {
    let mut callers: Vec<(&'static str, Vec<Role>)> =
        Role::ALL.iter().map(|r| (r.as_str(), vec![*r])).collect();
    callers.push((NO_ROLE, Vec::new()));
    callers
}

const NO_ROLE: &str = "(no role)";

/// The caller's user name for a column of the matrix.
fn caller_name(label: &str) -> String {
    if label == NO_ROLE {
        "caller-none".into()
    } else {
        format!(
            "caller-{}",
            label.trim_start_matches("ece_").replace('_', "-")
        )
    }
}

/// The swagger's operation object for `op`.
fn spec_op(op: &Operation) -> &'static Value {
    &spec()["paths"][op.path][op.method.to_ascii_lowercase()]
}

#[test]
fn the_operation_table_is_the_official_one() {
    let ours: BTreeSet<(String, String, String)> = OPERATIONS
        .iter()
        .map(|o| (o.id.to_string(), o.method.to_string(), o.path.to_string()))
        .collect();
    let mut official = BTreeSet::new();
    for (path, item) in spec()["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                official.insert((id.to_string(), method.to_ascii_uppercase(), path.clone()));
            }
        }
    }
    assert_eq!(ours, official);
    // 30 identity operations and 14 security-realm ones.
    assert_eq!(OPERATIONS.len(), 44);
}

/// Fresh state an operation's call needs, made as the built-in admin or the users themselves.
struct Fixture {
    /// A native user without roles, for `{user_id}` / `{user_name}`.
    target: String,
    /// One of `target`'s API keys.
    target_key: String,
    /// One of the caller's own API keys.
    own_key: String,
    /// A realm of the operation's type, for `{realm_id}`.
    realm: String,
}

async fn fixture(app: &TestApp, n: usize, op: &Operation, caller: &Auth) -> Fixture {
    let needs_target = op.path.contains("{user_") || op.id == "delete-users-api-keys";
    let needs_own_key = op.path.starts_with("/users/auth/keys/{") || op.id == "delete-api-keys";
    let mut f = Fixture {
        target: String::new(),
        target_key: String::new(),
        own_key: String::new(),
        realm: String::new(),
    };
    if op.path.contains("{realm_id}") {
        f.realm = format!("m-{n}");
        app.create_realm(realm_kind(op), &f.realm).await;
    }
    if needs_target {
        f.target = format!("target-{n}");
        let auth = app.create_user(&f.target, &[]).await;
        f.target_key = app.create_key(&auth, None).await.0;
    }
    if needs_own_key {
        f.own_key = app.create_key(caller, None).await.0;
    }
    f
}

/// The concrete path of `op` with its parameters filled from `f`.
fn concrete_path(op: &Operation, f: &Fixture) -> String {
    let mut path = op.path.to_string();
    while let Some(start) = path.find('{') {
        let end = start + path[start..].find('}').unwrap();
        let value = match &path[start + 1..end] {
            "user_id" | "user_name" => f.target.clone(),
            "api_key_id" if op.path.starts_with("/users/auth/keys/") => f.own_key.clone(),
            "api_key_id" => f.target_key.clone(),
            "realm_id" => f.realm.clone(),
            other => panic!(
                "{}: no value for path parameter {{{other}}}: add one to rbac.rs",
                op.id
            ),
        };
        path.replace_range(start..=end, &value);
    }
    path
}

/// A plausible request body, so that an allowed call succeeds rather than failing validation.
fn body_for(op: &Operation, n: usize, f: &Fixture) -> Option<Value> {
    let body = match op.id {
        "update-current-account" | "patch-current-account" => {
            json!({"trust": {"trust_all": true}})
        }
        "update-current-user" => json!({"full_name": format!("Matrix {n}")}),
        "create-user" => {
            json!({"user_name": format!("created-{n}"), "security": {"password": "created-password"}})
        }
        "login" => json!({"username": "admin", "password": ADMIN_PASSWORD}),
        "create-api-key" => json!({"description": format!("matrix {n}")}),
        "delete-api-keys" => json!({"keys": [f.own_key]}),
        "delete-users-api-keys" => {
            json!({"user_api_keys": [{"user_id": f.target, "api_key_id": f.target_key}]})
        }
        "add-role-assignments" | "remove-role-assignments" => {
            json!({"platform": [{"role_id": "ece_deployment_viewer"}]})
        }
        "update-user" => json!({"full_name": format!("Target {n}")}),
        "create-ldap-configuration"
        | "create-active-directory-configuration"
        | "create-saml-configuration" => realm_doc(realm_kind(op), &format!("c-{n}")),
        "update-ldap-configuration"
        | "update-active-directory-configuration"
        | "update-saml-configuration" => realm_doc(realm_kind(op), &f.realm),
        // Every configured realm must be named; other cases create and delete realms
        // meanwhile, so this one names none and may be told which are missing (see below).
        "reorder-security-realms" => json!({"realms": []}),
        _ if matches!(op.method, "POST" | "PUT" | "PATCH") => json!({}),
        _ => return None,
    };
    Some(body)
}

/// `ldap`, `active-directory` or `saml`, as the realm paths name them.
fn realm_kind(op: &Operation) -> &'static str {
    if op.path.contains("/active-directory") {
        "active-directory"
    } else if op.path.contains("/realms/saml") {
        "saml"
    } else {
        "ldap"
    }
}

/// Calls `op` once as `auth`, with fresh state, under `prefix` (`""` or the region prefix).
async fn call(
    app: &TestApp,
    (n, prefix): (usize, &str),
    op: &Operation,
    caller: &Auth,
    auth: &Auth,
) -> Reply {
    let f = fixture(app, n, op, caller).await;
    let path = format!("{prefix}{}", concrete_path(op, &f));
    let form: Vec<String> = spec_op(op)["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "formData" && p["required"] == true)
        .map(|p| format!("{}=x", p["name"].as_str().unwrap()))
        .collect();
    if !form.is_empty() {
        return app
            .send_raw(
                op.method,
                &path,
                auth,
                "application/x-www-form-urlencoded",
                form.join("&").into_bytes(),
            )
            .await;
    }
    app.send(op.method, &path, auth, body_for(op, n, &f)).await
}

/// The code a refused call must carry: the one the spec documents for 403, or the generic one.
fn forbidden_code(op: &Operation) -> String {
    spec_op(op)["responses"]["403"]["headers"]["x-cloud-error-codes"]["enum"][0]
        .as_str()
        .unwrap_or("root.unauthorized.rbac")
        .to_string()
}

#[tokio::test]
async fn every_operation_for_every_role() {
    matrix("").await;
}

#[tokio::test]
async fn every_operation_for_every_role_under_the_region_prefix() {
    matrix(REGION_PREFIX).await;
}

async fn matrix(prefix: &str) {
    let app = spawn_app().await;
    let callers = callers();
    for (label, roles) in &callers {
        let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        let auth = app.create_user(&caller_name(label), &roles).await;
        // The permissions a user is shown are the table's.
        let me = app.get("/user", &auth).await.expect(200);
        assert_eq!(
            me["security"]["permissions"],
            json!(rbac::permissions(
                &me["security"]["roles"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| Role::parse(r.as_str().unwrap()).unwrap())
                    .collect::<Vec<_>>()
            )),
            "{label}"
        );
    }
    let cases: Vec<(usize, &Operation, &str, &Vec<Role>)> = OPERATIONS
        .iter()
        .flat_map(|op| {
            callers
                .iter()
                .map(move |(label, roles)| (op, *label, roles))
        })
        .enumerate()
        .map(|(n, (op, label, roles))| (n, op, label, roles))
        .collect();
    let app = &app;
    let results: Vec<Option<String>> = futures::stream::iter(cases)
        .map(|(n, op, label, roles)| async move {
            let name = caller_name(label);
            let password = format!("{name}-password");
            let caller = Auth::basic(&name, &password);
            let auth = if op.scope == Scope::Public {
                Auth::None
            } else {
                // A fresh session per call: logout and refresh end or replace it.
                Auth::Bearer(app.login(&name, &password).await)
            };
            let reply = call(app, (n, prefix), op, &caller, &auth).await;
            let allowed = rbac::allowed(roles, op);
            let code = reply.body["errors"][0]["code"].as_str().unwrap_or("");
            let ok = if allowed {
                // Let through, and the plausible call really worked (no SAML realm: `_init`
                // answers 501; `_callback` is public and refuses `SAMLResponse=x` on content).
                reply.status < 400
                    || (reply.status == 501 && code == "authc.no_authentication_cluster")
                    || (op.id == "saml-callback" && code == "root.unauthenticated")
                    // A reorder racing the other cases' realms: past RBAC, refused on content.
                    || (op.id == "reorder-security-realms" && code == "security_realm.missing_ids")
            } else {
                reply.status == 403 && code == forbidden_code(op)
            };
            (!ok).then(|| {
                format!(
                    "{} {}{} as {label}: expected {}, got {} {}",
                    op.method,
                    prefix,
                    op.id,
                    if allowed {
                        "to be let through".to_string()
                    } else {
                        format!("403 {}", forbidden_code(op))
                    },
                    reply.status,
                    reply.body.to_string().chars().take(300).collect::<String>()
                )
            })
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let failures: Vec<String> = results.into_iter().flatten().collect();
    assert!(
        failures.is_empty(),
        "{} of {} calls disagree with rbac::allowed:\n{}",
        failures.len(),
        OPERATIONS.len() * callers.len(),
        failures.join("\n")
    );
}

/// The role × scope and operation × role tables of `docs/rbac.md`, rendered from `src/domain/rbac.rs`.
fn render_matrix() -> String {
    let callers = callers();
    let tick = |yes: bool| if yes { "✓" } else { "—" };
    let header = |first: &[&str]| {
        let mut cols: Vec<String> = first.iter().map(|s| s.to_string()).collect();
        cols.extend(
            callers
                .iter()
                .map(|(label, _)| format!("`{label}`").replace("`(no role)`", "(no role)")),
        );
        let mut s = format!("| {} |\n", cols.join(" | "));
        let mut seps: Vec<&str> = first.iter().map(|_| "---").collect();
        seps.extend(callers.iter().map(|_| ":---:"));
        s.push_str(&format!("| {} |\n", seps.join(" | ")));
        s
    };
    let scopes = [
        Scope::Public,
        Scope::SelfService,
        Scope::AccountRead,
        Scope::PlatformRead,
        Scope::PlatformAdmin,
    ];
    let mut out = String::from(
        "<!-- rbac-matrix:begin (generated from src/domain/rbac.rs; see tests/api/rbac.rs) -->\n\n",
    );
    out.push_str("### Scopes by role\n\n");
    out.push_str(&header(&["Scope"]));
    for scope in scopes {
        let mut row = vec![format!("{scope:?}")];
        row.extend(callers.iter().map(|(_, roles)| {
            let op = Operation {
                id: "",
                method: "",
                path: "",
                scope,
                refusal: rbac::Refusal::Standard,
                cache: rbac::CacheEffect::Keep,
            };
            tick(rbac::allowed(roles, &op)).to_string()
        }));
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out.push_str("\n### Operations by role\n\n");
    out.push_str(&header(&["Operation", "Request", "Scope"]));
    for op in OPERATIONS {
        let mut row = vec![
            format!("`{}`", op.id),
            format!("`{} {}`", op.method, op.path),
            format!("{:?}", op.scope),
        ];
        row.extend(
            callers
                .iter()
                .map(|(_, roles)| tick(rbac::allowed(roles, op)).to_string()),
        );
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out.push_str("\n<!-- rbac-matrix:end -->\n");
    out
}

#[test]
fn docs_rbac_md_shows_the_current_matrix() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rbac.md");
    let doc = std::fs::read_to_string(path).unwrap_or_default();
    let expected = render_matrix();
    assert!(
        doc.contains(&expected),
        "docs/rbac.md does not contain the matrix of src/domain/rbac.rs. Replace the part between the \
         rbac-matrix markers (inclusive) with:\n\n{expected}"
    );
}
