//! Schedules and their cron expressions as policy officers write them. The ordinary 5-field crontab form
//! (`min hour day month weekday`, weekday 0–7 with 0 and 7 = Sunday) is translated for the
//! `cron` crate, which wants a leading seconds field and counts weekdays 1–7 from Sunday;
//! 6- and 7-field texts are the `cron` crate's own form and pass through unchanged.

use std::collections::HashMap;
use std::str::FromStr;

use super::diagnostic::Code;
use super::model::{ACTIONS, DepartmentSystem, Schedule};
use super::raw::{RawSchedule, RawSystem};
use super::source_map::{child, item};
use super::validate::Cx;

/// Parses a 5-, 6- or 7-field cron text.
pub(super) fn parse(text: &str) -> Result<cron::Schedule, String> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let translated = match fields.len() {
        5 => format!(
            "0 {} {} {} {} {}",
            fields[0],
            fields[1],
            fields[2],
            fields[3],
            crontab_weekdays(fields[4])
        ),
        6 | 7 => fields.join(" "),
        n => {
            return Err(format!(
                "应当有 5 个字段（分 时 日 月 星期），这里有 {n} 个"
            ));
        }
    };
    cron::Schedule::from_str(&translated).map_err(|e| {
        // The crate's message repeats the (translated) text with a caret; the last line says why.
        let message = e.to_string();
        message
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("格式不对")
            .trim()
            .to_owned()
    })
}

/// Crontab weekday numbers (0/7 = Sunday … 6 = Saturday) → the `cron` crate's (1 = Sunday …
/// 7 = Saturday). Names (`Mon-Fri`) and `*` mean the same in both and are kept.
fn crontab_weekdays(field: &str) -> String {
    field
        .split(',')
        .map(weekday_item)
        .collect::<Vec<_>>()
        .join(",")
}

fn weekday_item(item: &str) -> String {
    let (range, step) = match item.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (item, None),
    };
    let shift = |n: &str| n.parse::<u32>().ok().filter(|n| *n <= 7).map(|n| n % 7 + 1);
    let translated = match range.split_once('-') {
        Some((a, b)) => match (shift(a), b.parse::<u32>().ok(), shift(b)) {
            // `5-7` (Friday to Sunday) would wrap around in the cron crate's numbering.
            (Some(a), Some(7), _) if step.is_none() => format!("{a}-7,1"),
            (Some(a), _, Some(b)) => format!("{a}-{b}"),
            _ => range.to_owned(),
        },
        None => shift(range).map_or_else(|| range.to_owned(), |n| n.to_string()),
    };
    match step {
        Some(s) => format!("{translated}/{s}"),
        None => translated,
    }
}

/// Builds the schedules, checking ids and cron texts.
pub(super) fn schedules(
    cx: &mut Cx<'_>,
    raw: Vec<RawSchedule>,
    indices: &[usize],
) -> Vec<Schedule> {
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for (s, i) in raw.into_iter().zip(indices) {
        let path = item("schedules", *i);
        let id = cx.required(s.id, &path, "id").unwrap_or_default();
        cx.unique(&mut seen, "定时任务", &id, &child(&path, "id"));
        let action = cx.required(s.action, &path, "action").unwrap_or_default();
        check_action(cx, &action, s.document.as_deref(), &path);
        let Some(cron_text) = cx.required(s.cron, &path, "cron") else {
            continue;
        };
        let effective = if s.workdays_only {
            match any_weekday(&cron_text) {
                Ok(text) => text,
                Err(field) => {
                    let at = child(&path, "cron");
                    cx.sink.push(
                        cx.map.value_pos(&at),
                        Code::Cron,
                        &at,
                        format!(
                            "`workdays_only: true` 时由工作日历决定哪天执行，星期字段不能写 `{field}`"
                        ),
                        Some(
                            "星期字段写 `*` 或 `1-5`（两者含义相同：工作日历中的每个工作日，含调休上班的周末）；只想在某几天执行就去掉 `workdays_only`".into(),
                        ),
                    );
                    continue;
                }
            }
        } else {
            cron_text.clone()
        };
        match parse(&effective) {
            Ok(cron) => out.push(Schedule {
                id,
                cron_text,
                cron,
                action,
                document: s.document,
                workdays_only: s.workdays_only,
                catch_up: s.catch_up,
            }),
            Err(why) => {
                let at = child(&path, "cron");
                cx.sink.push(
                    cx.map.value_pos(&at),
                    Code::Cron,
                    &at,
                    format!("定时表达式 `{cron_text}` 无法识别：{why}"),
                    Some(
                        "写 5 个字段：分 时 日 月 星期，例如 `0 17 * * 1-5` 表示工作日 17:00"
                            .into(),
                    ),
                );
            }
        }
    }
    out
}

/// The cron text with its weekday field made `*`, for `workdays_only` schedules whose days
/// the calendar decides; `Err(field)` when the weekday field says something else than
/// "Monday to Friday" or "any day" (the calendar could not honour it).
fn any_weekday(text: &str) -> Result<String, String> {
    let mut fields: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
    let at = match fields.len() {
        5 => 4,
        6 | 7 => 5,
        _ => return Ok(text.to_owned()), // reported by `parse`
    };
    let field = fields[at].to_ascii_lowercase();
    if matches!(field.as_str(), "*" | "?" | "1-5" | "mon-fri") {
        fields[at] = "*".into();
        Ok(fields.join(" "))
    } else {
        Err(fields[at].clone())
    }
}

/// Checks a schedule's action name and, for `push_tables`, its table document.
fn check_action(cx: &mut Cx<'_>, action: &str, document: Option<&str>, path: &str) {
    if action.is_empty() {
        return;
    }
    let at = child(path, "action");
    if !ACTIONS.contains(&action) {
        let hint = format!("可用的动作：{}", ACTIONS.join("、"));
        cx.sink.push(
            cx.map.value_pos(&at),
            Code::UnknownAction,
            &at,
            format!("定时任务的动作 `{action}` 不存在"),
            Some(hint),
        );
        return;
    }
    match document {
        Some(document) => {
            cx.reference(
                Code::UnknownDocument,
                "定时任务",
                "文书",
                document,
                &child(path, "document"),
            );
        }
        None if !cx.documents.iter().any(|d| d == "push_table") => {
            cx.sink.push(
                cx.map.value_pos(&at),
                Code::UnknownDocument,
                &at,
                format!("动作 `{action}` 要出具推送信息表，但 `documents:` 里没有 `push_table`"),
                Some("在 `documents:` 里加 `push_table`（推送信息表的模板），或在本定时任务写 `document: <文书>`".into()),
            );
        }
        None => {}
    }
}

/// Builds a department's `system:`; the URL must be http(s) and the secret's environment
/// variable name upper-case letters, digits and `_`.
pub(super) fn system(cx: &mut Cx<'_>, raw: RawSystem, path: &str) -> Option<DepartmentSystem> {
    let url = cx.required(raw.url, path, "url");
    let secret_env = cx.required(raw.secret_env, path, "secret_env");
    let (url, secret_env) = (url?, secret_env?);
    let mut ok = true;
    let lower = url.to_ascii_lowercase();
    let host = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .unwrap_or_default();
    if host.is_empty() || host.starts_with('/') || url.chars().any(char::is_whitespace) {
        let at = child(path, "url");
        cx.sink.push(
            cx.map.value_pos(&at),
            Code::System,
            &at,
            format!("部门系统地址 `{url}` 不是 http(s) 网址"),
            Some("写完整网址，例如 `https://yibao.example.gov.cn/lianban/messages`".into()),
        );
        ok = false;
    }
    let valid_name = secret_env
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && secret_env
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !valid_name {
        let at = child(path, "secret_env");
        cx.sink.push(
            cx.map.value_pos(&at),
            Code::System,
            &at,
            format!("`{secret_env}` 不是环境变量名"),
            Some("写保存签名密钥的环境变量名（大写字母、数字和下划线），例如 `LIANBAN_SECRET_YIBAO`；密钥本身不要写进定义文件".into()),
        );
        ok = false;
    }
    ok.then_some(DepartmentSystem { url, secret_env })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Utc, Weekday};

    #[test]
    fn five_fields_get_seconds_and_crontab_weekdays() {
        assert_eq!(crontab_weekdays("1-5"), "2-6");
        assert_eq!(crontab_weekdays("0,6"), "1,7");
        assert_eq!(crontab_weekdays("5-7"), "6-7,1");
        assert_eq!(crontab_weekdays("Mon-Fri"), "Mon-Fri");
        assert_eq!(crontab_weekdays("*"), "*");
        let schedule = parse("0 17 * * 1-5").expect("parses");
        let from = Utc
            .with_ymd_and_hms(2026, 11, 27, 18, 0, 0)
            .single()
            .expect("date"); // a Friday
        let next = schedule.after(&from).next().expect("fires");
        assert_eq!(
            (next.weekday(), next.format("%H:%M:%S").to_string()),
            (Weekday::Mon, "17:00:00".into())
        );
    }

    #[test]
    fn workdays_only_leaves_the_days_to_the_calendar() {
        assert_eq!(any_weekday("0 17 * * 1-5").as_deref(), Ok("0 17 * * *"));
        assert_eq!(
            any_weekday("0 0 17 * * Mon-Fri").as_deref(),
            Ok("0 0 17 * * *")
        );
        assert_eq!(any_weekday("0 17 * * *").as_deref(), Ok("0 17 * * *"));
        assert_eq!(any_weekday("0 17 * * 1"), Err("1".to_owned()));
    }

    #[test]
    fn six_and_seven_fields_pass_through() {
        assert!(parse("0 0 17 * * Mon-Fri").is_ok());
        assert!(parse("0 0 17 * * Mon-Fri 2027").is_ok());
    }

    #[test]
    fn bad_texts_are_errors() {
        for text in [
            "",
            "every day",
            "61 17 * * *",
            "0 25 * * 1-5",
            "0 17 * * * * * *",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
    }
}
