//! Giving leases back when a worker stops, so another instance takes the work at once
//! instead of after the lease runs out.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::Jobs;
use super::StoreError;
use super::entity::{outbox, timer};

impl Jobs<'_> {
    /// Clears the leases `owner` holds on timers not yet fired; returns how many.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn release_timer_leases(&self, owner: &str) -> Result<u64, StoreError> {
        let released = timer::Entity::update_many()
            .col_expr(timer::Column::Owner, Expr::value(Option::<String>::None))
            .col_expr(
                timer::Column::LeaseUntil,
                Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
            )
            .filter(timer::Column::Owner.eq(owner))
            .filter(timer::Column::FiredAt.is_null())
            .exec(&self.store.db)
            .await?;
        Ok(released.rows_affected)
    }

    /// Clears the leases `worker` holds on pending outbox messages; returns how many.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn release_outbox_leases(&self, worker: &str) -> Result<u64, StoreError> {
        let released = outbox::Entity::update_many()
            // `leased_by` stays: it records who tried last, as after a delivery.
            .col_expr(
                outbox::Column::LeaseUntil,
                Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
            )
            .filter(outbox::Column::LeasedBy.eq(worker))
            .filter(outbox::Column::LeaseUntil.is_not_null())
            .exec(&self.store.db)
            .await?;
        Ok(released.rows_affected)
    }

    /// How many timers and outbox messages hold a lease right now (for tests and checks
    /// after a shutdown).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn held_leases(&self) -> Result<u64, StoreError> {
        use sea_orm::PaginatorTrait as _;
        let timers = timer::Entity::find()
            .filter(timer::Column::LeaseUntil.is_not_null())
            .filter(timer::Column::FiredAt.is_null())
            .count(&self.store.db)
            .await?;
        let messages = outbox::Entity::find()
            .filter(outbox::Column::LeaseUntil.is_not_null())
            .count(&self.store.db)
            .await?;
        Ok(timers + messages)
    }
}
