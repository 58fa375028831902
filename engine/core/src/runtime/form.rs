//! Checking an application form against its definition, all problems at once (一次性告知):
//! required fields that apply, the built-in checks of each field type, and the fields'
//! `check:` expressions. Pure: the caller gives the date rules see as `today`.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::definition::{Field, FieldType, Process};
use crate::rules::{Facts, cn_id, luhn};

/// A problem with one field of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field key.
    pub field: String,
    /// What is wrong, in Chinese, to show at the field.
    pub message: String,
}

/// Checks an application form; an empty list means it is fine.
///
/// For each field of `process.form`, in order: a field whose `when` does not hold is
/// skipped; a blank value (absent, `null`, whitespace, empty list) is an error only when
/// the field is required; a present value gets the built-in check of its type, and when
/// that passes, the field's `check:` expression (which sees `form`, `params`, `tables` and
/// `today`; `()`, `""` or `true` mean fine, a text is the message, `false` a generic one).
/// A rule that fails is reported at its field rather than aborting, so that one broken
/// rule does not hide the other problems. Keys the form does not define are ignored.
pub fn validate_form(
    process: &Process,
    form: &Map<String, Value>,
    today: NaiveDate,
) -> Vec<FieldError> {
    let params = process.parameter_values();
    let tables = process.table_values();
    let empty = Map::new();
    let facts = Facts {
        form,
        data: &empty,
        params: &params,
        tables: &tables,
        materials: &[],
        today,
    };
    let mut errors = Vec::new();
    for field in &process.form {
        if let Some(message) = field_problem(field, form.get(&field.key), &facts) {
            errors.push(FieldError {
                field: field.key.clone(),
                message,
            });
        }
    }
    errors
}

/// What is wrong with one field's value, if anything.
fn field_problem(field: &Field, value: Option<&Value>, facts: &Facts<'_>) -> Option<String> {
    if let Some(when) = &field.when {
        match when.eval_bool(facts) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => return Some(format!("无法判断“{}”是否需要填写：{e}", field.label)),
        }
    }
    let Some(value) = value.filter(|v| !is_blank(v)) else {
        return field.required.then(|| format!("“{}”为必填项", field.label));
    };
    if let Some(problem) = type_problem(field, value) {
        return Some(problem);
    }
    let check = field.check.as_ref()?;
    match check.eval(facts) {
        Ok(result) => check_message(field, result),
        Err(e) => Some(format!("“{}”的检查规则出错：{e}", field.label)),
    }
}

/// What a `check:` result means: `()`, blank text or `true` are fine, text is the message,
/// `false` a generic one.
pub(super) fn check_message(field: &Field, result: Value) -> Option<String> {
    match result {
        Value::Null | Value::Bool(true) => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s),
        Value::Bool(false) => Some(format!("“{}”不符合要求", field.label)),
        other => Some(format!(
            "“{}”的检查规则应返回提示文字或空值，实际返回了 {other}",
            field.label
        )),
    }
}

/// Absent in all but name: null, blank text or an empty selection.
pub(super) fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// The built-in check of the field's type.
pub(super) fn type_problem(field: &Field, value: &Value) -> Option<String> {
    let text = value.as_str().map(str::trim);
    let wants_text = || Some("应为文字".to_owned());
    match field.field_type {
        FieldType::Text | FieldType::Address => text.is_none().then(|| "应为文字".to_owned()),
        FieldType::CnId => match text {
            None => wants_text(),
            Some(t) => cn_id(t).err(),
        },
        FieldType::Phone => match text {
            Some(t) if is_phone(t) => None,
            _ => Some("应为手机号码（11位）或固定电话（如 0356-4223292）".to_owned()),
        },
        FieldType::BankCard => {
            let digits: String = text
                .unwrap_or_default()
                .chars()
                .filter(|c| *c != ' ')
                .collect();
            let shape =
                (16..=19).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit());
            if !shape {
                Some("银行卡号应为16至19位数字".to_owned())
            } else if !luhn(&digits) {
                Some("银行卡号校验不通过，请核对卡号是否抄错".to_owned())
            } else {
                None
            }
        }
        FieldType::Date => match text {
            Some(t) if t.len() == 10 && NaiveDate::parse_from_str(t, "%Y-%m-%d").is_ok() => None,
            _ => Some("应为日期，格式 YYYY-MM-DD".to_owned()),
        },
        FieldType::YearMonth => match text {
            Some(t)
                if t.len() == 7
                    && NaiveDate::parse_from_str(&format!("{t}-01"), "%Y-%m-%d").is_ok() =>
            {
                None
            }
            _ => Some("应为年月，格式 YYYY-MM".to_owned()),
        },
        FieldType::Number => (!value.is_number()).then(|| "应为数字".to_owned()),
        FieldType::Money => money_problem(value),
        FieldType::Bool => (!value.is_boolean()).then(|| "应为是或否（true/false）".to_owned()),
        FieldType::Choice => match text {
            Some(t) if field.options.iter().any(|o| o == t) => None,
            _ => Some(format!("应从以下选项中选择：{}", field.options.join("、"))),
        },
        FieldType::MultiChoice => {
            let ok = value.as_array().is_some_and(|items| {
                items.iter().all(|item| {
                    item.as_str()
                        .is_some_and(|s| field.options.iter().any(|o| o == s))
                })
            });
            (!ok).then(|| format!("应从以下选项中选择（可多选）：{}", field.options.join("、")))
        }
    }
}

/// Mainland mobile `1[3-9]` + 9 digits, or landline `0` + 2–3 digit area code, an optional
/// `-`, and 7–8 digits.
fn is_phone(text: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let b = text.as_bytes();
    if b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && digits(text) {
        return true;
    }
    // ASCII only, so that the byte slicing below stays on character boundaries.
    if !text.starts_with('0') || !text.is_ascii() {
        return false;
    }
    let landline = |area: &str, number: &str| {
        (3..=4).contains(&area.len())
            && digits(area)
            && (7..=8).contains(&number.len())
            && digits(number)
    };
    match text.split_once('-') {
        Some((area, number)) => landline(area, number),
        // Without a dash the split is ambiguous: any area length that fits will do.
        None => (3..=4).any(|n| text.len() > n && landline(&text[..n], &text[n..])),
    }
}

/// Money: a number, not negative, at most two decimals.
fn money_problem(value: &Value) -> Option<String> {
    let Some(n) = value.as_number() else {
        return Some("应为金额（数字，单位元）".to_owned());
    };
    if n.as_f64().is_some_and(|f| f < 0.0) {
        return Some("金额不能为负数".to_owned());
    }
    let text = n.to_string();
    let decimals = text
        .split_once('.')
        .map_or(0, |(_, d)| d.trim_end_matches('0').len());
    (decimals > 2).then(|| "金额最多保留两位小数".to_owned())
}
