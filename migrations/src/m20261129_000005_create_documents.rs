//! `documents` and `document_sequences`: the notices and letters a case issued, stored with
//! their rendered HTML in the same transaction as the transition that issued them, and the
//! per-prefix, per-year counters their numbers (阳社补〔2026〕第0001号) are drawn from.

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
                    .table(DocumentSequences::Table)
                    // Keyed by the printed prefix, not the process: the printed number is
                    // what must be unique, and two processes could share one prefix.
                    .col(string(DocumentSequences::Prefix))
                    .col(integer(DocumentSequences::Year))
                    // The last number handed out; incremented inside the issuing transaction,
                    // so a refused command gives its number back (no gaps).
                    .col(big_integer(DocumentSequences::Last))
                    .primary_key(
                        Index::create()
                            .col(DocumentSequences::Prefix)
                            .col(DocumentSequences::Year),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Documents::Table)
                    .col(string_len(Documents::Id, 36).primary_key())
                    .col(string_len(Documents::CaseId, 36))
                    .col(string(Documents::Key))
                    .col(text(Documents::Name))
                    .col(string_null(Documents::Number))
                    .col(string(Documents::Template))
                    .col(string_len(Documents::TemplateHash, 64))
                    .col(string_len(Documents::ContentHash, 64))
                    .col(text(Documents::Html))
                    .col(timestamp_with_time_zone(Documents::IssuedAt))
                    .col(string(Documents::IssuedBy))
                    // The step whose outcome issued it, and that step's department.
                    .col(string(Documents::Step))
                    .col(string_null(Documents::Department))
                    // Supplement requests only: the material keys found missing (一次性告知).
                    .col(json_binary_null(Documents::Missing))
                    // Second supplement requests only (二次补正): the keys that were not in
                    // the case's first request, and the clerk's written reason.
                    .col(json_binary_null(Documents::SecondItems))
                    .col(text_null(Documents::SecondReason))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_documents_case")
                            .from(Documents::Table, Documents::CaseId)
                            .to(Cases::Table, Cases::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // A case's documents in issue order, and the foreign key.
        manager
            .create_index(
                Index::create()
                    .name("idx_documents_case_issued")
                    .table(Documents::Table)
                    .col(Documents::CaseId)
                    .col(Documents::IssuedAt)
                    .to_owned(),
            )
            .await?;
        // The last line of defence for "unique": NULLs (unnumbered kinds) stay distinct.
        manager
            .create_index(
                Index::create()
                    .name("idx_documents_number")
                    .table(Documents::Table)
                    .col(Documents::Number)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The supervisors' list of second supplement requests, by department.
        manager
            .create_index(
                Index::create()
                    .name("idx_documents_department")
                    .table(Documents::Table)
                    .col(Documents::Department)
                    .col(Documents::IssuedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Documents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(DocumentSequences::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DocumentSequences {
    Table,
    Prefix,
    Year,
    Last,
}

#[derive(DeriveIden)]
enum Documents {
    Table,
    Id,
    CaseId,
    Key,
    Name,
    Number,
    Template,
    TemplateHash,
    ContentHash,
    Html,
    IssuedAt,
    IssuedBy,
    Step,
    Department,
    Missing,
    SecondItems,
    SecondReason,
}
