//! `run:` and `expect_run:` — the flow driven in memory with the pure runtime (no database),
//! as actor `测试` at the example's clock. `complete` claims and completes the open task at
//! a step; `deliver` and `cancel` act on the case. Issued documents are collected from the
//! effects and rendered, so a template that fails on a real flow fails the example. The
//! runtime decides everything, including refusing a second supplement request without a
//! reason, exactly as it does under `serve`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use chrono_tz::Asia::Shanghai;
use uuid::Uuid;

use super::{Failure, same, shown};
use lianban_core::definition::{Example, Process, RunAction};
use lianban_core::documents::{
    CaseView, Draft, TaskView, Templates, format_number, missing_materials, numbering_year,
};
use lianban_core::runtime::{
    self, Actor, CaseId, CaseState, CaseStatus, Command, Effect, TaskStatus, Transition,
};

/// Runs `example.run` and checks `example.expect_run`.
pub(super) fn drive(
    process: &Process,
    example: &Example,
    templates: &Templates,
    now: DateTime<Utc>,
) -> Vec<Failure> {
    let actor = Actor {
        user: "测试".into(),
        department: None,
    };
    let mut documents = Documents::new(process, templates, now);
    let mut failures = Vec::new();
    // A fixed id: examples are deterministic.
    let id = CaseId(Uuid::nil());
    let started = runtime::start(
        process,
        id,
        example.input.clone(),
        example.materials.clone(),
        &actor,
        now,
    );
    let mut state = match started {
        Ok(transition) => transition.state,
        Err(error) => {
            return vec![Failure {
                what: "开始办件".into(),
                expected: "成功".into(),
                actual: error.to_string(),
            }];
        }
    };
    for (index, action) in example.run.iter().enumerate() {
        let what = format!("run 第{}步（{}）", index + 1, describe(action));
        match act(process, &state, action, &actor, now) {
            Ok((transition, completed)) => {
                let issued = documents.collect(&transition, completed.as_ref(), &mut failures);
                if let Err(actual) = issued {
                    failures.push(Failure {
                        what,
                        expected: "成功".into(),
                        actual,
                    });
                    return failures;
                }
                state = transition.state;
            }
            Err(actual) => {
                failures.push(Failure {
                    what,
                    expected: "成功".into(),
                    actual,
                });
                // Later steps would only fail for the same reason.
                return failures;
            }
        }
    }
    if let Some(expect) = &example.expect_run {
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
            && expected != &documents.keys
        {
            failures.push(failure(
                "出具的文书",
                &format!("[{}]", expected.join(", ")),
                &format!("[{}]", documents.keys.join(", ")),
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
    }
    failures
}

/// Applies one action; returns the transition and, for a completion, the task's step,
/// outcome and reason (the issuing task of any documents).
fn act(
    process: &Process,
    state: &CaseState,
    action: &RunAction,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(Transition, Option<TaskView>), String> {
    let apply = |state: &CaseState, command| {
        runtime::apply(process, state, actor, command, now).map_err(|e| e.to_string())
    };
    match action {
        RunAction::Complete {
            step,
            outcome,
            data,
            reason,
        } => {
            let task = open_tasks(state).find(|t| &t.step == step).ok_or_else(|| {
                let open: BTreeSet<String> =
                    open_tasks(state).map(|t| t.step.to_string()).collect();
                format!("步骤 {step} 没有待办任务（当前待办：{}）", list(&open))
            })?;
            let claimed = apply(state, Command::Claim { task: task.id })?;
            let command = Command::Complete {
                task: task.id,
                outcome: outcome.clone(),
                data: data.clone(),
                reason: reason.clone(),
            };
            let done = apply(&claimed.state, command)?;
            let view = TaskView {
                step: step.clone(),
                outcome: outcome.clone(),
                reason: reason.clone(),
                clerk: actor.user.clone(),
            };
            Ok((done, Some(view)))
        }
        RunAction::Deliver {
            event,
            materials,
            data,
        } => {
            let command = Command::Deliver {
                event: event.clone(),
                data: data.clone(),
                materials: materials.clone(),
            };
            Ok((apply(state, command)?, None))
        }
        RunAction::Cancel { reason } => Ok((
            apply(
                state,
                Command::Cancel {
                    reason: reason.clone(),
                },
            )?,
            None,
        )),
    }
}

/// The documents issued so far, numbered per prefix as the store would.
struct Documents<'a> {
    process: &'a Process,
    templates: &'a Templates,
    now: DateTime<Utc>,
    keys: Vec<String>,
    numbers: BTreeMap<String, i64>,
}

impl<'a> Documents<'a> {
    fn new(process: &'a Process, templates: &'a Templates, now: DateTime<Utc>) -> Self {
        Documents {
            process,
            templates,
            now,
            keys: Vec::new(),
            numbers: BTreeMap::new(),
        }
    }

    /// Records and renders the documents a transition issued.
    ///
    /// # Errors
    /// A material condition that fails to evaluate.
    fn collect(
        &mut self,
        transition: &Transition,
        task: Option<&TaskView>,
        failures: &mut Vec<Failure>,
    ) -> Result<(), String> {
        let issued: Vec<&String> = transition
            .effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::IssueDocument { document, .. } => Some(document),
                _ => None,
            })
            .collect();
        if issued.is_empty() {
            return Ok(());
        }
        let state = &transition.state;
        let id = state.id.to_string();
        let case = CaseView {
            id: &id,
            form: &state.form,
            data: &state.data,
            materials: &state.materials,
            started_at: state.started_at,
        };
        let today = self.now.with_timezone(&Shanghai).date_naive();
        let missing = missing_materials(self.process, &case, today).map_err(|e| e.to_string())?;
        for document in issued {
            self.keys.push(document.clone());
            let rendered = Draft::new(self.process, document, &case, task, &missing, self.now)
                .and_then(|draft| {
                    let number = draft.prefix.as_deref().map(|prefix| {
                        let seq = self.numbers.entry(prefix.to_owned()).or_insert(0);
                        *seq += 1;
                        format_number(prefix, numbering_year(self.now), *seq)
                    });
                    draft.render(self.templates, number)
                });
            if let Err(error) = rendered {
                let actual = error.to_string();
                failures.push(failure(&format!("文书 {document}"), "能够生成", &actual));
            }
        }
        Ok(())
    }
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
