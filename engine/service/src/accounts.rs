//! Logins, sessions and API keys as the web checks them: the account behind a user name,
//! the counting of failed logins, and the sessions and keys that identify a request. What a
//! role may do is [`lianban_core::accounts`]'s; the password check and the throttling are the
//! web's (they answer HTTP); this only reads and writes the rows.

use chrono::{DateTime, Utc};

use super::records::{ApiKeyRecord, SessionRecord};
use super::{Engine, EngineError};
use lianban_core::accounts::{Account, UserId};

impl Engine {
    /// The display names (people's real names) of these logins; logins without an account
    /// (API keys, the system) are left out.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn display_names(
        &self,
        logins: &[String],
    ) -> Result<std::collections::HashMap<String, String>, EngineError> {
        Ok(self.store().accounts().names(logins).await?)
    }

    /// The account of a user name with its password hash, for checking a login; `None`
    /// when there is no such user.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn login_row(
        &self,
        username: &str,
    ) -> Result<Option<(Account, String)>, EngineError> {
        Ok(self.store().accounts().login_row(username).await?)
    }

    /// Clears an account's failed logins and lock after a successful login.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn record_login_success(&self, id: UserId) -> Result<(), EngineError> {
        Ok(self.store().accounts().record_login_success(id).await?)
    }

    /// Counts a failed login; at `lock_after` failures the account is locked until
    /// `lock_until`. Returns the failures counted before the lock.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn record_login_failure(
        &self,
        id: UserId,
        lock_after: i32,
        lock_until: DateTime<Utc>,
    ) -> Result<i32, EngineError> {
        Ok(self
            .store()
            .accounts()
            .record_login_failure(id, lock_after, lock_until)
            .await?)
    }

    /// Starts a session under the hash of its token (the token itself is never stored).
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn create_session(
        &self,
        token_hash: &str,
        user: UserId,
        csrf: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        Ok(self
            .store()
            .accounts()
            .create_session(token_hash, user, csrf, now, expires_at)
            .await?)
    }

    /// The live session of a token hash at `now`: not expired, of an enabled account.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn get_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, EngineError> {
        Ok(self.store().accounts().session(token_hash, now).await?)
    }

    /// Ends a session (logout, or a token replaced at login); nothing happens when there is
    /// none.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), EngineError> {
        Ok(self.store().accounts().delete_session(token_hash).await?)
    }

    /// The live (not revoked) API key with this hash.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn get_api_key(
        &self,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ApiKeyRecord>, EngineError> {
        Ok(self.store().accounts().api_key(key_hash, now).await?)
    }

    /// The service's own secret named `name`, made from `fresh` on first use and shared by
    /// every replica through the database.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn server_key(&self, name: &str, fresh: &str) -> Result<String, EngineError> {
        Ok(self
            .store()
            .accounts()
            .server_key(name, fresh, self.now())
            .await?)
    }
}
