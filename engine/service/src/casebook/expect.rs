//! `expect:` — the example's form evaluated as `lianban evaluate` would, and each
//! expectation checked: dotted paths into the output must be equal; `materials_include` /
//! `materials_exclude` name material keys that must (not) be required; `error_fields` is the
//! exact set of fields with errors.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde_json::Value;

use super::{Failure, same, shown};
use lianban_core::definition::{Example, Process};

/// Checks `example.expect` against the evaluation of its input.
pub(super) fn check(process: &Process, example: &Example, today: NaiveDate) -> Vec<Failure> {
    if example.expect.is_empty() {
        return Vec::new();
    }
    let output = match evaluation(process, example, today) {
        Ok(output) => output,
        Err(message) => {
            return vec![Failure {
                what: "评估".into(),
                expected: "成功".into(),
                actual: message,
            }];
        }
    };
    let mut failures = Vec::new();
    for (key, expected) in &example.expect {
        match key.as_str() {
            "materials_include" | "materials_exclude" => {
                let required = keys(output.get("materials"), "key");
                let include = key == "materials_include";
                for name in strings(expected) {
                    if required.contains(&name) != include {
                        failures.push(Failure {
                            what: format!("材料 {name}"),
                            expected: if include {
                                "需要提交"
                            } else {
                                "不需要提交"
                            }
                            .into(),
                            actual: if include {
                                "不需要提交"
                            } else {
                                "需要提交"
                            }
                            .into(),
                        });
                    }
                }
            }
            "error_fields" => {
                let actual = keys(output.get("errors"), "field");
                let expected: BTreeSet<String> = strings(expected).into_iter().collect();
                if actual != expected {
                    failures.push(Failure {
                        what: "有错误的字段".into(),
                        expected: listed(&expected),
                        actual: format!("{}{}", listed(&actual), messages(&output)),
                    });
                }
            }
            path => {
                let actual = lookup(&output, path);
                if !actual.is_some_and(|a| same(expected, a)) {
                    failures.push(Failure {
                        what: path.to_owned(),
                        expected: shown(Some(expected)),
                        actual: shown(actual),
                    });
                }
            }
        }
    }
    failures
}

/// The `lianban evaluate` output for the example's input, as JSON.
fn evaluation(process: &Process, example: &Example, today: NaiveDate) -> Result<Value, String> {
    let evaluation = lianban_core::evaluate::evaluate(process, &example.input, today);
    serde_json::to_value(evaluation).map_err(|e| e.to_string())
}

/// `a.b.c` into nested objects (a numeric segment indexes an array).
fn lookup<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.')
        .try_fold(value, |value, segment| match value {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

/// The `field` of each object in a list (material keys, error fields).
fn keys(list: Option<&Value>, field: &str) -> BTreeSet<String> {
    list.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.get(field).and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn listed(set: &BTreeSet<String>) -> String {
    format!("[{}]", set.iter().cloned().collect::<Vec<_>>().join(", "))
}

/// The error messages, so a policy officer sees why a field failed.
fn messages(output: &Value) -> String {
    let Some(errors) = output.get("errors").and_then(Value::as_array) else {
        return String::new();
    };
    let texts: Vec<String> = errors
        .iter()
        .filter_map(|e| {
            let field = e.get("field")?.as_str()?;
            let message = e.get("message")?.as_str()?;
            Some(format!("{field}：{message}"))
        })
        .collect();
    if texts.is_empty() {
        String::new()
    } else {
        format!("（{}）", texts.join("；"))
    }
}
