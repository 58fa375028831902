//! The layering that cargo cannot enforce by itself. The crate graph already refuses an
//! import against the direction data flows (web cannot name the store); these checks keep
//! what lives inside one crate's dependencies out of the layer that must not use it: the
//! store renders and numbers no document (the service does, in a unit of work), and the
//! core waits on nothing.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the engine package sits in the workspace")
        .to_path_buf()
}

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable source dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("readable source");
                out.push((path, text));
            }
        }
    }
    out
}

fn offenders(dir: &str, needles: &[&str]) -> Vec<String> {
    let root = workspace();
    sources(&root.join(dir))
        .into_iter()
        .flat_map(|(path, text)| {
            let path = path
                .strip_prefix(&root)
                .unwrap_or(&path)
                .display()
                .to_string();
            needles
                .iter()
                .filter(|n| text.contains(**n))
                .map(|n| format!("{path}: {n}"))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_store_neither_renders_nor_numbers_documents() {
    let found = offenders(
        "engine/store/src",
        &[
            "lianban_core::documents",
            "format_number",
            "Templates",
            "axum",
        ],
    );
    assert!(
        found.is_empty(),
        "the store reaches into documents or HTTP: {found:#?}"
    );
}

#[test]
fn the_core_waits_on_nothing_and_stores_nothing() {
    let found = offenders(
        "engine/core/src",
        &[
            "tokio::",
            "sea_orm",
            "sqlx",
            "axum",
            "reqwest",
            "lianban_store",
        ],
    );
    assert!(found.is_empty(), "the core imports I/O: {found:#?}");
}

#[test]
fn the_web_talks_to_the_service_only() {
    let manifest = std::fs::read_to_string(workspace().join("engine/web/Cargo.toml"))
        .expect("the web crate's manifest");
    // A dependency line starts with the crate's name; comments may name it.
    for crate_name in ["lianban-store", "sea-orm", "sqlx"] {
        assert!(
            !manifest
                .lines()
                .any(|line| line.trim_start().starts_with(crate_name)),
            "engine/web depends on {crate_name}"
        );
    }
    let found = offenders("engine/web/src", &["sea_orm", "lianban_store"]);
    assert!(
        found.is_empty(),
        "the web reaches past the service: {found:#?}"
    );
}
