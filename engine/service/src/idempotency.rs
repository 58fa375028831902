//! Idempotency keys of the API's POSTs: taken before a request acts, answered after, given
//! back when the request changed nothing. The HTTP side (which requests, which answers are
//! kept) is the web's; this only keeps the keys.

use chrono::{DateTime, Utc};

use super::records::{KeyClaim, KeyUse, StoredAnswer};
use super::{Engine, EngineError};

impl Engine {
    /// Takes an idempotency key for a request, or says why not (a replay, in progress, or
    /// used for another request). Keys used before `expired_before` are forgotten first.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn claim_idempotency_key(
        &self,
        key: KeyUse<'_>,
        now: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> Result<KeyClaim, EngineError> {
        Ok(self
            .store()
            .accounts()
            .claim_idempotency_key(key, now, expired_before)
            .await?)
    }

    /// Stores the answer to a request whose key this caller took.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn finish_idempotency_key(
        &self,
        principal: &str,
        key: &str,
        answer: &StoredAnswer,
    ) -> Result<(), EngineError> {
        Ok(self
            .store()
            .accounts()
            .finish_idempotency_key(principal, key, answer)
            .await?)
    }

    /// Gives a key back without an answer, so a retry acts.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn release_idempotency_key(
        &self,
        principal: &str,
        key: &str,
    ) -> Result<(), EngineError> {
        Ok(self
            .store()
            .accounts()
            .release_idempotency_key(principal, key)
            .await?)
    }
}
