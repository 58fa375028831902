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
            // PostgreSQL: 57014 statement timeout, 55P03 lock timeout, 57P0x server
            // shutting down or not accepting connections, class 08 connection exceptions.
            // SQLite: 5 SQLITE_BUSY, 6 SQLITE_LOCKED (and their extended codes).
            matches!(
                code.as_ref(),
                "57014" | "55P03" | "57P01" | "57P02" | "57P03"
            ) || code.starts_with("08")
                || code.parse::<i64>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
        }
        _ => false,
    }
}
