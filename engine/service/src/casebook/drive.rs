//! `run:` and `expect_run:` — the flow driven through the service as actor `测试` at the
//! example's clock: `complete` claims and completes the open task at a step, as a clerk of
//! that step (`测试·<step>`, so steps kept apart by `not_same_as` are done by different
//! people, as they must be); `deliver` and `cancel` act on the case. Every call is the one `serve` makes for a clerk, so the
//! runtime decides (including refusing a second supplement request without a reason), the
//! service issues and numbers the documents and the store saves — a template that fails on
//! a real flow fails the example as it would fail the clerk's click.

use std::collections::BTreeSet;

use super::{Failure, same, shown};
use crate::{Engine, EngineError};
use lianban_core::definition::{Example, Process, RunAction};
use lianban_core::runtime::{self, Actor, CaseId, CaseState, CaseStatus, TaskStatus};

/// Runs `example.run` as a new case and checks `example.expect_run`.
pub(super) async fn drive(engine: &Engine, process: &Process, example: &Example) -> Vec<Failure> {
    let actor = Actor {
        user: "测试".into(),
        department: None,
        on_behalf_of: None,
    };
    let mut failures = Vec::new();
    let started = engine
        .start_case(
            &process.id,
            example.input.clone(),
            example.materials.clone(),
            &actor,
        )
        .await;
    let case = match started {
        Ok(case) => case,
        Err(error) => {
            return vec![Failure {
                what: "开始办件".into(),
                expected: "成功".into(),
                actual: error.to_string(),
            }];
        }
    };
    for (index, action) in example.run.iter().enumerate() {
        if let Err(actual) = act(engine, case, action, &actor).await {
            failures.push(Failure {
                what: format!("run 第{}步（{}）", index + 1, describe(action)),
                expected: "成功".into(),
                actual,
            });
            // Later steps would only fail for the same reason.
            return failures;
        }
    }
    let Some(expect) = &example.expect_run else {
        return failures;
    };
    let (state, documents) = match outcome(engine, case).await {
        Ok(found) => found,
        Err(actual) => {
            failures.push(failure("办件", "可以读取", &actual));
            return failures;
        }
    };
    if let Some(result) = &expect.result {
        let actual = result_word(&state.status);
        if &actual != result {
            failures.push(failure("办件结果", result, &actual));
        }
    }
    if let Some(steps) = &expect.open_tasks {
        let expected: BTreeSet<String> = steps.iter().map(ToString::to_string).collect();
        let actual: BTreeSet<String> = open_tasks(&state).map(|t| t.step.to_string()).collect();
        if expected != actual {
            failures.push(failure("待办任务", &list(&expected), &list(&actual)));
        }
    }
    if let Some(expected) = &expect.documents
        && expected != &documents
    {
        failures.push(failure(
            "出具的文书",
            &format!("[{}]", expected.join(", ")),
            &format!("[{}]", documents.join(", ")),
        ));
    }
    for (key, expected) in &expect.data {
        let actual = state.data.get(key);
        if !actual.is_some_and(|a| same(expected, a)) {
            failures.push(Failure {
                what: format!("办件数据 data.{key}"),
                expected: shown(Some(expected)),
                actual: shown(actual),
            });
        }
    }
    failures
}

/// The case as stored after the run, and the keys of the documents it issued, in order.
async fn outcome(engine: &Engine, case: CaseId) -> Result<(CaseState, Vec<String>), String> {
    let state = state_of(engine, case).await?;
    let documents = engine
        .list_documents(case)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|d| d.key)
        .collect();
    Ok((state, documents))
}

/// Carries out one action as a clerk's click would.
async fn act(
    engine: &Engine,
    case: CaseId,
    action: &RunAction,
    actor: &Actor,
) -> Result<(), String> {
    let said = |e: EngineError| e.to_string();
    match action {
        RunAction::Complete {
            step,
            outcome,
            data,
            reason,
        } => {
            let state = state_of(engine, case).await?;
            let task = open_tasks(&state)
                .find(|t| &t.step == step)
                .ok_or_else(|| {
                    let open: BTreeSet<String> =
                        open_tasks(&state).map(|t| t.step.to_string()).collect();
                    format!("步骤 {step} 没有待办任务（当前待办：{}）", list(&open))
                })?;
            let task = task.id;
            let clerk = Actor {
                user: format!("{}·{step}", actor.user),
                department: actor.department.clone(),
                on_behalf_of: None,
            };
            engine.claim(task, &clerk).await.map_err(said)?;
            engine
                .complete(task, &clerk, outcome, data.clone(), reason.clone())
                .await
                .map_err(said)?;
        }
        RunAction::Deliver {
            event,
            materials,
            data,
        } => {
            engine
                .deliver(case, event, data.clone(), materials.clone(), actor)
                .await
                .map_err(said)?;
        }
        RunAction::Cancel { reason } => {
            engine.cancel(case, reason, actor).await.map_err(said)?;
        }
    }
    Ok(())
}

/// The case's state as stored now.
async fn state_of(engine: &Engine, case: CaseId) -> Result<CaseState, String> {
    let record = engine
        .get_case(case)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("办件 {case} 不存在"))?;
    Ok(record.state)
}

fn open_tasks(state: &CaseState) -> impl Iterator<Item = &runtime::Task> {
    state
        .tasks
        .iter()
        .filter(|t| matches!(t.status, TaskStatus::Open | TaskStatus::Claimed))
}

/// `active`, `cancelled`, or the end result — the words `expect_run.result` uses.
fn result_word(status: &CaseStatus) -> String {
    match status {
        CaseStatus::Active => "active".into(),
        CaseStatus::Cancelled { .. } => "cancelled".into(),
        CaseStatus::Completed { result, .. } => result.clone(),
    }
}

fn describe(action: &RunAction) -> String {
    match action {
        RunAction::Complete { step, outcome, .. } => format!("complete {step} → {outcome}"),
        RunAction::Deliver { event, .. } => format!("deliver {event}"),
        RunAction::Cancel { .. } => "cancel".into(),
    }
}

fn list(items: &BTreeSet<String>) -> String {
    format!("[{}]", items.iter().cloned().collect::<Vec<_>>().join(", "))
}

fn failure(what: &str, expected: &str, actual: &str) -> Failure {
    Failure {
        what: what.to_owned(),
        expected: expected.to_owned(),
        actual: actual.to_owned(),
    }
}
