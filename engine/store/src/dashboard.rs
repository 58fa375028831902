//! Aggregates for the supervision dashboard (`/dashboard`): grouped counts and window-bounded
//! fetches, each scoped to one county and one department so that it is a range of an index
//! (see the `add_dashboard_indexes` migration and `docs/dashboard.md` for the plans). The
//! store counts; what the numbers mean (working days, percentiles, refusals) is decided by
//! the web layer, which knows the definitions.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::Reads;
use super::StoreError;
use super::cases::parse_case_id;
use super::entity::{case, document, task};
use super::records::task_status_word;
use lianban_core::definition::StepId;
use lianban_core::runtime::{CaseId, TaskId, TaskStatus};

/// A department's open tasks by state at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TaskCounts {
    /// Open and claimed by nobody.
    pub open: u64,
    /// Claimed by a clerk, not yet completed.
    pub claimed: u64,
    /// Open or claimed and in their warning period (`warn_at` passed), overdue included:
    /// the inbox's `due=soon`.
    pub due_soon: u64,
    /// Open or claimed and past their due time: the inbox's `due=overdue`.
    pub overdue: u64,
}

/// Cases waiting at one step of a department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepCount {
    /// Step id.
    pub step: String,
    /// Step name as stored with the tasks.
    pub step_name: String,
    /// Distinct cases with an open or claimed task at the step.
    pub cases: u64,
}

/// A task completed in a window, as the handling-time and refusal figures need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedTask {
    /// Task id.
    pub id: TaskId,
    /// Its case.
    pub case_id: CaseId,
    /// Step id.
    pub step: StepId,
    /// Step name as stored.
    pub step_name: String,
    /// Role (to find the definition, and with it the calendar).
    pub role: String,
    /// Outcome chosen.
    pub outcome: Option<String>,
    /// When the task was created.
    pub created_at: DateTime<Utc>,
    /// When it was completed.
    pub closed_at: DateTime<Utc>,
}

/// Supplement requests (补正) a department issued in a window, counted in cases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SupplementCounts {
    /// Cases that received at least one supplement request.
    pub requested: u64,
    /// Of those, cases that received a second request (二次补正).
    pub second: u64,
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

impl Reads<'_> {
    /// Open, claimed, due-soon and overdue tasks of a department at `now`: three counts over
    /// `tasks (county, department, status, due_at)`, which read only open work.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn task_counts(
        &self,
        county: &str,
        department: &str,
        now: DateTime<Utc>,
    ) -> Result<TaskCounts, StoreError> {
        let open_words = [TaskStatus::Open, TaskStatus::Claimed].map(task_status_word);
        let base = || {
            task::Entity::find()
                .select_only()
                .filter(task::Column::County.eq(county))
                .filter(task::Column::Department.eq(department))
                .filter(task::Column::Status.is_in(open_words))
        };
        let by_status: Vec<(String, i64)> = base()
            .column(task::Column::Status)
            .column_as(Expr::col(task::Column::Id).count(), "n")
            .group_by(task::Column::Status)
            .into_tuple()
            .all(&self.store.db)
            .await?;
        let of = |word: &str| {
            by_status
                .iter()
                .find(|(s, _)| s == word)
                .map_or(0, |(_, n)| count(*n))
        };
        let overdue: Option<i64> = base()
            .column_as(Expr::col(task::Column::Id).count(), "n")
            .filter(task::Column::DueAt.lt(now))
            .into_tuple()
            .one(&self.store.db)
            .await?;
        let soon: Option<i64> = base()
            .column_as(Expr::col(task::Column::Id).count(), "n")
            .filter(task::Column::WarnAt.lte(now))
            .into_tuple()
            .one(&self.store.db)
            .await?;
        Ok(TaskCounts {
            open: of(task_status_word(TaskStatus::Open)),
            claimed: of(task_status_word(TaskStatus::Claimed)),
            due_soon: soon.map_or(0, count),
            overdue: overdue.map_or(0, count),
        })
    }

    /// The department's steps with open or claimed tasks, and how many distinct cases wait
    /// at each, most first.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn open_steps(
        &self,
        county: &str,
        department: &str,
    ) -> Result<Vec<StepCount>, StoreError> {
        let open_words = [TaskStatus::Open, TaskStatus::Claimed].map(task_status_word);
        let rows: Vec<(String, String, i64)> = task::Entity::find()
            .select_only()
            .column(task::Column::Step)
            .column_as(Expr::col(task::Column::StepName).max(), "step_name")
            .column_as(Expr::col(task::Column::CaseId).count_distinct(), "n")
            .filter(task::Column::County.eq(county))
            .filter(task::Column::Department.eq(department))
            .filter(task::Column::Status.is_in(open_words))
            .group_by(task::Column::Step)
            .into_tuple()
            .all(&self.store.db)
            .await?;
        let mut steps: Vec<StepCount> = rows
            .into_iter()
            .map(|(step, step_name, n)| StepCount {
                step,
                step_name,
                cases: count(n),
            })
            .collect();
        steps.sort_by(|a, b| b.cases.cmp(&a.cases).then_with(|| a.step.cmp(&b.step)));
        Ok(steps)
    }

    /// Cases of `county` completed (办结) at or after `since` in which the department had a
    /// task: a range of `cases (county, status, ended_at)`, each probed through
    /// `tasks (case_id)`.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn finished(
        &self,
        county: &str,
        department: &str,
        since: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let n: Option<i64> = case::Entity::find()
            .select_only()
            .column_as(Expr::col((case::Entity, case::Column::Id)).count(), "n")
            .filter(case::Column::County.eq(county))
            .filter(case::Column::Status.eq("completed"))
            .filter(case::Column::EndedAt.gte(since))
            .filter(super::access::had_task(department))
            .into_tuple()
            .one(&self.store.db)
            .await?;
        Ok(n.map_or(0, count))
    }

    /// The department's tasks completed in `[from, to)`, oldest first: a range of
    /// `tasks (county, department, status, closed_at)`.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn closed_tasks(
        &self,
        county: &str,
        department: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ClosedTask>, StoreError> {
        type Row = (
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            DateTime<Utc>,
            Option<DateTime<Utc>>,
        );
        let rows: Vec<Row> = task::Entity::find()
            .select_only()
            .columns([
                task::Column::Id,
                task::Column::CaseId,
                task::Column::Step,
                task::Column::StepName,
                task::Column::Role,
                task::Column::Outcome,
                task::Column::CreatedAt,
                task::Column::ClosedAt,
            ])
            .filter(task::Column::County.eq(county))
            .filter(task::Column::Department.eq(department))
            .filter(task::Column::Status.eq(task_status_word(TaskStatus::Completed)))
            .filter(task::Column::ClosedAt.gte(from))
            .filter(task::Column::ClosedAt.lt(to))
            .into_tuple()
            .all(&self.store.db)
            .await?;
        let mut tasks = Vec::with_capacity(rows.len());
        for (id, case_id, step, step_name, role, outcome, created_at, closed_at) in rows {
            let corrupt = |column| StoreError::Corrupt {
                table: "tasks",
                id: id.clone(),
                column,
            };
            let closed_at = closed_at.ok_or_else(|| corrupt("closed_at"))?;
            let task_id = Uuid::parse_str(&id)
                .map(TaskId)
                .map_err(|_| corrupt("id"))?;
            tasks.push(ClosedTask {
                id: task_id,
                case_id: parse_case_id("tasks", &case_id)?,
                step: StepId(step),
                step_name,
                role,
                outcome,
                created_at,
                closed_at,
            });
        }
        tasks.sort_by_key(|t| (t.closed_at, t.id));
        Ok(tasks)
    }

    /// Cases of `county` to which the department issued a supplement request in
    /// `[from, to)`, and of those the ones that got a second request: a range of
    /// `documents (department, issued_at)`, each joined to its case by primary key for the
    /// county.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn supplements(
        &self,
        county: &str,
        department: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<SupplementCounts, StoreError> {
        let distinct_cases = |second: bool| {
            let in_county = Query::select()
                .column(case::Column::Id)
                .from(case::Entity)
                .and_where(
                    Expr::col((case::Entity, case::Column::Id))
                        .equals((document::Entity, document::Column::CaseId)),
                )
                .and_where(Expr::col((case::Entity, case::Column::County)).eq(county))
                .to_owned();
            let mut select = document::Entity::find()
                .select_only()
                .column_as(
                    Expr::col((document::Entity, document::Column::CaseId)).count_distinct(),
                    "n",
                )
                .filter(document::Column::Department.eq(department))
                .filter(document::Column::IssuedAt.gte(from))
                .filter(document::Column::IssuedAt.lt(to))
                .filter(Expr::exists(in_county));
            select = if second {
                select.filter(document::Column::SecondReason.is_not_null())
            } else {
                select.filter(document::Column::Missing.is_not_null())
            };
            select.into_tuple::<i64>().one(&self.store.db)
        };
        let requested = distinct_cases(false).await?;
        let second = distinct_cases(true).await?;
        Ok(SupplementCounts {
            requested: requested.map_or(0, count),
            second: second.map_or(0, count),
        })
    }

    /// Active cases of `county` by the step(s) they are at, wait steps included, most
    /// first: one grouped count over the `active` range of `cases (county, status,
    /// ended_at)`, then split per step (a case at two parallel steps counts at both).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn case_steps(&self, county: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = case::Entity::find()
            .select_only()
            .column(case::Column::CurrentSteps)
            .column_as(Expr::col(case::Column::Id).count(), "n")
            .filter(case::Column::County.eq(county))
            .filter(case::Column::Status.eq("active"))
            .group_by(case::Column::CurrentSteps)
            .into_tuple()
            .all(&self.store.db)
            .await?;
        let mut steps: Vec<(String, u64)> = Vec::new();
        for (current, n) in rows {
            for step in super::records::split_steps(&current) {
                match steps.iter_mut().find(|(s, _)| *s == step.as_str()) {
                    Some((_, total)) => *total += count(n),
                    None => steps.push((step.to_string(), count(n))),
                }
            }
        }
        steps.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(steps)
    }

    /// The written reason given when `task` of `case` was completed, read from the case's
    /// state (the task rows do not keep it). `None` when the case or task is gone or no
    /// reason was written.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Serialization`].
    pub async fn task_reason(
        &self,
        case: CaseId,
        task: TaskId,
    ) -> Result<Option<String>, StoreError> {
        let Some(record) = self.store.cases().get(case).await? else {
            return Ok(None);
        };
        Ok(record
            .state
            .tasks
            .into_iter()
            .find(|t| t.id == task)
            .and_then(|t| t.reason))
    }
}
