//! `schedule_runs`, `push_tables` and `outbox`: what time and the department systems need.
//!
//! - `schedule_runs`: one row per firing of a definition's cron schedule. The UNIQUE
//!   (process, schedule, fire time) key is how a firing runs once across replicas: the
//!   replica whose INSERT succeeds runs it, the others see the conflict and move on.
//! - `push_tables`: the 推送信息表 (附件4) issued per receiving department and day, with the
//!   rows it lists (full ID numbers: that is the table's purpose) and the rendered HTML.
//! - `outbox`: signed JSON messages to department systems, inserted in the transaction
//!   that created the department's task and delivered later by a worker with a lease.

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
                    .table(ScheduleRuns::Table)
                    .col(string_len(ScheduleRuns::Id, 36).primary_key())
                    .col(string(ScheduleRuns::ProcessId))
                    .col(string(ScheduleRuns::ScheduleId))
                    .col(timestamp_with_time_zone(ScheduleRuns::FireTime))
                    // 'running' | 'finished' | 'failed' | 'skipped'
                    .col(string_len(ScheduleRuns::Status, 16))
                    // Whether this run made up for a firing missed during downtime.
                    .col(boolean(ScheduleRuns::CatchUp))
                    .col(timestamp_with_time_zone(ScheduleRuns::StartedAt))
                    .col(timestamp_with_time_zone_null(ScheduleRuns::FinishedAt))
                    .col(text_null(ScheduleRuns::Error))
                    // What the action did (e.g. the tables it issued and its window).
                    .col(json_binary_null(ScheduleRuns::Result))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_schedule_runs_once")
                    .table(ScheduleRuns::Table)
                    .col(ScheduleRuns::ProcessId)
                    .col(ScheduleRuns::ScheduleId)
                    .col(ScheduleRuns::FireTime)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PushTables::Table)
                    .col(string_len(PushTables::Id, 36).primary_key())
                    .col(string(PushTables::ProcessId))
                    .col(string(PushTables::Document))
                    .col(text(PushTables::Name))
                    .col(string(PushTables::Department))
                    // The Beijing date the table is for, `YYYY-MM-DD`.
                    .col(string_len(PushTables::Day, 10))
                    .col(string_null(PushTables::Number))
                    // The tasks created in (window_start, window_end] are the table's rows.
                    .col(timestamp_with_time_zone(PushTables::WindowStart))
                    .col(timestamp_with_time_zone(PushTables::WindowEnd))
                    .col(json_binary(PushTables::Rows))
                    .col(integer(PushTables::RowCount))
                    .col(text(PushTables::Html))
                    .col(string_len(PushTables::ContentHash, 64))
                    .col(string_len(PushTables::TemplateHash, 64))
                    .col(timestamp_with_time_zone(PushTables::IssuedAt))
                    .col(string_len_null(PushTables::RunId, 36))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_push_tables_once")
                    .table(PushTables::Table)
                    .col(PushTables::ProcessId)
                    .col(PushTables::Document)
                    .col(PushTables::Department)
                    .col(PushTables::Day)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_push_tables_department")
                    .table(PushTables::Table)
                    .col(PushTables::Department)
                    .col(PushTables::IssuedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(string_len(Outbox::Id, 36).primary_key())
                    .col(string_len(Outbox::CaseId, 36))
                    .col(string(Outbox::ProcessId))
                    .col(string(Outbox::Department))
                    .col(string_len_null(Outbox::TaskId, 36))
                    .col(string(Outbox::Kind))
                    .col(text(Outbox::Url))
                    .col(string(Outbox::SecretEnv))
                    // The exact JSON body that is signed and sent.
                    .col(text(Outbox::Body))
                    // 'pending' | 'delivered' | 'dead'
                    .col(string_len(Outbox::Status, 16))
                    .col(integer(Outbox::Attempts))
                    .col(timestamp_with_time_zone(Outbox::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(Outbox::LeaseUntil))
                    .col(string_null(Outbox::LeasedBy))
                    .col(text_null(Outbox::LastError))
                    .col(timestamp_with_time_zone(Outbox::CreatedAt))
                    .col(timestamp_with_time_zone_null(Outbox::DeliveredAt))
                    .col(json_binary_null(Outbox::Receipt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_outbox_case")
                            .from(Outbox::Table, Outbox::CaseId)
                            .to(Cases::Table, Cases::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // The worker's claim: due pending messages, oldest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_due")
                    .table(Outbox::Table)
                    .col(Outbox::Status)
                    .col(Outbox::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_case")
                    .table(Outbox::Table)
                    .col(Outbox::CaseId)
                    .to_owned(),
            )
            .await?;
        // The push tables read the tasks created for a step within a time window.
        manager
            .create_index(
                Index::create()
                    .name("idx_tasks_step_created")
                    .table(Tasks::Table)
                    .col(Tasks::Step)
                    .col(Tasks::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_tasks_step_created")
                    .table(Tasks::Table)
                    .to_owned(),
            )
            .await?;
        for table in [
            Outbox::Table.into_iden(),
            PushTables::Table.into_iden(),
            ScheduleRuns::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Step,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ScheduleRuns {
    Table,
    Id,
    ProcessId,
    ScheduleId,
    FireTime,
    Status,
    CatchUp,
    StartedAt,
    FinishedAt,
    Error,
    Result,
}

#[derive(DeriveIden)]
enum PushTables {
    Table,
    Id,
    ProcessId,
    Document,
    Name,
    Department,
    Day,
    Number,
    WindowStart,
    WindowEnd,
    Rows,
    RowCount,
    Html,
    ContentHash,
    TemplateHash,
    IssuedAt,
    RunId,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    CaseId,
    ProcessId,
    Department,
    TaskId,
    Kind,
    Url,
    SecretEnv,
    Body,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LeasedBy,
    LastError,
    CreatedAt,
    DeliveredAt,
    Receipt,
}
