//! Moving a running case to another version of its definition: [`plan_migration`] decides,
//! for one case, where each live token and open task goes, which deadlines change and
//! whether the case can move at all. It writes nothing; the service saves the transition
//! it returns in one transaction, and a refused case is left exactly as it was.
//!
//! A step keeps its id unless the mapping (`old=new`) names another; a task stays the same
//! task (its id, its claim, its creation time) and only its step, role and due times follow
//! the new version; a wait keeps the time it was entered. The case clock (法定/承诺时限)
//! is counted again from the start of the case when the new version's limits differ, moved
//! by the working days the case already stood.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Asia::Shanghai;
use serde::{Deserialize, Serialize};

use super::run::Run;
use super::tasks::due_at;
use super::{
    CaseId, CaseLimit, CaseState, CaseStatus, Deadline, Effect, Event, TaskId, TaskStatus,
    Transition,
};
use crate::definition::{Duration, Process, Step, StepId, StepKind};

/// What one case's move to another version does, as the dry run prints it and the history
/// keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MigrationPlan {
    /// The case.
    pub case: CaseId,
    /// The version it runs on now.
    pub from_version: u32,
    /// The version it moves to.
    pub to_version: u32,
    /// Where each live token (and the task waiting on it) goes.
    pub moves: Vec<TokenMove>,
    /// Deadlines that change (a task's due time, a wait's limit, the case's limits).
    pub deadlines: Vec<DeadlineChange>,
}

/// One live token's move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenMove {
    /// The token.
    pub token: u32,
    /// The step it is at.
    pub from: StepId,
    /// The step it will be at (the same id when the step stays).
    pub to: StepId,
    /// The open task waiting on the token, if it waits on a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskId>,
    /// The role the task goes to in the new version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Who holds the task; a claimed task stays claimed by them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
}

/// A deadline the move changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineChange {
    /// Which deadline.
    pub deadline: Deadline,
    /// Due before the move.
    pub before: Option<DateTime<Utc>>,
    /// Due after it.
    pub after: Option<DateTime<Utc>>,
}

/// Why a case (or a whole request) cannot move. Nothing changes when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MigrationRefusal {
    /// The case runs on another version than the one named.
    #[error("办件运行在第 {actual} 版，不是第 {from} 版")]
    OtherVersion {
        /// The version the case runs on.
        actual: u32,
        /// The version the request moves from.
        from: u32,
    },
    /// The request moves a version onto itself.
    #[error("迁出和迁入的版本相同（第 {version} 版）")]
    SameVersion {
        /// The version named twice.
        version: u32,
    },
    /// The case named runs another process.
    #[error("办件属于流程 {process}，不是要迁移的流程")]
    OtherProcess {
        /// The process it runs.
        process: String,
    },
    /// The case has ended; only running cases move.
    #[error("办件已结束，不迁移")]
    Ended,
    /// A token is at a step the new version does not have, and the mapping names none.
    #[error(
        "办件停在步骤“{name}”（{step}），第 {version} 版没有这个步骤：请用 --map {step}=新步骤 指定去向"
    )]
    StepRemoved {
        /// The step.
        step: StepId,
        /// Its name in the old version.
        name: String,
        /// The new version.
        version: u32,
    },
    /// A token would move to a step of another kind (a task to a wait, …).
    #[error("步骤“{from}”是{from_kind}，第 {version} 版的“{to}”是{to_kind}，不能迁移过去")]
    KindChanged {
        /// The step the token is at.
        from: StepId,
        /// Its kind in words.
        from_kind: &'static str,
        /// The step it would move to.
        to: StepId,
        /// That step's kind in words.
        to_kind: &'static str,
        /// The new version.
        version: u32,
    },
    /// A token is inside a split whose branch no longer exists in the new version.
    #[error(
        "办件在分支“{split}”中停在“{step}”，第 {version} 版中该分支已不存在（或不再经过该步骤）"
    )]
    BranchGone {
        /// The split (old id).
        split: StepId,
        /// The step the token is at (old id).
        step: StepId,
        /// The new version.
        version: u32,
    },
    /// A task step of the new version names a role it does not define.
    #[error("第 {version} 版步骤“{step}”的角色 `{role}` 未定义")]
    UnknownRole {
        /// The step.
        step: StepId,
        /// The role.
        role: String,
        /// The new version.
        version: u32,
    },
    /// The mapping names a step the old version does not have.
    #[error("--map {from}={to}：第 {version} 版没有步骤 `{from}`")]
    MapFromUnknown {
        /// The old step named.
        from: StepId,
        /// The new step named.
        to: StepId,
        /// The old version.
        version: u32,
    },
    /// The mapping names a step the new version does not have.
    #[error("--map {from}={to}：第 {version} 版没有步骤 `{to}`")]
    MapToUnknown {
        /// The old step named.
        from: StepId,
        /// The new step named.
        to: StepId,
        /// The new version.
        version: u32,
    },
}

impl MigrationRefusal {
    /// A stable code beside the Chinese message.
    pub fn code(&self) -> &'static str {
        match self {
            MigrationRefusal::OtherVersion { .. } => "other-version",
            MigrationRefusal::SameVersion { .. } => "same-version",
            MigrationRefusal::OtherProcess { .. } => "other-process",
            MigrationRefusal::Ended => "case-ended",
            MigrationRefusal::StepRemoved { .. } => "step-removed",
            MigrationRefusal::KindChanged { .. } => "step-kind-changed",
            MigrationRefusal::BranchGone { .. } => "branch-gone",
            MigrationRefusal::UnknownRole { .. } => "unknown-role",
            MigrationRefusal::MapFromUnknown { .. } => "map-from-unknown",
            MigrationRefusal::MapToUnknown { .. } => "map-to-unknown",
        }
    }
}

/// Checks a mapping against both versions before any case is planned: every old step it
/// names exists in `from`, every new one in `to`.
///
/// # Errors
/// [`MigrationRefusal::MapFromUnknown`] or [`MigrationRefusal::MapToUnknown`].
pub fn check_mapping(
    from: &Process,
    to: &Process,
    mapping: &BTreeMap<StepId, StepId>,
) -> Result<(), MigrationRefusal> {
    for (old, new) in mapping {
        if from.step(old).is_none() {
            return Err(MigrationRefusal::MapFromUnknown {
                from: old.clone(),
                to: new.clone(),
                version: from.version,
            });
        }
        if to.step(new).is_none() {
            return Err(MigrationRefusal::MapToUnknown {
                from: old.clone(),
                to: new.clone(),
                version: to.version,
            });
        }
    }
    Ok(())
}

/// Plans the move of `state` (on `from`) to `to`, with `mapping` naming where steps the new
/// version renamed or replaced went. Returns the plan and the transition to save: the
/// state on the new version, a `CaseMigrated` event, and an `UpdateTask` per moved task.
///
/// # Errors
/// A [`MigrationRefusal`] naming why the case cannot move; nothing is decided then.
pub fn plan_migration(
    from: &Process,
    to: &Process,
    state: &CaseState,
    mapping: &BTreeMap<StepId, StepId>,
    now: DateTime<Utc>,
) -> Result<(MigrationPlan, Transition), MigrationRefusal> {
    if state.version != from.version {
        return Err(MigrationRefusal::OtherVersion {
            actual: state.version,
            from: from.version,
        });
    }
    if state.status != CaseStatus::Active {
        return Err(MigrationRefusal::Ended);
    }
    check_mapping(from, to, mapping)?;
    let target = |step: &StepId| mapping.get(step).unwrap_or(step).clone();
    let mut run = Run::new(to, state.clone(), now);
    run.state.version = to.version;
    let mut plan = MigrationPlan {
        case: state.id,
        from_version: from.version,
        to_version: to.version,
        moves: Vec::new(),
        deadlines: Vec::new(),
    };
    // Frames first: a token's branch is judged against its split as the new version has it.
    for frame in &mut run.state.frames {
        let (split, join) = (target(&frame.split), target(&frame.join));
        let joined = matches!(
            to.step(&split).map(|s| &s.kind),
            Some(StepKind::Parallel(s) | StepKind::MultiChoice(s)) if s.join == join
        );
        if !joined {
            let step = state
                .tokens
                .iter()
                .find(|t| t.frames.contains(&frame.id))
                .map_or_else(|| frame.join.clone(), |t| t.step.clone());
            return Err(MigrationRefusal::BranchGone {
                split: frame.split.clone(),
                step,
                version: to.version,
            });
        }
        frame.split = split;
        frame.join = join;
    }
    for index in 0..run.state.tokens.len() {
        let token = run.state.tokens[index].clone();
        let old_step = from
            .step(&token.step)
            .ok_or_else(|| removed(from, to, &token.step))?;
        let new_id = target(&token.step);
        let new_step = to
            .step(&new_id)
            .ok_or_else(|| removed(from, to, &token.step))?;
        if kind_word(old_step) != kind_word(new_step) {
            return Err(MigrationRefusal::KindChanged {
                from: token.step.clone(),
                from_kind: kind_word(old_step),
                to: new_id,
                to_kind: kind_word(new_step),
                version: to.version,
            });
        }
        if let Some(frame) = token.frames.last().and_then(|f| run.frame(*f)) {
            let on_branch = to.reaches(&frame.split, &new_id) && to.reaches(&new_id, &frame.join);
            if !on_branch {
                return Err(MigrationRefusal::BranchGone {
                    split: state
                        .frames
                        .iter()
                        .find(|f| f.id == frame.id)
                        .map_or(frame.split.clone(), |f| f.split.clone()),
                    step: token.step.clone(),
                    version: to.version,
                });
            }
        }
        let mut moved = TokenMove {
            token: token.id,
            from: token.step.clone(),
            to: new_id.clone(),
            task: None,
            role: None,
            claimed_by: None,
        };
        match (&old_step.kind, &new_step.kind) {
            (StepKind::Task(old), StepKind::Task(new)) => {
                let role =
                    to.roles
                        .get(&new.role)
                        .ok_or_else(|| MigrationRefusal::UnknownRole {
                            step: new_id.clone(),
                            role: new.role.clone(),
                            version: to.version,
                        })?;
                let same_times = old.due == new.due
                    && old.warn == new.warn
                    && old.due_date.is_none()
                    && new.due_date.is_none();
                let dated = new.due_date.as_ref().map(|e| run.due_date(e).ok());
                let task = run.state.tasks.iter_mut().find(|t| {
                    t.token == token.id
                        && matches!(t.status, TaskStatus::Open | TaskStatus::Claimed)
                });
                if let Some(task) = task {
                    task.step = new_id.clone();
                    task.role = role.key.clone();
                    task.department = role.department.clone();
                    moved.task = Some(task.id);
                    moved.role = Some(role.key.clone());
                    moved.claimed_by = task.claimed_by.clone();
                    if !same_times {
                        let counted = new.due.and_then(|d| due_at(to, d, task.created_at).ok());
                        let due = counted.map(|d| d.at).or(dated.flatten());
                        let before = task.due_at;
                        task.provisional = counted.is_some_and(|d| d.provisional);
                        task.due_at = due;
                        task.warn_at = due.zip(new.warn).and_then(|(due, warn)| {
                            super::clock::warn_at(to, due, warn, task.created_at)
                        });
                        if before != due {
                            plan.deadlines.push(DeadlineChange {
                                deadline: Deadline::Task { task: task.id },
                                before,
                                after: due,
                            });
                        }
                    }
                    let id = task.id;
                    run.effects.push(Effect::UpdateTask { task: id });
                }
            }
            (StepKind::Wait(old), StepKind::Wait(new)) if old.due != new.due => {
                // The wait keeps the time it was entered: its last visit of the old step.
                let entered = state
                    .trail
                    .iter()
                    .rev()
                    .find(|v| v.step == token.step)
                    .map_or(now, |v| v.at);
                let due = new.due.and_then(|d| due_at(to, d, entered).ok());
                let live = &mut run.state.tokens[index];
                let before = live.due_at;
                live.due_at = due.map(|d| d.at);
                live.provisional = due.is_some_and(|d| d.provisional);
                if before != live.due_at {
                    plan.deadlines.push(DeadlineChange {
                        deadline: Deadline::Wait {
                            step: new_id.clone(),
                        },
                        before,
                        after: live.due_at,
                    });
                }
            }
            _ => {}
        }
        run.state.tokens[index].step = new_id;
        plan.moves.push(moved);
    }
    recount_limits(&mut run, from, &mut plan);
    settle_clock(&mut run);
    run.events.push(Event::CaseMigrated {
        from_version: from.version,
        to_version: to.version,
        mapping: mapping
            .iter()
            .map(|(a, b)| (a.as_str().to_owned(), b.as_str().to_owned()))
            .collect(),
        moves: plan.moves.clone(),
        deadlines: plan.deadlines.clone(),
    });
    Ok((plan, run.finish()))
}

fn removed(from: &Process, to: &Process, step: &StepId) -> MigrationRefusal {
    MigrationRefusal::StepRemoved {
        step: step.clone(),
        name: from
            .step(step)
            .map_or_else(|| step.to_string(), |s| s.name.clone()),
        version: to.version,
    }
}

/// The kind of step a token can rest at, in words; other kinds only pass tokens on.
fn kind_word(step: &Step) -> &'static str {
    match step.kind {
        StepKind::Task(_) => "人工任务",
        StepKind::Wait(_) => "等待事件",
        StepKind::Join(_) => "汇合",
        _ => "自动步骤",
    }
}

/// Counts the case's legal and promised deadlines again when the new version's limits
/// differ: from the start of the case, moved later by the working days it already stood.
fn recount_limits(run: &mut Run<'_>, from: &Process, plan: &mut MigrationPlan) {
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
fn settle_clock(run: &mut Run<'_>) {
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

impl Run<'_> {
    /// The open frame with this id, as the run holds it (already mapped).
    fn frame(&self, id: u32) -> Option<super::Frame> {
        self.state.frames.iter().find(|f| f.id == id).cloned()
    }
}
