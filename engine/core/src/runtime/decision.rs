//! Checking a task's decision form before it is written into case data: no keys the form
//! does not define, required fields present (when they apply), the built-in checks of each
//! field type (shared with the application form) and the fields' `check:` expressions.

use serde_json::{Map, Value};

use super::RuntimeError;
use super::form::{Problem, check_message, is_blank, type_problem};
use super::run::Run;
use crate::definition::Field;

impl Run<'_> {
    /// Checks decision values against the task's form.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidField`] for the first field that is unknown, missing or of the
    /// wrong type; [`RuntimeError::Rule`] when a field's `when` fails.
    pub(super) fn check_decision(
        &self,
        fields: &[Field],
        values: &Map<String, Value>,
        outcome: &str,
    ) -> Result<(), RuntimeError> {
        // Decision values land in case data under their keys; a key the form does not define
        // could overwrite what a rule computed, so it is refused rather than ignored.
        if let Some(key) = values.keys().find(|k| !fields.iter().any(|f| f.key == **k)) {
            return Err(invalid(
                key,
                Problem::UnknownField,
                "不是本任务表单中的字段".into(),
            ));
        }
        // `when` may refer to other fields of the same decision, so it sees them as data.
        let mut seen = self.state.data.clone();
        seen.extend(values.iter().map(|(k, v)| (k.clone(), v.clone())));
        for field in fields {
            let applies = field.serves(outcome)
                && match &field.when {
                    None => true,
                    Some(when) => when.eval_bool(&self.facts_with(&seen))?,
                };
            match values.get(&field.key).filter(|v| !is_blank(v)) {
                None if field.required && applies => {
                    return Err(invalid(
                        &field.key,
                        Problem::Required,
                        format!("“{}”为必填项", field.label),
                    ));
                }
                None => {}
                Some(value) => {
                    if let Some((code, message)) = type_problem(field, value, self.today()) {
                        return Err(invalid(&field.key, code, message));
                    }
                    if let Some(check) = &field.check {
                        let result = check.eval(&self.facts_with(&seen))?;
                        if let Some(message) = check_message(field, result) {
                            return Err(invalid(&field.key, Problem::Check, message));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn invalid(field: &str, code: Problem, message: String) -> RuntimeError {
    RuntimeError::InvalidField {
        field: field.to_owned(),
        code,
        message,
    }
}
