//! A calendar file's YAML → a checked [`Calendar`]. Every problem is a positioned
//! [`Diagnostic`]: unknown keys, a date that is not `YYYY-MM-DD` or lies outside its year,
//! a range that ends before it starts, overlapping holiday blocks, and a 调休 working day
//! that is not a Saturday or Sunday or falls inside a holiday.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{Datelike, NaiveDate, Weekday};
use indexmap::IndexMap;
use serde::Deserialize;
use serde_yaml::Value;

use super::{Calendar, CalendarYear, Holiday, STATUTORY_2025};
use crate::definition::LoadError;
use crate::definition::decode::{Decoder, describe};
use crate::definition::diagnostic::{Code, Sink};
use crate::definition::model::SourceFile;
use crate::definition::source_map::{SourceMap, child, item};
use crate::definition::yaml::parse;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    name: Option<String>,
    provisional: Option<String>,
    years: Option<IndexMap<String, Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYear {
    source: Option<String>,
    holidays: Option<Value>,
    workdays: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHoliday {
    name: Option<String>,
    from: Option<Value>,
    to: Option<Value>,
}

/// Parses and checks one calendar file; its name is the file name without `.yaml`.
///
/// # Errors
/// A [`LoadError`] with every problem found in the file.
pub fn parse_calendar(file: &SourceFile) -> Result<Calendar, LoadError> {
    let name = Path::new(&file.path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut sink = Sink::new(&file.path);
    let calendar = parse(&file.text, &mut sink).and_then(|(value, map)| {
        let mut cx = Cx {
            map: &map,
            sink: &mut sink,
        };
        cx.calendar(&value)
            .map(|(title, years, rule)| Calendar::new(name, title, file.path.clone(), years, rule))
    });
    match calendar {
        Some(calendar) if sink.is_empty() => Ok(calendar),
        _ => Err(LoadError {
            diagnostics: sink.into_vec(),
        }),
    }
}

struct Cx<'a> {
    map: &'a SourceMap,
    sink: &'a mut Sink,
}

type Years = BTreeMap<i32, CalendarYear>;

impl Cx<'_> {
    fn report(&mut self, code: Code, path: &str, message: String, hint: Option<&str>) {
        let pos = self.map.value_pos(path);
        self.sink
            .push(pos, code, path, message, hint.map(str::to_owned));
    }

    fn decoder(&mut self) -> Decoder<'_> {
        Decoder {
            map: self.map,
            sink: self.sink,
        }
    }

    fn calendar(&mut self, value: &Value) -> Option<(Option<String>, Years, Option<String>)> {
        let raw: RawCalendar = self.decoder().decode(value, "")?;
        if let Some(rule) = raw.provisional.as_deref().filter(|r| *r != STATUTORY_2025) {
            let hint = format!(
                "`provisional: {STATUTORY_2025}` 按《全国年节及纪念日放假办法》（2024年修订）\
                 暂定计算尚未公布安排的年份；不写则没有安排的年份不能计算"
            );
            self.report(
                Code::Calendar,
                "provisional",
                format!("不认识的暂定规则 `{rule}`"),
                Some(&hint),
            );
        }
        let Some(raw_years) = raw.years.filter(|y| !y.is_empty()) else {
            let hint = "例如 `years: {2026: {source: 国办发明电〔2025〕7号, holidays: [...], workdays: [...]}}`";
            self.report(
                Code::MissingKey,
                "",
                "缺少 `years`（各年的节假日安排）".into(),
                Some(hint),
            );
            return None;
        };
        let mut years = BTreeMap::new();
        for (key, value) in raw_years {
            let path = child("years", &key);
            let Some(year) = key
                .parse::<i32>()
                .ok()
                .filter(|y| (1949..=9999).contains(y))
            else {
                let pos = self.map.key_pos(&path);
                let message = format!("`{key}` 不是年份");
                let hint = Some("每年一节，键写四位数年份，如 `2026:`".to_owned());
                self.sink.push(pos, Code::Calendar, &path, message, hint);
                continue;
            };
            if let Some(data) = self.year(year, &value, &path) {
                years.insert(year, data);
            }
        }
        Some((raw.name, years, raw.provisional))
    }

    fn year(&mut self, year: i32, value: &Value, path: &str) -> Option<CalendarYear> {
        let raw: RawYear = self.decoder().decode(value, path)?;
        let source = raw.source.unwrap_or_else(|| {
            let hint = "写明通知的名称和文号，如 `国务院办公厅关于2026年部分节假日安排的通知（国办发明电〔2025〕7号）`";
            self.report(Code::MissingKey, path, format!("{year} 年缺少 `source`（出处）"), Some(hint));
            String::new()
        });
        let holidays = self.holidays(year, raw.holidays.as_ref(), &child(path, "holidays"));
        let workdays = self.workdays(
            year,
            raw.workdays.as_ref(),
            &child(path, "workdays"),
            &holidays,
        );
        Some(CalendarYear {
            year,
            source,
            holidays: holidays.into_iter().map(|(h, _)| h).collect(),
            workdays,
            provisional: false,
        })
    }

    /// The holiday blocks with the path each was written at.
    fn holidays(&mut self, year: i32, value: Option<&Value>, path: &str) -> Vec<(Holiday, String)> {
        let (raw, indices): (Vec<RawHoliday>, _) = self.decoder().decode_list(value, path);
        let mut out: Vec<(Holiday, String)> = Vec::new();
        for (h, i) in raw.into_iter().zip(indices) {
            let at = item(path, i);
            let name = h.name.unwrap_or_else(|| {
                self.report(
                    Code::MissingKey,
                    &at,
                    "假期缺少 `name`（如 春节）".into(),
                    None,
                );
                String::new()
            });
            let Some(from) = h.from else {
                let hint =
                    "写成 `{name: 春节, from: 2026-02-15, to: 2026-02-23}`；只放一天的只写 `from`";
                self.report(
                    Code::MissingKey,
                    &at,
                    "假期缺少 `from`（第一天）".into(),
                    Some(hint),
                );
                continue;
            };
            let from = self.date(year, &from, &child(&at, "from"));
            let to = match &h.to {
                Some(to) => self.date(year, to, &child(&at, "to")),
                None => from,
            };
            let (Some(from), Some(to)) = (from, to) else {
                continue;
            };
            if to < from {
                let message = format!("假期的最后一天 {to} 早于第一天 {from}");
                self.report(Code::Calendar, &child(&at, "to"), message, None);
                continue;
            }
            if let Some((other, other_at)) = out.iter().find(|(o, _)| o.from <= to && from <= o.to)
            {
                let line = self.map.value_pos(other_at).line;
                let message = format!(
                    "假期 {name}（{from} 至 {to}）与第 {line} 行的 {}（{} 至 {}）重叠",
                    other.name, other.from, other.to
                );
                self.report(Code::Calendar, &at, message, Some("每一天只能属于一段假期"));
                continue;
            }
            out.push((Holiday { name, from, to }, at));
        }
        out
    }

    fn workdays(
        &mut self,
        year: i32,
        value: Option<&Value>,
        path: &str,
        holidays: &[(Holiday, String)],
    ) -> BTreeSet<NaiveDate> {
        let (raw, indices): (Vec<Value>, _) = self.decoder().decode_list(value, path);
        let mut out = BTreeSet::new();
        for (v, i) in raw.into_iter().zip(indices) {
            let at = item(path, i);
            let Some(date) = self.date(year, &v, &at) else {
                continue;
            };
            if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
                let message = format!(
                    "{date} 是{}，本来就上班；`workdays` 只写调休上班的星期六、星期日",
                    weekday_name(date.weekday())
                );
                self.report(Code::Calendar, &at, message, None);
            } else if let Some((h, _)) = holidays
                .iter()
                .find(|(h, _)| h.from <= date && date <= h.to)
            {
                let message = format!(
                    "{date} 在假期 {}（{} 至 {}）之内，不能又是调休上班日",
                    h.name, h.from, h.to
                );
                self.report(Code::Calendar, &at, message, None);
            } else if !out.insert(date) {
                self.report(Code::DuplicateId, &at, format!("{date} 重复出现"), None);
            }
        }
        out
    }

    /// A `YYYY-MM-DD` date of `year`, or a diagnostic at `path`.
    fn date(&mut self, year: i32, value: &Value, path: &str) -> Option<NaiveDate> {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => describe(other).trim().to_owned(),
        };
        let Ok(date) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") else {
            let message = format!("`{text}` 不是有效的日期");
            self.report(
                Code::Calendar,
                path,
                message,
                Some("日期写成 YYYY-MM-DD，如 2026-10-01"),
            );
            return None;
        };
        if date.year() != year {
            let message = format!("{date} 不在 {year} 年之内");
            self.report(
                Code::Calendar,
                path,
                message,
                Some("每个日期写在它所在年份的那一节里"),
            );
            return None;
        }
        Some(date)
    }
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "星期一",
        Weekday::Tue => "星期二",
        Weekday::Wed => "星期三",
        Weekday::Thu => "星期四",
        Weekday::Fri => "星期五",
        Weekday::Sat => "星期六",
        Weekday::Sun => "星期日",
    }
}
