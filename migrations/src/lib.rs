//! The database schema of lianban as sea-orm migrations: definition versions, cases, tasks,
//! the append-only history, and issued documents with their number sequences. The schema is
//! portable between SQLite and PostgreSQL; this crate knows nothing of the runtime's types
//! (the engine's `store` module maps them).

pub use sea_orm_migration::prelude::*;

pub mod chain;

mod m20261129_000001_create_definitions;
mod m20261129_000002_create_cases;
mod m20261129_000003_create_tasks;
mod m20261129_000004_create_history;
mod m20261129_000005_create_documents;
mod m20261129_000006_create_accounts;
mod m20261129_000007_add_case_search;
mod m20261129_000101_add_county_and_api_keys;
mod m20261129_000201_create_timers;
mod m20261129_000301_create_push;
mod m20261129_000401_add_dashboard_indexes;
mod m20261129_000501_add_inbox_order;
mod m20261129_000601_chain_history;
mod m20261129_000602_create_idempotency;
mod m20261206_000701_keep_first_supplement_in_state;
mod m20261206_000801_add_task_due_provisional;
mod m20261207_000801_create_server_keys;
mod m20261208_000901_add_api_key_intake;
mod m20261208_001801_create_absences;
mod m20261209_001701_add_case_numbers;
mod m20261210_001801_add_case_started_by;
mod m20261211_001901_drop_write_heavy_indexes;
mod m20261212_002001_partial_task_indexes;

/// Every migration of lianban, oldest first.
#[derive(Debug, Clone, Copy, Default)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_create_definitions::Migration),
            Box::new(m20261129_000002_create_cases::Migration),
            Box::new(m20261129_000003_create_tasks::Migration),
            Box::new(m20261129_000004_create_history::Migration),
            Box::new(m20261129_000005_create_documents::Migration),
            Box::new(m20261129_000006_create_accounts::Migration),
            Box::new(m20261129_000007_add_case_search::Migration),
            Box::new(m20261129_000101_add_county_and_api_keys::Migration),
            Box::new(m20261129_000201_create_timers::Migration),
            Box::new(m20261129_000301_create_push::Migration),
            Box::new(m20261129_000401_add_dashboard_indexes::Migration),
            Box::new(m20261129_000501_add_inbox_order::Migration),
            Box::new(m20261129_000601_chain_history::Migration),
            Box::new(m20261129_000602_create_idempotency::Migration),
            Box::new(m20261206_000701_keep_first_supplement_in_state::Migration),
            Box::new(m20261206_000801_add_task_due_provisional::Migration),
            Box::new(m20261207_000801_create_server_keys::Migration),
            Box::new(m20261208_000901_add_api_key_intake::Migration),
            Box::new(m20261208_001801_create_absences::Migration),
            Box::new(m20261209_001701_add_case_numbers::Migration),
            Box::new(m20261210_001801_add_case_started_by::Migration),
            Box::new(m20261211_001901_drop_write_heavy_indexes::Migration),
            Box::new(m20261212_002001_partial_task_indexes::Migration),
        ]
    }
}
