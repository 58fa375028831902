//! The documents a command issues. They are prepared before the unit of work that stores
//! them (the context each template will see, the missing materials of a supplement notice),
//! then numbered, rendered and stored inside that unit, after the transition: a number is
//! drawn only in a unit that commits, so numbers stay gap-free. What to issue, and whether a
//! supplement request breaks the 一次性告知 promise (二次补正), the runtime decided; this
//! carries it out. Also the Engine's queries over issued documents.

use chrono::{DateTime, Utc};
use chrono_tz::Asia::Shanghai;
use uuid::Uuid;

use super::{Engine, EngineError};
use lianban_core::definition::{Process, StepId, StepKind};
use lianban_core::documents::{
    CaseView, Draft, Rendered, TaskView, Templates, format_number, missing_materials,
};
use lianban_core::runtime::{
    Actor, CaseId, CaseState, Command, Effect, Event, TaskId, TaskStatus, Transition,
};
use lianban_store::{DocumentId, DocumentRecord, SecondRequest, Unit};
use serde_json::{Value, json};

impl Engine {
    /// The documents a case issued, oldest first.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn list_documents(&self, case: CaseId) -> Result<Vec<DocumentRecord>, EngineError> {
        Ok(self.store().documents().list(case).await?)
    }

    /// One issued document of a case.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn get_document(
        &self,
        case: CaseId,
        id: DocumentId,
    ) -> Result<Option<DocumentRecord>, EngineError> {
        Ok(self.store().documents().get(case, id).await?)
    }

    /// Second supplement requests (二次补正) of a department, or of all, newest first.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn list_second_supplements(
        &self,
        department: Option<&str>,
    ) -> Result<Vec<DocumentRecord>, EngineError> {
        Ok(self
            .store()
            .documents()
            .second_supplements(department)
            .await?)
    }
}

/// A document to issue with a transition: the draft (numbered and rendered in the unit that
/// saves the transition) and what the case history needs to know about it.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    id: DocumentId,
    draft: Draft,
    step: StepId,
    department: Option<String>,
    issued_by: String,
    missing: Option<Vec<String>>,
    second_request: Option<SecondRequest>,
}

/// Numbers, renders and stores the pending documents of case `case` in `unit`, after its
/// transition.
///
/// # Errors
/// [`EngineError::Document`] when a template fails, [`EngineError::Store`]; the caller
/// drops the unit then, so nothing is written and no number is used.
pub(super) async fn issue(
    unit: &mut Unit<'_>,
    case: CaseId,
    pending: &[Pending],
    templates: &Templates,
) -> Result<Vec<DocumentRecord>, EngineError> {
    let mut records = Vec::with_capacity(pending.len());
    for new in pending {
        let draft = &new.draft;
        let rendered = render_numbered(unit, draft, templates).await?;
        records.push(DocumentRecord {
            id: new.id,
            case_id: case,
            key: draft.key.clone(),
            name: draft.name.clone(),
            number: rendered.number,
            template: draft.template.clone(),
            template_hash: rendered.template_hash,
            content_hash: rendered.content_hash,
            html: rendered.html,
            issued_at: draft.issued_at,
            issued_by: new.issued_by.clone(),
            step: new.step.clone(),
            department: new.department.clone(),
            missing: new.missing.clone(),
            second_request: new.second_request.clone(),
        });
    }
    unit.insert_documents(&records).await?;
    Ok(records)
}

/// Draws the draft's number in `unit` (for numbered kinds) and renders it with it.
///
/// # Errors
/// [`EngineError::Document`], [`EngineError::Store`].
pub(super) async fn render_numbered(
    unit: &mut Unit<'_>,
    draft: &Draft,
    templates: &Templates,
) -> Result<Rendered, EngineError> {
    let number = match &draft.prefix {
        Some(prefix) => {
            let seq = unit.next_number(prefix, draft.year()).await?;
            Some(format_number(prefix, draft.year(), seq))
        }
        None => None,
    };
    draft
        .render(templates, number)
        .map_err(EngineError::Document)
}

impl Engine {
    /// The name 经办人 prints for `actor` on the documents `transition` issues: the
    /// account's display name (the person's real name), else the login (API keys, the
    /// system); a substitute prints as `王强（代李娜）`, the person who did the work first and
    /// the absent clerk in whose stead, as an office signs 代办 papers. Read only when the
    /// transition issues a document.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub(super) async fn clerk_name(
        &self,
        actor: &Actor,
        transition: &Transition,
    ) -> Result<String, EngineError> {
        let issues = transition
            .effects
            .iter()
            .any(|e| matches!(e, Effect::IssueDocument { .. }));
        if !issues {
            return Ok(actor.user.clone());
        }
        let logins: Vec<String> = std::iter::once(actor.user.clone())
            .chain(actor.on_behalf_of.clone())
            .collect();
        let names = self.store().accounts().names(&logins).await?;
        let name = |login: &String| names.get(login).cloned().unwrap_or_else(|| login.clone());
        Ok(match &actor.on_behalf_of {
            Some(absent) => format!("{}（代{}）", name(&actor.user), name(absent)),
            None => name(&actor.user),
        })
    }
}

/// The completion a transition came from, taken from the command before it is applied.
pub(super) struct Completion {
    task: TaskId,
    outcome: String,
    reason: Option<String>,
}

impl Completion {
    /// The completion in `command`, if it is one (only outcomes issue documents).
    pub(super) fn of(command: &Command) -> Option<Completion> {
        match command {
            Command::Complete {
                task,
                outcome,
                reason,
                ..
            } => Some(Completion {
                task: *task,
                outcome: outcome.clone(),
                reason: reason.clone().filter(|r| !r.trim().is_empty()),
            }),
            _ => None,
        }
    }
}

/// Prepares the documents `transition` issues, as the runtime decided them: each
/// [`Effect::IssueDocument`] becomes a draft with the case's missing materials, and a
/// supplement request records what it asked for and, when the runtime found it to be a
/// second request, the [`Event::SecondSupplementRequested`] it recorded. `clerk` is the
/// name printed as 经办人 ([`Engine::clerk_name`]); the record keeps the login.
///
/// # Errors
/// [`EngineError::Document`] when a material condition fails or a document is unknown.
pub(super) fn prepare(
    process: &Process,
    completion: Option<Completion>,
    transition: &Transition,
    actor: &Actor,
    clerk: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Pending>, EngineError> {
    let issued: Vec<(&String, &Option<Vec<String>>)> = transition
        .effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::IssueDocument {
                document, missing, ..
            } => Some((document, missing)),
            _ => None,
        })
        .collect();
    let Some(completion) = completion.filter(|_| !issued.is_empty()) else {
        return Ok(Vec::new());
    };
    let state = &transition.state;
    let task = state.tasks.iter().find(|t| t.id == completion.task);
    let Some(task) = task else {
        return Ok(Vec::new());
    };
    let case_id = state.id.to_string();
    let case = view(state, &case_id);
    let today = now.with_timezone(&Shanghai).date_naive();
    // The context lists the materials by name, on the state after the decision.
    let missing =
        missing_materials(process, &case, today).map_err(|e| EngineError::Document(e.into()))?;
    let second = transition.events.iter().find_map(|event| match event {
        Event::SecondSupplementRequested { items, reason } => Some(SecondRequest {
            items: items.clone(),
            reason: reason.clone(),
        }),
        _ => None,
    });
    let task_view = TaskView {
        step: task.step.clone(),
        outcome: completion.outcome.clone(),
        reason: completion.reason.clone(),
        clerk: clerk.to_owned(),
    };
    let mut documents = Vec::with_capacity(issued.len());
    for (key, asked) in issued {
        let draft = Draft::new(process, key, &case, Some(&task_view), &missing, now)
            .map_err(EngineError::Document)?;
        documents.push(Pending {
            // v7: ids sort by issue time, like case ids.
            id: DocumentId(Uuid::now_v7()),
            draft,
            step: task.step.clone(),
            department: Some(task.department.clone()),
            issued_by: actor.user.clone(),
            missing: asked.clone(),
            second_request: asked.as_ref().and(second.clone()),
        });
    }
    Ok(documents)
}

/// The case's refusals so far, as papers list them (the 办结通知书 names each joint item's
/// refusal and its written notice): every completed task whose outcome required a written
/// reason, oldest first, with the refusing department's issuing name, the reason, and the
/// notice that outcome issued (`issued`: the case's documents stored before).
pub(super) fn refusals(process: &Process, state: &CaseState, issued: &[DocumentRecord]) -> Value {
    let list: Vec<Value> = state
        .tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Completed)
        .filter_map(|task| {
            let step = process.step(&task.step)?;
            let StepKind::Task(spec) = &step.kind else {
                return None;
            };
            let outcome = spec.outcomes.get(task.outcome.as_deref()?)?;
            if !outcome.reason_required {
                return None;
            }
            let department = process.departments.get(&task.department);
            let notice = issued
                .iter()
                .rev()
                .find(|d| d.step == task.step && outcome.documents.contains(&d.key));
            Some(json!({
                "step": task.step,
                "item": step.name,
                "outcome_label": outcome.label,
                "department": department.map(|d| d.issuer.as_deref().unwrap_or(&d.name)),
                "reason": task.reason,
                "notice": notice.map(|d| json!({"name": d.name, "number": d.number})),
            }))
        })
        .collect();
    Value::Array(list)
}

/// Puts the case's refusals into every pending document's context.
pub(super) fn set_refusals(pending: &mut [Pending], refusals: &Value) {
    for new in pending {
        new.draft.set_context("refusals", refusals.clone());
    }
}

/// The case as documents see it.
pub(super) fn view<'a>(state: &'a CaseState, id: &'a str) -> CaseView<'a> {
    CaseView {
        id,
        form: &state.form,
        data: &state.data,
        materials: &state.materials,
        started_at: state.started_at,
        number: state.number.as_ref().map(|n| n.as_str()),
    }
}
