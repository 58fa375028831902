//! The query plans of the hot paths — the inbox, the timer scan and the outbox scan — as
//! the database would run them, for the EXPLAIN review (`tests/acceptance/explain.rs`) and for
//! operators checking a production database (docs/performance.md).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, Statement};

use super::Admin;
use super::{CaseQuery, StoreError, TaskQuery};

/// One query and its plan.
#[derive(Debug, Clone)]
pub struct QueryPlan {
    /// Which path: `inbox`, `timers`, `outbox`, `cases` or `push_table`.
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
        let counties = self.counties(inbox.county.as_deref()).await?;
        let statements = [
            (
                "inbox",
                backend.build(&super::tasks::tasks_select(inbox, &counties)),
            ),
            (
                "timers",
                super::timers::due_timers_select(now, 100).build(backend),
            ),
            (
                "outbox",
                super::outbox::due_outbox_select(now, 100).build(backend),
            ),
        ];
        self.plans(statements).await
    }

    /// Plans of the exact statements [`Reads::cases`] runs for `cases` (`cases`), and the
    /// push tables run for the day before `now` of `steps` of `process` (`push_table`).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn explain_lists(
        &self,
        cases: &CaseQuery,
        process: &str,
        steps: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<QueryPlan>, StoreError> {
        let backend = self.store.db.get_database_backend();
        let counties = self.counties(cases.county.as_deref()).await?;
        let day = now - chrono::Duration::days(1);
        let statements = [
            (
                "cases",
                super::cases::cases_select(cases, &counties).build(backend),
            ),
            (
                "push_table",
                backend.build(&super::push_tables::created_between_select(
                    process, steps, day, now,
                )),
            ),
        ];
        self.plans(statements).await
    }

    async fn counties(&self, county: Option<&str>) -> Result<Vec<String>, StoreError> {
        super::definitions::counties_of(county, super::conn::Conn::Pool(&self.store.db)).await
    }

    async fn plans(
        &self,
        statements: impl IntoIterator<Item = (&'static str, Statement)>,
    ) -> Result<Vec<QueryPlan>, StoreError> {
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
