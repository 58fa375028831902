//! A database that is locked or slow: requests fail fast with 503 problem+json and
//! Retry-After, write nothing, and succeed once the database answers again. On PostgreSQL
//! the statement timeout cancels a statement stuck behind a lock; on SQLite the busy
//! timeout gives up on a held write lock.

use std::time::Duration;

use lianban::accounts::Role;
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
