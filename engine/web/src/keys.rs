//! What the login signs with the service's own key (kept in the database, so that every
//! replica checks what another issued): the login form's CSRF token, which only this
//! server can have made, and the cookie of a browser an account signed in from, which lets
//! the rightful user past a lock that strangers' failures put on the account.
//!
//! A signed value is `payload.hex(HMAC-SHA256(key, purpose|payload))`; the purpose keeps
//! a token of one kind from passing as the other.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::OnceCell;

use super::ApiError;
use super::session::{new_token, same_secret};
use lianban_core::accounts::UserId;
use lianban_service::Engine;

/// How long a login page's token is good for.
pub(super) const LOGIN_TOKEN_TTL: chrono::Duration = chrono::Duration::hours(1);
/// How long a browser stays known to an account after signing in there.
pub(super) const DEVICE_TTL: chrono::Duration = chrono::Duration::days(90);

/// The login key, read from the database once per process.
#[derive(Debug, Default)]
pub(super) struct LoginKey(OnceCell<String>);

impl LoginKey {
    async fn get(&self, engine: &Engine) -> Result<&str, ApiError> {
        let key = self
            .0
            .get_or_try_init(|| async { engine.server_key("login", &new_token()).await })
            .await?;
        Ok(key.as_str())
    }

    /// A fresh login-form token, good for [`LOGIN_TOKEN_TTL`] from `now`.
    pub(super) async fn login_token(
        &self,
        engine: &Engine,
        now: DateTime<Utc>,
    ) -> Result<String, ApiError> {
        let key = self.get(engine).await?;
        let payload = format!("{}.{}", (now + LOGIN_TOKEN_TTL).timestamp(), new_token());
        Ok(sign(key, "login", &payload))
    }

    /// Whether `token` is a login-form token this service issued that has not expired.
    pub(super) async fn check_login_token(
        &self,
        engine: &Engine,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, ApiError> {
        let key = self.get(engine).await?;
        Ok(verify(key, "login", token)
            .and_then(|payload| payload.split_once('.'))
            .and_then(|(until, _)| until.parse::<i64>().ok())
            .is_some_and(|until| until > now.timestamp()))
    }

    /// The cookie value that marks a browser `account` signed in from, good for
    /// [`DEVICE_TTL`].
    pub(super) async fn device_token(
        &self,
        engine: &Engine,
        account: UserId,
        now: DateTime<Utc>,
    ) -> Result<String, ApiError> {
        let key = self.get(engine).await?;
        let payload = format!("{account}.{}", (now + DEVICE_TTL).timestamp());
        Ok(sign(key, "device", &payload))
    }

    /// Whether `token` marks a browser `account` signed in from, not expired.
    pub(super) async fn check_device_token(
        &self,
        engine: &Engine,
        token: &str,
        account: UserId,
        now: DateTime<Utc>,
    ) -> Result<bool, ApiError> {
        let key = self.get(engine).await?;
        Ok(verify(key, "device", token)
            .and_then(|payload| payload.split_once('.'))
            .is_some_and(|(id, until)| {
                id == account.to_string() && until.parse::<i64>().is_ok_and(|u| u > now.timestamp())
            }))
    }
}

fn mac(key: &str, purpose: &str, payload: &str) -> String {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_bytes()) else {
        return String::new();
    };
    mac.update(purpose.as_bytes());
    mac.update(b"|");
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn sign(key: &str, purpose: &str, payload: &str) -> String {
    format!("{payload}.{}", mac(key, purpose, payload))
}

/// The payload of a value signed for `purpose`, if the signature holds.
fn verify<'a>(key: &str, purpose: &str, token: &'a str) -> Option<&'a str> {
    let (payload, signature) = token.rsplit_once('.')?;
    same_secret(signature, &mac(key, purpose, payload)).then_some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_key_purpose_and_payload() {
        let token = sign("k1", "login", "123.abc");
        assert_eq!(verify("k1", "login", &token), Some("123.abc"));
        assert_eq!(verify("k2", "login", &token), None);
        assert_eq!(verify("k1", "device", &token), None);
        assert_eq!(verify("k1", "login", &token.replace("123", "999")), None);
        assert_eq!(verify("k1", "login", "anything.goes"), None);
        assert_eq!(verify("k1", "login", ""), None);
    }
}
