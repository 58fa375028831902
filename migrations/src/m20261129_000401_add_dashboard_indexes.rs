//! Indexes for the supervision dashboard (`/dashboard`): every figure is a grouped count or
//! a fetch bounded by a time window, and these keep each one an index range rather than a
//! scan of all tasks or cases.
//!
//! - `tasks (county, department, status, closed_at)`: a department's tasks completed in a
//!   window (handling time per step, refusals).
//! - `cases (county, status, ended_at)`: cases finished this week or month.
//!
//! Second supplement requests use the existing `documents (department, issued_at)`; open
//! and overdue tasks the existing `tasks (county, department, status, due_at)`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_tasks_county_department_status_closed")
                    .table(Tasks::Table)
                    .col(Tasks::County)
                    .col(Tasks::Department)
                    .col(Tasks::Status)
                    .col(Tasks::ClosedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_cases_county_status_ended")
                    .table(Cases::Table)
                    .col(Cases::County)
                    .col(Cases::Status)
                    .col(Cases::EndedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_cases_county_status_ended")
                    .table(Cases::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_tasks_county_department_status_closed")
                    .table(Tasks::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    County,
    Department,
    Status,
    ClosedAt,
}

#[derive(DeriveIden)]
enum Cases {
    Table,
    County,
    Status,
    EndedAt,
}
