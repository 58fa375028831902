//! EXPLAIN review of the hot paths on a seeded database: the inbox (of a county, and of any
//! county), the timer scan, the outbox scan, a department's case list and the push table
//! must be index lookups, never a sequential scan of cases, tasks, history, timers or the
//! outbox. The plans are those of the exact statements the store runs
//! (`Admin::explain_hot_paths`, `Admin::explain_lists`); the data is seeded the way
//! `lianban bench` seeds it, with one timer, one outbox message and a first history entry
//! per case, most of them done.

use chrono::Utc;
use lianban::store::{CaseQuery, QueryPlan, TaskQuery};
use lianban_bench::{self as bench, inbox};
use lianban_tests::{Backend, db_test};
use sea_orm::ConnectionTrait;

/// Large enough that the planners' choice depends on the indexes, small enough for a test.
const CASES: u64 = 20_000;
const OPEN: u64 = 1_000;

const HOT_TABLES: [&str; 5] = ["tasks", "cases", "history", "timers", "outbox"];

db_test!(hot_paths_use_indexes, |db| {
    let store = db.store().await?;
    let process = bench::standard_process()?;
    store.definitions().register(&process).await?;
    inbox::seed(&db.url, &process, CASES, OPEN).await?;
    // The store hands out no connection: the seeding SQL goes through one of the test's own.
    let conn = sea_orm::Database::connect(&db.url).await?;
    // One timer and one message per case: pending only for running cases.
    conn.execute_unprepared(
        "INSERT INTO timers (id, case_id, subject, kind, fire_at, owner, lease_until, \
         fired_at, created_at) SELECT replace(id, '-8000-', '-a000-'), id, 'case', 'legal', \
         started_at, NULL, NULL, ended_at, started_at FROM cases",
    )
    .await?;
    conn.execute_unprepared(
        "INSERT INTO outbox (id, case_id, process_id, department, task_id, kind, url, \
         secret_env, body, status, attempts, next_attempt_at, lease_until, leased_by, \
         last_error, created_at, delivered_at, receipt) SELECT replace(id, '-8000-', '-b000-'), \
         id, process_id, 'yibao', NULL, 'task', 'http://127.0.0.1:9/', 'BENCH_SECRET', '{}', \
         CASE WHEN ended_at IS NULL THEN 'pending' ELSE 'delivered' END, 0, started_at, NULL, \
         NULL, NULL, started_at, ended_at, NULL FROM cases",
    )
    .await?;
    // Each case's first history entry, by the window that started it: the case lists ask
    // who started a case.
    conn.execute_unprepared(
        "INSERT INTO history (case_id, seq, at, actor, actor_department, action, to_status, \
         to_steps, events, data_changed) SELECT id, 1, started_at, 'window', 'shebao', \
         'start', 'active', 'accept', '[]', '{}' FROM cases",
    )
    .await?;
    conn.execute_unprepared("ANALYZE").await?;
    conn.close().await?;
    // A SQLite connection reads the statistics when it loads the schema, and a later
    // ANALYZE on another connection does not make it reload them: plan on fresh ones.
    store.close().await?;
    let store = db.store().await?;

    for page in [1, 20] {
        let plans = store
            .admin()
            .explain_hot_paths(&inbox::inbox_query("yibao", page), Utc::now())
            .await?;
        assert_eq!(
            plans.iter().map(|p| p.name).collect::<Vec<_>>(),
            ["inbox", "timers", "outbox"]
        );
        for plan in &plans {
            check(db.backend, plan);
        }
    }
    // An account without a county (every account of a single-county installation) reads the
    // same index in order: the store names the registered counties.
    let any_county = TaskQuery {
        county: None,
        ..inbox::inbox_query("yibao", 1)
    };
    let plans = store
        .admin()
        .explain_hot_paths(&any_county, Utc::now())
        .await?;
    for plan in &plans {
        check(db.backend, plan);
    }
    // A department's case list probes each case it reads, and the push table takes the day's
    // tasks from their step's index.
    let cases = CaseQuery {
        department: Some("yibao".to_owned()),
        limit: Some(51),
        ..CaseQuery::default()
    };
    let plans = store
        .admin()
        .explain_lists(&cases, &process.id, &["accept".to_owned()], Utc::now())
        .await?;
    assert_eq!(
        plans.iter().map(|p| p.name).collect::<Vec<_>>(),
        ["cases", "push_table"]
    );
    for plan in &plans {
        check(db.backend, plan);
    }
    Ok(())
});

/// No sequential scan of a hot table, and the path's own table is read through an index.
fn check(backend: Backend, plan: &QueryPlan) {
    let text = plan.plan.join("\n");
    // Shown with --nocapture: docs/performance.md quotes these plans.
    eprintln!("{backend:?} {}:\n{text}\n", plan.name);
    let table = match plan.name {
        "inbox" | "push_table" => "tasks",
        other => other,
    };
    for hot in HOT_TABLES {
        let full_scan = match backend {
            Backend::Postgres => format!("Seq Scan on {hot}"),
            Backend::Sqlite => format!("SCAN {hot}"),
        };
        assert!(
            !plan
                .plan
                .iter()
                .any(|line| line.trim_start().starts_with(&full_scan)
                    || line.contains(&format!("-> {full_scan}"))),
            "{}: sequential scan of {hot}\nSQL: {}\nplan:\n{text}",
            plan.name,
            plan.sql
        );
    }
    let indexed = match backend {
        Backend::Postgres => {
            text.contains(&format!("Index Scan using idx_{table}"))
                || text.contains(&format!("Index Scan Backward using idx_{table}"))
                || text.contains(&format!("Index Only Scan using idx_{table}"))
                || text.contains(&format!("Bitmap Index Scan on idx_{table}"))
        }
        Backend::Sqlite => {
            text.contains(&format!("SEARCH {table} USING INDEX idx_{table}"))
                || text.contains(&format!("SEARCH {table} USING COVERING INDEX idx_{table}"))
        }
    };
    if plan.name == "inbox" {
        // The page comes from the index in order: no sort of the department's open tasks.
        assert!(
            !text.contains("Sort") && !text.contains("TEMP B-TREE"),
            "inbox sorts instead of reading the index in order\nSQL: {}\nplan:\n{text}",
            plan.sql
        );
    }
    assert!(
        indexed,
        "{}: {table} not read through an index\nSQL: {}\nplan:\n{text}",
        plan.name, plan.sql
    );
}
