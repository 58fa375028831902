//! `lianban evaluate`: what the rules say about an application before any case exists —
//! the form's problems, the materials required, and the map the definition's `evaluate:`
//! expression returns. Pure over a loaded [`Process`]; the example runner calls
//! [`evaluate`] too. Reading files and the clock is left to [`command`]'s caller.

use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::definition::RequiredMaterial;
use crate::definition::{self, LoadError, Process};
use crate::documents::RenderError;
use crate::rules::Facts;
use crate::runtime::{FieldError, validate_form};

/// Keys of the output the `evaluate:` map may not use.
const RESERVED: [&str; 4] = ["errors", "materials", "evaluate_error", "materials_error"];

/// The result of evaluating an application; serializes to the `lianban evaluate` output:
/// `{"errors": [...], "materials": [...], ...the evaluate map}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// Field problems, in form order (empty when the form is fine).
    pub errors: Vec<FieldError>,
    /// Materials required for this application, in definition order.
    pub materials: Vec<RequiredMaterial>,
    /// Why a material's `when` could not be evaluated (the list is then incomplete).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub materials_error: Option<String>,
    /// Why the `evaluate:` expression failed or returned something other than a map.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluate_error: Option<String>,
    /// The map `evaluate:` returned (empty without one), merged into the output.
    #[serde(flatten)]
    pub values: Map<String, Value>,
}

impl Evaluation {
    /// The output as one JSON value, for looking up `a.b.c` paths.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Whether some rule failed (as opposed to the input having problems).
    pub fn has_rule_errors(&self) -> bool {
        self.materials_error.is_some() || self.evaluate_error.is_some()
    }
}

/// Evaluates an application form, complete or not, as of `today`.
///
/// Rules see `form` = `input`, empty `data` and `materials`, the definition's `params` and
/// `tables`. Field errors do not stop the rest: the materials and the `evaluate:` map are
/// computed on whatever was given, and a rule that fails is reported in the result rather
/// than returned as an error, so a policy officer sees everything in one run.
pub fn evaluate(process: &Process, input: &Map<String, Value>, today: NaiveDate) -> Evaluation {
    let errors = validate_form(process, input, today);
    let params = process.parameter_values();
    let tables = process.table_values();
    let empty = Map::new();
    let facts = Facts {
        form: input,
        data: &empty,
        params: &params,
        tables: &tables,
        materials: &[],
        today,
    };
    let (materials, materials_error) = match process.required_materials(&facts) {
        Ok(list) => (list, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let (values, evaluate_error) = match process.evaluate.as_ref().map(|e| e.eval(&facts)) {
        None | Some(Ok(Value::Null)) => (Map::new(), None),
        Some(Ok(Value::Object(map))) => {
            let reserved: Vec<&str> = map
                .keys()
                .map(String::as_str)
                .filter(|k| RESERVED.contains(k))
                .collect();
            if reserved.is_empty() {
                (map, None)
            } else {
                let message = format!(
                    "`evaluate:` 返回的映射使用了保留的键 {}，请改名",
                    reserved.join("、")
                );
                let map = map
                    .into_iter()
                    .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
                    .collect();
                (map, Some(message))
            }
        }
        Some(Ok(other)) => (
            Map::new(),
            Some(format!(
                "`evaluate:` 应当返回映射（#{{...}}），实际返回了 {other}"
            )),
        ),
        Some(Err(e)) => (Map::new(), Some(e.to_string())),
    };
    Evaluation {
        errors,
        materials,
        materials_error,
        evaluate_error,
        values,
    }
}

/// Why `lianban evaluate` could not evaluate at all.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    /// The input is not valid JSON.
    #[error("输入文件第 {line} 行第 {column} 列不是有效的 JSON：{message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The input is JSON, but not an object of form fields.
    #[error("输入应当是 JSON 对象（{{\"字段\": 值, ...}}），这里是{0}")]
    NotAnObject(&'static str),
    /// No definition has this id.
    #[error("没有找到流程 `{id}`；已加载的流程：{known}")]
    UnknownProcess {
        /// The id asked for.
        id: String,
        /// The ids loaded, joined.
        known: String,
    },
    /// The templates directory did not load.
    #[error("模板加载失败：{0}")]
    Templates(#[from] RenderError),
    /// A definition did not load.
    #[error("{0}")]
    Definitions(#[from] LoadError),
}

/// Parses the input text: a JSON object of form fields.
///
/// # Errors
/// [`EvaluateError::Json`] with the position when it is not JSON,
/// [`EvaluateError::NotAnObject`] when it is JSON of another kind.
pub fn parse_input(text: &str) -> Result<Map<String, Value>, EvaluateError> {
    let value: Value = serde_json::from_str(text).map_err(|e| EvaluateError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    match value {
        Value::Object(map) => Ok(map),
        Value::Array(_) => Err(EvaluateError::NotAnObject("数组")),
        Value::String(_) => Err(EvaluateError::NotAnObject("文字")),
        Value::Number(_) => Err(EvaluateError::NotAnObject("数字")),
        Value::Bool(_) => Err(EvaluateError::NotAnObject(" true/false")),
        Value::Null => Err(EvaluateError::NotAnObject(" null")),
    }
}

/// The latest version of `process_id` in `catalog`, or the error that lists the ids known.
///
/// # Errors
/// [`EvaluateError::UnknownProcess`].
pub fn latest_process(
    catalog: &definition::Catalog,
    process_id: &str,
) -> Result<Arc<Process>, EvaluateError> {
    catalog
        .latest(process_id)
        .ok_or_else(|| EvaluateError::UnknownProcess {
            id: process_id.to_owned(),
            known: {
                let mut ids: Vec<&str> = catalog.iter().map(|p| p.id.as_str()).collect();
                ids.dedup();
                ids.join("、")
            },
        })
}
