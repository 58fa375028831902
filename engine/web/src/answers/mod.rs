//! The JSON bodies of the API's answers about sessions, tasks, cases, documents and the
//! definitions in force: the handlers build these types and serialize them, and the
//! OpenAPI document (`openapi.rs`) takes its schemas from the same types, so the document
//! cannot drift from what is sent. Ids and other typed values keep their own types (and
//! serialize as they always have); `#[schema(value_type = …)]` says how they read in JSON.
//! The definitions' answers are in `definitions.rs`.

use chrono::{DateTime, Utc};
use lianban_core::definition::StepId;
use lianban_core::runtime::{CaseId, CaseState, CaseStatus, Event, TaskId, TaskStatus};
use lianban_service::records::{
    CaseRecord, CaseSummary as SummaryRecord, DocumentRecord, HistoryEntry as HistoryRecord,
    TaskRecord,
};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::Identity;

mod definitions;
mod migration;

pub(super) use definitions::{
    ProcessDetail, ProcessInfo, Processes, Reloaded, StoredVersion, Validated,
};
pub(super) use migration::{MigrateBody, Migrated};

/// Who is signed in.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Session {
    /// The user name (`apikey:<name>` for an API key).
    user: String,
    /// The name shown in histories.
    name: String,
    /// The department key; empty for an intake key.
    department: String,
    /// `clerk`, `supervisor`, `admin`, `intake`.
    roles: Vec<&'static str>,
    /// Send back in `X-CSRF-Token` with a session cookie (empty for an API key).
    csrf: String,
}

impl From<Identity> for Session {
    fn from(identity: Identity) -> Self {
        Session {
            roles: identity.roles.iter().map(|r| r.as_str()).collect(),
            user: identity.user,
            name: identity.name,
            department: identity.department,
            csrf: identity.csrf,
        }
    }
}

/// A task row.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Task {
    #[schema(value_type = String)]
    id: TaskId,
    #[schema(value_type = String)]
    case_id: CaseId,
    #[schema(value_type = String)]
    step: StepId,
    step_name: String,
    role: String,
    department: String,
    /// `open`, `claimed`, `completed`, `cancelled`.
    #[schema(value_type = String)]
    status: TaskStatus,
    claimed_by: Option<String>,
    created_at: DateTime<Utc>,
    due: Option<DateTime<Utc>>,
    /// When the task's warning period starts (the step's `warn` before `due`).
    warn_at: Option<DateTime<Utc>>,
    /// Whether `due` and `warn_at` were counted in working days of a year whose holiday
    /// notice is not published yet (暂定); they are counted again once it is added.
    due_provisional: bool,
    /// Inbox rows only: whether the task is past its due time now.
    #[serde(skip_serializing_if = "Option::is_none")]
    overdue: Option<bool>,
    /// Inbox rows only (代办): the absent clerk holding the task, when the caller stands in
    /// for them.
    #[serde(skip_serializing_if = "Option::is_none")]
    on_behalf_of: Option<String>,
    closed_at: Option<DateTime<Utc>>,
    outcome: Option<String>,
    completed_by: Option<String>,
}

impl Task {
    /// The row of a task, as every task route answers it.
    pub(super) fn of(t: &TaskRecord) -> Self {
        Task {
            id: t.id,
            case_id: t.case_id,
            step: t.step.clone(),
            step_name: t.step_name.clone(),
            role: t.role.clone(),
            department: t.department.clone(),
            status: t.status,
            claimed_by: t.claimed_by.clone(),
            created_at: t.created_at,
            due: t.due_at,
            warn_at: t.warn_at,
            due_provisional: t.due_provisional,
            overdue: None,
            on_behalf_of: None,
            closed_at: t.closed_at,
            outcome: t.outcome.clone(),
            completed_by: t.completed_by.clone(),
        }
    }

    /// The row of an inbox: with whether it is overdue at `now`, and the absent clerk
    /// holding it when that is one of those the caller stands in for (`covering`).
    pub(super) fn in_inbox(t: &TaskRecord, now: DateTime<Utc>, covering: &[String]) -> Self {
        Task {
            overdue: Some(t.due_at.is_some_and(|due| due < now)),
            on_behalf_of: t.claimed_by.clone().filter(|h| covering.contains(h)),
            ..Task::of(t)
        }
    }
}

/// `active`, `completed` or `cancelled`.
pub(super) fn status_word(status: &CaseStatus) -> &'static str {
    match status {
        CaseStatus::Active => "active",
        CaseStatus::Completed { .. } => "completed",
        CaseStatus::Cancelled { .. } => "cancelled",
    }
}

/// Where a case stands.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CasePosition {
    #[schema(value_type = String)]
    id: CaseId,
    /// `active`, `completed`, `cancelled`.
    status: &'static str,
    /// The end's result, or the 撤件 reason.
    result: Option<String>,
    /// The steps the case is at, each once.
    current_steps: Vec<String>,
}

impl CasePosition {
    /// Where the case in `state` stands.
    pub(super) fn of(state: &CaseState) -> Self {
        let result = match &state.status {
            CaseStatus::Active => None,
            CaseStatus::Completed { result, .. } => Some(result.clone()),
            CaseStatus::Cancelled { reason } => Some(reason.clone()),
        };
        let mut steps: Vec<String> = Vec::new();
        for token in &state.tokens {
            if !steps.iter().any(|s| s == token.step.as_str()) {
                steps.push(token.step.as_str().to_owned());
            }
        }
        CasePosition {
            id: state.id,
            status: status_word(&state.status),
            result,
            current_steps: steps,
        }
    }
}

/// `{case}` after an event or 撤件.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CaseMoved {
    case: CasePosition,
}

impl CaseMoved {
    /// Where the case in `state` went.
    pub(super) fn of(state: &CaseState) -> Self {
        CaseMoved {
            case: CasePosition::of(state),
        }
    }
}

/// A completed task and where its case went.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Completed {
    /// The task as it is now (`null` only if it vanished meanwhile).
    task: Option<Task>,
    case: CasePosition,
}

impl Completed {
    /// The answer to a completion.
    pub(super) fn new(task: Option<Task>, state: &CaseState) -> Self {
        Completed {
            task,
            case: CasePosition::of(state),
        }
    }
}

/// A case in a list; `title` carries a masked ID number.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct CaseSummary {
    #[schema(value_type = String)]
    id: CaseId,
    process: String,
    version: u32,
    status: String,
    result: Option<String>,
    #[schema(value_type = Vec<String>)]
    current_steps: Vec<StepId>,
    title: Option<String>,
    /// The readable case number (办件编号, 阳城退休〔2026〕0012); `null` for a case created
    /// before numbers existed or of a definition without `case_prefix`.
    number: Option<String>,
    started_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<&SummaryRecord> for CaseSummary {
    fn from(c: &SummaryRecord) -> Self {
        CaseSummary {
            id: c.id,
            process: c.process.clone(),
            version: c.version,
            status: c.status.clone(),
            result: c.result.clone(),
            current_steps: c.current_steps.clone(),
            title: c.title.clone(),
            number: c.number.clone(),
            started_at: c.started_at,
            updated_at: c.updated_at,
        }
    }
}

/// One entry of a case's history.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct HistoryEntry {
    seq: i64,
    at: DateTime<Utc>,
    /// A user name, or `apikey:<name>`.
    actor: String,
    /// `null` for an intake key and the system.
    actor_department: Option<String>,
    /// The absent clerk the actor stood in for (代办), if any.
    on_behalf_of: Option<String>,
    /// `start`, `complete`, `claim`, `view`, `cancel` …
    action: String,
    from_status: Option<String>,
    #[schema(value_type = Vec<String>)]
    from_steps: Vec<StepId>,
    to_status: String,
    #[schema(value_type = Vec<String>)]
    to_steps: Vec<StepId>,
    /// What happened, each `{type, …}`.
    #[schema(value_type = Vec<Object>)]
    events: Vec<Event>,
    /// Changed values: `form.<key>`, `data.<key>` or `materials` → `{old, new}`.
    data_changed: Map<String, Value>,
}

impl From<&HistoryRecord> for HistoryEntry {
    fn from(h: &HistoryRecord) -> Self {
        HistoryEntry {
            seq: h.seq,
            at: h.at,
            actor: h.actor.user.clone(),
            actor_department: h.actor.department.clone(),
            on_behalf_of: h.actor.on_behalf_of.clone(),
            action: h.action.clone(),
            from_status: h.from_status.clone(),
            from_steps: h.from_steps.clone(),
            to_status: h.to_status.clone(),
            to_steps: h.to_steps.clone(),
            events: h.events.clone(),
            data_changed: h.data_changed.clone(),
        }
    }
}

/// A case in full, with personal data; `history` only on `GET /api/v1/cases/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Case {
    #[schema(value_type = String)]
    id: CaseId,
    /// `active`, `completed`, `cancelled`.
    status: &'static str,
    /// The end's result, or the 撤件 reason.
    result: Option<String>,
    current_steps: Vec<String>,
    process: String,
    version: u32,
    title: Option<String>,
    /// The readable case number (办件编号, 阳城退休〔2026〕0012), when it has one.
    number: Option<String>,
    form: Map<String, Value>,
    data: Map<String, Value>,
    materials: Vec<String>,
    started_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    tasks: Vec<Task>,
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<Vec<HistoryEntry>>,
}

impl Case {
    /// The case of `record` with its tasks, and its history when given.
    pub(super) fn new(
        record: &CaseRecord,
        tasks: Vec<Task>,
        history: Option<Vec<HistoryEntry>>,
    ) -> Self {
        let state = &record.state;
        let position = CasePosition::of(state);
        Case {
            id: position.id,
            status: position.status,
            result: position.result,
            current_steps: position.current_steps,
            process: state.process.clone(),
            version: state.version,
            title: record.title.clone(),
            number: state.number.clone().map(String::from),
            form: state.form.clone(),
            data: state.data.clone(),
            materials: state.materials.clone(),
            started_at: state.started_at,
            ended_at: state.ended_at,
            tasks,
            history,
        }
    }
}

/// An issued document, without its HTML.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Document {
    id: String,
    key: String,
    name: String,
    number: Option<String>,
    issued_at: DateTime<Utc>,
    issued_by: String,
    #[schema(value_type = String)]
    step: StepId,
    department: Option<String>,
    content_hash: String,
}

impl From<&DocumentRecord> for Document {
    fn from(d: &DocumentRecord) -> Self {
        Document {
            id: d.id.to_string(),
            key: d.key.clone(),
            name: d.name.clone(),
            number: d.number.clone(),
            issued_at: d.issued_at,
            issued_by: d.issued_by.clone(),
            step: d.step.clone(),
            department: d.department.clone(),
            content_hash: d.content_hash.clone(),
        }
    }
}
