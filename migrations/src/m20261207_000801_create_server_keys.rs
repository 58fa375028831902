//! `server_keys`: secrets the service makes for itself and shares across its replicas
//! through the database, by name (`login`: the key that signs login-form tokens and the
//! cookies of browsers an account signed in from). Made on first use, never sent to anyone.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ServerKeys::Table)
                    .col(string_len(ServerKeys::Name, 64).primary_key())
                    .col(string_len(ServerKeys::Value, 128))
                    .col(timestamp_with_time_zone(ServerKeys::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ServerKeys::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ServerKeys {
    Table,
    Name,
    Value,
    CreatedAt,
}
