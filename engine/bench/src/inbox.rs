//! The inbox at size: seed many cases and open tasks with set-based INSERTs (seconds, not
//! hours), then time the inbox page's queries for random departments and pages.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use sea_orm::{ConnectionTrait, Database, DbBackend, TransactionTrait};

use super::{Figure, FreshDb, Options, Target, percentile_ms};
use lianban_core::definition::Process;
use lianban_core::runtime::TaskStatus;
use lianban_service::records::TaskQuery;
use lianban_store::{Store, StoreOptions};

/// Rows per inbox page, as the page asks (50 and one to know whether there is a next one).
const PAGE: u64 = 50;
/// Clerks browse the first pages; deeper ones are reached through filters and search.
const PAGES: u64 = 10;
const DEPARTMENTS: [&str; 3] = ["shebao", "yibao", "gjj"];

/// Seeds `options.inbox_cases` cases, `options.inbox_open` of them with an open task (the
/// others with a completed one), then times the inbox.
///
/// # Errors
/// When seeding or a query fails.
pub(super) async fn figures(
    db: &FreshDb,
    target: &Target,
    process: &Process,
    options: &Options,
    out: &mut (dyn FnMut(&Figure) + Send),
) -> anyhow::Result<()> {
    let store = db.store(target).await?;
    store.definitions().register(process).await?;
    let label = target.name();
    eprintln!(
        "  {label} inbox: seeding {} cases, {} open tasks",
        options.inbox_cases, options.inbox_open
    );
    let started = Instant::now();
    seed(&db.url, process, options.inbox_cases, options.inbox_open).await?;
    eprintln!(
        "  {label} inbox: seeded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut samples = Vec::with_capacity(options.inbox_queries);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for n in 0..options.inbox_queries {
        let department = DEPARTMENTS[rng.below(DEPARTMENTS.len() as u64) as usize];
        let page = rng.below(PAGES) + 1;
        samples.push(inbox_once(&store, department, page).await?);
        super::progress(&format!("{label} inbox"), n + 1, options.inbox_queries);
    }
    out(&Figure {
        name: format!("{label}.inbox_p50_ms"),
        value: percentile_ms(&mut samples, 50.0),
        unit: "ms",
    });
    out(&Figure {
        name: format!("{label}.inbox_p99_ms"),
        value: percentile_ms(&mut samples, 99.0),
        unit: "ms",
    });
    Ok(())
}

/// The two queries of `GET /inbox`: the page of tasks, then the titles of their cases.
async fn inbox_once(store: &Store, department: &str, page: u64) -> anyhow::Result<Duration> {
    let query = inbox_query(department, page);
    let started = Instant::now();
    let tasks = store.reads().inbox(&query).await?;
    let ids: Vec<_> = tasks.iter().map(|t| t.case_id).collect();
    store.cases().titles(&ids).await?;
    Ok(started.elapsed())
}

/// The query the inbox page sends for a county clerk of `department`, on page `page`.
pub fn inbox_query(department: &str, page: u64) -> TaskQuery {
    TaskQuery {
        departments: vec![department.to_owned()],
        county: Some("bench".to_owned()),
        statuses: vec![TaskStatus::Open, TaskStatus::Claimed],
        limit: Some(PAGE + 1),
        offset: (page.max(1) - 1) * PAGE,
        ..TaskQuery::default()
    }
}

/// Inserts into the migrated database at `url` `cases` cases of the standard process
/// (registered already), each with one task of 受理 spread over the three departments; the
/// last `open` cases run with the task open (half of those with a due time), the rest are
/// completed. Then refreshes the planner's statistics, as autovacuum (PostgreSQL) or
/// `PRAGMA optimize` (SQLite) would after a bulk load.
///
/// The rows go in through a connection of its own, set up as the store's: the store does
/// not hand out its connection.
///
/// # Errors
/// Any database error.
pub async fn seed(url: &str, process: &Process, cases: u64, open: u64) -> anyhow::Result<()> {
    let options = StoreOptions {
        max_connections: 1,
        ..StoreOptions::default()
    };
    let db = Database::connect(lianban_store::connect_options(url, &options)).await?;
    let hash = process.content_hash.replace('\'', "");
    let first_open = cases.saturating_sub(open);
    let backend = db.get_database_backend();
    // One transaction, so that on PostgreSQL the statement timeout (the store's, meant for
    // requests, not for writing a million rows) can be lifted for it alone.
    let txn = db.begin().await?;
    if backend == DbBackend::Postgres {
        txn.execute_unprepared("SET LOCAL statement_timeout = 0")
            .await?;
    }
    // In chunks, so that a terminal shows how far it got; each chunk is still set-based.
    let bar = seeding_bar(cases);
    let mut lo = 0;
    while lo < cases {
        let hi = (lo + SEED_CHUNK).min(cases);
        let statements = match backend {
            DbBackend::Postgres => postgres_seed(&hash, lo, hi, first_open),
            _ => sqlite_seed(&hash, lo, hi, first_open),
        };
        for sql in statements {
            txn.execute_unprepared(&sql)
                .await
                .with_context(|| format!("填充数据失败：{}", &sql[..sql.len().min(60)]))?;
        }
        bar.set_position(hi);
        lo = hi;
    }
    bar.set_message("更新统计信息");
    txn.execute_unprepared("ANALYZE").await?;
    bar.finish_and_clear();
    txn.commit().await?;
    db.close().await?;
    Ok(())
}

/// The statements that insert cases `lo..hi` (and their tasks) on PostgreSQL.
fn postgres_seed(hash: &str, lo: u64, hi: u64, first_open: u64) -> Vec<String> {
    let last = hi.saturating_sub(1);
    // The format of `store::tasks::inbox_order`.
    let created = "to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
    let due = "to_char((t + INTERVAL '5 days') AT TIME ZONE 'UTC', \
               'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
    let series = format!(
        "(SELECT i, TIMESTAMPTZ '2026-01-01 00:00:00+00' + i * INTERVAL '1 second' AS t, \
         i >= {first_open} AS running FROM generate_series({lo}, {last}) AS i) AS n"
    );
    vec![
        format!(
            "INSERT INTO cases (id, process_id, version, content_hash, status, result, \
             current_steps, title, state, revision, started_at, updated_at, ended_at, \
             applicant_name, id_key, county) \
             SELECT lpad(to_hex(i), 8, '0') || '-0000-7000-8000-000000000000', \
             'bench.standard', 1, '{hash}', CASE WHEN running THEN 'running' ELSE 'completed' END, \
             CASE WHEN running THEN NULL ELSE '办结' END, CASE WHEN running THEN 'accept' ELSE '' END, \
             '职工**', '{{}}'::jsonb, 1, t, t, CASE WHEN running THEN NULL ELSE t END, \
             '职工' || i, NULL, 'bench' FROM {series} WHERE {hi} > {lo}"
        ),
        format!(
            "INSERT INTO tasks (id, case_id, step, step_name, role, department, status, \
             claimed_by, created_at, due_at, closed_at, outcome, completed_by, county, warn_at, \
             inbox_order) \
             SELECT lpad(to_hex(i), 8, '0') || '-0000-7000-9000-000000000000', \
             lpad(to_hex(i), 8, '0') || '-0000-7000-8000-000000000000', 'accept', '受理', \
             (ARRAY['shebao_clerk','yibao_clerk','gjj_clerk'])[i % 3 + 1], \
             (ARRAY['shebao','yibao','gjj'])[i % 3 + 1], \
             CASE WHEN running THEN 'open' ELSE 'completed' END, NULL, t, \
             CASE WHEN i % 2 = 0 THEN t + INTERVAL '5 days' END, \
             CASE WHEN running THEN NULL ELSE t END, CASE WHEN running THEN NULL ELSE 'accept' END, \
             CASE WHEN running THEN NULL ELSE 'seed' END, 'bench', NULL, \
             CASE WHEN NOT running THEN NULL \
             WHEN i % 2 = 0 THEN '0|' || {due} || '|' || {created} ELSE '1|' || {created} END \
             FROM {series} WHERE {hi} > {lo}"
        ),
    ]
}

/// The statements that insert cases `lo..hi` (and their tasks) on SQLite.
fn sqlite_seed(hash: &str, lo: u64, hi: u64, first_open: u64) -> Vec<String> {
    let numbers = format!(
        "WITH RECURSIVE n(i) AS (SELECT {lo} WHERE {hi} > {lo} UNION ALL SELECT i + 1 FROM n \
         WHERE i + 1 < {hi}), \
         m AS (SELECT i, strftime('%Y-%m-%dT%H:%M:%S+00:00', 1767225600 + i, 'unixepoch') AS t, \
         i >= {first_open} AS running FROM n)"
    );
    vec![
        format!(
            "{numbers} INSERT INTO cases (id, process_id, version, content_hash, status, result, \
             current_steps, title, state, revision, started_at, updated_at, ended_at, \
             applicant_name, id_key, county) \
             SELECT printf('%08x-0000-7000-8000-000000000000', i), 'bench.standard', 1, \
             '{hash}', CASE WHEN running THEN 'running' ELSE 'completed' END, \
             CASE WHEN running THEN NULL ELSE '办结' END, \
             CASE WHEN running THEN 'accept' ELSE '' END, '职工**', '{{}}', 1, t, t, \
             CASE WHEN running THEN NULL ELSE t END, '职工' || i, NULL, 'bench' FROM m"
        ),
        format!(
            "{numbers} INSERT INTO tasks (id, case_id, step, step_name, role, department, status, \
             claimed_by, created_at, due_at, closed_at, outcome, completed_by, county, warn_at, \
             inbox_order) \
             SELECT printf('%08x-0000-7000-9000-000000000000', i), \
             printf('%08x-0000-7000-8000-000000000000', i), 'accept', '受理', \
             CASE i % 3 WHEN 0 THEN 'shebao_clerk' WHEN 1 THEN 'yibao_clerk' ELSE 'gjj_clerk' END, \
             CASE i % 3 WHEN 0 THEN 'shebao' WHEN 1 THEN 'yibao' ELSE 'gjj' END, \
             CASE WHEN running THEN 'open' ELSE 'completed' END, NULL, t, \
             CASE WHEN i % 2 = 0 THEN strftime('%Y-%m-%dT%H:%M:%S+00:00', 1767225600 + i + 432000, 'unixepoch') END, \
             CASE WHEN running THEN NULL ELSE t END, CASE WHEN running THEN NULL ELSE 'accept' END, \
             CASE WHEN running THEN NULL ELSE 'seed' END, 'bench', NULL, \
             CASE WHEN NOT running THEN NULL \
             WHEN i % 2 = 0 THEN '0|' || strftime('%Y-%m-%dT%H:%M:%S.000000Z', 1767225600 + i + 432000, 'unixepoch') \
             || '|' || strftime('%Y-%m-%dT%H:%M:%S.000000Z', 1767225600 + i, 'unixepoch') \
             ELSE '1|' || strftime('%Y-%m-%dT%H:%M:%S.000000Z', 1767225600 + i, 'unixepoch') END FROM m"
        ),
    ]
}

/// Cases inserted by one statement of [`seed`].
const SEED_CHUNK: u64 = 50_000;

/// The seeding's bar on standard error, when it is a terminal (never on a pipe).
fn seeding_bar(cases: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal as _;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(cases);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "  {msg} [{bar:32}] {pos}/{len} 个办件（约剩 {eta}）",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message("填充办件");
    bar
}

/// A tiny deterministic generator: the same departments and pages on every run.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}
