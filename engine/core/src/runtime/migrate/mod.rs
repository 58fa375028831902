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
use serde::{Deserialize, Serialize};

use super::run::Run;
use super::tasks::due_at;
use super::{
    CaseId, CaseState, CaseStatus, Deadline, Effect, Event, TaskId, TaskStatus, Token, Transition,
};
use crate::definition::{Process, Step, StepId, StepKind, TaskStep, WaitStep};

mod limits;
mod refusal;

pub use refusal::MigrationRefusal;

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
    let mut run = Run::new(to, state.clone(), now);
    run.state.version = to.version;
    let mut mover = Mover {
        from,
        to,
        mapping,
        old: state,
        run,
        plan: MigrationPlan {
            case: state.id,
            from_version: from.version,
            to_version: to.version,
            moves: Vec::new(),
            deadlines: Vec::new(),
        },
    };
    // Frames first: a token's branch is judged against its split as the new version has it.
    mover.map_frames()?;
    for index in 0..mover.run.state.tokens.len() {
        mover.move_token(index)?;
    }
    let Mover {
        mut run, mut plan, ..
    } = mover;
    limits::recount_limits(&mut run, from, &mut plan);
    limits::settle_clock(&mut run);
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

/// One case's move under way: both versions, the case as it was, and the working copy.
struct Mover<'a> {
    from: &'a Process,
    to: &'a Process,
    mapping: &'a BTreeMap<StepId, StepId>,
    /// The case as it was (refusals name its steps).
    old: &'a CaseState,
    run: Run<'a>,
    plan: MigrationPlan,
}

impl Mover<'_> {
    /// Where a step of the old version goes: the mapping's step, else the same id.
    fn target(&self, step: &StepId) -> StepId {
        self.mapping.get(step).unwrap_or(step).clone()
    }

    /// Maps each open split frame to the new version's split and join, which must still
    /// belong together.
    fn map_frames(&mut self) -> Result<(), MigrationRefusal> {
        for index in 0..self.run.state.frames.len() {
            let frame = &self.run.state.frames[index];
            let (split, join) = (self.target(&frame.split), self.target(&frame.join));
            let joined = matches!(
                self.to.step(&split).map(|s| &s.kind),
                Some(StepKind::Parallel(s) | StepKind::MultiChoice(s)) if s.join == join
            );
            if !joined {
                let step = self
                    .old
                    .tokens
                    .iter()
                    .find(|t| t.frames.contains(&frame.id))
                    .map_or_else(|| frame.join.clone(), |t| t.step.clone());
                return Err(MigrationRefusal::BranchGone {
                    split: frame.split.clone(),
                    step,
                    version: self.to.version,
                });
            }
            let frame = &mut self.run.state.frames[index];
            frame.split = split;
            frame.join = join;
        }
        Ok(())
    }

    /// Moves the token at `index` (and the task waiting on it) to its step in the new
    /// version.
    fn move_token(&mut self, index: usize) -> Result<(), MigrationRefusal> {
        let token = self.run.state.tokens[index].clone();
        let (from, to) = (self.from, self.to);
        let old_step = from
            .step(&token.step)
            .ok_or_else(|| removed(from, to, &token.step))?;
        let new_id = self.target(&token.step);
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
        self.check_branch(&token, &new_id)?;
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
                self.move_task(&token, old, (&new_id, new), &mut moved)?;
            }
            (StepKind::Wait(old), StepKind::Wait(new)) if old.due != new.due => {
                self.move_wait(index, &token, new, &new_id);
            }
            _ => {}
        }
        self.run.state.tokens[index].step = new_id;
        self.plan.moves.push(moved);
        Ok(())
    }

    /// A token inside a split must land on a step between the split and its join.
    fn check_branch(&self, token: &Token, new_id: &StepId) -> Result<(), MigrationRefusal> {
        let Some(id) = token.frames.last() else {
            return Ok(());
        };
        let Some(frame) = self.run.state.frames.iter().find(|f| f.id == *id) else {
            return Ok(());
        };
        if self.to.reaches(&frame.split, new_id) && self.to.reaches(new_id, &frame.join) {
            return Ok(());
        }
        Err(MigrationRefusal::BranchGone {
            split: self
                .old
                .frames
                .iter()
                .find(|f| f.id == frame.id)
                .map_or_else(|| frame.split.clone(), |f| f.split.clone()),
            step: token.step.clone(),
            version: self.to.version,
        })
    }

    /// The open task on `token` goes to the new step: same task, same claim; the role of
    /// the new step (or the role an escalation gave it, when the new version has it); due
    /// and warning times counted again from its creation when the step's times differ.
    fn move_task(
        &mut self,
        token: &Token,
        old: &TaskStep,
        (new_id, new): (&StepId, &TaskStep),
        moved: &mut TokenMove,
    ) -> Result<(), MigrationRefusal> {
        let to = self.to;
        let role = to
            .roles
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
        let dated = new.due_date.as_ref().map(|e| self.run.due_date(e).ok());
        let Some(task) = self.run.state.tasks.iter_mut().find(|t| {
            t.token == token.id && matches!(t.status, TaskStatus::Open | TaskStatus::Claimed)
        }) else {
            return Ok(());
        };
        task.step = new_id.clone();
        let kept = (task.role != old.role)
            .then(|| to.roles.get(&task.role))
            .flatten()
            .unwrap_or(role);
        task.role = kept.key.clone();
        task.department = kept.department.clone();
        moved.task = Some(task.id);
        moved.role = Some(kept.key.clone());
        moved.claimed_by = task.claimed_by.clone();
        if !same_times {
            let counted = new.due.and_then(|d| due_at(to, d, task.created_at).ok());
            let due = counted.map(|d| d.at).or(dated.flatten());
            let before = task.due_at;
            task.provisional = counted.is_some_and(|d| d.provisional);
            task.due_at = due;
            task.warn_at = due
                .zip(new.warn)
                .and_then(|(due, warn)| super::clock::warn_at(to, due, warn, task.created_at));
            if before != due {
                self.plan.deadlines.push(DeadlineChange {
                    deadline: Deadline::Task { task: task.id },
                    before,
                    after: due,
                });
            }
        }
        let id = task.id;
        self.run.effects.push(Effect::UpdateTask { task: id });
        Ok(())
    }

    /// A wait whose time limit differs in the new version: counted again from when the
    /// wait began (the last visit of its step).
    fn move_wait(&mut self, index: usize, token: &Token, new: &WaitStep, new_id: &StepId) {
        let entered = self
            .old
            .trail
            .iter()
            .rev()
            .find(|v| v.step == token.step)
            .map_or(self.run.now, |v| v.at);
        let due = new.due.and_then(|d| due_at(self.to, d, entered).ok());
        let live = &mut self.run.state.tokens[index];
        let before = live.due_at;
        live.due_at = due.map(|d| d.at);
        live.provisional = due.is_some_and(|d| d.provisional);
        if before != live.due_at {
            self.plan.deadlines.push(DeadlineChange {
                deadline: Deadline::Wait {
                    step: new_id.clone(),
                },
                before,
                after: live.due_at,
            });
        }
    }
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
