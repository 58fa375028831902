//! The documents a command issues, prepared before the transaction that stores them: the
//! context each template will see, the missing materials of a supplement notice, and the
//! 一次性告知 check — a supplement request that asks for a material the case's first request
//! did not list is a second request (二次补正), allowed only with a written reason and
//! recorded in the history for supervisors. Also the Engine's queries over issued documents.

use chrono::{DateTime, Utc};
use chrono_tz::Asia::Shanghai;
use uuid::Uuid;

use super::{Engine, EngineError};
use crate::definition::{Process, StepKind};
use crate::documents::{
    CaseView, Draft, MissingMaterial, TaskView, beyond_first_request, is_supplement_request,
    missing_materials,
};
use crate::runtime::{Actor, CaseId, CaseState, Command, Effect, Event, TaskId, Transition};
use crate::store::{DocumentId, DocumentRecord, NewDocument, SecondRequest, Store};

impl Engine {
    /// The documents a case issued, oldest first.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn list_documents(&self, case: CaseId) -> Result<Vec<DocumentRecord>, EngineError> {
        Ok(self.store().list_documents(case).await?)
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
        Ok(self.store().get_document(case, id).await?)
    }

    /// Second supplement requests (二次补正) of a department, or of all, newest first.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn list_second_supplements(
        &self,
        department: Option<&str>,
    ) -> Result<Vec<DocumentRecord>, EngineError> {
        Ok(self.store().list_second_supplements(department).await?)
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

/// Prepares the documents `transition` issues. For a second supplement request it appends
/// [`Event::SecondSupplementRequested`] to the transition's events, so the history row
/// written with it records the request.
///
/// # Errors
/// [`EngineError::SecondSupplementReasonRequired`] for a second request without a written
/// reason; [`EngineError::Document`] when a material condition fails or a document is
/// unknown; [`EngineError::Store`] when the first request cannot be read.
pub(super) async fn prepare(
    store: &Store,
    process: &Process,
    completion: Option<Completion>,
    transition: &mut Transition,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Vec<NewDocument>, EngineError> {
    let issued: Vec<&String> = transition
        .effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::IssueDocument { document, .. } => Some(document),
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
    let outcome = process.step(&task.step).and_then(|step| match &step.kind {
        StepKind::Task(spec) => spec.outcomes.get(&completion.outcome),
        _ => None,
    });
    let supplement = outcome.is_some_and(|o| is_supplement_request(process, o));
    let case_id = state.id.to_string();
    let case = view(state, &case_id);
    let today = now.with_timezone(&Shanghai).date_naive();
    // The list is computed on the state after the decision, so values the clerk just
    // entered (and materials just received) count.
    let missing =
        missing_materials(process, &case, today).map_err(|e| EngineError::Document(e.into()))?;
    let second = if supplement {
        second_request(store, state, &missing, &completion).await?
    } else {
        None
    };
    let task_view = TaskView {
        step: task.step.clone(),
        outcome: completion.outcome.clone(),
        reason: completion.reason.clone(),
        clerk: actor.user.clone(),
    };
    let keys: Vec<String> = missing.iter().map(|m| m.key.clone()).collect();
    let mut documents = Vec::with_capacity(issued.len());
    for key in issued {
        let draft = Draft::new(process, key, &case, Some(&task_view), &missing, now)
            .map_err(EngineError::Document)?;
        documents.push(NewDocument {
            // v7: ids sort by issue time, like case ids.
            id: DocumentId(Uuid::now_v7()),
            draft,
            step: task.step.clone(),
            department: Some(task.department.clone()),
            issued_by: actor.user.clone(),
            missing: supplement.then(|| keys.clone()),
            second_request: second.clone(),
        });
    }
    if let Some(second) = second {
        transition.events.push(Event::SecondSupplementRequested {
            items: second.items,
            reason: second.reason,
        });
    }
    Ok(documents)
}

/// Compares a supplement request with the case's first one: `None` for the first request
/// or one that asks only for what the first listed.
async fn second_request(
    store: &Store,
    state: &CaseState,
    missing: &[MissingMaterial],
    completion: &Completion,
) -> Result<Option<SecondRequest>, EngineError> {
    let first = store.first_supplement(state.id).await?;
    let reason = completion.reason.as_deref();
    let items = beyond_first_request(first.as_deref(), missing, reason)?;
    Ok(match reason {
        Some(reason) if !items.is_empty() => Some(SecondRequest {
            items,
            reason: reason.to_owned(),
        }),
        _ => None,
    })
}

/// The case as documents see it.
pub(super) fn view<'a>(state: &'a CaseState, id: &'a str) -> CaseView<'a> {
    CaseView {
        id,
        form: &state.form,
        data: &state.data,
        materials: &state.materials,
        started_at: state.started_at,
    }
}
