//! SQLite's writer without a driver thread: the connection group commits are written on.
//!
//! sqlx runs every SQLite connection on a thread of its own, and each statement is a
//! message to that thread and an answer back. On a machine with two cores those hand-overs
//! were most of what a command cost inside the writer (`docs/performance.md`, "Point 2").
//! This connection is SQLite's C library called in the writer's own thread through
//! rusqlite, each statement prepared once and kept in rusqlite's cache.
//!
//! The statements are the store's own: sea-query builds them for both connections
//! ([`crate::conn::Conn`]), and values are bound exactly as sqlx binds them on SQLite
//! (times as RFC 3339 text, JSON as text, UUIDs as 16-byte blobs), so what one writes the
//! other reads.
//!
//! Every call runs SQLite at once in the caller's thread, and the commit waits for the
//! disk: the service's writer runs on a thread of its own for it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags};
use sea_orm::sea_query::Value;
use sea_orm::{DbErr, RuntimeErr};

use super::states::States;
use super::{StoreError, StoreOptions, Synchronous};
use lianban_core::runtime::moment;

/// One SQLite connection driven in the caller's thread.
#[derive(Debug)]
pub(crate) struct Native {
    conn: Mutex<Connection>,
    /// The case states it writes, kept decoded for the readers.
    pub(crate) states: Arc<States>,
    /// Copies the WAL into the database file beside the writer; stops with it.
    _checkpointer: Option<Checkpointer>,
}

/// How often the checkpointer copies what the WAL holds into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(50);

/// The writer's page cache, in KiB (SQLite's `cache_size` is negative for KiB).
///
/// Not larger: after a commit in which a B-tree page split, SQLite walks the writer's whole
/// cache (`balance_nonroot` renumbers pages through the lock-byte page, which raises the
/// cache's largest key past the database's end, and the commit then truncates the cache to
/// the database's size by visiting every slot). With 64 MiB that walk grew with the database
/// and cost the writer 13 % more CPU per case between cases 2,000 and 16,000 of a 20,000-case
/// run; with 2 to 16 MiB the cost per case stayed flat (docs/performance.md, session 10).
const WRITER_CACHE_KIB: u32 = 16 * 1024;

/// The WAL's size (pages) past which the writer checkpoints itself while the checkpointer
/// runs: only should it fall that far behind (readers held it back). Without a
/// checkpointer the writer keeps SQLite's automatic checkpoint at 1,000 pages.
const WRITER_CHECKPOINT_PAGES: u32 = 10_000;

/// A thread with a connection of its own that checkpoints the WAL every
/// [`CHECKPOINT_EVERY`] (`PRAGMA wal_checkpoint(PASSIVE)`: it never blocks the writer or a
/// reader). SQLite's automatic checkpoint would run in the writer's commit each time the
/// WAL passes 1,000 pages, dozens of times a second under load, each with an fsync of the
/// database file that every command in the group waited for.
#[derive(Debug)]
struct Checkpointer {
    stop: Option<std::sync::mpsc::Sender<()>>,
}

impl Checkpointer {
    /// Opens the checkpointer's connection and starts its thread; `None` (logged) when
    /// either fails, and the writer then checkpoints as SQLite does by default.
    fn start(path: &Path, options: &StoreOptions) -> Option<Checkpointer> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let opened = Connection::open_with_flags(path, flags).and_then(|conn| {
            conn.busy_timeout(options.sqlite_busy_timeout)
                .map(|()| conn)
        });
        let conn = match opened {
            Ok(conn) => conn,
            Err(error) => {
                tracing::warn!(%error, "the WAL checkpointer did not open; the writer checkpoints");
                return None;
            }
        };
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let started = std::thread::Builder::new()
            .name("lianban-checkpoint".to_owned())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    if let Err(error) =
                        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(%error, "WAL checkpoint failed; retried");
                    }
                }
            });
        match started {
            Ok(_) => Some(Checkpointer { stop: Some(stop) }),
            Err(error) => {
                tracing::warn!(%error, "the WAL checkpointer did not start; the writer checkpoints");
                None
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Ends the thread's wait at once.
        self.stop.take();
    }
}

impl Native {
    /// Opens the file at `path` with the settings of the store's pooled connections (WAL,
    /// `synchronous`, busy timeout, foreign keys, temporary storage in memory).
    pub(crate) fn open(
        path: &Path,
        options: &StoreOptions,
        states: Arc<States>,
    ) -> Result<Native, StoreError> {
        let open = || -> rusqlite::Result<Connection> {
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let conn = Connection::open_with_flags(path, flags)?;
            let synchronous = match options.sqlite_synchronous {
                Synchronous::Full => "FULL",
                Synchronous::Normal => "NORMAL",
            };
            conn.busy_timeout(options.sqlite_busy_timeout)?;
            conn.execute_batch(&format!(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; \
                 PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; \
                 PRAGMA cache_size = -{WRITER_CACHE_KIB};"
            ))?;
            // The only writer keeps its page cache from one commit to the next (no other
            // connection's commit invalidates it), so the B-tree pages every transition
            // touches stay in memory, up to WRITER_CACHE_KIB.
            // A transition has a dozen statement kinds, a group a few more: all stay prepared.
            conn.set_prepared_statement_cache_capacity(256);
            Ok(conn)
        };
        let conn = open().map_err(|e| error(&e))?;
        let checkpointer = Checkpointer::start(path, options);
        if checkpointer.is_some() {
            conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)
                .map_err(|e| error(&e))?;
        }
        Ok(Native {
            conn: Mutex::new(conn),
            states,
            _checkpointer: checkpointer,
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs statements without parameters (`BEGIN IMMEDIATE`, `SAVEPOINT …`, several
    /// separated by `;`). A single one is prepared once and cached like any other: a group
    /// sends `SAVEPOINT` once per command.
    pub(crate) fn execute_unprepared(&self, sql: &str) -> Result<(), StoreError> {
        if sql.contains(';') {
            return self.conn().execute_batch(sql).map_err(|e| error(&e));
        }
        self.execute(sql, &[]).map(|_| ())
    }

    /// Runs one statement with `values` bound in order; returns the rows it changed.
    pub(crate) fn execute(&self, sql: &str, values: &[Value]) -> Result<u64, StoreError> {
        let conn = self.conn();
        let before = conn.total_changes();
        let mut stmt = prepare(&conn, sql, values)?;
        let mut rows = stmt.raw_query();
        while rows.next().map_err(|e| error(&e))?.is_some() {}
        drop(rows);
        Ok(conn.total_changes() - before)
    }

    /// Runs one query with `values` bound in order and reads each row with `read`.
    pub(crate) fn query<T>(
        &self,
        sql: &str,
        values: &[Value],
        read: impl FnMut(&rusqlite::Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        query_on(&self.conn(), sql, values, read)
    }

    /// Ends the open transaction, if any, undoing it (a unit dropped without commit).
    pub(crate) fn rollback(&self) {
        let conn = self.conn();
        if !conn.is_autocommit()
            && let Err(error) = conn.execute_batch("ROLLBACK")
        {
            tracing::warn!(%error, "SQLite rollback failed");
        }
    }
}

fn query_on<T>(
    conn: &Connection,
    sql: &str,
    values: &[Value],
    mut read: impl FnMut(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = prepare(conn, sql, values)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| error(&e))? {
        out.push(read(row)?);
    }
    Ok(out)
}

/// Connections the hottest reads (a case, the case of a task, an inbox page) run on in the
/// caller's thread: each is an index lookup of well under a millisecond, less than the two
/// thread switches a read through sqlx's connection thread costs. Other reads stay on the
/// pool. A reader is taken for one query and put back; at most `keep` wait idle.
#[derive(Debug)]
pub(crate) struct Readers {
    path: PathBuf,
    /// Case states already decoded (shared with the writer).
    pub(crate) states: Arc<States>,
    busy_timeout: std::time::Duration,
    keep: usize,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    /// Readers of the file at `path`; each opens on first need.
    pub(crate) fn new(path: &Path, options: &StoreOptions, states: Arc<States>) -> Readers {
        Readers {
            path: path.to_owned(),
            states,
            busy_timeout: options.sqlite_busy_timeout,
            keep: usize::try_from(options.max_connections).unwrap_or(8).max(1),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs one query on an idle reader (or a new one) and reads each row with `read`.
    pub(crate) fn query<T>(
        &self,
        sql: &str,
        values: &[Value],
        read: impl FnMut(&rusqlite::Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let taken = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match taken {
            Some(conn) => conn,
            None => self.open().map_err(|e| error(&e))?,
        };
        let result = query_on(&conn, sql, values, read);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.keep {
            idle.push(conn);
        }
        result
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(self.busy_timeout)?;
        // A reader never writes; SQLite refuses if a bug asks it to.
        conn.execute_batch("PRAGMA query_only = ON; PRAGMA temp_store = MEMORY;")?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }
}

fn prepare<'c>(
    conn: &'c Connection,
    sql: &str,
    values: &[Value],
) -> Result<rusqlite::CachedStatement<'c>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(|e| error(&e))?;
    if stmt.parameter_count() != values.len() {
        return Err(StoreError::Database(DbErr::Custom(format!(
            "语句需要 {} 个参数，给了 {} 个：{sql}",
            stmt.parameter_count(),
            values.len()
        ))));
    }
    for (n, value) in values.iter().enumerate() {
        stmt.raw_bind_parameter(n + 1, Param(value))
            .map_err(|e| error(&e))?;
    }
    Ok(stmt)
}

/// The file of a `sqlite:` URL (as `database_url` writes it); `None` for an in-memory
/// database, which a second connection could not share.
pub(crate) fn file_of(url: &str) -> Option<PathBuf> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let rest = url.strip_prefix("sqlite:")?.trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// A sea-query value bound as sqlx binds it on SQLite.
struct Param<'v>(&'v Value);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        use rusqlite::types::Value as Owned;
        let null = || ToSqlOutput::Owned(Owned::Null);
        let int = |i: Option<i64>| i.map_or_else(null, ToSqlOutput::from);
        let text = |t: Option<String>| t.map_or_else(null, ToSqlOutput::from);
        let failed = |e: Box<dyn std::error::Error + Send + Sync>| {
            rusqlite::Error::ToSqlConversionFailure(e)
        };
        Ok(match self.0 {
            Value::Bool(b) => int(b.map(i64::from)),
            Value::TinyInt(i) => int(i.map(i64::from)),
            Value::SmallInt(i) => int(i.map(i64::from)),
            Value::Int(i) => int(i.map(i64::from)),
            Value::BigInt(i) => int(*i),
            Value::TinyUnsigned(i) => int(i.map(i64::from)),
            Value::SmallUnsigned(i) => int(i.map(i64::from)),
            Value::Unsigned(i) => int(i.map(i64::from)),
            Value::BigUnsigned(i) => int(i
                .map(i64::try_from)
                .transpose()
                .map_err(|e| failed(Box::new(e)))?),
            Value::Float(f) => f.map_or_else(null, |f| ToSqlOutput::from(f64::from(f))),
            Value::Double(f) => f.map_or_else(null, ToSqlOutput::from),
            Value::String(s) => s.as_deref().map_or_else(null, |s| {
                ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes()))
            }),
            Value::Char(c) => text(c.map(String::from)),
            Value::Bytes(b) => b
                .as_deref()
                .map_or_else(null, |b| ToSqlOutput::Borrowed(ValueRef::Blob(b))),
            Value::Json(j) => text(
                j.as_deref()
                    .map(serde_json::to_string)
                    .transpose()
                    .map_err(|e| failed(Box::new(e)))?,
            ),
            Value::ChronoDate(d) => text(d.map(|d| d.format("%F").to_string())),
            Value::ChronoTime(t) => text(t.map(|t| t.format("%T%.f").to_string())),
            Value::ChronoDateTime(t) => text(t.map(|t| t.format("%F %T%.f").to_string())),
            Value::ChronoDateTimeUtc(t) => text(t.as_ref().map(moment::rfc3339_offset)),
            Value::ChronoDateTimeLocal(t) => text(t.as_ref().map(rfc3339)),
            Value::ChronoDateTimeWithTimeZone(t) => text(t.as_ref().map(rfc3339)),
            Value::Uuid(u) => u.map_or_else(null, |u| ToSqlOutput::from(u.as_bytes().to_vec())),
            other => {
                return Err(failed(format!("SQLite 不支持的参数类型：{other:?}").into()));
            }
        })
    }
}

fn rfc3339<Tz: chrono::TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

/// A stored time, in the forms sqlx reads (RFC 3339, or SQLite's `YYYY-MM-DD HH:MM:SS`).
pub(crate) fn datetime(text: &str) -> Option<DateTime<Utc>> {
    use chrono::NaiveDateTime;
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%F %T%.f", "%F %T%.f%:z", "%FT%T%.f", "%F %R"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.with_timezone(&Utc));
        }
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc());
        }
    }
    None
}

/// SQLite's busy and locked are "try again later" (503), as the store answers them from
/// sqlx; anything else is the statement's own failure.
pub(crate) fn error(error: &rusqlite::Error) -> StoreError {
    let busy = matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    let runtime = RuntimeErr::Internal(format!("SQLite: {error}"));
    StoreError::Database(if busy {
        DbErr::Conn(runtime)
    } else {
        DbErr::Exec(runtime)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_bind_as_sqlx_binds_them_and_read_back() {
        let at = DateTime::parse_from_rfc3339("2026-12-06T12:34:56.123456+00:00")
            .map(|t| t.with_timezone(&Utc))
            .ok();
        let value = Value::ChronoDateTimeUtc(at);
        let param = Param(&value);
        let Ok(ToSqlOutput::Owned(rusqlite::types::Value::Text(text))) = param.to_sql() else {
            panic!("a time binds as text");
        };
        assert_eq!(text, "2026-12-06T12:34:56.123456+00:00");
        assert_eq!(datetime(&text), at);
        assert_eq!(
            datetime("2026-12-06 12:34:56"),
            DateTime::parse_from_rfc3339("2026-12-06T12:34:56Z")
                .map(|t| t.with_timezone(&Utc))
                .ok()
        );
    }
}
