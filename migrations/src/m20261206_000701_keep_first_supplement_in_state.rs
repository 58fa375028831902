//! `cases.state.first_supplement`: the runtime now keeps the material keys of a case's first
//! supplement request (补正) in the case state, and holds later requests to them itself (the
//! 一次性告知 promise). Before, the engine read them from the first document that recorded
//! `missing`. This fills the state of cases that made their first request before, from that
//! same document, so that their next request is still judged against it.
//!
//! `down` leaves the states as they are: the older code ignores the field.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// The `missing` of the case's first document that recorded one.
const FIRST_REQUEST: &str = "SELECT d.missing FROM documents d \
    WHERE d.case_id = cases.id AND d.missing IS NOT NULL \
    ORDER BY d.issued_at, d.id LIMIT 1";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => format!(
                "UPDATE cases SET state = jsonb_set(state, '{{first_supplement}}', ({FIRST_REQUEST})) \
                 WHERE state->'first_supplement' IS NULL AND EXISTS ({FIRST_REQUEST})"
            ),
            _ => format!(
                "UPDATE cases SET state = json_set(state, '$.first_supplement', json(({FIRST_REQUEST}))) \
                 WHERE json_type(state, '$.first_supplement') IS NULL AND EXISTS ({FIRST_REQUEST})"
            ),
        };
        manager
            .get_connection()
            .execute_raw(Statement::from_string(backend, sql))
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
