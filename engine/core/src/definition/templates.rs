//! What the loader needs of templates: whether a name a definition writes exists and
//! parses. The renderer (`documents::Templates`) answers it; definitions do not depend on
//! the renderer, so the renderer may use definitions freely.

/// Answers whether a template exists and parses.
pub trait TemplateCheck {
    /// `Ok` when the template `name` (relative to the templates directory) loads.
    ///
    /// # Errors
    /// [`TemplateProblem`] saying what is wrong with it.
    fn check_template(&self, name: &str) -> Result<(), TemplateProblem>;
}

/// Why a template named by a definition cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateProblem {
    /// No template of that name.
    Missing,
    /// The template does not parse.
    Syntax {
        /// Path of the template file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The template engine's description.
        message: String,
    },
}

/// Templates are shared behind an `Arc` once loaded; the loader takes them as they are held.
impl<T: TemplateCheck + ?Sized> TemplateCheck for std::sync::Arc<T> {
    fn check_template(&self, name: &str) -> Result<(), TemplateProblem> {
        (**self).check_template(name)
    }
}
