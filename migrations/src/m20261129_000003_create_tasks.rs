//! `tasks`: the inbox. Each row projects one task of a case's state so that a clerk's list
//! is an indexed query, not a scan of every case.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000002_create_cases::Cases;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tasks::Table)
                    .col(string_len(Tasks::Id, 36).primary_key())
                    .col(string_len(Tasks::CaseId, 36))
                    .col(string(Tasks::Step))
                    .col(text(Tasks::StepName))
                    .col(string(Tasks::Role))
                    .col(string(Tasks::Department))
                    // 'open' | 'claimed' | 'completed' | 'cancelled'
                    .col(string_len(Tasks::Status, 16))
                    .col(string_null(Tasks::ClaimedBy))
                    .col(timestamp_with_time_zone(Tasks::CreatedAt))
                    .col(timestamp_with_time_zone_null(Tasks::DueAt))
                    .col(timestamp_with_time_zone_null(Tasks::ClosedAt))
                    .col(string_null(Tasks::Outcome))
                    .col(string_null(Tasks::CompletedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_tasks_case")
                            .from(Tasks::Table, Tasks::CaseId)
                            .to(Cases::Table, Cases::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // A department's inbox, most urgent first.
        index(
            manager,
            "idx_tasks_department_status_due",
            &[Tasks::Department, Tasks::Status, Tasks::DueAt],
        )
        .await?;
        // A role's inbox.
        index(
            manager,
            "idx_tasks_role_status",
            &[Tasks::Role, Tasks::Status],
        )
        .await?;
        // A case's tasks, and the foreign key.
        index(manager, "idx_tasks_case", &[Tasks::CaseId]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Tasks::Table).to_owned())
            .await
    }
}

async fn index(manager: &SchemaManager<'_>, name: &str, cols: &[Tasks]) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(Tasks::Table);
    for col in cols {
        index.col(*col);
    }
    manager.create_index(index.to_owned()).await
}

#[derive(DeriveIden, Clone, Copy)]
pub(crate) enum Tasks {
    Table,
    Id,
    CaseId,
    Step,
    StepName,
    Role,
    Department,
    Status,
    ClaimedBy,
    CreatedAt,
    DueAt,
    ClosedAt,
    Outcome,
    CompletedBy,
}
