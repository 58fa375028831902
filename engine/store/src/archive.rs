//! What the archive keeps of a closed case: its rows as JSON (case, history with hashes,
//! tasks, document metadata) and the documents' HTML exactly as issued.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};

use super::Admin;
use super::StoreError;
use super::entity::{case, document, history, history_head, task};
use lianban_core::runtime::CaseId;

/// A closed case, ready to be written to the archive.
#[derive(Debug, Clone)]
pub struct CaseArchive {
    /// The case id.
    pub case_id: String,
    /// `{case, history, history_head, tasks, documents}`: every stored row of the case, the
    /// documents without their HTML (see `html`).
    pub record: Value,
    /// Each document's id, key and HTML as issued.
    pub html: Vec<ArchivedDocument>,
}

/// One issued document's HTML.
#[derive(Debug, Clone)]
pub struct ArchivedDocument {
    /// Document id.
    pub id: String,
    /// Document key in the definition.
    pub key: String,
    /// The HTML exactly as stored.
    pub html: String,
}

/// The outcome of [`Admin::archive`].
#[derive(Debug, Clone)]
pub enum Archived {
    /// No such case.
    NotFound,
    /// The case is still open (`active`): it cannot be archived yet.
    Open,
    /// The case, ready to write.
    Ready(Box<CaseArchive>),
}

impl Admin<'_> {
    /// Everything the archive keeps of a closed (completed or cancelled) case.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn archive(&self, id: CaseId) -> Result<Archived, StoreError> {
        let key = id.to_string();
        let Some(row) = case::Entity::find_by_id(key.clone())
            .one(&self.store.db)
            .await?
        else {
            return Ok(Archived::NotFound);
        };
        if row.status == "active" {
            return Ok(Archived::Open);
        }
        let case = case::Entity::find_by_id(key.clone())
            .into_json()
            .one(&self.store.db)
            .await?
            .unwrap_or(Value::Null);
        let history = history::Entity::find()
            .filter(history::Column::CaseId.eq(key.clone()))
            .order_by_asc(history::Column::Seq)
            .into_json()
            .all(&self.store.db)
            .await?;
        let head = history_head::Entity::find_by_id(key.clone())
            .into_json()
            .one(&self.store.db)
            .await?
            .unwrap_or(Value::Null);
        let tasks = task::Entity::find()
            .filter(task::Column::CaseId.eq(key.clone()))
            .order_by_asc(task::Column::CreatedAt)
            .order_by_asc(task::Column::Id)
            .into_json()
            .all(&self.store.db)
            .await?;
        let documents = document::Entity::find()
            .filter(document::Column::CaseId.eq(key.clone()))
            .order_by_asc(document::Column::IssuedAt)
            .order_by_asc(document::Column::Id)
            .all(&self.store.db)
            .await?;
        let metadata = document::Entity::find()
            .filter(document::Column::CaseId.eq(key.clone()))
            .order_by_asc(document::Column::IssuedAt)
            .order_by_asc(document::Column::Id)
            .into_json()
            .all(&self.store.db)
            .await?
            .into_iter()
            .map(|mut doc| {
                // The HTML goes in its own file, next to the JSON.
                if let Value::Object(map) = &mut doc {
                    map.shift_remove("html");
                }
                doc
            })
            .collect::<Vec<_>>();
        let html = documents
            .into_iter()
            .map(|d| ArchivedDocument {
                id: d.id,
                key: d.key,
                html: d.html,
            })
            .collect();
        Ok(Archived::Ready(Box::new(CaseArchive {
            case_id: key,
            record: json!({
                "case": case,
                "history": history,
                "history_head": head,
                "tasks": tasks,
                "documents": metadata,
            }),
            html,
        })))
    }

    /// Closed cases that ended before `before`, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn closed_before(&self, before: DateTime<Utc>) -> Result<Vec<CaseId>, StoreError> {
        let ids: Vec<String> = case::Entity::find()
            .select_only()
            .column(case::Column::Id)
            .filter(case::Column::Status.is_in(["completed", "cancelled"]))
            .filter(case::Column::EndedAt.lt(before))
            .order_by_asc(case::Column::EndedAt)
            .order_by_asc(case::Column::Id)
            .into_tuple()
            .all(&self.store.db)
            .await?;
        ids.iter()
            .map(|id| super::cases::parse_case_id("cases", id))
            .collect()
    }
}
