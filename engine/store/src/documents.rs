//! Issued documents and their numbers. The service draws a document's number in the unit
//! that saves the transition issuing it, renders it, and stores it in the same unit: a
//! refused or failed command returns its number to the sequence, so numbers stay gap-free,
//! and a stored document always belongs to a stored transition.

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QueryTrait};
use serde_json::Value;
use uuid::Uuid;

use super::Documents;
use super::cases::parse_case_id;
use super::conn::Conn;
use super::entity::{case_sequence, document, document_sequence};
use super::unit::Unit;
use super::{DocumentId, DocumentRecord, SecondRequest, StoreError};
use lianban_core::definition::StepId;
use lianban_core::runtime::CaseId;

impl Unit<'_> {
    /// Draws the next number of `prefix` in `year` (gap-free: a unit that is dropped
    /// returns it to the sequence).
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn next_number(&mut self, prefix: &str, year: i32) -> Result<i64, StoreError> {
        next_number::<document_sequence::Entity>(self.write_txn().await?, prefix, year).await
    }

    /// Draws the next case number of `prefix` in `year` (the sequence of 阳城退休〔2026〕0012;
    /// the service writes it). Gap-free like [`Unit::next_number`]: drawn in the unit that
    /// creates the case, so a case that is not stored gives its number back; concurrent
    /// starts queue on the counter row and never share or skip a number.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn next_case_number(&mut self, prefix: &str, year: i32) -> Result<i64, StoreError> {
        next_number::<case_sequence::Entity>(self.write_txn().await?, prefix, year).await
    }

    /// Stores documents the service numbered and rendered in this unit.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn insert_documents(&mut self, records: &[DocumentRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let insert = document::Entity::insert_many(records.iter().map(active)).into_query();
        self.write_txn().await?.exec(&insert).await?;
        Ok(())
    }
}

impl Documents<'_> {
    /// The documents a case issued, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn list(&self, case: CaseId) -> Result<Vec<DocumentRecord>, StoreError> {
        document::Entity::find()
            .filter(document::Column::CaseId.eq(case.to_string()))
            .order_by_asc(document::Column::IssuedAt)
            .order_by_asc(document::Column::Id)
            .all(&self.store.db)
            .await?
            .into_iter()
            .map(record)
            .collect()
    }

    /// One document of a case (`None` when it does not exist or belongs to another case).
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn get(
        &self,
        case: CaseId,
        id: DocumentId,
    ) -> Result<Option<DocumentRecord>, StoreError> {
        document::Entity::find_by_id(id.to_string())
            .filter(document::Column::CaseId.eq(case.to_string()))
            .one(&self.store.db)
            .await?
            .map(record)
            .transpose()
    }

    /// Second supplement requests (二次补正), newest first, of one department or of all:
    /// the list a supervisor reviews against the 一次性告知 promise.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Corrupt`].
    pub async fn second_supplements(
        &self,
        department: Option<&str>,
    ) -> Result<Vec<DocumentRecord>, StoreError> {
        let mut select =
            document::Entity::find().filter(document::Column::SecondReason.is_not_null());
        if let Some(department) = department {
            select = select.filter(document::Column::Department.eq(department));
        }
        select
            .order_by_desc(document::Column::IssuedAt)
            .order_by_asc(document::Column::Id)
            .all(&self.store.db)
            .await?
            .into_iter()
            .map(record)
            .collect()
    }
}

/// Draws the next number of `prefix` in `year`. One statement that inserts the first row or
/// increments the existing one and returns the value: on PostgreSQL the upsert locks the row
/// until the transaction ends, so concurrent issuers queue instead of reading the same
/// `last`; on SQLite the write transaction (BEGIN IMMEDIATE) already serializes them.
async fn next_number<E: Sequence>(
    conn: Conn<'_>,
    prefix: &str,
    year: i32,
) -> Result<i64, StoreError> {
    let (prefix_col, year_col, last_col) = E::columns();
    let mut insert = Query::insert();
    insert
        .into_table(E::default())
        .columns([prefix_col, year_col, last_col])
        .values_panic([prefix.into(), year.into(), 1i64.into()])
        .on_conflict(
            OnConflict::columns([prefix_col, year_col])
                .value(last_col, Expr::col((E::default(), last_col)).add(1))
                .to_owned(),
        )
        .returning_col(last_col);
    let corrupt = || StoreError::Corrupt {
        table: E::TABLE,
        id: format!("{prefix}/{year}"),
        column: "last",
    };
    conn.row(&insert, |row| row.int(0)?.ok_or_else(corrupt))
        .await?
        .ok_or_else(corrupt)
}

/// A counter table: one row per printed prefix and year holding the last number drawn.
trait Sequence: EntityTrait + Default {
    const TABLE: &'static str;
    fn columns() -> (Self::Column, Self::Column, Self::Column);
}

impl Sequence for document_sequence::Entity {
    const TABLE: &'static str = "document_sequences";
    fn columns() -> (Self::Column, Self::Column, Self::Column) {
        use document_sequence::Column;
        (Column::Prefix, Column::Year, Column::Last)
    }
}

impl Sequence for case_sequence::Entity {
    const TABLE: &'static str = "case_sequences";
    fn columns() -> (Self::Column, Self::Column, Self::Column) {
        use case_sequence::Column;
        (Column::Prefix, Column::Year, Column::Last)
    }
}

fn active(record: &DocumentRecord) -> document::ActiveModel {
    let keys = |keys: &Vec<String>| Value::from(keys.clone());
    document::ActiveModel {
        id: Set(record.id.to_string()),
        case_id: Set(record.case_id.to_string()),
        key: Set(record.key.clone()),
        name: Set(record.name.clone()),
        number: Set(record.number.clone()),
        template: Set(record.template.clone()),
        template_hash: Set(record.template_hash.clone()),
        content_hash: Set(record.content_hash.clone()),
        html: Set(record.html.clone()),
        issued_at: Set(record.issued_at),
        issued_by: Set(record.issued_by.clone()),
        step: Set(record.step.to_string()),
        department: Set(record.department.clone()),
        missing: Set(record.missing.as_ref().map(keys)),
        second_items: Set(record.second_request.as_ref().map(|s| keys(&s.items))),
        second_reason: Set(record.second_request.as_ref().map(|s| s.reason.clone())),
    }
}

fn record(row: document::Model) -> Result<DocumentRecord, StoreError> {
    let corrupt = |column| StoreError::Corrupt {
        table: "documents",
        id: row.id.clone(),
        column,
    };
    let keys = |value: Option<Value>, column| -> Result<Option<Vec<String>>, StoreError> {
        value
            .map(|v| serde_json::from_value(v).map_err(|_| corrupt(column)))
            .transpose()
    };
    let id = Uuid::parse_str(&row.id)
        .map(DocumentId)
        .map_err(|_| corrupt("id"))?;
    let missing = keys(row.missing, "missing")?;
    let second_items = keys(row.second_items, "second_items")?;
    let second_request = match (second_items, row.second_reason) {
        (Some(items), Some(reason)) => Some(SecondRequest { items, reason }),
        (None, None) => None,
        _ => return Err(corrupt("second_reason")),
    };
    Ok(DocumentRecord {
        id,
        case_id: parse_case_id("documents", &row.case_id)?,
        key: row.key,
        name: row.name,
        number: row.number,
        template: row.template,
        template_hash: row.template_hash,
        content_hash: row.content_hash,
        html: row.html,
        issued_at: row.issued_at,
        issued_by: row.issued_by,
        step: StepId(row.step),
        department: row.department,
        missing,
        second_request,
    })
}
