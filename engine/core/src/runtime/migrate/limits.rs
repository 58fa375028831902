//! The case clock across a move: the legal and promised limits counted again when the new
//! version's limits differ, and the clock stopped or restarted when the new version pauses
//! it at other waits.

use chrono::{DateTime, Utc};
use chrono_tz::Asia::Shanghai;

use super::super::run::Run;
use super::super::tasks::due_at;
use super::super::{CaseLimit, Deadline};
use super::{DeadlineChange, MigrationPlan};
use crate::definition::{Duration, Process, StepKind};

/// Counts the case's legal and promised deadlines again when the new version's limits
/// differ: from the start of the case, moved later by the working days it already stood.
pub(super) fn recount_limits(run: &mut Run<'_>, from: &Process, plan: &mut MigrationPlan) {
    let to = run.process;
    for limit in [CaseLimit::Legal, CaseLimit::Promised] {
        let pick = |p: &Process| match limit {
            CaseLimit::Legal => p.time_limits.legal,
            CaseLimit::Promised => p.time_limits.promised,
        };
        let (old, new) = (pick(from), pick(to));
        if old == new {
            continue;
        }
        let counted =
            new.and_then(|d| shifted(to, d, run.state.started_at, run.state.clock.paused_workdays));
        let clock = &mut run.state.clock;
        let (due, provisional) = match limit {
            CaseLimit::Legal => (&mut clock.legal_due, &mut clock.legal_provisional),
            CaseLimit::Promised => (&mut clock.promised_due, &mut clock.promised_provisional),
        };
        let before = *due;
        *due = counted.map(|(at, _)| at);
        *provisional = counted.is_some_and(|(_, p)| p);
        if before != *due {
            plan.deadlines.push(DeadlineChange {
                deadline: Deadline::Case { limit },
                before,
                after: *due,
            });
        }
    }
}

/// `limit` counted from `start`, then `paused` working days later (whole days without a
/// calendar), with whether it is provisional.
fn shifted(
    process: &Process,
    limit: Duration,
    start: DateTime<Utc>,
    paused: i64,
) -> Option<(DateTime<Utc>, bool)> {
    let due = due_at(process, limit, start).ok()?;
    if paused == 0 {
        return Some((due.at, due.provisional));
    }
    match process.calendar_data.as_ref() {
        Some(calendar) => {
            let local = due.at.with_timezone(&Shanghai);
            let day = calendar.add_workdays(local.date_naive(), paused).ok()?;
            let at = day
                .and_time(local.time())
                .and_local_timezone(Shanghai)
                .earliest()?
                .with_timezone(&Utc);
            Some((at, calendar.is_provisional(day)))
        }
        None => Some((due.at + chrono::TimeDelta::try_days(paused)?, false)),
    }
}

/// Stops or restarts the case clock when the new version pauses it at other waits than the
/// old one did; a clock that stood and still stands keeps the moment it stopped.
pub(super) fn settle_clock(run: &mut Run<'_>) {
    let to = run.process;
    let pausing = run.state.tokens.iter().find_map(|t| {
        to.step(&t.step)
            .filter(|s| matches!(&s.kind, StepKind::Wait(w) if w.pauses_clock))
            .map(|s| s.id.clone())
    });
    match (run.state.clock.paused_since, pausing) {
        (None, Some(step)) => run.pause_clock(&step),
        (Some(_), None) => {
            let step = run
                .state
                .tokens
                .first()
                .map_or_else(|| to.start.clone(), |t| t.step.clone());
            run.resume_clock(&step);
        }
        _ => {}
    }
}
