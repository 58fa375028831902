//! The case history as evidence, on SQLite and on PostgreSQL: entries are hash-chained per
//! case, the database refuses to update or delete them, and when someone gets past that
//! (drops the triggers) the check names the first changed or removed entry of each case.
//! Closed cases can be exported with their hashes and documents.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use lianban::definition::{self, Catalog};
use lianban::documents::Templates;
use lianban::runtime::{Actor, CaseId, TaskId, TaskStatus};
use lianban::scheduler::Clock;
use lianban::service::Engine;
use lianban::store::{Archived, BrokenLink, Problem, TaskQuery};
use lianban_tests::{Backend, TestDb, db_test};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Map, Value, json};

#[derive(Debug)]
struct FixedClock(DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

fn fixture() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/documents")
}

fn clerk() -> Actor {
    Actor {
        user: "王芳".into(),
        department: Some("shebao".into()),
        on_behalf_of: None,
    }
}

async fn engine(db: &TestDb) -> anyhow::Result<Engine> {
    let templates = Arc::new(Templates::load(&fixture().join("templates"))?);
    let process = definition::load_file(&fixture().join("notice.yaml"), &templates)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = db.store().await?;
    store.definitions().register(&process).await?;
    // Nanoseconds on purpose: PostgreSQL keeps microseconds, and the chain must not care.
    let now = Utc
        .with_ymd_and_hms(2026, 9, 30, 1, 0, 0)
        .single()
        .unwrap_or_default()
        + chrono::Duration::nanoseconds(123_456_789);
    Ok(Engine::new(
        store,
        Catalog::new(vec![process]),
        templates,
        Arc::new(FixedClock(now)),
    ))
}

/// A started case (one entry) and its open task.
async fn started_case(engine: &Engine) -> anyhow::Result<(CaseId, TaskId)> {
    let mut form = Map::new();
    form.insert("name".into(), json!("张三"));
    form.insert("post".into(), json!("管理"));
    let case = engine
        .start_case("fixtures.documents", form, vec!["id_card".into()], &clerk())
        .await?;
    let query = TaskQuery {
        case: Some(case),
        statuses: vec![TaskStatus::Open],
        ..TaskQuery::default()
    };
    let task = engine
        .list_tasks(&query)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no open task"))?;
    Ok((case, task.id))
}

/// A case with five entries: start, claim, complete (issuing a supplement notice), view,
/// cancel; so it is closed and has a document.
async fn closed_case(engine: &Engine) -> anyhow::Result<CaseId> {
    let (case, task) = started_case(engine).await?;
    engine.claim(task, &clerk()).await?;
    engine
        .complete(task, &clerk(), "supplement", Map::new(), None)
        .await?;
    engine
        .store()
        .cases()
        .record_view(case, &clerk(), engine.now())
        .await?;
    engine.cancel(case, "申请人撤回", &clerk()).await?;
    assert_eq!(engine.history(case).await?.len(), 5);
    Ok(case)
}

async fn raw(db: &TestDb, sql: &str) -> Result<(), sea_orm::DbErr> {
    let conn = Database::connect(db.url.as_str()).await?;
    let result = conn.execute_unprepared(sql).await.map(|_| ());
    conn.close().await?;
    result
}

db_test!(an_untouched_history_verifies, |db| {
    let engine = engine(&db).await?;
    let a = closed_case(&engine).await?;
    closed_case(&engine).await?;
    let report = engine.store().admin().verify_history(None).await?;
    assert!(report.intact(), "{report:?}");
    assert_eq!((report.cases, report.entries), (2, 10));
    let one = engine.store().admin().verify_history(Some(a)).await?;
    assert_eq!((one.cases, one.entries), (1, 5));
    Ok(())
});

db_test!(the_database_refuses_to_change_history, |db| {
    let engine = engine(&db).await?;
    let case = closed_case(&engine).await?;
    let update = format!("UPDATE history SET actor = '李四' WHERE case_id = '{case}' AND seq = 2");
    assert!(raw(&db, &update).await.is_err(), "update accepted");
    let delete = format!("DELETE FROM history WHERE case_id = '{case}' AND seq = 5");
    assert!(raw(&db, &delete).await.is_err(), "delete accepted");
    let rewind = format!("UPDATE history_heads SET seq = 4 WHERE case_id = '{case}'");
    assert!(raw(&db, &rewind).await.is_err(), "head moved back");
    let forget = format!("DELETE FROM history_heads WHERE case_id = '{case}'");
    assert!(raw(&db, &forget).await.is_err(), "head removed");
    assert!(engine.store().admin().verify_history(None).await?.intact());
    Ok(())
});

db_test!(verify_names_a_changed_or_removed_entry, |db| {
    let engine = engine(&db).await?;
    let changed = closed_case(&engine).await?;
    let middle = closed_case(&engine).await?;
    let last = closed_case(&engine).await?;
    let relinked = closed_case(&engine).await?;
    let intact = closed_case(&engine).await?;
    // Only someone who drops the triggers can tamper.
    let drop = match db.backend {
        Backend::Postgres => {
            "DROP TRIGGER history_append_only ON history; \
             DROP TRIGGER history_heads_forward_only ON history_heads"
        }
        Backend::Sqlite => "DROP TRIGGER history_no_update; DROP TRIGGER history_no_delete",
    };
    for statement in drop.split("; ") {
        raw(&db, statement).await?;
    }
    raw(
        &db,
        &format!("UPDATE history SET actor = '李四' WHERE case_id = '{changed}' AND seq = 3"),
    )
    .await?;
    raw(
        &db,
        &format!("DELETE FROM history WHERE case_id = '{middle}' AND seq = 4"),
    )
    .await?;
    raw(
        &db,
        &format!("DELETE FROM history WHERE case_id = '{last}' AND seq = 5"),
    )
    .await?;
    // Only the link changed: entry 2 now names itself as its predecessor.
    raw(
        &db,
        &format!(
            "UPDATE history SET prev_hash = (SELECT hash FROM history h2 WHERE h2.case_id = \
             '{relinked}' AND h2.seq = 2) WHERE case_id = '{relinked}' AND seq = 2"
        ),
    )
    .await?;
    let report = engine.store().admin().verify_history(None).await?;
    assert_eq!((report.cases, report.entries), (5, 23));
    let link = |case: CaseId, entry, problem| BrokenLink {
        case: case.to_string(),
        entry,
        problem,
    };
    assert_eq!(
        report.broken,
        vec![
            link(changed, 3, Problem::Changed),
            link(middle, 4, Problem::Missing),
            link(last, 5, Problem::Missing),
            link(relinked, 2, Problem::Changed),
        ]
    );
    assert_eq!(
        report.broken[0].to_string(),
        format!("办件 {changed}：第 3 条记录已被修改")
    );
    assert_eq!(
        report.broken[1].to_string(),
        format!("办件 {middle}：第 4 条记录缺失")
    );
    assert!(
        engine
            .store()
            .admin()
            .verify_history(Some(intact))
            .await?
            .intact()
    );
    Ok(())
});

db_test!(new_entries_chain_on_after_a_restart, |db| {
    let engine = engine(&db).await?;
    let case = closed_case(&engine).await?;
    // A fresh connection pool reads the head back from the database.
    let again = db.store().await?;
    again
        .cases()
        .record_view(case, &clerk(), engine.now())
        .await?;
    let report = again.admin().verify_history(Some(case)).await?;
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.entries, 6);
    Ok(())
});

db_test!(
    views_between_reading_and_saving_a_case_lose_no_command,
    |db| {
        // A command appends after the chain head it read with the case; a view recorded in
        // between moves the head, and the command must then save after the new head rather
        // than fail or fork the chain.
        let engine = engine(&db).await?;
        let (case, task) = started_case(&engine).await?;
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let viewer = {
            let (store, done, now) = (engine.store().clone(), Arc::clone(&done), engine.now());
            tokio::spawn(async move {
                let mut views = 0_u64;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    store.cases().record_view(case, &clerk(), now).await?;
                    views += 1;
                    tokio::task::yield_now().await;
                }
                anyhow::Ok(views)
            })
        };
        let rounds = 25;
        for _ in 0..rounds {
            engine.claim(task, &clerk()).await?;
            engine.unclaim(task, &clerk()).await?;
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let views = viewer.await??;
        let report = engine.store().admin().verify_history(Some(case)).await?;
        assert!(report.intact(), "{report:?}");
        assert_eq!(report.entries, 1 + 2 * rounds + views);
        let commands = engine
            .history(case)
            .await?
            .iter()
            .filter(|h| h.action == "claim" || h.action == "unclaim")
            .count();
        assert_eq!(commands as u64, 2 * rounds);
        Ok(())
    }
);

db_test!(a_closed_case_archives_with_hashes_and_documents, |db| {
    let engine = engine(&db).await?;
    let case = closed_case(&engine).await?;
    let Archived::Ready(archive) = engine.store().admin().archive(case).await? else {
        anyhow::bail!("a cancelled case must archive");
    };
    let history = archive.record["history"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(history.len(), 5);
    assert!(
        history
            .iter()
            .all(|h| h["hash"].as_str().is_some_and(|s| s.len() == 64))
    );
    assert_eq!(archive.record["history_head"]["hash"], history[4]["hash"]);
    assert_eq!(archive.record["case"]["status"], json!("cancelled"));
    assert_eq!(archive.record["tasks"].as_array().map(Vec::len), Some(1));
    let documents = archive.record["documents"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(documents.len(), 1);
    assert!(documents[0].get("html").is_none());
    assert_eq!(archive.html.len(), 1);
    assert_eq!(archive.html[0].key, "supplement_notice");
    assert_eq!(
        documents[0]["content_hash"],
        Value::from(sha(&archive.html[0].html))
    );

    // An open case is refused; so is an unknown one.
    let mut form = Map::new();
    form.insert("name".into(), json!("李四"));
    form.insert("post".into(), json!("管理"));
    let open = engine
        .start_case("fixtures.documents", form, vec!["id_card".into()], &clerk())
        .await?;
    assert!(matches!(
        engine.store().admin().archive(open).await?,
        Archived::Open
    ));
    assert!(matches!(
        engine
            .store()
            .admin()
            .archive(CaseId(uuid::Uuid::nil()))
            .await?,
        Archived::NotFound
    ));
    let before = Utc
        .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    assert_eq!(
        engine.store().admin().closed_before(before).await?,
        vec![case]
    );
    let earlier = Utc
        .with_ymd_and_hms(2026, 9, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    assert!(
        engine
            .store()
            .admin()
            .closed_before(earlier)
            .await?
            .is_empty()
    );
    Ok(())
});

fn sha(text: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

db_test!(the_migration_chains_the_history_written_before_it, |db| {
    use lianban_migrations::{Migrator, MigratorTrait};
    let engine = engine(&db).await?;
    let a = closed_case(&engine).await?;
    let b = closed_case(&engine).await?;
    // Back to the schema before the chain (the rows stay, their hashes and heads go) …
    let conn = Database::connect(db.url.as_str()).await?;
    Migrator::down(&conn, Some(2)).await?;
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT COUNT(*) FROM history",
        ))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no count"))?;
    assert_eq!(row.try_get_by_index::<i64>(0)?, 10);
    // … and forward again: the existing rows are chained in order.
    Migrator::up(&conn, None).await?;
    conn.close().await?;
    let report = engine.store().admin().verify_history(None).await?;
    assert!(report.intact(), "{report:?}");
    assert_eq!((report.cases, report.entries), (2, 10));
    // The chain continues from the backfilled head, and protects the old rows too.
    engine
        .store()
        .cases()
        .record_view(a, &clerk(), engine.now())
        .await?;
    assert_eq!(
        engine
            .store()
            .admin()
            .verify_history(Some(a))
            .await?
            .entries,
        6
    );
    let update = format!("UPDATE history SET actor = '李四' WHERE case_id = '{b}' AND seq = 1");
    assert!(raw(&db, &update).await.is_err(), "the triggers are back");
    assert!(engine.store().admin().verify_history(None).await?.intact());
    Ok(())
});

db_test!(a_stopping_worker_gives_its_timer_leases_back, |db| {
    // Not history, but the other half of a clean stop: what `serve` does after SIGTERM.
    let engine = engine(&db).await?;
    let case = closed_case(&engine).await?;
    raw(
        &db,
        &format!(
            "INSERT INTO timers (id, case_id, subject, kind, fire_at, created_at) VALUES \
             ('t1', '{case}', 'task', 'due', '2026-09-30T01:00:00+00:00', '2026-09-30T01:00:00+00:00')"
        ),
    )
    .await?;
    let store = engine.store();
    let now = engine.now();
    let lease = now + chrono::Duration::seconds(60);
    assert!(
        store
            .jobs()
            .claim_timer("t1", "worker-a", now, lease)
            .await?
    );
    assert_eq!(store.jobs().held_leases().await?, 1);
    assert!(
        !store
            .jobs()
            .claim_timer("t1", "worker-b", now, lease)
            .await?
    );
    assert_eq!(store.jobs().release_timer_leases("worker-b").await?, 0);
    assert_eq!(store.jobs().release_timer_leases("worker-a").await?, 1);
    assert_eq!(store.jobs().held_leases().await?, 0);
    // Another worker takes it at once, without waiting for the lease to run out.
    assert!(
        store
            .jobs()
            .claim_timer("t1", "worker-b", now, lease)
            .await?
    );
    Ok(())
});
