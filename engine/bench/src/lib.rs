//! `lianban bench`: the standard workload on real, fresh databases, printed as one line per
//! figure (`name: value unit`), with progress on standard error.
//!
//! Figures, per database setting (`sqlite_full`, `sqlite_normal`, `postgres`) and
//! concurrency `cN`:
//! - `cases_per_s` / `tasks_per_s`: completed cases (and their three tasks) per second through
//!   the [`Engine`](lianban_service::Engine);
//! - `native_cases_per_s`: the same rows in the same transactions written straight through
//!   the database's own client (rusqlite, tokio-postgres pipelined), a commit per
//!   transition; `native_grouped_cases_per_s`: the same grouped as the engine's writer groups
//!   them (see `native`); `engine_vs_native`, the engine ÷ the better of the two, is the
//!   headline ratio: how much of what the database allows the engine reaches;
//! - `raw_cases_per_s`: a diagnostic, the same rows through a sqlx pool set up and queued
//!   like the store's, a statement per call, and `engine_vs_raw`;
//! - `handoff_p50_ms` / `handoff_p99_ms`: from "complete 受理" until the next department's
//!   inbox shows the new task;
//! - `inbox_p50_ms` / `inbox_p99_ms`: the inbox query on a seeded database of many cases
//!   and open tasks;
//! - `serve_rss_mb`: peak RSS of a real `lianban serve` on a database of open cases;
//! - `definitions.load_100_ms`: loading and validating 100 definitions.
//!
//! Timing lives here only; tests never assert on it.

mod databases;
pub mod inbox;
mod native;
mod rss;
mod workload;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use lianban_core::definition::{Catalog, Process, SourceFile, load_sources};
use lianban_core::documents::Templates;
use lianban_service::Engine;
use lianban_store::{StoreOptions, Synchronous};

pub use databases::{FreshDb, Target};

/// The embedded standard workload definition (not under `processes/`, so `serve` never
/// loads it by accident).
pub const STANDARD_YAML: &str = include_str!("standard.yaml");

/// Process id of the standard workload.
pub const STANDARD_PROCESS: &str = "bench.standard";

/// What `lianban bench` runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// PostgreSQL server URL (a fresh database is created on it and dropped afterwards);
    /// `None`: SQLite only.
    pub postgres: Option<String>,
    /// Cases per workload run.
    pub cases: usize,
    /// Concurrency levels, e.g. `[1, 16]`.
    pub concurrency: Vec<usize>,
    /// Cases seeded for the inbox figure (0 skips it).
    pub inbox_cases: u64,
    /// Of those, cases with an open task.
    pub inbox_open: u64,
    /// Inbox queries timed per database.
    pub inbox_queries: usize,
    /// Open cases for the serve RSS figure (0 skips it).
    pub rss_cases: u64,
    /// The `lianban` binary for the RSS figure (normally the running one).
    pub binary: Option<PathBuf>,
}

/// One printed figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Dotted name, e.g. `sqlite_normal.c16.cases_per_s`.
    pub name: String,
    /// The value.
    pub value: f64,
    /// Unit, e.g. `cases/s`.
    pub unit: &'static str,
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Rates are whole numbers; milliseconds and ratios need their decimals.
        if self.unit.ends_with("/s") || self.unit == "MB" {
            write!(f, "{}: {:.0} {}", self.name, self.value, self.unit)
        } else {
            write!(f, "{}: {:.2} {}", self.name, self.value, self.unit)
        }
    }
}

/// Runs every figure the options ask for, handing each to `out` as soon as it is known.
///
/// # Errors
/// When a database cannot be created or the workload fails (a failed workload is a bug:
/// the figures would be meaningless).
pub async fn run(options: &Options, out: &mut (dyn FnMut(&Figure) + Send)) -> anyhow::Result<()> {
    let process = standard_process()?;
    let mut targets = vec![
        Target::Sqlite(Synchronous::Full),
        Target::Sqlite(Synchronous::Normal),
    ];
    if let Some(server) = &options.postgres {
        targets.push(Target::Postgres(databases::plaintext(server)?));
    }
    for target in &targets {
        for &c in &options.concurrency {
            workload_figures(target, &process, options.cases, c.max(1), out).await?;
        }
        if options.inbox_cases > 0 {
            let db = FreshDb::create(target).await?;
            let result = inbox::figures(&db, target, &process, options, out).await;
            db.remove().await;
            result?;
        }
    }
    if options.rss_cases > 0 {
        rss::figure(&process, options, out).await?;
    }
    definitions_figure(out)?;
    Ok(())
}

async fn workload_figures(
    target: &Target,
    process: &Process,
    cases: usize,
    concurrency: usize,
    out: &mut (dyn FnMut(&Figure) + Send),
) -> anyhow::Result<()> {
    let prefix = format!("{}.c{concurrency}", target.name());
    let engine_db = FreshDb::create(target).await?;
    let engine_result = async {
        let engine = engine_on(&engine_db, target, process).await?;
        workload::engine_run(&engine, cases, concurrency, &prefix).await
    }
    .await;
    engine_db.remove().await;
    let engine = engine_result?;
    let raw_db = FreshDb::create(target).await?;
    let raw_result = async {
        // The store migrates and registers the definition; the rows are then written
        // through the bench's own pool, set up like the store's (see `RawDb`).
        let store = raw_db.store(target).await?;
        store.definitions().register(process).await?;
        store.close().await?;
        let raw = Arc::new(raw_db.raw(target).await?);
        workload::raw_run(&raw, process, &engine.state, cases, concurrency, &prefix).await
    }
    .await;
    raw_db.remove().await;
    let raw = raw_result?;
    let native = native_run(target, process, &engine.state, cases, concurrency, false).await?;
    let grouped = native_run(target, process, &engine.state, cases, concurrency, true).await?;

    // The profile behind the ratio: where an engine case's time goes, call by call, beside
    // a raw case's (on standard error: it explains the figures, it is not one).
    let per_case = |d: Duration| d.as_secs_f64() * 1000.0 / cases.max(1) as f64;
    let b = &engine.breakdown;
    eprintln!(
        "  {prefix} profile, ms per case (summed over workers): start {:.2}, 3 inbox lists {:.2}, \
         3 claims {:.2}, 3 completions {:.2}; raw case (7 transactions) {:.2} wall",
        per_case(b.start),
        per_case(b.lists),
        per_case(b.claims),
        per_case(b.completions),
        per_case(raw) * concurrency as f64,
    );
    let engine_rate = per_second(cases, engine.elapsed);
    let raw_rate = per_second(cases, raw);
    let figure = |name: &str, value: f64, unit| Figure {
        name: format!("{prefix}.{name}"),
        value,
        unit,
    };
    out(&figure("cases_per_s", engine_rate, "cases/s"));
    out(&figure(
        "tasks_per_s",
        per_second(cases * workload::TASKS_PER_CASE, engine.elapsed),
        "tasks/s",
    ));
    let native_rate = per_second(cases, native);
    let grouped_rate = per_second(cases, grouped);
    out(&figure("native_cases_per_s", native_rate, "cases/s"));
    out(&figure(
        "native_grouped_cases_per_s",
        grouped_rate,
        "cases/s",
    ));
    out(&figure(
        "engine_vs_native",
        ratio(engine_rate, native_rate.max(grouped_rate)),
        "ratio",
    ));
    out(&figure("raw_cases_per_s", raw_rate, "cases/s"));
    out(&figure(
        "engine_vs_raw",
        ratio(engine_rate, raw_rate),
        "ratio",
    ));
    let mut handoff = engine.handoff;
    out(&figure(
        "handoff_p50_ms",
        percentile_ms(&mut handoff, 50.0),
        "ms",
    ));
    out(&figure(
        "handoff_p99_ms",
        percentile_ms(&mut handoff, 99.0),
        "ms",
    ));
    Ok(())
}

/// The native bound on a fresh database of `target` (see `native`): a commit per
/// transition, or `grouped` as the engine's writer groups them at `concurrency`.
async fn native_run(
    target: &Target,
    process: &Process,
    state: &serde_json::Value,
    cases: usize,
    concurrency: usize,
    grouped: bool,
) -> anyhow::Result<Duration> {
    let db = FreshDb::create(target).await?;
    let result = async {
        let store = db.store(target).await?;
        store.definitions().register(process).await?;
        store.close().await?;
        let hash = &process.content_hash;
        match (target, db.sqlite_path()) {
            (Target::Sqlite(synchronous), Some(path)) => {
                let group = if grouped { concurrency } else { 1 };
                native::sqlite_run(&path, *synchronous, hash, state, cases, group).await
            }
            _ => native::postgres_run(&db.url, hash, state, cases, concurrency, grouped).await,
        }
    }
    .await;
    db.remove().await;
    result
}

fn ratio(engine: f64, bound: f64) -> f64 {
    if bound > 0.0 { engine / bound } else { 0.0 }
}

/// An engine over a fresh database, with the standard process registered.
async fn engine_on(db: &FreshDb, target: &Target, process: &Process) -> anyhow::Result<Engine> {
    let store = db.store(target).await?;
    store.definitions().register(process).await?;
    Ok(Engine::new(
        store,
        Catalog::new(vec![process.clone()]),
        Arc::new(Templates::empty()),
        Arc::new(lianban_service::scheduler::SystemClock),
    ))
}

/// Store options of a target: serve's defaults, with the target's `synchronous`.
fn store_options(target: &Target) -> StoreOptions {
    match target {
        Target::Sqlite(synchronous) => StoreOptions {
            sqlite_synchronous: *synchronous,
            ..StoreOptions::default()
        },
        Target::Postgres(_) => StoreOptions::default(),
    }
}

/// The standard workload's definition, loaded and validated by the real loader.
///
/// # Errors
/// When the embedded definition does not load (a bug in this build).
pub fn standard_process() -> anyhow::Result<Process> {
    load_sources(
        &[SourceFile {
            path: "bench/standard.yaml".to_owned(),
            text: STANDARD_YAML.to_owned(),
        }],
        &Templates::empty(),
    )
    .map_err(|e| anyhow::anyhow!("内置基准流程无法加载：{e}"))
}

/// Load-and-validate time of 100 definitions (the standard one under 100 ids).
fn definitions_figure(out: &mut (dyn FnMut(&Figure) + Send)) -> anyhow::Result<()> {
    let templates = Templates::empty();
    let sources: Vec<SourceFile> = (0..100)
        .map(|i| SourceFile {
            path: format!("bench/standard{i}.yaml"),
            text: STANDARD_YAML.replace(
                &format!("id: {STANDARD_PROCESS}\n"),
                &format!("id: {STANDARD_PROCESS}{i}\n"),
            ),
        })
        .collect();
    let started = Instant::now();
    for source in &sources {
        load_sources(std::slice::from_ref(source), &templates)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| source.path.clone())?;
    }
    out(&Figure {
        name: "definitions.load_100_ms".to_owned(),
        value: started.elapsed().as_secs_f64() * 1000.0,
        unit: "ms",
    });
    Ok(())
}

fn per_second(n: usize, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}

/// The `p`th percentile (nearest rank) in milliseconds; 0 for no samples.
fn percentile_ms(samples: &mut [Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_unstable();
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    let index = rank.clamp(1, samples.len()) - 1;
    samples[index].as_secs_f64() * 1000.0
}

/// Progress on standard error, about every tenth of the way.
fn progress(label: &str, done: usize, total: usize) {
    let step = (total / 10).max(1);
    if done.is_multiple_of(step) || done == total {
        eprintln!("  {label}: {done}/{total}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert!((percentile_ms(&mut samples, 50.0) - 50.0).abs() < 1e-9);
        assert!((percentile_ms(&mut samples, 99.0) - 99.0).abs() < 1e-9);
        assert!((percentile_ms(&mut [], 99.0)).abs() < 1e-9);
    }

    #[test]
    fn figures_print_as_name_value_unit() {
        let rate = Figure {
            name: "sqlite_full.c1.cases_per_s".into(),
            value: 1234.4,
            unit: "cases/s",
        };
        assert_eq!(rate.to_string(), "sqlite_full.c1.cases_per_s: 1234 cases/s");
        let ms = Figure {
            name: "x.inbox_p99_ms".into(),
            value: 12.5,
            unit: "ms",
        };
        assert_eq!(ms.to_string(), "x.inbox_p99_ms: 12.50 ms");
    }

    #[test]
    fn the_standard_definition_loads() {
        let process = standard_process().expect("loads");
        assert_eq!(process.id, STANDARD_PROCESS);
    }
}
