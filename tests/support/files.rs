//! Copying fixture trees into temporary directories. Also compiled into the tests that
//! belong to the engine package (they drive the built binary and cannot depend on this
//! crate), through `#[path]`.

use std::path::Path;

/// Copies the directory `from` into `to` (created when missing), recursively.
///
/// # Errors
/// Any I/O error.
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
