//! `cases`: one row per case. `state` is the whole serialized `CaseState`; the other columns
//! are projections of it for listing and filtering. `revision` makes every write a
//! compare-and-set, so two clerks acting on one case at once cannot both win.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261129_000001_create_definitions::DefinitionVersions;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Cases::Table)
                    // A UUID as text: readable in both backends' shells, and portable.
                    .col(string_len(Cases::Id, 36).primary_key())
                    .col(string(Cases::ProcessId))
                    .col(big_integer(Cases::Version))
                    .col(string(Cases::ContentHash))
                    // 'active' | 'completed' | 'cancelled'
                    .col(string_len(Cases::Status, 16))
                    .col(text_null(Cases::Result))
                    // Step ids the live tokens are at, comma separated.
                    .col(text(Cases::CurrentSteps))
                    // A one-line summary for lists (e.g. applicant and masked id number).
                    .col(text_null(Cases::Title))
                    .col(json_binary(Cases::State))
                    .col(big_integer(Cases::Revision))
                    .col(timestamp_with_time_zone(Cases::StartedAt))
                    .col(timestamp_with_time_zone(Cases::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Cases::EndedAt))
                    // A case can only run on a version whose sources are kept.
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_cases_definition_version")
                            .from(Cases::Table, (Cases::ProcessId, Cases::Version))
                            .to(
                                DefinitionVersions::Table,
                                (DefinitionVersions::ProcessId, DefinitionVersions::Version),
                            ),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_cases_status")
                    .table(Cases::Table)
                    .col(Cases::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_cases_process_version")
                    .table(Cases::Table)
                    .col(Cases::ProcessId)
                    .col(Cases::Version)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Cases::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub(crate) enum Cases {
    Table,
    Id,
    ProcessId,
    Version,
    ContentHash,
    Status,
    Result,
    CurrentSteps,
    Title,
    State,
    Revision,
    StartedAt,
    UpdatedAt,
    EndedAt,
}
