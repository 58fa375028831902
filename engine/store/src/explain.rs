//! The query plans of the hot paths — the inbox, the timer scan and the outbox scan — as
//! the database would run them, for the EXPLAIN review (`tests/acceptance/explain.rs`) and for
//! operators checking a production database (docs/performance.md).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, Statement};

use super::Admin;
use super::{StoreError, TaskQuery};

/// One query and its plan.
#[derive(Debug, Clone)]
pub struct QueryPlan {
    /// Which path: `inbox`, `timers` or `outbox`.
    pub name: &'static str,
    /// The SQL as sent (values bound separately).
    pub sql: String,
    /// The plan, one line per node: PostgreSQL's `EXPLAIN` text, or the `detail` column of
    /// SQLite's `EXPLAIN QUERY PLAN`.
    pub plan: Vec<String>,
}

impl Admin<'_> {
    /// Plans of the exact statements [`Reads::inbox`] runs for `inbox`,
    /// [`Jobs::due_timers`] and [`Jobs::claim_outbox`] run at `now`.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn explain_hot_paths(
        &self,
        inbox: &TaskQuery,
        now: DateTime<Utc>,
    ) -> Result<Vec<QueryPlan>, StoreError> {
        let backend = self.store.db.get_database_backend();
        let statements = [
            ("inbox", super::tasks::tasks_select(inbox).build(backend)),
            (
                "timers",
                super::timers::due_timers_select(now, 100).build(backend),
            ),
            (
                "outbox",
                super::outbox::due_outbox_select(now, 100).build(backend),
            ),
        ];
        let mut plans = Vec::new();
        for (name, statement) in statements {
            plans.push(QueryPlan {
                name,
                sql: statement.sql.clone(),
                plan: self.explain(statement).await?,
            });
        }
        Ok(plans)
    }

    async fn explain(&self, statement: Statement) -> Result<Vec<String>, StoreError> {
        let backend = statement.db_backend;
        let (prefix, column) = match backend {
            DbBackend::Postgres => ("EXPLAIN ", 0),
            // id, parent, notused, detail
            _ => ("EXPLAIN QUERY PLAN ", 3),
        };
        let explain = Statement {
            sql: format!("{prefix}{}", statement.sql),
            ..statement
        };
        let rows = self.store.db.query_all_raw(explain).await?;
        rows.iter()
            .map(|row| {
                row.try_get_by_index::<String>(column)
                    .map_err(StoreError::from)
            })
            .collect()
    }
}
