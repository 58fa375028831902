//! The writes of one transition, collected and then sent in one call.
//!
//! A transition writes a handful of rows (the case, its tasks, one history entry and the
//! chain head, sometimes timers, notices and outbox messages). Sent one statement at a time
//! each costs a round trip to the database connection; on SQLite that is a hand-over to
//! the connection's worker thread and back, which the profile in `docs/performance.md`
//! shows costs more than SQLite's own work. So a batch goes as one call:
//!
//! - SQLite runs several `;`-separated statements in one call, binding the `?` parameters in
//!   order, and reports their changes summed.
//! - PostgreSQL's extended protocol takes one statement per message, but one statement may
//!   carry several writes as data-modifying `WITH` queries. Each write returns a row per
//!   row it changed, and the statement selects their count.
//!
//! Every write carries the number of rows it must change. A batch whose changes differ
//! from the sum (a compare-and-set that found another revision, a chain head that moved)
//! reports it, and the caller drops the transaction, which undoes the whole batch.

use std::fmt::Write as _;

use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, PostgresQueryBuilder, QueryBuilder, SqlWriterValues,
    SqliteQueryBuilder, SubQueryStatement, Values,
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::StoreError;
use super::conn::Conn;

/// Writes to run in one transaction, each with the rows it must change.
///
/// A batch is plain data: it can be built away from the connection it will run on (the
/// workers build a command's writes while the writer commits others, see
/// [`crate::Prepared`]).
pub(super) struct Batch {
    backend: DbBackend,
    writes: Vec<(Write, u64)>,
}

/// One write as a batch keeps it.
enum Write {
    /// SQLite's: built when pushed, so that whoever builds the batch pays for it. Its `?`
    /// parameters are positional, so the text runs alone or joined to others as it is.
    Built(String, Values),
    /// PostgreSQL's: built when run, with its parameters numbered on from those of the
    /// writes before it in one `WITH` statement ([`counted_with`]).
    Statement(Box<SubQueryStatement>),
}

impl Batch {
    /// An empty batch for `backend`.
    pub(super) fn new(backend: DbBackend) -> Batch {
        Batch {
            backend,
            writes: Vec::new(),
        }
    }

    /// Adds an INSERT, UPDATE or DELETE that must change exactly `rows` rows.
    pub(super) fn push(&mut self, write: impl Into<SubQueryStatement>, rows: u64) {
        let write = write.into();
        let write = match self.backend {
            DbBackend::Postgres => Write::Statement(Box::new(write)),
            backend => {
                let (sql, values) = build(&write, backend);
                Write::Built(sql, values)
            }
        };
        self.writes.push((write, rows));
    }

    /// Runs the writes in one call. `Ok(false)` when they changed another number of rows
    /// than they must (the caller rolls back).
    pub(super) async fn run(self, conn: Conn<'_>) -> Result<bool, StoreError> {
        self.run_after(conn, None).await
    }

    /// As [`Batch::run`], opening the savepoint `first` ([`crate::Unit::take_savepoint`])
    /// before the writes. On SQLite it goes in the same call, changing no row.
    pub(super) async fn run_after(
        self,
        conn: Conn<'_>,
        first: Option<String>,
    ) -> Result<bool, StoreError> {
        let expected: u64 = self.writes.iter().map(|(_, rows)| rows).sum();
        let txn = match conn {
            Conn::Orm(txn) => txn,
            Conn::Native(native) => {
                // No hand-over to save here: each write goes alone, so that its text stays
                // the same from one transition to the next and its prepared statement is
                // reused.
                if let Some(first) = &first {
                    native.execute_unprepared(first)?;
                }
                let mut changed = 0;
                for (write, _) in self.writes {
                    let (sql, values) = write.built(DbBackend::Sqlite);
                    changed += native.execute(&sql, &values.0)?;
                }
                return Ok(changed == expected);
            }
            Conn::PgTxn(txn) => {
                // Each write a prepared statement of its own, all sent in one flight with
                // whatever the transaction queued (its `BEGIN`, the command's savepoint).
                if let Some(first) = first {
                    txn.ahead(first);
                }
                let built: Vec<_> = self
                    .writes
                    .into_iter()
                    .map(|(write, _)| write.built(DbBackend::Postgres))
                    .collect();
                let writes: Vec<_> = built
                    .iter()
                    .map(|(sql, values)| (sql.as_str(), &values.0[..]))
                    .collect();
                return Ok(txn.execute_all(&writes).await? == expected);
            }
            Conn::Pool(_) | Conn::Readers(_) | Conn::PgReaders(..) => {
                return Err(StoreError::Database(sea_orm::DbErr::Custom(
                    "批量写入只在写事务中进行（这是程序错误）".to_owned(),
                )));
            }
        };
        if let Some(first) = &first
            && (self.backend != DbBackend::Sqlite || self.writes.is_empty())
        {
            txn.execute_unprepared(first).await?;
        }
        match self.writes.len() {
            0 => Ok(true),
            _ if self.backend == DbBackend::Sqlite => {
                let mut sql = first.map(|f| f + ";\n").unwrap_or_default();
                let mut values = Vec::new();
                for (write, _) in self.writes {
                    let (text, bound) = write.built(self.backend);
                    sql.push_str(&text);
                    sql.push_str(";\n");
                    values.extend(bound.0);
                }
                let joined = Statement::from_sql_and_values(self.backend, sql, values);
                Ok(txn.execute_raw(joined).await?.rows_affected() == expected)
            }
            1 => {
                let Some((write, _)) = self.writes.into_iter().next() else {
                    return Ok(true);
                };
                let (sql, values) = write.built(self.backend);
                let statement = Statement::from_sql_and_values(self.backend, sql, values.0);
                Ok(txn.execute_raw(statement).await?.rows_affected() == expected)
            }
            _ => {
                let statement = counted_with(&self.writes)?;
                let changed: i64 = match txn.query_one_raw(statement).await? {
                    Some(row) => row.try_get_by_index(0)?,
                    None => return Ok(false),
                };
                Ok(u64::try_from(changed).ok() == Some(expected))
            }
        }
    }
}

impl Write {
    /// The write's text and values in `backend`'s dialect.
    fn built(self, backend: DbBackend) -> (String, Values) {
        match self {
            Write::Built(sql, values) => (sql, values),
            Write::Statement(write) => build(&write, backend),
        }
    }
}

/// `WITH "w0" AS (<write> RETURNING 1), "w1" AS (…) SELECT (SELECT count(*) FROM "w0") + …`:
/// every write runs (PostgreSQL runs each data-modifying `WITH` query exactly once), and
/// the statement answers how many rows they changed together.
///
/// The writes are written one after the other into one text, their parameters numbered on
/// across them. sea-query's own `WITH` copies the whole clause (the case's state with it)
/// when it is given its final query; that copy was a tenth of the engine's time on
/// PostgreSQL (`docs/performance.md`, session 12).
fn counted_with(writes: &[(Write, u64)]) -> Result<Statement, StoreError> {
    let (placeholder, numbered) = PostgresQueryBuilder.placeholder();
    let mut sql = SqlWriterValues::new(placeholder, numbered);
    let mut counts = String::new();
    let framed = (|| -> std::fmt::Result {
        for (i, (write, _)) in writes.iter().enumerate() {
            let Write::Statement(write) = write else {
                // A batch for PostgreSQL keeps its writes unbuilt (`Batch::push`).
                return Err(std::fmt::Error);
            };
            let lead = if i == 0 { "WITH" } else { "," };
            write!(sql, "{lead} \"w{i}\" AS (")?;
            write_into(write, DbBackend::Postgres, &mut sql);
            // A write answers one row per row it changed; a read answers its rows as they are.
            let reads = matches!(
                **write,
                SubQueryStatement::SelectStatement(_) | SubQueryStatement::WithStatement(_)
            );
            write!(sql, "{})", if reads { "" } else { " RETURNING 1" })?;
            let plus = if i == 0 { "" } else { " + " };
            write!(counts, "{plus}(SELECT count(*) FROM \"w{i}\")")?;
        }
        write!(sql, " SELECT {counts}")
    })();
    framed.map_err(|e| {
        StoreError::Database(sea_orm::DbErr::Custom(format!(
            "批量写入的语句无法拼接（这是程序错误）：{e}"
        )))
    })?;
    let (sql, values) = sql.into_parts();
    Ok(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values.0,
    ))
}

/// A JSON column's value given as text, serialized straight from the value: on SQLite the
/// text is what the column holds (as sqlx stores JSON there), on PostgreSQL it is cast to
/// `jsonb`. Binding a `serde_json::Value` instead means first copying the value into a
/// tree, which for a case's state was a tenth of the writer's time (`docs/performance.md`,
/// session 11).
pub(super) fn json_text(backend: DbBackend, text: String) -> Expr {
    let text = Expr::val(text);
    match backend {
        DbBackend::Postgres => text.cast_as(Alias::new("jsonb")),
        _ => text,
    }
}

fn build(write: &SubQueryStatement, backend: DbBackend) -> (String, Values) {
    let (placeholder, numbered) = match backend {
        DbBackend::Postgres => PostgresQueryBuilder.placeholder(),
        _ => SqliteQueryBuilder.placeholder(),
    };
    let mut sql = SqlWriterValues::new(placeholder, numbered);
    write_into(write, backend, &mut sql);
    sql.into_parts()
}

/// Writes `write` in `backend`'s dialect after what `sql` holds, its parameters numbered on
/// from those already there.
fn write_into(write: &SubQueryStatement, backend: DbBackend, sql: &mut SqlWriterValues) {
    match backend {
        DbBackend::Postgres => write_with(write, PostgresQueryBuilder, sql),
        _ => write_with(write, SqliteQueryBuilder, sql),
    }
}

fn write_with(write: &SubQueryStatement, builder: impl QueryBuilder, sql: &mut SqlWriterValues) {
    match write {
        SubQueryStatement::SelectStatement(s) => s.build_collect_into(builder, sql),
        SubQueryStatement::InsertStatement(s) => s.build_collect_into(builder, sql),
        SubQueryStatement::UpdateStatement(s) => s.build_collect_into(builder, sql),
        SubQueryStatement::DeleteStatement(s) => s.build_collect_into(builder, sql),
        SubQueryStatement::WithStatement(s) => s.build_collect_into(builder, sql),
    }
}
