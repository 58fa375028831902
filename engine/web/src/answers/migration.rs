//! The body and answer of `POST /api/v1/admin/cases/migrate`: typed here, so the OpenAPI
//! document describes exactly what the handler reads and sends.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use lianban_core::runtime::{Deadline, MigrationPlan};
use lianban_service::CaseMigration;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of `POST /api/v1/admin/cases/migrate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MigrateBody {
    /// Process id, e.g. `yangcheng.retirement`.
    pub(crate) process: String,
    /// The version the cases run on now.
    pub(crate) from_version: u32,
    /// The version to move them to.
    pub(crate) to_version: u32,
    /// Old step id → new step id, for steps the new version renamed or replaced; a step
    /// not named keeps its id.
    #[serde(default)]
    pub(crate) mapping: BTreeMap<String, String>,
    /// Only these case ids; every open case on `from_version` when empty.
    #[serde(default)]
    pub(crate) cases: Vec<String>,
    /// Plan only, change nothing.
    #[serde(default)]
    pub(crate) dry_run: bool,
}

/// The answer: what became of each case.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Migrated {
    /// Whether this was a dry run (nothing was written).
    dry_run: bool,
    /// Cases moved (or, in a dry run, that would move).
    moved: usize,
    /// Cases refused, left as they were.
    refused: usize,
    /// Cases already on the target version.
    already_moved: usize,
    /// One entry per case, in the order they were handled.
    cases: Vec<CaseMigrated>,
}

/// What became of one case.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CaseMigrated {
    /// The case id.
    case_id: String,
    /// `moved`, `already_moved` or `refused`.
    result: &'static str,
    /// For a refused case: a stable code (`step-removed`, `branch-gone`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    /// For a refused case: why, in Chinese.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// Where each live token and its task went.
    moves: Vec<TokenMoved>,
    /// Deadlines the move changes.
    deadlines: Vec<DeadlineMoved>,
}

/// One token's move.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenMoved {
    /// The step it was at.
    from: String,
    /// The step it is at in the new version.
    to: String,
    /// The open task waiting on it, if any.
    task_id: Option<String>,
    /// The task's role in the new version.
    role: Option<String>,
    /// Who holds the task (it stays claimed).
    claimed_by: Option<String>,
}

/// A deadline that changes.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeadlineMoved {
    /// `task`, `wait` or `case`.
    of: &'static str,
    /// The task id, the wait's step, or `legal` / `promised`.
    subject: String,
    /// Due before.
    before: Option<DateTime<Utc>>,
    /// Due after.
    after: Option<DateTime<Utc>>,
}

impl Migrated {
    /// The answer for the service's outcomes.
    pub(crate) fn new(dry_run: bool, outcomes: &[CaseMigration]) -> Self {
        let count = |f: fn(&CaseMigration) -> bool| outcomes.iter().filter(|o| f(o)).count();
        Migrated {
            dry_run,
            moved: count(|o| matches!(o, CaseMigration::Moved { .. })),
            refused: count(|o| matches!(o, CaseMigration::Refused { .. })),
            already_moved: count(|o| matches!(o, CaseMigration::AlreadyMoved { .. })),
            cases: outcomes.iter().map(CaseMigrated::of).collect(),
        }
    }
}

impl CaseMigrated {
    fn of(outcome: &CaseMigration) -> Self {
        let mut out = CaseMigrated {
            case_id: outcome.case().to_string(),
            result: "moved",
            code: None,
            reason: None,
            moves: Vec::new(),
            deadlines: Vec::new(),
        };
        match outcome {
            CaseMigration::Moved { plan, .. } => out.fill(plan),
            CaseMigration::AlreadyMoved { .. } => out.result = "already_moved",
            CaseMigration::Refused { code, reason, .. } => {
                out.result = "refused";
                out.code = Some(code);
                out.reason = Some(reason.clone());
            }
        }
        out
    }

    fn fill(&mut self, plan: &MigrationPlan) {
        self.moves = plan
            .moves
            .iter()
            .map(|m| TokenMoved {
                from: m.from.to_string(),
                to: m.to.to_string(),
                task_id: m.task.map(|t| t.to_string()),
                role: m.role.clone(),
                claimed_by: m.claimed_by.clone(),
            })
            .collect();
        self.deadlines = plan
            .deadlines
            .iter()
            .map(|d| {
                let (of, subject) = match &d.deadline {
                    Deadline::Task { task } => ("task", task.to_string()),
                    Deadline::Wait { step } => ("wait", step.to_string()),
                    Deadline::Case { limit } => ("case", limit.as_str().to_owned()),
                };
                DeadlineMoved {
                    of,
                    subject,
                    before: d.before,
                    after: d.after,
                }
            })
            .collect();
    }
}
