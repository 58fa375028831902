//! PostgreSQL without sqlx's pool, on connections of the store's own driven by
//! tokio-postgres: the hottest reads ([`PgReaders`]) and the units of work ([`PgWriters`]).
//!
//! sqlx waits for each statement's answer before it sends the next, and its pool sends every
//! connection that goes back to it a `Sync` and waits for that answer too (unconditionally,
//! in `Floating::return_to_pool`). On a machine where PostgreSQL shares the cores with the
//! service, the wake-ups of both sides are what the time goes to: the same statements cost
//! PostgreSQL 3.46 ms of CPU per benchmark case through sqlx and 1.95 ms pipelined
//! (`docs/performance.md`, session 16).
//!
//! - Readers: a case, the case of a task, a task, an inbox page run on two connections
//!   shared by every reader at once; the queries of concurrent readers travel pipelined,
//!   each answered in order. A query that binds a value these connections do not know goes
//!   to sqlx's pool.
//! - Writers: a unit takes a connection of its own for its transaction. `BEGIN` and each
//!   command's `SAVEPOINT` wait to travel with the next statement, and a batch's writes go
//!   out together, each a prepared statement of its own, so a command is one flight.
//!
//! Both are used only when the connection needs no TLS: the URL says `sslmode=disable`, or
//! the server is this machine (a loopback address or a Unix socket) and the URL does not ask
//! for TLS. Otherwise everything goes through sqlx as before.

use std::collections::HashMap;
use std::str::FromStr as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sea_orm::sea_query::Value;
use sea_orm::{DbErr, RuntimeErr, Statement};
use std::future::Future;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Config, NoTls, Row};

use super::conn::{Cells, values};
use super::{StoreError, StoreOptions};
use lianban_core::runtime::CaseState;

/// Prepared statements a connection keeps; past it the cache starts over. The hot reads are
/// a handful of statements; the bound only matters for lists whose SQL varies with a filter.
const STATEMENTS_KEPT: usize = 256;

/// The `application_name` of the reading connections, unless the URL names one.
pub(crate) const APPLICATION_NAME: &str = "lianban-reader";

/// The `application_name` of the writing connections, unless the URL names one.
pub(crate) const WRITER_NAME: &str = "lianban-writer";

/// Writing connections: as many as the service's writer has lanes by default
/// (`WriteQueue::postgres_lanes`); a unit beyond them waits for one to come free.
const WRITERS: usize = 4;

/// How to reach the server, shared by readers and writers.
#[derive(Debug)]
struct Link {
    config: Config,
    statement_timeout: Duration,
    connect_timeout: Duration,
    // Set by `close`: reads and units fail as on a closed pool instead of connecting again.
    closed: AtomicBool,
}

/// PostgreSQL's own connections (see the module).
#[derive(Debug)]
pub(crate) struct Postgres {
    /// For the hottest reads.
    pub(crate) readers: PgReaders,
    /// For units of work.
    pub(crate) writers: PgWriters,
}

impl Postgres {
    /// Connections to the server at `url`, or `None` when the URL does not parse for
    /// tokio-postgres or the connection would need TLS (see the module). Nothing connects
    /// before the first use.
    pub(crate) fn new(url: &str, options: &StoreOptions) -> Option<Postgres> {
        let config = match Config::from_str(url) {
            Ok(config) => config,
            Err(e) => {
                tracing::debug!(error = %e, "PostgreSQL 自有连接不可用，读写走连接池");
                return None;
            }
        };
        if !without_tls(&config) {
            return None;
        }
        let link = Arc::new(Link {
            config,
            statement_timeout: options.statement_timeout,
            connect_timeout: options.acquire_timeout,
            closed: AtomicBool::new(false),
        });
        // Two reading connections keep both of PostgreSQL's backends busy on a small
        // machine; more readers share them pipelined. A pool of one gets one.
        let readers = usize::try_from(options.max_connections)
            .unwrap_or(1)
            .clamp(1, 2);
        Some(Postgres {
            readers: PgReaders {
                link: Arc::clone(&link),
                slots: (0..readers).map(|_| Slot::default()).collect(),
                next: AtomicUsize::new(0),
            },
            writers: PgWriters {
                link,
                slots: (0..WRITERS)
                    .map(|_| Arc::new(tokio::sync::Mutex::new(None)))
                    .collect(),
                next: AtomicUsize::new(0),
            },
        })
    }

    /// Closes the connections (with the store's pool); later reads and units fail.
    pub(crate) fn close(&self) {
        self.readers.link.closed.store(true, Ordering::SeqCst);
        for slot in &self.readers.slots {
            // Dropping the last handle on a client ends its connection.
            *lock(&slot.live) = None;
        }
        for slot in &self.writers.slots {
            // A unit holding one drops it when it ends.
            if let Ok(mut live) = slot.try_lock() {
                *live = None;
            }
        }
    }
}

/// The reading connections (see the module).
#[derive(Debug)]
pub(crate) struct PgReaders {
    link: Arc<Link>,
    slots: Vec<Slot>,
    next: AtomicUsize,
}

/// One connection, opened on first need and again after it was lost.
#[derive(Debug, Default)]
struct Slot {
    live: Mutex<Option<Arc<Live>>>,
    // Held while connecting, so readers that find the slot empty open one connection.
    connecting: tokio::sync::Mutex<()>,
}

/// An open connection and the statements prepared on it.
struct Live {
    client: Client,
    statements: Mutex<HashMap<(String, Vec<Type>), tokio_postgres::Statement>>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("closed", &self.client.is_closed())
            .finish_non_exhaustive()
    }
}

impl PgReaders {
    /// Runs `statement` (built for PostgreSQL) and reads each row with `read`; `None` when
    /// it binds a value these connections do not bind, for the caller to run on the pool.
    ///
    /// # Errors
    /// [`StoreError::Database`]: the server's error, or a connection that could not be
    /// opened (then [`StoreError::is_unavailable`]).
    pub(crate) async fn query<T>(
        &self,
        statement: &Statement,
        read: &impl Fn(&dyn Cells) -> Result<T, StoreError>,
    ) -> Option<Result<Vec<T>, StoreError>> {
        let bound: Vec<(Type, Bound)> =
            values(statement).iter().map(bind).collect::<Option<_>>()?;
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        Some(match self.run(slot, &statement.sql, &bound, read).await {
            // The server closed the connection since its last use (a restart, an idle
            // timeout): a read changes nothing, so it is sent once more on a new one.
            Err(Lost(live)) => {
                forget(slot, &live);
                match self.run(slot, &statement.sql, &bound, read).await {
                    Err(Lost(_)) => Err(unavailable("PostgreSQL 读取连接已断开".to_owned())),
                    Ok(rows) => rows,
                }
            }
            Ok(rows) => rows,
        })
    }

    /// Runs the query on `slot`'s connection; `Err(Lost(..))` when that connection turned out
    /// closed before it answered.
    async fn run<T>(
        &self,
        slot: &Slot,
        sql: &str,
        bound: &[(Type, Bound)],
        read: &impl Fn(&dyn Cells) -> Result<T, StoreError>,
    ) -> Result<Result<Vec<T>, StoreError>, Lost> {
        let live = match self.live(slot).await {
            Ok(live) => live,
            Err(e) => return Ok(Err(e)),
        };
        let answer = Self::ask(&live, sql, bound).await;
        match answer {
            Err(e) if e.is_closed() => Err(Lost(live)),
            Err(e) => Ok(Err(error(&e))),
            Ok(rows) => Ok(rows.iter().map(|row| read(row)).collect()),
        }
    }

    async fn ask(
        live: &Live,
        sql: &str,
        bound: &[(Type, Bound)],
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        let prepared = live.prepared(sql, bound).await?;
        live.client.query(&prepared, &params_of(bound)).await
    }

    /// The slot's connection, opened when it has none or lost it.
    async fn live(&self, slot: &Slot) -> Result<Arc<Live>, StoreError> {
        self.link.check_open()?;
        if let Some(live) = open(slot) {
            return Ok(live);
        }
        let _connecting = slot.connecting.lock().await;
        if let Some(live) = open(slot) {
            return Ok(live);
        }
        let live = Arc::new(self.link.connect(APPLICATION_NAME).await?);
        *lock(&slot.live) = Some(Arc::clone(&live));
        if self.link.closed.load(Ordering::SeqCst) {
            // Closed while this one connected: it goes with the others.
            *lock(&slot.live) = None;
            return Err(unavailable("数据库连接已关闭".to_owned()));
        }
        Ok(live)
    }
}

impl Link {
    fn check_open(&self) -> Result<(), StoreError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(unavailable("数据库连接已关闭".to_owned()));
        }
        Ok(())
    }

    async fn connect(&self, name: &str) -> Result<Live, StoreError> {
        let mut config = self.config.clone();
        if config.get_application_name().is_none() {
            // Tells these connections apart from the pool's in `pg_stat_activity`.
            config.application_name(name);
        }
        let connecting = async {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "PostgreSQL 连接中断，下次使用时重连");
                }
            });
            // The pool's connections run with the same limit (`connect_options`).
            client
                .batch_execute(&format!(
                    "SET statement_timeout = {}",
                    self.statement_timeout.as_millis()
                ))
                .await?;
            Ok::<_, tokio_postgres::Error>(client)
        };
        let client = tokio::time::timeout(self.connect_timeout, connecting)
            .await
            .map_err(|_| unavailable("连接 PostgreSQL 超时".to_owned()))?
            .map_err(|e| error(&e))?;
        Ok(Live {
            client,
            statements: Mutex::new(HashMap::new()),
        })
    }
}

impl Live {
    /// `sql` prepared on this connection with the types of `bound` (prepared once, then
    /// taken from the connection's cache).
    async fn prepared(
        &self,
        sql: &str,
        bound: &[(Type, Bound)],
    ) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
        let types: Vec<Type> = bound.iter().map(|(ty, _)| ty.clone()).collect();
        let key = (sql.to_owned(), types);
        if let Some(prepared) = lock(&self.statements).get(&key) {
            return Ok(prepared.clone());
        }
        let prepared = self.client.prepare_typed(sql, &key.1).await?;
        let mut statements = lock(&self.statements);
        if statements.len() >= STATEMENTS_KEPT {
            statements.clear();
        }
        statements.insert(key, prepared.clone());
        Ok(prepared)
    }
}

fn params_of(bound: &[(Type, Bound)]) -> Vec<&(dyn ToSql + Sync)> {
    bound.iter().map(|(_, b)| b.as_sql()).collect()
}

/// `values` as these connections bind them; a kind they do not bind is a program error
/// inside a unit, which cannot hand its statement to the pool.
fn bound_all(values: &[Value]) -> Result<Vec<(Type, Bound)>, StoreError> {
    values
        .iter()
        .map(|value| {
            bind(value).ok_or_else(|| {
                StoreError::Database(DbErr::Custom(format!(
                    "PostgreSQL 写入连接不能绑定 {value:?}（这是程序错误）"
                )))
            })
        })
        .collect()
}

/// The writing connections (see the module): one per unit at a time.
#[derive(Debug)]
pub(crate) struct PgWriters {
    link: Arc<Link>,
    slots: Vec<Arc<tokio::sync::Mutex<Option<Arc<Live>>>>>,
    next: AtomicUsize,
}

impl PgWriters {
    /// A transaction on a connection of its own: a free one, or the next to come free.
    /// Nothing is sent yet: `BEGIN` goes with the first statement.
    ///
    /// # Errors
    /// [`StoreError::Database`] (unavailable) when the store is closed or no connection
    /// could be opened.
    pub(crate) async fn begin(&self) -> Result<PgTxn, StoreError> {
        self.link.check_open()?;
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.slots.len();
        let free = (0..n).find_map(|i| {
            Arc::clone(&self.slots[(first + i) % n])
                .try_lock_owned()
                .ok()
        });
        let mut slot = match free {
            Some(slot) => slot,
            None => Arc::clone(&self.slots[first % n]).lock_owned().await,
        };
        let live = match slot.as_ref().filter(|live| !live.client.is_closed()) {
            Some(live) => Arc::clone(live),
            None => {
                *slot = None;
                let live = Arc::new(self.link.connect(WRITER_NAME).await?);
                *slot = Some(Arc::clone(&live));
                live
            }
        };
        Ok(PgTxn {
            slot: Some(slot),
            live,
            state: Mutex::new(TxnState::default()),
        })
    }
}

/// A transaction on a writing connection, holding it until committed or dropped (then
/// rolled back before the connection's next use).
#[derive(Debug)]
pub(crate) struct PgTxn {
    slot: Option<tokio::sync::OwnedMutexGuard<Option<Arc<Live>>>>,
    live: Arc<Live>,
    state: Mutex<TxnState>,
}

#[derive(Debug, Default)]
struct TxnState {
    /// `BEGIN` was sent: there is a transaction to commit or roll back.
    begun: bool,
    /// Commit or rollback sent: nothing to undo when dropped.
    ended: bool,
    /// Statements without parameters (`SAVEPOINT …`) that travel with the next statement.
    ahead: Vec<String>,
}

impl PgTxn {
    /// Queues `sql` (a statement without parameters) to travel with the next statement.
    pub(crate) fn ahead(&self, sql: String) {
        lock(&self.state).ahead.push(sql);
    }

    /// Takes back the latest queued statement if it is `sql`: it was never sent.
    pub(crate) fn take_back(&self, sql: &str) -> bool {
        let mut state = lock(&self.state);
        if state.ahead.last().is_some_and(|last| last == sql) {
            state.ahead.pop();
            return true;
        }
        false
    }

    /// What must go before the next statement: `BEGIN` unless sent, then the queue.
    fn flight(&self) -> Option<String> {
        let mut state = lock(&self.state);
        let mut parts = Vec::new();
        if !state.begun {
            state.begun = true;
            parts.push("BEGIN".to_owned());
        }
        parts.append(&mut state.ahead);
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// Runs statements without parameters (several `;`-separated), after what is queued.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub(crate) async fn simple(&self, sql: &str) -> Result<(), StoreError> {
        let text = match self.flight() {
            Some(ahead) => format!("{ahead}; {sql}"),
            None => sql.to_owned(),
        };
        self.live
            .client
            .batch_execute(&text)
            .await
            .map_err(|e| error(&e))
    }

    /// Sends what is queued, then `request`, in one flight: the queued statements' request
    /// is written before `request`'s first poll writes its own, and both answers are awaited
    /// together.
    async fn after_queued<T>(
        &self,
        request: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, StoreError> {
        let answer = match self.flight() {
            Some(ahead) => {
                let (sent, answer) =
                    futures::join!(self.live.client.batch_execute(&ahead), request);
                sent.map_err(|e| error(&e))?;
                answer
            }
            None => request.await,
        };
        answer.map_err(|e| error(&e))
    }

    /// `sql` prepared on the connection for `values`, with the values bound.
    async fn prepare(
        &self,
        sql: &str,
        values: &[Value],
    ) -> Result<(tokio_postgres::Statement, Vec<(Type, Bound)>), StoreError> {
        let bound = bound_all(values)?;
        let statement = self
            .live
            .prepared(sql, &bound)
            .await
            .map_err(|e| error(&e))?;
        Ok((statement, bound))
    }

    /// Runs one statement (built for PostgreSQL) after what is queued, in the same flight;
    /// returns the rows it changed.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub(crate) async fn execute(&self, statement: &Statement) -> Result<u64, StoreError> {
        self.execute_all(&[(statement.sql.as_str(), values(statement))])
            .await
    }

    /// Runs `writes` (SQL and values, built for PostgreSQL) after what is queued, all in one
    /// flight, each a prepared statement of its own; returns the rows they changed together.
    ///
    /// # Errors
    /// [`StoreError::Database`]: the first error among them.
    pub(crate) async fn execute_all(&self, writes: &[(&str, &[Value])]) -> Result<u64, StoreError> {
        let mut prepared = Vec::new();
        for &(sql, values) in writes {
            prepared.push(self.prepare(sql, values).await?);
        }
        let client = &self.live.client;
        let params: Vec<_> = prepared.iter().map(|(_, bound)| params_of(bound)).collect();
        // Polled in order, so sent in order before the first answer is awaited.
        let all = futures::future::try_join_all(
            prepared
                .iter()
                .zip(&params)
                .map(|((statement, _), params)| client.execute(statement, params)),
        );
        Ok(self.after_queued(all).await?.iter().sum())
    }

    /// Runs a query (built for PostgreSQL) after what is queued, in the same flight, and
    /// reads each row with `read`.
    ///
    /// # Errors
    /// [`StoreError::Database`], or what `read` returns.
    pub(crate) async fn query<T>(
        &self,
        statement: &Statement,
        read: &impl Fn(&dyn Cells) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let (prepared, bound) = self.prepare(&statement.sql, values(statement)).await?;
        let params = params_of(&bound);
        let rows = self
            .after_queued(self.live.client.query(&prepared, &params))
            .await?;
        rows.iter().map(|row| read(row)).collect()
    }

    /// Commits what was written (nothing to send when nothing was).
    ///
    /// # Errors
    /// [`StoreError::Database`]; nothing was written then.
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        // Ended even if the COMMIT fails: PostgreSQL then ends the transaction itself.
        let ended = TxnState {
            ended: true,
            ..TxnState::default()
        };
        self.end("COMMIT", ended).await?;
        self.slot.take();
        Ok(())
    }

    /// Rolls back everything and starts afresh on the same connection (`BEGIN` again with
    /// the next statement).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub(crate) async fn rollback(&self) -> Result<(), StoreError> {
        self.end("ROLLBACK", TxnState::default()).await
    }

    /// Sends `sql` (COMMIT or ROLLBACK) if the transaction began, leaving the state `next`;
    /// what is still queued is dropped with it.
    async fn end(&self, sql: &str, next: TxnState) -> Result<(), StoreError> {
        let begun = std::mem::replace(&mut *lock(&self.state), next).begun;
        if begun {
            self.live
                .client
                .batch_execute(sql)
                .await
                .map_err(|e| error(&e))?;
        }
        Ok(())
    }
}

impl Drop for PgTxn {
    fn drop(&mut self) {
        let pending = {
            let state = lock(&self.state);
            state.begun && !state.ended
        };
        let Some(mut slot) = self.slot.take() else {
            return;
        };
        if !pending {
            return;
        }
        // The slot stays taken until the rollback is through, so the connection's next
        // transaction begins after it. Without a runtime the connection is dropped instead,
        // and the server rolls back when it goes.
        let live = Arc::clone(&self.live);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if live.client.batch_execute("ROLLBACK").await.is_err() {
                        *slot = None;
                    }
                    drop(slot);
                });
            }
            Err(_) => *slot = None,
        }
    }
}

/// The SQLSTATE of a PostgreSQL error these connections reported, as `error` spelled it.
pub(crate) fn sqlstate(error: &DbErr) -> Option<&str> {
    let (DbErr::Exec(RuntimeErr::Internal(message))
    | DbErr::Query(RuntimeErr::Internal(message))
    | DbErr::Conn(RuntimeErr::Internal(message))) = error
    else {
        return None;
    };
    let rest = message.strip_prefix("PostgreSQL [")?;
    rest.get(..5).filter(|_| rest.get(5..6) == Some("]"))
}

/// A connection found closed when it was used.
struct Lost(Arc<Live>);

/// Empties `slot` if it still holds `lost` (another reader may have replaced it already).
fn forget(slot: &Slot, lost: &Arc<Live>) {
    let mut live = lock(&slot.live);
    if live.as_ref().is_some_and(|held| Arc::ptr_eq(held, lost)) {
        *live = None;
    }
}

fn open(slot: &Slot) -> Option<Arc<Live>> {
    lock(&slot.live)
        .as_ref()
        .filter(|live| !live.client.is_closed())
        .map(Arc::clone)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks leaves a map or an option intact.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether connecting without TLS is what the URL allows (see the module).
fn without_tls(config: &Config) -> bool {
    match config.get_ssl_mode() {
        SslMode::Disable => true,
        SslMode::Prefer => {
            let hosts = config.get_hosts();
            !hosts.is_empty()
                && hosts.iter().all(|host| match host {
                    Host::Unix(_) => true,
                    Host::Tcp(name) => {
                        name == "localhost"
                            || name
                                .trim_matches(|c| c == '[' || c == ']')
                                .parse::<std::net::IpAddr>()
                                .is_ok_and(|ip| ip.is_loopback())
                    }
                })
        }
        _ => false,
    }
}

/// A value bound as sqlx binds it (through sea-query's `SqlxValues`), with the type the
/// statement is prepared with, so the server coerces it the same way.
#[derive(Debug)]
enum Bound {
    Bool(Option<bool>),
    Int2(Option<i16>),
    Int4(Option<i32>),
    Int8(Option<i64>),
    Float4(Option<f32>),
    Float8(Option<f64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
    Json(Option<serde_json::Value>),
    Date(Option<NaiveDate>),
    Time(Option<NaiveTime>),
    Timestamp(Option<NaiveDateTime>),
    Utc(Option<DateTime<Utc>>),
    Offset(Option<DateTime<FixedOffset>>),
    Uuid(Option<uuid::Uuid>),
}

impl Bound {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Bound::Bool(v) => v,
            Bound::Int2(v) => v,
            Bound::Int4(v) => v,
            Bound::Int8(v) => v,
            Bound::Float4(v) => v,
            Bound::Float8(v) => v,
            Bound::Text(v) => v,
            Bound::Bytes(v) => v,
            Bound::Json(v) => v,
            Bound::Date(v) => v,
            Bound::Time(v) => v,
            Bound::Timestamp(v) => v,
            Bound::Utc(v) => v,
            Bound::Offset(v) => v,
            Bound::Uuid(v) => v,
        }
    }
}

/// `value` as these connections bind it; `None` for a kind they leave to sqlx.
fn bind(value: &Value) -> Option<(Type, Bound)> {
    Some(match value {
        Value::Bool(v) => (Type::BOOL, Bound::Bool(*v)),
        Value::SmallInt(v) => (Type::INT2, Bound::Int2(*v)),
        Value::TinyUnsigned(v) => (Type::INT2, Bound::Int2(v.map(i16::from))),
        Value::Int(v) => (Type::INT4, Bound::Int4(*v)),
        Value::SmallUnsigned(v) => (Type::INT4, Bound::Int4(v.map(i32::from))),
        Value::BigInt(v) => (Type::INT8, Bound::Int8(*v)),
        Value::Unsigned(v) => (Type::INT8, Bound::Int8(v.map(i64::from))),
        Value::BigUnsigned(v) => (
            Type::INT8,
            Bound::Int8(match v {
                Some(n) => Some(i64::try_from(*n).ok()?),
                None => None,
            }),
        ),
        Value::Float(v) => (Type::FLOAT4, Bound::Float4(*v)),
        Value::Double(v) => (Type::FLOAT8, Bound::Float8(*v)),
        Value::String(v) => (Type::TEXT, Bound::Text(v.clone())),
        Value::Char(v) => (Type::TEXT, Bound::Text(v.map(String::from))),
        Value::Bytes(v) => (Type::BYTEA, Bound::Bytes(v.clone())),
        Value::Json(v) => (Type::JSONB, Bound::Json(v.as_deref().cloned())),
        Value::ChronoDate(v) => (Type::DATE, Bound::Date(*v)),
        Value::ChronoTime(v) => (Type::TIME, Bound::Time(*v)),
        Value::ChronoDateTime(v) => (Type::TIMESTAMP, Bound::Timestamp(*v)),
        Value::ChronoDateTimeUtc(v) => (Type::TIMESTAMPTZ, Bound::Utc(*v)),
        Value::ChronoDateTimeLocal(v) => (
            Type::TIMESTAMPTZ,
            Bound::Utc(v.map(|t| t.with_timezone(&Utc))),
        ),
        Value::ChronoDateTimeWithTimeZone(v) => (Type::TIMESTAMPTZ, Bound::Offset(*v)),
        Value::Uuid(v) => (Type::UUID, Bound::Uuid(*v)),
        _ => return None,
    })
}

fn error(error: &tokio_postgres::Error) -> StoreError {
    let lost = error.is_closed()
        || error
            .as_db_error()
            .is_some_and(|db| super::unavailable::unavailable_sqlstate(db.code().code()))
        || std::error::Error::source(error).is_some_and(|s| s.is::<std::io::Error>());
    let message = match error.as_db_error() {
        Some(db) => format!("PostgreSQL [{}]: {error}", db.code().code()),
        None => format!("PostgreSQL: {error}"),
    };
    if lost {
        unavailable(message)
    } else {
        StoreError::Database(DbErr::Exec(RuntimeErr::Internal(message)))
    }
}

fn unavailable(message: String) -> StoreError {
    StoreError::Database(DbErr::Conn(RuntimeErr::Internal(message)))
}

fn cell_error(i: usize, error: &tokio_postgres::Error) -> StoreError {
    StoreError::Database(DbErr::Type(format!("第 {i} 列无法读取：{error}")))
}

impl Cells for Row {
    fn text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.try_get(i).map_err(|e| cell_error(i, &e))
    }

    fn int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        let ty = self.columns().get(i).map(|c| c.type_().clone());
        match ty {
            Some(Type::INT2) => Ok(self
                .try_get::<_, Option<i16>>(i)
                .map_err(|e| cell_error(i, &e))?
                .map(i64::from)),
            Some(Type::INT4) => Ok(self
                .try_get::<_, Option<i32>>(i)
                .map_err(|e| cell_error(i, &e))?
                .map(i64::from)),
            _ => self.try_get(i).map_err(|e| cell_error(i, &e)),
        }
    }

    fn time(&self, i: usize) -> Result<Option<DateTime<Utc>>, StoreError> {
        let ty = self.columns().get(i).map(|c| c.type_().clone());
        match ty {
            Some(Type::TIMESTAMP) => Ok(self
                .try_get::<_, Option<NaiveDateTime>>(i)
                .map_err(|e| cell_error(i, &e))?
                .map(|t| t.and_utc())),
            _ => self.try_get(i).map_err(|e| cell_error(i, &e)),
        }
    }

    fn json(&self, i: usize) -> Result<Option<serde_json::Value>, StoreError> {
        let ty = self.columns().get(i).map(|c| c.type_().clone());
        match ty {
            Some(Type::JSON | Type::JSONB) => self.try_get(i).map_err(|e| cell_error(i, &e)),
            _ => self
                .text(i)?
                .map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(StoreError::from),
        }
    }

    fn flag(&self, i: usize) -> Result<Option<bool>, StoreError> {
        let ty = self.columns().get(i).map(|c| c.type_().clone());
        match ty {
            Some(Type::BOOL) => self.try_get(i).map_err(|e| cell_error(i, &e)),
            _ => Ok(self.int(i)?.map(|v| v != 0)),
        }
    }

    /// The case query casts the state to text: decoded straight from it.
    fn case_state(&self, i: usize) -> Result<Option<CaseState>, StoreError> {
        let ty = self.columns().get(i).map(|c| c.type_().clone());
        match ty {
            Some(Type::JSON | Type::JSONB) => self
                .json(i)?
                .map(serde_json::from_value)
                .transpose()
                .map_err(StoreError::from),
            _ => {
                let text: Option<&str> = self.try_get(i).map_err(|e| cell_error(i, &e))?;
                text.map(serde_json::from_str)
                    .transpose()
                    .map_err(StoreError::from)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> Config {
        match Config::from_str(url) {
            Ok(config) => config,
            Err(e) => panic!("{url} parses: {e}"),
        }
    }

    #[test]
    fn reads_go_without_tls_only_where_the_url_allows_it() {
        assert!(without_tls(&config("postgres://u@127.0.0.1:5432/d")));
        assert!(without_tls(&config("postgres://u@localhost/d")));
        assert!(without_tls(&config("postgres://u@[::1]:5432/d")));
        assert!(without_tls(&config(
            "postgres://u@db.example.org/d?sslmode=disable"
        )));
        // A remote server under the default `prefer` may offer TLS, which sqlx would use.
        assert!(!without_tls(&config("postgres://u@db.example.org/d")));
        assert!(!without_tls(&config("postgres://u@10.0.0.5/d")));
        assert!(!without_tls(&config(
            "postgres://u@127.0.0.1/d?sslmode=require"
        )));
    }

    #[test]
    fn values_bind_with_the_types_sqlx_gives_them() {
        let typed = |value: Value| bind(&value).map(|(ty, _)| ty);
        assert_eq!(typed(Value::String(Some("x".into()))), Some(Type::TEXT));
        assert_eq!(typed(Value::BigUnsigned(Some(20))), Some(Type::INT8));
        assert_eq!(typed(Value::BigUnsigned(Some(u64::MAX))), None);
        assert_eq!(typed(Value::Int(None)), Some(Type::INT4));
        assert_eq!(
            typed(Value::ChronoDateTimeUtc(Some(Utc::now()))),
            Some(Type::TIMESTAMPTZ)
        );
        assert_eq!(typed(Value::TinyInt(Some(1))), None);
    }
}
