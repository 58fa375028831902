//! Readable case numbers (办件编号, 阳城退休〔2026〕0012): `case_sequences`, one counter per
//! printed prefix and year, incremented in the transaction that creates the case (so a case
//! that is not stored gives its number back and the numbers stay gap-free), and
//! `cases.number`, unique, what lists show and searches look up.
//!
//! Cases created before this migration keep `number` NULL: the prefix comes from the
//! county's definition, which the schema does not know, and numbering them now would put
//! past years' cases after this year's first ones. They stay findable by name, ID number
//! and id (see `docs/case-numbers.md`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CaseSequences::Table)
                    .col(string(CaseSequences::Prefix))
                    .col(integer(CaseSequences::Year))
                    .col(big_integer(CaseSequences::Last))
                    .primary_key(
                        Index::create()
                            .col(CaseSequences::Prefix)
                            .col(CaseSequences::Year),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .add_column(string_len_null(Cases::Number, 64))
                    .to_owned(),
            )
            .await?;
        // Unique: two cases can never print the same number (NULLs, the older cases, do
        // not collide on SQLite nor on PostgreSQL).
        manager
            .create_index(
                Index::create()
                    .name("idx_cases_number")
                    .table(Cases::Table)
                    .col(Cases::Number)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_cases_number")
                    .table(Cases::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .drop_column(Cases::Number)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(CaseSequences::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum CaseSequences {
    Table,
    Prefix,
    Year,
    Last,
}

#[derive(DeriveIden, Clone, Copy)]
enum Cases {
    Table,
    Number,
}
