//! Push tables (附件4 推送信息表): one per receiving department and day, numbered with the
//! document numbering (gap-free per prefix and year): the service draws the number, renders
//! the table and stores it in one unit, so a number is only used by a table that was stored.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, SelectStatement};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use serde_json::Value;
use uuid::Uuid;

use super::conn::Conn;
use super::entity::{case, push_table, task};
use super::unit::Unit;
use super::{Documents, Tasks};
use super::{StoreError, TaskRecord};

/// A numbered and rendered push table, about to be stored.
#[derive(Debug, Clone)]
pub struct NewPushTable {
    /// Process id.
    pub process_id: String,
    /// Receiving department key.
    pub department: String,
    /// Beijing date the table is for.
    pub day: chrono::NaiveDate,
    /// Tasks created after this instant …
    pub window_start: DateTime<Utc>,
    /// … and at or before this one are the rows.
    pub window_end: DateTime<Utc>,
    /// The rows the template received (`{case_id, form, data}` each).
    pub rows: Vec<Value>,
    /// Document key in the definition.
    pub document: String,
    /// Document name.
    pub name: String,
    /// Printed number, when the document kind is numbered.
    pub number: Option<String>,
    /// The rendered, printable HTML.
    pub html: String,
    /// SHA-256 (hex) of the HTML.
    pub content_hash: String,
    /// SHA-256 (hex) of the template source it was rendered from.
    pub template_hash: String,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// The schedule run that issued it.
    pub run_id: Option<Uuid>,
}

/// A stored push table without its rows and HTML (lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTableSummary {
    /// Id.
    pub id: Uuid,
    /// Process id.
    pub process_id: String,
    /// Document key in the definition.
    pub document: String,
    /// Document name.
    pub name: String,
    /// Receiving department key.
    pub department: String,
    /// Beijing date, `YYYY-MM-DD`.
    pub day: String,
    /// Printed number, when the document kind is numbered.
    pub number: Option<String>,
    /// How many cases it lists.
    pub row_count: i32,
    /// SHA-256 (hex) of the HTML.
    pub content_hash: String,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
}

/// A stored push table in full.
#[derive(Debug, Clone, PartialEq)]
pub struct PushTableRecord {
    /// What lists show.
    pub summary: PushTableSummary,
    /// The tasks created in (start, end] are its rows.
    pub window: (DateTime<Utc>, DateTime<Utc>),
    /// The rows (full ID numbers: the receiving department needs them).
    pub rows: Value,
    /// The rendered, printable HTML.
    pub html: String,
}

impl Unit<'_> {
    /// Stores a push table the service numbered (see [`Unit::next_number`]) and rendered.
    ///
    /// # Errors
    /// [`StoreError::Database`] (including a second table for the same department,
    /// document and day).
    pub async fn insert_push_table(
        &mut self,
        new: &NewPushTable,
    ) -> Result<PushTableSummary, StoreError> {
        let id = Uuid::now_v7();
        let row_count = i32::try_from(new.rows.len()).unwrap_or(i32::MAX);
        let row = push_table::ActiveModel {
            id: Set(id.to_string()),
            process_id: Set(new.process_id.clone()),
            document: Set(new.document.clone()),
            name: Set(new.name.clone()),
            department: Set(new.department.clone()),
            day: Set(new.day.to_string()),
            number: Set(new.number.clone()),
            window_start: Set(new.window_start),
            window_end: Set(new.window_end),
            rows: Set(Value::Array(new.rows.clone())),
            row_count: Set(row_count),
            html: Set(new.html.clone()),
            content_hash: Set(new.content_hash.clone()),
            template_hash: Set(new.template_hash.clone()),
            issued_at: Set(new.issued_at),
            run_id: Set(new.run_id.map(|r| r.to_string())),
        };
        let insert = push_table::Entity::insert(row).into_query();
        self.write_txn().await?.exec(&insert).await?;
        Ok(PushTableSummary {
            id,
            process_id: new.process_id.clone(),
            document: new.document.clone(),
            name: new.name.clone(),
            department: new.department.clone(),
            day: new.day.to_string(),
            number: new.number.clone(),
            row_count,
            content_hash: new.content_hash.clone(),
            issued_at: new.issued_at,
        })
    }
}

impl Tasks<'_> {
    /// The tasks at any of `steps` of cases of `process_id` created in (`after`, `until`],
    /// oldest first.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn created_between(
        &self,
        process_id: &str,
        steps: &[String],
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        if steps.is_empty() {
            return Ok(Vec::new());
        }
        let select = created_between_select(process_id, steps, after, until);
        // A window of a day's tasks, not an index lookup: it stays on the pool.
        Conn::Pool(&self.store.db)
            .rows(&select, super::tasks::task_from)
            .await
    }
}

impl Documents<'_> {
    /// Push tables for any of `departments` (all when empty), newest first.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn push_tables(
        &self,
        departments: &[String],
        limit: u64,
    ) -> Result<Vec<PushTableSummary>, StoreError> {
        type Row = (
            String,
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            i32,
            String,
            DateTime<Utc>,
        );
        use push_table::Column;
        let mut select = push_table::Entity::find().select_only().columns([
            Column::Id,
            Column::ProcessId,
            Column::Document,
            Column::Name,
            Column::Department,
            Column::Day,
            Column::Number,
            Column::RowCount,
            Column::ContentHash,
            Column::IssuedAt,
        ]);
        if !departments.is_empty() {
            select = select.filter(Column::Department.is_in(departments.to_vec()));
        }
        let rows: Vec<Row> = select
            .order_by_desc(Column::IssuedAt)
            .order_by_asc(Column::Department)
            .limit(limit)
            .into_tuple()
            .all(&self.store.db)
            .await?;
        rows.into_iter()
            .map(
                |(id, process_id, document, name, department, day, number, row_count, hash, at)| {
                    Ok(PushTableSummary {
                        id: parse_id(&id)?,
                        process_id,
                        document,
                        name,
                        department,
                        day,
                        number,
                        row_count,
                        content_hash: hash,
                        issued_at: at,
                    })
                },
            )
            .collect()
    }

    /// One push table in full.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn push_table(&self, id: Uuid) -> Result<Option<PushTableRecord>, StoreError> {
        let Some(row) = push_table::Entity::find_by_id(id.to_string())
            .one(&self.store.db)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(PushTableRecord {
            summary: PushTableSummary {
                id: parse_id(&row.id)?,
                process_id: row.process_id,
                document: row.document,
                name: row.name,
                department: row.department,
                day: row.day,
                number: row.number,
                row_count: row.row_count,
                content_hash: row.content_hash,
                issued_at: row.issued_at,
            },
            window: (row.window_start, row.window_end),
            rows: row.rows,
            html: row.html,
        }))
    }
}

fn parse_id(id: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(id).map_err(|_| StoreError::Corrupt {
        table: "push_tables",
        id: id.to_owned(),
        column: "id",
    })
}

/// The push table's query for one day, shared with the EXPLAIN review: the day's tasks of
/// `steps` come from `tasks (step, created_at)`, each joined to its case by primary key to
/// keep the process's (not `case_id IN (SELECT … WHERE process_id = ?)`, which reads every
/// case of the process first).
pub(super) fn created_between_select(
    process_id: &str,
    steps: &[String],
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> SelectStatement {
    task::Entity::find()
        .select_only()
        .columns(super::tasks::task_columns())
        .filter(task::Column::Step.is_in(steps.to_vec()))
        .filter(task::Column::CreatedAt.gt(after))
        .filter(task::Column::CreatedAt.lte(until))
        .filter(case::Column::ProcessId.eq(process_id))
        .order_by_asc(task::Column::CreatedAt)
        .order_by_asc(task::Column::CaseId)
        .order_by_asc(task::Column::Id)
        .into_query()
        .inner_join(
            case::Entity,
            Expr::col((case::Entity, case::Column::Id))
                .equals((task::Entity, task::Column::CaseId)),
        )
        .to_owned()
}
