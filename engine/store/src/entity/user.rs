//! A row of `users`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub department: String,
    pub roles: String,
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: DateTimeUtc,
    pub failed_logins: i32,
    pub locked_until: Option<DateTimeUtc>,
    pub county: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
