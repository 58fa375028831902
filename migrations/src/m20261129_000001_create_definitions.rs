//! `definition_versions`: every (process, version) a case may run on, with its sources, so
//! that old cases keep running after the files on disk moved on.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DefinitionVersions::Table)
                    .col(string(DefinitionVersions::ProcessId))
                    .col(big_integer(DefinitionVersions::Version))
                    .col(string(DefinitionVersions::ContentHash))
                    .col(text(DefinitionVersions::Name))
                    // The `SourceFile`s: definition YAML first, then its rules files.
                    .col(json_binary(DefinitionVersions::Sources))
                    .col(timestamp_with_time_zone(DefinitionVersions::LoadedAt))
                    .primary_key(
                        Index::create()
                            .col(DefinitionVersions::ProcessId)
                            .col(DefinitionVersions::Version),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DefinitionVersions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub(crate) enum DefinitionVersions {
    Table,
    ProcessId,
    Version,
    ContentHash,
    Name,
    Sources,
    LoadedAt,
}
