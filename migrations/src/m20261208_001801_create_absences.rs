//! `absences` (请假与代办): who is away from which day to which (Beijing dates, both
//! included), who stands in for them, who recorded it and whether they came back early; and
//! `history.on_behalf_of`, the absent person a substitute acted for (`NULL` for everything
//! done in one's own name, which keeps every hash chained before it unchanged: the chain
//! encodes the column only when it is set, see `chain.rs`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Absences::Table)
                    .col(string_len(Absences::Id, 36).primary_key())
                    .col(string_len(Absences::Username, 64))
                    .col(string_len(Absences::Substitute, 64))
                    .col(date(Absences::StartsOn))
                    .col(date(Absences::EndsOn))
                    .col(string_len(Absences::RecordedBy, 128))
                    .col(timestamp_with_time_zone(Absences::RecordedAt))
                    .col(timestamp_with_time_zone_null(Absences::EndedAt))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_absences_username", Absences::Username),
            ("idx_absences_substitute", Absences::Substitute),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Absences::Table)
                        .col(column)
                        .col(Absences::EndsOn)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(History::Table)
                    .add_column(string_len_null(History::OnBehalfOf, 64))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(History::Table)
                    .drop_column(History::OnBehalfOf)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Absences::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Absences {
    Table,
    Id,
    Username,
    Substitute,
    StartsOn,
    EndsOn,
    RecordedBy,
    RecordedAt,
    EndedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum History {
    Table,
    OnBehalfOf,
}
