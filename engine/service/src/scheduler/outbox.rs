//! Delivery of outbox messages to department systems (六、办理流程 (四): the data of
//! confirmed retirements goes to the departments that handle the joint items).
//!
//! A worker claims due messages with a lease, POSTs each one's JSON body with an
//! `Idempotency-Key` (the message id), a timestamp and an HMAC-SHA256 signature over
//! `"{timestamp}.{body}"` (`docs/push.md`), and records the outcome: a 2xx is a delivery,
//! whose receipt goes into the case's history; anything else is retried with exponential
//! backoff up to a cap, and after the last attempt the message is dead-lettered for an
//! admin to requeue. Delivery is at least once: receivers deduplicate on the key.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::Engine;
use lianban_core::definition::Catalog;
use lianban_store::{OutboxMessage, Receipt, StoreError};

/// The header carrying the message id, for the receiver to deduplicate.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// The header carrying the signing time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "X-Lianban-Timestamp";
/// The header carrying `sha256=<hex HMAC>`.
pub const SIGNATURE_HEADER: &str = "X-Lianban-Signature";

/// Retry and lease settings.
#[derive(Debug, Clone)]
pub struct OutboxPolicy {
    /// Attempts before a message is dead-lettered.
    pub max_attempts: u32,
    /// Delay after the first failure; doubled after each further one …
    pub base_delay: Duration,
    /// … up to this.
    pub max_delay: Duration,
    /// How long a claimed message stays reserved for its worker.
    pub lease: Duration,
    /// Time limit of one HTTP request.
    pub timeout: std::time::Duration,
    /// Messages claimed per round.
    pub batch: u64,
}

impl Default for OutboxPolicy {
    fn default() -> Self {
        OutboxPolicy {
            max_attempts: 8,
            base_delay: Duration::seconds(30),
            max_delay: Duration::hours(1),
            lease: Duration::minutes(2),
            timeout: std::time::Duration::from_secs(10),
            batch: 50,
        }
    }
}

impl OutboxPolicy {
    /// When to try again after `attempts` failed attempts, or `None` when that was the
    /// last one.
    pub fn retry_at(&self, attempts: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if attempts >= self.max_attempts {
            return None;
        }
        let factor = 1i32 << attempts.saturating_sub(1).min(20);
        let delay = (self.base_delay * factor).min(self.max_delay);
        Some(now + delay)
    }
}

/// A department system's signing secret is not in the environment.
#[derive(Debug, thiserror::Error)]
#[error(
    "部门 {department}（流程 {process}）配置了推送地址，但环境变量 {env} 未设置签名密钥：请设置该环境变量后再启动服务"
)]
pub struct MissingSecret {
    /// Process id.
    pub process: String,
    /// Department key.
    pub department: String,
    /// The environment variable.
    pub env: String,
}

/// The signing secrets of the department systems, by environment variable name.
#[derive(Clone, Default)]
pub struct Secrets(HashMap<String, String>);

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: the values are secrets.
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Secrets {
    /// Reads the secret of every department `system:` in the catalog from the environment.
    ///
    /// # Errors
    /// [`MissingSecret`] for the first one that is unset or empty.
    pub fn from_env(catalog: &Catalog) -> Result<Secrets, MissingSecret> {
        Secrets::from_lookup(catalog, |name| std::env::var(name).ok())
    }

    /// Like [`Secrets::from_env`] with another source (tests).
    ///
    /// # Errors
    /// [`MissingSecret`].
    pub fn from_lookup(
        catalog: &Catalog,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Secrets, MissingSecret> {
        let mut secrets = HashMap::new();
        for process in catalog.iter() {
            for department in process.departments.values() {
                let Some(system) = &department.system else {
                    continue;
                };
                match lookup(&system.secret_env).filter(|s| !s.is_empty()) {
                    Some(secret) => {
                        secrets.insert(system.secret_env.clone(), secret);
                    }
                    None => {
                        return Err(MissingSecret {
                            process: process.id.clone(),
                            department: department.key.clone(),
                            env: system.secret_env.clone(),
                        });
                    }
                }
            }
        }
        Ok(Secrets(secrets))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// `hex(HMAC-SHA256(secret, "{timestamp}.{body}"))`: what [`SIGNATURE_HEADER`] carries
/// after `sha256=`.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// What one round of [`OutboxWorker::run_once`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Messages delivered.
    pub delivered: u32,
    /// Messages that failed and will be retried.
    pub retrying: u32,
    /// Messages dead-lettered.
    pub dead: u32,
}

/// Delivers outbox messages; several workers (in one or many replicas) may run at once.
#[derive(Debug, Clone)]
pub struct OutboxWorker {
    id: String,
    engine: Engine,
    secrets: Secrets,
    policy: OutboxPolicy,
    client: reqwest::Client,
}

impl OutboxWorker {
    /// A worker with a fresh id.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (no TLS backend).
    pub fn new(
        engine: Engine,
        secrets: Secrets,
        policy: OutboxPolicy,
    ) -> Result<OutboxWorker, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(OutboxWorker {
            id: format!("worker-{}", uuid::Uuid::new_v4().simple()),
            engine,
            secrets,
            policy,
            client,
        })
    }

    /// The name its leases are taken in.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Claims the messages due at `now` and tries each once.
    ///
    /// # Errors
    /// [`StoreError`] when the database fails.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<DeliveryReport, StoreError> {
        let store = self.engine.store();
        let claimed = store
            .jobs()
            .claim_outbox(&self.id, now, now + self.policy.lease, self.policy.batch)
            .await?;
        let mut report = DeliveryReport::default();
        for message in claimed {
            match self.send(&message, now).await {
                Ok(receipt) => {
                    if store
                        .jobs()
                        .outbox_delivered(&message, &self.id, &receipt, now)
                        .await?
                    {
                        tracing::info!(case_id = %message.case_id, department = %message.department, message = %message.id, status = receipt.status, "message delivered");
                        report.delivered += 1;
                    }
                }
                Err(error) => {
                    let attempts = message.attempts + 1;
                    let retry_at = self.policy.retry_at(attempts, now);
                    if store
                        .jobs()
                        .outbox_failed(&message, &self.id, &error, retry_at, now)
                        .await?
                    {
                        if retry_at.is_some() {
                            tracing::warn!(case_id = %message.case_id, department = %message.department, message = %message.id, attempts, %error, "delivery failed, will retry");
                            report.retrying += 1;
                        } else {
                            tracing::error!(case_id = %message.case_id, department = %message.department, message = %message.id, attempts, %error, "delivery failed for the last time: dead-lettered");
                            report.dead += 1;
                        }
                    }
                }
            }
        }
        Ok(report)
    }

    /// One POST; `Err` is the reason in Chinese (status and a bit of the answer).
    async fn send(&self, message: &OutboxMessage, now: DateTime<Utc>) -> Result<Receipt, String> {
        // The definition in force wins over what was stored with the message, so a corrected
        // address (after a reload) also reaches messages already queued or requeued.
        let current = self
            .engine
            .catalog()
            .latest(&message.process_id)
            .and_then(|p| p.departments.get(&message.department)?.system.clone());
        let (url, secret_env) = match &current {
            Some(system) => (system.url.as_str(), system.secret_env.as_str()),
            None => (message.url.as_str(), message.secret_env.as_str()),
        };
        let env_secret;
        let secret = match self.secrets.get(secret_env) {
            Some(secret) => secret,
            None => {
                // A system added by a reload after startup: its secret may be set now.
                env_secret = std::env::var(secret_env)
                    .map_err(|_| format!("环境变量 {secret_env} 未设置签名密钥"))?;
                env_secret.as_str()
            }
        };
        let timestamp = now.timestamp();
        let signature = sign(secret, timestamp, &message.body);
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(IDEMPOTENCY_HEADER, message.id.to_string())
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, format!("sha256={signature}"))
            .body(message.body.clone())
            .send()
            .await
            .map_err(|e| format!("无法连接部门系统：{e}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            let excerpt: String = text.chars().take(200).collect();
            return Err(format!("部门系统答复 HTTP {}：{excerpt}", status.as_u16()));
        }
        let receipt_id = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| {
                ["receipt_id", "id"]
                    .iter()
                    .find_map(|k| v.get(*k).and_then(|x| x.as_str()).map(str::to_owned))
            });
        Ok(Receipt {
            status: status.as_u16(),
            receipt_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_then_gives_up() {
        let policy = OutboxPolicy {
            max_attempts: 4,
            base_delay: Duration::seconds(30),
            max_delay: Duration::seconds(90),
            ..OutboxPolicy::default()
        };
        let now = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(policy.retry_at(1, now), Some(now + Duration::seconds(30)));
        assert_eq!(policy.retry_at(2, now), Some(now + Duration::seconds(60)));
        assert_eq!(policy.retry_at(3, now), Some(now + Duration::seconds(90)));
        assert_eq!(policy.retry_at(4, now), None);
    }

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_dot_body() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(sign("Jefe", 0, "what do ya want for nothing?").len(), 64);
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").expect("key");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_ne!(sign("k", 1, "{}"), sign("k", 2, "{}"));
    }
}
