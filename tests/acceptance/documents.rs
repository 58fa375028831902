//! Issued documents end to end, on SQLite and on PostgreSQL: numbers drawn inside the
//! transition's transaction (unique and gap-free under concurrency), the rendered notice
//! stored with the case, nothing written when a template fails, and the 一次性告知 check
//! that makes a second supplement request need a written reason.

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, TimeZone, Utc};
use lianban::definition::{self, Catalog};
use lianban::documents::{Templates, preview};
use lianban::runtime::{Actor, CaseId, Event, RuntimeError, TaskStatus};
use lianban::scheduler::Clock;
use lianban::service::{Engine, EngineError};
use lianban::store::{Missing, StoreError, TaskQuery};
use lianban_migrations::{Migrator, MigratorTrait};
use lianban_tests::{Backend, TestDb, db_test};
use sea_orm::ConnectionTrait;
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

fn load() -> anyhow::Result<(Arc<Templates>, definition::Process)> {
    let templates = Arc::new(Templates::load(&fixture().join("templates"))?);
    let process = definition::load_file(&fixture().join("notice.yaml"), &templates)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((templates, process))
}

/// 2026-09-30 09:00 Beijing time.
fn nine_am() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 9, 30, 1, 0, 0)
        .single()
        .unwrap_or_default()
}

async fn engine(db: &TestDb) -> anyhow::Result<Engine> {
    engine_at(db, nine_am()).await
}

async fn engine_at(db: &TestDb, now: DateTime<Utc>) -> anyhow::Result<Engine> {
    let (templates, process) = load()?;
    let store = db.store().await?;
    store.definitions().register(&process).await?;
    Ok(Engine::new(
        store,
        Catalog::new(vec![process]),
        templates,
        Arc::new(FixedClock(now)),
    ))
}

fn clerk() -> Actor {
    Actor {
        user: "王芳".into(),
        department: Some("shebao".into()),
        on_behalf_of: None,
    }
}

fn form(post: &str) -> Map<String, Value> {
    let mut form = Map::new();
    form.insert("name".into(), json!("张三"));
    form.insert("post".into(), json!(post));
    form
}

async fn start(engine: &Engine, post: &str) -> anyhow::Result<CaseId> {
    Ok(engine
        .start_case(
            "fixtures.documents",
            form(post),
            vec!["id_card".into()],
            &clerk(),
        )
        .await?)
}

/// Claims and completes the case's open `accept` task.
async fn decide(
    engine: &Engine,
    case: CaseId,
    outcome: &str,
    data: Map<String, Value>,
    reason: Option<&str>,
) -> Result<(), EngineError> {
    let query = TaskQuery {
        statuses: vec![TaskStatus::Open, TaskStatus::Claimed],
        ..TaskQuery::default()
    };
    let task = engine
        .list_tasks(&query)
        .await?
        .into_iter()
        .find(|t| t.case_id == case)
        .ok_or(StoreError::NotFound(Missing::Case(case)))?;
    engine.claim(task.id, &clerk()).await?;
    engine
        .complete(task.id, &clerk(), outcome, data, reason.map(str::to_owned))
        .await?;
    Ok(())
}

db_test!(a_supplement_notice_is_numbered_rendered_and_stored, |db| {
    let engine = engine(&db).await?;
    let case = start(&engine, "生产").await?;
    decide(&engine, case, "supplement", Map::new(), None).await?;

    let documents = engine.list_documents(case).await?;
    assert_eq!(documents.len(), 1);
    let notice = &documents[0];
    assert_eq!(notice.key, "supplement_notice");
    assert_eq!(notice.number.as_deref(), Some("测补〔2026〕第0001号"));
    assert_eq!(notice.missing.as_deref(), Some(&["roster".to_owned()][..]));
    assert_eq!(notice.second_request, None);
    assert_eq!(notice.department.as_deref(), Some("shebao"));
    assert_eq!(
        (notice.issued_by.as_str(), notice.step.as_str()),
        ("王芳", "accept")
    );
    for expected in [
        "编号：测补〔2026〕第0001号",
        "张三：请于5个工作日内提交",
        "<li>职工正常退休信息确认花名表（2份）</li>",
        "经办人：王芳（阳城县社保中心企业保险股）",
        "2026年09月30日",
    ] {
        assert!(
            notice.html.contains(expected),
            "{expected} in {}",
            notice.html
        );
    }
    assert!(
        !notice.html.contains("身份证"),
        "received materials are not listed"
    );
    assert_eq!(notice.content_hash.len(), 64);
    assert_eq!(notice.template_hash.len(), 64);

    assert_eq!(
        engine.get_document(case, notice.id).await?.as_ref(),
        Some(notice)
    );
    let other = start(&engine, "灵活就业").await?;
    assert_eq!(engine.get_document(other, notice.id).await?, None);

    // A flexible employee owes no roster: the next notice lists nothing of it, and takes
    // the next number.
    decide(&engine, other, "supplement", Map::new(), None).await?;
    let second = engine.list_documents(other).await?;
    assert_eq!(second[0].number.as_deref(), Some("测补〔2026〕第0002号"));
    assert_eq!(second[0].missing.as_deref(), Some(&[][..]));
    Ok(())
});

db_test!(a_template_failure_writes_nothing_and_uses_no_number, |db| {
    let engine = engine(&db).await?;
    let case = start(&engine, "生产").await?;
    let before = engine.get_case(case).await?.context("case")?;
    let error = decide(&engine, case, "broken", Map::new(), None)
        .await
        .expect_err("the template reads an undefined variable");
    assert!(matches!(error, EngineError::Document(_)), "{error:?}");
    assert_eq!(error.code(), "document", "{error}");
    let after = engine.get_case(case).await?.context("case")?;
    // The claim went through; the completion did not.
    assert_eq!(after.revision, before.revision + 1);
    assert!(engine.list_documents(case).await?.is_empty());
    assert_eq!(
        engine.history(case).await?.last().map(|h| h.action.clone()),
        Some("claim".to_owned())
    );
    // The number the failed document drew was given back.
    let task = after.state.tasks.first().context("task")?;
    engine
        .complete(task.id, &clerk(), "supplement", Map::new(), None)
        .await?;
    let documents = engine.list_documents(case).await?;
    assert_eq!(documents[0].number.as_deref(), Some("测补〔2026〕第0001号"));
    Ok(())
});

db_test!(numbers_restart_each_year_in_beijing_time, |db| {
    let engine = engine(&db).await?;
    let case = start(&engine, "生产").await?;
    decide(&engine, case, "supplement", Map::new(), None).await?;
    // 2026-12-31 16:30 UTC is 2027-01-01 00:30 in Yangcheng: a new year, a new sequence.
    let new_year = Utc
        .with_ymd_and_hms(2026, 12, 31, 16, 30, 0)
        .single()
        .context("time")?;
    let later = engine_at(&db, new_year).await?;
    let case = start(&later, "生产").await?;
    decide(&later, case, "supplement", Map::new(), None).await?;
    let documents = later.list_documents(case).await?;
    assert_eq!(documents[0].number.as_deref(), Some("测补〔2027〕第0001号"));
    assert!(documents[0].html.contains("2027年01月01日"));
    Ok(())
});

db_test!(numbers_are_unique_and_gap_free_under_concurrency, |db| {
    let engine = engine(&db).await?;
    let mut cases = Vec::new();
    for _ in 0..20 {
        cases.push(start(&engine, "生产").await?);
    }
    let mut handles = Vec::new();
    for case in cases.clone() {
        let engine = engine.clone();
        handles.push(tokio::spawn(async move {
            decide(&engine, case, "supplement", Map::new(), None).await
        }));
    }
    for handle in handles {
        handle.await??;
    }
    let mut numbers = BTreeSet::new();
    for case in cases {
        for document in engine.list_documents(case).await? {
            numbers.insert(document.number.context("numbered")?);
        }
    }
    let expected: BTreeSet<String> = (1..=20)
        .map(|n| format!("测补〔2026〕第{n:04}号"))
        .collect();
    assert_eq!(numbers, expected);
    Ok(())
});

db_test!(
    a_second_supplement_request_needs_a_reason_and_is_listed,
    |db| {
        let engine = engine(&db).await?;
        let case = start(&engine, "生产").await?;
        decide(&engine, case, "supplement", Map::new(), None).await?;
        // Nothing supplied: asking again for the roster keeps the promise.
        engine
            .deliver(case, "supplied", Map::new(), vec![], &clerk())
            .await?;
        decide(&engine, case, "supplement", Map::new(), None).await?;
        assert!(engine.list_second_supplements(None).await?.is_empty());

        // The roster arrives, but now the applicant also wants the provident fund: the fund
        // list was not in the first notice, so this is a second request.
        engine
            .deliver(
                case,
                "supplied",
                Map::new(),
                vec!["roster".into()],
                &clerk(),
            )
            .await?;
        let mut fund = Map::new();
        fund.insert("joint_fund".into(), json!(true));
        let error = decide(&engine, case, "supplement", fund.clone(), None)
            .await
            .expect_err("a second request needs a reason");
        assert!(
            matches!(&error, EngineError::Runtime(RuntimeError::SecondSupplementReasonRequired { items }) if items == "住房公积金汇缴变更清册"),
            "{error:?}"
        );
        assert_eq!(error.code(), "second-supplement-reason-required", "{error}");
        assert_eq!(engine.list_documents(case).await?.len(), 2);

        let reason = "申请人受理后新增提取住房公积金";
        let task = engine
            .get_case(case)
            .await?
            .context("case")?
            .state
            .tasks
            .into_iter()
            .rfind(|t| t.status == TaskStatus::Claimed)
            .context("claimed task")?;
        engine
            .complete(task.id, &clerk(), "supplement", fund, Some(reason.into()))
            .await?;

        let documents = engine.list_documents(case).await?;
        assert_eq!(documents.len(), 3);
        let last = &documents[2];
        assert_eq!(last.missing.as_deref(), Some(&["fund_list".to_owned()][..]));
        let second = last.second_request.as_ref().context("second request")?;
        assert_eq!(
            (second.items.clone(), second.reason.as_str()),
            (vec!["fund_list".to_owned()], reason)
        );
        let history = engine.history(case).await?;
        assert!(
            history
                .iter()
                .any(|h| h.events.contains(&Event::SecondSupplementRequested {
                    items: vec!["fund_list".into()],
                    reason: reason.into(),
                }))
        );
        let listed = engine.list_second_supplements(Some("shebao")).await?;
        assert_eq!(
            listed.iter().map(|d| d.id).collect::<Vec<_>>(),
            vec![last.id]
        );
        assert!(
            engine
                .list_second_supplements(Some("yibao"))
                .await?
                .is_empty()
        );
        assert_eq!(engine.list_second_supplements(None).await?.len(), 1);
        Ok(())
    }
);

#[test]
fn a_preview_shows_every_missing_material_and_a_preview_number() -> anyhow::Result<()> {
    let (templates, process) = load()?;
    let html = preview(
        &process,
        &templates,
        "supplement_notice",
        &form("生产"),
        nine_am(),
    )?
    .html;
    assert!(html.contains("测补〔2026〕第0000号（预览）"), "{html}");
    assert!(html.contains("居民身份证复印件") && html.contains("职工正常退休信息确认花名表"));
    assert!(!html.contains("住房公积金"), "{html}");
    assert!(preview(&process, &templates, "nope", &form("生产"), nine_am()).is_err());
    Ok(())
}

db_test!(
    a_first_request_made_before_the_state_kept_it_is_filled_in_by_the_migration,
    |db| {
        let engine = engine(&db).await?;
        let case = start(&engine, "生产").await?;
        decide(&engine, case, "supplement", Map::new(), None).await?;
        let first = engine.list_documents(case).await?[0].missing.clone();
        assert!(
            first.is_some(),
            "the first notice records what it asked for"
        );
        let kept = |engine: &Engine| {
            let engine = engine.clone();
            async move {
                let record = engine.get_case(case).await?.context("case")?;
                anyhow::Ok(record.state.first_supplement)
            }
        };
        assert_eq!(kept(&engine).await?, first);

        // The state as the runtime saved it before it kept the first request.
        let conn = sea_orm::Database::connect(&db.url).await?;
        let strip = match db.backend {
            Backend::Sqlite => "UPDATE cases SET state = json_remove(state, '$.first_supplement')",
            Backend::Postgres => "UPDATE cases SET state = state - 'first_supplement'",
        };
        conn.execute_unprepared(strip).await?;
        assert_eq!(kept(&engine).await?, None);

        // Undo the migration that fills the state in, and every one after it.
        let migrations = Migrator::migrations();
        let at = migrations
            .iter()
            .position(|m| m.name() == "m20261206_000701_keep_first_supplement_in_state")
            .context("the migration")?;
        let steps = u32::try_from(migrations.len() - at)?;
        Migrator::down(&conn, Some(steps)).await?;
        Migrator::up(&conn, None).await?;
        assert_eq!(kept(&engine).await?, first);
        Ok(())
    }
);

/// The shipped 阳城 补正告知书 prints its date with 暂定 when the count of working days runs
/// into a year whose holiday notice is not out yet (issue 14, the year-end calendar).
#[test]
fn the_shipped_supplement_notice_marks_a_deadline_in_an_unpublished_year() -> anyhow::Result<()> {
    let root = lianban_tests::web::repo();
    let templates = Templates::load(&root.join("templates"))?;
    let process = definition::load_file(
        &root.join("processes/yangcheng/retirement.yaml"),
        &templates,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let form = serde_json::Map::new();
    let at = |y, m, d| {
        Utc.with_ymd_and_hms(y, m, d, 1, 0, 0)
            .single()
            .unwrap_or_default()
    };
    // 28 December 2026: five working days reach into 2027, which has no notice yet.
    let late = preview(
        &process,
        &templates,
        "supplement_notice",
        &form,
        at(2026, 12, 28),
    )?;
    assert!(
        late.html
            .contains("暂定：该年节假日安排公布后以实际工作日为准"),
        "{}",
        late.html
    );
    // 1 June 2026: the whole count stays inside the published 2026.
    let june = preview(
        &process,
        &templates,
        "supplement_notice",
        &form,
        at(2026, 6, 1),
    )?;
    assert!(!june.html.contains("暂定"), "{}", june.html);
    Ok(())
}
