//! Checks replies against the official ECE swagger, the repository's own copy in
//! `spec/ece-identity-swagger.json` (a clone needs nothing beside it): the status must be documented for the operation
//! (or be a generic error every operation can give), the body must validate against the documented
//! schema, and an error must carry its codes in `x-cloud-error-codes`.

use std::sync::OnceLock;

use serde_json::{json, Value};

/// Where the official Go SDK sends regional operations (relative to /api/v1).
pub const REGION_PREFIX: &str = "/regions/ece-region";

/// Statuses any operation may answer with, beyond those the spec lists per operation.
const GENERIC_ERRORS: &[u16] = &[400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 503];

/// The official description of what the server serves: `spec/ece-identity-swagger.json` with the
/// paths and definitions of `spec/ece-realms-swagger.json` added. Merged here from the files, independently of the server's own merge.
pub fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let root = env!("CARGO_MANIFEST_DIR");
        let read = |name: &str| -> Value {
            let text = std::fs::read_to_string(format!("{root}/spec/{name}"))
                .expect("the official swagger is readable");
            serde_json::from_str(&text).expect("the swagger is JSON")
        };
        let mut doc = read("ece-identity-swagger.json");
        let realms = read("ece-realms-swagger.json");
        for (path, item) in realms["paths"].as_object().unwrap() {
            doc["paths"][path] = item.clone();
        }
        for (name, def) in realms["definitions"].as_object().unwrap() {
            if doc["definitions"].get(name).is_none() {
                doc["definitions"][name] = def.clone();
            }
        }
        doc
    })
}

/// The spec's path template matching a concrete path (relative to /api/v1); static segments win.
pub fn template_for(path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or(path);
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut best: Option<(usize, String)> = None;
    for template in spec()["paths"].as_object()?.keys() {
        let tsegs: Vec<&str> = template.trim_matches('/').split('/').collect();
        if tsegs.len() != segs.len() {
            continue;
        }
        let mut statics = 0;
        let ok = tsegs.iter().zip(&segs).all(|(t, s)| {
            if t.starts_with('{') {
                true
            } else {
                statics += 1;
                t == s
            }
        });
        if ok && best.as_ref().is_none_or(|(n, _)| statics > *n) {
            best = Some((statics, template.clone()));
        }
    }
    best.map(|(_, t)| t)
}

/// Validates one reply. Panics with a clear message when it does not conform.
pub fn check(
    method: &str,
    path: &str,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &Value,
) {
    // The region-prefixed form of an operation answers exactly as the plain one.
    let path = path.strip_prefix(REGION_PREFIX).unwrap_or(path);
    let Some(template) = template_for(path) else {
        return;
    };
    let Some(op) = spec()["paths"][&template].get(method.to_ascii_lowercase()) else {
        return;
    };
    let responses = &op["responses"];
    let documented = responses.get(status.to_string());
    assert!(
        documented.is_some() || GENERIC_ERRORS.contains(&status),
        "{method} {template} answered {status}, which the spec does not document: {body}"
    );
    let schema = match documented.and_then(|r| r.get("schema")) {
        Some(s) => s.clone(),
        None if status >= 400 => json!({"$ref": "#/definitions/BasicFailedReply"}),
        None => return,
    };
    validate(&schema, body).unwrap_or_else(|e| {
        panic!("{method} {template} {status}: reply does not conform: {e}\n{body}")
    });
    if status >= 400 {
        let codes: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["code"].as_str().unwrap())
            .collect();
        let header = headers
            .get("x-cloud-error-codes")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert_eq!(
            header,
            codes.join(","),
            "{method} {template}: x-cloud-error-codes must name the body's codes"
        );
    }
}

/// Validates `instance` against a schema that may `$ref` the spec's definitions.
pub fn validate(schema: &Value, instance: &Value) -> Result<(), String> {
    let mut full = schema.clone();
    full["definitions"] = spec()["definitions"].clone();
    let validator = jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&full)
        .map_err(|e| format!("bad schema: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Validates against a named definition, e.g. `User`.
pub fn assert_definition(name: &str, instance: &Value) {
    validate(&json!({"$ref": format!("#/definitions/{name}")}), instance)
        .unwrap_or_else(|e| panic!("not a valid {name}: {e}\n{instance}"));
}

/// The repository's `spec/` must be the official files: where the project's shared folder sits
/// beside the checkout (`../shared/spec/`), every file there must have an identical copy in `spec/`.
/// A clone with nothing beside it has nothing to compare and passes.
#[test]
fn spec_copies_equal_the_shared_originals() {
    let root = env!("CARGO_MANIFEST_DIR");
    let shared = std::path::Path::new(root).join("../shared/spec");
    let Ok(entries) = std::fs::read_dir(&shared) else {
        eprintln!(
            "no {} beside the checkout: nothing to compare",
            shared.display()
        );
        return;
    };
    let mut compared = 0;
    for entry in entries {
        let path = entry.expect("readable directory").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // The whole-API swagger is reference material only; nothing in the repo reads it.
        if !name.ends_with(".json") || name == "ece-swagger-full.json" {
            continue;
        }
        let ours = std::path::Path::new(root).join("spec").join(&name);
        let (a, b) = (
            std::fs::read(&path).unwrap(),
            std::fs::read(&ours).unwrap_or_default(),
        );
        assert!(
            a == b,
            "spec/{name} differs from {} (copy it over)",
            path.display()
        );
        compared += 1;
    }
    assert!(compared > 0, "no spec files found in {}", shared.display());
}
