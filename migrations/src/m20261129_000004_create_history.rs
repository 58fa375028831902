//! `history`: the append-only timeline of a case. One row per accepted command, written in
//! the same transaction as the state change it records.

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
                    .table(History::Table)
                    .col(big_pk_auto(History::Id))
                    .col(string_len(History::CaseId, 36))
                    // 1, 2, 3 … per case; the unique index also rejects a racing duplicate.
                    .col(big_integer(History::Seq))
                    .col(timestamp_with_time_zone(History::At))
                    .col(string(History::Actor))
                    .col(string_null(History::ActorDepartment))
                    // The command: start, claim, unclaim, complete, deliver, cancel …
                    .col(string_len(History::Action, 32))
                    .col(string_len_null(History::FromStatus, 16))
                    .col(text_null(History::FromSteps))
                    .col(string_len(History::ToStatus, 16))
                    .col(text(History::ToSteps))
                    .col(json_binary(History::Events))
                    // Keys whose values changed: {"data.x": {"old": …, "new": …}}.
                    .col(json_binary(History::DataChanged))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_history_case")
                            .from(History::Table, History::CaseId)
                            .to(Cases::Table, Cases::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_history_case_seq")
                    .table(History::Table)
                    .col(History::CaseId)
                    .col(History::Seq)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(History::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub(crate) enum History {
    Table,
    Id,
    CaseId,
    Seq,
    At,
    Actor,
    ActorDepartment,
    Action,
    FromStatus,
    FromSteps,
    ToStatus,
    ToSteps,
    Events,
    DataChanged,
}
