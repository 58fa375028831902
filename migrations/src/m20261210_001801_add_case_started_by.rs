//! `cases.started_by`: who started a case (the actor of its first history entry), with an
//! index, so that an intake key's list of the cases it handed in (`GET /api/v1/cases` with
//! an intake key) is an index lookup instead of a scan of the whole history for first
//! entries by that actor. Filled for the cases already stored from their history.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .add_column(string_len_null(Cases::StartedBy, 200))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE cases SET started_by = (SELECT history.actor FROM history \
                 WHERE history.case_id = cases.id AND history.seq = 1) \
                 WHERE started_by IS NULL",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_cases_started_by")
                    .table(Cases::Table)
                    .col(Cases::StartedBy)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_cases_started_by")
                    .table(Cases::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .drop_column(Cases::StartedBy)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Cases {
    Table,
    StartedBy,
}
