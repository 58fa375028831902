//! The pure state machine of a case: `apply(process, case, command, now)` returns the new
//! case state, the events that happened and the effects the caller must carry out. It does
//! no I/O and reads no clock; the store persists a transition in one transaction.
//!
//! Files: `machine` (the commands), `flow` (tokens through automatic steps, splits and
//! joins), `tasks` (task lifecycle), `decision` (decision-form checks), `clock` (warning
//! times and the case's legal/promised clock, stopped at `pauses_clock` waits), `escalate`
//! (what a timer firing does: [`fire`]), `recount` (deadlines counted in provisional working
//! days, counted again when the calendar changed: [`recount`]), `run` (one command's working
//! copy: a clone of the state, so a refused command changes nothing).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::definition::{Duration, EscalateOn, StepId};

mod check;
mod clock;
mod decision;
mod escalate;
mod flow;
mod form;
mod machine;
mod migrate;
pub mod moment;
mod recount;
mod run;
mod supplement;
mod tasks;
#[cfg(test)]
mod tests;

pub use crate::definition::RequiredMaterial;
pub use check::outcome_problems;
pub use escalate::fire;
pub use form::{FieldError, Problem, fields_applying, unknown_materials, validate_form};
pub use machine::{apply, start};
pub use migrate::{
    DeadlineChange, MigrationPlan, MigrationRefusal, TokenMove, check_mapping, plan_migration,
};
pub use recount::recount;

/// Identifier of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CaseId(pub Uuid);

/// Identifier of a task (derived deterministically from the case id and a sequence number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub Uuid);

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Who issues a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// User name, or `system` / `scheduler` for the engine itself.
    pub user: String,
    /// Department key of the user, if any.
    pub department: Option<String>,
    /// The absent person the user stands in for (代办) on this command, if any: the
    /// runtime lets the user work a task that person holds, and the history records both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
}

impl Actor {
    /// The engine itself (automatic steps, timers).
    pub fn system() -> Self {
        Actor {
            user: "system".into(),
            department: None,
            on_behalf_of: None,
        }
    }
}

/// Where a case stands overall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CaseStatus {
    /// Work is in progress.
    Active,
    /// Reached an end step.
    Completed {
        /// The end step's result, e.g. 办结.
        result: String,
        /// The end step.
        step: StepId,
    },
    /// Cancelled (撤件) by a person.
    Cancelled {
        /// Why.
        reason: String,
    },
}

/// Status of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Visible to its role, claimed by nobody.
    Open,
    /// Claimed by one user.
    Claimed,
    /// Done, with an outcome.
    Completed,
    /// Cancelled (case cancelled or terminated).
    Cancelled,
}

/// A step waiting on a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Task id.
    pub id: TaskId,
    /// The step.
    pub step: StepId,
    /// Role the task is assigned to.
    pub role: String,
    /// Department of the role.
    pub department: String,
    /// The token waiting on this task.
    pub token: u32,
    /// Status.
    pub status: TaskStatus,
    /// User who claimed it.
    pub claimed_by: Option<String>,
    /// When it was created.
    #[serde(with = "moment")]
    pub created_at: DateTime<Utc>,
    /// When it is due, if the step has a due time that can be computed.
    #[serde(default, with = "moment::option")]
    pub due_at: Option<DateTime<Utc>>,
    /// When its warning period starts (the step's `warn` before `due_at`), if it has one.
    #[serde(default, with = "moment::option")]
    pub warn_at: Option<DateTime<Utc>>,
    /// Whether `due_at` (and `warn_at`) were counted in working days of a year whose
    /// holiday notice is not published yet (暂定); they are counted again when it is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub provisional: bool,
    /// When it was completed or cancelled.
    #[serde(default, with = "moment::option")]
    pub closed_at: Option<DateTime<Utc>>,
    /// Outcome chosen.
    pub outcome: Option<String>,
    /// User who completed it.
    pub completed_by: Option<String>,
    /// Written reason given with the outcome.
    pub reason: Option<String>,
}

/// A thread of control at a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// Token number, unique in the case.
    pub id: u32,
    /// Step the token is at (a task, a wait step).
    pub step: StepId,
    /// Split frames the token is inside, innermost last.
    pub frames: Vec<u32>,
    /// When the wait it is parked at runs out (a wait step's `due`), if it has one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "moment::option"
    )]
    pub due_at: Option<DateTime<Utc>>,
    /// Whether `due_at` was counted in provisional working days (暂定).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub provisional: bool,
}

/// Bookkeeping of one split's activation, so its join waits only for the branches taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// Frame number, unique in the case.
    pub id: u32,
    /// The split step.
    pub split: StepId,
    /// Its join.
    pub join: StepId,
    /// Branches taken.
    pub expected: u32,
    /// Branches arrived at the join so far.
    pub arrived: u32,
}

/// The whole state of one case: what the runtime reads and returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseState {
    /// The case id.
    pub id: CaseId,
    /// Process id.
    pub process: String,
    /// Process version.
    pub version: u32,
    /// Overall status.
    pub status: CaseStatus,
    /// Application form values.
    pub form: Map<String, Value>,
    /// Case data written by automatic steps and decisions.
    pub data: Map<String, Value>,
    /// Keys of materials received.
    pub materials: Vec<String>,
    /// Live tokens.
    pub tokens: Vec<Token>,
    /// Open split frames.
    pub frames: Vec<Frame>,
    /// Every task of the case, open and closed.
    pub tasks: Vec<Task>,
    /// Steps passed, in order (for the timeline and the process map).
    pub trail: Vec<Visit>,
    /// Next token / frame / task sequence number.
    pub next_seq: u32,
    /// When the case started.
    #[serde(with = "moment")]
    pub started_at: DateTime<Utc>,
    /// When it ended.
    #[serde(default, with = "moment::option")]
    pub ended_at: Option<DateTime<Utc>>,
    /// The case's legal and promised deadlines and whether their clock is stopped.
    /// Defaulted so states saved before time limits existed still read.
    #[serde(default)]
    pub clock: CaseClock,
    /// The material keys the case's first supplement request (补正) listed: the 一次性告知
    /// promise every later request is held to. `None` until the first request; states
    /// saved before the runtime kept it were filled in by a migration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_supplement: Option<Vec<String>>,
    /// The readable number (阳城退休〔2026〕0012) the store drew when the case was created;
    /// `None` for a definition without `case_prefix:` and for cases created before numbers
    /// existed (see `docs/case-numbers.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<crate::case_number::CaseNumber>,
}

/// The case-level clock: its legal (法定) and promised (承诺) deadlines, which move later by
/// the working time the case spends waiting on the applicant or another party.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseClock {
    /// End of the legal time limit, when the definition sets one and it can be computed.
    #[serde(default, with = "moment::option")]
    pub legal_due: Option<DateTime<Utc>>,
    /// End of the promised time limit, likewise.
    #[serde(default, with = "moment::option")]
    pub promised_due: Option<DateTime<Utc>>,
    /// Since when the clock is stopped (a token waits at a `pauses_clock` step).
    #[serde(default, with = "moment::option")]
    pub paused_since: Option<DateTime<Utc>>,
    /// Working days (or, without a calendar, whole days) the clock has been stopped so far.
    pub paused_workdays: i64,
    /// Whether `legal_due` was counted in provisional working days (暂定).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legal_provisional: bool,
    /// Whether `promised_due` was counted in provisional working days (暂定).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub promised_provisional: bool,
}

impl CaseClock {
    /// The deadline of `limit` and whether it is provisional (暂定).
    pub fn due(&self, limit: CaseLimit) -> (Option<DateTime<Utc>>, bool) {
        match limit {
            CaseLimit::Legal => (self.legal_due, self.legal_provisional),
            CaseLimit::Promised => (self.promised_due, self.promised_provisional),
        }
    }
}

/// A deadline of a case, as [`Event::DeadlineRecounted`] names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "of", rename_all = "snake_case")]
pub enum Deadline {
    /// A task's due time (its warning time moves with it).
    Task {
        /// The task.
        task: TaskId,
    },
    /// A wait step's time limit.
    Wait {
        /// The wait step.
        step: StepId,
    },
    /// A case time limit.
    Case {
        /// Which limit.
        limit: CaseLimit,
    },
}

/// Which case time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseLimit {
    /// 法定时限.
    Legal,
    /// 承诺时限.
    Promised,
}

impl CaseLimit {
    /// The key used in timers and events.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseLimit::Legal => "legal",
            CaseLimit::Promised => "promised",
        }
    }

    /// The Chinese name.
    pub fn label(self) -> &'static str {
        match self {
            CaseLimit::Legal => "法定时限",
            CaseLimit::Promised => "承诺时限",
        }
    }
}

/// A moment the engine acts on by itself: a durable timer firing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Firing {
    /// A task entered its warning period or became overdue.
    Task {
        /// The task.
        task: TaskId,
        /// Which moment.
        on: EscalateOn,
    },
    /// A wait step's time ran out (e.g. the applicant did not supply in time).
    Wait {
        /// The waiting token.
        token: u32,
    },
    /// A case time limit ran out.
    Case {
        /// Which limit.
        limit: CaseLimit,
    },
}

/// One passage through a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    /// The step.
    pub step: StepId,
    /// When the token entered it.
    #[serde(with = "moment")]
    pub at: DateTime<Utc>,
}

/// What a person or system asks of a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Take a task.
    Claim {
        /// The task.
        task: TaskId,
    },
    /// Give a claimed task back to its role.
    Unclaim {
        /// The task.
        task: TaskId,
    },
    /// Hand a task to a user (or back to the role when `to` is `None`).
    Reassign {
        /// The task.
        task: TaskId,
        /// New holder.
        to: Option<String>,
        /// Why (a supervisor's 改派 must say), recorded in the history.
        reason: Option<String>,
    },
    /// Finish a task with an outcome.
    Complete {
        /// The task.
        task: TaskId,
        /// Outcome key.
        outcome: String,
        /// Values of the task's decision form.
        data: Map<String, Value>,
        /// Written reason.
        reason: Option<String>,
    },
    /// An external event arrives (e.g. the applicant supplied materials).
    Deliver {
        /// Event name.
        event: String,
        /// Data that comes with it, merged into case data.
        data: Map<String, Value>,
        /// Materials received with it.
        materials: Vec<String>,
    },
    /// Cancel the case (撤件); open tasks are cancelled.
    Cancel {
        /// Why.
        reason: String,
    },
}

/// Something that happened, for the history (past tense).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The case started.
    CaseStarted,
    /// A token entered a step.
    StepEntered {
        /// The step.
        step: StepId,
    },
    /// An automatic step or an outcome wrote case data.
    DataWritten {
        /// The step.
        step: StepId,
        /// Keys and new values.
        values: Map<String, Value>,
    },
    /// A branch of a choice or split was taken.
    BranchTaken {
        /// The split or choice.
        step: StepId,
        /// Target.
        to: StepId,
    },
    /// A task was created.
    TaskCreated {
        /// The task.
        task: TaskId,
        /// Its step.
        step: StepId,
    },
    /// A task's working-day due time could not be computed (no calendar, or a count into a
    /// year without calendar data); the task was created without a due time.
    DeadlineUnknown {
        /// The task.
        task: TaskId,
        /// Its time limit as written.
        due: Duration,
        /// Why, in Chinese.
        reason: String,
    },
    /// A task's `due_date` expression gave no date (it failed, or returned something that
    /// is not `YYYY-MM-DD`); the task was created without a due time.
    DueDateUnknown {
        /// The task.
        task: TaskId,
        /// Why, in Chinese.
        reason: String,
    },
    /// A task was claimed.
    TaskClaimed {
        /// The task.
        task: TaskId,
        /// By whom.
        user: String,
    },
    /// A task was given back.
    TaskUnclaimed {
        /// The task.
        task: TaskId,
    },
    /// A task was reassigned.
    TaskReassigned {
        /// The task.
        task: TaskId,
        /// New holder.
        to: Option<String>,
        /// Why, when the supervisor gave a reason (改派原因).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A task was completed.
    TaskCompleted {
        /// The task.
        task: TaskId,
        /// Outcome.
        outcome: String,
    },
    /// A task was cancelled.
    TaskCancelled {
        /// The task.
        task: TaskId,
    },
    /// An external event was received.
    EventReceived {
        /// Event name.
        event: String,
    },
    /// A join received a branch.
    BranchJoined {
        /// The join.
        join: StepId,
        /// Arrived so far.
        arrived: u32,
        /// Expected.
        expected: u32,
    },
    /// The case ended at an end step.
    CaseCompleted {
        /// Result.
        result: String,
    },
    /// The case was cancelled.
    CaseCancelled {
        /// Why.
        reason: String,
    },
    /// The case clock stopped: a token reached a wait step that pauses it (补正, replies).
    ClockPaused {
        /// The wait step.
        step: StepId,
    },
    /// The case clock runs again; its deadlines moved later by the time it stood.
    ClockResumed {
        /// The wait step that was left.
        step: StepId,
        /// Working days (without a calendar: whole days) the clock stood this time.
        workdays: i64,
        /// The legal deadline now.
        legal_due: Option<DateTime<Utc>>,
        /// The promised deadline now.
        promised_due: Option<DateTime<Utc>>,
    },
    /// A deadline counted in provisional working days (暂定) was counted again because the
    /// calendar changed, typically as the year's holiday notice was added.
    DeadlineRecounted {
        /// Which deadline.
        deadline: Deadline,
        /// It was due then.
        before: Option<DateTime<Utc>>,
        /// It is due now.
        due_at: DateTime<Utc>,
        /// Whether it is still provisional (the count reaches another year without notice).
        provisional: bool,
    },
    /// A task entered its warning period or passed its due time.
    DeadlineReached {
        /// The task.
        task: TaskId,
        /// Which moment.
        on: EscalateOn,
        /// The task's due time.
        due_at: Option<DateTime<Utc>>,
    },
    /// A wait step's time ran out while the case still waited there. Nothing moves: the
    /// people concerned are told and decide.
    WaitOverdue {
        /// The wait step.
        step: StepId,
        /// When it ran out.
        due_at: DateTime<Utc>,
    },
    /// A case time limit ran out while the case was still open.
    CaseLimitReached {
        /// Which limit.
        limit: CaseLimit,
        /// When it ran out.
        due_at: DateTime<Utc>,
    },
    /// The supervisors of a department were sent an in-app notice.
    SupervisorNotified {
        /// The department.
        department: String,
        /// The task concerned, if any.
        task: Option<TaskId>,
        /// The notice text.
        message: String,
    },
    /// An escalation gave a task to another role.
    TaskEscalated {
        /// The task.
        task: TaskId,
        /// The role it went to.
        role: String,
        /// That role's department.
        department: String,
    },
    /// A supplement request asked for materials the case's first request did not list
    /// (二次补正, against the 一次性告知 promise), with the clerk's written reason: the
    /// history keeps it for supervisors.
    SecondSupplementRequested {
        /// Material keys not in the first request.
        items: Vec<String>,
        /// The clerk's written reason.
        reason: String,
    },
    /// The case moved to another version of its definition (`lianban cases migrate`):
    /// where its tokens and tasks went and which deadlines changed.
    CaseMigrated {
        /// The version it ran on.
        from_version: u32,
        /// The version it runs on now.
        to_version: u32,
        /// The step mapping given (old step → new step); steps not named kept their id.
        #[serde(default)]
        mapping: std::collections::BTreeMap<String, String>,
        /// Each live token's move.
        #[serde(default)]
        moves: Vec<TokenMove>,
        /// Deadlines that changed.
        #[serde(default)]
        deadlines: Vec<DeadlineChange>,
    },
    /// A message about the case reached a department's own system (recorded by the outbox
    /// worker; the runtime never emits it).
    PushDelivered {
        /// The receiving department.
        department: String,
        /// The message id (its `Idempotency-Key`).
        message: String,
        /// The HTTP status the department's system answered.
        status: u16,
        /// The receipt id the system answered with, if any.
        receipt: Option<String>,
        /// Delivery attempts it took.
        attempts: u32,
    },
    /// Delivery of a message to a department's system gave up after its last retry (it is
    /// in the dead-letter list, where an admin can requeue it).
    PushFailed {
        /// The receiving department.
        department: String,
        /// The message id.
        message: String,
        /// Delivery attempts made.
        attempts: u32,
        /// The last error.
        error: String,
    },
}

/// Something the caller must do after persisting (imperative).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Effect {
    /// Insert a task row.
    CreateTask {
        /// The task.
        task: TaskId,
    },
    /// Update a task row.
    UpdateTask {
        /// The task.
        task: TaskId,
    },
    /// Store an in-app notice for the supervisors of a department.
    Notify {
        /// The department.
        department: String,
        /// The task concerned, if any.
        task: Option<TaskId>,
        /// `warning`, `overdue`, `wait`, `legal` or `promised`.
        kind: String,
        /// The notice text (no personal data).
        message: String,
    },
    /// Issue a document.
    IssueDocument {
        /// Document key.
        document: String,
        /// The step that issued it.
        step: StepId,
        /// For a supplement request (补正): the keys of the materials it asks for, all that
        /// were missing when it was made. The document records them.
        missing: Option<Vec<String>>,
    },
}

/// The result of applying a command.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// State after the command.
    pub state: CaseState,
    /// What happened, in order.
    pub events: Vec<Event>,
    /// What the caller must do.
    pub effects: Vec<Effect>,
}

/// Why a command was refused. Nothing changes when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// No such task in this case.
    #[error("办件中没有任务 {0}")]
    NoSuchTask(TaskId),
    /// The task is not open or claimed.
    #[error("任务 {task} 已{status}，不能再办理")]
    TaskClosed {
        /// The task.
        task: TaskId,
        /// Its status in words.
        status: &'static str,
    },
    /// Claimed by someone else.
    #[error("任务 {task} 已由 {holder} 认领")]
    ClaimedByOther {
        /// The task.
        task: TaskId,
        /// Who holds it.
        holder: String,
    },
    /// The outcome is not one the step allows.
    #[error("步骤“{step}”没有办理结果 `{outcome}`，可选：{allowed}")]
    UnknownOutcome {
        /// The step.
        step: StepId,
        /// What was asked.
        outcome: String,
        /// The allowed outcome keys, joined.
        allowed: String,
    },
    /// A written reason is required.
    #[error("办理结果“{outcome}”需要填写书面理由")]
    ReasonRequired {
        /// The outcome.
        outcome: String,
    },
    /// A decision form value (or a delivered event's value or material) is missing or
    /// wrong.
    #[error("字段“{field}”：{message}")]
    InvalidField {
        /// Field key.
        field: String,
        /// What kind of problem.
        code: Problem,
        /// What is wrong.
        message: String,
    },
    /// A written reason is too long or holds a control character.
    #[error("{message}")]
    InvalidReason {
        /// What kind of problem (`too-long`, `control-character`).
        code: Problem,
        /// What is wrong.
        message: String,
    },
    /// The application form has problems; nothing was started.
    #[error("申请表有 {} 处需要更正：{}", .0.len(), field_list(.0))]
    InvalidForm(Vec<FieldError>),
    /// Nobody waits for this event.
    #[error("办件当前不在等待事件 `{0}`")]
    NotWaiting(String),
    /// The case has ended.
    #[error("办件已结束（{0}），不能再操作")]
    CaseEnded(String),
    /// A rule failed.
    #[error(transparent)]
    Rule(#[from] crate::rules::RuleError),
    /// The flow ran in a circle without reaching a person or an event.
    #[error("流程在步骤“{0}”处循环超过上限，未到达人工任务或等待事件")]
    Runaway(StepId),
    /// An exclusive choice found no branch whose condition holds and has no `otherwise`.
    #[error("选择步骤“{0}”没有条件成立的分支，也没有设置 otherwise")]
    NoBranch(StepId),
    /// The state or the definition names a step the definition does not have (or a step of
    /// the wrong kind); validation should make this impossible.
    #[error("流程定义中没有（该类型的）步骤 `{0}`")]
    UnknownStep(StepId),
    /// A task step names a role the definition does not have.
    #[error("步骤“{step}”的角色 `{role}` 未定义")]
    UnknownRole {
        /// The step.
        step: StepId,
        /// The role key.
        role: String,
    },
    /// A task's token is missing from the case state (a corrupted state).
    #[error("任务 {0} 的令牌不在办件中，办件状态不一致")]
    LostToken(TaskId),
    /// A supplement request asks for materials the case's first request did not list
    /// (二次补正) and gives no written reason.
    #[error(
        "本次补正要求的材料“{items}”不在首次一次性补正告知书中，属于二次补正：请填写书面理由（将记录在案，供监督检查）"
    )]
    SecondSupplementReasonRequired {
        /// Names of the materials the first request did not list, joined with 、.
        items: String,
    },
    /// Separation of duties (受审分离): the person completed an earlier step of this case
    /// that the task's step names in `not_same_as`, so may neither claim nor complete it.
    #[error(
        "受审分离：{user} 已办理本办件的“{earlier}”，不能再认领或办理“{step}”，请交由其他人员办理"
    )]
    SamePerson {
        /// The user refused.
        user: String,
        /// The task's step, by name.
        step: String,
        /// The earlier step that user completed, by name.
        earlier: String,
    },
    /// The outcome's `check:` found problems (e.g. the acceptance condition does not hold):
    /// nobody may choose it until they are resolved.
    #[error("不能“{outcome}”：{}", .problems.join("；"))]
    OutcomeBlocked {
        /// The outcome, by label.
        outcome: String,
        /// What stops it, in Chinese, as the definition's check gave them.
        problems: Vec<String>,
    },
}

impl RuntimeError {
    /// A stable code for the refusal, beside the Chinese message: what clients and tests
    /// match on, while the wording may change.
    pub fn code(&self) -> &'static str {
        match self {
            RuntimeError::NoSuchTask(_) => "no-such-task",
            RuntimeError::TaskClosed { .. } => "task-closed",
            RuntimeError::ClaimedByOther { .. } => "claimed-by-other",
            RuntimeError::UnknownOutcome { .. } => "unknown-outcome",
            RuntimeError::ReasonRequired { .. } => "reason-required",
            RuntimeError::InvalidField { .. } => "invalid-field",
            RuntimeError::InvalidReason { .. } => "invalid-reason",
            RuntimeError::InvalidForm(_) => "invalid-form",
            RuntimeError::NotWaiting(_) => "not-waiting",
            RuntimeError::CaseEnded(_) => "case-ended",
            RuntimeError::Rule(_) => "rule-failed",
            RuntimeError::Runaway(_) => "runaway",
            RuntimeError::NoBranch(_) => "no-branch",
            RuntimeError::UnknownStep(_) => "unknown-step",
            RuntimeError::UnknownRole { .. } => "unknown-role",
            RuntimeError::LostToken(_) => "lost-token",
            RuntimeError::SecondSupplementReasonRequired { .. } => {
                "second-supplement-reason-required"
            }
            RuntimeError::SamePerson { .. } => "separation-of-duties",
            RuntimeError::OutcomeBlocked { .. } => "outcome-blocked",
        }
    }
}

/// `field：message；field：message` for [`RuntimeError::InvalidForm`].
fn field_list(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}：{}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("；")
}
