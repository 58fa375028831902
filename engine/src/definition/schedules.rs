//! Schedules and their cron expressions as policy officers write them. The ordinary 5-field crontab form
//! (`min hour day month weekday`, weekday 0–7 with 0 and 7 = Sunday) is translated for the
//! `cron` crate, which wants a leading seconds field and counts weekdays 1–7 from Sunday;
//! 6- and 7-field texts are the `cron` crate's own form and pass through unchanged.

use std::collections::HashMap;
use std::str::FromStr;

use super::diagnostic::Code;
use super::model::Schedule;
use super::raw::RawSchedule;
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
        let Some(cron_text) = cx.required(s.cron, &path, "cron") else {
            continue;
        };
        match parse(&cron_text) {
            Ok(cron) => out.push(Schedule {
                id,
                cron_text,
                cron,
                action,
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
