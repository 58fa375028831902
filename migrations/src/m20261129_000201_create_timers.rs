//! Deadlines: `timers` (durable timers — a task's warning and due moments, a case's legal
//! and promised limits — claimed with a lease so each fires exactly once across instances),
//! `notices` (in-app notices for a department's supervisors) and `tasks.warn_at` (when a
//! task's warning period starts, for the inbox).

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
                    .table(Timers::Table)
                    .col(string_len(Timers::Id, 36).primary_key())
                    .col(string_len(Timers::CaseId, 36))
                    // A task id, `wait-<token>` for a wait step's due time, or `case` for
                    // the case's own limits.
                    .col(string_len(Timers::Subject, 36))
                    // 'warning' | 'overdue' | 'wait' | 'legal' | 'promised'
                    .col(string_len(Timers::Kind, 16))
                    .col(timestamp_with_time_zone(Timers::FireAt))
                    .col(string_len_null(Timers::Owner, 64))
                    .col(timestamp_with_time_zone_null(Timers::LeaseUntil))
                    .col(timestamp_with_time_zone_null(Timers::FiredAt))
                    .col(timestamp_with_time_zone(Timers::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_timers_case")
                            .from(Timers::Table, Timers::CaseId)
                            .to(Cases::Table, Cases::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // One timer per moment: a moved deadline is a new row, a fired one is never redone.
        manager
            .create_index(
                Index::create()
                    .name("idx_timers_moment")
                    .table(Timers::Table)
                    .col(Timers::CaseId)
                    .col(Timers::Subject)
                    .col(Timers::Kind)
                    .col(Timers::FireAt)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The worker's question: which unfired timers are due.
        manager
            .create_index(
                Index::create()
                    .name("idx_timers_due")
                    .table(Timers::Table)
                    .col(Timers::FiredAt)
                    .col(Timers::FireAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Notices::Table)
                    .col(string_len(Notices::Id, 36).primary_key())
                    .col(string(Notices::Department))
                    .col(string_len(Notices::CaseId, 36))
                    .col(string_len_null(Notices::TaskId, 36))
                    .col(string_len(Notices::Kind, 16))
                    .col(text(Notices::Message))
                    .col(timestamp_with_time_zone(Notices::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_notices_case")
                            .from(Notices::Table, Notices::CaseId)
                            .to(Cases::Table, Cases::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notices_department")
                    .table(Notices::Table)
                    .col(Notices::Department)
                    .col(Notices::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Tasks::Table)
                    .add_column(timestamp_with_time_zone_null(Tasks::WarnAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tasks::Table)
                    .drop_column(Tasks::WarnAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Notices::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Timers::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Timers {
    Table,
    Id,
    CaseId,
    Subject,
    Kind,
    FireAt,
    Owner,
    LeaseUntil,
    FiredAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Notices {
    Table,
    Id,
    Department,
    CaseId,
    TaskId,
    Kind,
    Message,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Tasks {
    Table,
    WarnAt,
}
