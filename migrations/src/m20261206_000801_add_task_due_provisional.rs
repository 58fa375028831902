//! `tasks.due_provisional`: whether a task's due time was counted in working days of a year
//! whose State Council holiday notice is not published yet (暂定), so the inbox and other
//! task lists can say so without reading each case's state. The engine writes it with the
//! task row; rows written before it existed were counted in published years only (the
//! engine refused to count further), so `false` is their true value.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tasks::Table)
                    .add_column(boolean(Tasks::DueProvisional).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tasks::Table)
                    .drop_column(Tasks::DueProvisional)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Tasks {
    Table,
    DueProvisional,
}
