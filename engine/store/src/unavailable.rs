//! Telling "the database is down, slow or busy" apart from other failures, so the web layer
//! can answer 503 with Retry-After (the client should try again) instead of 500.

use sea_orm::{DbErr, RuntimeErr};

use super::StoreError;

impl StoreError {
    /// Whether the database could not be reached in time: no pooled connection within the
    /// acquire timeout, a lost connection, PostgreSQL's statement timeout or a shutting-down
    /// server, or SQLite still locked after its busy timeout. The transaction was rolled
    /// back, so nothing was written and a retry is safe.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(e) => db_unavailable(e),
            _ => false,
        }
    }
}

impl StoreError {
    /// Whether PostgreSQL broke a deadlock or a serialization failure by failing this
    /// command (SQLSTATE `40P01`, `40001`). Its writes were rolled back (its savepoint, or
    /// its transaction when alone), and running it again is the remedy the database asks
    /// for. With several writer lanes, two groups can take shared counters (case numbers,
    /// document numbers of a prefix and year) in opposite orders; the database then fails
    /// one of them.
    pub fn is_transient(&self) -> bool {
        if let StoreError::Database(e) = self
            && let Some(code) = super::pg::sqlstate(e)
        {
            return transient_sqlstate(code);
        }
        let StoreError::Database(
            DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)),
        ) = self
        else {
            return false;
        };
        match &**e {
            sea_orm::sqlx::Error::Database(db) => db.code().is_some_and(|c| transient_sqlstate(&c)),
            _ => false,
        }
    }
}

fn db_unavailable(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            sqlx_unavailable(e)
        }
        _ => false,
    }
}

fn sqlx_unavailable(error: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match error {
        Error::PoolTimedOut | Error::PoolClosed | Error::Io(_) | Error::WorkerCrashed => true,
        Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // SQLite: 5 SQLITE_BUSY, 6 SQLITE_LOCKED (and their extended codes).
            unavailable_sqlstate(&code)
                || code.parse::<i64>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
        }
        _ => false,
    }
}

/// Whether a PostgreSQL SQLSTATE says the database could not serve in time: 57014 statement
/// timeout, 55P03 lock timeout, 57P0x server shutting down or not accepting connections,
/// class 08 connection exceptions. Read from sqlx's errors and from the store's own
/// connections (`pg`) alike.
pub(crate) fn unavailable_sqlstate(code: &str) -> bool {
    matches!(code, "57014" | "55P03" | "57P01" | "57P02" | "57P03") || code.starts_with("08")
}

/// Whether a PostgreSQL SQLSTATE is a deadlock (40P01) or a serialization failure (40001),
/// which running the command again resolves.
pub(crate) fn transient_sqlstate(code: &str) -> bool {
    matches!(code, "40P01" | "40001")
}
