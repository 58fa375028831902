//! Which materials a case needs: those without a `when` and those whose `when` holds for
//! the facts given. Pure; the one place this is decided, for `lianban evaluate`, the
//! 一次性告知单 and the supplement notice alike.

use serde::Serialize;

use super::Process;
use crate::rules::{Facts, RuleError};

/// A material the applicant must hand in, as listed on a notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequiredMaterial {
    /// Material key.
    pub key: String,
    /// Name as on the notice.
    pub name: String,
    /// Number of copies, if counted.
    pub copies: Option<u32>,
    /// What the copies are counted in (份 when `None`, 张 for photos).
    pub unit: Option<String>,
    /// Why it applies (the definition's `why:`, else its `note:`).
    pub why: Option<String>,
    /// The definition's `note:` when it also has a `why:` (an alternative, such as
    /// self-service in the 公积金 APP, that the notice must not drop); `None` when the note
    /// already serves as `why`.
    pub note: Option<String>,
}

impl Process {
    /// The materials required under `facts`, in definition order.
    ///
    /// # Errors
    /// [`RuleError`] of the first `when` that fails to evaluate: a list that silently left
    /// out a material would break the promise to name everything missing at once.
    pub fn required_materials(
        &self,
        facts: &Facts<'_>,
    ) -> Result<Vec<RequiredMaterial>, RuleError> {
        let mut out = Vec::new();
        for material in &self.materials {
            let applies = match &material.when {
                None => true,
                Some(when) => when.eval_bool(facts)?,
            };
            if applies {
                out.push(RequiredMaterial {
                    key: material.key.clone(),
                    name: material.name.clone(),
                    copies: material.copies,
                    unit: material.unit.clone(),
                    why: material.why.clone().or_else(|| material.note.clone()),
                    note: material.why.as_ref().and(material.note.clone()),
                });
            }
        }
        Ok(out)
    }
}
