//! The casebook: runs the example cases written next to each definition (`tests:` and the
//! sibling `*.tests.yaml`) — `lianban test` and the test suite both call [`run_paths`].
//!
//! Each example is evaluated like `lianban evaluate` and its `expect:` checked (`expect`);
//! when it has a `run:`, the flow is driven through the service — the same [`Engine`] calls
//! `serve` makes, on a throwaway SQLite database — and `expect_run:` checked (`drive`). So
//! an example sees exactly what a case would: the runtime's decisions, the documents the
//! service issues and numbers, and the store's refusals. Failures say what was expected and
//! what was found, in Chinese, so a policy officer can fix the definition or the example.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use serde_json::Value;

use crate::Engine;
use crate::scheduler::ManualClock;
use lianban_core::definition::{Catalog, Example, LoadError, Process, load_paths};
use lianban_core::documents::Templates;
use lianban_store::{Store, StoreError, StoreOptions, Synchronous};

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

/// Why the examples could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum CasebookError {
    /// A definition (or its examples) does not load: nothing is run then.
    #[error("{0}")]
    Load(#[from] LoadError),
    /// The throwaway database the examples run on could not be made.
    #[error("示例用的临时数据库无法创建：{0}")]
    Store(#[from] StoreError),
    /// Its directory could not be made.
    #[error("示例用的临时目录无法创建：{0}")]
    Io(#[from] std::io::Error),
}

/// Loads every definition under `paths` and runs all their examples.
///
/// # Errors
/// [`CasebookError`]: nothing is run then.
pub async fn run_paths(paths: &[PathBuf], templates: Templates) -> Result<Report, CasebookError> {
    let processes = load_paths(paths, &templates)?;
    run_processes(&processes, Arc::new(templates)).await
}

/// Runs every example of `processes`, in order, each as a case of its own.
///
/// # Errors
/// [`CasebookError`] when the database the examples run on cannot be made.
pub async fn run_processes(
    processes: &[Process],
    templates: Arc<Templates>,
) -> Result<Report, CasebookError> {
    let sandbox = Sandbox::open(processes, templates).await?;
    let mut report = Report::default();
    // A base's examples run through every definition extending it (they inherit them).
    for process in processes.iter().filter(|p| !p.is_abstract) {
        for example in &process.tests {
            report
                .cases
                .push(sandbox.run_example(process, example).await);
        }
    }
    Ok(report)
}

/// The service the examples run through: an [`Engine`] over a SQLite file in a temporary
/// directory (removed when this is dropped), on a clock each example sets.
struct Sandbox {
    engine: Engine,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

impl Sandbox {
    async fn open(
        processes: &[Process],
        templates: Arc<Templates>,
    ) -> Result<Sandbox, CasebookError> {
        let dir = tempfile::tempdir()?;
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("examples.db").display()
        );
        // Nothing here outlives the run: a power cut may take the last commits with it.
        let options = StoreOptions {
            sqlite_synchronous: Synchronous::Normal,
            ..StoreOptions::default()
        };
        let store = Store::connect_with(&url, options).await?;
        store.migrate().await?;
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let engine = Engine::new(
            store,
            Catalog::new(processes.to_vec()),
            templates,
            Arc::clone(&clock) as Arc<dyn crate::scheduler::Clock>,
        );
        Ok(Sandbox {
            engine,
            clock,
            _dir: dir,
        })
    }

    /// Runs one example of `process`.
    async fn run_example(&self, process: &Process, example: &Example) -> CaseResult {
        let now = clock(example.at);
        let today = now.with_timezone(&Shanghai).date_naive();
        let mut failures = expect::check(process, example, today);
        if !example.run.is_empty() || example.expect_run.is_some() {
            self.clock.set(now);
            failures.extend(drive::drive(&self.engine, process, example).await);
        }
        CaseResult {
            process: process.id.clone(),
            name: example.name.clone(),
            location: format!("{}:{}", example.file, example.line),
            failures,
        }
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
