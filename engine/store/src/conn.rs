//! The connection a write runs on: a sea-orm transaction (PostgreSQL, and SQLite through
//! sqlx's pool), or the native SQLite connection the service's writer commits groups on
//! ([`crate::native`]). The store's writes are built once, with sea-query, and run on
//! either; the few reads inside a write name their columns and read them by position
//! through [`Cells`], so one piece of code reads both.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Value;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, QueryResult, Statement,
    StatementBuilder,
};

use super::StoreError;
use super::native::{self, Native, Readers};
use super::pg::{PgReaders, PgTxn};
use super::states::States;
use lianban_core::runtime::CaseState;

/// A connection statements run on (see the module).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Conn<'a> {
    /// A sea-orm transaction.
    Orm(&'a DatabaseTransaction),
    /// The writer's native SQLite connection, inside its open transaction.
    Native(&'a Native),
    /// sqlx's pool, for a read outside a write.
    Pool(&'a DatabaseConnection),
    /// The native SQLite readers, for the hottest reads outside a write
    /// ([`native::Readers`]); they refuse writes.
    Readers(&'a Readers),
    /// PostgreSQL's reading connections for the hottest reads ([`PgReaders`]), with the
    /// pool for a query they cannot bind; they refuse writes.
    PgReaders(&'a PgReaders, &'a DatabaseConnection),
    /// A unit's transaction on one of PostgreSQL's writing connections ([`PgTxn`]).
    PgTxn(&'a PgTxn),
}

impl<'a> From<&'a DatabaseTransaction> for Conn<'a> {
    fn from(txn: &'a DatabaseTransaction) -> Self {
        Conn::Orm(txn)
    }
}

impl<'a> Conn<'a> {
    /// The SQL dialect to build statements in.
    pub(crate) fn backend(self) -> DbBackend {
        match self {
            Conn::Orm(txn) => txn.get_database_backend(),
            Conn::Pool(db) => db.get_database_backend(),
            Conn::Native(_) | Conn::Readers(_) => DbBackend::Sqlite,
            Conn::PgReaders(..) | Conn::PgTxn(_) => DbBackend::Postgres,
        }
    }

    /// The case states this connection's rows can be decoded from without parsing (the
    /// native SQLite connections, see [`crate::states`]); `None` on sqlx's.
    pub(crate) fn states(self) -> Option<&'a States> {
        match self {
            Conn::Native(native) => Some(&native.states),
            Conn::Readers(readers) => Some(&readers.states),
            Conn::Orm(_) | Conn::Pool(_) | Conn::PgReaders(..) | Conn::PgTxn(_) => None,
        }
    }

    /// Runs statements without parameters (`SAVEPOINT …`).
    pub(crate) async fn execute_unprepared(self, sql: &str) -> Result<(), StoreError> {
        match self {
            Conn::Orm(txn) => {
                txn.execute_unprepared(sql).await?;
                Ok(())
            }
            Conn::Pool(db) => {
                db.execute_unprepared(sql).await?;
                Ok(())
            }
            Conn::Native(native) => native.execute_unprepared(sql),
            Conn::PgTxn(txn) => txn.simple(sql).await,
            Conn::Readers(_) | Conn::PgReaders(..) => Err(read_only()),
        }
    }

    /// Runs one statement; returns the rows it changed.
    pub(crate) async fn execute(self, statement: Statement) -> Result<u64, StoreError> {
        match self {
            Conn::Orm(txn) => Ok(txn.execute_raw(statement).await?.rows_affected()),
            Conn::Pool(db) => Ok(db.execute_raw(statement).await?.rows_affected()),
            Conn::Native(native) => native.execute(&statement.sql, values(&statement)),
            Conn::PgTxn(txn) => txn.execute(&statement).await,
            Conn::Readers(_) | Conn::PgReaders(..) => Err(read_only()),
        }
    }

    /// Builds `statement` for this connection and runs it; returns the rows it changed.
    pub(crate) async fn exec<S: StatementBuilder>(self, statement: &S) -> Result<u64, StoreError> {
        self.execute(self.backend().build(statement)).await
    }

    /// Builds `query` for this connection, runs it and reads each row with `read`.
    pub(crate) async fn rows<S, T>(
        self,
        query: &S,
        read: impl Fn(&dyn Cells) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError>
    where
        S: StatementBuilder,
    {
        let statement = match self.backend() {
            DbBackend::Sqlite => literal_limits(DbBackend::Sqlite.build(query)),
            backend => backend.build(query),
        };
        self.rows_of(statement, read).await
    }

    /// As [`Conn::rows`], for a statement already built for this connection.
    pub(crate) async fn rows_of<T>(
        self,
        statement: Statement,
        read: impl Fn(&dyn Cells) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        match self {
            Conn::Orm(txn) => orm_rows(txn, statement, read).await,
            Conn::Pool(db) => orm_rows(db, statement, read).await,
            Conn::Native(native) => {
                native.query(&statement.sql, values(&statement), |row| read(row))
            }
            Conn::Readers(readers) => {
                readers.query(&statement.sql, values(&statement), |row| read(row))
            }
            Conn::PgTxn(txn) => txn.query(&statement, &read).await,
            Conn::PgReaders(readers, db) => match readers.query(&statement, &read).await {
                Some(rows) => rows,
                None => orm_rows(db, statement, read).await,
            },
        }
    }

    /// As [`Conn::rows`], the first row only.
    pub(crate) async fn row<S, T>(
        self,
        query: &S,
        read: impl Fn(&dyn Cells) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError>
    where
        S: StatementBuilder,
    {
        Ok(self.rows(query, read).await?.into_iter().next())
    }

    /// As [`Conn::rows_of`], the first row only.
    pub(crate) async fn row_of<T>(
        self,
        statement: Statement,
        read: impl Fn(&dyn Cells) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        Ok(self.rows_of(statement, read).await?.into_iter().next())
    }
}

async fn orm_rows<C: ConnectionTrait, T>(
    conn: &C,
    statement: Statement,
    read: impl Fn(&dyn Cells) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    conn.query_all_raw(statement)
        .await?
        .iter()
        .map(|row| read(row))
        .collect()
}

fn read_only() -> StoreError {
    StoreError::Database(sea_orm::DbErr::Custom(
        "只读连接不能写入（这是程序错误）".to_owned(),
    ))
}

/// On SQLite, a query's trailing `LIMIT ?` (and `OFFSET ?`), as sea-query writes a page,
/// spelled as numbers in the text instead of bound. SQLite's planner reads a bound LIMIT's
/// value, so a statement with one expires whenever its parameters are bound again (rusqlite
/// and sqlx both bind afresh at each use): every inbox page was parsed and planned anew,
/// three times per case in the benchmark (`docs/performance.md`, session 11). With the
/// numbers in the text each page size keeps its own prepared statement.
fn literal_limits(mut statement: Statement) -> Statement {
    let number = |value: &Value| match value {
        Value::BigUnsigned(Some(n)) => Some(*n),
        Value::Unsigned(Some(n)) => Some(u64::from(*n)),
        Value::BigInt(Some(n)) => u64::try_from(*n).ok(),
        Value::Int(Some(n)) => u64::try_from(*n).ok(),
        _ => None,
    };
    let Some(bound) = statement.values.as_mut().map(|v| &mut v.0) else {
        return statement;
    };
    let (head, numbers) = if let Some(head) = statement.sql.strip_suffix(" LIMIT ? OFFSET ?") {
        (head, 2)
    } else if let Some(head) = statement.sql.strip_suffix(" LIMIT ?") {
        (head, 1)
    } else {
        return statement;
    };
    let Some(first) = bound.len().checked_sub(numbers) else {
        return statement;
    };
    let Some(found) = bound[first..]
        .iter()
        .map(number)
        .collect::<Option<Vec<u64>>>()
    else {
        return statement;
    };
    let mut sql = format!("{head} LIMIT {}", found[0]);
    if let Some(offset) = found.get(1) {
        sql.push_str(&format!(" OFFSET {offset}"));
    }
    bound.truncate(first);
    statement.sql = sql;
    statement
}

/// A statement's bound values (none when it has none).
pub(crate) fn values(statement: &Statement) -> &[Value] {
    statement.values.as_ref().map_or(&[][..], |v| &v.0[..])
}

/// The cells of a row read inside a write, by position, on either connection.
pub(crate) trait Cells {
    /// A text cell.
    fn text(&self, i: usize) -> Result<Option<String>, StoreError>;
    /// An integer cell.
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError>;
    /// A time cell.
    fn time(&self, i: usize) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// A JSON cell.
    fn json(&self, i: usize) -> Result<Option<serde_json::Value>, StoreError>;
    /// A yes/no cell.
    fn flag(&self, i: usize) -> Result<Option<bool>, StoreError>;
    /// A case's state, stored as JSON. Every command reads one, so a connection that holds
    /// the JSON as text decodes it straight into the state, without a `Value` in between.
    fn case_state(&self, i: usize) -> Result<Option<CaseState>, StoreError> {
        state_of_json(self.json(i)?)
    }
    /// As [`Cells::case_state`] for case `id`, taken from `states` when the cell holds the
    /// text a kept state was decoded from. Only a connection that hands over the cell's
    /// text as it is can compare it; the others decode.
    fn case_state_kept(
        &self,
        i: usize,
        _id: &str,
        _states: &States,
    ) -> Result<Option<CaseState>, StoreError> {
        self.case_state(i)
    }
}

impl Cells for QueryResult {
    fn text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.try_get_by_index(i)?)
    }

    fn int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get_by_index(i)?)
    }

    fn time(&self, i: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.try_get_by_index(i)?)
    }

    fn json(&self, i: usize) -> Result<Option<serde_json::Value>, StoreError> {
        Ok(self.try_get_by_index(i)?)
    }

    fn flag(&self, i: usize) -> Result<Option<bool>, StoreError> {
        Ok(self.try_get_by_index(i)?)
    }

    /// The state's text (SQLite's column, PostgreSQL's `jsonb` cast to text by the case
    /// query) decoded straight into the state; a cell that is not text goes through
    /// [`Cells::json`].
    fn case_state(&self, i: usize) -> Result<Option<CaseState>, StoreError> {
        match self.try_get_by_index::<Option<String>>(i) {
            Ok(text) => text
                .map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(StoreError::from),
            Err(_) => state_of_json(self.json(i)?),
        }
    }
}

fn state_of_json(value: Option<serde_json::Value>) -> Result<Option<CaseState>, StoreError> {
    value
        .map(serde_json::from_value)
        .transpose()
        .map_err(StoreError::from)
}

impl Cells for rusqlite::Row<'_> {
    fn text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.get(i).map_err(|e| native::error(&e))
    }

    fn int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.get(i).map_err(|e| native::error(&e))
    }

    fn time(&self, i: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
        let Some(text) = self.text(i)? else {
            return Ok(None);
        };
        native::datetime(&text)
            .map(Some)
            .ok_or_else(|| unreadable(i, &text))
    }

    fn json(&self, i: usize) -> Result<Option<serde_json::Value>, StoreError> {
        let Some(text) = self.text(i)? else {
            return Ok(None);
        };
        Ok(Some(serde_json::from_str(&text)?))
    }

    fn flag(&self, i: usize) -> Result<Option<bool>, StoreError> {
        Ok(self.int(i)?.map(|v| v != 0))
    }

    fn case_state(&self, i: usize) -> Result<Option<CaseState>, StoreError> {
        json_cell(self, i)?
            .map(|text| Ok(serde_json::from_slice(text)?))
            .transpose()
    }

    fn case_state_kept(
        &self,
        i: usize,
        id: &str,
        states: &States,
    ) -> Result<Option<CaseState>, StoreError> {
        json_cell(self, i)?
            .map(|text| states.decode(id, text))
            .transpose()
    }
}

/// A JSON cell's text as SQLite holds it, not copied.
fn json_cell<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> Result<Option<&'r [u8]>, StoreError> {
    match row.get_ref(i).map_err(|e| native::error(&e))? {
        rusqlite::types::ValueRef::Null => Ok(None),
        rusqlite::types::ValueRef::Text(text) | rusqlite::types::ValueRef::Blob(text) => {
            Ok(Some(text))
        }
        _ => Err(StoreError::Database(sea_orm::DbErr::Type(format!(
            "第 {i} 列不是 JSON 文本"
        )))),
    }
}

fn unreadable(i: usize, text: &str) -> StoreError {
    StoreError::Database(sea_orm::DbErr::Type(format!(
        "第 {i} 列的值 {text:?} 不是时间"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_read_with_its_limit_and_offset_in_the_text() {
        let x = || Value::String(Some("x".to_owned()));
        let page = |sql: &str, values: Vec<Value>| {
            let statement = literal_limits(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                sql,
                values,
            ));
            (statement.sql.clone(), super::values(&statement).to_vec())
        };
        let (sql, bound) = page(
            "SELECT a FROM t WHERE b = ? LIMIT ? OFFSET ?",
            vec![x(), 20u64.into(), 40u64.into()],
        );
        assert_eq!(sql, "SELECT a FROM t WHERE b = ? LIMIT 20 OFFSET 40");
        assert_eq!(bound, vec![x()]);
        let (sql, bound) = page(
            "SELECT a FROM t WHERE b = ? LIMIT ?",
            vec![x(), 20u64.into()],
        );
        assert_eq!(sql, "SELECT a FROM t WHERE b = ? LIMIT 20");
        assert_eq!(bound, vec![x()]);
        let (sql, bound) = page("SELECT a FROM t WHERE b = ?", vec![x()]);
        assert_eq!(
            (sql.as_str(), bound),
            ("SELECT a FROM t WHERE b = ?", vec![x()])
        );

        // The statement a page is, run on SQLite: the same rows as with the numbers bound.
        let (sql, _) = page(
            "SELECT a FROM t WHERE b = ? ORDER BY a LIMIT ? OFFSET ?",
            vec![x(), 1u64.into(), 1u64.into()],
        );
        let Ok(conn) = rusqlite::Connection::open_in_memory() else {
            panic!("an in-memory database opens");
        };
        let made = conn.execute_batch(
            "CREATE TABLE t (a INTEGER, b TEXT); \
             INSERT INTO t VALUES (1, 'x'), (2, 'x'), (3, 'y'), (4, 'x');",
        );
        assert!(made.is_ok());
        let read = conn
            .prepare(&sql)
            .and_then(|mut stmt| {
                stmt.query_map(["x"], |row| row.get::<_, i64>(0))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .ok();
        assert_eq!(read, Some(vec![2]));
    }
}
