//! A row of `definition_versions`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "definition_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub process_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i64,
    pub content_hash: String,
    pub name: String,
    pub sources: Json,
    pub loaded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
