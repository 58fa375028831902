//! The figures of the supervisors' dashboard and of the metrics scrape: counts over open and
//! closed work per county and department. The store reads each figure through its index;
//! the periods, the working-day arithmetic and the charts are the web's.

use chrono::{DateTime, Utc};

use super::records::{ClosedTask, DepartmentLoad, StepCount, SupplementCounts, TaskCounts};
use super::{Engine, EngineError};
use lianban_core::runtime::{CaseId, TaskId};

impl Engine {
    /// Open, claimed, due-soon and overdue tasks of a department at `now`.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn dashboard_task_counts(
        &self,
        county: &str,
        department: &str,
        now: DateTime<Utc>,
    ) -> Result<TaskCounts, EngineError> {
        Ok(self
            .store()
            .reads()
            .task_counts(county, department, now)
            .await?)
    }

    /// The department's steps with open or claimed tasks, and how many cases wait at each,
    /// most first.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn dashboard_open_steps(
        &self,
        county: &str,
        department: &str,
    ) -> Result<Vec<StepCount>, EngineError> {
        Ok(self.store().reads().open_steps(county, department).await?)
    }

    /// Cases of `county` completed at or after `since` in which the department had a task.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn dashboard_finished(
        &self,
        county: &str,
        department: &str,
        since: DateTime<Utc>,
    ) -> Result<u64, EngineError> {
        Ok(self
            .store()
            .reads()
            .finished(county, department, since)
            .await?)
    }

    /// The department's tasks completed in `[from, to)`, oldest first.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn dashboard_closed_tasks(
        &self,
        county: &str,
        department: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ClosedTask>, EngineError> {
        Ok(self
            .store()
            .reads()
            .closed_tasks(county, department, from, to)
            .await?)
    }

    /// Cases of `county` to which the department issued a supplement request in `[from,
    /// to)`, and of those the ones that got a second request.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn dashboard_supplements(
        &self,
        county: &str,
        department: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<SupplementCounts, EngineError> {
        Ok(self
            .store()
            .reads()
            .supplements(county, department, from, to)
            .await?)
    }

    /// Active cases of `county` by the step(s) they are at, most first.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn dashboard_case_steps(
        &self,
        county: &str,
    ) -> Result<Vec<(String, u64)>, EngineError> {
        Ok(self.store().reads().case_steps(county).await?)
    }

    /// The written reason given when `task` of `case` was completed; `None` when the case or
    /// task is gone or no reason was written.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn task_reason(
        &self,
        case: CaseId,
        task: TaskId,
    ) -> Result<Option<String>, EngineError> {
        Ok(self.store().reads().task_reason(case, task).await?)
    }

    /// How many tasks each department of each county has open, and how many of those are
    /// past due at `now` (the metrics gauges).
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn open_task_counts(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<DepartmentLoad>, EngineError> {
        Ok(self.store().reads().open_task_counts(now).await?)
    }
}
