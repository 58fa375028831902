//! The shipped `cn-mainland` calendar against domain.md §6 (国办发明电〔2024〕12号 and
//! 〔2025〕7号), the arithmetic, and the diagnostics of a bad calendar file.

use chrono::{NaiveDate, TimeZone, Utc};

use super::*;
use crate::definition::model::SourceFile;

const SHIPPED: &str = include_str!("../../../../../processes/calendars/cn-mainland.yaml");

fn cn() -> Calendar {
    let file = SourceFile {
        path: "processes/calendars/cn-mainland.yaml".into(),
        text: SHIPPED.into(),
    };
    parse_calendar(&file).expect("the shipped calendar loads")
}

/// The shipped calendar without its `provisional:` rule: years without a notice are errors.
fn strict() -> Calendar {
    let file = SourceFile {
        path: "processes/calendars/cn-mainland.yaml".into(),
        text: SHIPPED.replace("provisional: cn-statutory-2025\n", ""),
    };
    let cal = parse_calendar(&file).expect("the shipped calendar loads");
    assert_eq!(cal.provisional_rule, None);
    cal
}

fn d(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test date")
}

#[test]
fn the_shipped_calendar_has_both_years_with_their_sources_and_248_working_days() {
    let cal = cn();
    assert_eq!(cal.name, "cn-mainland");
    let sources: Vec<_> = cal.years().map(|y| (y.year, y.source.as_str())).collect();
    assert_eq!(sources.len(), 2);
    assert!(
        sources[0].1.contains("国办发明电〔2024〕12号"),
        "{sources:?}"
    );
    assert!(
        sources[1].1.contains("国办发明电〔2025〕7号"),
        "{sources:?}"
    );
    for year in [2025, 2026] {
        let first = NaiveDate::from_ymd_opt(year, 1, 1).expect("date");
        let count = first
            .iter_days()
            .take_while(|day| day.year() == year)
            .filter(|day| cal.is_workday(*day).expect("data"))
            .count();
        assert_eq!(count, 248, "{year}");
    }
}

/// Each holiday block's first and last day off, the working days around it and every 调休
/// day, written out by hand from domain.md §6 (not derived from the file under test).
#[test]
fn every_holiday_edge_and_makeup_day_of_2025_and_2026() {
    let cal = cn();
    let expected = [
        // 2025 元旦 01-01 (Wed)
        ("2025-01-01", false),
        ("2025-01-02", true),
        // 春节 01-28 (Tue) … 02-04 (Tue); 调休 01-26 (Sun), 02-08 (Sat)
        ("2025-01-25", false),
        ("2025-01-26", true),
        ("2025-01-27", true),
        ("2025-01-28", false),
        ("2025-02-04", false),
        ("2025-02-05", true),
        ("2025-02-08", true),
        ("2025-02-09", false),
        // 清明 04-04 (Fri) … 04-06 (Sun)
        ("2025-04-03", true),
        ("2025-04-04", false),
        ("2025-04-06", false),
        ("2025-04-07", true),
        // 劳动节 05-01 (Thu) … 05-05 (Mon); 调休 04-27 (Sun)
        ("2025-04-27", true),
        ("2025-04-30", true),
        ("2025-05-01", false),
        ("2025-05-05", false),
        ("2025-05-06", true),
        // 端午 05-31 (Sat) … 06-02 (Mon)
        ("2025-05-30", true),
        ("2025-05-31", false),
        ("2025-06-02", false),
        ("2025-06-03", true),
        // 国庆、中秋 10-01 (Wed) … 10-08 (Wed); 调休 09-28 (Sun), 10-11 (Sat)
        ("2025-09-27", false),
        ("2025-09-28", true),
        ("2025-09-30", true),
        ("2025-10-01", false),
        ("2025-10-08", false),
        ("2025-10-09", true),
        ("2025-10-11", true),
        ("2025-10-12", false),
        ("2025-12-31", true),
        // 2026 元旦 01-01 (Thu) … 01-03 (Sat); 调休 01-04 (Sun)
        ("2026-01-01", false),
        ("2026-01-03", false),
        ("2026-01-04", true),
        ("2026-01-05", true),
        // 春节 02-15 (Sun) … 02-23 (Mon); 调休 02-14 (Sat), 02-28 (Sat)
        ("2026-02-13", true),
        ("2026-02-14", true),
        ("2026-02-15", false),
        ("2026-02-23", false),
        ("2026-02-24", true),
        ("2026-02-28", true),
        ("2026-03-01", false),
        // 清明 04-04 (Sat) … 04-06 (Mon)
        ("2026-04-03", true),
        ("2026-04-04", false),
        ("2026-04-06", false),
        ("2026-04-07", true),
        // 劳动节 05-01 (Fri) … 05-05 (Tue); 调休 05-09 (Sat)
        ("2026-04-30", true),
        ("2026-05-01", false),
        ("2026-05-05", false),
        ("2026-05-06", true),
        ("2026-05-09", true),
        ("2026-05-10", false),
        // 端午 06-19 (Fri) … 06-21 (Sun)
        ("2026-06-18", true),
        ("2026-06-19", false),
        ("2026-06-21", false),
        ("2026-06-22", true),
        // 中秋 09-25 (Fri) … 09-27 (Sun); 调休 09-20 (Sun)
        ("2026-09-19", false),
        ("2026-09-20", true),
        ("2026-09-24", true),
        ("2026-09-25", false),
        ("2026-09-27", false),
        ("2026-09-28", true),
        // 国庆 10-01 (Thu) … 10-07 (Wed); 调休 10-10 (Sat)
        ("2026-09-30", true),
        ("2026-10-01", false),
        ("2026-10-07", false),
        ("2026-10-08", true),
        ("2026-10-10", true),
        ("2026-10-11", false),
        ("2026-12-31", true),
    ];
    for (day, working) in expected {
        assert_eq!(cal.is_workday(d(day)), Ok(working), "{day}");
    }
}

#[test]
fn adding_working_days_skips_holidays_and_counts_makeup_days() {
    let cal = cn();
    let add = |from: &str, n: i64| cal.add_workdays(d(from), n).map(|x| x.to_string());
    let ok = |s: &str| Ok(s.to_owned());
    assert_eq!(add("2026-09-30", 1), ok("2026-10-08"));
    assert_eq!(add("2025-09-30", 1), ok("2025-10-09"));
    // The Friday before the 2025 break: the next working day is the 调休 Sunday.
    assert_eq!(add("2025-09-26", 1), ok("2025-09-28"));
    assert_eq!(add("2025-09-26", 2), ok("2025-09-29"));
    assert_eq!(add("2026-02-13", 1), ok("2026-02-14"));
    assert_eq!(add("2026-02-14", 1), ok("2026-02-24"));
    assert_eq!(add("2026-10-08", -1), ok("2026-09-30"));
    assert_eq!(add("2026-10-03", 0), ok("2026-10-03"));
    assert_eq!(add("2025-12-31", 1), ok("2026-01-04"));
    assert_eq!(add("2026-12-30", 1), ok("2026-12-31"));
}

#[test]
fn between_counts_after_the_first_day_up_to_the_last_and_inverts_add() {
    let cal = cn();
    let between = |a: &str, b: &str| cal.workdays_between(d(a), d(b));
    assert_eq!(between("2026-01-01", "2026-12-31"), Ok(248));
    assert_eq!(between("2025-01-01", "2025-12-31"), Ok(248));
    assert_eq!(between("2026-09-30", "2026-10-08"), Ok(1));
    assert_eq!(between("2026-10-08", "2026-09-30"), Ok(-1));
    assert_eq!(between("2026-03-02", "2026-03-02"), Ok(0));
    // A Monday: both directions invert.
    let start = d("2025-06-16");
    for day in start.iter_days().take(500) {
        if cal.is_workday(day).expect("data") {
            let n = cal.workdays_between(start, day).expect("data");
            assert_eq!(cal.add_workdays(start, n), Ok(day), "{day}");
            let back = cal.workdays_between(day, start).expect("data");
            assert_eq!(
                (back, cal.add_workdays(day, back)),
                (-n, Ok(start)),
                "{day}"
            );
        }
    }
}

#[test]
fn a_year_without_data_is_an_error_naming_it_never_a_guess() {
    let cal = strict();
    let err = cal.add_workdays(d("2026-12-31"), 1).expect_err("2027");
    assert!(matches!(
        err,
        CalendarError::NoDataForYear { year: 2027, .. }
    ));
    assert!(err.to_string().contains("2027 年"), "{err}");
    assert!(cal.is_workday(d("2024-12-31")).is_err());
    assert!(
        cal.workdays_between(d("2026-12-01"), d("2027-01-05"))
            .is_err()
    );
    // The start day is not counted, so it may lie in a year without data.
    assert_eq!(
        cal.workdays_between(d("2024-12-31"), d("2025-01-02")),
        Ok(1)
    );
}

#[test]
fn due_times_end_the_nth_working_day_in_beijing() {
    let cal = cn();
    let utc = |y, m, day, h, min| {
        Utc.with_ymd_and_hms(y, m, day, h, min, 0)
            .single()
            .expect("time")
    };
    // 2025-09-30 15:00 Beijing (the last working day before 国庆): due 2025-10-09 23:59:59.
    assert_eq!(
        cal.due_at(utc(2025, 9, 30, 7, 0), 1),
        Ok(utc(2025, 10, 9, 15, 59) + chrono::TimeDelta::seconds(59))
    );
    // 2026-09-30 17:30 UTC is already 10-01 in Beijing: one working day is still 10-08.
    assert_eq!(
        cal.due_at(utc(2026, 9, 30, 17, 30), 1),
        Ok(utc(2026, 10, 8, 15, 59) + chrono::TimeDelta::seconds(59))
    );
    assert!(strict().due_at(utc(2026, 12, 31, 2, 0), 1).is_err());
}

/// With `provisional: cn-statutory-2025` the years after 2026 count the law's days off and
/// say so; 2026 itself stays as published, and years before 2025 stay unknown.
#[test]
fn years_after_the_last_notice_are_counted_provisionally_and_marked() {
    let cal = cn();
    assert_eq!(cal.provisional_rule.as_deref(), Some(STATUTORY_2025));
    assert_eq!(cal.last_published(), Some(2026));
    assert!(!cal.is_provisional(d("2026-12-31")));
    assert!(cal.is_provisional(d("2027-01-04")));
    // 2027-01-01 (Fri) is 元旦; no 调休: Saturday 2027-01-09 stays off.
    assert_eq!(cal.is_workday(d("2027-01-01")), Ok(false));
    assert_eq!(cal.is_workday(d("2027-01-04")), Ok(true));
    assert_eq!(cal.is_workday(d("2027-01-09")), Ok(false));
    // 20 working days from Sunday 2026-12-06: 19 in December, 1-1 (Fri) off, then 1-4.
    assert_eq!(cal.add_workdays(d("2026-12-06"), 20), Ok(d("2027-01-04")));
    let y2027 = cal.year(2027).expect("provisional 2027");
    assert!(y2027.provisional && y2027.source.contains("暂定"));
    assert_eq!(cal.years().count(), 2, "published years only");
    assert!(cal.is_workday(d("2024-12-31")).is_err());
}

/// From 1 November the missing notice of next year is reported; a missing current year
/// always is.
#[test]
fn the_missing_notice_is_reported_from_the_first_of_november() {
    let cal = cn();
    assert_eq!(cal.missing_notice(d("2026-10-31")), None);
    assert_eq!(cal.missing_notice(d("2026-11-01")), Some(2027));
    assert_eq!(cal.missing_notice(d("2026-12-31")), Some(2027));
    assert_eq!(cal.missing_notice(d("2027-01-02")), Some(2027));
    assert_eq!(cal.missing_notice(d("2025-11-01")), None);
}

#[test]
fn an_unknown_provisional_rule_is_a_diagnostic() {
    let text = SHIPPED.replace("cn-statutory-2025", "guess");
    let file = SourceFile {
        path: "calendars/cn-mainland.yaml".into(),
        text,
    };
    let err = parse_calendar(&file).expect_err("unknown rule");
    let message = err.to_string();
    assert!(message.contains("不认识的暂定规则 `guess`"), "{message}");
}

fn diagnostics(text: &str) -> Vec<(usize, usize, &'static str)> {
    let file = SourceFile {
        path: "calendars/x.yaml".into(),
        text: text.into(),
    };
    let err = parse_calendar(&file).expect_err("has problems");
    err.diagnostics
        .iter()
        .map(|d| (d.line, d.column, d.code))
        .collect()
}

#[test]
fn every_problem_of_a_calendar_file_is_positioned() {
    let text = "\
years:
  2027:
    source: 测试
    holidays:
      - {name: 元旦, from: 2027-01-01, to: 2027-01-03}
      - {name: 错, from: 2027-02-30}
      - {name: 跨年, from: 2028-01-01}
      - {name: 重叠, from: 2027-01-03, to: 2027-01-04}
      - {name: 倒序, from: 2027-05-05, to: 2027-05-01}
    workdays: [2027-01-08, 2027-01-02, 2027-01-09, 2027-01-09, 1]
    extra: 1
  twenty:
    source: x
  2028:
    holidays: []
";
    assert_eq!(
        diagnostics(text),
        [
            (6, 25, "E-CALENDAR"),
            (7, 26, "E-CALENDAR"),
            (8, 9, "E-CALENDAR"),
            (9, 42, "E-CALENDAR"),
            (10, 16, "E-CALENDAR"),
            (10, 28, "E-CALENDAR"),
            (10, 52, "E-DUPLICATE-ID"),
            (10, 64, "E-CALENDAR"),
            (11, 5, "E-UNKNOWN-KEY"),
            (12, 3, "E-CALENDAR"),
            (15, 5, "E-MISSING-KEY"),
        ]
    );
}

#[test]
fn a_file_without_years_is_one_diagnostic() {
    assert_eq!(diagnostics("name: 空\n"), [(1, 1, "E-MISSING-KEY")]);
    assert_eq!(diagnostics("nmae: 空\nyears: {}\n").len(), 2);
}

#[test]
fn a_definition_gets_the_calendar_of_the_nearest_calendars_directory() {
    let templates = crate::documents::Templates::load(std::path::Path::new("../../templates"))
        .expect("templates");
    let demo = crate::definition::load_file(
        std::path::Path::new("../../processes/examples/demo.yaml"),
        &templates,
    )
    .expect("demo loads");
    let calendar = demo.calendar_data.expect("calendar resolved");
    assert_eq!(calendar.name, "cn-mainland");
    assert_eq!(calendar.file, "../../processes/calendars/cn-mainland.yaml");
}
