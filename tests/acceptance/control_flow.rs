//! Control-flow patterns end to end: each fixture in `tests/fixtures/flows/` is loaded by the
//! real loader and driven through the real `Engine` on a real SQLite file and on PostgreSQL,
//! the way clerks would (claim, complete, deliver, cancel), checking tasks, results and history.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, TimeZone, Utc};
use lianban::definition::{self, Catalog};
use lianban::documents::Templates;
use lianban::runtime::{Actor, CaseId, CaseStatus, TaskStatus};
use lianban::scheduler::Clock;
use lianban::service::{Engine, EngineError};
use lianban::store::{StoreError, TaskQuery, TaskRecord};
use lianban_tests::{TestDb, db_test};
use serde_json::{Map, Value, json};

#[derive(Debug)]
struct FixedClock(DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

async fn engine(db: &TestDb, flow: &str) -> anyhow::Result<Engine> {
    let templates = Arc::new(Templates::load(&fixtures().join("templates"))?);
    let file = fixtures().join("flows").join(format!("{flow}.yaml"));
    let process = definition::load_file(&file, &templates).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = db.store().await?;
    store.definitions().register(&process).await?;
    // 2026-09-30 09:00 Beijing time, a Wednesday.
    let now = Utc
        .with_ymd_and_hms(2026, 9, 30, 1, 0, 0)
        .single()
        .context("time")?;
    Ok(Engine::new(
        store,
        Catalog::new(vec![process]),
        templates,
        Arc::new(FixedClock(now)),
    ))
}

fn clerk(user: &str, department: &str) -> Actor {
    Actor {
        user: user.into(),
        department: Some(department.into()),
        on_behalf_of: None,
    }
}

fn form(name: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m
}

async fn start(engine: &Engine, form: Map<String, Value>) -> anyhow::Result<CaseId> {
    let process = engine
        .catalog()
        .iter()
        .next()
        .context("one process")?
        .id
        .clone();
    Ok(engine
        .start_case(&process, form, vec![], &clerk("window", "shebao"))
        .await?)
}

/// Open (or claimed) tasks of the case, in creation order.
async fn open(engine: &Engine, case: CaseId) -> anyhow::Result<Vec<TaskRecord>> {
    let query = TaskQuery {
        statuses: vec![TaskStatus::Open, TaskStatus::Claimed],
        ..TaskQuery::default()
    };
    let mut tasks: Vec<_> = engine
        .list_tasks(&query)
        .await?
        .into_iter()
        .filter(|t| t.case_id == case)
        .collect();
    tasks.sort_by_key(|t| t.created_at);
    Ok(tasks)
}

/// Step ids of the tasks, sorted: branches created at the same instant have no order.
fn steps(tasks: &[TaskRecord]) -> Vec<&str> {
    let mut steps: Vec<&str> = tasks.iter().map(|t| t.step.as_str()).collect();
    steps.sort_unstable();
    steps
}

/// Claims and completes the open task at `step` as a clerk of its department.
async fn finish(engine: &Engine, case: CaseId, step: &str, outcome: &str) -> anyhow::Result<()> {
    finish_with(engine, case, step, outcome, None).await
}

async fn finish_with(
    engine: &Engine,
    case: CaseId,
    step: &str,
    outcome: &str,
    reason: Option<&str>,
) -> anyhow::Result<()> {
    let task = open(engine, case)
        .await?
        .into_iter()
        .find(|t| t.step.as_str() == step)
        .with_context(|| format!("no open task at {step}"))?;
    let actor = clerk(&format!("{}-clerk", task.department), &task.department);
    engine.claim(task.id, &actor).await?;
    engine
        .complete(
            task.id,
            &actor,
            outcome,
            Map::new(),
            reason.map(str::to_owned),
        )
        .await?;
    Ok(())
}

async fn status(engine: &Engine, case: CaseId) -> anyhow::Result<CaseStatus> {
    Ok(engine
        .get_case(case)
        .await?
        .context("case exists")?
        .state
        .status)
}

fn completed(result: &str, step: &str) -> CaseStatus {
    CaseStatus::Completed {
        result: result.into(),
        step: step.into(),
    }
}

db_test!(sequence, |db| {
    let engine = engine(&db, "sequence").await?;
    let case = start(&engine, form("张三")).await?;
    assert_eq!(steps(&open(&engine, case).await?), ["accept"]);
    let accept = &open(&engine, case).await?[0];
    assert!(accept.due_at.is_some(), "`1 day` gives a due time");
    finish(&engine, case, "accept", "accept").await?;
    assert_eq!(steps(&open(&engine, case).await?), ["review"]);
    finish(&engine, case, "review", "approve").await?;
    assert!(open(&engine, case).await?.is_empty());
    assert_eq!(status(&engine, case).await?, completed("办结", "done"));
    let history = engine.history(case).await?;
    let actions: Vec<&str> = history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(actions, ["start", "claim", "complete", "claim", "complete"]);
    assert_eq!(history[2].from_steps, vec!["accept".into()]);
    assert_eq!(history[2].to_steps, vec!["review".into()]);
    assert_eq!(history[4].to_status, "completed");
    Ok(())
});

db_test!(parallel_split_and_synchronization, |db| {
    let engine = engine(&db, "parallel").await?;
    let case = start(&engine, form("李四")).await?;
    finish(&engine, case, "accept", "accept").await?;
    assert_eq!(steps(&open(&engine, case).await?), ["fund", "medical"]);
    finish(&engine, case, "fund", "done").await?;
    // The join waits for the other branch.
    assert_eq!(steps(&open(&engine, case).await?), ["medical"]);
    finish(&engine, case, "medical", "done").await?;
    assert_eq!(steps(&open(&engine, case).await?), ["archive"]);
    finish(&engine, case, "archive", "done").await?;
    assert_eq!(status(&engine, case).await?, completed("办结", "done"));
    Ok(())
});

db_test!(exclusive_choice_and_simple_merge, |db| {
    let engine = engine(&db, "exclusive_choice").await?;
    let mut enough = form("王五");
    enough.insert("years".into(), json!(20));
    let mut short = form("赵六");
    short.insert("years".into(), json!(8));
    let a = start(&engine, enough).await?;
    let b = start(&engine, short).await?;
    assert_eq!(steps(&open(&engine, a).await?), ["confirm"]);
    assert_eq!(steps(&open(&engine, b).await?), ["explain"]);
    finish(&engine, a, "confirm", "done").await?;
    finish(&engine, b, "explain", "done").await?;
    // Both paths merge at the same step.
    assert_eq!(steps(&open(&engine, a).await?), ["archive"]);
    assert_eq!(steps(&open(&engine, b).await?), ["archive"]);
    let case = engine.get_case(a).await?.context("case")?;
    assert_eq!(case.state.data.get("eligible"), Some(&json!(true)));
    Ok(())
});

async fn multi_choice_case(
    engine: &Engine,
    medical: bool,
    fund: bool,
) -> anyhow::Result<(CaseId, Vec<String>)> {
    let mut f = form("钱七");
    f.insert("joint_medical".into(), json!(medical));
    f.insert("joint_fund".into(), json!(fund));
    let case = start(engine, f).await?;
    finish(engine, case, "accept", "accept").await?;
    let branches = steps(&open(engine, case).await?)
        .into_iter()
        .map(str::to_owned)
        .collect();
    Ok((case, branches))
}

db_test!(multi_choice_and_synchronizing_merge, |db| {
    let engine = engine(&db, "multi_choice").await?;
    // No branch taken: straight past the join.
    let (none, taken) = multi_choice_case(&engine, false, false).await?;
    assert_eq!(taken, ["archive"]);
    finish(&engine, none, "archive", "done").await?;
    assert_eq!(status(&engine, none).await?, completed("办结", "done"));
    // One branch: the join does not wait for the branch not taken.
    let (one, taken) = multi_choice_case(&engine, false, true).await?;
    assert_eq!(taken, ["fund"]);
    finish(&engine, one, "fund", "done").await?;
    assert_eq!(steps(&open(&engine, one).await?), ["archive"]);
    // Two branches: the join waits for both.
    let (two, taken) = multi_choice_case(&engine, true, true).await?;
    assert_eq!(taken, ["fund", "medical"]);
    finish(&engine, two, "medical", "done").await?;
    assert_eq!(steps(&open(&engine, two).await?), ["fund"]);
    finish(&engine, two, "fund", "done").await?;
    assert_eq!(steps(&open(&engine, two).await?), ["archive"]);
    Ok(())
});

db_test!(structured_loop_through_supplements, |db| {
    let engine = engine(&db, "supplement_loop").await?;
    let case = start(&engine, form("孙八")).await?;
    let first = open(&engine, case).await?[0].id;
    finish(&engine, case, "accept", "supplement").await?;
    assert!(
        open(&engine, case).await?.is_empty(),
        "waiting on the applicant, no task"
    );
    let clerk = clerk("window", "shebao");
    engine
        .deliver(case, "supplied", Map::new(), vec!["id_card".into()], &clerk)
        .await?;
    let again = open(&engine, case).await?;
    assert_eq!(steps(&again), ["accept"]);
    assert_ne!(again[0].id, first, "a new visit is a new task");
    finish(&engine, case, "accept", "accept").await?;
    let record = engine.get_case(case).await?.context("case")?;
    assert_eq!(record.state.status, completed("办结", "done"));
    assert_eq!(record.state.materials, vec!["id_card".to_owned()]);
    let visits: Vec<&str> = record.state.trail.iter().map(|v| v.step.as_str()).collect();
    assert_eq!(visits, ["accept", "wait_supply", "accept", "done"]);
    Ok(())
});

db_test!(cancel_case_cancels_open_tasks, |db| {
    let engine = engine(&db, "cancel").await?;
    let case = start(&engine, form("周九")).await?;
    let tasks = open(&engine, case).await?;
    assert_eq!(tasks.len(), 2);
    engine
        .cancel(case, "申请人撤回申请", &clerk("window", "shebao"))
        .await?;
    assert!(open(&engine, case).await?.is_empty());
    let all = engine.list_tasks(&TaskQuery::default()).await?;
    let mine: Vec<_> = all.iter().filter(|t| t.case_id == case).collect();
    assert!(
        mine.iter().all(|t| t.status == TaskStatus::Cancelled),
        "{mine:?}"
    );
    assert!(matches!(
        status(&engine, case).await?,
        CaseStatus::Cancelled { .. }
    ));
    // An ended case takes no more commands, and nothing changes.
    let err = engine
        .claim(tasks[0].id, &clerk("yibao-clerk", "yibao"))
        .await;
    assert!(matches!(err, Err(EngineError::Runtime(_))), "{err:?}");
    Ok(())
});

db_test!(explicit_termination_ends_other_branches, |db| {
    let engine = engine(&db, "termination").await?;
    let case = start(&engine, form("吴十")).await?;
    assert_eq!(steps(&open(&engine, case).await?), ["fund", "medical"]);
    let refused = finish_with(&engine, case, "medical", "reject", None).await;
    assert!(refused.is_err(), "a refusal needs a written reason");
    finish_with(&engine, case, "medical", "reject", Some("缴费记录不全")).await?;
    assert!(
        open(&engine, case).await?.is_empty(),
        "the fund task was cancelled"
    );
    assert_eq!(
        status(&engine, case).await?,
        completed("不予办理", "refused")
    );
    Ok(())
});

db_test!(waits_for_an_external_event, |db| {
    let engine = engine(&db, "wait_event").await?;
    let case = start(&engine, form("郑十一")).await?;
    finish(&engine, case, "ask", "sent").await?;
    let actor = clerk("veterans-clerk", "veterans");
    let wrong = engine
        .deliver(case, "withdrawn", Map::new(), vec![], &actor)
        .await;
    assert!(matches!(wrong, Err(EngineError::Runtime(_))), "{wrong:?}");
    let mut reply = Map::new();
    reply.insert("enlisted".into(), json!("1985-10"));
    engine
        .deliver(case, "replied", reply, vec![], &actor)
        .await?;
    assert_eq!(steps(&open(&engine, case).await?), ["confirm"]);
    let record = engine.get_case(case).await?.context("case")?;
    assert_eq!(record.state.data.get("enlisted"), Some(&json!("1985-10")));
    let history = engine.history(case).await?;
    let last = history.last().context("history")?;
    assert_eq!(last.action, "deliver");
    assert!(
        last.data_changed.contains_key("data.enlisted"),
        "{:?}",
        last.data_changed
    );
    Ok(())
});

db_test!(two_clerks_complete_one_task_at_once, |db| {
    let engine = engine(&db, "sequence").await?;
    for _ in 0..5 {
        let case = start(&engine, form("并发")).await?;
        let task = open(&engine, case).await?[0].id;
        let a = clerk("a", "shebao");
        let b = clerk("b", "shebao");
        let (ra, rb) = tokio::join!(
            engine.complete(task, &a, "accept", Map::new(), None),
            engine.complete(task, &b, "accept", Map::new(), None),
        );
        let wins = [ra.is_ok(), rb.is_ok()].iter().filter(|ok| **ok).count();
        assert_eq!(wins, 1, "exactly one completion wins: {ra:?} {rb:?}");
        let loser = if ra.is_ok() { rb } else { ra };
        assert!(
            matches!(
                loser,
                Err(EngineError::Store(StoreError::Conflict { .. })) | Err(EngineError::Runtime(_))
            ),
            "{loser:?}"
        );
        let history = engine.history(case).await?;
        assert_eq!(history.iter().filter(|h| h.action == "complete").count(), 1);
        assert_eq!(steps(&open(&engine, case).await?), ["review"]);
    }
    Ok(())
});

db_test!(a_form_with_errors_starts_nothing, |db| {
    let engine = engine(&db, "cancel").await?;
    let refused = start(&engine, Map::new()).await;
    let error = refused.expect_err("the name is required");
    match error.downcast_ref::<EngineError>() {
        Some(EngineError::Runtime(lianban::runtime::RuntimeError::InvalidForm(errors))) => {
            let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, ["name"]);
            assert_eq!(errors[0].message, "“姓名”为必填项");
        }
        other => panic!("expected InvalidForm, got {other:?}"),
    }
    assert!(engine.list_tasks(&TaskQuery::default()).await?.is_empty());
    Ok(())
});
