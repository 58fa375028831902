//! Deadlines counted in provisional working days (暂定: a year whose holiday notice was not
//! published yet, see [`crate::definition::Calendar::is_provisional`]) are counted again
//! from where they started once the calendar has changed — typically the policy officer
//! added the year's notice and the definitions were reloaded. Deadlines counted only in
//! published years, or in days and hours, are never touched: they cannot have changed.

use chrono::{DateTime, Utc};
use chrono_tz::Asia::Shanghai;

use super::clock::warn_at;
use super::run::Run;
use super::tasks::{Due, due_at};
use super::{CaseLimit, CaseState, CaseStatus, Deadline, Effect, Event, TaskStatus, Transition};
use crate::definition::{Process, StepKind};

/// Counts the provisional deadlines of `state` again in `process`'s calendar as it is now:
/// open tasks' due and warning times, wait steps' time limits, and the case's legal and
/// promised limits (moved by the working days the clock has stood so far). Each deadline
/// that moved or stopped being provisional is a [`Event::DeadlineRecounted`]; a transition
/// without events means nothing changed and need not be saved. A deadline that cannot be
/// counted now (the calendar lost the year) keeps its old value.
pub fn recount(process: &Process, state: &CaseState, now: DateTime<Utc>) -> Transition {
    let mut run = Run::new(process, state.clone(), now);
    if run.state.status == CaseStatus::Active {
        recount_tasks(&mut run);
        recount_waits(&mut run);
        for limit in [CaseLimit::Legal, CaseLimit::Promised] {
            recount_limit(&mut run, limit);
        }
    }
    run.finish()
}

fn recount_tasks(run: &mut Run<'_>) {
    let process = run.process;
    for i in 0..run.state.tasks.len() {
        let task = &run.state.tasks[i];
        if !task.provisional || !matches!(task.status, TaskStatus::Open | TaskStatus::Claimed) {
            continue;
        }
        let Some(StepKind::Task(spec)) = process.step(&task.step).map(|s| &s.kind) else {
            continue;
        };
        let Some(Ok(due)) = spec.due.map(|d| due_at(process, d, task.created_at)) else {
            continue;
        };
        let warn = spec
            .warn
            .and_then(|w| warn_at(process, due.at, w, task.created_at));
        if task.due_at == Some(due.at) && task.warn_at == warn && due.provisional {
            continue; // the calendar's change did not reach this deadline
        }
        let before = task.due_at;
        let id = task.id;
        let task = &mut run.state.tasks[i];
        task.due_at = Some(due.at);
        task.warn_at = warn;
        task.provisional = due.provisional;
        changed(run, Deadline::Task { task: id }, before, due);
        run.effects.push(Effect::UpdateTask { task: id });
    }
}

fn recount_waits(run: &mut Run<'_>) {
    let process = run.process;
    for i in 0..run.state.tokens.len() {
        let token = &run.state.tokens[i];
        if !token.provisional {
            continue;
        }
        let Some(StepKind::Wait(wait)) = process.step(&token.step).map(|s| &s.kind) else {
            continue;
        };
        // The wait's limit runs from when the token last entered the step.
        let Some(entered) = run
            .state
            .trail
            .iter()
            .rev()
            .find(|v| v.step == token.step)
            .map(|v| v.at)
        else {
            continue;
        };
        let Some(Ok(due)) = wait.due.map(|d| due_at(process, d, entered)) else {
            continue;
        };
        if token.due_at == Some(due.at) && due.provisional {
            continue;
        }
        let (before, step) = (token.due_at, token.step.clone());
        let token = &mut run.state.tokens[i];
        token.due_at = Some(due.at);
        token.provisional = due.provisional;
        changed(run, Deadline::Wait { step }, before, due);
    }
}

fn recount_limit(run: &mut Run<'_>, limit: CaseLimit) {
    let process = run.process;
    let (before, provisional) = run.state.clock.due(limit);
    if !provisional {
        return;
    }
    let written = match limit {
        CaseLimit::Legal => process.time_limits.legal,
        CaseLimit::Promised => process.time_limits.promised,
    };
    let Some(Ok(base)) = written.map(|d| due_at(process, d, run.state.started_at)) else {
        return;
    };
    // The clock's stops so far move the limit later by the working days they lasted.
    let stood = run.state.clock.paused_workdays;
    let Some(due) = shift(process, base, stood) else {
        return;
    };
    if before == Some(due.at) && due.provisional {
        return;
    }
    let clock = &mut run.state.clock;
    match limit {
        CaseLimit::Legal => {
            clock.legal_due = Some(due.at);
            clock.legal_provisional = due.provisional;
        }
        CaseLimit::Promised => {
            clock.promised_due = Some(due.at);
            clock.promised_provisional = due.provisional;
        }
    }
    changed(run, Deadline::Case { limit }, before, due);
}

/// `due` moved `n` working days later, at the same time of day.
fn shift(process: &Process, due: Due, n: i64) -> Option<Due> {
    if n == 0 {
        return Some(due);
    }
    let calendar = process.calendar_data.as_ref()?;
    let local = due.at.with_timezone(&Shanghai);
    let day = calendar.add_workdays(local.date_naive(), n).ok()?;
    let at = day
        .and_time(local.time())
        .and_local_timezone(Shanghai)
        .earliest()?
        .with_timezone(&Utc);
    Some(Due {
        at,
        provisional: calendar.is_provisional(day),
    })
}

fn changed(run: &mut Run<'_>, deadline: Deadline, before: Option<DateTime<Utc>>, due: Due) {
    run.events.push(Event::DeadlineRecounted {
        deadline,
        before,
        due_at: due.at,
        provisional: due.provisional,
    });
}
