//! Remembered answers to API POSTs sent with an `Idempotency-Key` (see
//! `web::idempotency`): the key is taken before the action and the answer stored after it.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, SqlErr};

use super::Accounts;
use super::StoreError;
use super::entity::idempotency_key;

/// An answer as stored for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    /// HTTP status.
    pub status: u16,
    /// Its `Content-Type`.
    pub content_type: Option<String>,
    /// The body.
    pub body: String,
}

/// What taking a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyClaim {
    /// The key is new (or its old use expired): act, then store the answer.
    New,
    /// The same request was answered before: send this again.
    Replay(StoredAnswer),
    /// The same request is being answered right now.
    InProgress,
    /// The key was used for a different request (other route or body).
    Mismatch,
}

/// One use of a key: whose, which key, for what.
#[derive(Debug, Clone, Copy)]
pub struct KeyUse<'a> {
    /// Hex SHA-256 of the caller's credential.
    pub principal: &'a str,
    /// The client's key.
    pub key: &'a str,
    /// Method and path.
    pub route: &'a str,
    /// Hex SHA-256 of the request body.
    pub request_hash: &'a str,
}

impl Accounts<'_> {
    /// Takes an idempotency key for a request, or says why not. Uses older than
    /// `expired_before` are forgotten first.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn claim_idempotency_key(
        &self,
        key: KeyUse<'_>,
        now: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> Result<KeyClaim, StoreError> {
        idempotency_key::Entity::delete_many()
            .filter(idempotency_key::Column::CreatedAt.lt(expired_before))
            .exec(&self.store.db)
            .await?;
        let row = idempotency_key::ActiveModel {
            principal: Set(key.principal.to_owned()),
            key: Set(key.key.to_owned()),
            route: Set(key.route.to_owned()),
            request_hash: Set(key.request_hash.to_owned()),
            status: Set(None),
            content_type: Set(None),
            body: Set(None),
            created_at: Set(now),
        };
        match idempotency_key::Entity::insert(row)
            .exec_without_returning(&self.store.db)
            .await
        {
            Ok(_) => return Ok(KeyClaim::New),
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {}
            Err(e) => return Err(e.into()),
        }
        let Some(found) =
            idempotency_key::Entity::find_by_id((key.principal.to_owned(), key.key.to_owned()))
                .one(&self.store.db)
                .await?
        else {
            // Released between our insert and this read: the caller may retry.
            return Ok(KeyClaim::InProgress);
        };
        if found.route != key.route || found.request_hash != key.request_hash {
            return Ok(KeyClaim::Mismatch);
        }
        Ok(match (found.status, found.body) {
            (Some(status), Some(body)) => KeyClaim::Replay(StoredAnswer {
                status: u16::try_from(status).unwrap_or(500),
                content_type: found.content_type,
                body,
            }),
            _ => KeyClaim::InProgress,
        })
    }

    /// Stores the answer to a request whose key this caller took.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn finish_idempotency_key(
        &self,
        principal: &str,
        key: &str,
        answer: &StoredAnswer,
    ) -> Result<(), StoreError> {
        idempotency_key::Entity::update_many()
            .col_expr(
                idempotency_key::Column::Status,
                i32::from(answer.status).into(),
            )
            .col_expr(
                idempotency_key::Column::ContentType,
                answer.content_type.clone().into(),
            )
            .col_expr(idempotency_key::Column::Body, answer.body.clone().into())
            .filter(idempotency_key::Column::Principal.eq(principal))
            .filter(idempotency_key::Column::Key.eq(key))
            .exec(&self.store.db)
            .await?;
        Ok(())
    }

    /// Gives a key back without an answer (the action failed and changed nothing), so a
    /// retry acts.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn release_idempotency_key(
        &self,
        principal: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        idempotency_key::Entity::delete_many()
            .filter(idempotency_key::Column::Principal.eq(principal))
            .filter(idempotency_key::Column::Key.eq(key))
            .exec(&self.store.db)
            .await?;
        Ok(())
    }
}
