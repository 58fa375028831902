//! Durable timers and supervisor notices. A case's timers follow its state: every transition
//! reconciles them in its own transaction (open tasks have a warning and a due timer, an
//! active case whose clock runs has its legal and promised ones; anything else unfired is
//! removed). The worker claims a due timer with a compare-and-set lease and marks it fired
//! in the transaction that saves what the firing changed, so each fires exactly once.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use uuid::Uuid;

use super::Jobs;
use super::batch::Batch;
use super::cases::parse_case_id;
use super::conn::Conn;
use super::entity::{case, notice, timer};
use super::{Change, StoreError, page};
use lianban_core::definition::EscalateOn;
use lianban_core::runtime::{
    CaseId, CaseLimit, CaseState, CaseStatus, Effect, Firing, TaskId, TaskStatus,
};

/// A timer that is due, as the worker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerRecord {
    /// Row id.
    pub id: String,
    /// The case.
    pub case_id: CaseId,
    /// What fires.
    pub firing: Firing,
    /// When it is due.
    pub fire_at: DateTime<Utc>,
}

/// An in-app notice for the supervisors of a department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeRecord {
    /// The department.
    pub department: String,
    /// The county of the case's process: with `department`, what names the department.
    pub county: String,
    /// The case.
    pub case_id: CaseId,
    /// The task, if the notice is about one.
    pub task_id: Option<TaskId>,
    /// `warning`, `overdue`, `wait`, `legal` or `promised`.
    pub kind: String,
    /// The text.
    pub message: String,
    /// When it was left.
    pub created_at: DateTime<Utc>,
}

/// Why marking a claimed timer fired failed: another worker took it over after our lease
/// ran out, or the case's state removed it. The transaction is rolled back.
#[derive(Debug, thiserror::Error)]
#[error("定时器 {0} 已不归本实例处理")]
pub struct TimerLost(pub String);

/// The subject of the case's own timers.
const CASE: &str = "case";

/// (subject, kind, fire_at) of every timer the state calls for.
fn wanted(state: &CaseState) -> Vec<(String, &'static str, DateTime<Utc>)> {
    let mut out = Vec::new();
    if state.status != CaseStatus::Active {
        return out;
    }
    for task in &state.tasks {
        if !matches!(task.status, TaskStatus::Open | TaskStatus::Claimed) {
            continue;
        }
        for (kind, at) in [("warning", task.warn_at), ("overdue", task.due_at)] {
            if let Some(at) = at {
                // Whole seconds: PostgreSQL keeps microseconds, and the moment must compare
                // equal after a round trip or a fired timer would be made again.
                out.push((task.id.to_string(), kind, at.trunc_subsecs(0)));
            }
        }
    }
    for token in &state.tokens {
        if let Some(at) = token.due_at {
            out.push((format!("wait-{}", token.id), "wait", at.trunc_subsecs(0)));
        }
    }
    if state.clock.paused_since.is_none() {
        for (kind, at) in [
            (CaseLimit::Legal.as_str(), state.clock.legal_due),
            (CaseLimit::Promised.as_str(), state.clock.promised_due),
        ] {
            if let Some(at) = at {
                out.push((CASE.to_owned(), kind, at.trunc_subsecs(0)));
            }
        }
    }
    out
}

/// Makes the case's timers match its state, in the transaction of the change: unfired
/// timers no longer called for are removed (a task closed, a deadline moved, the clock
/// stopped), missing ones are added. Fired timers are kept, so a moment fires only once.
/// The existing timers are read in `txn`; the writes go into `batch`.
///
/// `before` is the state the case's timers were last made to match (the stored state the
/// change started from, `None` for a new case). When it calls for the very same timers,
/// nothing is read or written: most transitions (a claim, a completion inside a parallel
/// branch) move no deadline.
pub(super) async fn sync_timers(
    conn: Conn<'_>,
    batch: &mut Batch,
    before: Option<&CaseState>,
    state: &CaseState,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let wanted = wanted(state);
    let unchanged = match before {
        Some(before) => self::wanted(before) == wanted,
        None => wanted.is_empty(),
    };
    if unchanged {
        return Ok(());
    }
    let case_id = state.id.to_string();
    let query = timer::Entity::find()
        .select_only()
        .columns([
            timer::Column::Id,
            timer::Column::Subject,
            timer::Column::Kind,
            timer::Column::FireAt,
            timer::Column::FiredAt,
        ])
        .filter(timer::Column::CaseId.eq(case_id.clone()))
        .into_query();
    let corrupt = |column| StoreError::Corrupt {
        table: "timers",
        id: case_id.clone(),
        column,
    };
    let existing = conn
        .rows(&query, |row| {
            Ok(Existing {
                id: row.text(0)?.ok_or_else(|| corrupt("id"))?,
                subject: row.text(1)?.ok_or_else(|| corrupt("subject"))?,
                kind: row.text(2)?.ok_or_else(|| corrupt("kind"))?,
                fire_at: row.time(3)?.ok_or_else(|| corrupt("fire_at"))?,
                fired_at: row.time(4)?,
            })
        })
        .await?;
    let same = |row: &Existing, (subject, kind, fire_at): &(String, &str, DateTime<Utc>)| {
        row.subject == *subject && row.kind == *kind && row.fire_at.trunc_subsecs(0) == *fire_at
    };
    let stale: Vec<String> = existing
        .iter()
        .filter(|row| row.fired_at.is_none() && !wanted.iter().any(|w| same(row, w)))
        .map(|row| row.id.clone())
        .collect();
    if !stale.is_empty() {
        let rows = stale.len() as u64;
        let delete = timer::Entity::delete_many()
            .filter(timer::Column::Id.is_in(stale))
            .into_query();
        batch.push(delete, rows);
    }
    for w in &wanted {
        if existing.iter().any(|row| same(row, w)) {
            continue;
        }
        let (subject, kind, fire_at) = w;
        let row = timer::ActiveModel {
            id: Set(Uuid::now_v7().to_string()),
            case_id: Set(case_id.clone()),
            subject: Set(subject.clone()),
            kind: Set((*kind).to_owned()),
            fire_at: Set(*fire_at),
            owner: Set(None),
            lease_until: Set(None),
            fired_at: Set(None),
            created_at: Set(at),
        };
        batch.push(timer::Entity::insert(row).into_query(), 1);
    }
    Ok(())
}

/// What a write reads of a case's timers to reconcile them.
struct Existing {
    id: String,
    subject: String,
    kind: String,
    fire_at: DateTime<Utc>,
    fired_at: Option<DateTime<Utc>>,
}

/// Adds the notices a change's effects ask for to `batch`.
pub(super) fn insert_notices(batch: &mut Batch, change: &Change<'_>) {
    let case_id = change.transition.state.id.to_string();
    for effect in &change.transition.effects {
        let Effect::Notify {
            department,
            task,
            kind,
            message,
        } = effect
        else {
            continue;
        };
        let row = notice::ActiveModel {
            id: Set(Uuid::now_v7().to_string()),
            department: Set(department.clone()),
            case_id: Set(case_id.clone()),
            task_id: Set(task.map(|t| t.to_string())),
            kind: Set(kind.clone()),
            message: Set(message.clone()),
            created_at: Set(change.at),
        };
        batch.push(notice::Entity::insert(row).into_query(), 1);
    }
}

/// Marks a timer this owner claimed as fired, in the caller's transaction.
///
/// # Errors
/// [`StoreError::TimerLost`] when the timer is gone, fired, or claimed by someone else.
pub(super) async fn mark_fired(
    conn: Conn<'_>,
    id: &str,
    owner: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let update = timer::Entity::update_many()
        .col_expr(timer::Column::FiredAt, Expr::value(now))
        .filter(timer::Column::Id.eq(id))
        .filter(timer::Column::Owner.eq(owner))
        .filter(timer::Column::FiredAt.is_null())
        .into_query();
    if conn.exec(&update).await? == 0 {
        return Err(StoreError::TimerLost(TimerLost(id.to_owned())));
    }
    Ok(())
}

impl Jobs<'_> {
    /// Unfired timers due at `now` that nobody holds a live lease on, soonest first.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn due_timers(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<TimerRecord>, StoreError> {
        let rows = due_timers_select(now, limit).all(&self.store.db).await?;
        rows.into_iter().map(timer_record).collect()
    }

    /// Every timer of a case, fired or not, oldest moment first: (kind, fire_at, fired_at).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn case_timers(
        &self,
        case: CaseId,
    ) -> Result<Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)>, StoreError> {
        Ok(timer::Entity::find()
            .select_only()
            .column(timer::Column::Kind)
            .column(timer::Column::FireAt)
            .column(timer::Column::FiredAt)
            .filter(timer::Column::CaseId.eq(case.to_string()))
            .order_by_asc(timer::Column::FireAt)
            .order_by_asc(timer::Column::Kind)
            .into_tuple()
            .all(&self.store.db)
            .await?)
    }

    /// Claims a due timer for `owner` until `lease_until`, by compare-and-set: only an
    /// unfired timer whose lease is absent or ran out can be taken. Returns whether this
    /// owner got it.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn claim_timer(
        &self,
        id: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let updated = timer::Entity::update_many()
            .col_expr(timer::Column::Owner, Expr::value(owner))
            .col_expr(timer::Column::LeaseUntil, Expr::value(lease_until))
            .filter(timer::Column::Id.eq(id))
            .filter(timer::Column::FiredAt.is_null())
            .filter(free(now))
            .exec(&self.store.db)
            .await?;
        Ok(updated.rows_affected == 1)
    }

    /// Marks a claimed timer fired when its firing changed nothing (the task was closed
    /// meanwhile, the case ended). Returns whether it was still ours.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn finish_timer(
        &self,
        id: &str,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let txn = self.store.begin_write().await?;
        match mark_fired((&*txn).into(), id, owner, now).await {
            Ok(()) => {
                txn.commit().await?;
                Ok(true)
            }
            Err(StoreError::TimerLost(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Notices for the supervisors of these departments (all when empty), of cases of
    /// `county` when given (department keys are unique only within a county), newest first.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn notices(
        &self,
        departments: &[String],
        county: Option<&str>,
        limit: u64,
    ) -> Result<Vec<NoticeRecord>, StoreError> {
        let mut select = notice::Entity::find();
        if !departments.is_empty() {
            select = select.filter(notice::Column::Department.is_in(departments.to_vec()));
        }
        if let Some(county) = county {
            let cases = sea_orm::sea_query::Query::select()
                .column(case::Column::Id)
                .from(case::Entity)
                .and_where(case::Column::County.eq(county))
                .to_owned();
            select = select.filter(notice::Column::CaseId.in_subquery(cases));
        }
        let rows = page(
            select
                .order_by_desc(notice::Column::CreatedAt)
                .order_by_desc(notice::Column::Id),
            Some(limit),
            0,
        )
        .all(&self.store.db)
        .await?;
        let mut ids: Vec<&str> = rows.iter().map(|r| r.case_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let counties: std::collections::HashMap<String, String> = case::Entity::find()
            .select_only()
            .column(case::Column::Id)
            .column(case::Column::County)
            .filter(case::Column::Id.is_in(ids))
            .into_tuple::<(String, String)>()
            .all(&self.store.db)
            .await?
            .into_iter()
            .collect();
        rows.into_iter()
            .map(|row| {
                let task_id =
                    match &row.task_id {
                        Some(t) => Some(Uuid::parse_str(t).map(TaskId).map_err(|_| {
                            StoreError::Corrupt {
                                table: "notices",
                                id: row.id.clone(),
                                column: "task_id",
                            }
                        })?),
                        None => None,
                    };
                Ok(NoticeRecord {
                    county: counties.get(&row.case_id).cloned().unwrap_or_default(),
                    department: row.department,
                    case_id: parse_case_id("notices", &row.case_id)?,
                    task_id,
                    kind: row.kind,
                    message: row.message,
                    created_at: row.created_at,
                })
            })
            .collect()
    }
}

/// No live lease: never claimed, or the claim ran out (its holder died or stalled).
/// The timer worker's scan, shared with the EXPLAIN review so that it checks this very query.
pub(super) fn due_timers_select(now: DateTime<Utc>, limit: u64) -> sea_orm::Select<timer::Entity> {
    let rows = timer::Entity::find()
        .filter(timer::Column::FiredAt.is_null())
        .filter(timer::Column::FireAt.lte(now))
        .filter(free(now))
        .order_by_asc(timer::Column::FireAt)
        .order_by_asc(timer::Column::Id);
    page(rows, Some(limit), 0)
}

fn free(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(timer::Column::LeaseUntil.is_null())
        .add(timer::Column::LeaseUntil.lt(now))
}

fn timer_record(row: timer::Model) -> Result<TimerRecord, StoreError> {
    let corrupt = |column| StoreError::Corrupt {
        table: "timers",
        id: row.id.clone(),
        column,
    };
    let firing = match row.kind.as_str() {
        "legal" => Firing::Case {
            limit: CaseLimit::Legal,
        },
        "promised" => Firing::Case {
            limit: CaseLimit::Promised,
        },
        "wait" => {
            let token = row
                .subject
                .strip_prefix("wait-")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| corrupt("subject"))?;
            Firing::Wait { token }
        }
        kind => {
            let on = match kind {
                "warning" => EscalateOn::Warning,
                "overdue" => EscalateOn::Overdue,
                _ => return Err(corrupt("kind")),
            };
            let task = Uuid::parse_str(&row.subject)
                .map(TaskId)
                .map_err(|_| corrupt("subject"))?;
            Firing::Task { task, on }
        }
    };
    Ok(TimerRecord {
        case_id: parse_case_id("timers", &row.case_id)?,
        id: row.id,
        firing,
        fire_at: row.fire_at,
    })
}
