//! Feeds arbitrary bytes to the definition loader and validator as a YAML definition. The
//! loader must never panic, and every failure must carry diagnostics with a position.

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

fuzz_target!(|data: &[u8]| {
    // The loader takes text; a file that is not UTF-8 is refused before it.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let source = SourceFile {
        path: "processes/fuzz/definition.yaml".into(),
        text: text.to_owned(),
    };
    if let Err(e) = load_sources(&[source], templates()) {
        assert!(!e.diagnostics.is_empty(), "a failure without diagnostics");
        for d in &e.diagnostics {
            assert!(d.line >= 1 && d.column >= 1, "a diagnostic without a position: {d:?}");
            assert!(d.code.starts_with("E-"), "a diagnostic without a code: {d:?}");
        }
    }
});
