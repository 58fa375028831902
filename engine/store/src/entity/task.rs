//! A row of `tasks`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub case_id: String,
    pub step: String,
    pub step_name: String,
    pub role: String,
    pub department: String,
    pub status: String,
    pub claimed_by: Option<String>,
    pub created_at: DateTimeUtc,
    pub due_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub outcome: Option<String>,
    pub completed_by: Option<String>,
    pub county: Option<String>,
    pub warn_at: Option<DateTimeUtc>,
    /// The inbox's sort key while the task is open or claimed, NULL once closed.
    pub inbox_order: Option<String>,
    /// The due time was counted in provisional working days (暂定).
    pub due_provisional: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
