//! Accounts and login sessions. Sessions are looked up by the SHA-256 of their token; the
//! token itself only ever lives in the browser's cookie.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
    TransactionTrait,
};
use uuid::Uuid;

use super::entity::{server_key, session, user};
use super::{Accounts, StoreError};
use lianban_core::accounts::{self, Account, Role, UserId};

/// An account to create.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Login name.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Department key.
    pub department: String,
    /// County the account is limited to; `None` for every county.
    pub county: Option<String>,
    /// Roles.
    pub roles: Vec<Role>,
    /// The argon2id PHC string.
    pub password_hash: String,
}

/// A live session with its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Hex SHA-256 of the token.
    pub id: String,
    /// The account.
    pub account: Account,
    /// The session's CSRF token (sent with every form and non-GET call).
    pub csrf: String,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

impl Accounts<'_> {
    /// Creates an account.
    ///
    /// # Errors
    /// [`StoreError::UsernameTaken`], [`StoreError::Database`].
    pub async fn create(
        &self,
        new: &NewAccount,
        now: DateTime<Utc>,
    ) -> Result<Account, StoreError> {
        let row = user::ActiveModel {
            id: Set(Uuid::now_v7().to_string()),
            username: Set(new.username.clone()),
            display_name: Set(new.name.clone()),
            department: Set(new.department.clone()),
            roles: Set(accounts::roles_text(&new.roles)),
            password_hash: Set(new.password_hash.clone()),
            disabled: Set(false),
            created_at: Set(now),
            failed_logins: Set(0),
            locked_until: Set(None),
            county: Set(new.county.clone()),
        };
        let model = match user::Entity::insert(row)
            .exec_with_returning(&self.store.db)
            .await
        {
            Ok(model) => model,
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                return Err(StoreError::UsernameTaken(new.username.clone()));
            }
            Err(e) => return Err(e.into()),
        };
        account(model)
    }

    /// Every account, by user name.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn list(&self) -> Result<Vec<Account>, StoreError> {
        user::Entity::find()
            .order_by_asc(user::Column::Username)
            .all(&self.store.db)
            .await?
            .into_iter()
            .map(account)
            .collect()
    }

    /// The account of a user name.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn get(&self, username: &str) -> Result<Option<Account>, StoreError> {
        Ok(self.login_row(username).await?.map(|(a, _)| a))
    }

    /// The account of a user name with its password hash, for checking a login.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn login_row(&self, username: &str) -> Result<Option<(Account, String)>, StoreError> {
        let Some(row) = user::Entity::find()
            .filter(user::Column::Username.eq(username))
            .one(&self.store.db)
            .await?
        else {
            return Ok(None);
        };
        let hash = row.password_hash.clone();
        Ok(Some((account(row)?, hash)))
    }

    /// Disables or enables an account; disabling also ends its sessions. Returns whether
    /// the account exists.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn set_disabled(&self, username: &str, disabled: bool) -> Result<bool, StoreError> {
        let txn = self.store.db.begin().await?;
        let Some(row) = user::Entity::find()
            .filter(user::Column::Username.eq(username))
            .one(&txn)
            .await?
        else {
            return Ok(false);
        };
        user::Entity::update_many()
            .col_expr(user::Column::Disabled, Expr::value(disabled))
            .filter(user::Column::Id.eq(row.id.clone()))
            .exec(&txn)
            .await?;
        if disabled {
            session::Entity::delete_many()
                .filter(session::Column::UserId.eq(row.id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(true)
    }

    /// Sets the account's display name (the person's real name, printed as 经办人). Returns
    /// whether the account exists.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn set_name(&self, username: &str, name: &str) -> Result<bool, StoreError> {
        let result = user::Entity::update_many()
            .col_expr(user::Column::DisplayName, Expr::value(name))
            .filter(user::Column::Username.eq(username))
            .exec(&self.store.db)
            .await?;
        Ok(result.rows_affected > 0)
    }

    /// The display names of these user names (the accounts that exist among them).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn names(
        &self,
        usernames: &[String],
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        if usernames.is_empty() {
            return Ok(Default::default());
        }
        let rows: Vec<(String, String)> = user::Entity::find()
            .select_only()
            .columns([user::Column::Username, user::Column::DisplayName])
            .filter(user::Column::Username.is_in(usernames.to_vec()))
            .into_tuple()
            .all(&self.store.db)
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// Sets a new password hash, clears failed logins and any lock, and ends the account's
    /// sessions. Returns whether the account exists.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn set_password(&self, username: &str, hash: &str) -> Result<bool, StoreError> {
        let txn = self.store.db.begin().await?;
        let Some(row) = user::Entity::find()
            .filter(user::Column::Username.eq(username))
            .one(&txn)
            .await?
        else {
            return Ok(false);
        };
        user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(hash))
            .col_expr(user::Column::FailedLogins, Expr::value(0))
            .col_expr(
                user::Column::LockedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(user::Column::Id.eq(row.id.clone()))
            .exec(&txn)
            .await?;
        session::Entity::delete_many()
            .filter(session::Column::UserId.eq(row.id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Counts a failed login of an account; at `lock_after` failures the account is locked
    /// until `lock_until` and the count starts again. Returns the failures counted before
    /// the lock (so a caller can slow down).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn record_login_failure(
        &self,
        id: UserId,
        lock_after: i32,
        lock_until: DateTime<Utc>,
    ) -> Result<i32, StoreError> {
        let txn = self.store.begin_write().await?;
        user::Entity::update_many()
            .col_expr(
                user::Column::FailedLogins,
                Expr::col(user::Column::FailedLogins).add(1),
            )
            .filter(user::Column::Id.eq(id.to_string()))
            .exec(&*txn)
            .await?;
        let failures = user::Entity::find_by_id(id.to_string())
            .one(&*txn)
            .await?
            .map_or(0, |row| row.failed_logins);
        if failures >= lock_after {
            user::Entity::update_many()
                .col_expr(user::Column::FailedLogins, Expr::value(0))
                .col_expr(user::Column::LockedUntil, Expr::value(Some(lock_until)))
                .filter(user::Column::Id.eq(id.to_string()))
                .exec(&*txn)
                .await?;
        }
        txn.commit().await?;
        Ok(failures)
    }

    /// A successful login: clears the failure count and any expired lock.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn record_login_success(&self, id: UserId) -> Result<(), StoreError> {
        user::Entity::update_many()
            .col_expr(user::Column::FailedLogins, Expr::value(0))
            .col_expr(
                user::Column::LockedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(user::Column::Id.eq(id.to_string()))
            .exec(&self.store.db)
            .await?;
        Ok(())
    }

    /// Stores a new session under the hash of its token, and removes the account's expired
    /// ones.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn create_session(
        &self,
        token_hash: &str,
        user: UserId,
        csrf: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let row = session::ActiveModel {
            id: Set(token_hash.to_owned()),
            user_id: Set(user.to_string()),
            csrf: Set(csrf.to_owned()),
            created_at: Set(now),
            expires_at: Set(expires_at),
            last_seen: Set(now),
        };
        session::Entity::insert(row)
            .exec_without_returning(&self.store.db)
            .await?;
        // Expired sessions of the account go when it signs in again: the table stays
        // small without a sweeper.
        session::Entity::delete_many()
            .filter(session::Column::UserId.eq(user.to_string()))
            .filter(session::Column::ExpiresAt.lte(now))
            .exec(&self.store.db)
            .await?;
        Ok(())
    }

    /// The live session of a token hash: not expired and of an enabled account. Notes
    /// `last_seen` at most once a minute, to keep reads cheap.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let Some(row) = session::Entity::find_by_id(token_hash.to_owned())
            .one(&self.store.db)
            .await?
        else {
            return Ok(None);
        };
        if row.expires_at <= now {
            return Ok(None);
        }
        let Some(user) = user::Entity::find_by_id(row.user_id.clone())
            .one(&self.store.db)
            .await?
        else {
            return Ok(None);
        };
        let account = account(user)?;
        if account.disabled {
            return Ok(None);
        }
        if now - row.last_seen > chrono::Duration::minutes(1) {
            session::Entity::update_many()
                .col_expr(session::Column::LastSeen, Expr::value(now))
                .filter(session::Column::Id.eq(row.id.clone()))
                .exec(&self.store.db)
                .await?;
        }
        Ok(Some(SessionRecord {
            id: row.id,
            account,
            csrf: row.csrf,
            expires_at: row.expires_at,
        }))
    }

    /// Ends a session (logout).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        session::Entity::delete_by_id(token_hash.to_owned())
            .exec(&self.store.db)
            .await?;
        Ok(())
    }

    /// The secret named `name` that the service keeps for itself (shared by every replica):
    /// the stored one, or `fresh` stored now when there is none yet. Two replicas making
    /// it at once agree on the first one written.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn server_key(
        &self,
        name: &str,
        fresh: &str,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let row = server_key::ActiveModel {
            name: Set(name.to_owned()),
            value: Set(fresh.to_owned()),
            created_at: Set(now),
        };
        server_key::Entity::insert(row)
            .on_conflict_do_nothing()
            .exec_without_returning(&self.store.db)
            .await?;
        let stored = server_key::Entity::find_by_id(name.to_owned())
            .one(&self.store.db)
            .await?
            .map_or_else(|| fresh.to_owned(), |row| row.value);
        Ok(stored)
    }
}

fn account(row: user::Model) -> Result<Account, StoreError> {
    let corrupt = |column| StoreError::Corrupt {
        table: "users",
        id: row.id.clone(),
        column,
    };
    Ok(Account {
        id: Uuid::parse_str(&row.id)
            .map(UserId)
            .map_err(|_| corrupt("id"))?,
        roles: accounts::parse_roles(&row.roles).map_err(|_| corrupt("roles"))?,
        username: row.username,
        name: row.display_name,
        department: row.department,
        county: row.county,
        disabled: row.disabled,
        created_at: row.created_at,
        failed_logins: row.failed_logins,
        locked_until: row.locked_until,
    })
}
