//! A row of `cases`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "cases")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub process_id: String,
    pub version: i64,
    pub content_hash: String,
    pub status: String,
    pub result: Option<String>,
    pub current_steps: String,
    pub title: Option<String>,
    pub state: Json,
    pub revision: i64,
    pub started_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
    pub applicant_name: Option<String>,
    pub id_key: Option<String>,
    pub county: Option<String>,
    pub number: Option<String>,
    /// Who started it (the actor of its first history entry): an intake key lists its own.
    pub started_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The head of the case's history chain (read with the case to append after it).
    #[sea_orm(has_one = "super::history_head::Entity")]
    HistoryHead,
}

impl Related<super::history_head::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::HistoryHead.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
