//! Firing a timer: a task entering its warning period or becoming overdue, and a case time
//! limit running out. The moment is recorded in the history and the step's `escalate:`
//! entries for it are carried out: a notice for the department's supervisors, a hand-over to
//! another role, or a default outcome taken by the system.
//!
//! A timer that no longer applies (the task was closed, the case ended or its clock is
//! stopped) fires into nothing: the transition has no events and the caller saves none.

use chrono::{DateTime, Utc};
use chrono_tz::Asia::Shanghai;
use serde_json::Map;

use super::machine::complete;
use super::run::Run;
use super::{
    Actor, CaseLimit, CaseState, CaseStatus, Effect, Event, Firing, RuntimeError, TaskId,
    TaskStatus, Transition,
};
use crate::definition::{EscalateAction, EscalateOn, Process, StepKind};

/// Applies a timer firing to a case at `now`.
///
/// # Errors
/// [`RuntimeError`] when a default outcome cannot be taken (e.g. a rule of the outcome
/// fails); nothing changes then.
pub fn fire(
    process: &Process,
    state: &CaseState,
    firing: Firing,
    now: DateTime<Utc>,
) -> Result<Transition, RuntimeError> {
    let mut run = Run::new(process, state.clone(), now);
    if run.state.status != CaseStatus::Active {
        return Ok(run.finish());
    }
    match firing {
        Firing::Task { task, on } => fire_task(&mut run, task, on)?,
        Firing::Wait { token } => fire_wait(&mut run, token),
        Firing::Case { limit } => fire_case(&mut run, limit),
    }
    Ok(run.finish())
}

fn fire_task(run: &mut Run<'_>, id: TaskId, on: EscalateOn) -> Result<(), RuntimeError> {
    let process = run.process;
    let Some(task) = run.state.tasks.iter().find(|t| t.id == id).cloned() else {
        return Ok(());
    };
    if !matches!(task.status, TaskStatus::Open | TaskStatus::Claimed) {
        return Ok(());
    }
    let Some(step) = process.step(&task.step) else {
        return Ok(());
    };
    let StepKind::Task(spec) = &step.kind else {
        return Ok(());
    };
    run.events.push(Event::DeadlineReached {
        task: id,
        on,
        due_at: task.due_at,
    });
    let due = task.due_at.map(day_text).unwrap_or_default();
    for escalation in spec.escalate.iter().filter(|e| e.on == on) {
        match &escalation.action {
            EscalateAction::NotifySupervisor => {
                // The department that holds the task now (an earlier escalation may have
                // moved it).
                let department = run
                    .state
                    .tasks
                    .iter()
                    .find(|t| t.id == id)
                    .map_or(task.department.clone(), |t| t.department.clone());
                let message = match on {
                    EscalateOn::Warning => {
                        format!("任务“{}”已进入预警期，{due}到期，请督促办理", step.name)
                    }
                    EscalateOn::Overdue => {
                        format!("任务“{}”已超期（应于{due}前办结），请督促办理", step.name)
                    }
                };
                run.notify(department, Some(id), on.as_str(), message);
            }
            EscalateAction::Reassign(role_key) => {
                let Some(role) = process.roles.get(role_key) else {
                    return Err(RuntimeError::UnknownRole {
                        step: step.id.clone(),
                        role: role_key.clone(),
                    });
                };
                let task = run.workable_task(id)?;
                task.role = role.key.clone();
                task.department = role.department.clone();
                task.claimed_by = None;
                task.status = TaskStatus::Open;
                run.events.push(Event::TaskEscalated {
                    task: id,
                    role: role.key.clone(),
                    department: role.department.clone(),
                });
                run.effects.push(Effect::UpdateTask { task: id });
            }
            EscalateAction::Outcome { key, reason } => {
                complete(
                    run,
                    &Actor::system(),
                    id,
                    key,
                    Map::new(),
                    reason.clone(),
                    false,
                )?;
                // The task is closed: later entries have nothing to act on.
                break;
            }
        }
    }
    Ok(())
}

fn fire_wait(run: &mut Run<'_>, token: u32) {
    let process = run.process;
    let Some((step, due)) = run.state.tokens.iter().find_map(|t| {
        let due = t.due_at.filter(|d| t.id == token && *d <= run.now)?;
        Some((process.step(&t.step)?, due))
    }) else {
        return;
    };
    let StepKind::Wait(wait) = &step.kind else {
        return;
    };
    run.events.push(Event::WaitOverdue {
        step: step.id.clone(),
        due_at: due,
    });
    if wait.escalate.is_empty() {
        return;
    }
    // The department whose decision sent the case to wait (the last task closed).
    let department = run
        .state
        .tasks
        .iter()
        .filter(|t| t.closed_at.is_some())
        .max_by_key(|t| t.closed_at)
        .map(|t| t.department.clone())
        .or_else(|| process.departments.keys().next().cloned());
    let Some(department) = department else {
        return;
    };
    let message = format!(
        "“{}”已超过期限（{}），办件仍在等待，请跟进处理",
        step.name,
        day_text(due)
    );
    run.notify(department, None, "wait", message);
}

fn fire_case(run: &mut Run<'_>, limit: CaseLimit) {
    let clock = &run.state.clock;
    if clock.paused_since.is_some() {
        return;
    }
    let due = match limit {
        CaseLimit::Legal => clock.legal_due,
        CaseLimit::Promised => clock.promised_due,
    };
    let Some(due) = due.filter(|d| *d <= run.now) else {
        return;
    };
    run.events
        .push(Event::CaseLimitReached { limit, due_at: due });
    // The departments holding the case's open tasks answer for it now.
    let mut departments: Vec<String> = Vec::new();
    for task in &run.state.tasks {
        if matches!(task.status, TaskStatus::Open | TaskStatus::Claimed)
            && !departments.contains(&task.department)
        {
            departments.push(task.department.clone());
        }
    }
    if departments.is_empty() {
        departments.extend(run.process.departments.keys().next().cloned());
    }
    let message = format!(
        "办件已超过{}（{}），请督促办结",
        limit.label(),
        day_text(due)
    );
    for department in departments {
        run.notify(department, None, limit.as_str(), message.clone());
    }
}

impl Run<'_> {
    /// Records a notice for a department's supervisors: an event for the history and an
    /// effect the store turns into a notice row in the same transaction.
    fn notify(&mut self, department: String, task: Option<TaskId>, kind: &str, message: String) {
        tracing::info!(
            case_id = %self.state.id.0,
            task_id = task.map(|t| t.0.to_string()).unwrap_or_default(),
            %department,
            kind,
            "supervisor notified"
        );
        self.events.push(Event::SupervisorNotified {
            department: department.clone(),
            task,
            message: message.clone(),
        });
        self.effects.push(Effect::Notify {
            department,
            task,
            kind: kind.to_owned(),
            message,
        });
    }
}

/// `2026年10月8日`, the Beijing date of an instant.
fn day_text(at: DateTime<Utc>) -> String {
    at.with_timezone(&Shanghai)
        .format("%Y年%-m月%-d日")
        .to_string()
}
