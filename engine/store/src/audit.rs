//! The case history as evidence: the one path that appends to it, and the check that it
//! was not changed since.
//!
//! Every entry carries the hash of its fields and of the entry before it
//! ([`lianban_migrations::chain`]), and `history_heads` keeps each case's latest hash and
//! count. Changing an entry breaks its own hash; removing one breaks the next entry's link
//! or, for the last ones, disagrees with the head. Triggers (see the migration) refuse
//! UPDATE and DELETE on `history`, so only someone who drops them can try, and
//! [`Admin::verify_history`] then names the first broken entry of each case.

use chrono::{DateTime, SubsecRound as _, Utc};
use lianban_migrations::chain::{EntryFields, entry_hash};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::SubQueryStatement;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait};
use serde_json::Value;

use super::Admin;
use super::batch::Batch;
use super::conn::Conn;
use super::entity::{case, history, history_head};
use super::{Missing, StoreError};
use lianban_core::runtime::CaseId;

/// A history entry to append; the store numbers and chains it.
#[derive(Debug, Clone)]
pub(super) struct NewEntry {
    pub(super) case_id: CaseId,
    pub(super) at: DateTime<Utc>,
    pub(super) actor: String,
    pub(super) actor_department: Option<String>,
    pub(super) action: String,
    pub(super) from_status: Option<String>,
    pub(super) from_steps: Option<String>,
    pub(super) to_status: String,
    pub(super) to_steps: String,
    pub(super) events: Value,
    pub(super) data_changed: Value,
    /// The absent person a substitute acted for, if any.
    pub(super) on_behalf_of: Option<String>,
}

/// The latest entry of a case's history chain, as read with the case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub(super) seq: i64,
    pub(super) hash: String,
}

impl ChainHead {
    /// The number of the case's latest history entry.
    pub fn seq(&self) -> i64 {
        self.seq
    }
}

impl From<history_head::Model> for ChainHead {
    fn from(row: history_head::Model) -> Self {
        ChainHead {
            seq: row.seq,
            hash: row.hash,
        }
    }
}

/// The case's chain head, read in the write transaction `conn`.
pub(super) async fn read_head(
    conn: Conn<'_>,
    case: CaseId,
) -> Result<Option<ChainHead>, StoreError> {
    let query = history_head::Entity::find_by_id(case.to_string())
        .select_only()
        .columns([history_head::Column::Seq, history_head::Column::Hash])
        .into_query();
    let corrupt = |column| StoreError::Corrupt {
        table: "history_heads",
        id: case.to_string(),
        column,
    };
    conn.row(&query, |row| {
        Ok(ChainHead {
            seq: row.int(0)?.ok_or_else(|| corrupt("seq"))?,
            hash: row.text(1)?.ok_or_else(|| corrupt("hash"))?,
        })
    })
    .await
}

/// Appends an entry to its case's history, numbered and chained after the case's head. This
/// and [`append_after`] are the only code that writes `history`.
///
/// The caller must hold the case row in `txn` (it wrote or no-op-updated it), so no other
/// writer reads the same head.
pub(super) async fn append(conn: Conn<'_>, entry: NewEntry) -> Result<(), StoreError> {
    let case = entry.case_id;
    let head = read_head(conn, case).await?;
    let mut batch = Batch::new(conn.backend());
    append_after(&mut batch, head.as_ref(), entry);
    if !batch.run(conn).await? {
        return Err(StoreError::Conflict { case });
    }
    Ok(())
}

/// Adds to `batch` the statements that append `entry` after `head`, the head the caller
/// read. When the head moved since, the head's UPDATE changes no row (and the entry's
/// number is taken), so the batch fails and nothing is written.
pub(super) fn append_after(batch: &mut Batch, head: Option<&ChainHead>, entry: NewEntry) {
    let case_id = entry.case_id.to_string();
    let seq = head.map_or(0, |h| h.seq) + 1;
    let prev_hash = head.map(|h| h.hash.clone());
    // Stored at the precision both backends keep, so the hash reads back the same.
    let at = entry.at.trunc_subsecs(6);
    let hash = entry_hash(
        &EntryFields {
            case_id: &case_id,
            seq,
            at_micros: at.timestamp_micros(),
            actor: &entry.actor,
            actor_department: entry.actor_department.as_deref(),
            action: &entry.action,
            from_status: entry.from_status.as_deref(),
            from_steps: entry.from_steps.as_deref(),
            to_status: &entry.to_status,
            to_steps: &entry.to_steps,
            events: &entry.events,
            data_changed: &entry.data_changed,
            on_behalf_of: entry.on_behalf_of.as_deref(),
        },
        prev_hash.as_deref(),
    );
    let row = history::ActiveModel {
        id: NotSet,
        case_id: Set(case_id.clone()),
        seq: Set(seq),
        at: Set(at),
        actor: Set(entry.actor),
        actor_department: Set(entry.actor_department),
        action: Set(entry.action),
        from_status: Set(entry.from_status),
        from_steps: Set(entry.from_steps),
        to_status: Set(entry.to_status),
        to_steps: Set(entry.to_steps),
        events: Set(entry.events),
        data_changed: Set(entry.data_changed),
        on_behalf_of: Set(entry.on_behalf_of),
        prev_hash: Set(prev_hash),
        hash: Set(Some(hash.clone())),
    };
    let head_write: SubQueryStatement = match head {
        Some(old) => history_head::Entity::update_many()
            .col_expr(history_head::Column::Seq, seq.into())
            .col_expr(history_head::Column::Hash, hash.into())
            .filter(history_head::Column::CaseId.eq(case_id))
            .filter(history_head::Column::Seq.eq(old.seq))
            .into_query()
            .into(),
        None => history_head::Entity::insert(history_head::ActiveModel {
            case_id: Set(case_id),
            seq: Set(seq),
            hash: Set(hash),
        })
        .into_query()
        .into(),
    };
    // The head first: when it moved, its UPDATE fails the batch before the entry's insert
    // meets the taken number.
    batch.push(head_write, 1);
    batch.push(history::Entity::insert(row).into_query(), 1);
}

/// What [`Admin::verify_history`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// Cases checked.
    pub cases: u64,
    /// Entries checked.
    pub entries: u64,
    /// The first broken link of each case whose chain is broken.
    pub broken: Vec<BrokenLink>,
}

impl AuditReport {
    /// Whether every chain checked is intact.
    pub fn intact(&self) -> bool {
        self.broken.is_empty()
    }
}

/// The first entry of a case's history that does not check out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// The case.
    pub case: String,
    /// The entry's number (1, 2, …).
    pub entry: i64,
    /// What is wrong with it.
    pub problem: Problem,
}

/// How an entry fails the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// Its fields or its link no longer hash to what was recorded.
    Changed,
    /// It was removed.
    Missing,
}

impl std::fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.problem {
            Problem::Changed => "已被修改",
            Problem::Missing => "缺失",
        };
        write!(f, "办件 {}：第 {} 条记录{what}", self.case, self.entry)
    }
}

impl Admin<'_> {
    /// Checks the hash chain of one case's history, or of every case's.
    ///
    /// # Errors
    /// [`StoreError::Database`]; a broken chain is not an error but a [`BrokenLink`].
    pub async fn verify_history(&self, case: Option<CaseId>) -> Result<AuditReport, StoreError> {
        let mut ids = case::Entity::find()
            .select_only()
            .column(case::Column::Id)
            .order_by_asc(case::Column::StartedAt)
            .order_by_asc(case::Column::Id);
        if let Some(case) = case {
            ids = ids.filter(case::Column::Id.eq(case.to_string()));
        }
        let ids: Vec<String> = ids.into_tuple().all(&self.store.db).await?;
        if let Some(case) = case
            && ids.is_empty()
        {
            return Err(StoreError::NotFound(Missing::Case(case)));
        }
        let mut report = AuditReport::default();
        for id in ids {
            let rows = history::Entity::find()
                .filter(history::Column::CaseId.eq(id.clone()))
                .order_by_asc(history::Column::Seq)
                .all(&self.store.db)
                .await?;
            let head = history_head::Entity::find_by_id(id.clone())
                .one(&self.store.db)
                .await?;
            report.cases += 1;
            report.entries += rows.len() as u64;
            if let Some((entry, problem)) = first_break(&rows, head.as_ref()) {
                report.broken.push(BrokenLink {
                    case: id,
                    entry,
                    problem,
                });
            }
        }
        Ok(report)
    }
}

/// The first entry of a chain that does not check out, walking from the first.
fn first_break(
    rows: &[history::Model],
    head: Option<&history_head::Model>,
) -> Option<(i64, Problem)> {
    let mut prev: Option<&str> = None;
    let mut expected = 1;
    for row in rows {
        if row.seq != expected {
            return Some((expected, Problem::Missing));
        }
        let hash = entry_hash(
            &EntryFields {
                case_id: &row.case_id,
                seq: row.seq,
                at_micros: row.at.timestamp_micros(),
                actor: &row.actor,
                actor_department: row.actor_department.as_deref(),
                action: &row.action,
                from_status: row.from_status.as_deref(),
                from_steps: row.from_steps.as_deref(),
                to_status: &row.to_status,
                to_steps: &row.to_steps,
                events: &row.events,
                data_changed: &row.data_changed,
                on_behalf_of: row.on_behalf_of.as_deref(),
            },
            prev,
        );
        if row.prev_hash.as_deref() != prev || row.hash.as_deref() != Some(hash.as_str()) {
            return Some((row.seq, Problem::Changed));
        }
        prev = row.hash.as_deref();
        expected += 1;
    }
    let last = expected - 1;
    match head {
        // Entries after the last one left were removed.
        Some(head) if head.seq > last => Some((last + 1, Problem::Missing)),
        Some(head) if head.seq < last || Some(head.hash.as_str()) != prev => {
            Some((last, Problem::Changed))
        }
        Some(_) => None,
        // A case always has its start entry.
        None if last == 0 => Some((1, Problem::Missing)),
        None => Some((last, Problem::Changed)),
    }
}
