//! Cron schedules: each loaded definition's `schedules:` fire in Beijing time (Asia/Shanghai),
//! each firing once across every replica sharing the database. [`run_due`] looks at one
//! instant: for every schedule it finds the latest firing at or before it (for
//! `workdays_only` schedules the latest on a working day of the definition's calendar) and
//! claims it by inserting its `schedule_runs` row; the replica whose insert succeeds runs
//! the action.
//!
//! A firing found more than [`GRACE`] late was missed (the service was down). It runs once
//! as a catch-up when the schedule says `catch_up: true`, and is recorded as skipped
//! otherwise; only the latest missed firing counts, so a long outage never causes a burst.
//! A schedule that has never run does not catch up firings from before it existed.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Asia::Shanghai;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::issuing;
use crate::{Engine, EngineError};
use lianban_core::definition::{Process, Schedule, StepKind};
use lianban_core::documents::table_draft;
use lianban_store::{NewPushTable, RunStatus, StoreError};

/// How late a firing may be found and still count as on time (not a catch-up).
pub const GRACE: Duration = Duration::minutes(5);

/// How far back a `workdays_only` schedule looks for its latest working day.
const LOOKBACK_FIRINGS: usize = 400;

/// What [`run_due`] did about one schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    /// Process id.
    pub process_id: String,
    /// Schedule id.
    pub schedule_id: String,
    /// The cron time.
    pub fire_time: DateTime<Utc>,
    /// How it ended here.
    pub status: RunStatus,
    /// Whether it made up for a missed firing.
    pub catch_up: bool,
    /// Why it failed.
    pub error: Option<String>,
    /// What the action did.
    pub result: Option<Value>,
}

/// Runs every schedule firing due at `now` that no replica has claimed yet, and returns
/// those this call ran, skipped or failed (firings claimed elsewhere are not listed).
///
/// # Errors
/// [`StoreError`] when the database fails; a failing action is recorded on its run and
/// reported in the returned [`Firing`], not as an error.
pub async fn run_due(engine: &Engine, now: DateTime<Utc>) -> Result<Vec<Firing>, StoreError> {
    let catalog = engine.catalog();
    let mut ids: Vec<&str> = catalog.iter().map(|p| p.id.as_str()).collect();
    ids.dedup();
    let mut fired = Vec::new();
    for id in ids {
        let Some(process) = catalog.latest(id) else {
            continue;
        };
        for schedule in &process.schedules {
            if let Some(firing) = fire(engine, &process, schedule, now).await? {
                fired.push(firing);
            }
        }
    }
    Ok(fired)
}

/// The latest firing at or before `now`, and why its day cannot be judged (a
/// `workdays_only` schedule in a year the calendar has no data for).
fn latest_firing(
    process: &Process,
    schedule: &Schedule,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, Option<String>)> {
    let after = (now + Duration::seconds(1)).with_timezone(&Shanghai);
    let mut firings = schedule.cron.after(&after);
    for _ in 0..LOOKBACK_FIRINGS {
        let at = firings.next_back()?;
        let utc = at.with_timezone(&Utc);
        if !schedule.workdays_only {
            return Some((utc, None));
        }
        let Some(calendar) = process.calendar_data.as_ref() else {
            let why = format!(
                "定时任务 `{}` 设置了 workdays_only，但流程 {} 没有设置工作日历（calendar），无法判断哪天是工作日",
                schedule.id, process.id
            );
            return Some((utc, Some(why)));
        };
        match calendar.is_workday(at.date_naive()) {
            Ok(true) => return Some((utc, None)),
            Ok(false) => {}
            Err(e) => return Some((utc, Some(e.to_string()))),
        }
    }
    None
}

async fn fire(
    engine: &Engine,
    process: &Process,
    schedule: &Schedule,
    now: DateTime<Utc>,
) -> Result<Option<Firing>, StoreError> {
    let Some((fire_time, unknown_day)) = latest_firing(process, schedule, now) else {
        return Ok(None);
    };
    let store = engine.store();
    let late = now - fire_time > GRACE;
    if late {
        let ever = store
            .jobs()
            .latest_schedule_run(&process.id, &schedule.id, now, &[])
            .await?;
        if ever.is_none() {
            return Ok(None); // a new schedule does not make up for firings before it existed
        }
    }
    let firing = |status, error: Option<String>, result| Firing {
        process_id: process.id.clone(),
        schedule_id: schedule.id.clone(),
        fire_time,
        status,
        catch_up: late,
        error,
        result,
    };
    if late && !schedule.catch_up && unknown_day.is_none() {
        let claimed = store
            .jobs()
            .claim_schedule_run(
                &process.id,
                &schedule.id,
                fire_time,
                RunStatus::Skipped,
                true,
                now,
            )
            .await?;
        if claimed.is_some() {
            tracing::warn!(process = %process.id, schedule = %schedule.id, %fire_time, "missed firing skipped (catch_up: false)");
        }
        return Ok(claimed.map(|_| firing(RunStatus::Skipped, None, None)));
    }
    let Some(run) = store
        .jobs()
        .claim_schedule_run(
            &process.id,
            &schedule.id,
            fire_time,
            RunStatus::Running,
            late,
            now,
        )
        .await?
    else {
        return Ok(None); // another replica (or an earlier call) has it
    };
    let outcome = match unknown_day {
        Some(why) => Err(why),
        None => run_action(engine, process, schedule, fire_time, run, now).await,
    };
    let (status, error, result) = match outcome {
        Ok(result) => (RunStatus::Finished, None, Some(result)),
        Err(why) => {
            tracing::error!(process = %process.id, schedule = %schedule.id, %fire_time, error = %why, "scheduled action failed");
            (RunStatus::Failed, Some(why), None)
        }
    };
    store
        .jobs()
        .finish_schedule_run(run, status, error.clone(), result.clone(), now)
        .await?;
    if status == RunStatus::Finished {
        tracing::info!(process = %process.id, schedule = %schedule.id, %fire_time, catch_up = late, "schedule fired");
    }
    Ok(Some(firing(status, error, result)))
}

/// Runs a schedule's action; `Err` carries the Chinese reason recorded on the run.
async fn run_action(
    engine: &Engine,
    process: &Process,
    schedule: &Schedule,
    fire_time: DateTime<Utc>,
    run: Uuid,
    now: DateTime<Utc>,
) -> Result<Value, String> {
    match schedule.action.as_str() {
        "push_tables" => push_tables(engine, process, schedule, fire_time, run, now)
            .await
            .map_err(|e| format!("生成推送信息表失败：{e}")),
        // The loader rejects unknown actions; a definition from an older engine might not.
        other => Err(format!("未知的定时动作 `{other}`")),
    }
}

/// Why `push_tables` failed.
#[derive(Debug, thiserror::Error)]
enum PushError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Render(#[from] lianban_core::documents::RenderError),
}

/// The task steps that receive a split's branches, by the department of their role: the
/// joint departments and what each is asked to do, read from the definition.
pub fn receiving_steps(process: &Process) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for step in process.steps.values() {
        let (StepKind::MultiChoice(split) | StepKind::Parallel(split)) = &step.kind else {
            continue;
        };
        for branch in &split.branches {
            let Some(StepKind::Task(task)) = process.step(&branch.to).map(|s| &s.kind) else {
                continue;
            };
            let Some(role) = process.roles.get(&task.role) else {
                continue;
            };
            let target = branch.to.to_string();
            match out.iter_mut().find(|(d, _)| *d == role.department) {
                Some((_, steps)) if !steps.contains(&target) => steps.push(target),
                Some(_) => {}
                None => out.push((role.department.clone(), vec![target])),
            }
        }
    }
    out
}

/// Issues, per receiving department, the table of the cases whose task for that
/// department was created since the schedule's last finished firing (or since the start of
/// the Beijing day, the first time) up to this firing.
async fn push_tables(
    engine: &Engine,
    process: &Process,
    schedule: &Schedule,
    fire_time: DateTime<Utc>,
    run: Uuid,
    now: DateTime<Utc>,
) -> Result<Value, PushError> {
    let store = engine.store();
    let day = fire_time.with_timezone(&Shanghai).date_naive();
    let before = fire_time - Duration::seconds(1);
    let previous = store
        .jobs()
        .latest_schedule_run(&process.id, &schedule.id, before, &[RunStatus::Finished])
        .await?;
    let window_start = match previous {
        Some(run) => run.fire_time,
        None => start_of_day(day).unwrap_or(fire_time - Duration::days(1)),
    };
    let key = schedule.document.as_deref().unwrap_or("push_table");
    let mut issued = Vec::new();
    for (department, steps) in receiving_steps(process) {
        let tasks = store
            .tasks()
            .created_between(&process.id, &steps, window_start, fire_time)
            .await?;
        let mut cases = Vec::new();
        for task in tasks {
            if !cases.contains(&task.case_id) {
                cases.push(task.case_id);
            }
        }
        if cases.is_empty() {
            continue;
        }
        let mut rows = Vec::with_capacity(cases.len());
        for case in cases {
            if let Some(record) = store.cases().get(case).await? {
                let state = record.state;
                rows.push(
                    json!({"case_id": case.to_string(), "number": state.number, "form": state.form, "data": state.data}),
                );
            }
        }
        let draft = table_draft(process, key, rows.clone(), &department, now)?;
        let mut unit = store.unit().await?;
        let rendered = issuing::render_numbered(&mut unit, &draft, &engine.templates()).await?;
        let new = NewPushTable {
            process_id: process.id.clone(),
            department: department.clone(),
            day,
            window_start,
            window_end: fire_time,
            rows,
            document: draft.key.clone(),
            name: draft.name.clone(),
            number: rendered.number,
            html: rendered.html,
            content_hash: rendered.content_hash,
            template_hash: rendered.template_hash,
            issued_at: draft.issued_at,
            run_id: Some(run),
        };
        let table = unit.insert_push_table(&new).await?;
        unit.commit().await?;
        // Counts only: the rows carry ID numbers, which stay out of logs.
        tracing::info!(process = %process.id, department = %department, number = ?table.number, rows = table.row_count, "push table issued");
        issued.push(json!({
            "id": table.id.to_string(),
            "department": department,
            "number": table.number,
            "rows": table.row_count,
        }));
    }
    Ok(json!({
        "day": day.to_string(),
        "window": [window_start.to_rfc3339(), fire_time.to_rfc3339()],
        "tables": issued,
    }))
}

/// 00:00 Beijing time of `day` (always exists: Beijing has no daylight saving time).
fn start_of_day(day: NaiveDate) -> Option<DateTime<Utc>> {
    day.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(Shanghai).earliest())
        .map(|t| t.with_timezone(&Utc))
}
