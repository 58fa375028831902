//! A row of `history`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "history")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub case_id: String,
    pub seq: i64,
    pub at: DateTimeUtc,
    pub actor: String,
    pub actor_department: Option<String>,
    pub action: String,
    pub from_status: Option<String>,
    pub from_steps: Option<String>,
    pub to_status: String,
    pub to_steps: String,
    pub events: Json,
    pub data_changed: Json,
    pub on_behalf_of: Option<String>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
