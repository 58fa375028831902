//! The transactional outbox: messages to department systems. A message is inserted in the
//! same transaction as the state change that created the department's task, so a message
//! exists if and only if the task does; a worker (`scheduler::outbox`) claims due messages
//! with a lease (compare-and-set UPDATE, portable to SQLite) and records the outcome here,
//! a delivery receipt or a dead letter also in the case's history.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::Jobs;
use super::batch::Batch;
use super::cases::parse_case_id;
use super::entity::outbox;
use super::{Change, StoreError};
use lianban_core::runtime::{CaseId, Effect, Event};

/// Where a message is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Waiting for (another) delivery attempt.
    Pending,
    /// The department's system answered 2xx.
    Delivered,
    /// Every attempt failed; waits for an admin to requeue it.
    Dead,
}

impl OutboxStatus {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Delivered => "delivered",
            OutboxStatus::Dead => "dead",
        }
    }

    /// The status for a stored (or query) word.
    pub fn parse(word: &str) -> Option<OutboxStatus> {
        Some(match word {
            "pending" => OutboxStatus::Pending,
            "delivered" => OutboxStatus::Delivered,
            "dead" => OutboxStatus::Dead,
            _ => return None,
        })
    }
}

/// A stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    /// Message id, sent as `Idempotency-Key`.
    pub id: Uuid,
    /// The case it is about.
    pub case_id: CaseId,
    /// Process id.
    pub process_id: String,
    /// Receiving department.
    pub department: String,
    /// The task whose creation it announces.
    pub task_id: Option<String>,
    /// Message type, e.g. `task_created`.
    pub kind: String,
    /// Where it is POSTed.
    pub url: String,
    /// The environment variable holding the signing secret.
    pub secret_env: String,
    /// The exact JSON body that is signed and sent.
    pub body: String,
    /// Where it is in its life.
    pub status: OutboxStatus,
    /// Delivery attempts made so far.
    pub attempts: u32,
    /// Not before this instant.
    pub next_attempt_at: DateTime<Utc>,
    /// The last error (Chinese or the receiver's status).
    pub last_error: Option<String>,
    /// When it was inserted.
    pub created_at: DateTime<Utc>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
    /// What the receiver answered on delivery.
    pub receipt: Option<Value>,
}

/// What the receiving system answered on a 2xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// HTTP status.
    pub status: u16,
    /// `receipt_id` (or `id`) from its JSON body, if any.
    pub receipt_id: Option<String>,
}

/// Inserts one message per task the change created for a department with a `system:`,
/// inside the change's transaction.
pub(super) fn enqueue(batch: &mut Batch, change: &Change<'_>) -> Result<(), StoreError> {
    let state = &change.transition.state;
    for effect in &change.transition.effects {
        let Effect::CreateTask { task } = effect else {
            continue;
        };
        let Some(task) = state.tasks.iter().find(|t| t.id == *task) else {
            continue;
        };
        let Some(system) = change
            .process
            .departments
            .get(&task.department)
            .and_then(|d| d.system.as_ref())
        else {
            continue;
        };
        let id = Uuid::now_v7();
        let step_name = change
            .process
            .step(&task.step)
            .map_or_else(|| task.step.to_string(), |s| s.name.clone());
        let body = json!({
            "id": id.to_string(),
            "type": "task_created",
            "created_at": change.at.to_rfc3339(),
            "process": {"id": change.process.id, "version": change.process.version, "name": change.process.name},
            "department": task.department,
            "task": {
                "id": task.id.to_string(),
                "step": task.step.as_str(),
                "step_name": step_name,
                "created_at": task.created_at.to_rfc3339(),
                "due_at": task.due_at.map(|d| d.to_rfc3339()),
            },
            "case": {"id": state.id.to_string(), "form": state.form, "data": state.data},
        });
        let row = outbox::ActiveModel {
            id: Set(id.to_string()),
            case_id: Set(state.id.to_string()),
            process_id: Set(change.process.id.clone()),
            department: Set(task.department.clone()),
            task_id: Set(Some(task.id.to_string())),
            kind: Set("task_created".into()),
            url: Set(system.url.clone()),
            secret_env: Set(system.secret_env.clone()),
            body: Set(serde_json::to_string(&body)?),
            status: Set(OutboxStatus::Pending.as_str().into()),
            attempts: Set(0),
            next_attempt_at: Set(change.at),
            lease_until: Set(None),
            leased_by: Set(None),
            last_error: Set(None),
            created_at: Set(change.at),
            delivered_at: Set(None),
            receipt: Set(None),
        };
        batch.push(outbox::Entity::insert(row).into_query(), 1);
    }
    Ok(())
}

/// The delivery worker's scan (ids of due, unleased pending messages), shared with the
/// EXPLAIN review so that it checks this very query.
pub(super) fn due_outbox_select(now: DateTime<Utc>, limit: u64) -> sea_orm::Select<outbox::Entity> {
    outbox::Entity::find()
        .select_only()
        .column(outbox::Column::Id)
        .filter(outbox::Column::Status.eq(OutboxStatus::Pending.as_str()))
        .filter(outbox::Column::NextAttemptAt.lte(now))
        .filter(
            Condition::any()
                .add(outbox::Column::LeaseUntil.is_null())
                .add(outbox::Column::LeaseUntil.lt(now)),
        )
        .order_by_asc(outbox::Column::NextAttemptAt)
        .order_by_asc(outbox::Column::Id)
        .limit(limit)
}

impl Jobs<'_> {
    /// Claims up to `limit` due messages for `worker` until `lease_until`: each with a
    /// compare-and-set UPDATE that succeeds only while the message is pending, due and not
    /// leased by a live lease, so two workers never hold the same message.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn claim_outbox(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let free = || {
            Condition::any()
                .add(outbox::Column::LeaseUntil.is_null())
                .add(outbox::Column::LeaseUntil.lt(now))
        };
        let ids: Vec<String> = due_outbox_select(now, limit)
            .into_tuple()
            .all(&self.store.db)
            .await?;
        let mut claimed = Vec::new();
        for id in ids {
            let updated = outbox::Entity::update_many()
                .col_expr(outbox::Column::LeaseUntil, Expr::value(lease_until))
                .col_expr(outbox::Column::LeasedBy, Expr::value(worker))
                .filter(outbox::Column::Id.eq(id.clone()))
                .filter(outbox::Column::Status.eq(OutboxStatus::Pending.as_str()))
                .filter(outbox::Column::NextAttemptAt.lte(now))
                .filter(free())
                .exec(&self.store.db)
                .await?;
            if updated.rows_affected == 1
                && let Some(row) = outbox::Entity::find_by_id(id).one(&self.store.db).await?
            {
                claimed.push(message(row)?);
            }
        }
        Ok(claimed)
    }

    /// Records a delivery by `worker` (who must still hold the message) and appends the
    /// receipt to the case's history, in one transaction. Returns `false` when the
    /// worker's lease was lost (someone else owns the message now; nothing written).
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Serialization`].
    pub async fn outbox_delivered(
        &self,
        message: &OutboxMessage,
        worker: &str,
        receipt: &Receipt,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let attempts = message.attempts + 1;
        let txn = self.store.begin_write().await?;
        let receipt_json = json!({
            "status": receipt.status,
            "receipt_id": receipt.receipt_id,
            "at": now.to_rfc3339(),
        });
        let updated = outbox::Entity::update_many()
            .col_expr(
                outbox::Column::Status,
                Expr::value(OutboxStatus::Delivered.as_str()),
            )
            .col_expr(
                outbox::Column::Attempts,
                Expr::value(i32::try_from(attempts).unwrap_or(i32::MAX)),
            )
            .col_expr(outbox::Column::DeliveredAt, Expr::value(Some(now)))
            .col_expr(outbox::Column::Receipt, Expr::value(receipt_json))
            .col_expr(
                outbox::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                outbox::Column::LastError,
                Expr::value(Option::<String>::None),
            )
            .filter(held_by(message, worker))
            .exec(&*txn)
            .await?;
        if updated.rows_affected == 0 {
            return Ok(false);
        }
        let event = Event::PushDelivered {
            department: message.department.clone(),
            message: message.id.to_string(),
            status: receipt.status,
            receipt: receipt.receipt_id.clone(),
            attempts,
        };
        append_push_history(&txn, message.case_id, event, now).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Records a failed attempt by `worker`: retried at `retry_at`, or dead-lettered (and
    /// noted in the case's history) when `retry_at` is `None`. Returns `false` when the
    /// worker's lease was lost.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Serialization`].
    pub async fn outbox_failed(
        &self,
        message: &OutboxMessage,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let attempts = message.attempts + 1;
        let txn = self.store.begin_write().await?;
        let status = match retry_at {
            Some(_) => OutboxStatus::Pending,
            None => OutboxStatus::Dead,
        };
        let updated = outbox::Entity::update_many()
            .col_expr(outbox::Column::Status, Expr::value(status.as_str()))
            .col_expr(
                outbox::Column::Attempts,
                Expr::value(i32::try_from(attempts).unwrap_or(i32::MAX)),
            )
            .col_expr(
                outbox::Column::NextAttemptAt,
                Expr::value(retry_at.unwrap_or(now)),
            )
            .col_expr(
                outbox::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                outbox::Column::LastError,
                Expr::value(Some(error.to_owned())),
            )
            .filter(held_by(message, worker))
            .exec(&*txn)
            .await?;
        if updated.rows_affected == 0 {
            return Ok(false);
        }
        if retry_at.is_none() {
            let event = Event::PushFailed {
                department: message.department.clone(),
                message: message.id.to_string(),
                attempts,
                error: error.to_owned(),
            };
            append_push_history(&txn, message.case_id, event, now).await?;
        }
        txn.commit().await?;
        Ok(true)
    }

    /// Messages with `status` (all when `None`), newest first.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn outbox(
        &self,
        status: Option<OutboxStatus>,
        case: Option<CaseId>,
        limit: u64,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let mut select = outbox::Entity::find();
        if let Some(status) = status {
            select = select.filter(outbox::Column::Status.eq(status.as_str()));
        }
        if let Some(case) = case {
            select = select.filter(outbox::Column::CaseId.eq(case.to_string()));
        }
        select
            .order_by_desc(outbox::Column::CreatedAt)
            .order_by_asc(outbox::Column::Id)
            .limit(limit)
            .all(&self.store.db)
            .await?
            .into_iter()
            .map(message)
            .collect()
    }

    /// Puts a dead message back in the queue, due at `now`, with a fresh count of attempts.
    /// Returns `false` when there is no dead message with this id.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn requeue_outbox(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let updated = outbox::Entity::update_many()
            .col_expr(
                outbox::Column::Status,
                Expr::value(OutboxStatus::Pending.as_str()),
            )
            .col_expr(outbox::Column::Attempts, Expr::value(0))
            .col_expr(outbox::Column::NextAttemptAt, Expr::value(now))
            .col_expr(
                outbox::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(outbox::Column::Id.eq(id.to_string()))
            .filter(outbox::Column::Status.eq(OutboxStatus::Dead.as_str()))
            .exec(&self.store.db)
            .await?;
        Ok(updated.rows_affected == 1)
    }
}

/// The message is still pending and leased by `worker`.
fn held_by(message: &OutboxMessage, worker: &str) -> Condition {
    Condition::all()
        .add(outbox::Column::Id.eq(message.id.to_string()))
        .add(outbox::Column::Status.eq(OutboxStatus::Pending.as_str()))
        .add(outbox::Column::LeasedBy.eq(worker))
}

/// Appends a `push` row to the case's history. A no-op write locks the case row first (as
/// for views), so no concurrent command takes the same history number; the revision and
/// state are untouched.
async fn append_push_history(
    txn: &DatabaseTransaction,
    case_id: CaseId,
    event: Event,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some((status, steps)) = super::cases::lock_position(txn.into(), case_id).await? else {
        return Ok(());
    };
    let entry = super::audit::NewEntry {
        case_id,
        at,
        actor: "system".to_owned(),
        actor_department: None,
        action: "push".to_owned(),
        from_status: Some(status.clone()),
        from_steps: Some(steps.clone()),
        to_status: status,
        to_steps: steps,
        events: serde_json::to_value(vec![event])?,
        data_changed: Value::Object(Map::new()),
        on_behalf_of: None,
    };
    super::audit::append(txn.into(), entry).await
}

fn message(row: outbox::Model) -> Result<OutboxMessage, StoreError> {
    let corrupt = |column| StoreError::Corrupt {
        table: "outbox",
        id: row.id.clone(),
        column,
    };
    Ok(OutboxMessage {
        id: Uuid::parse_str(&row.id).map_err(|_| corrupt("id"))?,
        case_id: parse_case_id("outbox", &row.case_id)?,
        status: OutboxStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
        attempts: u32::try_from(row.attempts).map_err(|_| corrupt("attempts"))?,
        process_id: row.process_id,
        department: row.department,
        task_id: row.task_id,
        kind: row.kind,
        url: row.url,
        secret_env: row.secret_env,
        body: row.body,
        next_attempt_at: row.next_attempt_at,
        last_error: row.last_error,
        created_at: row.created_at,
        delivered_at: row.delivered_at,
        receipt: row.receipt,
    })
}
