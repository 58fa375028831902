//! `lianban workdays`: working-day questions answered from a calendar on disk, for the policy
//! officer checking a calendar and for clerks checking a deadline. The arithmetic itself is
//! [`Calendar`]'s; this module finds the calendar and words the answer.

use std::path::Path;

use chrono::NaiveDate;

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

/// Answers `query` in the calendar `name` of `processes/calendars/`: a date `YYYY-MM-DD` or
/// a number of working days.
///
/// # Errors
/// [`WorkdaysError`]; a count into a year without data names the year.
pub fn answer(processes: &Path, name: &str, query: Query) -> Result<String, WorkdaysError> {
    let calendar = find(processes, name)?;
    Ok(match query {
        Query::Add { from, n } => calendar.add_workdays(from, n)?.to_string(),
        Query::Between { from, to } => calendar.workdays_between(from, to)?.to_string(),
    })
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
