//! `cases.applicant_name` and `cases.id_key`: what the inbox and the case search look cases
//! up by, each with its own index, so a search by name or ID number is an index lookup
//! whatever the number of cases. `id_key` is the SHA-256 of the normalised ID number (the
//! number itself stays only inside `state`); the masked `title` cannot be searched by ID
//! number, and querying inside the JSON `state` is neither portable nor indexable.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite adds only one at a time.
        for column in [Cases::ApplicantName, Cases::IdKey] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Cases::Table)
                        .add_column(string_len_null(column, 128))
                        .to_owned(),
                )
                .await?;
        }
        for (name, column) in [
            ("idx_cases_applicant_name", Cases::ApplicantName),
            ("idx_cases_id_key", Cases::IdKey),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Cases::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["idx_cases_applicant_name", "idx_cases_id_key"] {
            manager
                .drop_index(Index::drop().name(name).table(Cases::Table).to_owned())
                .await?;
        }
        for column in [Cases::ApplicantName, Cases::IdKey] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Cases::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Cases {
    Table,
    ApplicantName,
    IdKey,
}
