//! Cases and their history: every transition is one transaction that compare-and-sets the
//! case row, upserts the task rows it touched, appends one history row and stores the
//! documents it issued.

use chrono::{DateTime, Utc};
use sea_orm::Iterable;
use std::sync::OnceLock;

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, UpdateStatement};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Statement,
};
use serde_json::Value;
use uuid::Uuid;

use super::audit::ChainHead;
use super::batch::{Batch, json_text};
use super::conn::{Cells, Conn};
use super::entity::{case, history, history_head, task};
use super::records::{case_result, case_status_word, current_steps, data_changes, split_steps};
use super::states::States;
use super::tasks::upsert_tasks;
use super::unit::Unit;
use super::{CaseQuery, CaseRecord, CaseSummary, Change, HistoryEntry, Missing, StoreError, page};
use super::{Cases, Reads};
use lianban_core::runtime::{Actor, CaseId, CaseState, TaskId};

/// What a save of an existing case checks against: the revision the caller read, or the
/// whole record it read and still holds (then neither the state nor the chain head is read
/// again inside the transaction).
#[derive(Debug, Clone, Copy)]
pub enum Basis<'a> {
    /// The case must still be at this revision.
    Revision(i64),
    /// The case must still be as read here.
    Held(&'a CaseRecord),
}

impl Unit<'_> {
    /// Writes the transition that started a case: the case row (revision 1), its tasks and
    /// the first history row. Returns the revision.
    ///
    /// # Errors
    /// [`StoreError::Database`] (e.g. the definition version is not registered, or the id
    /// exists), [`StoreError::MissingTask`], [`StoreError::Serialization`].
    pub async fn insert_case(
        &mut self,
        change: &Change<'_>,
        title: Option<&str>,
    ) -> Result<i64, StoreError> {
        let state = &change.transition.state;
        let row = case::ActiveModel {
            id: Set(state.id.to_string()),
            process_id: Set(state.process.clone()),
            version: Set(i64::from(state.version)),
            content_hash: Set(change.process.content_hash.clone()),
            title: Set(title.map(str::to_owned)),
            revision: Set(1),
            started_at: Set(state.started_at),
            county: Set(Some(
                lianban_core::accounts::county_of(&state.process).to_owned(),
            )),
            number: Set(state.number.clone().map(String::from)),
            started_by: Set(Some(change.actor.user.clone())),
            ..case_columns(state, change)?
        };
        let savepoint = self.take_savepoint();
        let txn = self.txn();
        let backend = txn.backend();
        let mut batch = Batch::new(backend);
        let (mut columns, mut values) = (Vec::new(), Vec::new());
        for column in case::Column::iter() {
            if let Set(value) = row.get(column) {
                columns.push(column);
                values.push(Expr::val(value));
            }
        }
        columns.push(case::Column::State);
        values.push(state_value(txn, state)?);
        // Built in place: `.to_owned()` on the builder would copy the state's text.
        let mut insert = Query::insert();
        insert
            .into_table(case::Entity)
            .columns(columns)
            .values(values)
            .map_err(|e| StoreError::Database(sea_orm::DbErr::Custom(e.to_string())))?;
        batch.push(insert, 1);
        upsert_tasks(&mut batch, None, change)?;
        super::timers::sync_timers(txn, &mut batch, None, state, change.at).await?;
        super::timers::insert_notices(&mut batch, change);
        append_history(&mut batch, None, None, change)?;
        if !batch.run_after(txn, savepoint).await? {
            return Err(StoreError::Conflict { case: state.id });
        }
        Ok(1)
    }

    /// Writes a transition of an existing case if, and only if, the case is still as the
    /// caller read it (compare-and-set on the revision); for a timer's firing, `fired` names
    /// the timer `(id, owner)` claimed, marked fired in the same write so the firing is
    /// saved exactly once. Returns the new revision.
    ///
    /// With a [`Basis::Held`] record everything goes in one batch against the chain head
    /// held. If the head moved since (a recorded view), the batch fails and a unit with
    /// nothing else in it starts over, reading the head under the case's lock; a real
    /// conflict fails there too.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when another command changed the case since it was read,
    /// [`StoreError::NotFound`], [`StoreError::TimerLost`] when the timer is no longer
    /// ours, [`StoreError::MissingTask`], [`StoreError::Database`].
    pub async fn save_transition(
        &mut self,
        basis: Basis<'_>,
        change: &Change<'_>,
        fired: Option<(&str, &str)>,
    ) -> Result<i64, StoreError> {
        match basis {
            Basis::Held(record) if self.is_fresh() => {
                let prepared = prepare(self.txn(), record, change)?;
                self.save_prepared(record, change, fired, prepared).await
            }
            Basis::Held(record) => {
                self.save_once(record.revision, change, fired, Some(&record.state))
                    .await
            }
            Basis::Revision(revision) => self.save_once(revision, change, fired, None).await,
        }
    }

    /// [`Unit::save_transition`] of a [`Basis::Held`] record, with the writes
    /// [`Cases::prepare`] built for it outside the writer. They run as one batch against the
    /// record's chain head; if it moved, or the case did, the unit starts over as
    /// `save_transition` does.
    ///
    /// # Errors
    /// As [`Unit::save_transition`].
    pub async fn save_prepared(
        &mut self,
        record: &CaseRecord,
        change: &Change<'_>,
        fired: Option<(&str, &str)>,
        prepared: Prepared,
    ) -> Result<i64, StoreError> {
        if let Some(batch) = prepared.batch
            && self.is_fresh()
            && prepared.case == change.transition.state.id
        {
            match self
                .run_prepared(record, change, fired, batch, prepared.revision)
                .await
            {
                Ok(saved) => return Ok(saved),
                Err(error) => {
                    tracing::debug!(
                        case = %change.transition.state.id,
                        %error,
                        "saving again with the chain head read under the case's lock"
                    );
                    self.restart().await?;
                }
            }
        }
        self.save_once(record.revision, change, fired, Some(&record.state))
            .await
    }

    /// The prepared batch, with what only the transaction can tell added: the fired timer
    /// marked, the case's timers brought in line with its state.
    async fn run_prepared(
        &mut self,
        record: &CaseRecord,
        change: &Change<'_>,
        fired: Option<(&str, &str)>,
        mut batch: Batch,
        revision: i64,
    ) -> Result<i64, StoreError> {
        // The batch carries a pending savepoint unless a write goes before it.
        let savepoint = match fired {
            None => self.take_savepoint(),
            Some(_) => {
                self.write_txn().await?;
                None
            }
        };
        let txn = self.txn();
        if let Some((timer, owner)) = fired {
            super::timers::mark_fired(txn, timer, owner, change.at).await?;
        }
        let state = &change.transition.state;
        super::timers::sync_timers(txn, &mut batch, Some(&record.state), state, change.at).await?;
        if !batch.run_after(txn, savepoint).await? {
            return Err(StoreError::Conflict { case: state.id });
        }
        Ok(revision)
    }

    /// The save without a chain head held: the case row is compare-and-set first, then the
    /// head is read under its lock and the rest written after it. `held` is the state read
    /// at `expected_revision` when the caller has it; otherwise it is read here.
    async fn save_once(
        &mut self,
        expected_revision: i64,
        change: &Change<'_>,
        fired: Option<(&str, &str)>,
        held: Option<&CaseState>,
    ) -> Result<i64, StoreError> {
        let state = &change.transition.state;
        let id = state.id;
        let txn = self.write_txn().await?;
        let old_state: std::borrow::Cow<'_, CaseState> = match held {
            Some(held) => std::borrow::Cow::Borrowed(held),
            None => {
                let old = read_case(txn, id)
                    .await?
                    .ok_or(StoreError::NotFound(Missing::Case(id)))?;
                if old.revision != expected_revision {
                    return Err(StoreError::Conflict { case: id });
                }
                std::borrow::Cow::Owned(old.state)
            }
        };
        let update = case_update(txn, expected_revision, &old_state, change)?;
        // Written first, so the case row is ours before the head is read.
        if txn.exec(&update).await? == 0 {
            return Err(StoreError::Conflict { case: id });
        }
        let head = super::audit::read_head(txn, id).await?;
        let mut batch = Batch::new(txn.backend());
        follow_up(&mut batch, &old_state, head.as_ref(), change)?;
        if let Some((timer, owner)) = fired {
            super::timers::mark_fired(txn, timer, owner, change.at).await?;
        }
        super::timers::sync_timers(txn, &mut batch, Some(&*old_state), state, change.at).await?;
        if !batch.run(txn).await? {
            return Err(StoreError::Conflict { case: id });
        }
        Ok(expected_revision + 1)
    }
}

/// A transition's writes built before the writer takes the command: the compare-and-set
/// of the case row against the revision read, the task rows, the notices and the history
/// entry after the chain head read ([`Cases::prepare`], [`Unit::save_prepared`]).
///
/// Building them is most of what saving a transition costs (the state's JSON, the
/// entry's hash, the statements' text), and none of it needs the transaction: the writes
/// themselves check that the case and its head are still as read. Built by the command's
/// own task, that work runs beside the writer instead of inside it, which on a machine with
/// few cores is what bounds group commit (`docs/performance.md`, session 14).
///
/// A record without a chain head (a case written before the chain had heads) gets no
/// batch: its save reads the head under the case's lock.
pub struct Prepared {
    case: CaseId,
    revision: i64,
    batch: Option<Batch>,
}

impl Prepared {
    /// Whether the writes were built: the record held its chain head.
    pub fn is_built(&self) -> bool {
        self.batch.is_some()
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("case", &self.case)
            .field("revision", &self.revision)
            .finish_non_exhaustive()
    }
}

impl Cases<'_> {
    /// The writes of `change` against `record` as read, for [`Unit::save_prepared`].
    ///
    /// # Errors
    /// [`StoreError::MissingTask`], [`StoreError::Serialization`].
    pub fn prepare(
        &self,
        record: &CaseRecord,
        change: &Change<'_>,
    ) -> Result<Prepared, StoreError> {
        prepare(self.store.read(), record, change)
    }
}

/// [`Cases::prepare`] for `conn`'s dialect, the decoded states kept where `conn` keeps them.
fn prepare(
    conn: Conn<'_>,
    record: &CaseRecord,
    change: &Change<'_>,
) -> Result<Prepared, StoreError> {
    let batch = match &record.chain_head {
        Some(head) => {
            let mut batch = Batch::new(conn.backend());
            batch.push(
                case_update(conn, record.revision, &record.state, change)?,
                1,
            );
            follow_up(&mut batch, &record.state, Some(head), change)?;
            Some(batch)
        }
        None => None,
    };
    Ok(Prepared {
        case: change.transition.state.id,
        revision: record.revision + 1,
        batch,
    })
}

/// The compare-and-set of the case row from `old` (at `expected_revision`) to the state
/// `change` leaves. The revision check is in the UPDATE itself: on PostgreSQL a read takes
/// no lock, so only the conditional write decides who wins.
fn case_update(
    conn: Conn<'_>,
    expected_revision: i64,
    old: &CaseState,
    change: &Change<'_>,
) -> Result<UpdateStatement, StoreError> {
    let state = &change.transition.state;
    let row = case::ActiveModel {
        revision: Set(expected_revision + 1),
        ..changed_case_columns(old, state, change)?
    };
    Ok(case::Entity::update_many()
        .set(row)
        .col_expr(case::Column::State, state_value(conn, state)?)
        .filter(case::Column::Id.eq(state.id.to_string()))
        .filter(case::Column::Revision.eq(expected_revision))
        .into_query())
}

/// The writes after the case row's: its task rows, the notices it sends, its history entry
/// after `head`.
fn follow_up(
    batch: &mut Batch,
    old: &CaseState,
    head: Option<&ChainHead>,
    change: &Change<'_>,
) -> Result<(), StoreError> {
    upsert_tasks(batch, Some(old), change)?;
    super::timers::insert_notices(batch, change);
    append_history(batch, head, Some(old), change)
}

impl Unit<'_> {
    /// Writes a case's move to another version of its definition (`change.process`): the
    /// transition as [`Unit::save_transition`] writes it (compare-and-set on the revision
    /// `record` was read at, tasks, timers, one history entry), and the case's version and
    /// content hash, all in this unit's transaction. Returns the new revision.
    ///
    /// # Errors
    /// As [`Unit::save_transition`]; [`StoreError::Database`] when the new version is not
    /// registered.
    pub async fn save_migration(
        &mut self,
        record: &CaseRecord,
        change: &Change<'_>,
    ) -> Result<i64, StoreError> {
        let revision = self
            .save_transition(Basis::Held(record), change, None)
            .await?;
        let id = change.transition.state.id;
        let update = case::Entity::update_many()
            .col_expr(
                case::Column::Version,
                sea_orm::sea_query::Expr::value(i64::from(change.process.version)),
            )
            .col_expr(
                case::Column::ContentHash,
                sea_orm::sea_query::Expr::value(change.process.content_hash.clone()),
            )
            .filter(case::Column::Id.eq(id.to_string()))
            .filter(case::Column::Revision.eq(revision))
            .into_query();
        if self.txn().exec(&update).await? == 0 {
            return Err(StoreError::Conflict { case: id });
        }
        Ok(revision)
    }
}

/// Locks the case row with a write that changes nothing (on PostgreSQL no concurrent
/// command can then take the same history number; SQLite's write transaction already
/// serializes) and reads where the case stands: its status and steps, for a history entry
/// that leaves them as they are (a view, a push). `None` when the case does not exist.
pub(super) async fn lock_position(
    conn: Conn<'_>,
    case: CaseId,
) -> Result<Option<(String, String)>, StoreError> {
    // The revision is untouched, so no command's compare-and-set is disturbed.
    let lock = case::Entity::update_many()
        .col_expr(case::Column::Revision, Expr::col(case::Column::Revision))
        .filter(case::Column::Id.eq(case.to_string()))
        .into_query();
    if conn.exec(&lock).await? == 0 {
        return Ok(None);
    }
    let query = case::Entity::find_by_id(case.to_string())
        .select_only()
        .columns([case::Column::Status, case::Column::CurrentSteps])
        .into_query();
    let corrupt = |column| StoreError::Corrupt {
        table: "cases",
        id: case.to_string(),
        column,
    };
    conn.row(&query, |row| {
        Ok((
            row.text(0)?.ok_or_else(|| corrupt("status"))?,
            row.text(1)?.ok_or_else(|| corrupt("current_steps"))?,
        ))
    })
    .await
}

impl Cases<'_> {
    /// The ids of the cases of `process` still open (办理中) on `version`, oldest first: the
    /// cases a move to another version considers.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn open_on(&self, process: &str, version: u32) -> Result<Vec<CaseId>, StoreError> {
        let ids: Vec<String> = case::Entity::find()
            .select_only()
            .column(case::Column::Id)
            .filter(of_process(process))
            .filter(case::Column::Status.eq("active"))
            .filter(case::Column::Version.eq(i64::from(version)))
            .order_by_asc(case::Column::StartedAt)
            .order_by_asc(case::Column::Id)
            .into_tuple()
            .all(&self.store.db)
            .await?;
        ids.iter().map(|id| parse_case_id("cases", id)).collect()
    }

    /// The stored case, with the revision to save against.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Serialization`].
    pub async fn get(&self, id: CaseId) -> Result<Option<CaseRecord>, StoreError> {
        read_case(self.store.read(), id).await
    }

    /// The case a task belongs to, read in one query (the task's row is not needed to run
    /// a command on it: the case state holds the task). `None` when no such task exists.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Serialization`].
    pub async fn of_task(&self, task: TaskId) -> Result<Option<CaseRecord>, StoreError> {
        let conn = self.store.read();
        let task = task.to_string();
        let statement = case_read(conn.backend(), CaseKey::Task, &task);
        conn.row_of(statement, |row| case_from(row, &task, conn.states()))
            .await
    }
}

/// The case list's query, shared with the EXPLAIN review so that it checks this very query.
/// `counties` are those the query covers ([`super::definitions::counties_of`]).
pub(super) fn cases_select(
    query: &CaseQuery,
    counties: &[String],
) -> sea_orm::Select<case::Entity> {
    // Lists read the projected columns only, never the (large) state.
    let mut select = case::Entity::find().select_only().columns([
        case::Column::Id,
        case::Column::ProcessId,
        case::Column::Version,
        case::Column::Status,
        case::Column::Result,
        case::Column::CurrentSteps,
        case::Column::Title,
        case::Column::Number,
        case::Column::StartedAt,
        case::Column::UpdatedAt,
    ]);
    if !query.statuses.is_empty() {
        select = select.filter(case::Column::Status.is_in(query.statuses.clone()));
    }
    if let Some(process) = &query.process {
        select = select.filter(case::Column::ProcessId.eq(process.clone()));
    }
    select = select.filter(case::Column::County.is_in(counties.to_vec()));
    if let Some(department) = &query.department {
        select = select.filter(super::access::takes_part(department));
    }
    if let Some(actor) = &query.started_by {
        select = select.filter(super::access::started_by(actor));
    }
    if let Some(number) = query
        .number
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        select = select.filter(case::Column::Number.eq(search_number(number)));
    }
    if let Some(since) = query.ended_since {
        select = select.filter(case::Column::EndedAt.gte(since));
    }
    if let Some(term) = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        // Indexed columns, see the migrations that added them.
        select = select.filter(search_condition(term));
    }
    let select = select
        .order_by_desc(case::Column::UpdatedAt)
        .order_by_asc(case::Column::Id);
    page(select, query.limit, query.offset)
}

impl Reads<'_> {
    /// Cases matching the query, most recently changed first.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn cases(&self, query: &CaseQuery) -> Result<Vec<CaseSummary>, StoreError> {
        type Row = (
            String,
            String,
            i64,
            String,
            Option<String>,
            String,
            Option<String>,
            Option<String>,
            DateTime<Utc>,
            DateTime<Utc>,
        );
        let counties =
            super::definitions::counties_of(query.county.as_deref(), Conn::Pool(&self.store.db))
                .await?;
        let select = cases_select(query, &counties);
        let rows: Vec<Row> = select.into_tuple().all(&self.store.db).await?;
        rows.into_iter()
            .map(
                |(
                    id,
                    process,
                    version,
                    status,
                    result,
                    steps,
                    title,
                    number,
                    started_at,
                    updated_at,
                )| {
                    Ok(CaseSummary {
                        id: parse_case_id("cases", &id)?,
                        version: u32::try_from(version).map_err(|_| StoreError::Corrupt {
                            table: "cases",
                            id: id.clone(),
                            column: "version",
                        })?,
                        process,
                        status,
                        result,
                        current_steps: split_steps(&steps),
                        title,
                        number,
                        started_at,
                        updated_at,
                    })
                },
            )
            .collect()
    }
}

impl Cases<'_> {
    /// The timeline of a case, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Serialization`].
    pub async fn history(&self, id: CaseId) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = history::Entity::find()
            .filter(history::Column::CaseId.eq(id.to_string()))
            .order_by_asc(history::Column::Seq)
            .all(&self.store.db)
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(HistoryEntry {
                    seq: row.seq,
                    at: row.at,
                    actor: Actor {
                        user: row.actor,
                        department: row.actor_department,
                        on_behalf_of: row.on_behalf_of,
                    },
                    action: row.action,
                    from_status: row.from_status,
                    from_steps: row
                        .from_steps
                        .as_deref()
                        .map(split_steps)
                        .unwrap_or_default(),
                    to_status: row.to_status,
                    to_steps: split_steps(&row.to_steps),
                    events: serde_json::from_value(row.events)?,
                    data_changed: match row.data_changed {
                        Value::Object(map) => map,
                        _ => Default::default(),
                    },
                })
            })
            .collect()
    }
}

/// The cases a search term finds: by applicant name, by ID number (its search key), or by
/// case number, typed loosely (`阳城退休[2026]12`). Every column is indexed.
pub(super) fn search_condition(term: &str) -> sea_orm::Condition {
    sea_orm::Condition::any()
        .add(case::Column::ApplicantName.eq(term))
        .add(case::Column::IdKey.eq(lianban_core::privacy::id_search_key(term)))
        .add(case::Column::Number.eq(search_number(term)))
}

/// A case number as typed, written as stored (`阳城退休[2026]12` → `阳城退休〔2026〕0012`).
fn search_number(term: &str) -> String {
    lianban_core::case_number::CaseNumber::from_search(term)
        .map_or_else(|| term.to_owned(), String::from)
}

/// The columns a [`CaseRecord`] is read from, in the order [`case_from`] reads them: the
/// case row and its chain head, in one query.
///
/// Every command reads a case with it, so it is built in place: each `.to_owned()` on a
/// builder copies the whole statement.
fn case_query(backend: DbBackend) -> sea_orm::sea_query::SelectStatement {
    let c = |column| (case::Entity, column);
    let h = |column| (history_head::Entity, column);
    let state = Expr::col(c(case::Column::State));
    // sqlx hands a `jsonb` cell over as a tree of values, which is then copied into the
    // state; as text it decodes straight into the state ([`Cells::case_state`]).
    let state = match backend {
        DbBackend::Postgres => state.cast_as(Alias::new("text")),
        _ => state,
    };
    let mut query = Query::select();
    query
        .expr(state)
        .columns([
            c(case::Column::Revision),
            c(case::Column::ContentHash),
            c(case::Column::Title),
            c(case::Column::UpdatedAt),
        ])
        .columns([h(history_head::Column::Seq), h(history_head::Column::Hash)])
        .column(c(case::Column::Id))
        .from(case::Entity)
        .left_join(
            history_head::Entity,
            Expr::col(h(history_head::Column::CaseId)).equals(c(case::Column::Id)),
        );
    query
}

/// The case `id` as stored, read on `conn` (the pool or a reader, or inside a write).
async fn read_case(conn: Conn<'_>, id: CaseId) -> Result<Option<CaseRecord>, StoreError> {
    let key = id.to_string();
    let statement = case_read(conn.backend(), CaseKey::Case, &key);
    conn.row_of(statement, |row| case_from(row, &key, conn.states()))
        .await
}

/// What names the one case [`case_read`] reads.
#[derive(Debug, Clone, Copy)]
enum CaseKey {
    /// The case's id.
    Case,
    /// The id of one of its tasks.
    Task,
}

/// [`case_query`] narrowed to the case `key` names, in `backend`'s dialect.
///
/// Its text never changes, so each dialect's is built once: building it anew cost a
/// seventh of a case's read, on every command the workers load and again inside the
/// writer's save (`docs/performance.md`, session 14).
fn case_read(backend: DbBackend, by: CaseKey, key: &str) -> Statement {
    static TEXTS: [OnceLock<String>; 4] = [const { OnceLock::new() }; 4];
    let dialect = match backend {
        DbBackend::Postgres => 0,
        DbBackend::Sqlite => 1,
        // Built every time: the store runs on neither (a sea-orm backend it never opens).
        _ => return case_read_statement(backend, by, key),
    };
    let slot = dialect * 2 + by as usize;
    let sql = TEXTS[slot].get_or_init(|| case_read_statement(backend, by, "").sql);
    Statement::from_sql_and_values(backend, sql.clone(), [key.into()])
}

/// [`case_read`] built: its one parameter is `key`.
fn case_read_statement(backend: DbBackend, by: CaseKey, key: &str) -> Statement {
    let mut query = case_query(backend);
    let id = Expr::col((case::Entity, case::Column::Id));
    match by {
        CaseKey::Case => query.and_where(id.eq(key)),
        CaseKey::Task => {
            let mut of_task = Query::select();
            of_task
                .column(task::Column::CaseId)
                .from(task::Entity)
                .and_where(Expr::col(task::Column::Id).eq(key));
            // `= (SELECT …)`, not `IN (SELECT …)`: a task names one case, and SQLite fills
            // an `IN` list into a temporary table with a Bloom filter beside it, a quarter
            // of what reading the case of a task cost (`docs/performance.md`, session 14).
            query.and_where(id.eq(of_task))
        }
    };
    backend.build(&query)
}

/// A case read with [`case_query`] (`key` names it in an error), its state taken from
/// `states` when they hold it decoded.
fn case_from(
    row: &dyn Cells,
    key: &str,
    states: Option<&States>,
) -> Result<CaseRecord, StoreError> {
    let corrupt = |column| StoreError::Corrupt {
        table: "cases",
        id: key.to_owned(),
        column,
    };
    let chain_head = match (row.int(5)?, row.text(6)?) {
        (Some(seq), Some(hash)) => Some(ChainHead { seq, hash }),
        _ => None,
    };
    let state = match states {
        Some(states) => {
            let id = row.text(7)?.ok_or_else(|| corrupt("id"))?;
            row.case_state_kept(0, &id, states)?
        }
        None => row.case_state(0)?,
    };
    Ok(CaseRecord {
        chain_head,
        state: state.ok_or_else(|| corrupt("state"))?,
        revision: row.int(1)?.ok_or_else(|| corrupt("revision"))?,
        content_hash: row.text(2)?.ok_or_else(|| corrupt("content_hash"))?,
        title: row.text(3)?,
        updated_at: row.time(4)?.ok_or_else(|| corrupt("updated_at"))?,
    })
}

/// The state column's value, the state serialized straight to text ([`json_text`]). A
/// native SQLite writer also keeps the state decoded with that text, for the next read of
/// the case ([`States`]).
fn state_value(txn: Conn<'_>, state: &CaseState) -> Result<Expr, StoreError> {
    let text = serde_json::to_string(state)?;
    if let Some(states) = txn.states() {
        states.remember(&state.id.to_string(), &text, state);
    }
    Ok(json_text(txn.backend(), text))
}

/// The case columns that follow from the state (everything but id, revision and the
/// columns fixed at start).
fn case_columns(state: &CaseState, change: &Change<'_>) -> Result<case::ActiveModel, StoreError> {
    // Re-derived on every change: a supplement may correct the form.
    let (name, id_key) = change.process.search_keys(&state.form);
    Ok(case::ActiveModel {
        applicant_name: Set(name),
        id_key: Set(id_key),
        id: NotSet,
        process_id: NotSet,
        version: NotSet,
        content_hash: NotSet,
        status: Set(case_status_word(&state.status).to_owned()),
        result: Set(case_result(&state.status)),
        current_steps: Set(current_steps(state)),
        title: NotSet,
        // Written by each statement as text (`json_text`), not through a `Value`.
        state: NotSet,
        revision: NotSet,
        started_at: NotSet,
        updated_at: Set(change.at),
        ended_at: Set(state.ended_at),
        county: NotSet,
        number: NotSet,
        started_by: NotSet,
    })
}

/// Whether `change` runs on the definition the `old` state was saved with, so that what the
/// rows took from the definition (search keys, step names) is still as stored.
pub(super) fn same_definition(old: &CaseState, change: &Change<'_>) -> bool {
    old.process == change.process.id && old.version == change.process.version
}

/// As [`case_columns`], leaving out the indexed columns that did not change from `old`: SQLite
/// rewrites an index entry for every column an UPDATE sets, changed or not, and most
/// transitions change neither the status nor the applicant.
fn changed_case_columns(
    old: &CaseState,
    state: &CaseState,
    change: &Change<'_>,
) -> Result<case::ActiveModel, StoreError> {
    let mut row = case_columns(state, change)?;
    if same_definition(old, change) && old.form == state.form {
        row.applicant_name = NotSet;
        row.id_key = NotSet;
    }
    if case_status_word(&old.status) == case_status_word(&state.status) {
        row.status = NotSet;
    }
    if case_result(&old.status) == case_result(&state.status) {
        row.result = NotSet;
    }
    if old.ended_at == state.ended_at {
        row.ended_at = NotSet;
    }
    Ok(row)
}

/// Adds the history entry of a change to `batch`, after `head`. The case row's write comes
/// first in the same transaction, as [`super::audit::append`] requires.
fn append_history(
    batch: &mut Batch,
    head: Option<&ChainHead>,
    old: Option<&CaseState>,
    change: &Change<'_>,
) -> Result<(), StoreError> {
    let new = &change.transition.state;
    let entry = super::audit::NewEntry {
        case_id: new.id,
        at: change.at,
        actor: change.actor.user.clone(),
        actor_department: change.actor.department.clone(),
        action: change.action.to_owned(),
        from_status: old.map(|s| case_status_word(&s.status).to_owned()),
        from_steps: old.map(current_steps),
        to_status: case_status_word(&new.status).to_owned(),
        to_steps: current_steps(new),
        events: serde_json::to_value(&change.transition.events)?,
        data_changed: Value::Object(data_changes(old, new)),
        on_behalf_of: change.actor.on_behalf_of.clone(),
    };
    super::audit::append_after(batch, head, entry);
    Ok(())
}

/// The cases of `process`, named by its county as well: no index leads with the process,
/// and the county-leading ones (`cases (county, status, …)`, `cases (county, updated_at)`)
/// narrow to the process's county first.
pub(super) fn of_process(process: &str) -> Condition {
    Condition::all()
        .add(case::Column::County.eq(lianban_core::accounts::county_of(process)))
        .add(case::Column::ProcessId.eq(process))
}

pub(super) fn parse_case_id(table: &'static str, id: &str) -> Result<CaseId, StoreError> {
    Uuid::parse_str(id)
        .map(CaseId)
        .map_err(|_| StoreError::Corrupt {
            table,
            id: id.to_owned(),
            column: "case_id",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each dialect and key keeps its own text, the same as building it afresh, with the
    /// key as its one value.
    #[test]
    fn a_case_read_is_built_once_per_dialect_and_key() {
        for _ in 0..2 {
            for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
                for by in [CaseKey::Case, CaseKey::Task] {
                    let kept = case_read(backend, by, "k1");
                    let built = case_read_statement(backend, by, "k1");
                    assert_eq!(kept.sql, built.sql);
                    assert_eq!(kept.values, built.values);
                    assert_eq!(kept.db_backend, backend);
                }
            }
        }
        let of_task = case_read(DbBackend::Postgres, CaseKey::Task, "t").sql;
        assert!(
            of_task.contains("= (SELECT \"case_id\" FROM \"tasks\" WHERE \"id\" = $1)"),
            "{of_task}"
        );
        let of_case = case_read(DbBackend::Sqlite, CaseKey::Case, "c").sql;
        assert!(of_case.ends_with("WHERE \"cases\".\"id\" = ?"), "{of_case}");
    }
}
