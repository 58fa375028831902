//! API keys of departments' own systems. A key is stored only as its SHA-256 and found by
//! that hash, so checking a key is one indexed lookup and no stored value reveals a key.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, SqlErr,
};
use uuid::Uuid;

use super::Accounts;
use super::StoreError;
use super::entity::api_key;

/// An API key as stored (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Its id.
    pub id: Uuid,
    /// Unique name, e.g. `yibao-system`; the history records the key as `apikey:<name>`.
    pub name: String,
    /// Department whose clerks' rights the key has; empty for an intake key.
    pub department: String,
    /// County the key is limited to; `None` for every county.
    pub county: Option<String>,
    /// An intake key (一网通办 and other systems receiving applications): it may start a
    /// case of any process of its county and read only the cases it started.
    pub intake: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last authenticated a request (noted at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; a revoked key authenticates nothing.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An API key to create.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Unique name.
    pub name: String,
    /// Hex SHA-256 of the key.
    pub key_hash: String,
    /// Department; empty for an intake key.
    pub department: String,
    /// County, if limited to one.
    pub county: Option<String>,
    /// Whether it is an intake key.
    pub intake: bool,
}

impl Accounts<'_> {
    /// Stores a new API key under the hash of the key.
    ///
    /// # Errors
    /// [`StoreError::NameTaken`] when a key of that name exists, [`StoreError::Database`].
    pub async fn create_api_key(
        &self,
        new: &NewApiKey,
        now: DateTime<Utc>,
    ) -> Result<ApiKeyRecord, StoreError> {
        let row = api_key::ActiveModel {
            id: Set(Uuid::now_v7().to_string()),
            name: Set(new.name.clone()),
            key_hash: Set(new.key_hash.clone()),
            department: Set(new.department.clone()),
            county: Set(new.county.clone()),
            created_at: Set(now),
            last_used_at: Set(None),
            revoked_at: Set(None),
            intake: Set(new.intake),
        };
        match api_key::Entity::insert(row)
            .exec_with_returning(&self.store.db)
            .await
        {
            Ok(model) => record(model),
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                Err(StoreError::NameTaken(new.name.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Every API key, revoked ones included, by name.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        api_key::Entity::find()
            .order_by_asc(api_key::Column::Name)
            .all(&self.store.db)
            .await?
            .into_iter()
            .map(record)
            .collect()
    }

    /// Revokes the key with this name (or id) at `now`. Returns whether a key that was not
    /// yet revoked was found.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn revoke_api_key(
        &self,
        name_or_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(Some(now)))
            .filter(
                Condition::any()
                    .add(api_key::Column::Name.eq(name_or_id))
                    .add(api_key::Column::Id.eq(name_or_id)),
            )
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&self.store.db)
            .await?;
        Ok(done.rows_affected > 0)
    }

    /// The live (not revoked) key with this hash. Notes `last_used_at` at most once a
    /// minute, to keep authentication a read.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn api_key(
        &self,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        let Some(row) = api_key::Entity::find()
            .filter(api_key::Column::KeyHash.eq(key_hash))
            .filter(api_key::Column::RevokedAt.is_null())
            .one(&self.store.db)
            .await?
        else {
            return Ok(None);
        };
        let stale = row
            .last_used_at
            .is_none_or(|at| now - at > chrono::Duration::minutes(1));
        if stale {
            api_key::Entity::update_many()
                .col_expr(api_key::Column::LastUsedAt, Expr::value(Some(now)))
                .filter(api_key::Column::Id.eq(row.id.clone()))
                .exec(&self.store.db)
                .await?;
        }
        record(row).map(Some)
    }
}

fn record(row: api_key::Model) -> Result<ApiKeyRecord, StoreError> {
    Ok(ApiKeyRecord {
        id: Uuid::parse_str(&row.id).map_err(|_| StoreError::Corrupt {
            table: "api_keys",
            id: row.id.clone(),
            column: "id",
        })?,
        name: row.name,
        department: row.department,
        county: row.county,
        intake: row.intake,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        revoked_at: row.revoked_at,
    })
}
