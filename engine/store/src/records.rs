//! What the store hands out and takes in: plain records in the runtime's vocabulary, so no
//! sea-orm type leaks out of `store`.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::audit::ChainHead;
use lianban_core::definition::{Process, StepId};
use lianban_core::runtime::{
    Actor, CaseId, CaseState, CaseStatus, Event, TaskId, TaskStatus, Transition,
};

/// Identifier of an issued document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocumentId(pub uuid::Uuid);

impl std::fmt::Display for DocumentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What makes a supplement request a second one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondRequest {
    /// Material keys that the case's first request did not list.
    pub items: Vec<String>,
    /// The clerk's written reason.
    pub reason: String,
}

/// An issued document as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRecord {
    /// Its id.
    pub id: DocumentId,
    /// The case that issued it.
    pub case_id: CaseId,
    /// Document key in the definition.
    pub key: String,
    /// Document name.
    pub name: String,
    /// Its number, for numbered kinds (阳社补〔2026〕第0001号).
    pub number: Option<String>,
    /// Template name.
    pub template: String,
    /// SHA-256 of the template source it was rendered from.
    pub template_hash: String,
    /// SHA-256 of the HTML.
    pub content_hash: String,
    /// The rendered HTML, exactly as issued.
    pub html: String,
    /// When.
    pub issued_at: DateTime<Utc>,
    /// Who.
    pub issued_by: String,
    /// The issuing step.
    pub step: StepId,
    /// The issuing step's department.
    pub department: Option<String>,
    /// For a supplement request: the missing material keys.
    pub missing: Option<Vec<String>>,
    /// For a second supplement request: what was new, and why.
    pub second_request: Option<SecondRequest>,
}

/// What [`Definitions::register`](super::Definitions::register) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// The version was new and is now stored.
    Inserted,
    /// The same content was already stored.
    Unchanged,
    /// The content changed and no case runs on this version, so it was replaced.
    Updated,
}

/// One accepted command, ready to persist: the transition and who did it, when.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// The process the case runs on (for step names).
    pub process: &'a Process,
    /// What the runtime returned.
    pub transition: &'a Transition,
    /// Who issued the command.
    pub actor: &'a Actor,
    /// The command's name for the history: `start`, `claim`, `complete`, …
    pub action: &'a str,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// A stored case with what a command needs to run against it.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRecord {
    /// The whole state (its `process` and `version` say which definition it runs on).
    pub state: CaseState,
    /// Revision to pass back as `expected_revision` when saving.
    pub revision: i64,
    /// Content hash of the definition version the case started on.
    pub content_hash: String,
    /// One-line summary for lists.
    pub title: Option<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// The head of the case's history as read with it: a save appends after it without
    /// reading it again, unless it moved meanwhile.
    pub chain_head: Option<ChainHead>,
}

/// A case as listed (no state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseSummary {
    /// Case id.
    pub id: CaseId,
    /// Process id.
    pub process: String,
    /// Process version.
    pub version: u32,
    /// `active`, `completed` or `cancelled`.
    pub status: String,
    /// End result (办结 …), or the reason of a cancellation.
    pub result: Option<String>,
    /// Steps the case is at.
    pub current_steps: Vec<StepId>,
    /// One-line summary.
    pub title: Option<String>,
    /// Its readable number (阳城退休〔2026〕0012), when it has one.
    pub number: Option<String>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Which cases to list; empty filters match everything.
#[derive(Debug, Clone, Default)]
pub struct CaseQuery {
    /// Only cases with one of these statuses (`active`, `completed`, `cancelled`).
    pub statuses: Vec<String>,
    /// Only cases of this process.
    pub process: Option<String>,
    /// Only cases this department takes part in (has or had a task, or started).
    pub department: Option<String>,
    /// Only cases of processes of this county (`yangcheng`).
    pub county: Option<String>,
    /// Only cases this actor started (`apikey:<name>`: an intake key's own cases).
    pub started_by: Option<String>,
    /// Only cases whose applicant has exactly this name or ID number, or whose number
    /// (办件编号) this is (typed loosely, see `CaseNumber::from_search`).
    pub search: Option<String>,
    /// Only the case with this number (办件编号, typed loosely as for `search`).
    pub number: Option<String>,
    /// Only cases that ended at or after this instant (the dashboard's 本周/本月办结).
    pub ended_since: Option<DateTime<Utc>>,
    /// At most this many (all when `None`).
    pub limit: Option<u64>,
    /// Skip this many.
    pub offset: u64,
}

/// A task row of the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    /// Task id.
    pub id: TaskId,
    /// The case it belongs to.
    pub case_id: CaseId,
    /// Step id.
    pub step: StepId,
    /// Step name (受理 …).
    pub step_name: String,
    /// Role it is assigned to.
    pub role: String,
    /// Department of the role.
    pub department: String,
    /// County of the case's process (`yangcheng`); with the department it says whose
    /// task it is.
    pub county: String,
    /// Status.
    pub status: TaskStatus,
    /// Who claimed it.
    pub claimed_by: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Due.
    pub due_at: Option<DateTime<Utc>>,
    /// Completed or cancelled.
    pub closed_at: Option<DateTime<Utc>>,
    /// Outcome chosen.
    pub outcome: Option<String>,
    /// Who completed it.
    pub completed_by: Option<String>,
    /// When its warning period starts, if it has one.
    pub warn_at: Option<DateTime<Utc>>,
    /// Whether the due (and warning) time was counted in working days of a year whose
    /// holiday notice is not published yet (暂定).
    pub due_provisional: bool,
}

/// Which tasks to list. Each non-empty filter must hold (they combine with AND); within a
/// filter any value matches (OR).
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    /// Only tasks of this case.
    pub case: Option<CaseId>,
    /// Only tasks of these roles.
    pub roles: Vec<String>,
    /// Only tasks of these departments.
    pub departments: Vec<String>,
    /// Only tasks of cases of processes of this county.
    pub county: Option<String>,
    /// Only tasks in these statuses.
    pub statuses: Vec<TaskStatus>,
    /// Only tasks claimed by this user.
    pub claimed_by: Option<String>,
    /// With `claimed_by`: tasks claimed by these users too (the absent people the user
    /// stands in for, whose claimed tasks are theirs to work meanwhile).
    pub also_claimed_by: Vec<String>,
    /// Only tasks claimed by nobody.
    pub unclaimed: bool,
    /// Only tasks at these steps.
    pub steps: Vec<String>,
    /// Only tasks due before this time (overdue or due soon); tasks without a due time
    /// never match.
    pub due_before: Option<DateTime<Utc>>,
    /// Only tasks whose warning period started by this time (in warning or overdue).
    pub warned_at: Option<DateTime<Utc>>,
    /// Only tasks of cases whose applicant has exactly this name or ID number.
    pub search: Option<String>,
    /// At most this many (all when `None`).
    pub limit: Option<u64>,
    /// Skip this many.
    pub offset: u64,
}

/// One row of a case's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// 1, 2, 3 … within the case.
    pub seq: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: Actor,
    /// The command (`start`, `complete`, …).
    pub action: String,
    /// Status before (`None` for the start).
    pub from_status: Option<String>,
    /// Steps before.
    pub from_steps: Vec<StepId>,
    /// Status after.
    pub to_status: String,
    /// Steps after.
    pub to_steps: Vec<StepId>,
    /// What happened.
    pub events: Vec<Event>,
    /// Changed values: `form.<key>`, `data.<key>` or `materials` → `{"old": …, "new": …}`.
    pub data_changed: Map<String, Value>,
}

/// The status column's word for a case status.
pub(super) fn case_status_word(status: &CaseStatus) -> &'static str {
    match status {
        CaseStatus::Active => "active",
        CaseStatus::Completed { .. } => "completed",
        CaseStatus::Cancelled { .. } => "cancelled",
    }
}

/// The result column: the end result, or why the case was cancelled.
pub(super) fn case_result(status: &CaseStatus) -> Option<String> {
    match status {
        CaseStatus::Active => None,
        CaseStatus::Completed { result, .. } => Some(result.clone()),
        CaseStatus::Cancelled { reason } => Some(reason.clone()),
    }
}

/// The steps the live tokens are at, each once, comma separated.
pub(super) fn current_steps(state: &CaseState) -> String {
    let mut steps: Vec<&str> = Vec::new();
    for token in &state.tokens {
        if !steps.contains(&token.step.as_str()) {
            steps.push(token.step.as_str());
        }
    }
    steps.join(",")
}

/// Inverse of [`current_steps`].
pub(super) fn split_steps(text: &str) -> Vec<StepId> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(StepId::from)
        .collect()
}

pub(super) fn task_status_word(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Open => "open",
        TaskStatus::Claimed => "claimed",
        TaskStatus::Completed => "completed",
        TaskStatus::Cancelled => "cancelled",
    }
}

pub(super) fn parse_task_status(word: &str) -> Option<TaskStatus> {
    Some(match word {
        "open" => TaskStatus::Open,
        "claimed" => TaskStatus::Claimed,
        "completed" => TaskStatus::Completed,
        "cancelled" => TaskStatus::Cancelled,
        _ => return None,
    })
}

/// The values that differ between two states' form, data and materials, as
/// `{"data.key": {"old": …, "new": …}}`; a key that appeared has `old: null`.
pub(super) fn data_changes(old: Option<&CaseState>, new: &CaseState) -> Map<String, Value> {
    let empty = Map::new();
    let mut changes = Map::new();
    for (section, old_map, new_map) in [
        ("form", old.map_or(&empty, |s| &s.form), &new.form),
        ("data", old.map_or(&empty, |s| &s.data), &new.data),
    ] {
        for (key, value) in new_map {
            let before = old_map.get(key);
            if before != Some(value) {
                changes.insert(
                    format!("{section}.{key}"),
                    change(before.cloned(), value.clone()),
                );
            }
        }
        for (key, value) in old_map {
            if !new_map.contains_key(key) {
                changes.insert(
                    format!("{section}.{key}"),
                    change(Some(value.clone()), Value::Null),
                );
            }
        }
    }
    let old_materials = old.map(|s| s.materials.clone()).unwrap_or_default();
    if old_materials != new.materials {
        changes.insert(
            "materials".into(),
            change(Some(old_materials.into()), new.materials.clone().into()),
        );
    }
    changes
}

fn change(old: Option<Value>, new: Value) -> Value {
    let mut pair = Map::new();
    pair.insert("old".into(), old.unwrap_or(Value::Null));
    pair.insert("new".into(), new);
    Value::Object(pair)
}
