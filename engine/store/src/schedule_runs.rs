//! Firings of cron schedules. A firing runs once across replicas because its row is
//! inserted with a UNIQUE (process, schedule, fire time) key before the action runs: the
//! INSERT that succeeds owns the firing, every other replica sees "nothing inserted".

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use uuid::Uuid;

use super::Jobs;
use super::StoreError;
use super::entity::schedule_run;

/// How a firing ended (or that it is still running).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Claimed, the action is running.
    Running,
    /// The action finished.
    Finished,
    /// The action failed; `error` says why.
    Failed,
    /// The firing was missed during downtime and the schedule does not catch up.
    Skipped,
}

impl RunStatus {
    /// The word stored in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Finished => "finished",
            RunStatus::Failed => "failed",
            RunStatus::Skipped => "skipped",
        }
    }

    fn parse(word: &str) -> Option<RunStatus> {
        Some(match word {
            "running" => RunStatus::Running,
            "finished" => RunStatus::Finished,
            "failed" => RunStatus::Failed,
            "skipped" => RunStatus::Skipped,
            _ => return None,
        })
    }
}

/// One firing of a schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRun {
    /// Row id.
    pub id: Uuid,
    /// Process id.
    pub process_id: String,
    /// Schedule id inside the process.
    pub schedule_id: String,
    /// The cron time this run is for.
    pub fire_time: DateTime<Utc>,
    /// How it ended.
    pub status: RunStatus,
    /// Whether it made up for a firing missed during downtime.
    pub catch_up: bool,
    /// When a replica claimed it.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed (Chinese).
    pub error: Option<String>,
    /// What the action did.
    pub result: Option<Value>,
}

impl Jobs<'_> {
    /// Inserts the row of a firing unless some replica already did. Returns the new run's
    /// id when this call inserted it (and so owns the firing), `None` otherwise.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn claim_schedule_run(
        &self,
        process_id: &str,
        schedule_id: &str,
        fire_time: DateTime<Utc>,
        status: RunStatus,
        catch_up: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<Uuid>, StoreError> {
        let id = Uuid::now_v7();
        let ended = status != RunStatus::Running;
        let row = schedule_run::ActiveModel {
            id: Set(id.to_string()),
            process_id: Set(process_id.to_owned()),
            schedule_id: Set(schedule_id.to_owned()),
            fire_time: Set(fire_time),
            status: Set(status.as_str().to_owned()),
            catch_up: Set(catch_up),
            started_at: Set(now),
            finished_at: Set(ended.then_some(now)),
            error: Set(None),
            result: Set(None),
        };
        use schedule_run::Column;
        let on_conflict =
            OnConflict::columns([Column::ProcessId, Column::ScheduleId, Column::FireTime])
                .do_nothing()
                .to_owned();
        let inserted = schedule_run::Entity::insert(row)
            .on_conflict(on_conflict)
            .exec_without_returning(&self.store.db)
            .await?;
        Ok((inserted == 1).then_some(id))
    }

    /// Records how a claimed run ended.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn finish_schedule_run(
        &self,
        id: Uuid,
        status: RunStatus,
        error: Option<String>,
        result: Option<Value>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        schedule_run::Entity::update_many()
            .set(schedule_run::ActiveModel {
                status: Set(status.as_str().to_owned()),
                finished_at: Set(Some(now)),
                error: Set(error),
                result: Set(result),
                ..Default::default()
            })
            .filter(schedule_run::Column::Id.eq(id.to_string()))
            .exec(&self.store.db)
            .await?;
        Ok(())
    }

    /// The latest firing of a schedule at or before `before` with one of `statuses` (any
    /// status when empty).
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn latest_schedule_run(
        &self,
        process_id: &str,
        schedule_id: &str,
        before: DateTime<Utc>,
        statuses: &[RunStatus],
    ) -> Result<Option<ScheduleRun>, StoreError> {
        let mut select = schedule_run::Entity::find()
            .filter(schedule_run::Column::ProcessId.eq(process_id))
            .filter(schedule_run::Column::ScheduleId.eq(schedule_id))
            .filter(schedule_run::Column::FireTime.lte(before));
        if !statuses.is_empty() {
            select = select
                .filter(schedule_run::Column::Status.is_in(statuses.iter().map(|s| s.as_str())));
        }
        select
            .order_by_desc(schedule_run::Column::FireTime)
            .limit(1)
            .one(&self.store.db)
            .await?
            .map(run_record)
            .transpose()
    }

    /// Every firing of a process's schedules (or of all processes), newest first.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn schedule_runs(
        &self,
        process_id: Option<&str>,
        limit: u64,
    ) -> Result<Vec<ScheduleRun>, StoreError> {
        let mut select = schedule_run::Entity::find();
        if let Some(process) = process_id {
            select = select.filter(schedule_run::Column::ProcessId.eq(process));
        }
        select
            .order_by_desc(schedule_run::Column::FireTime)
            .order_by_asc(schedule_run::Column::Id)
            .limit(limit)
            .all(&self.store.db)
            .await?
            .into_iter()
            .map(run_record)
            .collect()
    }
}

fn run_record(row: schedule_run::Model) -> Result<ScheduleRun, StoreError> {
    let corrupt = |column| StoreError::Corrupt {
        table: "schedule_runs",
        id: row.id.clone(),
        column,
    };
    Ok(ScheduleRun {
        id: Uuid::parse_str(&row.id).map_err(|_| corrupt("id"))?,
        status: RunStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
        process_id: row.process_id,
        schedule_id: row.schedule_id,
        fire_time: row.fire_time,
        catch_up: row.catch_up,
        started_at: row.started_at,
        finished_at: row.finished_at,
        error: row.error,
        result: row.result,
    })
}
