//! An outcome's `check:`: what stops a person choosing it, such as the acceptance condition
//! on 受理. The runtime refuses the outcome while the check gives problems; pages ask the
//! same question beforehand so that the clerk sees why, and the refusal they can issue.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::CaseState;
use crate::definition::{Outcome, Process};
use crate::rules::{Facts, RuleError};

/// The problems the outcome's `check:` finds in the case as it stands on `today`; empty
/// when it has no check or nothing stops it.
///
/// # Errors
/// [`RuleError`] when the check's rule fails.
pub fn outcome_problems(
    process: &Process,
    state: &CaseState,
    outcome: &Outcome,
    today: NaiveDate,
) -> Result<Vec<String>, RuleError> {
    let Some(check) = &outcome.check else {
        return Ok(Vec::new());
    };
    let params: Map<String, Value> = process.parameter_values();
    let tables: Map<String, Value> = process.table_values();
    let facts = Facts {
        form: &state.form,
        data: &state.data,
        params: &params,
        tables: &tables,
        materials: &state.materials,
        today,
    };
    Ok(problems(check.eval(&facts)?))
}

/// A check's answer as a list of problems: a list of texts, or one text; `()`, `true`, `""`
/// and `[]` are none, and `false` (a check written as a condition) is one generic problem.
pub(super) fn problems(value: Value) -> Vec<String> {
    match value {
        Value::Null | Value::Bool(true) => Vec::new(),
        Value::Bool(false) => vec!["不符合办理条件".to_owned()],
        Value::String(text) => {
            let text = text.trim();
            if text.is_empty() {
                Vec::new()
            } else {
                vec![text.to_owned()]
            }
        }
        Value::Array(items) => items.into_iter().flat_map(problems).collect(),
        other => vec![other.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::problems;

    #[test]
    fn a_check_answers_with_none_one_or_many_problems() {
        assert!(problems(json!(null)).is_empty());
        assert!(problems(json!(true)).is_empty());
        assert!(problems(json!([])).is_empty());
        assert!(problems(json!("  ")).is_empty());
        assert_eq!(problems(json!(false)), ["不符合办理条件"]);
        assert_eq!(problems(json!("未参保")), ["未参保"]);
        assert_eq!(
            problems(json!(["未参保", "", "未缴医保"])),
            ["未参保", "未缴医保"]
        );
    }
}
