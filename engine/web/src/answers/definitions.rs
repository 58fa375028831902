//! The answers about definitions: the list in force, a reload, one process in detail and
//! a validated upload's summary. Built by the handlers in `definitions.rs` and `admin.rs`
//! and described by the same types in the OpenAPI document.

use chrono::{DateTime, Utc};
use lianban_core::accounts::county_of;
use lianban_core::definition::{Process, Step, StepKind};
use lianban_service::records::StoredVersion as StoredRecord;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

/// A loaded definition.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProcessInfo {
    id: String,
    version: u32,
    name: String,
    content_hash: String,
    /// The file it was loaded from: for admins and the admin token only (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<String>,
    /// Number of steps.
    steps: usize,
}

impl ProcessInfo {
    /// The row of a definition; its file only when `with_file`.
    pub(crate) fn of(p: &Process, with_file: bool) -> Self {
        ProcessInfo {
            id: p.id.clone(),
            version: p.version,
            name: p.name.clone(),
            content_hash: p.content_hash.clone(),
            file: with_file.then(|| p.file.clone()),
            steps: p.steps.len(),
        }
    }
}

/// The definitions in force.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Processes {
    pub(crate) processes: Vec<ProcessInfo>,
}

/// The definitions after a reload.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Reloaded {
    pub(crate) reloaded: bool,
    pub(crate) processes: Vec<ProcessInfo>,
}

/// A department in a definition.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct DepartmentInfo {
    key: String,
    name: String,
    window: Option<String>,
    phone: Option<String>,
}

/// An outcome of a task step.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct OutcomeInfo {
    key: String,
    label: String,
    /// The step it leads to.
    to: String,
    reason_required: bool,
    /// Keys of the documents it issues.
    documents: Vec<String>,
}

/// A step of a definition.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct StepInfo {
    id: String,
    name: String,
    /// `task`, `auto`, `choice`, `multi_choice`, `parallel`, `join`, `wait`, `end`.
    r#type: &'static str,
    /// Task steps: the role, and its department.
    role: Option<String>,
    department: Option<String>,
    /// Task and wait steps: the time limit as written (`5 workdays`).
    due: Option<String>,
    /// Task steps: the outcomes a clerk chooses from.
    outcomes: Vec<OutcomeInfo>,
    /// Other steps: where they lead, `{to}` with `when` (a condition) or `event`.
    #[schema(value_type = Vec<Object>)]
    next: Vec<Value>,
    /// End steps: the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<String>,
}

fn kind_word(kind: &StepKind) -> &'static str {
    match kind {
        StepKind::Task(_) => "task",
        StepKind::Auto(_) => "auto",
        StepKind::Choice(_) => "choice",
        StepKind::MultiChoice(_) => "multi_choice",
        StepKind::Parallel(_) => "parallel",
        StepKind::Join(_) => "join",
        StepKind::Wait(_) => "wait",
        StepKind::End(_) => "end",
    }
}

impl StepInfo {
    fn of(process: &Process, step: &Step) -> Self {
        let mut out = StepInfo {
            id: step.id.as_str().to_owned(),
            name: step.name.clone(),
            r#type: kind_word(&step.kind),
            role: None,
            department: None,
            due: None,
            outcomes: Vec::new(),
            next: Vec::new(),
            result: None,
        };
        let branch = |when: Option<&str>, to: &str| json!({"when": when, "to": to});
        match &step.kind {
            StepKind::Task(t) => {
                out.role = Some(t.role.clone());
                out.department = process.roles.get(&t.role).map(|r| r.department.clone());
                out.due = t.due.map(|d| d.to_string());
                out.outcomes = t
                    .outcomes
                    .values()
                    .map(|o| OutcomeInfo {
                        key: o.key.clone(),
                        label: o.label.clone(),
                        to: o.target.as_str().to_owned(),
                        reason_required: o.reason_required,
                        documents: o.documents.clone(),
                    })
                    .collect();
            }
            StepKind::Auto(a) => out.next = vec![json!({"to": a.next.as_str()})],
            StepKind::Choice(c) => {
                out.next = c
                    .branches
                    .iter()
                    .map(|b| branch(b.when.as_ref().map(|e| e.source()), b.to.as_str()))
                    .chain(c.otherwise.iter().map(|o| branch(None, o.as_str())))
                    .collect();
            }
            StepKind::MultiChoice(s) | StepKind::Parallel(s) => {
                out.next = s
                    .branches
                    .iter()
                    .map(|b| branch(b.when.as_ref().map(|e| e.source()), b.to.as_str()))
                    .collect();
            }
            StepKind::Join(j) => out.next = vec![json!({"to": j.next.as_str()})],
            StepKind::Wait(w) => {
                out.due = w.due.map(|d| d.to_string());
                out.next =
                    w.on.iter()
                        .map(|(event, to)| json!({"event": event, "to": to.as_str()}))
                        .collect();
            }
            StepKind::End(e) => out.result = Some(e.result.clone()),
        }
        out
    }
}

/// A parameter of a definition.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ParameterInfo {
    key: String,
    value: Value,
    /// The regulation it comes from, or that it is a local setting.
    source: String,
    local: bool,
}

/// A document a definition's cases can issue.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct DocumentInfo {
    key: String,
    name: String,
    template: String,
    numbered: bool,
}

/// A version of a process stored in the database.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StoredVersion {
    version: u32,
    name: String,
    content_hash: String,
    loaded_at: DateTime<Utc>,
    /// Cases that run on it.
    cases: u64,
    /// Of those, the cases still open (办理中): what `cases migrate` could move.
    open: u64,
    /// Whether this version is loaded now.
    in_force: bool,
}

impl StoredVersion {
    /// A stored version, and whether it is in force.
    pub(crate) fn of(v: &StoredRecord, in_force: bool) -> Self {
        StoredVersion {
            version: v.version,
            name: v.name.clone(),
            content_hash: v.content_hash.clone(),
            loaded_at: v.loaded_at,
            cases: v.cases,
            open: v.open,
            in_force,
        }
    }
}

/// The latest loaded version of a process in detail, with the stored versions.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProcessDetail {
    id: String,
    version: u32,
    name: String,
    /// The first part of the id (`yangcheng`).
    county: String,
    content_hash: String,
    departments: Vec<DepartmentInfo>,
    steps: Vec<StepInfo>,
    parameters: Vec<ParameterInfo>,
    documents: Vec<DocumentInfo>,
    versions: Vec<StoredVersion>,
}

impl ProcessDetail {
    /// The process in detail, with its stored versions.
    pub(crate) fn new(process: &Process, versions: Vec<StoredVersion>) -> Self {
        ProcessDetail {
            id: process.id.clone(),
            version: process.version,
            name: process.name.clone(),
            county: county_of(&process.id).to_owned(),
            content_hash: process.content_hash.clone(),
            departments: process
                .departments
                .values()
                .map(|d| DepartmentInfo {
                    key: d.key.clone(),
                    name: d.name.clone(),
                    window: d.window.clone(),
                    phone: d.phone.clone(),
                })
                .collect(),
            steps: process
                .steps
                .values()
                .map(|s| StepInfo::of(process, s))
                .collect(),
            parameters: process
                .parameters
                .values()
                .map(|p| ParameterInfo {
                    key: p.key.clone(),
                    value: p.value.clone(),
                    source: p.source.clone(),
                    local: p.local,
                })
                .collect(),
            documents: process
                .documents
                .values()
                .map(|d| DocumentInfo {
                    key: d.key.clone(),
                    name: d.name.clone(),
                    template: d.template.clone(),
                    numbered: d.numbered.is_some(),
                })
                .collect(),
            versions,
        }
    }
}

/// What a valid definition declares.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ValidSummary {
    id: String,
    version: u32,
    name: String,
    county: String,
    content_hash: String,
    /// Number of steps.
    steps: usize,
    /// Department keys.
    departments: Vec<String>,
    /// Number of materials.
    materials: usize,
    /// Number of documents.
    documents: usize,
    /// Versions of this id already stored.
    stored_versions: Vec<u32>,
}

/// `{valid: true, summary}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Validated {
    valid: bool,
    summary: ValidSummary,
}

impl Validated {
    /// A valid upload of `process`, with the versions of its id already stored.
    pub(crate) fn new(process: &Process, stored_versions: Vec<u32>) -> Self {
        Validated {
            valid: true,
            summary: ValidSummary {
                id: process.id.clone(),
                version: process.version,
                name: process.name.clone(),
                county: county_of(&process.id).to_owned(),
                content_hash: process.content_hash.clone(),
                steps: process.steps.len(),
                departments: process.departments.keys().cloned().collect(),
                materials: process.materials.len(),
                documents: process.documents.len(),
                stored_versions,
            },
        }
    }
}
