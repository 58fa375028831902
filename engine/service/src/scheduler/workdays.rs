//! `lianban workdays`: working-day questions answered from a calendar on disk, for the policy
//! officer checking a calendar and for clerks checking a deadline. The arithmetic itself is
//! [`Calendar`]'s; this module finds the calendar and words the answer.

use std::path::Path;

use chrono::{Datelike, NaiveDate};

use lianban_core::definition::{Calendar, CalendarError, LoadError, load_calendar};

/// A working-day question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// The date `n` working days after `from` (before it when negative).
    Add {
        /// Start date (not counted).
        from: NaiveDate,
        /// Working days to add.
        n: i64,
    },
    /// The working days after `from` up to and including `to`.
    Between {
        /// Start date (not counted).
        from: NaiveDate,
        /// End date (counted).
        to: NaiveDate,
    },
}

/// Why a working-day question has no answer.
#[derive(Debug, thiserror::Error)]
pub enum WorkdaysError {
    /// No file `<processes>/calendars/<name>.yaml`.
    #[error("没有名为 `{name}` 的工作日历（应在 {path}）；现有：{known}")]
    UnknownCalendar {
        /// The name asked for.
        name: String,
        /// Where it was looked for.
        path: String,
        /// The calendars that exist, for the message.
        known: String,
    },
    /// The calendar file has problems.
    #[error("工作日历有错误：\n{0}")]
    Load(#[from] LoadError),
    /// The count needs a year the calendar lacks.
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

/// The answer to a working-day question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// A date `YYYY-MM-DD` or a number of working days.
    pub value: String,
    /// Set when the count used a year whose holiday notice is not in the calendar yet
    /// (counted provisionally from the law's holidays): the 暂定 note to print beside it.
    pub provisional: Option<String>,
}

/// Answers `query` in the calendar `name` of `processes/calendars/`.
///
/// # Errors
/// [`WorkdaysError`]; a count into a year the calendar cannot count names the year.
pub fn answer(processes: &Path, name: &str, query: Query) -> Result<Answer, WorkdaysError> {
    let calendar = find(processes, name)?;
    let (value, last) = match query {
        Query::Add { from, n } => {
            let day = calendar.add_workdays(from, n)?;
            (day.to_string(), from.max(day))
        }
        Query::Between { from, to } => (
            calendar.workdays_between(from, to)?.to_string(),
            from.max(to),
        ),
    };
    let provisional = calendar.is_provisional(last).then(|| {
        let years: Vec<String> = calendar
            .provisional_years()
            .map(|y| y.year)
            .take_while(|y| *y <= last.year())
            .map(|y| format!("{y} 年"))
            .collect();
        format!(
            "暂定：{} 的节假日安排尚未录入工作日历，按《全国年节及纪念日放假办法》规定的假日和周末计算，不含调休",
            years.join("、")
        )
    });
    Ok(Answer { value, provisional })
}

fn find(processes: &Path, name: &str) -> Result<Calendar, WorkdaysError> {
    let dir = processes.join("calendars");
    let path = dir.join(format!("{name}.yaml"));
    if path.is_file() {
        return Ok(load_calendar(&path)?);
    }
    let mut known: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    known.sort();
    Err(WorkdaysError::UnknownCalendar {
        name: name.to_owned(),
        path: path.display().to_string(),
        known: if known.is_empty() {
            "无".into()
        } else {
            known.join("、")
        },
    })
}
