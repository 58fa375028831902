//! Two task indexes hold only the rows their reads ask for, so that a task's row is written
//! into them once instead of at every change of its status (`docs/performance.md`,
//! "Partial task indexes (session 11)"):
//!
//! - `idx_tasks_inbox_order` holds open and claimed tasks only (`inbox_order IS NOT NULL`):
//!   the inbox reads exactly that range. Before, a closed task moved to the index's NULL
//!   range, ordered there by its id, so every completion wrote a page somewhere among all
//!   the tasks ever closed: more pages per commit the more tasks a database had closed.
//! - `idx_tasks_county_department_status_closed` holds closed tasks only
//!   (`closed_at IS NOT NULL`): its one reader, the dashboard's tasks completed in a period,
//!   asks for a range of `closed_at`, which both SQLite and PostgreSQL take as implying the
//!   index's condition. Before, each task entered it when opened and moved when claimed and
//!   when closed.
//!
//! `down` makes them whole again.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// Each index: its name, its columns, and the column whose NULLs it leaves out.
const PARTIAL: [(&str, &[&str], &str); 2] = [
    (
        "idx_tasks_inbox_order",
        &["county", "department", "inbox_order", "id"],
        "inbox_order",
    ),
    (
        "idx_tasks_county_department_status_closed",
        &["county", "department", "status", "closed_at"],
        "closed_at",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, columns, present) in PARTIAL {
            rebuild(
                manager,
                name,
                columns,
                &format!(" WHERE {present} IS NOT NULL"),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, columns, _) in PARTIAL {
            rebuild(manager, name, columns, "").await?;
        }
        Ok(())
    }
}

/// Drops the index and creates it again with `condition`, in one call: the same text on
/// SQLite and PostgreSQL. (Sent as two statements through the schema manager, SQLite
/// refused the second with "already exists": the pooled connection had not run the first.)
async fn rebuild(
    manager: &SchemaManager<'_>,
    name: &str,
    columns: &[&str],
    condition: &str,
) -> Result<(), DbErr> {
    let columns = columns.join(", ");
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "DROP INDEX IF EXISTS {name}; CREATE INDEX {name} ON tasks ({columns}){condition}"
        ))
        .await
        .map(|_| ())
}
