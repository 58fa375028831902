//! The writes of one transition, collected and then sent together.
//!
//! A transition writes a handful of rows (the case, its tasks, one history entry and the
//! chain head, sometimes timers, notices and outbox messages). Sent one statement at a time
//! each costs a round trip to the database connection; on SQLite that is a hand-over to
//! the connection's worker thread and back, which the profile in `docs/performance.md`
//! shows costs more than SQLite's own work. SQLite runs several `;`-separated statements
//! in one call, binding the `?` parameters in order, so the whole batch is one round trip
//! there. PostgreSQL's extended protocol takes one statement per message, so there the
//! statements still go one by one.
//!
//! Every statement carries the number of rows it must change. A batch whose changes differ
//! from the sum (a compare-and-set that found another revision, a chain head that moved)
//! reports it, and the caller drops the transaction, which undoes the whole batch.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};

use super::StoreError;

/// Statements to run in one transaction, each with the rows it must change.
pub(super) struct Batch {
    backend: DbBackend,
    statements: Vec<(Statement, u64)>,
}

impl Batch {
    /// An empty batch for `backend`.
    pub(super) fn new(backend: DbBackend) -> Batch {
        Batch {
            backend,
            statements: Vec::new(),
        }
    }

    /// The backend statements are built for.
    pub(super) fn backend(&self) -> DbBackend {
        self.backend
    }

    /// Adds a statement that must change exactly `rows` rows.
    pub(super) fn push(&mut self, statement: Statement, rows: u64) {
        self.statements.push((statement, rows));
    }

    /// Runs the statements in order. `Ok(false)` when some statement changed another number
    /// of rows than it must (the caller rolls back); on PostgreSQL the first such statement
    /// ends the batch.
    pub(super) async fn run(self, txn: &DatabaseTransaction) -> Result<bool, StoreError> {
        if self.statements.is_empty() {
            return Ok(true);
        }
        if self.backend != DbBackend::Sqlite || self.statements.len() == 1 {
            for (statement, rows) in self.statements {
                if txn.execute_raw(statement).await?.rows_affected() != rows {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        let mut sql = String::new();
        let mut values = Vec::new();
        let mut expected = 0;
        for (statement, rows) in self.statements {
            sql.push_str(&statement.sql);
            sql.push_str(";\n");
            if let Some(v) = statement.values {
                values.extend(v.0);
            }
            expected += rows;
        }
        let joined = Statement::from_sql_and_values(DbBackend::Sqlite, sql, values);
        // SQLite reports the changes of all the statements summed.
        Ok(txn.execute_raw(joined).await?.rows_affected() == expected)
    }
}
