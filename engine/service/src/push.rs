//! Push tables (附件4) and the outbox as people look at them: the tables a department may
//! read, and the messages an admin watches and requeues. Issuing tables and delivering
//! messages are the scheduler's ([`crate::scheduler`]); who may see which table is
//! [`lianban_core::accounts::Principal::may_see_push_table`].

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::records::{OutboxMessage, OutboxStatus, PushTableRecord, PushTableSummary};
use super::{Engine, EngineError};
use lianban_core::runtime::CaseId;

impl Engine {
    /// Push tables for any of `departments` (all when empty), newest first, without rows.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn list_push_tables(
        &self,
        departments: &[String],
        limit: u64,
    ) -> Result<Vec<PushTableSummary>, EngineError> {
        Ok(self
            .store()
            .documents()
            .push_tables(departments, limit)
            .await?)
    }

    /// One push table in full.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn get_push_table(&self, id: Uuid) -> Result<Option<PushTableRecord>, EngineError> {
        Ok(self.store().documents().push_table(id).await?)
    }

    /// Outbox messages with `status` (all when `None`), of one case when given, newest
    /// first.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn list_outbox(
        &self,
        status: Option<OutboxStatus>,
        case: Option<CaseId>,
        limit: u64,
    ) -> Result<Vec<OutboxMessage>, EngineError> {
        Ok(self.store().jobs().outbox(status, case, limit).await?)
    }

    /// Puts a dead message back in the queue, due at `now`, with a fresh count of attempts.
    /// Returns `false` when there is no dead message with this id.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn requeue_outbox(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, EngineError> {
        Ok(self.store().jobs().requeue_outbox(id, now).await?)
    }
}
