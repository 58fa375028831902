//! Who takes part in a case, and the history rows that record a look rather than a change
//! (`view`): what the web layer needs to decide visibility and to keep every view on record.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, IntoIden, Query, SelectStatement, SimpleExpr};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};
use serde_json::{Map, Value};

use super::Cases;
use super::StoreError;
use super::conn::Conn;
use super::entity::{case, history, task};
use lianban_core::runtime::{Actor, CaseId};

/// Cases in which `department` takes part: it has or had a task there, or started the case.
///
/// Two probes per case (`tasks (case_id)`, `history (case_id, seq)`): a list reads cases in
/// its own order and stops after a page, so it asks each case it reads instead of first
/// collecting every case the department ever touched (`IN (SELECT …)` read the department's
/// whole history).
pub(super) fn takes_part(department: &str) -> Condition {
    let started = Query::select()
        .expr(Expr::val(1))
        .from(history::Entity)
        .and_where(of_this_case(history::Entity, history::Column::CaseId))
        .and_where(Expr::col((history::Entity, history::Column::Seq)).eq(1))
        .and_where(Expr::col((history::Entity, history::Column::ActorDepartment)).eq(department))
        .to_owned();
    Condition::any()
        .add(had_task(department))
        .add(found(started))
}

/// Whether `department` has or had a task in the case of the row being read.
///
/// A scalar subquery rather than `EXISTS`: PostgreSQL turns `EXISTS` into a semi join and
/// may hash every task of the department; a scalar subquery stays one probe of
/// `tasks (case_id)` per case read.
pub(super) fn had_task(department: &str) -> SimpleExpr {
    found(
        Query::select()
            .expr(Expr::val(1))
            .from(task::Entity)
            .and_where(of_this_case(task::Entity, task::Column::CaseId))
            .and_where(Expr::col((task::Entity, task::Column::Department)).eq(department))
            .limit(1)
            .to_owned(),
    )
}

/// `column` of `table` names the case of the row the outer query reads.
fn of_this_case<T: IntoIden, C: IntoIden>(table: T, column: C) -> SimpleExpr {
    Expr::col((table.into_iden(), column.into_iden())).equals((case::Entity, case::Column::Id))
}

/// A probe as a scalar subquery: true when it finds a row.
fn found(probe: SelectStatement) -> SimpleExpr {
    Expr::SubQuery(None, Box::new(probe.into())).is_not_null()
}

/// Who may see a case ([`Cases::scope`]): what `lianban_core::accounts` decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseScope {
    /// The county of the case's process.
    pub county: String,
    /// The departments taking part: those of its tasks and the one that started it.
    pub departments: Vec<String>,
    /// The actor who started it (a user name, or `apikey:<name>`).
    pub started_by: Option<String>,
}

/// Cases that `actor` started (`cases.started_by`, the actor of their first history row,
/// indexed).
pub(super) fn started_by(actor: &str) -> Condition {
    Condition::all().add(case::Column::StartedBy.eq(actor))
}

impl Cases<'_> {
    /// The list titles (masked) of the given cases, by case id, each led by the case's
    /// number when it has one (`阳城退休〔2026〕0012 张三 1405**********1012`); cases with
    /// neither are left out. One query for a page of inbox rows, by primary key.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn titles(
        &self,
        cases: &[CaseId],
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        if cases.is_empty() {
            return Ok(std::collections::HashMap::new());
        }
        let ids: Vec<String> = cases.iter().map(ToString::to_string).collect();
        let rows: Vec<(String, Option<String>, Option<String>)> = case::Entity::find()
            .select_only()
            .columns([case::Column::Id, case::Column::Number, case::Column::Title])
            .filter(case::Column::Id.is_in(ids))
            .into_tuple()
            .all(&self.store.db)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, number, title)| {
                let title = match (number, title) {
                    (Some(number), Some(title)) => format!("{number} {title}"),
                    (number, title) => number.or(title)?,
                };
                Some((id, title))
            })
            .collect())
    }

    /// The departments taking part in a case: those of its tasks (open or closed) and the
    /// department that started it, each once.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn departments(&self, case: CaseId) -> Result<Vec<String>, StoreError> {
        Ok(self.parties(case).await?.0)
    }

    /// The departments taking part in a case (as [`Cases::departments`]) and who started
    /// it: the actor of its first history row (`apikey:<name>` for a key), if any.
    async fn parties(&self, case: CaseId) -> Result<(Vec<String>, Option<String>), StoreError> {
        let mut departments: Vec<String> = task::Entity::find()
            .select_only()
            .column(task::Column::Department)
            .filter(task::Column::CaseId.eq(case.to_string()))
            .distinct()
            .into_tuple()
            .all(&self.store.db)
            .await?;
        let starter: Option<(String, Option<String>)> = history::Entity::find()
            .select_only()
            .columns([history::Column::Actor, history::Column::ActorDepartment])
            .filter(history::Column::CaseId.eq(case.to_string()))
            .filter(history::Column::Seq.eq(1))
            .into_tuple()
            .one(&self.store.db)
            .await?;
        let (started_by, department) = starter.unzip();
        if let Some(Some(department)) = department
            && !department.is_empty()
            && !departments.contains(&department)
        {
            departments.push(department);
        }
        Ok((departments, started_by))
    }

    /// Who may see a case: the county of its process, the departments taking part (as
    /// [`Cases::departments`]) and who started it; `None` when the case does not exist.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn scope(&self, case: CaseId) -> Result<Option<CaseScope>, StoreError> {
        let process: Option<String> = case::Entity::find_by_id(case.to_string())
            .select_only()
            .column(case::Column::ProcessId)
            .into_tuple()
            .one(&self.store.db)
            .await?;
        let Some(process) = process else {
            return Ok(None);
        };
        let (departments, started_by) = self.parties(case).await?;
        Ok(Some(CaseScope {
            county: lianban_core::accounts::county_of(&process).to_owned(),
            departments,
            started_by,
        }))
    }

    /// Appends a `view` row to the case's history: who looked, when; the state is
    /// unchanged (from = to, no events). Returns `false` when the case does not exist. The
    /// service records views through its writer ([`crate::Unit::record_view`]), so they are
    /// committed with the group; this is for callers without one.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn record_view(
        &self,
        case: CaseId,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let txn = self.store.begin_write().await?;
        let recorded = record_view_in((&*txn).into(), case, actor, at).await?;
        if recorded {
            txn.commit().await?;
        }
        Ok(recorded)
    }
}

impl crate::Unit<'_> {
    /// Appends a `view` row to the case's history in this unit (see [`Cases::record_view`]).
    /// Returns `false` when the case does not exist.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn record_view(
        &mut self,
        case: CaseId,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        record_view_in(self.write_txn().await?, case, actor, at).await
    }
}

async fn record_view_in(
    conn: Conn<'_>,
    case: CaseId,
    actor: &Actor,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let Some((status, steps)) = super::cases::lock_position(conn, case).await? else {
        return Ok(false);
    };
    let entry = super::audit::NewEntry {
        case_id: case,
        at,
        actor: actor.user.clone(),
        actor_department: actor.department.clone(),
        action: "view".to_owned(),
        from_status: Some(status.clone()),
        from_steps: Some(steps.clone()),
        to_status: status,
        to_steps: steps,
        events: Value::Array(Vec::new()),
        data_changed: Value::Object(Map::new()),
        on_behalf_of: actor.on_behalf_of.clone(),
    };
    super::audit::append(conn, entry).await?;
    Ok(true)
}
