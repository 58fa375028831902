//! Task lifecycle: creating a task when a token reaches a task step, claiming, giving back,
//! reassigning, completing and cancelling it. Every change emits its event and an
//! `UpdateTask` (or `CreateTask`) effect so the store can upsert exactly the tasks touched.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Asia::Shanghai;
use uuid::Uuid;

use super::run::Run;
use super::{Actor, Effect, Event, RuntimeError, Task, TaskId, TaskStatus, Token};
use crate::definition::{Duration, Process, Step, StepId, StepKind, TaskStep};

/// The id of a case's `seq`-th task. Derived, not random: replaying the same commands yields
/// the same task ids. Its first 48 bits are the case id's (a version 7 UUID's creation time),
/// the rest a hash of the case and `seq`: a case's tasks then sit beside the newest cases'
/// in every index keyed on the id, so opening a task writes to the index's last pages rather
/// than to a random one among all tasks ever created (`docs/performance.md`, session 11).
fn task_id(case: Uuid, seq: u32) -> TaskId {
    let mut bytes = *Uuid::new_v5(&case, format!("task/{seq}").as_bytes()).as_bytes();
    bytes[..6].copy_from_slice(&case.as_bytes()[..6]);
    TaskId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

impl Run<'_> {
    /// Creates the task a token waits on at a task step and parks the token there.
    ///
    /// # Errors
    /// [`RuntimeError::UnknownRole`] when the step's role is not defined.
    pub(super) fn open_task(
        &mut self,
        step: &Step,
        spec: &TaskStep,
        token: Token,
    ) -> Result<(), RuntimeError> {
        let role = self
            .process
            .roles
            .get(&spec.role)
            .ok_or_else(|| RuntimeError::UnknownRole {
                step: step.id.clone(),
                role: spec.role.clone(),
            })?;
        let seq = self.next_seq();
        let id = task_id(self.state.id.0, seq);
        let due = spec.due.map(|d| (d, due_at(self.process, d, self.now)));
        let dated = spec.due_date.as_ref().map(|e| self.due_date(e));
        let counted = due.as_ref().and_then(|(_, at)| at.as_ref().ok().copied());
        let provisional = counted.is_some_and(|d| d.provisional);
        let due_at = counted
            .map(|d| d.at)
            .or_else(|| dated.as_ref().and_then(|d| d.as_ref().ok().copied()));
        let warn_at = due_at
            .zip(spec.warn)
            .and_then(|(due, warn)| super::clock::warn_at(self.process, due, warn, self.now));
        self.state.tasks.push(Task {
            id,
            step: step.id.clone(),
            role: role.key.clone(),
            department: role.department.clone(),
            token: token.id,
            status: TaskStatus::Open,
            claimed_by: None,
            created_at: self.now,
            due_at,
            warn_at,
            provisional,
            closed_at: None,
            outcome: None,
            completed_by: None,
            reason: None,
        });
        self.state.tokens.push(token);
        self.events.push(Event::TaskCreated {
            task: id,
            step: step.id.clone(),
        });
        if let Some((due, Err(reason))) = due {
            // Recorded, not refused: the case goes on and the history shows the gap.
            tracing::warn!(
                case_id = %self.state.id.0,
                task_id = %id.0,
                process = %self.process.id,
                %due,
                "{reason}"
            );
            self.events.push(Event::DeadlineUnknown {
                task: id,
                due,
                reason,
            });
        }
        if let Some(Err(reason)) = dated {
            tracing::warn!(case_id = %self.state.id.0, task_id = %id.0, process = %self.process.id, "{reason}");
            self.events.push(Event::DueDateUnknown { task: id, reason });
        }
        self.effects.push(Effect::CreateTask { task: id });
        Ok(())
    }

    /// The end (Beijing time) of the day a `due_date` expression computes. `Err` says, in
    /// Chinese, why there is no date: the expression failed or gave no `YYYY-MM-DD`.
    pub(super) fn due_date(&self, expr: &crate::rules::Expr) -> Result<DateTime<Utc>, String> {
        let value = expr
            .eval(&self.facts())
            .map_err(|e| format!("到期日期无法计算：{e}"))?;
        let text = value.as_str().unwrap_or_default();
        let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| format!("到期日期表达式应返回 YYYY-MM-DD 格式的日期，实际为 {value}"))?;
        day.and_time(crate::definition::DAY_ENDS)
            .and_local_timezone(chrono_tz::Asia::Shanghai)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| format!("到期日期 {text} 超出可以计算的范围"))
    }

    /// The task with this id, if it can still be worked (open or claimed).
    ///
    /// # Errors
    /// [`RuntimeError::NoSuchTask`] or [`RuntimeError::TaskClosed`].
    pub(super) fn workable_task(&mut self, id: TaskId) -> Result<&mut Task, RuntimeError> {
        let task = self
            .state
            .tasks
            .iter_mut()
            .find(|t| t.id == id)
            .ok_or(RuntimeError::NoSuchTask(id))?;
        match task.status {
            TaskStatus::Open | TaskStatus::Claimed => Ok(task),
            TaskStatus::Completed => Err(RuntimeError::TaskClosed {
                task: id,
                status: "完成",
            }),
            TaskStatus::Cancelled => Err(RuntimeError::TaskClosed {
                task: id,
                status: "取消",
            }),
        }
    }

    /// Refuses `user` for a task whose step names, in `not_same_as`, an earlier step that
    /// `user` completed in this case (受审分离). Every completion of the named step counts,
    /// including one before a supplement sent the case back to it.
    ///
    /// # Errors
    /// [`RuntimeError::SamePerson`] naming the earlier step.
    pub(super) fn check_separation(&self, id: TaskId, user: &str) -> Result<(), RuntimeError> {
        let Some(task) = self.state.tasks.iter().find(|t| t.id == id) else {
            return Err(RuntimeError::NoSuchTask(id));
        };
        let Some(step) = self.process.step(&task.step) else {
            return Err(RuntimeError::UnknownStep(task.step.clone()));
        };
        let StepKind::Task(spec) = &step.kind else {
            return Err(RuntimeError::UnknownStep(task.step.clone()));
        };
        let done_by_user = |earlier: &&StepId| {
            self.state.tasks.iter().any(|t| {
                t.step == **earlier
                    && t.status == TaskStatus::Completed
                    && t.completed_by.as_deref() == Some(user)
            })
        };
        match spec.not_same_as.iter().find(done_by_user) {
            None => Ok(()),
            Some(earlier) => Err(RuntimeError::SamePerson {
                user: user.to_owned(),
                step: step.name.clone(),
                earlier: self
                    .process
                    .step(earlier)
                    .map_or_else(|| earlier.to_string(), |s| s.name.clone()),
            }),
        }
    }

    /// Claims an open task for the actor; claiming one's own task again changes nothing.
    ///
    /// # Errors
    /// [`RuntimeError::ClaimedByOther`] when someone else holds it;
    /// [`RuntimeError::SamePerson`] when the actor completed a step the task's step must
    /// be kept apart from.
    pub(super) fn claim(&mut self, id: TaskId, actor: &Actor) -> Result<(), RuntimeError> {
        self.workable_task(id)?;
        self.check_separation(id, &actor.user)?;
        let task = self.workable_task(id)?;
        match &task.claimed_by {
            Some(holder) if *holder == actor.user => return Ok(()),
            // The substitute works the absent holder's task; the claim stays theirs, so
            // it is back with them when they return.
            Some(holder) if actor.on_behalf_of.as_ref() == Some(holder) => return Ok(()),
            Some(holder) => {
                return Err(RuntimeError::ClaimedByOther {
                    task: id,
                    holder: holder.clone(),
                });
            }
            None => {}
        }
        task.status = TaskStatus::Claimed;
        task.claimed_by = Some(actor.user.clone());
        self.events.push(Event::TaskClaimed {
            task: id,
            user: actor.user.clone(),
        });
        self.effects.push(Effect::UpdateTask { task: id });
        Ok(())
    }

    /// Gives a claimed task back to its role; only its holder may.
    ///
    /// # Errors
    /// [`RuntimeError::ClaimedByOther`] when someone else holds it.
    pub(super) fn unclaim(&mut self, id: TaskId, actor: &Actor) -> Result<(), RuntimeError> {
        let task = self.workable_task(id)?;
        match &task.claimed_by {
            // Already back with its role: what the actor asked for holds, so nothing to do.
            None => return Ok(()),
            Some(holder)
                if *holder != actor.user && actor.on_behalf_of.as_ref() != Some(holder) =>
            {
                return Err(RuntimeError::ClaimedByOther {
                    task: id,
                    holder: holder.clone(),
                });
            }
            Some(_) => {}
        }
        task.status = TaskStatus::Open;
        task.claimed_by = None;
        self.events.push(Event::TaskUnclaimed { task: id });
        self.effects.push(Effect::UpdateTask { task: id });
        Ok(())
    }

    /// Hands a task to a user, or back to its role when `to` is `None`. Who may reassign is
    /// the web layer's decision (supervisors); the runtime keeps the task consistent and
    /// never hands it to someone separation of duties keeps from it.
    ///
    /// # Errors
    /// [`RuntimeError::NoSuchTask`], [`RuntimeError::TaskClosed`] or
    /// [`RuntimeError::SamePerson`].
    pub(super) fn reassign(
        &mut self,
        id: TaskId,
        to: Option<String>,
        reason: Option<String>,
    ) -> Result<(), RuntimeError> {
        self.workable_task(id)?;
        if let Some(user) = &to {
            self.check_separation(id, user)?;
        }
        let reason = reason.filter(|r| !r.trim().is_empty());
        if let Some((code, message)) = reason.as_deref().and_then(super::form::reason_problem) {
            return Err(RuntimeError::InvalidReason { code, message });
        }
        let task = self.workable_task(id)?;
        if task.claimed_by == to {
            return Ok(());
        }
        task.status = match to {
            Some(_) => TaskStatus::Claimed,
            None => TaskStatus::Open,
        };
        task.claimed_by.clone_from(&to);
        self.events.push(Event::TaskReassigned {
            task: id,
            to,
            reason,
        });
        self.effects.push(Effect::UpdateTask { task: id });
        Ok(())
    }

    /// Marks a workable task completed with an outcome; the caller moves its token on.
    ///
    /// # Errors
    /// [`RuntimeError::NoSuchTask`] or [`RuntimeError::TaskClosed`].
    pub(super) fn close_task(
        &mut self,
        id: TaskId,
        actor: &Actor,
        outcome: &str,
        reason: Option<String>,
    ) -> Result<(), RuntimeError> {
        let now = self.now;
        let task = self.workable_task(id)?;
        task.status = TaskStatus::Completed;
        task.closed_at = Some(now);
        task.outcome = Some(outcome.to_owned());
        task.completed_by = Some(actor.user.clone());
        task.reason = reason;
        self.events.push(Event::TaskCompleted {
            task: id,
            outcome: outcome.to_owned(),
        });
        self.effects.push(Effect::UpdateTask { task: id });
        Ok(())
    }

    /// Cancels every task still open or claimed (case cancelled or terminated).
    pub(super) fn cancel_open_tasks(&mut self) {
        for task in &mut self.state.tasks {
            if matches!(task.status, TaskStatus::Open | TaskStatus::Claimed) {
                task.status = TaskStatus::Cancelled;
                task.closed_at = Some(self.now);
                self.events.push(Event::TaskCancelled { task: task.id });
                self.effects.push(Effect::UpdateTask { task: task.id });
            }
        }
    }

    /// Removes the token a task waited on, so it can move to the outcome's target.
    ///
    /// # Errors
    /// [`RuntimeError::LostToken`] when the state has no such token (a corrupted state).
    pub(super) fn take_token(&mut self, task: &Task) -> Result<Token, RuntimeError> {
        let index = self
            .state
            .tokens
            .iter()
            .position(|t| t.id == task.token)
            .ok_or(RuntimeError::LostToken(task.id))?;
        Ok(self.state.tokens.remove(index))
    }
}

/// A due time, and whether it was counted in working days of a year whose holiday notice is
/// not published yet (暂定).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Due {
    /// When.
    pub(super) at: DateTime<Utc>,
    /// Counted provisionally.
    pub(super) provisional: bool,
}

/// When a task created `now` with `due` is due; for working days, in the process calendar
/// (see [`crate::definition::Calendar::due_at`]), provisionally where the calendar counts a
/// year without notice. `Err` says why a working-day due time is unknown: no calendar, or a
/// count into a year the calendar cannot count. Never a guess.
pub(super) fn due_at(process: &Process, due: Duration, now: DateTime<Utc>) -> Result<Due, String> {
    let out_of_range = || "时限超出可以计算的范围".to_owned();
    let delta = match due {
        Duration::Days(n) => TimeDelta::try_days(i64::from(n)),
        Duration::Hours(n) => TimeDelta::try_hours(i64::from(n)),
        Duration::Workdays(n) => {
            return match (&process.calendar_data, &process.calendar) {
                (Some(calendar), _) => calendar
                    .due_at(now, n)
                    .map(|at| Due {
                        at,
                        provisional: calendar
                            .is_provisional(at.with_timezone(&Shanghai).date_naive()),
                    })
                    .map_err(|e| e.to_string()),
                (None, Some(name)) => Err(format!("工作日历 `{name}` 没有加载，不能计算工作日")),
                (None, None) => Err(format!(
                    "流程 `{}` 没有指定工作日历（`calendar:`），不能计算工作日",
                    process.id
                )),
            };
        }
    };
    delta
        .and_then(|d| now.checked_add_signed(d))
        .map(|at| Due {
            at,
            provisional: false,
        })
        .ok_or_else(out_of_range)
}
