//! Time limits: a task's warning time, and the case clock — the legal and promised
//! deadlines set when a case starts, stopped while the case waits on the applicant or another
//! party (`pauses_clock` wait steps) and moved later by the working days it stood.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Asia::Shanghai;

use super::Event;
use super::run::Run;
use super::tasks::due_at;
use crate::definition::{DAY_ENDS, Duration, Process, StepId, StepKind};

/// When the warning period of something due at `due` starts: `warn` before it — for working
/// days the end of the Nth working day before the due day, so `1 workday` warns from the
/// start of the last day. Never before `created`: a task born inside its warning period is
/// in it from the start. `None` when it cannot be computed (no calendar data).
pub(super) fn warn_at(
    process: &Process,
    due: DateTime<Utc>,
    warn: Duration,
    created: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let at = match warn {
        Duration::Days(n) => due.checked_sub_signed(TimeDelta::try_days(i64::from(n))?)?,
        Duration::Hours(n) => due.checked_sub_signed(TimeDelta::try_hours(i64::from(n))?)?,
        Duration::Workdays(n) => {
            let calendar = process.calendar_data.as_ref()?;
            let due_day = due.with_timezone(&Shanghai).date_naive();
            let day = calendar.add_workdays(due_day, -i64::from(n)).ok()?;
            day.and_time(DAY_ENDS)
                .and_local_timezone(Shanghai)
                .earliest()?
                .with_timezone(&Utc)
        }
    };
    Some(at.max(created))
}

impl Run<'_> {
    /// Sets the case's legal and promised deadlines from the definition's `time_limits`,
    /// counted from now (the start of the case).
    pub(super) fn start_clock(&mut self) {
        let limits = self.process.time_limits;
        let compute = |limit: Option<Duration>| {
            let limit = limit?;
            match due_at(self.process, limit, self.now) {
                Ok(due) => Some(due),
                Err(reason) => {
                    tracing::warn!(case_id = %self.state.id.0, process = %self.process.id, %limit, "{reason}");
                    None
                }
            }
        };
        let (legal, promised) = (compute(limits.legal), compute(limits.promised));
        let clock = &mut self.state.clock;
        clock.legal_due = legal.map(|d| d.at);
        clock.legal_provisional = legal.is_some_and(|d| d.provisional);
        clock.promised_due = promised.map(|d| d.at);
        clock.promised_provisional = promised.is_some_and(|d| d.provisional);
    }

    /// Stops the case clock as a token reaches a wait step that pauses it; a clock already
    /// stopped (two waits at once) stays stopped from its first pause.
    pub(super) fn pause_clock(&mut self, step: &StepId) {
        let clock = &mut self.state.clock;
        let limited = clock.legal_due.is_some() || clock.promised_due.is_some();
        if !limited || clock.paused_since.is_some() {
            return;
        }
        clock.paused_since = Some(self.now);
        self.events.push(Event::ClockPaused { step: step.clone() });
    }

    /// Restarts the case clock when no token waits at a pausing step any more; the deadlines
    /// move later by the working days the clock stood (whole days without a calendar).
    pub(super) fn resume_clock(&mut self, step: &StepId) {
        let process = self.process;
        let still_waiting = self.state.tokens.iter().any(|t| {
            process
                .step(&t.step)
                .is_some_and(|s| matches!(&s.kind, StepKind::Wait(w) if w.pauses_clock))
        });
        let Some(since) = self.state.clock.paused_since else {
            return;
        };
        if still_waiting {
            return;
        }
        let (from, to) = (
            since.with_timezone(&Shanghai).date_naive(),
            self.now.with_timezone(&Shanghai).date_naive(),
        );
        let calendar = process.calendar_data.as_ref();
        let counted = calendar.and_then(|c| c.workdays_between(from, to).ok());
        let shift = |due: Option<DateTime<Utc>>| -> Option<DateTime<Utc>> {
            let due = due?;
            match (calendar, counted) {
                (Some(c), Some(n)) => {
                    let day = due.with_timezone(&Shanghai).date_naive();
                    let moved = c.add_workdays(day, n).ok()?;
                    let time = due.with_timezone(&Shanghai).time();
                    Some(
                        moved
                            .and_time(time)
                            .and_local_timezone(Shanghai)
                            .earliest()?
                            .with_timezone(&Utc),
                    )
                }
                // No working-day count possible: the deadline moves by the time that passed.
                _ => due.checked_add_signed(self.now - since),
            }
        };
        let clock = &mut self.state.clock;
        let legal = shift(clock.legal_due).or(clock.legal_due);
        let promised = shift(clock.promised_due).or(clock.promised_due);
        let days = counted.unwrap_or_else(|| (to - from).num_days());
        // A deadline moved into (or still in) a year without notice is provisional.
        let provisional = |due: Option<DateTime<Utc>>, before: bool| match (calendar, due) {
            (Some(c), Some(due)) => c.is_provisional(due.with_timezone(&Shanghai).date_naive()),
            _ => before,
        };
        clock.legal_provisional = provisional(legal, clock.legal_provisional);
        clock.promised_provisional = provisional(promised, clock.promised_provisional);
        clock.legal_due = legal;
        clock.promised_due = promised;
        clock.paused_since = None;
        clock.paused_workdays += days;
        self.events.push(Event::ClockResumed {
            step: step.clone(),
            workdays: days,
            legal_due: legal,
            promised_due: promised,
        });
    }
}
