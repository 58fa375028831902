//! Checking an application form against its definition, all problems at once (一次性告知):
//! keys the form does not define, required fields that apply, the built-in checks of each
//! field type with the field's bounds (`definition/limits.rs`), and the fields' `check:`
//! expressions. Pure: the caller gives the date rules and bounds see as `today`.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::definition::{Field, FieldType, Process, REASON_MAX_CHARS};
use crate::rules::{Facts, cn_id, luhn};

/// How many unknown keys a refusal names one by one; the rest are counted, so that a
/// body of 100,000 made-up keys gets a short answer.
const UNKNOWN_KEYS_NAMED: usize = 10;

/// A problem with one field of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field key.
    pub field: String,
    /// What kind of problem, stable for clients (`required`, `too-long`…).
    pub code: Problem,
    /// What is wrong, in Chinese, to show at the field.
    pub message: String,
}

/// The kind of a field's problem, sent as `errors[].code` beside the Chinese message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Problem {
    /// A required field is blank.
    Required,
    /// The value is not of the field's type (format, option, check digit).
    Invalid,
    /// A text is longer than the field's `max_length` (or its type's default).
    TooLong,
    /// A number or date lies outside the field's `min`/`max` (or its type's defaults).
    OutOfRange,
    /// A text holds a control character (NUL, escape, a direction override…).
    ControlCharacter,
    /// The key is not a field of the form.
    UnknownField,
    /// A material key the definition does not list.
    UnknownMaterial,
    /// The field's `check:` refused the value, or a rule failed.
    Check,
}

impl Problem {
    /// The code as sent to clients.
    pub fn as_str(self) -> &'static str {
        match self {
            Problem::Required => "required",
            Problem::Invalid => "invalid",
            Problem::TooLong => "too-long",
            Problem::OutOfRange => "out-of-range",
            Problem::ControlCharacter => "control-character",
            Problem::UnknownField => "unknown-field",
            Problem::UnknownMaterial => "unknown-material",
            Problem::Check => "check",
        }
    }
}

/// Checks an application form; an empty list means it is fine.
///
/// For each field of `process.form`, in order: a present value gets the built-in check of
/// its type and bounds even when the field's `when` does not hold (what is stored is
/// checked); a field whose `when` does not hold is then done; a blank value (absent,
/// `null`, whitespace, empty list) is an error only when the field is required; a valid
/// value gets the field's `check:` expression (which sees `form`, `params`, `tables` and
/// `today`; `()`, `""` or `true` mean fine, a text is the message, `false` a generic one).
/// A rule that fails is reported at its field rather than aborting, so that one broken
/// rule does not hide the other problems. Keys the form does not define are refused with
/// their names: they would be stored with the case and seen by rules.
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
        if let Some((code, message)) = field_problem(field, form.get(&field.key), &facts) {
            errors.push(FieldError {
                field: field.key.clone(),
                code,
                message,
            });
        }
    }
    errors.extend(unknown_keys(
        form.keys()
            .filter(|k| !process.form.iter().any(|f| f.key == **k)),
        "申请表",
    ));
    errors
}

/// Whether each of `fields` (the application form, or a task's decision form) applies to
/// these answers and case data, in order: it has no `when:`, or its `when:` holds. The
/// intake and task pages show only the fields that apply; [`validate_form`] and the
/// decision check ask the same question when the form is submitted. A `when:` that cannot
/// be evaluated counts as applying, so the field stays in sight and the check names the
/// problem.
pub fn fields_applying(
    process: &Process,
    fields: &[Field],
    form: &Map<String, Value>,
    data: &Map<String, Value>,
    today: NaiveDate,
) -> Vec<bool> {
    let params = process.parameter_values();
    let tables = process.table_values();
    let facts = Facts {
        form,
        data,
        params: &params,
        tables: &tables,
        materials: &[],
        today,
    };
    fields
        .iter()
        .map(|f| {
            f.when
                .as_ref()
                .is_none_or(|w| w.eval_bool(&facts).unwrap_or(true))
        })
        .collect()
}

/// Checks the material keys given with an application or a delivery: each must be one the
/// definition lists, so that a made-up key is neither stored nor ticked on a notice.
pub fn unknown_materials(process: &Process, materials: &[String]) -> Vec<FieldError> {
    let mut unknown: Vec<&String> = Vec::new();
    for key in materials {
        if !process.materials.iter().any(|m| m.key == *key) && !unknown.contains(&key) {
            unknown.push(key);
            if unknown.len() == UNKNOWN_KEYS_NAMED {
                break;
            }
        }
    }
    unknown
        .into_iter()
        .map(|key| FieldError {
            field: "materials".into(),
            code: Problem::UnknownMaterial,
            message: format!("本事项没有材料“{}”", shown_key(key)),
        })
        .collect()
}

/// One error per key (at most [`UNKNOWN_KEYS_NAMED`], then one counting the rest).
pub(super) fn unknown_keys<'a>(
    keys: impl Iterator<Item = &'a String>,
    form: &str,
) -> Vec<FieldError> {
    let keys: Vec<&String> = keys.collect();
    let mut errors: Vec<FieldError> = keys
        .iter()
        .take(UNKNOWN_KEYS_NAMED)
        .map(|key| FieldError {
            field: shown_key(key),
            code: Problem::UnknownField,
            message: format!("{form}中没有字段“{}”", shown_key(key)),
        })
        .collect();
    if keys.len() > UNKNOWN_KEYS_NAMED {
        errors.push(FieldError {
            field: String::new(),
            code: Problem::UnknownField,
            message: format!(
                "另有 {} 个{form}中没有的字段",
                keys.len() - UNKNOWN_KEYS_NAMED
            ),
        });
    }
    errors
}

/// A key as an error names it: at most 64 characters, controls replaced, so that the
/// answer to a hostile key is neither huge nor raw.
fn shown_key(key: &str) -> String {
    let mut shown: String = key
        .chars()
        .take(64)
        .map(|c| {
            if is_forbidden(c, false) {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    if key.chars().count() > 64 {
        shown.push('…');
    }
    shown
}

/// What is wrong with one field's value, if anything.
fn field_problem(
    field: &Field,
    value: Option<&Value>,
    facts: &Facts<'_>,
) -> Option<(Problem, String)> {
    let value = value.filter(|v| !is_blank(v));
    if let Some(problem) = value.and_then(|v| type_problem(field, v, facts.today)) {
        return Some(problem);
    }
    if let Some(when) = &field.when {
        match when.eval_bool(facts) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                return Some((
                    Problem::Check,
                    format!("无法判断“{}”是否需要填写：{e}", field.label),
                ));
            }
        }
    }
    let Some(_) = value else {
        return field
            .required
            .then(|| (Problem::Required, format!("“{}”为必填项", field.label)));
    };
    let check = field.check.as_ref()?;
    match check.eval(facts) {
        Ok(result) => check_message(field, result).map(|m| (Problem::Check, m)),
        Err(e) => Some((
            Problem::Check,
            format!("“{}”的检查规则出错：{e}", field.label),
        )),
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

/// A character no field stores: C0/C1 controls (NUL, escape, DEL…), Unicode line and
/// paragraph separators, and the direction overrides and isolates that make a name read
/// differently from what it holds. Line feeds, carriage returns and tabs pass where
/// `lines` allows them (addresses, `multiline` texts, reasons).
fn is_forbidden(c: char, lines: bool) -> bool {
    match c {
        '\n' | '\r' | '\t' => !lines,
        '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => true,
        c => c.is_control(),
    }
}

/// A text's problem: a forbidden character, or more than `max` characters. `label` names
/// the field in the message.
pub(super) fn text_problem(
    label: &str,
    text: &str,
    max: usize,
    lines: bool,
) -> Option<(Problem, String)> {
    if let Some(c) = text.chars().find(|c| is_forbidden(*c, lines)) {
        return Some((
            Problem::ControlCharacter,
            format!(
                "“{label}”含有不可见的控制字符（U+{:04X}），请删除后重新填写",
                u32::from(c)
            ),
        ));
    }
    let length = text.chars().count();
    (length > max).then(|| {
        (
            Problem::TooLong,
            format!("“{label}”最多 {max} 个字，这里有 {length} 个字"),
        )
    })
}

/// A written reason's problem (refusal, withdrawal, second supplement): at most
/// [`REASON_MAX_CHARS`] characters, line breaks allowed, no other control character.
pub(super) fn reason_problem(reason: &str) -> Option<(Problem, String)> {
    text_problem("理由", reason, REASON_MAX_CHARS, true)
}

/// Strings anywhere in a value delivered by another system (an event's data): each must
/// pass [`text_problem`] as a multi-line text of at most [`REASON_MAX_CHARS`].
pub(super) fn data_problem(key: &str, value: &Value) -> Option<(Problem, String)> {
    match value {
        Value::String(s) => text_problem(key, s, REASON_MAX_CHARS, true),
        Value::Array(items) => items.iter().find_map(|v| data_problem(key, v)),
        Value::Object(map) => map.values().find_map(|v| data_problem(key, v)),
        _ => None,
    }
}

/// The built-in check of the field's type and its bounds; `today` places `today` bounds
/// and the birth date in an ID number.
pub(super) fn type_problem(
    field: &Field,
    value: &Value,
    today: NaiveDate,
) -> Option<(Problem, String)> {
    let invalid = |message: String| Some((Problem::Invalid, message));
    if let Value::String(s) = value {
        let max = field.limits.max_chars(field.field_type);
        let lines = field.limits.allows_lines(field.field_type);
        if let Some(problem) = text_problem(&field.label, s, max, lines) {
            return Some(problem);
        }
    }
    let text = value.as_str().map(str::trim);
    let wants_text = || invalid("应为文字".to_owned());
    match field.field_type {
        FieldType::Text | FieldType::Address => text
            .is_none()
            .then(|| (Problem::Invalid, "应为文字".to_owned())),
        FieldType::CnId => match text.map(cn_id) {
            None => wants_text(),
            Some(Err(e)) => invalid(e),
            Some(Ok(id)) if id.birth > today => invalid(format!(
                "居民身份证号码中的出生日期 {} 晚于今天，请核对号码",
                id.birth
            )),
            Some(Ok(_)) => None,
        },
        FieldType::Phone => match text {
            Some(t) if is_phone(t) => None,
            _ => invalid("应为手机号码（11位）或固定电话（如 0356-4223292）".to_owned()),
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
                invalid("银行卡号应为16至19位数字".to_owned())
            } else if !luhn(&digits) {
                invalid("银行卡号校验不通过，请核对卡号是否抄错".to_owned())
            } else {
                None
            }
        }
        FieldType::Date => match text
            .filter(|t| t.len() == 10)
            .and_then(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
        {
            Some(date) => date_range_problem(field, date, today, false),
            None => invalid("应为日期，格式 YYYY-MM-DD".to_owned()),
        },
        FieldType::YearMonth => match text
            .filter(|t| t.len() == 7)
            .and_then(|t| NaiveDate::parse_from_str(&format!("{t}-01"), "%Y-%m-%d").ok())
        {
            Some(month) => date_range_problem(field, month, today, true),
            None => invalid("应为年月，格式 YYYY-MM".to_owned()),
        },
        FieldType::Number => match value.as_f64() {
            Some(n) => number_range_problem(field, n),
            None => invalid("应为数字".to_owned()),
        },
        FieldType::Money => {
            money_problem(value).or_else(|| number_range_problem(field, value.as_f64()?))
        }
        FieldType::Bool => {
            (!value.is_boolean()).then(|| (Problem::Invalid, "应为是或否（true/false）".to_owned()))
        }
        // Exactly an option, untrimmed: the value is stored as given and rules compare it
        // exactly (`form.post != "灵活就业"`), so " 灵活就业" must not pass for the option.
        FieldType::Choice => match value.as_str() {
            Some(t) if field.options.iter().any(|o| o == t) => None,
            _ => invalid(format!("应从以下选项中选择：{}", field.options.join("、"))),
        },
        FieldType::MultiChoice => {
            let items = value.as_array().filter(|items| {
                items.iter().all(|item| {
                    item.as_str()
                        .is_some_and(|s| field.options.iter().any(|o| o == s))
                })
            });
            match items {
                None => invalid(format!(
                    "应从以下选项中选择（可多选）：{}",
                    field.options.join("、")
                )),
                // Each option once: a list of 100,000 copies of one option is no selection.
                Some(items) if (1..items.len()).any(|i| items[..i].contains(&items[i])) => {
                    invalid("同一选项只能选一次".to_owned())
                }
                Some(_) => None,
            }
        }
    }
}

/// A number outside the field's range.
fn number_range_problem(field: &Field, n: f64) -> Option<(Problem, String)> {
    let (min, max) = field.limits.number_range(field.field_type);
    (n < min || n > max).then(|| {
        (
            Problem::OutOfRange,
            format!(
                "“{}”应在 {} 至 {} 之间",
                field.label,
                plain(min),
                plain(max)
            ),
        )
    })
}

/// A date (or the first of a month, when `month`) outside the field's range; a month is
/// compared by its month, so `max: today` lets the current month through.
fn date_range_problem(
    field: &Field,
    date: NaiveDate,
    today: NaiveDate,
    month: bool,
) -> Option<(Problem, String)> {
    let (min, max) = field.limits.date_range(today);
    let first_of = |d: NaiveDate| d.with_day(1).unwrap_or(d);
    let (min, max) = if month {
        (first_of(min), first_of(max))
    } else {
        (min, max)
    };
    let shown = |d: NaiveDate| {
        if month {
            d.format("%Y-%m").to_string()
        } else {
            d.format("%Y-%m-%d").to_string()
        }
    };
    if date < min {
        Some((
            Problem::OutOfRange,
            format!("“{}”不能早于 {}", field.label, shown(min)),
        ))
    } else if date > max {
        Some((
            Problem::OutOfRange,
            format!("“{}”不能晚于 {}", field.label, shown(max)),
        ))
    } else {
        None
    }
}

/// A bound as people write it: `720`, not `720.0`.
fn plain(n: f64) -> String {
    let text = format!("{n}");
    text.strip_suffix(".0").map_or(text.clone(), str::to_owned)
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

/// Money: a number with at most two decimals (its range is checked after).
fn money_problem(value: &Value) -> Option<(Problem, String)> {
    let Some(n) = value.as_number() else {
        return Some((Problem::Invalid, "应为金额（数字，单位元）".to_owned()));
    };
    let text = n.to_string();
    let decimals = text
        .split_once('.')
        .map_or(0, |(_, d)| d.trim_end_matches('0').len());
    (decimals > 2).then(|| (Problem::Invalid, "金额最多保留两位小数".to_owned()))
}
