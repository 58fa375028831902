//! `tasks.inbox_order`: the inbox's sort key as one indexed column, so that a page of a
//! department's inbox is read in order from the index instead of sorting every open task
//! of the department (tens of thousands at county scale) on each request.
//!
//! The key is set for open and claimed tasks only (NULL once a task is closed), so
//! "open or claimed" is the index range `inbox_order IS NOT NULL`. It spells the inbox's
//! order — tasks with a due time first, soonest first, then oldest first — as text:
//! `0|<due_at>|<created_at>` or `1|<created_at>`, times in UTC as fixed-width RFC 3339 with
//! microseconds, so text order is time order on both backends. The engine's
//! `store::tasks::inbox_order` writes the same format; existing rows are filled here.

use sea_orm_migration::sea_orm::prelude::ChronoDateTimeUtc;
use sea_orm_migration::sea_orm::{ConnectionTrait, TransactionTrait};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tasks::Table)
                    .add_column(string_len_null(Tasks::InboxOrder, 80))
                    .to_owned(),
            )
            .await?;
        backfill(manager).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tasks_inbox_order")
                    .table(Tasks::Table)
                    .col(Tasks::County)
                    .col(Tasks::Department)
                    .col(Tasks::InboxOrder)
                    .col(Tasks::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_tasks_inbox_order")
                    .table(Tasks::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Tasks::Table)
                    .drop_column(Tasks::InboxOrder)
                    .to_owned(),
            )
            .await
    }
}

/// The key of an open task (the engine's `inbox_order` writes the same).
fn key(due_at: Option<ChronoDateTimeUtc>, created_at: ChronoDateTimeUtc) -> String {
    const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";
    match due_at {
        Some(due) => format!("0|{}|{}", due.format(FORMAT), created_at.format(FORMAT)),
        None => format!("1|{}", created_at.format(FORMAT)),
    }
}

async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let rows = db
        .query_all(
            Query::select()
                .columns([Tasks::Id, Tasks::DueAt, Tasks::CreatedAt])
                .from(Tasks::Table)
                .and_where(Expr::col(Tasks::Status).is_in(["open", "claimed"])),
        )
        .await?;
    let txn = db.begin().await?;
    for row in rows {
        let id: String = row.try_get("", "id")?;
        let due_at: Option<ChronoDateTimeUtc> = row.try_get("", "due_at")?;
        let created_at: ChronoDateTimeUtc = row.try_get("", "created_at")?;
        txn.execute(
            Query::update()
                .table(Tasks::Table)
                .value(Tasks::InboxOrder, key(due_at, created_at))
                .and_where(Expr::col(Tasks::Id).eq(id)),
        )
        .await?;
    }
    txn.commit().await
}

#[derive(DeriveIden, Clone, Copy)]
enum Tasks {
    Table,
    Id,
    County,
    Department,
    Status,
    DueAt,
    CreatedAt,
    InboxOrder,
}

#[cfg(test)]
mod tests {
    use sea_orm_migration::sea_orm::prelude::ChronoDateTimeUtc;

    use super::key;

    fn at(text: &str) -> ChronoDateTimeUtc {
        text.parse().expect("RFC 3339 time")
    }

    /// The engine's `store::tasks::inbox_order` pins the same strings.
    #[test]
    fn backfilled_keys_have_the_engines_format() {
        let created = at("2026-03-05T01:00:00Z");
        assert_eq!(
            key(Some(at("2026-03-06T02:00:00Z")), created),
            "0|2026-03-06T02:00:00.000000Z|2026-03-05T01:00:00.000000Z"
        );
        assert_eq!(key(None, created), "1|2026-03-05T01:00:00.000000Z");
    }
}
