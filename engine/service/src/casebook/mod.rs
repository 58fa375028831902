//! The casebook: runs the example cases written next to each definition (`tests:` and the
//! sibling `*.tests.yaml`) — `lianban test` and the test suite both call [`run_paths`].
//!
//! Each example is evaluated like `lianban evaluate` and its `expect:` checked (`expect`);
//! when it has a `run:`, the flow is driven in memory with the pure runtime — no database —
//! and `expect_run:` checked (`drive`). Failures say what was expected and what was found,
//! in Chinese, so a policy officer can fix the definition or the example.

use std::fmt;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use serde_json::Value;

use lianban_core::definition::{Example, LoadError, Process, load_paths};
use lianban_core::documents::Templates;

mod drive;
mod expect;

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What was checked, in words (e.g. `retirement.date`, `办结结果`).
    pub what: String,
    /// What the example expects.
    pub expected: String,
    /// What was found.
    pub actual: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}：期望 {}，实际 {}",
            self.what, self.expected, self.actual
        )
    }
}

/// The outcome of one example case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// Process id.
    pub process: String,
    /// Example name.
    pub name: String,
    /// File and line the example is written at.
    pub location: String,
    /// What did not hold; empty when the example passed.
    pub failures: Vec<Failure>,
}

impl CaseResult {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Every example's result, in definition and file order.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// One result per example.
    pub cases: Vec<CaseResult>,
}

impl Report {
    /// How many examples passed.
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|c| c.passed()).count()
    }

    /// How many examples failed.
    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }
}

impl fmt::Display for Report {
    /// Every failing example with its failures, then exactly `N passed, M failed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for case in self.cases.iter().filter(|c| !c.passed()) {
            writeln!(
                f,
                "失败  {}「{}」（{}）",
                case.process, case.name, case.location
            )?;
            for failure in &case.failures {
                writeln!(f, "  {failure}")?;
            }
        }
        write!(f, "{} passed, {} failed", self.passed(), self.failed())
    }
}

/// Loads every definition under `paths` and runs all their examples.
///
/// # Errors
/// [`LoadError`] when a definition (or its examples) does not load: nothing is run then.
pub fn run_paths(paths: &[PathBuf], templates: &Templates) -> Result<Report, LoadError> {
    let processes = load_paths(paths, templates)?;
    let mut report = Report::default();
    for process in &processes {
        for example in &process.tests {
            report.cases.push(run_example(process, example, templates));
        }
    }
    Ok(report)
}

/// Runs one example of `process`.
pub fn run_example(process: &Process, example: &Example, templates: &Templates) -> CaseResult {
    let now = clock(example.at);
    let today = now.with_timezone(&Shanghai).date_naive();
    let mut failures = expect::check(process, example, today);
    if !example.run.is_empty() || example.expect_run.is_some() {
        failures.extend(drive::drive(process, example, templates, now));
    }
    CaseResult {
        process: process.id.clone(),
        name: example.name.clone(),
        location: format!("{}:{}", example.file, example.line),
        failures,
    }
}

/// The example's clock: 09:00 Beijing time on its `at` date, or now.
fn clock(at: Option<NaiveDate>) -> DateTime<Utc> {
    at.and_then(|date| date.and_hms_opt(9, 0, 0))
        .and_then(|local| Shanghai.from_local_datetime(&local).single())
        .map_or_else(Utc::now, |local| local.with_timezone(&Utc))
}

/// A value as an example would write it, for messages: JSON, strings with their quotes.
fn shown(value: Option<&Value>) -> String {
    match value {
        None => "（无）".to_owned(),
        Some(value) => value.to_string(),
    }
}

/// Equality as an example means it: numbers compare by value (`60` equals `60.0`).
fn same(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
        }
        _ => expected == actual,
    }
}
