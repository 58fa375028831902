//! The application form as JSON Schema 2020-12 (`GET /api/v1/processes/{id}/form`), for
//! other systems' portal forms and client generators. It says, in the form's own Chinese,
//! what `runtime::validate_form` accepts: one property per field with its type, options,
//! pattern and bounds, `required` for fields always required, and each field's `when:`
//! as an `if`/`then` that makes it required. Pure: built from the [`Process`] alone.
//!
//! What JSON Schema cannot say is left to the server and written in the field's
//! `description`: check digits (ID numbers, bank cards), a date bound relative to today,
//! the birth date inside an ID number, the fields' `check:` rules, and a `when:` other than
//! comparisons of form fields with constants (joined by `&&` and `||`). For such a `when:` the
//! schema leaves the field optional, so it never refuses what the server accepts.

use serde_json::{Map, Value, json};

use super::limits::{DATE_MIN, DATE_YEARS_AHEAD};
use super::model::{Bound, Field, FieldType, Process};
use crate::rules::PROVINCES;

/// The dialect every form schema declares.
pub const JSON_SCHEMA_DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Characters no one-line text holds (`runtime/form.rs`, `is_forbidden`): C0 and C1
/// controls, line and paragraph separators, direction overrides and isolates.
const NO_CONTROLS: &str = r"^[^\u0000-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069]*$";

/// The same, where line feeds, carriage returns and tabs are allowed (addresses,
/// `multiline` texts).
const NO_CONTROLS_BUT_LINES: &str = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u2028\u2029\u202A-\u202E\u2066-\u2069]*$";

/// A mainland mobile number, or a landline with a 3–4 digit area code starting with 0 and
/// a 7–8 digit number, with or without `-` (`runtime/form.rs`, `is_phone`). The server
/// trims surrounding blanks before checking, and so does the pattern.
const PHONE: &str = r"^\s*(1[3-9][0-9]{9}|0[0-9]{2,3}-[0-9]{7,8}|0[0-9]{9,11})\s*$";

/// 16–19 digits, spaces allowed between them (the Luhn check digit is the server's).
const BANK_CARD: &str = r"^\s*[0-9]( *[0-9]){15,18}\s*$";

/// `YYYY-MM-DD`.
const DATE: &str = r"^\s*[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])\s*$";

/// `YYYY-MM`.
const YEAR_MONTH: &str = r"^\s*[0-9]{4}-(0[1-9]|1[0-2])\s*$";

impl Process {
    /// The application form as a JSON Schema 2020-12 document (see the module's comment
    /// for what it leaves to the server).
    pub fn form_schema(&self) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        let mut conditions = Vec::new();
        for field in &self.form {
            let condition = field.when.as_ref().map(|w| condition_schema(w.source()));
            let always = field.required && field.when.is_none();
            let mut schema = if always {
                filled(field)
            } else {
                json!({"anyOf": [filled(field), {"$ref": "#/$defs/blank"}]})
            };
            annotate(&mut schema, field, condition.as_ref());
            properties.insert(field.key.clone(), schema);
            if always {
                required.push(field.key.clone());
            }
            if let (true, Some(Some(condition))) = (field.required, condition) {
                conditions.push(json!({
                    "if": condition,
                    "then": {
                        "required": [field.key],
                        "properties": {(field.key.clone()): {"not": {"$ref": "#/$defs/blank"}}},
                    },
                }));
            }
        }
        let mut schema = json!({
            "$schema": JSON_SCHEMA_DIALECT,
            "title": format!("{}申请表", self.name),
            "description": format!(
                "“{}”（{} 第 {} 版）的申请表：POST /api/v1/cases 的 form。未填的可选项可以省略，\
                 也可以写 null、空字符串或空数组。不能写表中没有的字段。",
                self.name, self.id, self.version
            ),
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
            "$defs": {
                "blank": {
                    "title": "未填",
                    "description": "null、只含空白的字符串或空数组，都算没有填写",
                    "anyOf": [
                        {"type": "null"},
                        {"type": "string", "pattern": r"^\s*$"},
                        {"type": "array", "maxItems": 0},
                    ],
                },
            },
        });
        if !conditions.is_empty()
            && let Some(map) = schema.as_object_mut()
        {
            map.insert("allOf".into(), Value::Array(conditions));
        }
        schema
    }
}

/// The schema of a filled-in value of the field: its type, options, pattern and bounds,
/// never blank.
fn filled(field: &Field) -> Value {
    let limits = &field.limits;
    match field.field_type {
        FieldType::Text | FieldType::Address => {
            let lines = limits.allows_lines(field.field_type);
            json!({
                "type": "string",
                "maxLength": limits.max_chars(field.field_type),
                "pattern": if lines { NO_CONTROLS_BUT_LINES } else { NO_CONTROLS },
                "not": {"pattern": r"^\s*$"},
            })
        }
        FieldType::CnId => {
            let provinces: Vec<String> = PROVINCES.iter().map(|p| format!("{p:02}")).collect();
            json!({
                "type": "string",
                "pattern": format!(
                    r"^\s*({})[0-9]{{4}}(19|20)[0-9]{{2}}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{{3}}[0-9Xx]\s*$",
                    provinces.join("|")
                ),
            })
        }
        FieldType::Phone => json!({"type": "string", "pattern": PHONE}),
        FieldType::BankCard => json!({"type": "string", "pattern": BANK_CARD}),
        FieldType::Date => json!({"type": "string", "format": "date", "pattern": DATE}),
        FieldType::YearMonth => json!({"type": "string", "pattern": YEAR_MONTH}),
        FieldType::Number | FieldType::Money => {
            let (min, max) = limits.number_range(field.field_type);
            let mut schema = json!({"type": "number", "minimum": min, "maximum": max});
            if field.field_type == FieldType::Money
                && let Some(map) = schema.as_object_mut()
            {
                map.insert("multipleOf".into(), json!(0.01));
            }
            schema
        }
        FieldType::Bool => json!({"type": "boolean"}),
        FieldType::Choice => json!({"type": "string", "enum": field.options}),
        FieldType::MultiChoice => json!({
            "type": "array",
            "items": {"type": "string", "enum": field.options},
            "uniqueItems": true,
            "minItems": 1,
        }),
    }
}

/// Adds the field's Chinese `title` and `description` (its help, what the server checks
/// beyond the schema, when it applies) and the lianban type name.
fn annotate(schema: &mut Value, field: &Field, condition: Option<&Option<Value>>) {
    let mut notes: Vec<String> = field.help.iter().cloned().collect();
    notes.extend(type_note(field));
    if let Some(when) = &field.when {
        let source = when
            .source()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        notes.push(match (field.required, condition) {
            (true, Some(Some(_))) => format!("条件 `{source}` 成立时必填"),
            (true, _) => format!("条件 `{source}` 成立时必填（由服务器判断）"),
            (false, _) => format!("条件 `{source}` 成立时适用"),
        });
    }
    if field.check.is_some() {
        notes.push("服务器还按本事项的规则核对此项".to_owned());
    }
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    map.insert("title".into(), json!(field.label));
    if !notes.is_empty() {
        map.insert("description".into(), json!(notes.join("；")));
    }
    let type_name = serde_json::to_value(field.field_type).unwrap_or(Value::Null);
    map.insert("x-lianban-type".into(), type_name);
}

/// What the server checks of the field's type beyond the schema.
fn type_note(field: &Field) -> Option<String> {
    let bound = |b: Option<&Bound>, default: String| match b {
        Some(Bound::Today) => if field.field_type == FieldType::YearMonth {
            "当月"
        } else {
            "当天"
        }
        .to_owned(),
        Some(Bound::Date(d)) if field.field_type == FieldType::YearMonth => {
            d.format("%Y-%m").to_string()
        }
        Some(Bound::Date(d)) => d.format("%Y-%m-%d").to_string(),
        _ => default,
    };
    match field.field_type {
        FieldType::CnId => Some(
            "18 位居民身份证号码（GB 11643），服务器另核对校验位和出生日期（不晚于当天）".into(),
        ),
        FieldType::BankCard => Some("16 至 19 位银行卡号，服务器另按 Luhn 核对校验位".into()),
        FieldType::Phone => Some("11 位手机号码或固定电话（如 0356-4223292）".into()),
        FieldType::Date | FieldType::YearMonth => {
            let (format, first) = if field.field_type == FieldType::Date {
                ("YYYY-MM-DD", format!("{}-{:02}-01", DATE_MIN.0, DATE_MIN.1))
            } else {
                ("YYYY-MM", format!("{}-{:02}", DATE_MIN.0, DATE_MIN.1))
            };
            Some(format!(
                "格式 {format}，不早于 {}，不晚于 {}（服务器核对）",
                bound(field.limits.min.as_ref(), first),
                bound(
                    field.limits.max.as_ref(),
                    format!("{DATE_YEARS_AHEAD} 年后的年底")
                ),
            ))
        }
        FieldType::Money => Some("金额，单位元，最多两位小数".into()),
        _ => None,
    }
}

/// The `if` schema of a `when:` written as comparisons of form fields with constants
/// (`form.k == "v"`, `form.k != true`, `form.k`), joined by `&&` and `||` (without
/// parentheses: `&&` binds tighter, as in the rules); `None` for anything else. A comparison
/// holds as the rule engine evaluates it: `==` only when the field is present with exactly
/// that value, `!=` otherwise.
fn condition_schema(source: &str) -> Option<Value> {
    let alternatives: Vec<Value> = source.split("||").map(all_of).collect::<Option<_>>()?;
    match alternatives.len() {
        1 => alternatives.into_iter().next(),
        _ => Some(json!({"anyOf": alternatives})),
    }
}

/// Comparisons joined by `&&`.
fn all_of(source: &str) -> Option<Value> {
    let parts: Vec<Value> = source
        .split("&&")
        .map(|part| comparison(part.trim()))
        .collect::<Option<_>>()?;
    match parts.len() {
        1 => parts.into_iter().next(),
        _ => Some(json!({"allOf": parts})),
    }
}

/// One `form.k == v`, `form.k != v` or `form.k`.
fn comparison(text: &str) -> Option<Value> {
    let (key, negated, value) = if let Some((left, right)) = text.split_once("==") {
        (left.trim(), false, constant(right.trim())?)
    } else if let Some((left, right)) = text.split_once("!=") {
        (left.trim(), true, constant(right.trim())?)
    } else {
        (text, false, Value::Bool(true))
    };
    let key = key.strip_prefix("form.")?;
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let equal = json!({"required": [key], "properties": {key: {"const": value}}});
    Some(if negated {
        json!({"not": equal})
    } else {
        equal
    })
}

/// A string in double quotes (without escapes), `true`, `false` or a plain number.
fn constant(text: &str) -> Option<Value> {
    match text {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        _ => {}
    }
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        return (!inner.contains(['"', '\\'])).then(|| Value::String(inner.to_owned()));
    }
    text.parse::<i64>().ok().map(Value::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_become_conditions() {
        assert_eq!(
            condition_schema(r#"form.post != "灵活就业""#),
            Some(
                json!({"not": {"required": ["post"], "properties": {"post": {"const": "灵活就业"}}}})
            )
        );
        assert_eq!(
            condition_schema("form.veteran == true && form.x"),
            Some(json!({"allOf": [
                {"required": ["veteran"], "properties": {"veteran": {"const": true}}},
                {"required": ["x"], "properties": {"x": {"const": true}}},
            ]}))
        );
        assert_eq!(condition_schema("needs_veteran_confirmation(form)"), None);
        assert_eq!(
            condition_schema("form.a == \"x\" || form.b && form.c != 1"),
            Some(json!({"anyOf": [
                {"required": ["a"], "properties": {"a": {"const": "x"}}},
                {"allOf": [
                    {"required": ["b"], "properties": {"b": {"const": true}}},
                    {"not": {"required": ["c"], "properties": {"c": {"const": 1}}}},
                ]},
            ]}))
        );
        assert_eq!(condition_schema("(form.a || form.b)"), None);
        assert_eq!(condition_schema("data.eligible"), None);
    }
}
