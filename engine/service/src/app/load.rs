//! Reading the service's configuration from disk: the templates, then the definitions
//! checked against them. `serve` (at start and on reload) and every command that reads
//! definitions (`check`, `test`, `evaluate`, `render`, `diagram`, `user add`,
//! `apikey create`) load them through [`Definitions::load`], so they all see the same
//! catalog. Each caller words a failure for its own situation, which is why the error
//! keeps the two causes apart.

use std::path::{Path, PathBuf};

use lianban_core::definition::{self, LoadError, Process};
use lianban_core::documents::{RenderError, Templates};

/// The templates of a directory and the definitions that validated against them.
#[derive(Debug)]
pub struct Definitions {
    /// The templates (documents and page fragments the definitions name).
    pub templates: Templates,
    /// Every definition found, in file order.
    pub processes: Vec<Process>,
}

/// Why [`Definitions::load`] failed; it shows as the inner error, unchanged.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionsError {
    /// The templates directory did not load (the definitions were not read).
    #[error(transparent)]
    Templates(#[from] RenderError),
    /// A definition did not validate: every diagnostic, in file order.
    #[error(transparent)]
    Definitions(#[from] LoadError),
}

impl Definitions {
    /// Loads the templates under `templates_dir`, then the definitions in `paths` (files,
    /// or directories searched for `*.yaml`) against them.
    ///
    /// # Errors
    /// [`DefinitionsError::Templates`] or [`DefinitionsError::Definitions`].
    pub fn load(paths: &[PathBuf], templates_dir: &Path) -> Result<Definitions, DefinitionsError> {
        let templates = Templates::load(templates_dir)?;
        let processes = definition::load_paths(paths, &templates)?;
        Ok(Definitions {
            templates,
            processes,
        })
    }
}
