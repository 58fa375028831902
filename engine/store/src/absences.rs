//! Absences and their substitutes (`absences`): recorded, ended early (销假) and read for
//! the rules in `lianban_core::accounts` that decide with them. Decides nothing itself:
//! whether an absence may be recorded, and what it means for a task, is the core's.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::entity::absence;
use super::{Accounts, StoreError};
use lianban_core::accounts::{Absence, absence_day};

/// An absence to record (checked by `lianban_core::accounts::check_absence` first).
#[derive(Debug, Clone)]
pub struct NewAbsence {
    /// Login of the absent person.
    pub user: String,
    /// Login of the substitute.
    pub substitute: String,
    /// First day away.
    pub from: NaiveDate,
    /// Last day away.
    pub to: NaiveDate,
    /// Who records it.
    pub recorded_by: String,
}

fn record(row: absence::Model) -> Absence {
    Absence {
        id: row.id,
        user: row.username,
        substitute: row.substitute,
        from: row.starts_on,
        to: row.ends_on,
        recorded_by: row.recorded_by,
        recorded_at: row.recorded_at,
        ended_at: row.ended_at,
    }
}

/// Rows not over at `now`: their last day is not past and nobody ended them.
fn current(now: DateTime<Utc>) -> Condition {
    let today = absence_day(now);
    Condition::all()
        .add(absence::Column::EndsOn.gte(today))
        .add(absence::Column::EndedAt.is_null())
}

impl Accounts<'_> {
    /// Records an absence.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn record_absence(
        &self,
        new: &NewAbsence,
        now: DateTime<Utc>,
    ) -> Result<Absence, StoreError> {
        let row = absence::ActiveModel {
            id: Set(Uuid::now_v7().to_string()),
            username: Set(new.user.clone()),
            substitute: Set(new.substitute.clone()),
            starts_on: Set(new.from),
            ends_on: Set(new.to),
            recorded_by: Set(new.recorded_by.clone()),
            recorded_at: Set(now),
            ended_at: Set(None),
        };
        let model = absence::Entity::insert(row)
            .exec_with_returning(&self.store.db)
            .await?;
        Ok(record(model))
    }

    /// Ends `user`'s absences that are not over yet (销假): in force ones stop now, later
    /// ones are dropped. Returns how many were ended.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn end_absences(&self, user: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let result = absence::Entity::update_many()
            .col_expr(absence::Column::EndedAt, Expr::value(now))
            .filter(absence::Column::Username.eq(user))
            .filter(current(now))
            .exec(&self.store.db)
            .await?;
        Ok(result.rows_affected)
    }

    /// The absences not over at `now` (in force or later) in which any of `users` is the
    /// absent person or the substitute, earliest first.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn current_absences(
        &self,
        users: &[&str],
        now: DateTime<Utc>,
    ) -> Result<Vec<Absence>, StoreError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let users: Vec<String> = users.iter().map(|u| (*u).to_owned()).collect();
        let rows = absence::Entity::find()
            .filter(current(now))
            .filter(
                Condition::any()
                    .add(absence::Column::Username.is_in(users.clone()))
                    .add(absence::Column::Substitute.is_in(users)),
            )
            .order_by_asc(absence::Column::StartsOn)
            .order_by_asc(absence::Column::Id)
            .all(&self.store.db)
            .await?;
        Ok(rows.into_iter().map(record).collect())
    }

    /// Every absence not over at `now`, earliest first (the CLI's list, a department's page).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn all_current_absences(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<Absence>, StoreError> {
        let rows = absence::Entity::find()
            .filter(current(now))
            .order_by_asc(absence::Column::StartsOn)
            .order_by_asc(absence::Column::Id)
            .all(&self.store.db)
            .await?;
        Ok(rows.into_iter().map(record).collect())
    }
}
