//! A unit of work: one write transaction in which the service stores what one command
//! decided (a transition, the numbers it draws, the documents it rendered) and then commits,
//! or drops it and nothing was written.
//!
//! The service, not the store, decides what goes into a unit and in which order: it draws a
//! document's number here, renders the document itself and stores it here, so the store
//! never renders anything, and a number is used only by a document committed with its
//! transition (a dropped unit returns the number to the sequence).

use std::sync::Arc;

use sea_orm::{DbBackend, TransactionTrait};

use super::conn::Conn;
use super::native::Native;
use super::pg::PgTxn;
use super::{Store, StoreError, WriteTxn};

/// One write transaction of the service. Dropping it without [`Unit::commit`] rolls back
/// everything written through it. After a method returned an error the unit may hold part
/// of that write: drop it (every caller in the service does, with `?`).
pub struct Unit<'s> {
    store: &'s Store,
    // `None` only while a restart swaps the transaction.
    txn: Option<Txn>,
    // Whether anything was written since the unit began, or since its last savepoint: only
    // a unit (or savepoint) with nothing in it can be restarted.
    written: bool,
    // Whether a savepoint was taken: a restart then rolls back to it, not the whole unit.
    in_savepoint: bool,
    // SQLite: a savepoint asked for but not sent yet. It goes out with the command's first
    // write (in the same call as its batch, see `Batch::run`), which saves the writer one
    // hand-over to the connection's thread per command; reads before it need no savepoint.
    savepoint_pending: bool,
}

/// The savepoint every command of a group runs in. One name serves them all: each new one
/// stacks on the ones before, and `ROLLBACK TO` names the latest (SQLite and PostgreSQL
/// alike). None is released: `COMMIT` commits the stack, and a release would be one more
/// call per command for nothing.
const SAVEPOINT: &str = "lianban_command";

/// A unit's transaction: on sqlx's pool, on the store's native SQLite connection, or on
/// one of PostgreSQL's writing connections.
enum Txn {
    Orm(WriteTxn),
    Native(NativeTxn),
    Pg(PgTxn),
}

/// A transaction open on the native connection (`BEGIN IMMEDIATE` sent), holding this
/// process's writer turn; rolled back when dropped uncommitted.
struct NativeTxn {
    native: Arc<Native>,
    open: bool,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for NativeTxn {
    fn drop(&mut self) {
        // Runs before the fields drop, so the next writer's turn comes after the rollback.
        if self.open {
            self.native.rollback();
        }
    }
}

impl std::fmt::Debug for Unit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unit")
            .field("written", &self.written)
            .field("in_savepoint", &self.in_savepoint)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens a unit of work (a write transaction; on SQLite it waits for this process's
    /// writer turn and takes the database's write lock at once).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn unit(&self) -> Result<Unit<'_>, StoreError> {
        let txn = match (&self.native, &self.pg) {
            (None, Some(pg)) => Txn::Pg(pg.writers.begin().await?),
            (None, None) => Txn::Orm(self.begin_write().await?),
            (Some(native), _) => {
                let turn = self.writer_turn().await;
                native.execute_unprepared("BEGIN IMMEDIATE")?;
                Txn::Native(NativeTxn {
                    native: Arc::clone(native),
                    open: true,
                    _turn: turn,
                })
            }
        };
        Ok(Unit {
            store: self,
            txn: Some(txn),
            written: false,
            in_savepoint: false,
            savepoint_pending: false,
        })
    }
}

impl<'s> Unit<'s> {
    /// Commits everything written through the unit.
    ///
    /// # Errors
    /// [`StoreError::Database`]; nothing was written then.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        match self.txn.take() {
            Some(Txn::Orm(txn)) => txn.commit().await?,
            Some(Txn::Native(mut txn)) => {
                txn.native.execute_unprepared("COMMIT")?;
                txn.open = false;
            }
            Some(Txn::Pg(txn)) => txn.commit().await?,
            None => {}
        }
        Ok(())
    }

    /// The open transaction's connection.
    pub(crate) fn txn(&self) -> Conn<'_> {
        // The option is only empty inside `restart`, which puts a transaction back or
        // fails; no method runs in between.
        match &self.txn {
            Some(Txn::Orm(txn)) => Conn::Orm(txn),
            Some(Txn::Native(txn)) => Conn::Native(&txn.native),
            Some(Txn::Pg(txn)) => Conn::PgTxn(txn),
            None => unreachable!("a unit's transaction is only absent inside restart"),
        }
    }

    /// The database backend the unit writes to.
    pub(crate) fn backend(&self) -> DbBackend {
        self.txn().backend()
    }

    /// The open transaction, for a write sent on its own: a savepoint still pending is sent
    /// first, so the write lands inside it. Marks the unit written.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the savepoint cannot be opened.
    pub(crate) async fn write_txn(&mut self) -> Result<Conn<'_>, StoreError> {
        if std::mem::take(&mut self.savepoint_pending) {
            self.txn()
                .execute_unprepared(&format!("SAVEPOINT {SAVEPOINT}"))
                .await?;
        }
        self.written = true;
        Ok(self.txn())
    }

    /// For a write that carries the pending savepoint itself: the statements that open it,
    /// to send first in the same call (SQLite's batches; `None` when none is pending). Marks
    /// the unit written.
    ///
    /// A batch checks the rows its writes changed, summed over its statements, and SQLite
    /// reports for a `SAVEPOINT` the count of the last write before it on the connection.
    /// A delete that matches nothing sets that count to 0 first, so the sum stays the
    /// writes' own.
    pub(crate) fn take_savepoint(&mut self) -> Option<String> {
        self.written = true;
        std::mem::take(&mut self.savepoint_pending)
            .then(|| format!("DELETE FROM history_heads WHERE 0;\nSAVEPOINT {SAVEPOINT}"))
    }

    /// Whether nothing was written yet, so a failed first attempt can start over.
    pub(crate) fn is_fresh(&self) -> bool {
        !self.written
    }

    /// Opens a savepoint: what is written from here on can be undone alone with
    /// [`Unit::rollback_to_savepoint`], leaving what the unit holds from before. A unit that
    /// carries several commands (a group commit) opens one before each.
    ///
    /// # Errors
    /// [`StoreError::Database`]; the whole unit must be dropped then.
    pub async fn savepoint(&mut self) -> Result<(), StoreError> {
        // On the native connection a statement costs no hand-over: sent at once.
        let native = matches!(self.txn(), Conn::Native(_));
        if let Some(Txn::Pg(txn)) = &self.txn {
            // Travels with the command's first statement.
            txn.ahead(format!("SAVEPOINT {SAVEPOINT}"));
        } else if self.backend() == DbBackend::Sqlite && !native {
            // Sent with the command's first write (`write_txn`, `take_savepoint`).
            self.savepoint_pending = true;
        } else {
            self.txn()
                .execute_unprepared(&format!("SAVEPOINT {SAVEPOINT}"))
                .await?;
        }
        self.in_savepoint = true;
        self.written = false;
        Ok(())
    }

    /// Undoes everything written since the latest [`Unit::savepoint`] (a command that lost
    /// its compare-and-set, broke a rule or failed to render), keeping what came before and
    /// returning the document numbers it drew. The savepoint stays open, empty.
    ///
    /// # Errors
    /// [`StoreError::Database`]; the whole unit must be dropped then.
    pub async fn rollback_to_savepoint(&mut self) -> Result<(), StoreError> {
        let unsent = match &self.txn {
            Some(Txn::Pg(txn)) => txn.take_back(&format!("SAVEPOINT {SAVEPOINT}")),
            _ => self.savepoint_pending,
        };
        if unsent {
            // Never sent: nothing was written since it was asked for.
            self.savepoint_pending = false;
            self.written = false;
            return Ok(());
        }
        self.txn()
            .execute_unprepared(&format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}"))
            .await?;
        self.written = false;
        Ok(())
    }

    /// Undoes the first write and lets it be made again, keeping this process's writer
    /// turn: a first write that found what it assumed out of date (a chain head that
    /// moved) is made again reading under the lock, without letting another writer in
    /// between. Only for a unit (or savepoint) that was fresh before that first write:
    /// inside a savepoint it rolls back to it, otherwise the whole transaction is rolled
    /// back and begun again.
    pub(crate) async fn restart(&mut self) -> Result<(), StoreError> {
        if self.in_savepoint {
            return self.rollback_to_savepoint().await;
        }
        self.written = false;
        if let Some(Txn::Pg(txn)) = &self.txn {
            // The connection stays the unit's; `BEGIN` goes again with the next statement.
            return txn.rollback().await;
        }
        match self.txn.take() {
            Some(Txn::Orm(WriteTxn { txn, _turn: turn })) => {
                txn.rollback().await?;
                let txn = self.store.db.begin_with_options(immediate()).await?;
                self.txn = Some(Txn::Orm(WriteTxn { txn, _turn: turn }));
            }
            Some(Txn::Native(txn)) => {
                txn.native.rollback();
                txn.native.execute_unprepared("BEGIN IMMEDIATE")?;
                self.txn = Some(Txn::Native(txn));
            }
            // Rolled back above, without taking the transaction out.
            Some(txn @ Txn::Pg(_)) => self.txn = Some(txn),
            None => {}
        }
        Ok(())
    }
}

/// The options of every write transaction: on SQLite the write lock is taken at `BEGIN`.
pub(crate) fn immediate() -> sea_orm::TransactionOptions {
    sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    }
}
