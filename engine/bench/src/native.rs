//! The native bound: the rows of the standard workload written with no engine and no sqlx,
//! straight through the database's own client library, so the figure is what the database
//! and the disk allow.
//!
//! - SQLite through rusqlite (SQLite's C library called on the writer's own thread, no
//!   hand-over per statement), on a file set up like the store's (WAL, the target's
//!   `synchronous`, foreign keys on), one connection, prepared statements cached.
//! - PostgreSQL through tokio-postgres, one connection per worker, each transaction's
//!   statements pipelined: `BEGIN`, the writes and `COMMIT` are sent in one flight and the
//!   answers read afterwards. tokio-postgres pipelines every request issued on a connection
//!   before the earlier ones are answered; sqlx waits for each answer before sending the next
//!   statement, which is the per-statement cost the bound must not contain.
//!
//! `native_cases_per_s` writes each case's seven transactions one commit each;
//! `native_grouped_cases_per_s` groups them the way the engine's writer does at the same
//! concurrency: with N workers each has one transition in flight, so a commit holds N
//! transitions, each in its own `SAVEPOINT`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use lianban_store::Synchronous;

use super::workload::{Param, case_plan, placeholders};

/// The rows of `cases` standard cases written through rusqlite on the SQLite file at
/// `path`, `group` cases' transitions per commit (1: a commit per transition). Runs on a
/// thread of its own; returns the wall time.
///
/// # Errors
/// Any SQLite error.
pub(super) async fn sqlite_run(
    path: &Path,
    synchronous: Synchronous,
    hash: &str,
    state: &serde_json::Value,
    cases: usize,
    group: usize,
) -> anyhow::Result<Duration> {
    let path = path.to_owned();
    let hash = hash.to_owned();
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        sqlite_blocking(&path, synchronous, &hash, &state, cases, group.max(1))
    })
    .await
    .context("原生 SQLite 基准线程异常退出")?
}

fn sqlite_blocking(
    path: &Path,
    synchronous: Synchronous,
    hash: &str,
    state: &serde_json::Value,
    cases: usize,
    group: usize,
) -> anyhow::Result<Duration> {
    let conn =
        rusqlite::Connection::open(path).with_context(|| format!("无法打开 {}", path.display()))?;
    let sync = match synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY;"
    ))?;
    conn.set_prepared_statement_cache_capacity(32);
    let started = Instant::now();
    let mut done = 0;
    while done < cases {
        let wave = group.min(cases - done);
        let plans: Vec<_> = (0..wave).map(|_| case_plan(hash, state)).collect();
        for step in 0..plans[0].len() {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            for plan in &plans {
                if group > 1 {
                    conn.prepare_cached("SAVEPOINT t")?.execute([])?;
                }
                for (sql, params) in &plan[step] {
                    let mut statement = conn.prepare_cached(sql)?;
                    let changed = statement
                        .execute(rusqlite::params_from_iter(params.iter().map(sqlite_value)))?;
                    anyhow::ensure!(changed == 1, "{sql} 改变了 {changed} 行");
                }
            }
            conn.execute_batch("COMMIT")?;
        }
        done += wave;
    }
    Ok(started.elapsed())
}

fn sqlite_value(param: &Param) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match param {
        Param::Text(s) => Value::Text(s.clone()),
        Param::Int(i) => Value::Integer(*i),
        // As sqlx stores a `DateTime<Utc>` in SQLite: RFC 3339 text.
        Param::Time(t) => Value::Text(t.to_rfc3339()),
        Param::Json(v) => Value::Text(v.to_string()),
        Param::NoText | Param::NoTime => Value::Null,
    }
}

/// The rows of `cases` standard cases written through tokio-postgres: with `grouped`
/// false, `concurrency` workers on a connection each, a transaction per transition; with
/// `grouped`, one connection writing `concurrency` cases' transitions per transaction, each
/// in a savepoint. Every transaction is pipelined. Returns the wall time.
///
/// # Errors
/// Any PostgreSQL error.
pub(super) async fn postgres_run(
    url: &str,
    hash: &str,
    state: &serde_json::Value,
    cases: usize,
    concurrency: usize,
    grouped: bool,
) -> anyhow::Result<Duration> {
    let next = Arc::new(AtomicUsize::new(0));
    let (workers, group) = if grouped {
        (1, concurrency.max(1))
    } else {
        (concurrency.max(1), 1)
    };
    let mut clients = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .context("无法连接 PostgreSQL")?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("警告：原生 PostgreSQL 连接中断：{e}");
            }
        });
        clients.push(client);
    }
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|client| {
            let next = Arc::clone(&next);
            let hash = hash.to_owned();
            let state = state.clone();
            tokio::spawn(async move {
                let prepared = Prepared::new(&client).await?;
                loop {
                    let first = next.fetch_add(group, Ordering::Relaxed);
                    if first >= cases {
                        break;
                    }
                    let wave = group.min(cases - first);
                    let plans: Vec<_> = (0..wave).map(|_| case_plan(&hash, &state)).collect();
                    for step in 0..plans[0].len() {
                        let steps: Vec<_> = plans.iter().map(|p| &p[step]).collect();
                        prepared.transaction(&client, &steps, group > 1).await?;
                    }
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await.context("原生 PostgreSQL 基准任务异常退出")??;
    }
    Ok(started.elapsed())
}

/// A worker's prepared statements, by SQL text.
struct Prepared {
    statements: Vec<(&'static str, tokio_postgres::Statement)>,
    begin: tokio_postgres::Statement,
    savepoint: tokio_postgres::Statement,
    commit: tokio_postgres::Statement,
}

impl Prepared {
    async fn new(client: &tokio_postgres::Client) -> anyhow::Result<Prepared> {
        let mut statements = Vec::new();
        for sql in super::workload::STATEMENTS {
            statements.push((sql, client.prepare(&placeholders_pg(sql)).await?));
        }
        Ok(Prepared {
            statements,
            begin: client.prepare("BEGIN").await?,
            savepoint: client.prepare("SAVEPOINT t").await?,
            commit: client.prepare("COMMIT").await?,
        })
    }

    fn statement(&self, sql: &str) -> anyhow::Result<&tokio_postgres::Statement> {
        self.statements
            .iter()
            .find(|(s, _)| *s == sql)
            .map(|(_, statement)| statement)
            .with_context(|| format!("未准备的语句 {sql}"))
    }

    /// One transaction of `steps` (one transition per case), all requests sent before the
    /// first answer is awaited.
    async fn transaction(
        &self,
        client: &tokio_postgres::Client,
        steps: &[&Vec<(&'static str, Vec<Param>)>],
        savepoints: bool,
    ) -> anyhow::Result<()> {
        let mut params: Vec<Vec<PgParam>> = Vec::new();
        let mut order: Vec<Option<&tokio_postgres::Statement>> = Vec::new();
        for step in steps {
            if savepoints {
                order.push(None);
                params.push(Vec::new());
            }
            for (sql, values) in step.iter() {
                order.push(Some(self.statement(sql)?));
                params.push(values.iter().map(PgParam::of).collect());
            }
        }
        let refs: Vec<Vec<&(dyn tokio_postgres::types::ToSql + Sync)>> = params
            .iter()
            .map(|values| values.iter().map(PgParam::as_sql).collect())
            .collect();
        let mut requests = Vec::with_capacity(order.len() + 2);
        requests.push(client.execute(&self.begin, &[]));
        for (statement, values) in order.iter().zip(&refs) {
            requests.push(match statement {
                Some(statement) => client.execute(*statement, values),
                None => client.execute(&self.savepoint, &[]),
            });
        }
        requests.push(client.execute(&self.commit, &[]));
        // Polled in order, so sent in order; tokio-postgres writes each request as soon as
        // it is polled and matches the answers as they come back.
        let answers = futures::future::try_join_all(requests).await?;
        let writes = answers.len() - 2;
        let changed: u64 = answers[1..=writes].iter().sum();
        let savepoints_sent = if savepoints { steps.len() } else { 0 };
        anyhow::ensure!(
            changed as usize == writes - savepoints_sent,
            "原生 PostgreSQL 写入行数不符"
        );
        Ok(())
    }
}

fn placeholders_pg(sql: &str) -> String {
    placeholders(sea_orm::DbBackend::Postgres, sql)
}

/// A parameter as tokio-postgres binds it (text, bigint, timestamptz, jsonb, or NULL).
enum PgParam {
    Text(String),
    Int(i64),
    Time(DateTime<Utc>),
    Json(serde_json::Value),
    NoText(Option<String>),
    NoTime(Option<DateTime<Utc>>),
}

impl PgParam {
    fn of(param: &Param) -> PgParam {
        match param {
            Param::Text(s) => PgParam::Text(s.clone()),
            Param::Int(i) => PgParam::Int(*i),
            Param::Time(t) => PgParam::Time(*t),
            Param::Json(v) => PgParam::Json(v.clone()),
            Param::NoText => PgParam::NoText(None),
            Param::NoTime => PgParam::NoTime(None),
        }
    }

    fn as_sql(&self) -> &(dyn tokio_postgres::types::ToSql + Sync) {
        match self {
            PgParam::Text(s) => s,
            PgParam::Int(i) => i,
            PgParam::Time(t) => t,
            PgParam::Json(v) => v,
            PgParam::NoText(s) => s,
            PgParam::NoTime(t) => t,
        }
    }
}
