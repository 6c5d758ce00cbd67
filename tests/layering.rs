//! The layering of `src/` (ARCHITECTURE.md, "Layers"): a lower layer never names an upper one.
//!
//! Every `.rs` file under `src/<layer>/` is read, comment lines are skipped, and each path that
//! starts at the crate root (`crate::x`, `crate::{x, y}`, `ece_server::x`) must name a module of the
//! same layer or of a layer below it. Files directly under `src/` (start-up, the connection layer,
//! the configuration) and `src/cli/` are the top and may use anything.

use std::path::{Path, PathBuf};

/// The layers from the bottom up, with the root modules each may name besides its own.
const LAYERS: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("store", &["domain"]),
    ("security", &["domain", "store"]),
    ("http", &["domain", "store", "security"]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The root modules a line of code names: `crate::x`, `crate::{x, y::z}`, `ece_server::x`.
fn roots_named(line: &str) -> Vec<String> {
    let mut roots = Vec::new();
    for prefix in ["crate::", "ece_server::"] {
        let mut rest = line;
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().next_back();
            rest = &rest[i + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue; // `foo_crate::` is not the crate root
            }
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    roots.push(ident(item.trim()));
                }
            } else {
                roots.push(ident(rest));
            }
        }
    }
    roots.retain(|r| !r.is_empty());
    roots
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Every `crate::...` use in `layer` that names a module it may not know, as `file:line: root`.
fn violations(src: &Path, layer: &str, allowed: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&src.join(layer), &mut files);
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for root in roots_named(line) {
                if root != layer && !allowed.contains(&root.as_str()) {
                    found.push(format!(
                        "{}:{}: the {layer} layer imports `crate::{root}` ({})",
                        file.strip_prefix(src.parent().unwrap()).unwrap().display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn lower_layers_never_import_upper_ones() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    for (layer, allowed) in LAYERS {
        found.extend(violations(&src, layer, allowed));
    }
    assert!(
        found.is_empty(),
        "imports against the layering domain <- store <- security <- http <- startup/cli \
         (see ARCHITECTURE.md, \"Layers\"):\n{}",
        found.join("\n")
    );
}

#[test]
fn every_root_module_has_a_place() {
    // A new root module must be given a layer here (or be a top-level file), so that it cannot
    // slip past the check above.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let name = path.file_name().unwrap().to_str().unwrap();
            assert!(
                name == "cli" || LAYERS.iter().any(|(l, _)| *l == name),
                "src/{name}/ is in no layer: add it to LAYERS in tests/layering.rs and to ARCHITECTURE.md"
            );
        }
    }
}

#[test]
fn the_check_sees_what_it_must() {
    assert_eq!(roots_named("use crate::http::AppState;"), ["http"]);
    assert_eq!(
        roots_named("use crate::{store::Store, http};"),
        ["store", "http"]
    );
    assert_eq!(
        roots_named("x: ece_server::startup::Application"),
        ["startup"]
    );
    assert!(roots_named("use my_crate::http;").is_empty());
    // The check itself fails on a violation, naming the file and the import.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src/domain")).unwrap();
    std::fs::write(
        dir.path().join("src/domain/bad.rs"),
        "// crate::http in a comment is fine\nuse crate::http::AppState;\n",
    )
    .unwrap();
    let found = violations(&dir.path().join("src"), "domain", &[]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("src/domain/bad.rs:2:"), "{}", found[0]);
    assert!(found[0].contains("crate::http"), "{}", found[0]);
}
