//! Time: the injected [`Clock`], deadlines and schedules, and the `lianban workdays`
//! questions. Working-day arithmetic itself lives with the calendar data in
//! [`lianban_core::definition::Calendar`], because the pure runtime needs it for task due times and
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

/// Every background worker of `serve`, ready to start: the timer worker
/// ([`timers::spawn_until`]), cron schedules ([`run_due`]) and outbox delivery
/// ([`OutboxWorker`]), all on the engine's clock. Built before the service listens, because
/// building reads the signing secrets of the department systems from the environment: a
/// missing one stops the start instead of failing a delivery at night.
#[derive(Debug, Clone)]
pub struct Background {
    engine: crate::Engine,
    outbox: OutboxWorker,
}

impl Background {
    /// The workers of `engine`, with the secrets its catalog names.
    ///
    /// # Errors
    /// [`outbox::MissingSecret`], or an HTTP client that cannot be built.
    pub fn new(engine: &crate::Engine) -> anyhow::Result<Background> {
        let secrets = Secrets::from_env(&engine.catalog())?;
        let outbox = OutboxWorker::new(engine.clone(), secrets, OutboxPolicy::default())?;
        Ok(Background {
            engine: engine.clone(),
            outbox,
        })
    }

    /// Starts every worker; they run until `stop` resolves, then finish the pass under
    /// way, give back the leases they still hold (so another replica takes that work at
    /// once, not when the leases run out) and end. The handle ends when all have.
    pub fn spawn_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        use futures::FutureExt as _;
        // Each worker waits on its own copy of the one stop signal.
        let stop = stop.shared();
        let timers = timers::spawn_until(self.engine.clone(), stop.clone());
        let rest = spawn_schedules_and_outbox(self.engine, self.outbox, stop);
        tokio::spawn(async move {
            for (name, ended) in [("timer", timers.await), ("schedule and outbox", rest.await)] {
                if let Err(e) = ended {
                    tracing::warn!(error = %e, worker = name, "background worker ended abnormally");
                }
            }
        })
    }
}

/// The loop of cron schedules and outbox delivery, every [`TICK`].
fn spawn_schedules_and_outbox(
    engine: crate::Engine,
    worker: OutboxWorker,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
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
        match engine
            .store()
            .jobs()
            .release_outbox_leases(worker.id())
            .await
        {
            Ok(n) => tracing::info!(released = n, "background worker stopped"),
            Err(e) => tracing::warn!(error = %e, "outbox leases not released; they run out"),
        }
    })
}
