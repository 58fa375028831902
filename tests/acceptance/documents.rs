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

/// The shipped templates and a county's shipped retirement definition.
fn shipped(county: &str) -> anyhow::Result<(Templates, definition::Process)> {
    let root = lianban_tests::web::repo();
    let templates = Templates::load(&root.join("templates"))?;
    let process = definition::load_file(
        &root.join(format!("processes/{county}/retirement.yaml")),
        &templates,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((templates, process))
}

/// The shipped 阳城 补正告知书 prints its date with 暂定 when the count of working days runs
/// into a year whose holiday notice is not out yet (issue 14, the year-end calendar).
#[test]
fn the_shipped_supplement_notice_marks_a_deadline_in_an_unpublished_year() -> anyhow::Result<()> {
    let (templates, process) = shipped("yangcheng")?;
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

// Issue 17: the shipped 阳城 papers as the county signs them. Each department signs with its
// issuing name (a 股 does not seal), no paper carries the policy's "附件N", every paper
// shows the case's readable number, 出生年月 reads 1965年1月, and a refusal is a numbered
// written notice from the refusing department with the reason typed once, which the
// 办结通知书 then names.

/// An engine over the shipped definitions and templates at `now`.
async fn shipped_engine(db: &TestDb, now: DateTime<Utc>) -> anyhow::Result<Engine> {
    let root = lianban_tests::web::repo();
    let templates = Arc::new(Templates::load(&root.join("templates"))?);
    let loaded = definition::load_paths(&[root.join("processes")], &templates)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = db.store().await?;
    for process in loaded.iter().filter(|p| !p.is_abstract) {
        store.definitions().register(process).await?;
    }
    Ok(Engine::new(
        store,
        Catalog::new(loaded),
        templates,
        Arc::new(FixedClock(now)),
    ))
}

fn yibao_clerk() -> Actor {
    Actor {
        user: "yibao_zhao".into(),
        department: Some("yibao".into()),
        on_behalf_of: None,
    }
}

fn gjj_clerk() -> Actor {
    Actor {
        user: "gjj_sun".into(),
        department: Some("gjj".into()),
        on_behalf_of: None,
    }
}

/// The paper's text without tags, for reading as the county would.
fn paper_text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html
        .split("<style>")
        .map(|part| part.split_once("</style>").map_or(part, |(_, rest)| rest))
        .collect::<String>()
        .chars()
    {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// No paper handed out carries the policy's attachment label.
fn assert_no_attachment_label(key: &str, html: &str) {
    let text = paper_text(html);
    assert!(
        !text.contains("附件1")
            && !text.contains("附件2")
            && !text.contains("附件3")
            && !text.contains("附件4")
            && !text.contains("附件5")
            && !text.contains("附件6"),
        "{key} carries 附件N: {text}"
    );
}

db_test!(
    shipped_papers_carry_the_issuer_the_case_number_and_written_refusals,
    |db| {
        use lianban_tests::retirement::{PROCESS, application, complete_step, reviewer, window};
        let engine = shipped_engine(&db, nine_am()).await?;
        let mut form = application("张三", "140522196501151012", true, true);
        form.insert("work_start".into(), json!("1983-07"));
        let case = engine
            .start_case(PROCESS, form, vec!["application".into()], &window())
            .await?;
        let record = engine.get_case(case).await?.context("stored")?;
        let number = record.state.number.context("numbered")?;
        assert_eq!(number.as_str(), "阳城退休〔2026〕0001");

        // The application form shows the number, not the UUID, and the birth month in words.
        let form_paper = preview(
            engine.catalog().latest(PROCESS).context("loaded")?.as_ref(),
            &engine.templates(),
            "application_form",
            &record.state.form,
            nine_am(),
        )?;
        let text = paper_text(&form_paper.html);
        assert!(
            text.contains("办件编号：阳城退休〔2026〕0000（预览）"),
            "{text}"
        );
        assert!(
            text.contains("1965年1月") && !text.contains("1965-01"),
            "{text}"
        );

        complete_step(&engine, case, "accept", "accept", json!({}), &window()).await?;
        complete_step(
            &engine,
            case,
            "confirm",
            "confirm",
            json!({"retirement_date": "2025-02", "pension_monthly": 3120.5}),
            &reviewer(),
        )
        .await?;
        // 医保 refuses: the reason is typed once, as the outcome's reason.
        let query = TaskQuery {
            case: Some(case),
            statuses: vec![TaskStatus::Open],
            steps: vec!["medical".into()],
            ..TaskQuery::default()
        };
        let medical = engine.list_tasks(&query).await?;
        let medical = medical.first().context("a medical task")?;
        engine.claim(medical.id, &yibao_clerk()).await?;
        engine
            .complete(
                medical.id,
                &yibao_clerk(),
                "refuse",
                Map::new(),
                Some("医保缴费记录不全，请先补齐缴费记录".into()),
            )
            .await?;
        complete_step(
            &engine,
            case,
            "fund",
            "done",
            json!({"fund_amount": 52000}),
            &gjj_clerk(),
        )
        .await?;
        complete_step(
            &engine,
            case,
            "completion",
            "delivered",
            json!({}),
            &window(),
        )
        .await?;

        let documents = engine.list_documents(case).await?;
        let keys: Vec<&str> = documents.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(keys, ["medical_refusal_notice", "completion_notice"]);
        let refusal = &documents[0];
        assert_eq!(refusal.number.as_deref(), Some("阳医不办〔2026〕第0001号"));
        assert_eq!(refusal.department.as_deref(), Some("yibao"));
        let text = paper_text(&refusal.html);
        for expected in [
            "企业职工医疗缴费年限认定不予办理通知书",
            "编号：阳医不办〔2026〕第0001号",
            "办件编号：阳城退休〔2026〕0001",
            "申请办理的企业职工医疗缴费年限认定，经审查，决定不予办理。理由如下：",
            "医保缴费记录不全，请先补齐缴费记录",
            "不影响企业职工退休信息确认、待遇计发",
            // Signed by the 医疗保障局, not by 社保.
            "阳城县医疗保障局",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
        assert!(!text.contains("阳城县社会保险服务中心"), "{text}");

        let completion = &documents[1];
        let text = paper_text(&completion.html);
        for expected in [
            "办件编号：阳城退休〔2026〕0001",
            "不予办理。理由：医保缴费记录不全，请先补齐缴费记录",
            "阳城县医疗保障局已出具《企业职工医疗缴费年限认定不予办理通知书》，编号阳医不办〔2026〕第0001号",
            "提取金额52000.00元",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
        // The 中心 signs; its 股 is where to ask, never the signature.
        assert!(
            completion.html.contains("<p>阳城县社会保险服务中心</p>"),
            "{}",
            completion.html
        );
        assert!(!completion.html.contains("<p>阳城县社保中心企业保险股</p>"));
        for document in &documents {
            assert_no_attachment_label(&document.key, &document.html);
        }
        Ok(())
    }
);

db_test!(
    a_rejection_is_a_numbered_notice_signed_by_the_centre,
    |db| {
        use lianban_tests::retirement::{PROCESS, application, window};
        let engine = shipped_engine(&db, nine_am()).await?;
        let case = engine
            .start_case(
                PROCESS,
                application("赵六", "140522196501151012", false, false),
                Vec::new(),
                &window(),
            )
            .await?;
        let task = engine
            .list_tasks(&TaskQuery {
                case: Some(case),
                ..TaskQuery::default()
            })
            .await?;
        let task = task.first().context("accept")?;
        engine.claim(task.id, &window()).await?;
        // Without a reason there is nothing to write on the notice.
        let refused = engine
            .complete(task.id, &window(), "reject", Map::new(), None)
            .await;
        assert!(
            matches!(
                refused,
                Err(EngineError::Runtime(RuntimeError::ReasonRequired { .. }))
            ),
            "{refused:?}"
        );
        engine
            .complete(
                task.id,
                &window(),
                "reject",
                Map::new(),
                Some("未在阳城县参加企业职工基本养老保险".into()),
            )
            .await?;
        let documents = engine.list_documents(case).await?;
        assert_eq!(documents.len(), 1);
        let notice = &documents[0];
        assert_eq!(notice.key, "rejection_notice");
        assert_eq!(notice.number.as_deref(), Some("阳社不受〔2026〕第0001号"));
        let text = paper_text(&notice.html);
        for expected in [
            "不予受理通知书",
            "办件编号：阳城退休〔2026〕0001",
            "决定不予受理。理由如下：",
            "未在阳城县参加企业职工基本养老保险",
            "阳城县社会保险服务中心",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
        assert_no_attachment_label(&notice.key, &notice.html);
        Ok(())
    }
);

/// The push table (推送信息表) as the schedule renders it: 制表单位 is the 中心, 出生年月
/// and the other months read 1965年1月, and each row carries its case number.
#[test]
fn the_push_table_reads_months_in_words_and_is_made_by_the_centre() -> anyhow::Result<()> {
    let (templates, process) = shipped("yangcheng")?;
    let rows = vec![json!({
        "number": "阳城退休〔2026〕0012",
        "form": {"name": "张三", "gender": "男", "birth": "1965-01", "id_number": "140522196501151012",
                 "work_start": "1983-07", "employer": "阳城县某煤业有限公司", "joint_medical": true},
        "data": {"retirement_date": "2025-02"},
    })];
    let table = lianban::documents::preview_table(
        &process,
        &templates,
        "push_table",
        rows,
        Some("yibao"),
        nine_am(),
    )?;
    let text = paper_text(&table.html);
    for expected in [
        "制表单位（盖章）：阳城县社会保险服务中心",
        "阳城退休〔2026〕0012",
        "1965年1月",
        "1983年7月",
        "2025年2月",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    assert!(
        !text.contains("1965-01") && !text.contains("企业保险股"),
        "{text}"
    );
    assert_no_attachment_label("push_table", &table.html);
    // Every other paper, previewed, carries no 附件N either.
    for key in process.documents.keys() {
        if key == "push_table" {
            continue;
        }
        let paper = preview(&process, &templates, key, &Map::new(), nine_am())?;
        assert_no_attachment_label(key, &paper.html);
    }
    Ok(())
}

db_test!(
    case_numbers_are_gap_free_per_county_and_year_under_concurrent_starts,
    |db| {
        use lianban_tests::retirement::{PROCESS, application, window};
        let engine = shipped_engine(&db, nine_am()).await?;
        let mut handles = Vec::new();
        for n in 0..16 {
            let engine = engine.clone();
            handles.push(tokio::spawn(async move {
                let process = if n % 4 == 0 {
                    "zezhou.retirement"
                } else {
                    PROCESS
                };
                let mut form = application("张三", "140522196501151012", false, false);
                if process != PROCESS {
                    form.insert("address".into(), json!("泽州县南村镇"));
                }
                let case = engine
                    .start_case(process, form, Vec::new(), &window())
                    .await?;
                anyhow::Ok(case)
            }));
        }
        let mut numbers = BTreeSet::new();
        for handle in handles {
            let case = handle.await??;
            let record = engine.get_case(case).await?.context("stored")?;
            numbers.insert(record.state.number.context("numbered")?.to_string());
        }
        let mut expected: BTreeSet<String> = (1..=12)
            .map(|n| format!("阳城退休〔2026〕{n:04}"))
            .collect();
        expected.extend((1..=4).map(|n| format!("泽州退休〔2026〕{n:04}")));
        assert_eq!(numbers, expected);

        // A start the rules refuse draws nothing: the next case takes the next number.
        let mut bad = application("张三", "140522196501151012", false, false);
        bad.insert("gender".into(), json!("未知"));
        assert!(
            engine
                .start_case(PROCESS, bad, Vec::new(), &window())
                .await
                .is_err()
        );
        // A new year (Beijing time) starts again from 1.
        let new_year = Utc
            .with_ymd_and_hms(2026, 12, 31, 16, 30, 0)
            .single()
            .context("time")?;
        let later = shipped_engine(&db, new_year).await?;
        let case = later
            .start_case(
                PROCESS,
                application("李四", "140522196501151012", false, false),
                Vec::new(),
                &window(),
            )
            .await?;
        let record = later.get_case(case).await?.context("stored")?;
        assert_eq!(
            record.state.number.map(String::from).as_deref(),
            Some("阳城退休〔2027〕0001")
        );
        let case = engine
            .start_case(
                PROCESS,
                application("王五", "140522196501151012", false, false),
                Vec::new(),
                &window(),
            )
            .await?;
        let record = engine.get_case(case).await?.context("stored")?;
        assert_eq!(
            record.state.number.map(String::from).as_deref(),
            Some("阳城退休〔2026〕0013")
        );
        Ok(())
    }
);

/// 沁水's two extra joint items are two entries of its definition's `joint_items`: the
/// shared base templates list them on every paper, and the county ships no template.
#[test]
fn a_county_adds_joint_items_in_its_definition_and_the_base_papers_list_them() -> anyhow::Result<()>
{
    assert!(
        !lianban_tests::web::repo()
            .join("templates/qinshui")
            .exists(),
        "沁水 needs no templates of its own"
    );
    let (templates, process) = shipped("qinshui")?;
    let items: Vec<&str> = process.joint_items.iter().map(|j| j.key.as_str()).collect();
    assert_eq!(items, ["medical", "fund", "hukou", "only_child"]);
    let form = json!({
        "name": "张三", "gender": "男", "id_number": "140521196501151016", "birth": "1965-01",
        "work_start": "1985-07", "employer": "沁水县某煤业有限公司", "post": "生产",
        "joint_medical": true, "joint_fund": false, "joint_hukou": true, "joint_only_child": true,
        "delivery": "现场自取",
    });
    let form = form.as_object().cloned().unwrap_or_default();
    let data = json!({
        "retirement_confirmed": true, "retirement_date": "2025-02",
        "medical_done": true, "medical_years_confirmed": 25, "medical_topup_months": 6,
        "hukou_done": true, "hukou_note": "户籍登记为1965年3月",
        "only_child_done": true, "only_child_amount": 3000,
    });
    let data = data.as_object().cloned().unwrap_or_default();
    let case = lianban::documents::CaseView {
        id: "case",
        form: &form,
        data: &data,
        materials: &[],
        started_at: nine_am(),
        number: Some("沁水退休〔2026〕0003"),
    };
    let render = |key: &str| -> anyhow::Result<String> {
        let draft = lianban::documents::Draft::new(&process, key, &case, None, &[], nine_am())?;
        Ok(paper_text(&draft.render(&templates, None)?.html))
    };
    let completion = render("completion_notice")?;
    for expected in [
        "企业职工医疗缴费年限认定已办理。认定医保缴费年限25年，需一次性补缴6个月。",
        "户籍信息确认已确认。户籍出生日期与档案记载不一致：户籍登记为1965年3月。",
        "独生子女父母奖励金已办理。奖励金额3000.00元。",
    ] {
        assert!(
            completion
                .split_whitespace()
                .collect::<String>()
                .contains(expected),
            "{expected} in {completion}"
        );
    }
    assert!(
        !completion.contains("提取住房公积金"),
        "an item not asked for is not listed: {completion}"
    );
    let notice = render("notice")?;
    assert!(
        notice.contains("公安机关（户籍信息确认）")
            && notice.contains("卫生健康部门（独生子女父母奖励金）")
            && !notice.contains("住房公积金管理部门审核"),
        "{notice}"
    );
    let table = lianban::documents::preview_table(
        &process,
        &templates,
        "push_table",
        vec![json!({"form": form, "data": data})],
        Some("gongan"),
        nine_am(),
    )?;
    let table = paper_text(&table.html);
    assert!(
        table.contains("户籍确认") && table.contains("独生子女奖励金"),
        "{table}"
    );
    Ok(())
}
