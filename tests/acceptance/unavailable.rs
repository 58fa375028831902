//! A database that is locked or slow: requests fail fast with 503 problem+json and
//! Retry-After, write nothing, and succeed once the database answers again. On PostgreSQL
//! the statement timeout cancels a statement stuck behind a lock; on SQLite the busy
//! timeout gives up on a held write lock.

use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt as _;
use lianban::accounts::Role;
use lianban::service::WriteQueue;
use lianban::store::CaseQuery;
use lianban_tests::web::TestApp;
use lianban_tests::{Backend, db_test};
use sea_orm::{
    ConnectionTrait, Database, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use serde_json::json;

fn form() -> serde_json::Value {
    json!({
        "process": "web.joint",
        "form": {
            "name": "张三",
            "id_number": "11010519491231002X",
            "phone": "13812345678",
            "joint_medical": true,
            "joint_fund": false,
        },
    })
}

/// Rows of a table, counted over a fresh connection.
async fn count(url: &str, table: &str) -> anyhow::Result<i64> {
    let conn = Database::connect(url).await?;
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            format!("SELECT COUNT(*) FROM {table}"),
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no count"))?;
    let n: i64 = row.try_get_by_index(0)?;
    conn.close().await?;
    Ok(n)
}

db_test!(a_locked_database_answers_503_and_recovers, |db| {
    let app = TestApp::start_with(&db, "tests/fixtures/web", |s| {
        s.store.statement_timeout = Duration::from_millis(500);
        s.store.sqlite_busy_timeout = Duration::from_millis(200);
        s.store.acquire_timeout = Duration::from_secs(2);
    })
    .await?;
    let clerk = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
    clerk.start(&form()).await?.ok()?;
    let before = [
        count(&db.url, "cases").await?,
        count(&db.url, "tasks").await?,
        count(&db.url, "history").await?,
    ];

    // Another connection holds the tables the command must write.
    let holder = Database::connect(db.url.as_str()).await?;
    let lock = match db.backend {
        Backend::Postgres => {
            let txn = holder.begin().await?;
            txn.execute_unprepared("LOCK TABLE cases IN ACCESS EXCLUSIVE MODE")
                .await?;
            txn
        }
        Backend::Sqlite => {
            holder
                .begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..Default::default()
                })
                .await?
        }
    };
    let refused = clerk.start(&form()).await?;
    assert_eq!(refused.status, 503, "{}", refused.text);
    assert_eq!(refused.problem(), "unavailable");
    assert_eq!(
        refused.headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/problem+json"[..])
    );
    assert_eq!(
        refused.headers.get("retry-after").map(|v| v.as_bytes()),
        Some(&b"5"[..])
    );
    assert!(refused.text.contains("稍后重试"), "{}", refused.text);
    lock.rollback().await?;
    holder.close().await?;

    // Nothing of the refused command was written.
    let after = [
        count(&db.url, "cases").await?,
        count(&db.url, "tasks").await?,
        count(&db.url, "history").await?,
    ];
    assert_eq!(after, before);
    // Once the database answers, the same request succeeds.
    clerk.start(&form()).await?.ok()?;
    let cases = app
        .app
        .engine()
        .store()
        .reads()
        .cases(&CaseQuery::default())
        .await?;
    assert_eq!(cases.len(), 2);
    assert!(
        app.app
            .engine()
            .store()
            .admin()
            .verify_history(None)
            .await?
            .intact()
    );
    Ok(())
});

db_test!(a_full_write_queue_answers_503_overloaded_in_order, |db| {
    // One command in the writer, one waiting in the queue, and a short wait for a place:
    // with the database's write lock held elsewhere, every further command is refused.
    let app = TestApp::start_with(&db, "tests/fixtures/web", |s| {
        s.write_queue = WriteQueue {
            capacity: 1,
            wait: Duration::from_millis(200),
            // One group at a time on PostgreSQL too, so the count below holds on both.
            postgres_lanes: 1,
            ..WriteQueue::default()
        };
        // The writer waits for the held lock instead of giving up on it.
        s.store.sqlite_busy_timeout = Duration::from_secs(60);
        s.store.statement_timeout = Duration::from_secs(60);
    })
    .await?;
    let clerk = app.clerk("shebao_li", "shebao", Role::Clerk).await?;
    clerk.start(&form()).await?.ok()?;

    let holder = Database::connect(db.url.as_str()).await?;
    let lock = match db.backend {
        Backend::Postgres => {
            let txn = holder.begin().await?;
            // Reads pass, writes to cases wait.
            txn.execute_unprepared("LOCK TABLE cases IN EXCLUSIVE MODE")
                .await?;
            txn
        }
        Backend::Sqlite => {
            holder
                .begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..Default::default()
                })
                .await?
        }
    };
    const SENT: usize = 8;
    const ADMITTED: usize = 2;
    let form = form();
    let mut replies: futures::stream::FuturesUnordered<_> =
        (0..SENT).map(|_| clerk.start(&form)).collect();
    // The writer is stuck behind the lock, so the first answers are the refusals; the lock
    // is let go only once they all came back.
    let mut refused = Vec::new();
    while refused.len() < SENT - ADMITTED {
        let reply = replies.next().await.context("a reply")??;
        refused.push(reply);
    }
    for reply in &refused {
        assert_eq!(reply.status, 503, "{}", reply.text);
        assert_eq!(reply.problem(), "overloaded", "{}", reply.text);
        assert_eq!(
            reply.headers.get("retry-after").map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
        assert!(reply.text.contains("稍后重试"), "{}", reply.text);
    }
    lock.rollback().await?;
    holder.close().await?;
    // The two that found a place are written once the database answers.
    while let Some(reply) = replies.next().await {
        assert_eq!(reply?.status, 201);
    }
    let cases = app
        .app
        .engine()
        .store()
        .reads()
        .cases(&CaseQuery::default())
        .await?;
    assert_eq!(cases.len(), 1 + ADMITTED, "refused commands wrote nothing");
    // Refused callers may simply try again.
    clerk.start(&form).await?.ok()?;
    Ok(())
});
