//! Persistence through sea-orm: definition versions, cases, tasks, history, issued
//! documents, accounts and sessions, on SQLite (the default) or PostgreSQL. This is the
//! only crate that imports `sea_orm`; it stores what the runtime decided and decides nothing
//! itself, and it renders nothing: the service writes a transition, the numbers it draws
//! and the documents it rendered in one [`Unit`] of work.
//!
//! The service (`lianban::service::Engine`) is the only caller that decides what to write;
//! this crate carries no orchestration.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lianban_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, Statement, TransactionTrait,
};

use lianban_core::runtime::{CaseId, TaskId};

mod absences;
mod access;
mod accounts;
mod apikeys;
mod archive;
mod audit;
mod backup;
mod batch;
mod cases;
mod conn;
mod dashboard;
mod definitions;
mod documents;
mod entity;
mod explain;
mod idempotency;
mod leases;
mod native;
mod outbox;
mod pg;
mod push_tables;
mod records;
mod schedule_runs;
mod states;
mod tasks;
mod timers;
mod unavailable;
mod unit;

pub use absences::NewAbsence;
pub use access::CaseScope;
pub use accounts::{NewAccount, SessionRecord};
pub use apikeys::{ApiKeyRecord, NewApiKey};
pub use archive::{Archived, ArchivedDocument, CaseArchive};
pub use audit::{AuditReport, BrokenLink, ChainHead, Problem};
pub use backup::{BackupError, restore};
pub use cases::{Basis, Prepared};
pub use dashboard::{ClosedTask, StepCount, SupplementCounts, TaskCounts};
pub use definitions::StoredVersion;
pub use explain::QueryPlan;
pub use idempotency::{KeyClaim, KeyUse, StoredAnswer};
pub use outbox::{OutboxMessage, OutboxStatus, Receipt};
pub use push_tables::{NewPushTable, PushTableRecord, PushTableSummary};
pub use records::{
    CaseQuery, CaseRecord, CaseSummary, Change, DocumentId, DocumentRecord, HistoryEntry,
    Registration, SecondRequest, TaskQuery, TaskRecord,
};
pub use schedule_runs::{RunStatus, ScheduleRun};
pub use tasks::DepartmentLoad;
pub use timers::{NoticeRecord, TimerLost, TimerRecord};
pub use unit::Unit;

/// Handle on the database; cheap to clone (it shares one connection pool).
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// SQLite only: the queue for its single writer (see `Store::begin_write`).
    writer: Option<Arc<tokio::sync::Mutex<()>>>,
    /// SQLite file only, unless switched off: the connection units write on, driven in the
    /// writer's thread without sqlx (see `native`).
    native: Option<Arc<native::Native>>,
    /// With `native`: the connections the hottest reads run on.
    readers: Option<Arc<native::Readers>>,
    /// PostgreSQL, unless switched off or the server needs TLS: the connections the
    /// hottest reads and the units run on (see `pg`).
    pg: Option<Arc<pg::Postgres>>,
}

/// Declares a handle on one aggregate of the store and the `Store` method that hands it
/// out. A handle borrows the store and costs nothing; it only groups the methods.
macro_rules! handles {
    ($($(#[$doc:meta])* $name:ident => $method:ident;)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $name<'s> {
                store: &'s Store,
            }
        )*

        impl Store {
            $(
                $(#[$doc])*
                pub fn $method(&self) -> $name<'_> {
                    $name { store: self }
                }
            )*
        }
    };
}

handles! {
    /// Cases and their history: reading one case, who may see it, recorded views.
    Cases => cases;
    /// Tasks, one at a time (lists are [`Reads`]).
    Tasks => tasks;
    /// Issued documents and push tables (issuing itself goes through a [`Unit`]).
    Documents => documents;
    /// Accounts, sessions, API keys and the idempotency keys of API requests.
    Accounts => accounts;
    /// Background work: timers, escalation notices, the outbox, schedule runs and leases.
    Jobs => jobs;
    /// Read models: the inbox, case lists and the supervision dashboard.
    Reads => reads;
    /// Definition versions and the sources cases run on.
    Definitions => definitions;
    /// Operations: backups, archive exports, the audit chain check, query plans.
    Admin => admin;
}

/// A write transaction, holding SQLite's in-process writer turn until it is committed or
/// dropped (rolled back). Derefs to the transaction; generic sea-orm calls take `&*txn`.
/// Private to the store, like the connection itself: no caller outside writes SQL on the
/// store's pool.
pub(crate) struct WriteTxn {
    // Declared first so the transaction ends before the turn passes to the next writer.
    txn: DatabaseTransaction,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl std::ops::Deref for WriteTxn {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

impl WriteTxn {
    /// Commits, then lets the next writer in.
    pub(crate) async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }
}

/// How SQLite syncs to disk at commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// `synchronous=FULL`: a committed transaction survives a power cut.
    #[default]
    Full,
    /// `synchronous=NORMAL`: faster; in WAL mode a power cut may lose the last commits,
    /// but never corrupts the database.
    Normal,
}

impl Synchronous {
    /// `full` or `normal`, in any case and with surrounding blanks; `None` for anything
    /// else (SQLite's `off` and `extra` are not offered: one risks corruption, the other
    /// buys nothing over FULL in WAL mode).
    pub fn parse(text: &str) -> Option<Synchronous> {
        match text.trim().to_ascii_lowercase().as_str() {
            "full" => Some(Synchronous::Full),
            "normal" => Some(Synchronous::Normal),
            _ => None,
        }
    }
}

/// Connection settings beyond the URL.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// SQLite only: durability of commits.
    pub sqlite_synchronous: Synchronous,
    /// SQLite only: how long a writer waits for another writer before failing.
    pub sqlite_busy_timeout: Duration,
    /// Size of the connection pool.
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before it fails (503).
    pub acquire_timeout: Duration,
    /// PostgreSQL only: the server cancels a statement that runs (or waits for a lock)
    /// longer than this, so a stuck database fails requests instead of hanging them.
    pub statement_timeout: Duration,
    /// SQLite only: units (the service's group commits) write on a connection of their
    /// own, and the hottest reads (a case, the case of a task, an inbox page) run on
    /// connections of their own, all driven in the caller's thread through SQLite's C
    /// library instead of through sqlx's pool. On by default; off is for measuring the
    /// difference.
    pub sqlite_native: bool,
    /// PostgreSQL only: the hottest reads run pipelined on two connections of their own,
    /// and units on four more, driven by tokio-postgres instead of sqlx, which waits for
    /// each statement's answer before sending the next and checks every connection with a
    /// round trip when it is put back in the pool. Used only where the connection needs no
    /// TLS (`sslmode=disable`, or a server on this machine); on by default, off is for
    /// measuring the difference.
    pub postgres_native: bool,
}

impl StoreOptions {
    /// The pool sizes an operator may choose (`LIANBAN_DB_MAX_CONNECTIONS`): at least one
    /// connection, and no more than a database server is sensibly asked for by one process.
    pub const MAX_CONNECTIONS: std::ops::RangeInclusive<u32> = 1..=1000;
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            sqlite_synchronous: Synchronous::Full,
            sqlite_busy_timeout: Duration::from_secs(5),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(30),
            sqlite_native: true,
            postgres_native: true,
        }
    }
}

/// The SQLite settings a pooled connection actually runs with (read back, not assumed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteSettings {
    /// `PRAGMA journal_mode`, e.g. `wal`.
    pub journal_mode: String,
    /// `PRAGMA synchronous`: 0 off, 1 normal, 2 full, 3 extra.
    pub synchronous: i64,
    /// `PRAGMA busy_timeout` in milliseconds.
    pub busy_timeout_ms: i64,
    /// `PRAGMA foreign_keys`: 1 when enforced.
    pub foreign_keys: i64,
}

impl SqliteSettings {
    /// The name of the `synchronous` level, as an operator sets it (`full`, `normal`).
    pub fn synchronous_name(&self) -> &'static str {
        match self.synchronous {
            0 => "off",
            1 => "normal",
            2 => "full",
            3 => "extra",
            _ => "unknown",
        }
    }
}

/// The connection settings in force, read back from the pool and the database rather than
/// taken from the options asked for, so the startup log shows what really runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// The most connections the pool opens.
    pub max_connections: u32,
    /// SQLite only: the settings of one pooled connection.
    pub sqlite: Option<SqliteSettings>,
}

/// Something a caller named that does not exist: the one "not found" of the store and of
/// the service above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Missing {
    /// No such case.
    #[error("办件 {0} 不存在")]
    Case(CaseId),
    /// No such task.
    #[error("任务 {0} 不存在")]
    Task(TaskId),
}

/// Why the store could not do what was asked. Nothing was written when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The case changed since it was read (another command won the compare-and-set).
    #[error("办件 {case} 已被他人修改，请刷新后重试")]
    Conflict {
        /// The case.
        case: CaseId,
    },
    /// The case or task a caller named does not exist.
    #[error("{0}")]
    NotFound(Missing),
    /// An account with this user name exists already.
    #[error("用户名 {0} 已被使用")]
    UsernameTaken(String),
    /// An API key with this name exists already.
    #[error("API 密钥名称 {0} 已被使用")]
    NameTaken(String),
    /// A definition's content changed while cases already run on its version.
    #[error(
        "流程 {process} 第 {version} 版已有办件在办理，不能修改其内容：请把定义文件中的 version 改为 {next} 后重新加载",
        next = version + 1
    )]
    VersionChanged {
        /// Process id.
        process: String,
        /// The version whose content changed.
        version: u32,
    },
    /// A transition names a task its state does not contain (a runtime bug).
    #[error("状态转换引用了办件 {case} 中不存在的任务 {task}")]
    MissingTask {
        /// The case.
        case: CaseId,
        /// The task.
        task: TaskId,
    },
    /// A stored value does not read back as expected (edited by hand, or a schema bug).
    #[error("表 {table} 中 {id} 的 {column} 无法读取")]
    Corrupt {
        /// Table.
        table: &'static str,
        /// Row id.
        id: String,
        /// Column.
        column: &'static str,
    },
    /// The directory of the SQLite file could not be created.
    #[error("无法创建数据库目录 {path}")]
    CreateDir {
        /// The directory.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A claimed timer was taken over or removed before it could be marked fired.
    #[error(transparent)]
    TimerLost(#[from] TimerLost),
    /// The database refused or failed.
    #[error("数据库错误")]
    Database(#[from] DbErr),
    /// A state or event did not (de)serialize.
    #[error("数据序列化失败")]
    Serialization(#[from] serde_json::Error),
}

impl StoreError {
    /// A copy of this error for each of several callers one failure stopped together (a
    /// group of commands whose shared transaction could not begin or commit): a conflict or
    /// a missing case as it was, anything else with the same `is_unavailable` (so each is
    /// answered 503 or 500 as the one who met it would be) and its text.
    pub fn shared_copy(&self) -> StoreError {
        match self {
            StoreError::Conflict { case } => StoreError::Conflict { case: *case },
            StoreError::NotFound(missing) => StoreError::NotFound(*missing),
            other if other.is_unavailable() => StoreError::Database(DbErr::Conn(
                sea_orm::RuntimeErr::Internal(format!("{other:?}")),
            )),
            other => StoreError::Database(DbErr::Custom(format!("{other:?}"))),
        }
    }

    /// A stable code for the error, beside the Chinese message.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Conflict { .. } => "conflict",
            StoreError::NotFound(_) => "not-found",
            StoreError::UsernameTaken(_) => "username-taken",
            StoreError::NameTaken(_) => "name-taken",
            StoreError::VersionChanged { .. } => "version-changed",
            StoreError::MissingTask { .. } => "missing-task",
            StoreError::Corrupt { .. } => "corrupt",
            StoreError::CreateDir { .. } => "create-dir",
            StoreError::TimerLost(_) => "timer-lost",
            StoreError::Database(_) if self.is_unavailable() => "unavailable",
            StoreError::Database(_) => "database",
            StoreError::Serialization(_) => "serialization",
        }
    }
}

/// The URL to connect to for what an operator typed: `postgres://…` as given; a
/// `sqlite:` URL gains `mode=rwc` (create the file when missing) unless it names a mode; a
/// plain path (`/var/lib/lianban/l.db`) is a SQLite file. Without this, `sqlite:///x.db`
/// fails on a new install with SQLite's bare "unable to open database file".
pub fn database_url(input: &str) -> String {
    let input = input.trim();
    if input.starts_with("postgres://") || input.starts_with("postgresql://") {
        return input.to_owned();
    }
    let url = if input.starts_with("sqlite:") {
        input.to_owned()
    } else {
        format!("sqlite://{input}")
    };
    if url.contains("mode=") || url.contains(":memory:") {
        url
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// How long a pooled connection may have stood idle and still be handed out without a ping.
const POOL_IDLE_PING: std::time::Duration = std::time::Duration::from_secs(5);

/// The pool settings the store connects to `url` with: the pool size and timeouts of
/// `options`, and on SQLite WAL, the chosen `synchronous`, the busy timeout and foreign
/// keys on every pooled connection. Public so that a program measuring the database beside
/// the store (`lianban bench`'s raw bound) opens its own pool exactly alike: the store
/// never hands out its own connection.
pub fn connect_options(url: &str, options: &StoreOptions) -> ConnectOptions {
    let url = database_url(url);
    let sqlite = url.starts_with("sqlite:");
    let mut connect = ConnectOptions::new(url);
    connect
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .statement_timeout(options.statement_timeout)
        // sqlx pings a connection when it goes back to the pool, and by default again when
        // it is taken out: one more round trip before every read on PostgreSQL (a tenth of
        // the engine's time there, `docs/performance.md`, session 12). A connection used a
        // moment ago passed the first ping; only one idle for a while (the server may have
        // restarted, a firewall may have dropped it) is pinged again before use.
        .test_before_acquire_if_idle_for(POOL_IDLE_PING)
        // Statements are traced by sea-orm's spans; sqlx's own log would repeat them.
        .sqlx_logging(false);
    if sqlite {
        let synchronous = match options.sqlite_synchronous {
            Synchronous::Full => SqliteSynchronous::Full,
            Synchronous::Normal => SqliteSynchronous::Normal,
        };
        let busy = options.sqlite_busy_timeout;
        // Connect options apply to every connection the pool opens, not only the first.
        connect.map_sqlx_sqlite_opts(move |opts: SqliteConnectOptions| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .busy_timeout(busy)
                .foreign_keys(true)
                // The writer runs each command of a group in a savepoint; with temporary
                // files on disk SQLite creates, and on close deletes, a sub-journal file for
                // them, which showed in the profile as a file created and evicted per group.
                .pragma("temp_store", "MEMORY")
        });
    }
    connect
}

impl Store {
    /// Connects with the default [`StoreOptions`]. The operator's choices (pool size,
    /// SQLite synchronous) reach the store through [`Store::connect_with`]: the binary
    /// reads them with its other settings, so nothing here looks at the environment.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the database cannot be reached or opened.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_with(url, StoreOptions::default()).await
    }

    /// Connects to a `sqlite:` or `postgres:` URL. For SQLite the file's directory is
    /// created when missing, and every pooled connection runs with WAL, the chosen
    /// `synchronous`, a busy timeout and foreign keys on.
    ///
    /// # Errors
    /// [`StoreError::CreateDir`] or [`StoreError::Database`].
    pub async fn connect_with(url: &str, options: StoreOptions) -> Result<Store, StoreError> {
        let url = &database_url(url);
        if url.starts_with("sqlite:") {
            create_parent_dir(url)?;
        }
        let db = Database::connect(connect_options(url, &options)).await?;
        let sqlite = db.get_database_backend() == DbBackend::Sqlite;
        let writer = sqlite.then(|| Arc::new(tokio::sync::Mutex::new(())));
        let (native, readers) = match native::file_of(url) {
            Some(path) if sqlite && options.sqlite_native => {
                // What the writer writes, the readers find decoded.
                let states = Arc::new(states::States::default());
                (
                    // The pool opened (and created) the file first, with WAL switched on.
                    Some(Arc::new(native::Native::open(
                        &path,
                        &options,
                        Arc::clone(&states),
                    )?)),
                    Some(Arc::new(native::Readers::new(&path, &options, states))),
                )
            }
            _ => (None, None),
        };
        let pg = (!sqlite && options.postgres_native)
            .then(|| pg::Postgres::new(url, &options))
            .flatten()
            .map(Arc::new);
        Ok(Store {
            db,
            writer,
            native,
            readers,
            pg,
        })
    }

    /// Applies every pending migration.
    ///
    /// # Errors
    /// [`StoreError::Database`] when a migration fails.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// How many migrations this build knows that the database has not applied, read without
    /// writing anything (a fresh database has them all pending).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn pending_migrations(&self) -> Result<usize, StoreError> {
        Ok(Migrator::get_pending_migrations_read_only(&self.db)
            .await?
            .len())
    }

    /// Checks that the database answers.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await?;
        Ok(())
    }

    /// Closes the pool, waiting for its connections to finish (e.g. before another process
    /// opens the same SQLite file).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn close(self) -> Result<(), StoreError> {
        if let Some(pg) = &self.pg {
            pg.close();
        }
        self.db.close().await?;
        Ok(())
    }

    /// Whether units write on SQLite's C library in the caller's thread (see
    /// [`StoreOptions::sqlite_native`]): the caller should be a thread of its own
    /// that may block on the disk.
    pub fn writes_natively(&self) -> bool {
        self.native.is_some()
    }

    /// Where the hottest reads run (see [`StoreOptions::sqlite_native`]).
    pub(crate) fn read(&self) -> conn::Conn<'_> {
        match (&self.readers, &self.pg) {
            (Some(readers), _) => conn::Conn::Readers(readers),
            (None, Some(pg)) => conn::Conn::PgReaders(&pg.readers, &self.db),
            (None, None) => conn::Conn::Pool(&self.db),
        }
    }

    /// Whether this store runs on SQLite (as opposed to PostgreSQL).
    pub fn is_sqlite(&self) -> bool {
        self.db.get_database_backend() == DbBackend::Sqlite
    }

    /// Reads the SQLite settings of one pooled connection; `None` on PostgreSQL.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn sqlite_settings(&self) -> Result<Option<SqliteSettings>, StoreError> {
        if !self.is_sqlite() {
            return Ok(None);
        }
        // One transaction pins one connection, so all four values describe the same one.
        let txn = self.db.begin().await?;
        let settings = SqliteSettings {
            journal_mode: pragma(&txn, "journal_mode").await?,
            synchronous: pragma(&txn, "synchronous").await?,
            busy_timeout_ms: pragma(&txn, "busy_timeout").await?,
            foreign_keys: pragma(&txn, "foreign_keys").await?,
        };
        txn.commit().await?;
        Ok(Some(settings))
    }

    /// The settings the pool and its connections run with (see [`ConnectionSettings`]).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn connection_settings(&self) -> Result<ConnectionSettings, StoreError> {
        // Each pool getter panics on the other backend, so ask only the one in use.
        let (backend, max_connections) = if self.is_sqlite() {
            let pool = self.db.get_sqlite_connection_pool();
            ("sqlite", pool.options().get_max_connections())
        } else {
            let pool = self.db.get_postgres_connection_pool();
            ("postgres", pool.options().get_max_connections())
        };
        Ok(ConnectionSettings {
            backend,
            max_connections,
            sqlite: self.sqlite_settings().await?,
        })
    }

    /// Starts a write transaction. On SQLite it takes the write lock at `BEGIN` (IMMEDIATE),
    /// so a transaction that reads before it writes waits instead of failing when it later
    /// tries to upgrade; and writers of this process first queue for their turn in memory.
    /// SQLite has one writer per database, and a connection refused the lock waits in its
    /// busy handler, which sleeps in steps of up to 100 ms however soon the lock frees; a
    /// FIFO turn hands the lock over as soon as the previous commit returns. Other
    /// processes (a CLI command, a second server) still meet the busy timeout.
    pub(crate) async fn begin_write(&self) -> Result<WriteTxn, StoreError> {
        let turn = self.writer_turn().await;
        let txn = self.db.begin_with_options(unit::immediate()).await?;
        Ok(WriteTxn { txn, _turn: turn })
    }

    /// This process's turn to write SQLite (see [`Store::begin_write`]); `None` on
    /// PostgreSQL, where writers do not queue.
    pub(crate) async fn writer_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.writer {
            Some(writer) => Some(Arc::clone(writer).lock_owned().await),
            None => None,
        }
    }
}

async fn pragma<T>(txn: &DatabaseTransaction, name: &str) -> Result<T, StoreError>
where
    T: sea_orm::TryGetable,
{
    let sql = format!("PRAGMA {name}");
    let row = txn
        .query_one_raw(Statement::from_string(DbBackend::Sqlite, sql))
        .await?
        .ok_or(StoreError::Corrupt {
            table: "pragma",
            id: name.to_owned(),
            column: "value",
        })?;
    Ok(row.try_get_by_index(0)?)
}

/// Creates the directory of a `sqlite://dir/file.db?…` URL, so the default URL works on a
/// fresh checkout.
fn create_parent_dir(url: &str) -> Result<(), StoreError> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path.starts_with(':') {
        return Ok(()); // in-memory database
    }
    match Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.display().to_string(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// Applies a page to a sea-orm query ([`page_statement`]).
fn page<S: sea_orm::QuerySelect>(mut select: S, limit: Option<u64>, offset: u64) -> S {
    page_statement(select.query(), limit, offset);
    select
}

/// Applies a page. SQLite accepts OFFSET only after a LIMIT, so "no limit" with an offset is
/// spelled as the largest LIMIT both backends accept.
fn page_statement(
    select: &mut sea_orm::sea_query::SelectStatement,
    limit: Option<u64>,
    offset: u64,
) {
    if offset == 0 {
        if let Some(limit) = limit {
            select.limit(limit);
        }
        return;
    }
    select
        .limit(limit.unwrap_or(i64::MAX.unsigned_abs()))
        .offset(offset);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_database_urls_open_or_create_sqlite_files() {
        assert_eq!(database_url("/tmp/l.db"), "sqlite:///tmp/l.db?mode=rwc");
        assert_eq!(database_url("data/l.db"), "sqlite://data/l.db?mode=rwc");
        assert_eq!(
            database_url("sqlite:///tmp/l.db"),
            "sqlite:///tmp/l.db?mode=rwc"
        );
        assert_eq!(
            database_url("sqlite://x.db?cache=shared"),
            "sqlite://x.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            database_url("sqlite://x.db?mode=ro"),
            "sqlite://x.db?mode=ro"
        );
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
    }

    #[test]
    fn synchronous_is_full_or_normal() {
        assert_eq!(Synchronous::parse(" NORMAL "), Some(Synchronous::Normal));
        assert_eq!(Synchronous::parse("full"), Some(Synchronous::Full));
        assert_eq!(Synchronous::parse("off"), None);
        assert_eq!(
            StoreOptions::default().sqlite_synchronous,
            Synchronous::Full
        );
    }
}
