//! Feeds arbitrary bytes to the definition loader and validator as a YAML definition. The
//! loader must never panic, and every failure must carry diagnostics with a position. The
//! shipped shared base (`processes/shanxi/`, with its rules and tables) is among the
//! sources, so an input that `extends: shanxi.retirement` goes through the overlay merge
//! as a county's definition does.

#![no_main]

use std::sync::OnceLock;

use lianban::definition::{SourceFile, load_sources};
use lianban::documents::Templates;
use libfuzzer_sys::fuzz_target;

fn templates() -> &'static Templates {
    static TEMPLATES: OnceLock<Templates> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates");
        Templates::load(&dir).unwrap_or_else(|_| Templates::empty())
    })
}

/// The shared base and its rule and table files, as `processes/shanxi/...` sources.
fn bases() -> &'static [SourceFile] {
    static BASES: OnceLock<Vec<SourceFile>> = OnceLock::new();
    BASES.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../processes");
        let mut out = Vec::new();
        let mut dirs = vec![root.join("shanxi")];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
                if path.is_dir() {
                    dirs.push(path);
                } else if let (Ok(text), Ok(rel)) =
                    (std::fs::read_to_string(&path), path.strip_prefix(&root))
                {
                    out.push(SourceFile {
                        path: format!("processes/{}", rel.display()),
                        text,
                    });
                }
            }
        }
        out
    })
}

fuzz_target!(|data: &[u8]| {
    // The loader takes text; a file that is not UTF-8 is refused before it.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut sources = vec![SourceFile {
        path: "processes/fuzz/definition.yaml".into(),
        text: text.to_owned(),
    }];
    sources.extend(bases().iter().cloned());
    if let Err(e) = load_sources(&sources, templates()) {
        assert!(!e.diagnostics.is_empty(), "a failure without diagnostics");
        for d in &e.diagnostics {
            assert!(d.line >= 1 && d.column >= 1, "a diagnostic without a position: {d:?}");
            assert!(d.code.starts_with("E-"), "a diagnostic without a code: {d:?}");
        }
    }
});
