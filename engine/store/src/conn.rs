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
}

impl<'a> From<&'a DatabaseTransaction> for Conn<'a> {
    fn from(txn: &'a DatabaseTransaction) -> Self {
        Conn::Orm(txn)
    }
}

impl Conn<'_> {
    /// The SQL dialect to build statements in.
    pub(crate) fn backend(self) -> DbBackend {
        match self {
            Conn::Orm(txn) => txn.get_database_backend(),
            Conn::Pool(db) => db.get_database_backend(),
            Conn::Native(_) | Conn::Readers(_) => DbBackend::Sqlite,
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
            Conn::Readers(_) => Err(read_only()),
        }
    }

    /// Runs one statement; returns the rows it changed.
    pub(crate) async fn execute(self, statement: Statement) -> Result<u64, StoreError> {
        match self {
            Conn::Orm(txn) => Ok(txn.execute_raw(statement).await?.rows_affected()),
            Conn::Pool(db) => Ok(db.execute_raw(statement).await?.rows_affected()),
            Conn::Native(native) => native.execute(&statement.sql, values(&statement)),
            Conn::Readers(_) => Err(read_only()),
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
        let statement = self.backend().build(query);
        match self {
            Conn::Orm(txn) => orm_rows(txn, statement, read).await,
            Conn::Pool(db) => orm_rows(db, statement, read).await,
            Conn::Native(native) => {
                native.query(&statement.sql, values(&statement), |row| read(row))
            }
            Conn::Readers(readers) => {
                readers.query(&statement.sql, values(&statement), |row| read(row))
            }
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

fn values(statement: &Statement) -> &[Value] {
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
        self.json(i)?
            .map(serde_json::from_value)
            .transpose()
            .map_err(StoreError::from)
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
        let cell = self.get_ref(i).map_err(|e| native::error(&e))?;
        match cell {
            rusqlite::types::ValueRef::Null => Ok(None),
            rusqlite::types::ValueRef::Text(text) | rusqlite::types::ValueRef::Blob(text) => {
                Ok(Some(serde_json::from_slice(text)?))
            }
            _ => Err(StoreError::Database(sea_orm::DbErr::Type(format!(
                "第 {i} 列不是 JSON 文本"
            )))),
        }
    }
}

fn unreadable(i: usize, text: &str) -> StoreError {
    StoreError::Database(sea_orm::DbErr::Type(format!(
        "第 {i} 列的值 {text:?} 不是时间"
    )))
}
