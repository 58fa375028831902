//! Time: the injected [`Clock`], deadlines and schedules, and the `lianban workdays`
//! questions. Working-day arithmetic itself lives with the calendar data in
//! [`crate::definition::Calendar`], because the pure runtime needs it for task due times and
//! must not depend on this module.

pub mod workdays;

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
