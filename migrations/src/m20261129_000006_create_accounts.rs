//! `users` and `sessions`: the clerks, supervisors and admins who sign in to the web inbox,
//! and their login sessions. A session row is keyed by the SHA-256 of its token, so a leaked
//! database does not hand out live sessions.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(string_len(Users::Id, 36).primary_key())
                    .col(string_len(Users::Username, 64).unique_key())
                    .col(string(Users::DisplayName))
                    // A department key of the definitions (shebao, yibao …).
                    .col(string_len(Users::Department, 64))
                    // Comma separated: clerk, supervisor, admin.
                    .col(string_len(Users::Roles, 64))
                    // A PHC string: $argon2id$v=19$m=…,t=…,p=…$salt$hash.
                    .col(text(Users::PasswordHash))
                    .col(boolean(Users::Disabled).default(false))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(integer(Users::FailedLogins).default(0))
                    .col(timestamp_with_time_zone_null(Users::LockedUntil))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    // Hex SHA-256 of the cookie's token; the token itself is never stored.
                    .col(string_len(Sessions::Id, 64).primary_key())
                    .col(string_len(Sessions::UserId, 36))
                    .col(string_len(Sessions::Csrf, 64))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(timestamp_with_time_zone(Sessions::LastSeen))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sessions_user")
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_user")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Sessions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    DisplayName,
    Department,
    Roles,
    PasswordHash,
    Disabled,
    CreatedAt,
    FailedLogins,
    LockedUntil,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    Csrf,
    CreatedAt,
    ExpiresAt,
    LastSeen,
}
