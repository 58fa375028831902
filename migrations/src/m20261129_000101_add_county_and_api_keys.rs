//! County scoping and API keys.
//!
//! Department keys are unique only within one county's definitions (`shebao` of yangcheng
//! is not `shebao` of qinshui), so `tasks`, `cases` and `users` get a `county`: the first
//! segment of the process id (`yangcheng.retirement` → `yangcheng`). The inbox index leads
//! with it, so a county-scoped inbox stays one index range. Rows written before this
//! migration are backfilled from `cases.process_id`; accounts keep no county (they see what
//! they saw before).
//!
//! `api_keys` holds the keys of departments' own systems: like sessions, only the SHA-256
//! of a key is stored, so a leaked database hands out no working key.

use sea_orm_migration::sea_orm::{ConnectionTrait, TransactionTrait};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds only one at a time.
        add_county(manager, Tasks::Table).await?;
        add_county(manager, Cases::Table).await?;
        add_county(manager, Users::Table).await?;
        backfill(manager).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tasks_county_department_status_due")
                    .table(Tasks::Table)
                    .col(Tasks::County)
                    .col(Tasks::Department)
                    .col(Tasks::Status)
                    .col(Tasks::DueAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_cases_county_updated")
                    .table(Cases::Table)
                    .col(Cases::County)
                    .col(Cases::UpdatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(string_len(ApiKeys::Id, 36).primary_key())
                    .col(string_len(ApiKeys::Name, 64).unique_key())
                    // Hex SHA-256 of the key; the key itself is shown once and never stored.
                    .col(string_len(ApiKeys::KeyHash, 64).unique_key())
                    .col(string_len(ApiKeys::Department, 64))
                    .col(string_len_null(ApiKeys::County, 64))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiKeys::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_cases_county_updated")
                    .table(Cases::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_tasks_county_department_status_due")
                    .table(Tasks::Table)
                    .to_owned(),
            )
            .await?;
        for table in ["tasks", "cases", "users"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .drop_column(Alias::new("county"))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

async fn add_county<T: IntoIden + 'static>(
    manager: &SchemaManager<'_>,
    table: T,
) -> Result<(), DbErr> {
    manager
        .alter_table(
            Table::alter()
                .table(table)
                .add_column(string_len_null(Alias::new("county"), 64))
                .to_owned(),
        )
        .await
}

/// Fills `county` of existing cases and tasks, one UPDATE pair per process id. The county is
/// computed here rather than in SQL: SQLite and PostgreSQL spell "text before the first dot"
/// differently, and there are few process ids.
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let processes = db
        .query_all(
            Query::select()
                .distinct()
                .column(Cases::ProcessId)
                .from(Cases::Table),
        )
        .await?;
    let txn = db.begin().await?;
    for row in processes {
        let process: String = row.try_get_by_index(0)?;
        let county = process.split('.').next().unwrap_or_default().to_owned();
        txn.execute(
            Query::update()
                .table(Cases::Table)
                .value(Cases::County, county.clone())
                .and_where(Expr::col(Cases::ProcessId).eq(process.clone())),
        )
        .await?;
        txn.execute(
            Query::update()
                .table(Tasks::Table)
                .value(Tasks::County, county)
                .and_where(
                    Expr::col(Tasks::CaseId).in_subquery(
                        Query::select()
                            .column(Cases::Id)
                            .from(Cases::Table)
                            .and_where(Expr::col(Cases::ProcessId).eq(process))
                            .to_owned(),
                    ),
                ),
        )
        .await?;
    }
    txn.commit().await
}

#[derive(DeriveIden, Clone, Copy)]
enum Tasks {
    Table,
    CaseId,
    County,
    Department,
    Status,
    DueAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Cases {
    Table,
    Id,
    ProcessId,
    County,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    Name,
    KeyHash,
    Department,
    County,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}
