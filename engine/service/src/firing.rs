//! [`Engine::fire_timer`]: one claimed timer carried out — the runtime decides what the
//! moment means for the case, and the change is saved together with marking the timer
//! fired, as the system.

use chrono::{DateTime, Utc};
use serde_json::Map;

use super::issuing::{self, Completion};
use super::{Engine, EngineError};
use lianban_core::runtime::{self, Actor, Command, Event};
use lianban_store::{Basis, Change, Missing, StoreError, TimerRecord};

/// How often a firing is retried when a clerk changed the case at the same moment.
const CONFLICT_RETRIES: usize = 5;

impl Engine {
    /// Carries out a timer that `owner` claimed, at `now`: records the moment in the case
    /// history (actor `system`) with whatever the step's escalations do, and marks the timer
    /// fired in the same transaction. Returns whether this call fired it (false when another
    /// instance took it over, or the case moved on so it no longer applies and it was only
    /// marked).
    ///
    /// # Errors
    /// [`EngineError::Runtime`] when an escalation cannot be carried out (e.g. a default
    /// outcome's rule fails; the timer stays unfired and is retried when its lease ends),
    /// [`EngineError::Store`].
    pub async fn fire_timer(
        &self,
        timer: &TimerRecord,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, EngineError> {
        let store = self.store();
        let actor = Actor::system();
        for _ in 0..CONFLICT_RETRIES {
            let record = store
                .cases()
                .get(timer.case_id)
                .await?
                .ok_or(StoreError::NotFound(Missing::Case(timer.case_id)))?;
            let process = self.process_for(&record).await?;
            let transition = runtime::fire(&process, &record.state, timer.firing, now)?;
            if transition.events.is_empty() {
                store.jobs().finish_timer(&timer.id, owner, now).await?;
                return Ok(false);
            }
            // A default outcome issues its documents as a clerk's would.
            let completion = transition.events.iter().find_map(|e| match e {
                Event::TaskCompleted { task, outcome } => {
                    let reason = transition
                        .state
                        .tasks
                        .iter()
                        .find(|t| t.id == *task)
                        .and_then(|t| t.reason.clone());
                    Completion::of(&Command::Complete {
                        task: *task,
                        outcome: outcome.clone(),
                        data: Map::new(),
                        reason,
                    })
                }
                _ => None,
            });
            let documents =
                issuing::prepare(&process, completion, &transition, &actor, &actor.user, now)?;
            let (actor, templates) = (actor.clone(), self.templates());
            let (timer_id, owner_id, case_id) = (timer.id.clone(), owner.to_owned(), timer.case_id);
            let revision = record.revision;
            let fired = self.write(move |unit| {
                Box::pin(async move {
                    let change = Change {
                        process: &process,
                        transition: &transition,
                        actor: &actor,
                        action: "timer",
                        at: now,
                    };
                    unit.save_transition(
                        Basis::Revision(revision),
                        &change,
                        Some((&timer_id, &owner_id)),
                    )
                    .await?;
                    issuing::issue(unit, case_id, &documents, &templates).await?;
                    Ok(())
                })
            });
            match fired.await {
                Ok(()) => return Ok(true),
                Err(EngineError::Store(StoreError::Conflict { .. })) => continue,
                Err(EngineError::Store(StoreError::TimerLost(_))) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict {
            case: timer.case_id,
        }
        .into())
    }
}
