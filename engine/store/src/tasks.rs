//! Task rows: the inbox's projection of the tasks in case states.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{
    Expr, ExprTrait, InsertStatement, OnConflict, Order, Query, SelectStatement, UpdateStatement,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect,
    QueryTrait,
};
use uuid::Uuid;

use super::batch::Batch;
use super::cases::{parse_case_id, same_definition};
use super::conn::Cells;
use super::entity::{case, task};
use super::records::{parse_task_status, task_status_word};
use super::{Change, StoreError, TaskQuery, TaskRecord};
use super::{Reads, Tasks};
use lianban_core::definition::StepId;
use lianban_core::runtime::{CaseState, Effect, Task, TaskId, TaskStatus, moment};

/// A department's open work, for the metrics gauges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentLoad {
    /// County of the department (department keys are unique only within a county).
    pub county: String,
    /// Department key.
    pub department: String,
    /// Tasks open or claimed.
    pub open: u64,
    /// Of those, the ones past their due time.
    pub overdue: u64,
}

impl Tasks<'_> {
    /// The task row, with its case id.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn get(&self, id: TaskId) -> Result<Option<TaskRecord>, StoreError> {
        let mut query = Query::select();
        query
            .columns(task_columns())
            .from(task::Entity)
            .and_where(Expr::col(task::Column::Id).eq(id.to_string()));
        self.store.read().row(&query, task_from).await
    }
}

impl Reads<'_> {
    /// Tasks matching the query, soonest due first (tasks without a due time last), then
    /// oldest first.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn inbox(&self, query: &TaskQuery) -> Result<Vec<TaskRecord>, StoreError> {
        let counties =
            super::definitions::counties_of(query.county.as_deref(), self.store.read()).await?;
        let select = tasks_select(query, &counties);
        self.store.read().rows(&select, task_from).await
    }
}

/// The inbox's query, shared with the EXPLAIN review so that it checks this very query.
/// `counties` are those the query covers ([`super::definitions::counties_of`]).
///
/// Built with sea-query's own statement, not an entity's `find()`: that one lists every
/// column only for them to be replaced, and each filter through a column's `ColumnTrait`
/// method looks the column's definition up to see whether it is an enum. Those made up
/// more than half of what an inbox page cost (`docs/performance.md`, session 14).
pub(super) fn tasks_select(query: &TaskQuery, counties: &[String]) -> SelectStatement {
    use task::Column as C;
    let mut select = Query::select();
    select.columns(task_columns()).from(task::Entity);
    if !query.roles.is_empty() {
        select.and_where(Expr::col(C::Role).is_in(query.roles.iter().map(String::as_str)));
    }
    select.and_where(Expr::col(C::County).is_in(counties.iter().map(String::as_str)));
    if !query.departments.is_empty() {
        select.and_where(
            Expr::col(C::Department).is_in(query.departments.iter().map(String::as_str)),
        );
    }
    // Open and claimed tasks carry the inbox's sort key, and only they do: the inbox (only
    // open work) reads the key's index in order and stops after one page.
    let open_only = !query.statuses.is_empty()
        && query
            .statuses
            .iter()
            .all(|s| matches!(s, TaskStatus::Open | TaskStatus::Claimed));
    let both_open = open_only
        && query.statuses.contains(&TaskStatus::Open)
        && query.statuses.contains(&TaskStatus::Claimed);
    if open_only {
        select.and_where(Expr::col(C::InboxOrder).is_not_null());
    }
    if !query.statuses.is_empty() && !both_open {
        let words = query.statuses.iter().map(|s| task_status_word(*s));
        select.and_where(Expr::col(C::Status).is_in(words));
    }
    if let Some(user) = &query.claimed_by {
        if query.also_claimed_by.is_empty() {
            select.and_where(Expr::col(C::ClaimedBy).eq(user.as_str()));
        } else {
            let users = std::iter::once(user).chain(&query.also_claimed_by);
            select.and_where(Expr::col(C::ClaimedBy).is_in(users.map(String::as_str)));
        }
    }
    if let Some(case) = query.case {
        select.and_where(Expr::col(C::CaseId).eq(case.to_string()));
    }
    if query.unclaimed {
        select.and_where(Expr::col(C::ClaimedBy).is_null());
    }
    if !query.steps.is_empty() {
        select.and_where(Expr::col(C::Step).is_in(query.steps.iter().map(String::as_str)));
    }
    if let Some(term) = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        // Both columns are indexed: the subquery is two index lookups, not a scan.
        let cases = Query::select()
            .column(case::Column::Id)
            .from(case::Entity)
            .cond_where(super::cases::search_condition(term))
            .to_owned();
        select.and_where(Expr::col(C::CaseId).in_subquery(cases));
    }
    if let Some(before) = query.due_before {
        select.and_where(Expr::col(C::DueAt).lt(before));
    }
    if let Some(at) = query.warned_at {
        select.and_where(Expr::col(C::WarnAt).lte(at));
    }
    if open_only {
        // The same order as below, spelled as one key (see `inbox_order`).
        select
            .order_by(C::InboxOrder, Order::Asc)
            .order_by(C::Id, Order::Asc);
    } else {
        // SQLite sorts NULL first and PostgreSQL last; sorting on `IS NULL` first makes
        // both put tasks without a due time at the end. (SQLite keeps times as RFC 3339
        // text in UTC, which sorts in time order.)
        select
            .order_by_expr(Expr::col(C::DueAt).is_null(), Order::Asc)
            .order_by(C::DueAt, Order::Asc)
            .order_by(C::CreatedAt, Order::Asc)
            .order_by(C::Id, Order::Asc);
    }
    super::page_statement(&mut select, query.limit, query.offset);
    select
}

impl Reads<'_> {
    /// How many tasks each department of each county has open (open or claimed), and how
    /// many of those are past due at `now`; departments without open tasks are absent. Two
    /// grouped counts over the `(county, department, status, due_at)` index, cheap enough
    /// for every metrics scrape.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn open_task_counts(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<DepartmentLoad>, StoreError> {
        let open_words = [TaskStatus::Open, TaskStatus::Claimed].map(task_status_word);
        let counts = |overdue: bool| {
            let mut select = task::Entity::find()
                .select_only()
                .column(task::Column::County)
                .column(task::Column::Department)
                .column_as(Expr::col(task::Column::Id).count(), "n")
                .filter(task::Column::Status.is_in(open_words));
            if overdue {
                select = select.filter(task::Column::DueAt.lt(now));
            }
            select
                .group_by(task::Column::County)
                .group_by(task::Column::Department)
                .into_tuple::<(Option<String>, String, i64)>()
                .all(&self.store.db)
        };
        let open = counts(false).await?;
        let overdue = counts(true).await?;
        Ok(open
            .into_iter()
            .map(|(county, department, n)| {
                let late = overdue
                    .iter()
                    .find(|(c, d, _)| *c == county && *d == department)
                    .map_or(0, |(_, _, n)| *n);
                DepartmentLoad {
                    county: county.unwrap_or_default(),
                    department,
                    open: u64::try_from(n).unwrap_or_default(),
                    overdue: u64::try_from(late).unwrap_or_default(),
                }
            })
            .collect())
    }
}

/// Writes the task rows a change touched: those its effects name, and any task whose
/// state differs from before. The second set is what keeps the inbox equal to the case
/// state even when an effect is missing.
pub(super) fn upsert_tasks(
    batch: &mut Batch,
    old: Option<&CaseState>,
    change: &Change<'_>,
) -> Result<(), StoreError> {
    let new = &change.transition.state;
    let mut ids: Vec<TaskId> = Vec::new();
    for effect in &change.transition.effects {
        if let Effect::CreateTask { task } | Effect::UpdateTask { task } = effect {
            ids.push(*task);
        }
    }
    for task in &new.tasks {
        let before = old.and_then(|s| s.tasks.iter().find(|t| t.id == task.id));
        if before != Some(task) {
            ids.push(task.id);
        }
    }
    ids.sort();
    ids.dedup();
    for id in ids {
        let task = new
            .tasks
            .iter()
            .find(|t| t.id == id)
            .ok_or(StoreError::MissingTask {
                case: new.id,
                task: id,
            })?;
        let row = task_row(new, task, step_name(change, &task.step));
        let before = old.and_then(|s| s.tasks.iter().find(|t| t.id == id));
        match before {
            // The row exists (it was written with the state it came from, on this
            // definition): only the columns that changed are set, so SQLite rewrites only
            // the indexes over them.
            Some(before) if old.is_some_and(|old| same_definition(old, change)) => {
                let stored = task_row(new, before, step_name(change, &before.step));
                if let Some(update) = changed_columns(&stored, &row) {
                    batch.push(update, 1);
                }
            }
            _ => batch.push(upsert(row), 1),
        }
    }
    // Messages to department systems commit (or roll back) with the tasks they announce.
    super::outbox::enqueue(batch, change)
}

fn step_name(change: &Change<'_>, step: &StepId) -> String {
    change
        .process
        .step(step)
        .map_or_else(|| step.to_string(), |s| s.name.clone())
}

/// The columns a later change of a task may set (the rest are fixed when it is created).
const CHANGEABLE: [task::Column; 12] = [
    task::Column::StepName,
    task::Column::Role,
    task::Column::Department,
    task::Column::Status,
    task::Column::ClaimedBy,
    task::Column::DueAt,
    task::Column::ClosedAt,
    task::Column::Outcome,
    task::Column::CompletedBy,
    task::Column::WarnAt,
    task::Column::InboxOrder,
    task::Column::DueProvisional,
];

/// A task's row as [`upsert`] writes it.
fn task_row(state: &CaseState, task: &Task, step_name: String) -> task::ActiveModel {
    task::ActiveModel {
        id: Set(task.id.to_string()),
        case_id: Set(state.id.to_string()),
        step: Set(task.step.to_string()),
        step_name: Set(step_name),
        role: Set(task.role.clone()),
        department: Set(task.department.clone()),
        status: Set(task_status_word(task.status).to_owned()),
        claimed_by: Set(task.claimed_by.clone()),
        created_at: Set(task.created_at),
        due_at: Set(task.due_at),
        closed_at: Set(task.closed_at),
        outcome: Set(task.outcome.clone()),
        completed_by: Set(task.completed_by.clone()),
        county: Set(Some(
            lianban_core::accounts::county_of(&state.process).to_owned(),
        )),
        warn_at: Set(task.warn_at),
        inbox_order: Set(inbox_order(task)),
        due_provisional: Set(task.provisional),
    }
}

/// The statement that writes a task's row, whether it is new or not.
fn upsert(row: task::ActiveModel) -> InsertStatement {
    let on_conflict = OnConflict::column(task::Column::Id)
        .update_columns(CHANGEABLE)
        .to_owned();
    task::Entity::insert(row)
        .on_conflict(on_conflict)
        .into_query()
}

/// The UPDATE of an existing task's row from `stored` to `row` that sets only the
/// [`CHANGEABLE`] columns whose values differ (`None` when none does).
fn changed_columns(stored: &task::ActiveModel, row: &task::ActiveModel) -> Option<UpdateStatement> {
    let mut update = Query::update();
    update.table(task::Entity);
    let mut any = false;
    for column in CHANGEABLE {
        let value = row.get(column);
        if stored.get(column) != value
            && let Some(value) = value.into_value()
        {
            update.value(column, value);
            any = true;
        }
    }
    let id = row.get(task::Column::Id).into_value()?;
    update.and_where(Expr::col(task::Column::Id).eq(id));
    any.then_some(update)
}

/// The inbox's sort key of an open or claimed task, `None` once it is closed: tasks with a
/// due time first, soonest first, then oldest first, as text that sorts the same on both
/// backends (`0|<due>|<created>` or `1|<created>`, fixed-width UTC times). Migration
/// `m20261129_000501_add_inbox_order` fills existing rows with the same format.
fn inbox_order(task: &Task) -> Option<String> {
    if !matches!(task.status, TaskStatus::Open | TaskStatus::Claimed) {
        return None;
    }
    // `%Y-%m-%dT%H:%M:%S%.6fZ`, written without chrono's format parser (a task row is
    // written on every transition).
    let created = moment::micros(&task.created_at);
    Some(match task.due_at {
        Some(due) => format!("0|{}|{created}", moment::micros(&due)),
        None => format!("1|{created}"),
    })
}

/// The columns a [`TaskRecord`] is read from, in the order [`task_from`] reads them.
pub(super) fn task_columns() -> [task::Column; 16] {
    use task::Column as C;
    [
        C::Id,
        C::CaseId,
        C::Step,
        C::StepName,
        C::Role,
        C::Department,
        C::Status,
        C::ClaimedBy,
        C::CreatedAt,
        C::DueAt,
        C::ClosedAt,
        C::Outcome,
        C::CompletedBy,
        C::County,
        C::WarnAt,
        C::DueProvisional,
    ]
}

/// A task read with [`task_columns`], from the pool or a native reader alike.
pub(super) fn task_from(row: &dyn Cells) -> Result<TaskRecord, StoreError> {
    let raw_id = row.text(0)?.unwrap_or_default();
    let corrupt = |column| StoreError::Corrupt {
        table: "tasks",
        id: raw_id.clone(),
        column,
    };
    let id = Uuid::parse_str(&raw_id)
        .map(TaskId)
        .map_err(|_| corrupt("id"))?;
    let text = |i, column| row.text(i)?.ok_or_else(|| corrupt(column));
    let status = parse_task_status(&text(6, "status")?).ok_or_else(|| corrupt("status"))?;
    Ok(TaskRecord {
        id,
        case_id: parse_case_id("tasks", &text(1, "case_id")?)?,
        step: StepId(text(2, "step")?),
        step_name: text(3, "step_name")?,
        role: text(4, "role")?,
        department: text(5, "department")?,
        status,
        claimed_by: row.text(7)?,
        created_at: row.time(8)?.ok_or_else(|| corrupt("created_at"))?,
        due_at: row.time(9)?,
        closed_at: row.time(10)?,
        outcome: row.text(11)?,
        completed_by: row.text(12)?,
        // Rows of cases whose process id has no county cannot exist after the migration's
        // backfill; an empty county matches no scoped account.
        county: row.text(13)?.unwrap_or_default(),
        warn_at: row.time(14)?,
        due_provisional: row.flag(15)?.ok_or_else(|| corrupt("due_provisional"))?,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn task(status: TaskStatus, due: Option<DateTime<Utc>>) -> Task {
        let created = Utc
            .with_ymd_and_hms(2026, 3, 5, 1, 0, 0)
            .single()
            .expect("valid time");
        Task {
            id: TaskId(Uuid::nil()),
            step: StepId::from("accept"),
            role: "clerk".into(),
            department: "shebao".into(),
            token: 0,
            status,
            claimed_by: None,
            created_at: created,
            due_at: due,
            warn_at: None,
            provisional: false,
            closed_at: None,
            outcome: None,
            completed_by: None,
            reason: None,
        }
    }

    /// The migration `m20261129_000501_add_inbox_order` pins the same strings, so rows it
    /// backfills sort with the rows the engine writes.
    #[test]
    fn the_inbox_key_puts_due_tasks_first_in_a_fixed_format() {
        let due = Utc
            .with_ymd_and_hms(2026, 3, 6, 2, 0, 0)
            .single()
            .expect("valid time");
        assert_eq!(
            inbox_order(&task(TaskStatus::Open, Some(due))).as_deref(),
            Some("0|2026-03-06T02:00:00.000000Z|2026-03-05T01:00:00.000000Z")
        );
        assert_eq!(
            inbox_order(&task(TaskStatus::Claimed, None)).as_deref(),
            Some("1|2026-03-05T01:00:00.000000Z")
        );
        assert_eq!(inbox_order(&task(TaskStatus::Completed, Some(due))), None);
    }
}
