//! A row of `documents`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "documents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub case_id: String,
    pub key: String,
    pub name: String,
    pub number: Option<String>,
    pub template: String,
    pub template_hash: String,
    pub content_hash: String,
    pub html: String,
    pub issued_at: DateTimeUtc,
    pub issued_by: String,
    pub step: String,
    pub department: Option<String>,
    pub missing: Option<Json>,
    pub second_items: Option<Json>,
    pub second_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
