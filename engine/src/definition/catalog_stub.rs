//! STUB: replaced at merge. Minimal stand-ins for the loader branch's `Catalog`,
//! `load_sources`, `LoadError` and `documents::Templates`, so the store branch compiles.

use std::collections::HashMap;
use std::sync::Arc;

use super::{Process, SourceFile};

/// STUB: replaced at merge. The loaded processes, by id and version.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    processes: HashMap<String, Vec<Arc<Process>>>,
}

impl Catalog {
    /// STUB: replaced at merge. Adds a process (test helper of the stub).
    pub fn insert(&mut self, process: Process) {
        self.processes
            .entry(process.id.clone())
            .or_default()
            .push(Arc::new(process));
    }

    /// STUB: replaced at merge. The process at this version.
    pub fn get(&self, id: &str, version: u32) -> Option<Arc<Process>> {
        self.processes
            .get(id)?
            .iter()
            .find(|p| p.version == version)
            .cloned()
    }

    /// STUB: replaced at merge. The highest version of this process.
    pub fn latest(&self, id: &str) -> Option<Arc<Process>> {
        self.processes
            .get(id)?
            .iter()
            .max_by_key(|p| p.version)
            .cloned()
    }
}

/// STUB: replaced at merge (lives in `documents`). The template environment.
#[derive(Debug, Default, Clone)]
pub struct Templates {
    _private: (),
}

/// STUB: replaced at merge. Why a definition failed to load.
#[derive(Debug, thiserror::Error)]
#[error("definition sources could not be loaded ({files} files)")]
pub struct LoadError {
    /// Number of files given.
    pub files: usize,
}

/// STUB: replaced at merge. Loads a process from its source texts.
///
/// # Errors
/// Always, in the stub.
pub fn load_sources(sources: &[SourceFile], templates: &Templates) -> Result<Process, LoadError> {
    let _ = templates;
    Err(LoadError {
        files: sources.len(),
    })
}
