//! Checking a task's decision form before it is written into case data: no keys the form
//! does not define, required fields present (when they apply), and small type checks per
//! field type. Deeper format checks (ID numbers, bank cards) belong to the form layer.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::RuntimeError;
use super::run::Run;
use crate::definition::{Field, FieldType};

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
    ) -> Result<(), RuntimeError> {
        // Decision values land in case data under their keys; a key the form does not define
        // could overwrite what a rule computed, so it is refused rather than ignored.
        if let Some(key) = values.keys().find(|k| !fields.iter().any(|f| f.key == **k)) {
            return Err(invalid(key, "不是本任务表单中的字段".into()));
        }
        // `when` may refer to other fields of the same decision, so it sees them as data.
        let mut seen = self.state.data.clone();
        seen.extend(values.iter().map(|(k, v)| (k.clone(), v.clone())));
        for field in fields {
            let applies = match &field.when {
                None => true,
                Some(when) => when.eval_bool(&self.facts_with(&seen))?,
            };
            match values.get(&field.key).filter(|v| !is_blank(v)) {
                None if field.required && applies => {
                    return Err(invalid(&field.key, format!("“{}”为必填项", field.label)));
                }
                None => {}
                Some(value) => {
                    if let Some(message) = type_problem(field, value) {
                        return Err(invalid(&field.key, message));
                    }
                }
            }
        }
        Ok(())
    }
}

fn invalid(field: &str, message: String) -> RuntimeError {
    RuntimeError::InvalidField {
        field: field.to_owned(),
        message,
    }
}

/// Absent in all but name: null, blank text or an empty selection.
fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// What is wrong with a value for this field type, if anything.
fn type_problem(field: &Field, value: &Value) -> Option<String> {
    let ok = match field.field_type {
        FieldType::Text
        | FieldType::Address
        | FieldType::Phone
        | FieldType::CnId
        | FieldType::BankCard => value.is_string(),
        FieldType::Number | FieldType::Money => value.is_number(),
        FieldType::Bool => value.is_boolean(),
        FieldType::Date => value.as_str().is_some_and(is_date),
        FieldType::YearMonth => value
            .as_str()
            .is_some_and(|s| s.len() == 7 && is_date(&format!("{s}-01"))),
        FieldType::Choice => value.as_str().is_some_and(|s| is_option(field, s)),
        FieldType::MultiChoice => value.as_array().is_some_and(|items| {
            items
                .iter()
                .all(|item| item.as_str().is_some_and(|s| is_option(field, s)))
        }),
    };
    if ok {
        return None;
    }
    Some(match field.field_type {
        FieldType::Number | FieldType::Money => "应为数字".to_owned(),
        FieldType::Bool => "应为是或否（true/false）".to_owned(),
        FieldType::Date => "应为日期，格式 YYYY-MM-DD".to_owned(),
        FieldType::YearMonth => "应为年月，格式 YYYY-MM".to_owned(),
        FieldType::Choice | FieldType::MultiChoice => {
            format!("应从以下选项中选择：{}", field.options.join("、"))
        }
        _ => "应为文字".to_owned(),
    })
}

fn is_date(text: &str) -> bool {
    text.len() == 10 && NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

fn is_option(field: &Field, value: &str) -> bool {
    field.options.iter().any(|o| o == value)
}
