//! Drops four indexes that every transition paid for and no hot read needs
//! (`docs/performance.md`, "The index review"):
//!
//! - `idx_tasks_role_status`: no query filters on a task's role.
//! - `idx_tasks_department_status_due`: the inbox and the case lists of an account without a
//!   county now name the counties (`Reads::inbox`, `Reads::cases`), so the county-leading
//!   indexes serve them; the case lists probe `tasks (case_id)` per case instead of reading
//!   a department's whole history through this index.
//! - `idx_cases_status`: only batch paths (the recount after a reload, `export
//!   --closed-before`) filtered on status alone; the county-leading index or a scan serves
//!   them.
//! - `idx_cases_process_version`: the push tables join `cases` by primary key, and moving
//!   cases to a new version filters by county first; what is left (`definitions` listings,
//!   a changed definition's count) runs from the command line.
//!
//! On SQLite each of them was rewritten whenever a task was created, claimed or completed or
//! a case was created or ended; on PostgreSQL on every update of their table (an update that
//! changes an indexed column is never HOT). `down` creates them again.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// Each index: its name, its table, its columns.
const DROPPED: [(&str, &str, &[&str]); 4] = [
    ("idx_tasks_role_status", "tasks", &["role", "status"]),
    (
        "idx_tasks_department_status_due",
        "tasks",
        &["department", "status", "due_at"],
    ),
    ("idx_cases_status", "cases", &["status"]),
    (
        "idx_cases_process_version",
        "cases",
        &["process_id", "version"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in DROPPED {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(Alias::new(table))
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, columns) in DROPPED {
            let mut index = Index::create();
            index.name(name).table(Alias::new(table));
            for column in columns {
                index.col(Alias::new(*column));
            }
            manager
                .create_index(index.if_not_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
