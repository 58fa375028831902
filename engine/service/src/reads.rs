//! What clerks read about cases and tasks beyond the commands' own records: who may see a
//! case, case lists and titles, a task, the deadline notices, and the `view` row that puts
//! every reading of a case on its record. The web decides who may read what
//! ([`lianban_core::accounts::Principal`]); this fetches it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::records::{CaseQuery, CaseScope, CaseSummary, NoticeRecord, TaskRecord};
use super::{Engine, EngineError};
use lianban_core::runtime::{Actor, CaseId, TaskId};

impl Engine {
    /// Checks that the database answers (the readiness probe).
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn ping(&self) -> Result<(), EngineError> {
        Ok(self.store().ping().await?)
    }

    /// Who may see a case: the county of its process, the departments taking part and who
    /// started it; `None` when the case does not exist.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn case_scope(&self, case: CaseId) -> Result<Option<CaseScope>, EngineError> {
        Ok(self.store().cases().scope(case).await?)
    }

    /// Cases matching the query, most recently changed first.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn list_cases(&self, query: &CaseQuery) -> Result<Vec<CaseSummary>, EngineError> {
        Ok(self.store().reads().cases(query).await?)
    }

    /// The list titles (masked) of the given cases, by case id, led by their numbers
    /// (办件编号); cases with neither are left out.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn case_titles(
        &self,
        cases: &[CaseId],
    ) -> Result<HashMap<String, String>, EngineError> {
        Ok(self.store().cases().titles(cases).await?)
    }

    /// One task, open or closed.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn get_task(&self, id: TaskId) -> Result<Option<TaskRecord>, EngineError> {
        Ok(self.store().tasks().get(id).await?)
    }

    /// Records in the case's history that `actor` read it at `at` (the state is unchanged).
    /// Returns `false` when the case does not exist.
    ///
    /// # Errors
    /// [`EngineError::Store`], [`EngineError::Overloaded`] when the writer's queue stays full.
    pub async fn record_view(
        &self,
        case: CaseId,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<bool, EngineError> {
        // Through the writer: on SQLite a view takes the write lock like any command, so it
        // waits its turn there anyway, and in a group it shares the commit.
        let actor = actor.clone();
        self.write(move |unit| {
            Box::pin(async move { Ok(unit.record_view(case, &actor, at).await?) })
        })
        .await
    }

    /// Deadline notices for the supervisors of these departments (all when empty), of cases
    /// of `county` when given, newest first.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn list_notices(
        &self,
        departments: &[String],
        county: Option<&str>,
        limit: u64,
    ) -> Result<Vec<NoticeRecord>, EngineError> {
        Ok(self
            .store()
            .jobs()
            .notices(departments, county, limit)
            .await?)
    }
}
