//! The timer worker: fires due durable timers (task warnings and due times, case limits)
//! exactly once, also with several instances on one database. A pass lists due timers,
//! claims each with a compare-and-set lease (an `UPDATE … WHERE fired_at IS NULL AND
//! (lease_until IS NULL OR lease_until < now)` that must touch one row), and lets the engine
//! save the firing and mark the timer fired in one transaction. A worker that dies mid-way
//! leaves a lease that runs out, after which another pass takes the timer over.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::{Engine, EngineError};

/// How long a claim holds before another worker may take the timer over.
const LEASE: TimeDelta = TimeDelta::seconds(60);

/// Timers taken per query; a pass keeps going until none are left.
const BATCH: u64 = 100;

/// How often `serve` looks for due timers.
const TICK: Duration = Duration::from_secs(5);

/// Fires every timer due at `now` that no live lease holds; returns how many this call
/// fired. Each call is its own lease owner, so concurrent calls (in one process or on
/// several instances) never fire the same timer twice.
///
/// # Errors
/// [`EngineError::Store`] when the database fails. A firing the runtime refuses is logged
/// and left to be retried when its lease ends; it does not stop the pass.
pub async fn fire_due(engine: &Engine, now: DateTime<Utc>) -> Result<usize, EngineError> {
    fire_due_as(engine, now, &Uuid::now_v7().to_string()).await
}

/// Like [`fire_due`], with the leases taken in the name of `owner`, so a worker that stops
/// can give back what it still holds ([`lianban_store::Jobs::release_timer_leases`]).
/// Passes sharing an owner must not run concurrently.
///
/// # Errors
/// As [`fire_due`].
pub async fn fire_due_as(
    engine: &Engine,
    now: DateTime<Utc>,
    owner: &str,
) -> Result<usize, EngineError> {
    let store = engine.store();
    let mut fired = 0;
    // Timers this pass could not finish keep their lease, so they do not come back in
    // the next batch and the loop ends.
    loop {
        let due = store.jobs().due_timers(now, BATCH).await?;
        if due.is_empty() {
            break;
        }
        for timer in &due {
            if !store
                .jobs()
                .claim_timer(&timer.id, owner, now, now + LEASE)
                .await?
            {
                continue; // another worker has it
            }
            match engine.fire_timer(timer, owner, now).await {
                Ok(true) => fired += 1,
                Ok(false) => {}
                Err(EngineError::Store(e)) => return Err(EngineError::Store(e)),
                Err(e) => {
                    tracing::error!(
                        case_id = %timer.case_id,
                        timer = %timer.id,
                        error = %e,
                        "timer could not fire; retried when its lease ends"
                    );
                }
            }
        }
    }
    Ok(fired)
}

/// Starts the timer worker of `serve` (see [`super::Background`]): a pass every few
/// seconds at the engine clock's time, until `stop` resolves; then the pass under way
/// finishes, the leases the worker still holds are given back (so another instance takes
/// those timers at once, not when the leases run out), and the task ends.
pub(crate) fn spawn_until(
    engine: Engine,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let owner = Uuid::now_v7().to_string();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = &mut stop => break,
            }
            match fire_due_as(&engine, engine.now(), &owner).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(fired = n, "timers fired"),
                Err(e) => tracing::error!(error = %e, "timer pass failed"),
            }
        }
        match engine.store().jobs().release_timer_leases(&owner).await {
            Ok(n) => tracing::info!(released = n, "timer worker stopped"),
            Err(e) => tracing::warn!(error = %e, "timer leases not released; they run out"),
        }
    })
}
