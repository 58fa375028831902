//! Working-day calendars: the State Council's holidays and make-up working days (调休) per
//! year, as the policy officer writes them under `processes/calendars/`, and the arithmetic
//! over them. The arithmetic lives here, beside the data, because the pure runtime needs it
//! for task due times and may depend on nothing later than `definition`.
//!
//! A calendar never guesses: asking about a day of a year it holds no data for is a
//! [`CalendarError::NoDataForYear`] naming that year. The one exception is explicit: a file
//! that says `provisional: cn-statutory-2025` counts the years after its last published one
//! from the days 《全国年节及纪念日放假办法》 itself fixes (see `statutory`), and every
//! answer that touched such a year can say so ([`Calendar::is_provisional`]), so a deadline
//! counted from it is shown as 暂定 and counted again once the notice is added.

mod parse;
mod registry;
mod statutory;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Asia::Shanghai;

pub use parse::parse_calendar;
pub(super) use registry::resolve;
pub use registry::{Calendars, load_calendar, load_calendars};
pub(super) use registry::{calendars_near, load_dir, nearest_dir};
pub use statutory::STATUTORY_2025;

/// The local time at which a due day ends: the last second of the day, 二十四时 as the
/// Civil Code (第二百零三条) puts the end of a period's last day.
pub const DAY_ENDS: NaiveTime = match NaiveTime::from_hms_opt(23, 59, 59) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

/// One working-day calendar, e.g. `cn-mainland`, with the years it holds data for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// The name definitions use (`calendar: cn-mainland`): the file name without `.yaml`.
    pub name: String,
    /// Human title, from `name:` in the file.
    pub title: Option<String>,
    /// Path of the calendar file, for messages.
    pub file: String,
    years: BTreeMap<i32, CalendarYear>,
    /// The rule for years without a notice (`provisional:` in the file), if any.
    pub provisional_rule: Option<String>,
    /// The years after the last published one, counted by that rule.
    provisional: BTreeMap<i32, CalendarYear>,
}

/// One year of a calendar as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarYear {
    /// The year.
    pub year: i32,
    /// The notice the data comes from, e.g. 国办发明电〔2025〕7号.
    pub source: String,
    /// Days off, as published (they may include weekends).
    pub holidays: Vec<Holiday>,
    /// Weekend days that are working days (调休上班).
    pub workdays: BTreeSet<NaiveDate>,
    /// Counted from the law because the year's notice is not published yet (暂定).
    pub provisional: bool,
}

/// A block of consecutive days off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    /// e.g. 春节.
    pub name: String,
    /// First day off.
    pub from: NaiveDate,
    /// Last day off (the same as `from` for a single day).
    pub to: NaiveDate,
}

/// Why a working-day count could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The count reached a year the calendar holds no data for.
    #[error(
        "工作日历 `{calendar}` 没有 {year} 年的节假日数据（现有：{}），不能计算工作日；\
         国务院公布 {year} 年节假日安排后，请在工作日历文件中补充 {year} 年",
        years_text(have)
    )]
    NoDataForYear {
        /// The calendar.
        calendar: String,
        /// The year without data.
        year: i32,
        /// The years the calendar does have.
        have: Vec<i32>,
    },
    /// The count ran past the dates chrono can represent.
    #[error("日期超出可以计算的范围")]
    OutOfRange,
}

fn years_text(years: &[i32]) -> String {
    if years.is_empty() {
        return "无".into();
    }
    years
        .iter()
        .map(|y| format!("{y} 年"))
        .collect::<Vec<_>>()
        .join("、")
}

impl Calendar {
    /// A calendar of the published `years`; with a `provisional_rule` (only
    /// [`STATUTORY_2025`] is known) the years after the last of them up to the rule's
    /// horizon are counted provisionally.
    pub(crate) fn new(
        name: String,
        title: Option<String>,
        file: String,
        years: BTreeMap<i32, CalendarYear>,
        provisional_rule: Option<String>,
    ) -> Self {
        let provisional = match (&provisional_rule, years.keys().next_back()) {
            (Some(rule), Some(last)) if rule == STATUTORY_2025 => (last + 1
                ..=statutory::last_year())
                .map_while(|y| statutory::year(y).map(|data| (y, data)))
                .collect(),
            _ => BTreeMap::new(),
        };
        Calendar {
            name,
            title,
            file,
            years,
            provisional_rule,
            provisional,
        }
    }

    /// The data of `year`: as published, else counted provisionally, if the calendar can.
    pub fn year(&self, year: i32) -> Option<&CalendarYear> {
        self.years
            .get(&year)
            .or_else(|| self.provisional.get(&year))
    }

    /// Every year with published data, in order.
    pub fn years(&self) -> impl Iterator<Item = &CalendarYear> {
        self.years.values()
    }

    /// The years counted provisionally, in order.
    pub fn provisional_years(&self) -> impl Iterator<Item = &CalendarYear> {
        self.provisional.values()
    }

    /// The last year with a published notice.
    pub fn last_published(&self) -> Option<i32> {
        self.years.keys().next_back().copied()
    }

    /// Whether a count that reaches `date` used provisional days. Provisional years are
    /// the ones after the last published year, so a count between two dates touched one
    /// exactly when the later date lies in one.
    pub fn is_provisional(&self, date: NaiveDate) -> bool {
        self.provisional.contains_key(&date.year())
    }

    /// The year whose notice the policy officer should add by `today`: this year when it
    /// has none, and from 1 November on also next year, when it has none. `None` when
    /// nothing is missing yet.
    pub fn missing_notice(&self, today: NaiveDate) -> Option<i32> {
        let year = today.year();
        if !self.years.contains_key(&year) {
            return Some(year);
        }
        (today.month() >= 11 && !self.years.contains_key(&(year + 1))).then_some(year + 1)
    }

    /// Whether `date` is a working day: a 调休 working day, else not in a holiday block and
    /// not a Saturday or Sunday. A year without a notice is answered provisionally when the
    /// calendar has a rule for it (see [`Calendar::is_provisional`]).
    ///
    /// # Errors
    /// [`CalendarError::NoDataForYear`] when the calendar has no data for the date's year
    /// and cannot count it provisionally.
    pub fn is_workday(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        let year = self
            .year(date.year())
            .ok_or_else(|| self.no_data(date.year()))?;
        if year.workdays.contains(&date) {
            return Ok(true);
        }
        if year.holidays.iter().any(|h| h.from <= date && date <= h.to) {
            return Ok(false);
        }
        Ok(!matches!(date.weekday(), Weekday::Sat | Weekday::Sun))
    }

    /// The `n`-th working day after `date` (before it when `n` is negative); `date` itself
    /// is not counted, so `n = 0` returns `date` unchanged, working day or not.
    ///
    /// # Errors
    /// [`CalendarError::NoDataForYear`] when the count reaches a year without data.
    pub fn add_workdays(&self, date: NaiveDate, n: i64) -> Result<NaiveDate, CalendarError> {
        let mut left = n.unsigned_abs();
        let mut day = date;
        while left > 0 {
            day = if n > 0 {
                day.succ_opt()
            } else {
                day.pred_opt()
            }
            .ok_or(CalendarError::OutOfRange)?;
            if self.is_workday(day)? {
                left -= 1;
            }
        }
        Ok(day)
    }

    /// The number of working days from `a` to `b`: those after `a` up to and including `b`
    /// (the first day is not counted, as a period runs from the day after it starts). When
    /// `b` is before `a` the count is negative: minus the working days from `b` up to but
    /// excluding `a`. So `add_workdays(a, workdays_between(a, b)) == b` for every working
    /// day `b`.
    ///
    /// # Errors
    /// [`CalendarError::NoDataForYear`] when a counted day is in a year without data.
    pub fn workdays_between(&self, a: NaiveDate, b: NaiveDate) -> Result<i64, CalendarError> {
        let (first, last, sign) = if a <= b {
            (a.succ_opt(), Some(b), 1)
        } else {
            (Some(b), a.pred_opt(), -1)
        };
        let (Some(first), Some(last)) = (first, last) else {
            return Err(CalendarError::OutOfRange);
        };
        let mut count = 0;
        for day in first.iter_days().take_while(|d| *d <= last) {
            if self.is_workday(day)? {
                count += 1;
            }
        }
        Ok(sign * count)
    }

    /// When something created at `created` and given `n` working days is due: the end
    /// ([`DAY_ENDS`], Beijing time) of the `n`-th working day after the creation date in
    /// Beijing. A task created on Friday afternoon with one working day is due at the end of
    /// the next working day, which after a holiday block is the first day back.
    ///
    /// # Errors
    /// [`CalendarError::NoDataForYear`] when the count reaches a year without data.
    pub fn due_at(&self, created: DateTime<Utc>, n: u32) -> Result<DateTime<Utc>, CalendarError> {
        let start = created.with_timezone(&Shanghai).date_naive();
        let day = self.add_workdays(start, i64::from(n))?;
        let local = day
            .and_time(DAY_ENDS)
            .and_local_timezone(Shanghai)
            .earliest()
            .ok_or(CalendarError::OutOfRange)?;
        Ok(local.with_timezone(&Utc))
    }

    fn no_data(&self, year: i32) -> CalendarError {
        CalendarError::NoDataForYear {
            calendar: self.name.clone(),
            year,
            have: self.years.keys().copied().collect(),
        }
    }
}

impl fmt::Display for Calendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let years: Vec<i32> = self.years.keys().copied().collect();
        write!(f, "工作日历 `{}`（{}）", self.name, years_text(&years))
    }
}
