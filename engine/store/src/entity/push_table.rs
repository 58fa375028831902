//! A row of `push_tables`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "push_tables")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub process_id: String,
    pub document: String,
    pub name: String,
    pub department: String,
    pub day: String,
    pub number: Option<String>,
    pub window_start: DateTimeUtc,
    pub window_end: DateTimeUtc,
    pub rows: Json,
    pub row_count: i32,
    pub html: String,
    pub content_hash: String,
    pub template_hash: String,
    pub issued_at: DateTimeUtc,
    pub run_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
