//! The stored versions of a definition as the web shows and checks them. Loading and
//! reloading the catalog is [`crate::app`]'s; which version a case runs on is
//! [`crate::Engine`]'s own.

use super::records::StoredVersion;
use super::{Engine, EngineError};
use lianban_core::definition::Process;

impl Engine {
    /// Every stored version of a process, oldest first, with the number of cases on each.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn definition_versions(
        &self,
        process: &str,
    ) -> Result<Vec<StoredVersion>, EngineError> {
        Ok(self.store().definitions().versions(process).await?)
    }

    /// Checks, without writing, that registering `process` would be allowed: refused only
    /// when the stored content of that version differs and cases already run on it.
    ///
    /// # Errors
    /// [`EngineError::Store`] carrying [`crate::StoreError::VersionChanged`] when refused.
    pub async fn check_definition(&self, process: &Process) -> Result<(), EngineError> {
        Ok(self.store().definitions().check(process).await?)
    }
}
