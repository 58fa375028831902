//! Unit tests of the state machine. Processes are built in Rust with the small builder below
//! so these tests do not depend on the YAML loader.

use chrono::{DateTime, TimeZone, Utc};
use indexmap::IndexMap;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{
    Actor, CaseId, CaseState, Command, RuntimeError, TaskId, TaskStatus, Transition, apply, start,
};
use crate::definition::{
    Assignment, AutoStep, Branch, ChoiceStep, Department, Document, EndStep, Field, FieldType,
    JoinStep, Material, Metadata, Outcome, Parameter, Process, Role, SplitStep, Step, StepId,
    StepKind, TaskStep, WaitStep,
};
use crate::rules::{Expr, compile_expr};

mod bounds;
mod commands;
mod deadlines;
mod duties;
mod form;
mod migrate;
mod patterns;

/// A process under construction; the first step added is the start.
pub(super) struct Flow {
    process: Process,
}

pub(super) fn expr(source: &str) -> Expr {
    compile_expr(source).expect("test expression compiles")
}

/// An outcome labelled with its key, without reason, documents or values.
pub(super) fn outcome(key: &str, to: &str) -> Outcome {
    Outcome {
        key: key.into(),
        label: key.into(),
        target: to.into(),
        reason_required: false,
        documents: Vec::new(),
        set: Vec::new(),
        check: None,
    }
}

/// A task step of a role with these outcomes, no form and no due time.
pub(super) fn spec(role: &str, outcomes: Vec<Outcome>) -> TaskStep {
    TaskStep {
        role: role.into(),
        outcomes: outcomes.into_iter().map(|o| (o.key.clone(), o)).collect(),
        form: Vec::new(),
        due: None,
        due_date: None,
        warn: None,
        escalate: Vec::new(),
        not_same_as: Vec::new(),
    }
}

/// A form field without condition, options or help.
pub(super) fn field(key: &str, field_type: FieldType, required: bool) -> Field {
    Field {
        key: key.into(),
        label: key.into(),
        field_type,
        required,
        when: None,
        options: Vec::new(),
        check: None,
        help: None,
        outcomes: Vec::new(),
        limits: Default::default(),
    }
}

pub(super) fn assignments(set: &[(&str, &str)]) -> Vec<Assignment> {
    set.iter()
        .map(|(key, source)| Assignment {
            key: (*key).into(),
            expr: expr(source),
        })
        .collect()
}

fn branches(list: &[(Option<&str>, &str)]) -> Vec<Branch> {
    list.iter()
        .map(|(when, to)| Branch {
            when: when.map(expr),
            label: None,
            to: (*to).into(),
        })
        .collect()
}

impl Flow {
    pub(super) fn new() -> Self {
        let mut departments = IndexMap::new();
        let mut roles = IndexMap::new();
        for (dept, dept_name, role, role_name) in [
            ("shebao", "社保中心", "shebao_clerk", "社保窗口经办人"),
            ("yibao", "医保局", "yibao_clerk", "医保经办人"),
            ("gjj", "住房公积金管理中心", "gjj_clerk", "公积金经办人"),
        ] {
            departments.insert(
                dept.into(),
                Department {
                    key: dept.into(),
                    name: dept_name.into(),
                    issuer: None,
                    window: None,
                    phone: None,
                    system: None,
                },
            );
            roles.insert(
                role.into(),
                Role {
                    key: role.into(),
                    name: role_name.into(),
                    department: dept.into(),
                },
            );
        }
        let mut documents = IndexMap::new();
        documents.insert(
            "supplement_notice".into(),
            Document {
                key: "supplement_notice".into(),
                name: "一次性补正材料告知书".into(),
                template: "test/supplement_notice.html.j2".into(),
                numbered: Some("测补".into()),
            },
        );
        Flow {
            process: Process {
                id: "test.flow".into(),
                version: 1,
                name: "测试流程".into(),
                content_hash: String::new(),
                is_abstract: false,
                extends: Vec::new(),
                origins: Default::default(),
                resolved: Default::default(),
                file: "test.yaml".into(),
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
                start: StepId(String::new()),
                steps: IndexMap::new(),
                documents,
                schedules: Vec::new(),
                time_limits: Default::default(),
                labels: Default::default(),
                tests: Vec::new(),
                sources: Vec::new(),
            },
        }
    }

    fn step(mut self, id: &str, kind: StepKind) -> Self {
        if self.process.steps.is_empty() {
            self.process.start = id.into();
        }
        let step = Step {
            id: id.into(),
            name: id.into(),
            kind,
        };
        self.process.steps.insert(id.into(), step);
        self
    }

    /// A task whose outcomes are `(key, target)` pairs.
    pub(super) fn task(self, id: &str, role: &str, outcomes: &[(&str, &str)]) -> Self {
        let outcomes = outcomes.iter().map(|(k, to)| outcome(k, to)).collect();
        self.task_spec(id, spec(role, outcomes))
    }

    pub(super) fn task_spec(self, id: &str, spec: TaskStep) -> Self {
        self.step(id, StepKind::Task(spec))
    }

    pub(super) fn auto(self, id: &str, set: &[(&str, &str)], next: &str) -> Self {
        let set = assignments(set);
        self.step(
            id,
            StepKind::Auto(AutoStep {
                set,
                next: next.into(),
            }),
        )
    }

    pub(super) fn choice(
        self,
        id: &str,
        list: &[(Option<&str>, &str)],
        otherwise: Option<&str>,
    ) -> Self {
        let choice = ChoiceStep {
            branches: branches(list),
            otherwise: otherwise.map(StepId::from),
        };
        self.step(id, StepKind::Choice(choice))
    }

    pub(super) fn parallel(self, id: &str, to: &[&str], join: &str) -> Self {
        let list: Vec<_> = to.iter().map(|t| (None, *t)).collect();
        let split = SplitStep {
            branches: branches(&list),
            join: join.into(),
            otherwise: None,
        };
        self.step(id, StepKind::Parallel(split))
    }

    pub(super) fn multi(
        self,
        id: &str,
        list: &[(&str, &str)],
        join: &str,
        otherwise: Option<&str>,
    ) -> Self {
        let list: Vec<_> = list.iter().map(|(w, t)| (Some(*w), *t)).collect();
        let split = SplitStep {
            branches: branches(&list),
            join: join.into(),
            otherwise: otherwise.map(StepId::from),
        };
        self.step(id, StepKind::MultiChoice(split))
    }

    pub(super) fn join(self, id: &str, split: &str, next: &str) -> Self {
        let join = JoinStep {
            split: split.into(),
            next: next.into(),
        };
        self.step(id, StepKind::Join(join))
    }

    pub(super) fn wait(self, id: &str, on: &[(&str, &str)]) -> Self {
        let wait = WaitStep {
            on: on
                .iter()
                .map(|(e, to)| ((*e).into(), (*to).into()))
                .collect(),
            due: None,
            pauses_clock: true,
            escalate: Vec::new(),
        };
        self.step(id, StepKind::Wait(wait))
    }

    pub(super) fn end(self, id: &str, result: &str) -> Self {
        self.step(
            id,
            StepKind::End(EndStep {
                result: result.into(),
            }),
        )
    }

    pub(super) fn param(mut self, key: &str, value: Value) -> Self {
        let parameter = Parameter {
            key: key.into(),
            value,
            source: "测试".into(),
            local: true,
        };
        self.process.parameters.insert(key.into(), parameter);
        self
    }

    /// Declares optional application-form fields, so that a test may start a case with
    /// them (keys the form does not define are refused).
    pub(super) fn fields(mut self, fields: &[(&str, FieldType)]) -> Self {
        for (key, field_type) in fields {
            self.process.form.push(field(key, *field_type, false));
        }
        self
    }

    /// Declares materials without conditions, so that a test may hand them in.
    pub(super) fn materials(mut self, keys: &[&str]) -> Self {
        for key in keys {
            self.process.materials.push(Material {
                key: (*key).into(),
                name: (*key).into(),
                copies: None,
                unit: None,
                when: None,
                note: None,
                why: None,
            });
        }
        self
    }

    pub(super) fn build(self) -> Process {
        self.process
    }
}

/// 2026-03-02 09:00 in Beijing.
pub(super) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0)
        .single()
        .expect("valid test time")
}

pub(super) fn case_id() -> CaseId {
    CaseId(Uuid::from_u128(0x1a2b_3c4d))
}

pub(super) fn clerk(user: &str) -> Actor {
    Actor {
        user: user.into(),
        department: Some("shebao".into()),
        on_behalf_of: None,
    }
}

pub(super) fn map(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Starts a case with this application form; the test fails if it cannot start.
pub(super) fn begin(process: &Process, form: Value) -> Transition {
    start(
        process,
        case_id(),
        map(form),
        Vec::new(),
        &clerk("张三"),
        now(),
    )
    .expect("case starts")
}

/// The step ids of the tasks still open or claimed, in creation order.
pub(super) fn open_steps(state: &CaseState) -> Vec<&str> {
    state
        .tasks
        .iter()
        .filter(|t| matches!(t.status, TaskStatus::Open | TaskStatus::Claimed))
        .map(|t| t.step.as_str())
        .collect()
}

/// The open (or claimed) task at a step.
pub(super) fn task_at(state: &CaseState, step: &str) -> TaskId {
    state
        .tasks
        .iter()
        .find(|t| {
            t.step.as_str() == step && matches!(t.status, TaskStatus::Open | TaskStatus::Claimed)
        })
        .map(|t| t.id)
        .expect("an open task at the step")
}

/// Completes the open task at `step` with an outcome, no decision data and no reason.
pub(super) fn finish(
    process: &Process,
    state: &CaseState,
    step: &str,
    outcome: &str,
) -> Result<Transition, RuntimeError> {
    let command = Command::Complete {
        task: task_at(state, step),
        outcome: outcome.into(),
        data: Map::new(),
        reason: None,
    };
    apply(process, state, &clerk("李四"), command, now())
}

/// Like [`finish`], but the test fails when the command is refused.
pub(super) fn finished(
    process: &Process,
    state: &CaseState,
    step: &str,
    outcome: &str,
) -> CaseState {
    finish(process, state, step, outcome)
        .expect("task completes")
        .state
}

pub(super) fn deliver(
    process: &Process,
    state: &CaseState,
    event: &str,
    data: Value,
    materials: &[&str],
) -> Result<Transition, RuntimeError> {
    let command = Command::Deliver {
        event: event.into(),
        data: map(data),
        materials: materials.iter().map(|m| (*m).into()).collect(),
    };
    apply(process, state, &Actor::system(), command, now())
}

pub(super) fn trail(state: &CaseState) -> Vec<&str> {
    state.trail.iter().map(|v| v.step.as_str()).collect()
}
