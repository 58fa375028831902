//! How far a field's value may go beyond its type: the longest text, the smallest and
//! largest number or date, and whether a text may span lines. The definition may set each
//! (`max_length:`, `min:`, `max:`, `multiline:`); what it leaves out takes the default of
//! the field's type, here and only here, so that the API, the intake page and `lianban
//! test` refuse the same values. The runtime (`runtime/form.rs`) applies them.

use chrono::{Datelike, NaiveDate};

use super::diagnostic::Code;
use super::model::{Bound, FieldLimits, FieldType};
use super::source_map::child;
use super::validate::Cx;

/// The longest one-line text by default: a name, a employer, a certificate number. The
/// longest registered Chinese company names run to about 60 characters; 200 leaves room
/// for any real value while keeping a pasted document out of a name cell.
pub const TEXT_MAX_CHARS: usize = 200;

/// The longest multi-line text (`multiline: true`) by default: a written explanation fits
/// on one printed page at about 2,000 characters.
pub const MULTILINE_MAX_CHARS: usize = 2000;

/// The longest written reason (a refusal, a withdrawal, a second supplement request): it is
/// printed on the notice the applicant receives, and one A4 page holds about 2,000
/// characters.
pub const REASON_MAX_CHARS: usize = 2000;

/// The largest `max_length:` a definition may set: Excel's limit for one cell, so that
/// every stored value still fits whole in an exported workbook.
pub const MAX_LENGTH_CEILING: usize = 32_767;

/// The largest `number` by default: counts of months, years and people stay far below it.
pub const NUMBER_MAX: f64 = 1_000_000_000.0;

/// The largest `money` amount by default, in yuan: below 100 million, far above any
/// personal account, pension or allowance, far below what floating point rounds.
pub const MONEY_MAX: f64 = 99_999_999.99;

/// The earliest date or month by default: nobody handled today was born before it.
pub const DATE_MIN: (i32, u32) = (1900, 1);

/// How many years past today a date or month may lie by default.
pub const DATE_YEARS_AHEAD: i32 = 100;

impl FieldLimits {
    /// The longest text the field takes, in characters.
    pub fn max_chars(&self, field_type: FieldType) -> usize {
        self.max_length.unwrap_or(match field_type {
            FieldType::Text if self.multiline => MULTILINE_MAX_CHARS,
            _ => TEXT_MAX_CHARS,
        })
    }

    /// Whether line breaks and tabs are allowed: in addresses (drawn as a text area) and
    /// in `multiline: true` texts.
    pub fn allows_lines(&self, field_type: FieldType) -> bool {
        self.multiline || field_type == FieldType::Address
    }

    /// The smallest and largest number a `number` or `money` field takes.
    pub fn number_range(&self, field_type: FieldType) -> (f64, f64) {
        let number = |bound: Option<&Bound>, default: f64| match bound {
            Some(Bound::Number(n)) => *n,
            _ => default,
        };
        let max = if field_type == FieldType::Money {
            MONEY_MAX
        } else {
            NUMBER_MAX
        };
        (
            number(self.min.as_ref(), 0.0),
            number(self.max.as_ref(), max),
        )
    }

    /// The earliest and latest date a `date` or `year_month` field takes, seen on `today`.
    pub fn date_range(&self, today: NaiveDate) -> (NaiveDate, NaiveDate) {
        let date = |bound: Option<&Bound>| match bound {
            Some(Bound::Date(d)) => Some(*d),
            Some(Bound::Today) => Some(today),
            _ => None,
        };
        let earliest = NaiveDate::from_ymd_opt(DATE_MIN.0, DATE_MIN.1, 1).unwrap_or(NaiveDate::MIN);
        let latest = NaiveDate::from_ymd_opt(today.year() + DATE_YEARS_AHEAD, 12, 31)
            .unwrap_or(NaiveDate::MAX);
        (
            date(self.min.as_ref()).unwrap_or(earliest),
            date(self.max.as_ref()).unwrap_or(latest),
        )
    }
}

/// The limit keys as written on one field.
pub(super) struct Written {
    pub(super) max_length: Option<usize>,
    pub(super) min: Option<serde_json::Value>,
    pub(super) max: Option<serde_json::Value>,
    pub(super) multiline: bool,
}

/// The limits written on one field, checked against its type; problems go to the sink
/// and the limit is left at its default.
pub(super) fn limits(
    cx: &mut Cx<'_>,
    raw: Written,
    field_type: Option<FieldType>,
    path: &str,
) -> FieldLimits {
    let Some(field_type) = field_type else {
        return FieldLimits::default();
    };
    let is_text = matches!(field_type, FieldType::Text | FieldType::Address);
    let mut out = FieldLimits::default();
    if let Some(max) = raw.max_length {
        if !is_text {
            not_for(
                cx,
                path,
                "max_length",
                "只有 `type: text` 或 `type: address` 的字段写 `max_length`，其他类型的长度由格式决定",
            );
        } else if max == 0 || max > MAX_LENGTH_CEILING {
            let at = child(path, "max_length");
            cx.sink.push(
                cx.map.value_pos(&at),
                Code::Field,
                &at,
                format!("`max_length` 应在 1 至 {MAX_LENGTH_CEILING} 之间，这里是 {max}"),
                Some(format!(
                    "{MAX_LENGTH_CEILING} 是 Excel 一个单元格能放下的最多字数"
                )),
            );
        } else {
            out.max_length = Some(max);
        }
    }
    if raw.multiline {
        if field_type == FieldType::Text {
            out.multiline = true;
        } else {
            not_for(
                cx,
                path,
                "multiline",
                "只有 `type: text` 的字段写 `multiline: true`（地址本来就可以分行）",
            );
        }
    }
    for (key, value, slot) in [
        ("min", raw.min.as_ref(), &mut out.min),
        ("max", raw.max.as_ref(), &mut out.max),
    ] {
        let Some(value) = value else { continue };
        *slot = bound(cx, value, field_type, &child(path, key));
    }
    if let (Some(min), Some(max)) = (&out.min, &out.max)
        && min.exceeds(max)
    {
        let at = child(path, "min");
        cx.sink.push(
            cx.map.value_pos(&at),
            Code::Field,
            &at,
            "`min` 大于 `max`，没有值能通过".into(),
            None,
        );
    }
    out
}

/// One `min:` or `max:` value: a number for `number`/`money`, a date (`YYYY-MM-DD`), a month
/// (`YYYY-MM`) or `today` for `date`/`year_month`.
fn bound(
    cx: &mut Cx<'_>,
    value: &serde_json::Value,
    field_type: FieldType,
    at: &str,
) -> Option<Bound> {
    let (parsed, expected) = match field_type {
        FieldType::Number | FieldType::Money => (
            value.as_f64().filter(|n| n.is_finite()).map(Bound::Number),
            "一个数字，例如 `0` 或 `720`",
        ),
        FieldType::Date | FieldType::YearMonth => (
            value.as_str().and_then(date_bound),
            "一个日期（`1950-01-01`）、月份（`1950-01`）或 `today`（今天）",
        ),
        _ => {
            let key = at.rsplit('.').next().unwrap_or(at);
            cx.sink.push(
                cx.map.key_pos(at),
                Code::Field,
                at,
                format!("`{key}` 只适用于数字、金额、日期和年月字段"),
                None,
            );
            return None;
        }
    };
    if parsed.is_none() {
        cx.sink.push(
            cx.map.value_pos(at),
            Code::Field,
            at,
            format!("无法识别的范围 `{value}`"),
            Some(format!("这里应写{expected}")),
        );
    }
    parsed
}

/// `today`, `YYYY-MM-DD` or `YYYY-MM` (the first of the month).
fn date_bound(text: &str) -> Option<Bound> {
    let text = text.trim();
    if text == "today" {
        return Some(Bound::Today);
    }
    let full = if text.len() == 7 {
        format!("{text}-01")
    } else {
        text.to_owned()
    };
    NaiveDate::parse_from_str(&full, "%Y-%m-%d")
        .ok()
        .filter(|_| full.len() == 10)
        .map(Bound::Date)
}

fn not_for(cx: &mut Cx<'_>, path: &str, key: &str, hint: &str) {
    let at = child(path, key);
    cx.sink.push(
        cx.map.key_pos(&at),
        Code::Field,
        &at,
        format!("字段的类型不适用 `{key}`"),
        Some(hint.to_owned()),
    );
}

impl Bound {
    /// Whether this bound, as a `min`, lies above `max` (so nothing passes). `today` is
    /// compared as it stands on no particular day: only two fixed values can be judged.
    fn exceeds(&self, max: &Bound) -> bool {
        match (self, max) {
            (Bound::Number(a), Bound::Number(b)) => a > b,
            (Bound::Date(a), Bound::Date(b)) => a > b,
            _ => false,
        }
    }
}
