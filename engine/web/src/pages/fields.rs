//! Form fields between HTML and JSON: what a template needs to draw a field of a
//! definition's `form:` (label, input kind, options, the value given, the error at it), and
//! turning posted `key=value` pairs back into the JSON values the runtime checks. The
//! server checks everything, `when` conditions included; the page draws every field.

use std::collections::HashMap;

use serde_json::{Map, Number, Value, json};

use lianban_core::definition::{Field, FieldType};

/// The HTML input a field is drawn with.
fn input_kind(f: &Field) -> &'static str {
    match f.field_type {
        FieldType::Text if f.limits.multiline => "textarea",
        FieldType::Choice => "choice",
        FieldType::MultiChoice => "multi",
        FieldType::Bool => "bool",
        FieldType::Date => "date",
        FieldType::YearMonth => "month",
        FieldType::Number | FieldType::Money => "number",
        FieldType::Phone => "tel",
        FieldType::Address => "textarea",
        FieldType::Text | FieldType::CnId | FieldType::BankCard => "text",
    }
}

/// The range of a number or money field, for the input's `min` and `max`.
fn number_bounds(f: &Field) -> Option<(f64, f64)> {
    matches!(f.field_type, FieldType::Number | FieldType::Money)
        .then(|| f.limits.number_range(f.field_type))
}

/// A value as the input shows it again after a failed submit; control characters the
/// runtime refused are not drawn back into the page (line breaks stay, for text areas).
fn shown(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s
            .chars()
            .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
            .collect(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(other) => other.to_string(),
    }
}

/// What a template needs for each field: `name` is the form control's name
/// (`prefix` + key).
pub(super) fn describe(
    fields: &[Field],
    prefix: &str,
    values: &Map<String, Value>,
    errors: &HashMap<String, String>,
) -> Vec<Value> {
    fields
        .iter()
        .map(|f| {
            let value = values.get(&f.key);
            let chosen: Vec<&str> = match value {
                Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            json!({
                "key": f.key,
                "name": format!("{prefix}{}", f.key),
                "label": f.label,
                "kind": input_kind(f),
                // The browser's own hints; the runtime checks the same bounds again.
                "max_length": matches!(f.field_type, FieldType::Text | FieldType::Address)
                    .then(|| f.limits.max_chars(f.field_type)),
                "min": number_bounds(f).map(|(min, _)| min),
                "max": number_bounds(f).map(|(_, max)| max),
                "step": if f.field_type == FieldType::Money { "0.01" } else { "any" },
                "required": f.required && f.when.is_none(),
                "conditional": f.when.is_some(),
                "options": f.options,
                "help": f.help,
                "value": shown(value),
                "chosen": chosen,
                "error": errors.get(&f.key),
            })
        })
        .collect()
}

/// The JSON values of the posted pairs named `prefix` + key, by the field's type. Blank
/// inputs are left out (the runtime then says which required ones are missing); a number
/// that does not parse stays text, so that the runtime names the field.
pub(super) fn values(
    fields: &[Field],
    prefix: &str,
    posted: &[(String, String)],
) -> Map<String, Value> {
    let mut out = Map::new();
    for f in fields {
        let name = format!("{prefix}{}", f.key);
        let given: Vec<&str> = posted
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        let value = match (f.field_type, given.as_slice()) {
            (_, []) => continue,
            (FieldType::MultiChoice, items) => json!(items),
            (FieldType::Bool, [v, ..]) => match *v {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                other => Value::String(other.to_owned()),
            },
            (FieldType::Number | FieldType::Money, [v, ..]) => number(v),
            (_, [v, ..]) => Value::String((*v).to_owned()),
        };
        out.insert(f.key.clone(), value);
    }
    out
}

fn number(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        return Value::Number(i.into());
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map_or_else(|| Value::String(text.to_owned()), Value::Number)
}

/// The first posted value named `name` (empty when absent).
pub(super) fn posted<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_and_bad_ones_stay_text() {
        assert_eq!(number("12"), json!(12));
        assert_eq!(number("12.5"), json!(12.5));
        assert_eq!(number("十二"), json!("十二"));
    }
}
