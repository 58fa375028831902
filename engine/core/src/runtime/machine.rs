//! Transitions: how each command moves a case. Every command works on a clone of the state
//! (see `run`), so a refused command leaves the caller's state exactly as it was.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::run::Run;
use super::supplement;
use super::{
    Actor, CaseId, CaseState, CaseStatus, Command, Effect, Event, RuntimeError, TaskId, Token,
    Transition,
};
use crate::definition::{Process, StepKind};

/// Starts a case at the process's start step and runs it until it waits on a person or an
/// event (or ends).
///
/// The actor is not part of the state: the store records who started the case in history.
///
/// The form is checked first ([`validate_form`](super::validate_form)), with `today` the
/// date of `now` in Beijing time.
///
/// # Errors
/// [`RuntimeError::InvalidForm`] listing every field with a problem; [`RuntimeError`] when
/// a rule fails on the way. Nothing is created then.
pub fn start(
    process: &Process,
    id: CaseId,
    form: Map<String, Value>,
    materials: Vec<String>,
    _actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Transition, RuntimeError> {
    let today = now.with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let mut errors = super::validate_form(process, &form, today);
    errors.extend(super::unknown_materials(process, &materials));
    if !errors.is_empty() {
        return Err(RuntimeError::InvalidForm(errors));
    }
    // A material ticked twice is received once.
    let mut received: Vec<String> = Vec::with_capacity(materials.len());
    for material in materials {
        if !received.contains(&material) {
            received.push(material);
        }
    }
    let state = CaseState {
        id,
        process: process.id.clone(),
        version: process.version,
        status: CaseStatus::Active,
        form,
        data: Map::new(),
        materials: received,
        tokens: Vec::new(),
        frames: Vec::new(),
        tasks: Vec::new(),
        trail: Vec::new(),
        next_seq: 0,
        started_at: now,
        ended_at: None,
        clock: Default::default(),
        first_supplement: None,
        number: None,
    };
    let mut run = Run::new(process, state, now);
    run.events.push(Event::CaseStarted);
    run.start_clock();
    let token = Token {
        id: run.next_seq(),
        step: process.start.clone(),
        frames: Vec::new(),
        due_at: None,
        provisional: false,
    };
    run.advance(token)?;
    Ok(run.finish())
}

/// Applies one command to a case.
///
/// # Errors
/// [`RuntimeError`] when the command is not allowed in this state; the state is unchanged.
/// [`RuntimeError::CaseEnded`] for any command on a completed or cancelled case.
pub fn apply(
    process: &Process,
    state: &CaseState,
    actor: &Actor,
    command: Command,
    now: DateTime<Utc>,
) -> Result<Transition, RuntimeError> {
    let mut run = Run::new(process, state.clone(), now);
    run.ensure_active()?;
    match command {
        Command::Claim { task } => run.claim(task, actor)?,
        Command::Unclaim { task } => run.unclaim(task, actor)?,
        Command::Reassign { task, to, reason } => run.reassign(task, to, reason)?,
        Command::Complete {
            task,
            outcome,
            data,
            reason,
        } => complete(&mut run, actor, task, &outcome, data, reason, true)?,
        Command::Deliver {
            event,
            data,
            materials,
        } => deliver(&mut run, event, data, materials)?,
        Command::Cancel { reason } => cancel(&mut run, reason)?,
    }
    Ok(run.finish())
}

/// Finishes a task: checks holder, outcome, reason and decision form, writes the decision
/// and the outcome's values, issues its documents and moves the token to the target.
///
/// Only the holder of the claim completes a task. A task nobody holds is claimed by the
/// person completing it, in the same transition (its `TaskClaimed` event comes first), so
/// a window clerk need not press 认领 before 办理, and whoever completed it always held it;
/// the claim's own checks (someone else holds it, separation of duties) apply as they do to
/// 认领. `by_person` is false for an escalation's default outcome: the system acts whoever
/// holds the task, and with no decision values.
pub(super) fn complete(
    run: &mut Run<'_>,
    actor: &Actor,
    id: TaskId,
    outcome_key: &str,
    values: Map<String, Value>,
    reason: Option<String>,
    by_person: bool,
) -> Result<(), RuntimeError> {
    let process = run.process;
    if by_person {
        run.claim(id, actor)?;
    }
    let task = run.workable_task(id)?.clone();
    let step = process
        .step(&task.step)
        .ok_or_else(|| RuntimeError::UnknownStep(task.step.clone()))?;
    let StepKind::Task(spec) = &step.kind else {
        return Err(RuntimeError::UnknownStep(task.step.clone()));
    };
    let outcome = spec
        .outcomes
        .get(outcome_key)
        .ok_or_else(|| RuntimeError::UnknownOutcome {
            step: step.id.clone(),
            outcome: outcome_key.to_owned(),
            allowed: spec.outcomes.keys().cloned().collect::<Vec<_>>().join(", "),
        })?;
    let reason = reason.filter(|r| !r.trim().is_empty());
    if let Some((code, message)) = reason.as_deref().and_then(super::form::reason_problem) {
        return Err(RuntimeError::InvalidReason { code, message });
    }
    if outcome.reason_required && reason.is_none() {
        return Err(RuntimeError::ReasonRequired {
            outcome: outcome.label.clone(),
        });
    }
    if by_person {
        run.check_decision(&spec.form, &values, outcome_key)?;
        // The system's own default outcome (an escalation) is not held to the check: the
        // definition chose it for exactly the case nobody acted on.
        if let Some(check) = &outcome.check {
            let problems = super::check::problems(check.eval(&run.facts())?);
            if !problems.is_empty() {
                return Err(RuntimeError::OutcomeBlocked {
                    outcome: outcome.label.clone(),
                    problems,
                });
            }
        }
    }
    run.close_task(id, actor, outcome_key, reason.clone())?;
    run.state
        .data
        .extend(values.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut written = values;
    run.assign(&outcome.set, &mut written)?;
    run.data_written(&step.id, written);
    // The documents come before what the flow does next, though what a supplement request
    // asks for is only known once the flow has moved on.
    let issued_at = run.effects.len();
    let token = run.take_token(&task)?;
    run.advance(token.moved_to(outcome.target.clone()))?;
    let missing = supplement::hold_promise(run, outcome, reason.as_deref())?;
    let documents = outcome
        .documents
        .iter()
        .map(|document| Effect::IssueDocument {
            document: document.clone(),
            step: step.id.clone(),
            missing: missing.clone(),
        });
    run.effects.splice(issued_at..issued_at, documents);
    Ok(())
}

/// An external event arrives: the first token waiting for it moves on, with its data and
/// materials added to the case.
fn deliver(
    run: &mut Run<'_>,
    event: String,
    values: Map<String, Value>,
    materials: Vec<String>,
) -> Result<(), RuntimeError> {
    let process = run.process;
    let waiting = run
        .state
        .tokens
        .iter()
        .enumerate()
        .find_map(|(index, token)| {
            let step = process.step(&token.step)?;
            match &step.kind {
                StepKind::Wait(wait) => wait.on.get(&event).map(|to| (index, step, to)),
                _ => None,
            }
        });
    let Some((index, step, to)) = waiting else {
        return Err(RuntimeError::NotWaiting(event));
    };
    // What another system delivers is stored with the case and shown on its pages: the
    // same text rules as a form apply, and only materials the definition lists count.
    if let Some(error) = super::unknown_materials(process, &materials)
        .into_iter()
        .next()
    {
        return Err(RuntimeError::InvalidField {
            field: error.field,
            code: error.code,
            message: error.message,
        });
    }
    if let Some((key, (code, message))) = values
        .iter()
        .find_map(|(k, v)| super::form::data_problem(k, v).map(|p| (k, p)))
    {
        return Err(RuntimeError::InvalidField {
            field: key.clone(),
            code,
            message,
        });
    }
    let token = run.state.tokens.remove(index);
    run.events.push(Event::EventReceived { event });
    if matches!(&step.kind, StepKind::Wait(w) if w.pauses_clock) {
        run.resume_clock(&step.id);
    }
    run.state
        .data
        .extend(values.iter().map(|(k, v)| (k.clone(), v.clone())));
    run.data_written(&step.id, values);
    for material in materials {
        if !run.state.materials.contains(&material) {
            run.state.materials.push(material);
        }
    }
    run.advance(token.moved_to(to.clone()))
}

/// Cancels the case (撤件): open tasks are cancelled and every token and frame removed.
fn cancel(run: &mut Run<'_>, reason: String) -> Result<(), RuntimeError> {
    // The applicant is owed a written reason for a withdrawal just as for a refusal.
    if reason.trim().is_empty() {
        return Err(RuntimeError::ReasonRequired {
            outcome: "撤件".into(),
        });
    }
    if let Some((code, message)) = super::form::reason_problem(&reason) {
        return Err(RuntimeError::InvalidReason { code, message });
    }
    run.cancel_open_tasks();
    run.state.tokens.clear();
    run.state.frames.clear();
    run.state.status = CaseStatus::Cancelled {
        reason: reason.clone(),
    };
    run.state.ended_at = Some(run.now);
    run.events.push(Event::CaseCancelled { reason });
    Ok(())
}
