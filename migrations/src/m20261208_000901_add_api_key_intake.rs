//! `api_keys.intake`: whether a key is an intake key (`lianban apikey create --intake`), the
//! key of another system that receives applications (一网通办, a county portal). Such a key
//! may start a case of any process of its county and read only the cases it started; it
//! belongs to no department, so its `department` is the empty string (the column stays NOT
//! NULL: SQLite cannot relax a column in place). Keys made before it existed are
//! department keys, so `false` is their true value.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ApiKeys::Table)
                    .add_column(boolean(ApiKeys::Intake).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ApiKeys::Table)
                    .drop_column(ApiKeys::Intake)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum ApiKeys {
    Table,
    Intake,
}
