//! Provisional years: the days off that 《全国年节及纪念日放假办法》 itself fixes, for a year
//! whose State Council notice (放假调休安排) is not published yet.
//!
//! The law as amended in 2024 (国务院令第795号, in force from 2025-01-01) gives every citizen
//! these days off (第二条): 元旦 1 day (1 January), 春节 4 days (除夕 to 正月初三), 清明节
//! 1 day (the day of the 清明 solar term), 劳动节 2 days (1–2 May), 端午节 1 day (五月初五),
//! 中秋节 1 day (八月十五) and 国庆节 3 days (1–3 October). A holiday that falls on a Saturday
//! or Sunday is made up on a working day (第六条); the notice says which, and provisionally
//! it is the first weekday after the holiday's block. The 调休 working weekends the notice
//! adds every year are not invented: until it is published, Saturdays and Sundays stay off.
//!
//! The lunar dates (除夕, 端午, 中秋) come from ICU4X's Chinese calendar, which follows
//! GB/T 33661-2017 and agrees with the Purple Mountain Observatory's and the Hong Kong
//! Observatory's published tables. The 清明 solar term is not in that crate; its day is the
//! table [`QINGMING`] below, which bounds how far ahead provisional years reach.

use chrono::{Datelike, NaiveDate, Weekday};
use icu_calendar::types::Month;
use icu_calendar::{Date, Iso};

use super::{CalendarYear, Holiday};

/// The rule a calendar file names in `provisional:` to count years without a notice.
pub const STATUTORY_2025: &str = "cn-statutory-2025";

/// The first year the 2024 amendment (4-day 春节, 2-day 劳动节) applies to.
const FIRST_YEAR: i32 = 2025;

/// The day in April of the 清明 solar term (Beijing time), from the Purple Mountain
/// Observatory's 《中国天文年历》 / the Hong Kong Observatory's 二十四节气 tables. The
/// moment of the term drifts about 5 h 49 min later each year and a day earlier in leap
/// years, so in these years it falls on 4 April in leap years and the year after, and on
/// 5 April in the two years before a leap year; the last year listed is the last year the
/// calendar can count provisionally. Extend the table (and its test) before it runs out.
const QINGMING: &[(i32, u32)] = &[
    (2025, 4),
    (2026, 5),
    (2027, 5),
    (2028, 4),
    (2029, 4),
    (2030, 5),
    (2031, 5),
    (2032, 4),
    (2033, 4),
    (2034, 5),
    (2035, 5),
    (2036, 4),
    (2037, 4),
];

/// The source text of a provisional year, shown wherever a year's source is.
pub(super) fn source(year: i32) -> String {
    format!(
        "暂定：{year} 年节假日安排尚未公布，按《全国年节及纪念日放假办法》规定的假日计算，\
         不含调休"
    )
}

/// The provisional data of `year`, or `None` when the rule cannot count it (before the
/// 2024 amendment applies, or past the 清明 table).
pub(super) fn year(year: i32) -> Option<CalendarYear> {
    if year < FIRST_YEAR {
        return None;
    }
    let mut holidays = Vec::new();
    for (name, from, days) in statutory(year)? {
        let to = from.checked_add_days(chrono::Days::new(days - 1))?;
        holidays.push(Holiday {
            name: name.to_owned(),
            from,
            to,
        });
    }
    holidays.sort_by_key(|h| h.from);
    make_up_weekends(&mut holidays);
    let holidays = merge_overlapping(holidays);
    Some(CalendarYear {
        year,
        source: source(year),
        holidays,
        workdays: Default::default(),
        provisional: true,
    })
}

/// The law's holidays of `year`: name, first day, number of days.
fn statutory(year: i32) -> Option<[(&'static str, NaiveDate, u64); 7]> {
    let qingming = QINGMING
        .iter()
        .find(|(y, _)| *y == year)
        .and_then(|(_, day)| NaiveDate::from_ymd_opt(year, 4, *day))?;
    let fixed = |m, d| NaiveDate::from_ymd_opt(year, m, d);
    Some([
        ("元旦", fixed(1, 1)?, 1),
        ("春节", lunar(year, 1, 1)?.pred_opt()?, 4),
        ("清明节", qingming, 1),
        ("劳动节", fixed(5, 1)?, 2),
        ("端午节", lunar(year, 5, 5)?, 1),
        ("中秋节", lunar(year, 8, 15)?, 1),
        ("国庆节", fixed(10, 1)?, 3),
    ])
}

/// 第六条: every statutory day on a Saturday or Sunday is made up by a weekday off; here the
/// first weekday after the block that is not already off. Only days off lie between, so
/// the block is extended to it.
fn make_up_weekends(holidays: &mut [Holiday]) {
    let weekend = |day: &NaiveDate| matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
    for i in 0..holidays.len() {
        let (from, to) = (holidays[i].from, holidays[i].to);
        let owed = from
            .iter_days()
            .take_while(|d| *d <= to)
            .filter(weekend)
            .count();
        for _ in 0..owed {
            let off = |day: &NaiveDate| {
                weekend(day) || holidays.iter().any(|h| h.from <= *day && *day <= h.to)
            };
            let Some(day) = holidays[i].to.iter_days().skip(1).find(|d| !off(d)) else {
                return;
            };
            if day.year() == to.year() {
                holidays[i].to = day;
            }
        }
    }
}

/// Blocks that overlap become one, named for all of them: 中秋 on 1–3 October falls inside
/// 国庆, and a make-up day can reach into the next block.
fn merge_overlapping(holidays: Vec<Holiday>) -> Vec<Holiday> {
    let mut out: Vec<Holiday> = Vec::new();
    for h in holidays {
        match out.last_mut() {
            Some(last) if h.from <= last.to => {
                last.name = format!("{}、{}", last.name, h.name);
                last.to = last.to.max(h.to);
            }
            _ => out.push(h),
        }
    }
    out
}

/// The Gregorian date of lunar `month`/`day` (not a leap month) of the Chinese year that
/// starts in Gregorian `year`.
fn lunar(year: i32, month: u8, day: u8) -> Option<NaiveDate> {
    let date = Date::try_new_chinese_traditional(year, Month::new(month), day).ok()?;
    let iso = date.to_calendar(Iso);
    NaiveDate::from_ymd_opt(
        iso.year().extended_year(),
        u32::from(iso.month().ordinal),
        u32::from(iso.day_of_month().0),
    )
}

/// The last year [`year`] can count.
pub(super) fn last_year() -> i32 {
    QINGMING.last().map_or(FIRST_YEAR - 1, |(y, _)| *y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test date")
    }

    /// The lunar dates ICU4X computes match the State Council's notices: 春节 (除夕 the day
    /// before 初一), 端午 and 中秋 of 2024–2026, and 清明 of 2024's neighbours in the table.
    #[test]
    fn lunar_dates_match_the_published_notices() {
        // 2024: 春节 2-10 (除夕 2-9), 端午 6-10, 中秋 9-17 (国办发明电〔2023〕7号).
        assert_eq!(lunar(2024, 1, 1), Some(d("2024-02-10")));
        assert_eq!(lunar(2024, 5, 5), Some(d("2024-06-10")));
        assert_eq!(lunar(2024, 8, 15), Some(d("2024-09-17")));
        // 2025: 除夕 1-28, 端午 5-31, 中秋 10-6 (国办发明电〔2024〕12号).
        assert_eq!(lunar(2025, 1, 1), Some(d("2025-01-29")));
        assert_eq!(lunar(2025, 5, 5), Some(d("2025-05-31")));
        assert_eq!(lunar(2025, 8, 15), Some(d("2025-10-06")));
        // 2026: 春节 2-17, 端午 6-19, 中秋 9-25 (国办发明电〔2025〕7号).
        assert_eq!(lunar(2026, 1, 1), Some(d("2026-02-17")));
        assert_eq!(lunar(2026, 5, 5), Some(d("2026-06-19")));
        assert_eq!(lunar(2026, 8, 15), Some(d("2026-09-25")));
        // 2027: 春节 2-6, 端午 6-9, 中秋 9-15.
        assert_eq!(lunar(2027, 1, 1), Some(d("2027-02-06")));
        assert_eq!(lunar(2027, 5, 5), Some(d("2027-06-09")));
        assert_eq!(lunar(2027, 8, 15), Some(d("2027-09-15")));
    }

    /// 清明: the published notices put it on 2025-04-04 and 2026-04-05; every entry is the
    /// 4th or 5th, following the leap-year cycle the table's comment states.
    #[test]
    fn the_qingming_table_matches_the_notices_and_its_cycle() {
        assert!(QINGMING.contains(&(2025, 4)));
        assert!(QINGMING.contains(&(2026, 5)));
        for (i, (year, day)) in QINGMING.iter().enumerate() {
            assert_eq!(*year, FIRST_YEAR + i as i32, "the table has no gaps");
            let expected = if matches!(year % 4, 0 | 1) { 4 } else { 5 };
            assert_eq!(*day, expected, "清明 {year}");
        }
    }

    /// Each provisional year holds exactly the law's 13 days off, plus one weekday for each
    /// of them on a weekend, and no 调休 working day.
    #[test]
    fn a_provisional_year_has_the_statutory_days_and_their_make_up_days() {
        let y2027 = year(2027).expect("2027 is countable");
        assert!(y2027.provisional && y2027.workdays.is_empty());
        let blocks: Vec<(String, NaiveDate, NaiveDate)> = y2027
            .holidays
            .iter()
            .map(|h| (h.name.clone(), h.from, h.to))
            .collect();
        assert_eq!(
            blocks,
            vec![
                // 2027-01-01 is a Friday.
                ("元旦".to_owned(), d("2027-01-01"), d("2027-01-01")),
                // 除夕 Fri 2-5, 初一..初三 Sat 2-6 .. Mon 2-8: two weekend days → Tue, Wed.
                ("春节".to_owned(), d("2027-02-05"), d("2027-02-10")),
                // 清明 Mon 4-5.
                ("清明节".to_owned(), d("2027-04-05"), d("2027-04-05")),
                // 5-1 Sat, 5-2 Sun → Mon 5-3, Tue 5-4.
                ("劳动节".to_owned(), d("2027-05-01"), d("2027-05-04")),
                // 端午 Wed 6-9; 中秋 Wed 9-15.
                ("端午节".to_owned(), d("2027-06-09"), d("2027-06-09")),
                ("中秋节".to_owned(), d("2027-09-15"), d("2027-09-15")),
                // 10-1 Fri, 10-2 Sat, 10-3 Sun → Mon 10-4, Tue 10-5.
                ("国庆节".to_owned(), d("2027-10-01"), d("2027-10-05")),
            ]
        );
        assert_eq!(year(2024), None, "before the 2024 amendment applies");
        assert_eq!(year(last_year() + 1), None, "past the 清明 table");
    }

    /// The rule reproduces what a published notice must contain: every statutory day of
    /// 2025 and 2026 is a day off in the notices too.
    #[test]
    fn every_statutory_day_is_off_in_the_published_notices() {
        let published: &[(&str, &str)] = &[
            ("2025-01-01", "2025-01-01"),
            ("2025-01-28", "2025-02-04"),
            ("2025-04-04", "2025-04-06"),
            ("2025-05-01", "2025-05-05"),
            ("2025-05-31", "2025-06-02"),
            ("2025-10-01", "2025-10-08"),
            ("2026-01-01", "2026-01-03"),
            ("2026-02-15", "2026-02-23"),
            ("2026-04-04", "2026-04-06"),
            ("2026-05-01", "2026-05-05"),
            ("2026-06-19", "2026-06-21"),
            ("2026-09-25", "2026-09-27"),
            ("2026-10-01", "2026-10-07"),
        ];
        for y in [2025, 2026] {
            for (name, from, days) in statutory(y).expect("countable") {
                for day in from.iter_days().take(days as usize) {
                    let off = published.iter().any(|(a, b)| d(a) <= day && day <= d(b));
                    assert!(off, "{name} {day} is off in the {y} notice");
                }
            }
        }
    }
}
