//! Time: the injected [`Clock`], deadlines and schedules, and the `lianban workdays`
//! questions. Working-day arithmetic itself lives with the calendar data in
//! [`crate::definition::Calendar`], because the pure runtime needs it for task due times and
//! must not depend on this module.

pub mod outbox;
pub mod schedules;
pub mod timers;
pub mod workdays;

pub use outbox::{OutboxPolicy, OutboxWorker, Secrets};
pub use schedules::run_due;

use chrono::{DateTime, Utc};

/// Source of the current time; injected so tests never sleep.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told: tests (and tools that replay time) set or advance it
/// instead of sleeping.
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock standing at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock(std::sync::Mutex::new(at))
    }

    /// Moves the clock to `at` (also backwards).
    pub fn set(&self, at: DateTime<Utc>) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = at;
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// How often the background loop looks for due schedules and messages.
const TICK: std::time::Duration = std::time::Duration::from_secs(15);

/// Starts the background work of `serve`: cron schedules ([`run_due`]) and outbox delivery
/// ([`OutboxWorker`]) on the engine's clock, every few seconds. The signing secrets of the
/// department systems are read from the environment now, so a missing one stops the start
/// instead of failing a delivery at night.
///
/// # Errors
/// [`outbox::MissingSecret`], or an HTTP client that cannot be built.
pub fn start(engine: &crate::service::Engine) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    start_until(engine, std::future::pending())
}

/// Like [`start`], until `stop` resolves: the round under way finishes, the outbox leases
/// the worker still holds are given back, and the task ends.
///
/// # Errors
/// As [`start`].
pub fn start_until(
    engine: &crate::service::Engine,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let secrets = Secrets::from_env(&engine.catalog())?;
    let worker = OutboxWorker::new(engine.clone(), secrets, OutboxPolicy::default())?;
    let engine = engine.clone();
    Ok(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = &mut stop => break,
            }
            if let Err(e) = run_due(&engine, engine.now()).await {
                tracing::error!(error = ?e, "schedules could not run");
            }
            if let Err(e) = worker.run_once(engine.now()).await {
                tracing::error!(error = ?e, "outbox delivery round failed");
            }
        }
        match engine.store().release_outbox_leases(worker.id()).await {
            Ok(n) => tracing::info!(released = n, "background worker stopped"),
            Err(e) => tracing::warn!(error = %e, "outbox leases not released; they run out"),
        }
    }))
}
