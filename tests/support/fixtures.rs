//! Hand-built processes, states and transitions, so store tests do not depend on the YAML
//! loader or the runtime.

use chrono::{DateTime, TimeZone, Utc};
use indexmap::IndexMap;
use lianban::definition::{
    Department, EndStep, Metadata, Outcome, Process, Role, SourceFile, Step, StepId, StepKind,
    TaskStep,
};
use lianban::runtime::{
    Actor, CaseId, CaseState, CaseStatus, Effect, Event, Task, TaskId, TaskStatus, Token,
    Transition,
};
use serde_json::{Map, Value};
use uuid::Uuid;

/// A two-step process: `accept` (社保 clerk) → `review` (医保 clerk) → `done`. The content
/// hash is whatever the test says, so tests can "edit" a version by changing it.
pub fn process(id: &str, version: u32, hash: &str) -> Process {
    let departments = [("shebao", "社保中心"), ("yibao", "医保局")]
        .into_iter()
        .map(|(key, name)| {
            let department = Department {
                key: key.into(),
                name: name.into(),
                issuer: None,
                window: None,
                phone: None,
                system: None,
            };
            (key.to_owned(), department)
        })
        .collect();
    let roles = [("shebao_clerk", "shebao"), ("yibao_clerk", "yibao")]
        .into_iter()
        .map(|(key, department)| {
            let role = Role {
                key: key.into(),
                name: key.into(),
                department: department.into(),
            };
            (key.to_owned(), role)
        })
        .collect();
    let steps = [
        task_step("accept", "受理", "shebao_clerk", "review"),
        task_step("review", "医保审核", "yibao_clerk", "done"),
        Step {
            id: "done".into(),
            name: "办结".into(),
            kind: StepKind::End(EndStep {
                result: "办结".into(),
            }),
        },
    ]
    .into_iter()
    .map(|step| (step.id.clone(), step))
    .collect();
    Process {
        id: id.into(),
        version,
        name: "测试流程".into(),
        content_hash: hash.into(),
        is_abstract: false,
        extends: Vec::new(),
        origins: Default::default(),
        resolved: Default::default(),
        file: format!("processes/test/{id}.yaml"),
        calendar: None,
        case_prefix: None,
        calendar_data: None,
        metadata: Metadata::default(),
        departments,
        roles,
        form: Vec::new(),
        materials: Vec::new(),
        joint_items: Vec::new(),
        parameters: IndexMap::new(),
        tables: IndexMap::new(),
        evaluate: None,
        start: "accept".into(),
        steps,
        documents: IndexMap::new(),
        schedules: Vec::new(),
        time_limits: Default::default(),
        labels: Default::default(),
        tests: Vec::new(),
        sources: vec![SourceFile {
            path: format!("processes/test/{id}.yaml"),
            text: format!("# not a definition: content {hash}\n"),
        }],
    }
}

fn task_step(id: &str, name: &str, role: &str, next: &str) -> Step {
    let outcome = Outcome {
        key: "done".into(),
        label: "完成".into(),
        target: next.into(),
        reason_required: false,
        documents: Vec::new(),
        set: Vec::new(),
        check: None,
    };
    Step {
        id: id.into(),
        name: name.into(),
        kind: StepKind::Task(TaskStep {
            role: role.into(),
            outcomes: IndexMap::from([("done".to_owned(), outcome)]),
            form: Vec::new(),
            due: None,
            due_date: None,
            warn: None,
            escalate: Vec::new(),
            not_same_as: Vec::new(),
        }),
    }
}

/// 2026-11-30 at `hour:minute` UTC.
pub fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, hour, minute, 0)
        .single()
        .unwrap_or_default()
}

/// A clerk of a department.
pub fn clerk(user: &str, department: &str) -> Actor {
    Actor {
        user: user.into(),
        department: Some(department.into()),
        on_behalf_of: None,
    }
}

/// An open task of `role` at `step`, created at `created`.
pub fn open_task(step: &str, role: &str, department: &str, created: DateTime<Utc>) -> Task {
    Task {
        id: TaskId(Uuid::new_v4()),
        step: step.into(),
        role: role.into(),
        department: department.into(),
        token: 1,
        status: TaskStatus::Open,
        claimed_by: None,
        created_at: created,
        due_at: None,
        warn_at: None,
        provisional: false,
        closed_at: None,
        outcome: None,
        completed_by: None,
        reason: None,
    }
}

/// A JSON object from `(key, value)` pairs.
pub fn object<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// The transition that starts a case of `process` waiting at `accept`, with `form`.
pub fn start(process: &Process, form: Map<String, Value>, now: DateTime<Utc>) -> Transition {
    let task = open_task("accept", "shebao_clerk", "shebao", now);
    let state = CaseState {
        id: CaseId(Uuid::new_v4()),
        process: process.id.clone(),
        version: process.version,
        status: CaseStatus::Active,
        form,
        data: Map::new(),
        materials: vec!["id_card".into()],
        tokens: vec![Token {
            due_at: None,
            provisional: false,
            id: 1,
            step: "accept".into(),
            frames: Vec::new(),
        }],
        frames: Vec::new(),
        tasks: vec![task.clone()],
        trail: Vec::new(),
        next_seq: 2,
        started_at: now,
        ended_at: None,
        clock: Default::default(),
        first_supplement: None,
        number: None,
    };
    Transition {
        state,
        events: vec![
            Event::CaseStarted,
            Event::StepEntered {
                step: "accept".into(),
            },
            Event::TaskCreated {
                task: task.id,
                step: "accept".into(),
            },
        ],
        effects: vec![Effect::CreateTask { task: task.id }],
    }
}

/// `state` with the task at `step` changed by `edit`, as the transition that did it.
pub fn edit_task(
    state: &CaseState,
    step: &str,
    event: Event,
    edit: impl FnOnce(&mut Task),
) -> Transition {
    let mut state = state.clone();
    let step = StepId::from(step);
    let mut effects = Vec::new();
    if let Some(task) = state.tasks.iter_mut().rev().find(|t| t.step == step) {
        edit(task);
        effects.push(Effect::UpdateTask { task: task.id });
    }
    Transition {
        state,
        events: vec![event],
        effects,
    }
}
