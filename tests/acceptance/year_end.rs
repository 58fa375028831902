//! The year-end calendar, on SQLite and PostgreSQL, on a manual clock across the year end:
//! a case started in December whose limits reach a year without a State Council notice
//! gets provisional (暂定) deadlines counted from the law's holidays, shown as such on the
//! case page and the inbox; adding the year's notice to the calendar file and reloading
//! through the admin call counts them again, moves their timers and drops the mark; and
//! from 1 November (not before) `/readyz`, the dashboard and `/metrics` warn that next
//! year's notice is missing.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, TimeZone, Utc};
use lianban::accounts::Role;
use lianban::runtime::{Actor, CaseId, CaseLimit, Deadline, Event, TaskStatus};
use lianban::scheduler::ManualClock;
use lianban::service::Engine;
use lianban::store::{TaskQuery, TaskRecord};
use lianban_tests::pages::Browser;
use lianban_tests::web::{TestApp, repo};
use lianban_tests::{TestDb, db_test};
use serde_json::{Map, Value, json};

const PROCESS: &str = "test.deadlines";
const ADMIN_TOKEN: &str = "year-end-operator";

/// A 2027 notice for the test, not the real one (which is not out on the test's dates):
/// 元旦 runs to Monday 01-04, so every count through that day moves one working day later.
const NOTICE_2027: &str = "
  2027:
    source: 测试用 2027 年节假日安排（非真实通知）
    holidays:
      - {name: 元旦, from: 2027-01-01, to: 2027-01-04}
";

fn beijing(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    chrono::FixedOffset::east_opt(8 * 3600)
        .expect("UTC+8")
        .with_ymd_and_hms(y, m, d, h, min, s)
        .single()
        .expect("valid Beijing time")
        .with_timezone(&Utc)
}

/// The deadlines fixture beside a copy of the shipped calendar, which ends with 2026 and
/// counts later years provisionally.
fn processes() -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir(dir.path().join("calendars"))?;
    std::fs::copy(
        repo().join("processes/calendars/cn-mainland.yaml"),
        dir.path().join("calendars/cn-mainland.yaml"),
    )?;
    std::fs::copy(
        repo().join("tests/fixtures/deadlines/flow.yaml"),
        dir.path().join("flow.yaml"),
    )?;
    Ok(dir)
}

/// Appends the test's 2027 notice to the calendar file, as the policy officer would.
fn add_notice(dir: &Path) -> anyhow::Result<()> {
    let path = dir.join("calendars/cn-mainland.yaml");
    let mut text = std::fs::read_to_string(&path)?;
    text.push_str(NOTICE_2027);
    std::fs::write(&path, text)?;
    Ok(())
}

async fn serve(db: &TestDb, dir: &Path, clock: Arc<ManualClock>) -> anyhow::Result<TestApp> {
    let path = dir.to_str().context("path")?.to_owned();
    TestApp::start_with_clock(db, &path, clock, |s| {
        s.admin_token = Some(ADMIN_TOKEN.into());
    })
    .await
}

/// `POST /api/v1/admin/reload` with the operator's token.
async fn reload(app: &TestApp) -> anyhow::Result<Value> {
    let reply = reqwest::Client::new()
        .post(format!("{}/api/v1/admin/reload", app.base))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({}))
        .send()
        .await?;
    anyhow::ensure!(reply.status() == 200, "reload: {}", reply.status());
    Ok(reply.json().await?)
}

async fn start(engine: &Engine, name: &str) -> anyhow::Result<CaseId> {
    let mut form = Map::new();
    form.insert("name".into(), json!(name));
    let clerk = Actor {
        user: "shebao_li".into(),
        department: Some("shebao".into()),
        on_behalf_of: None,
    };
    Ok(engine.start_case(PROCESS, form, Vec::new(), &clerk).await?)
}

async fn open_task(engine: &Engine, case: CaseId) -> anyhow::Result<TaskRecord> {
    let mut tasks = engine
        .list_tasks(&TaskQuery {
            case: Some(case),
            statuses: vec![TaskStatus::Open, TaskStatus::Claimed],
            ..TaskQuery::default()
        })
        .await?;
    anyhow::ensure!(tasks.len() == 1, "expected one open task: {tasks:?}");
    tasks.pop().context("one task")
}

/// The unfired timers of a case: (kind, fire_at).
async fn pending_timers(
    engine: &Engine,
    case: CaseId,
) -> anyhow::Result<Vec<(String, DateTime<Utc>)>> {
    Ok(engine
        .store()
        .jobs()
        .case_timers(case)
        .await?
        .into_iter()
        .filter(|(_, _, fired)| fired.is_none())
        .map(|(kind, at, _)| (kind, at))
        .collect())
}

async fn scrape(app: &TestApp) -> anyhow::Result<String> {
    Ok(reqwest::Client::new()
        .get(format!("{}/metrics", app.base))
        .send()
        .await?
        .text()
        .await?)
}

async fn readyz(app: &TestApp) -> anyhow::Result<Value> {
    Ok(reqwest::Client::new()
        .get(format!("{}/readyz", app.base))
        .send()
        .await?
        .json()
        .await?)
}

db_test!(
    a_december_case_gets_provisional_deadlines_recounted_when_the_notice_is_added,
    |db| {
        let dir = processes()?;
        // Sunday 2026-12-06: 20 working days reach into 2027, which has no notice yet.
        let clock = Arc::new(ManualClock::new(beijing(2026, 12, 6, 10, 0, 0)));
        let app = serve(&db, dir.path(), Arc::clone(&clock)).await?;
        let password = app.add_user("shebao_li", "shebao", Role::Clerk).await?;
        let engine = app.app.engine();
        let case = start(engine, "张三").await?;

        // 法定时限 20 working days: 19 in December, 2027-01-01 (元旦) off, then Monday 01-04,
        // provisional. 承诺时限 15 working days ends on 12-25, in a published year.
        let record = engine.store().cases().get(case).await?.context("case")?;
        let legal_due = beijing(2027, 1, 4, 23, 59, 59);
        assert_eq!(record.state.clock.legal_due, Some(legal_due));
        assert!(record.state.clock.legal_provisional);
        assert_eq!(
            record.state.clock.promised_due,
            Some(beijing(2026, 12, 25, 23, 59, 59))
        );
        assert!(!record.state.clock.promised_provisional);
        let timers = pending_timers(engine, case).await?;
        assert!(timers.contains(&("legal".into(), legal_due)), "{timers:?}");

        // A second case on Thursday 12-31: its 受理 task (2 working days) is due on Tuesday
        // 2027-01-05, provisionally.
        clock.set(beijing(2026, 12, 31, 10, 0, 0));
        let late = start(engine, "李四").await?;
        let task = open_task(engine, late).await?;
        assert_eq!(task.due_at, Some(beijing(2027, 1, 5, 23, 59, 59)));
        assert!(task.due_provisional);

        // The case page marks the legal limit, the inbox (page and API) the task.
        let li = app.login("shebao_li", &password).await?;
        let browser = Browser::of(&app, &li)?;
        let page = browser.get(&format!("/cases/{case}")).await?;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(
            page.text
                .contains("2027-01-04 23:59 <span class=\"provisional\""),
            "{}",
            page.text
        );
        let inbox = browser.get("/inbox").await?;
        assert!(
            inbox
                .text
                .contains("2027-01-05 23:59 <span class=\"provisional\""),
            "{}",
            inbox.text
        );
        let rows = li.inbox("").await?.ok()?;
        let row = rows
            .as_array()
            .and_then(|r| r.iter().find(|r| r["case_id"] == json!(late)))
            .context("the late case's task in the inbox")?;
        assert_eq!(row["due_provisional"], true);

        // The 2027 notice is added and the definitions reload: every provisional deadline
        // is counted again, its timer moves, and the mark goes.
        add_notice(dir.path())?;
        reload(&app).await?;
        let record = engine.store().cases().get(case).await?.context("case")?;
        let new_legal = beijing(2027, 1, 5, 23, 59, 59);
        assert_eq!(record.state.clock.legal_due, Some(new_legal));
        assert!(!record.state.clock.legal_provisional);
        let timers = pending_timers(engine, case).await?;
        assert!(timers.contains(&("legal".into(), new_legal)), "{timers:?}");
        assert!(!timers.contains(&("legal".into(), legal_due)), "{timers:?}");
        let task = open_task(engine, late).await?;
        assert_eq!(task.due_at, Some(beijing(2027, 1, 6, 23, 59, 59)));
        assert!(!task.due_provisional);
        let timers = pending_timers(engine, late).await?;
        assert!(
            timers.contains(&("overdue".into(), beijing(2027, 1, 6, 23, 59, 59))),
            "{timers:?}"
        );

        // The history says so, as the system.
        let recounted: Vec<(String, Deadline, bool)> = engine
            .history(case)
            .await?
            .into_iter()
            .flat_map(|h| {
                let actor = h.actor.user.clone();
                h.events.into_iter().filter_map(move |e| match e {
                    Event::DeadlineRecounted {
                        deadline,
                        provisional,
                        ..
                    } => Some((actor.clone(), deadline, provisional)),
                    _ => None,
                })
            })
            .collect();
        assert_eq!(
            recounted,
            [(
                "system".to_owned(),
                Deadline::Case {
                    limit: CaseLimit::Legal
                },
                false
            )]
        );

        let page = browser.get(&format!("/cases/{case}")).await?;
        assert!(page.text.contains("2027-01-05 23:59"), "{}", page.text);
        assert!(
            !page.text.contains("class=\"provisional\""),
            "{}",
            page.text
        );
        assert!(page.text.contains("节假日安排更新"), "{}", page.text);
        let inbox = browser.get("/inbox").await?;
        assert!(
            !inbox.text.contains("class=\"provisional\""),
            "{}",
            inbox.text
        );

        // A second reload finds nothing left to recount.
        let before = engine.history(case).await?.len();
        reload(&app).await?;
        assert_eq!(engine.history(case).await?.len(), before);
        Ok(())
    }
);

db_test!(
    the_missing_notice_is_warned_from_the_first_of_november,
    |db| {
        let dir = processes()?;
        let clock = Arc::new(ManualClock::new(beijing(2026, 10, 31, 23, 59, 0)));
        let app = serve(&db, dir.path(), Arc::clone(&clock)).await?;
        let password = app
            .add_user("shebao_boss", "shebao", Role::Supervisor)
            .await?;
        let gauge = "lianban_calendar_next_year_missing{calendar=\"cn-mainland\"}";

        // 31 October: nothing to warn about yet.
        let ready = readyz(&app).await?;
        assert_eq!(ready["status"], "ready");
        assert_eq!(ready["warnings"], json!([]));
        assert!(scrape(&app).await?.contains(&format!("{gauge} 0")));
        let boss = app.login("shebao_boss", &password).await?;
        let dashboard = Browser::of(&app, &boss)?.get("/dashboard").await?;
        assert_eq!(dashboard.status, 200);
        assert!(
            !dashboard.text.contains("calendar-warning"),
            "{}",
            dashboard.text
        );

        // 1 November, Beijing time: 2027's notice is missing.
        clock.set(beijing(2026, 11, 1, 0, 0, 1));
        let ready = readyz(&app).await?;
        assert_eq!(
            ready["status"], "ready",
            "a warning does not make it unready"
        );
        let warning = &ready["warnings"][0];
        assert_eq!(warning["code"], "calendar-next-year-missing");
        assert_eq!(warning["calendar"], "cn-mainland");
        assert_eq!(warning["year"], 2027);
        assert_eq!(warning["provisional"], true);
        assert!(scrape(&app).await?.contains(&format!("{gauge} 1")));
        let boss = app.login("shebao_boss", &password).await?;
        let dashboard = Browser::of(&app, &boss)?.get("/dashboard").await?;
        assert!(
            dashboard.text.contains("还没有 2027 年的节假日安排"),
            "{}",
            dashboard.text
        );
        let figures = Browser::of(&app, &boss)?.get("/api/v1/dashboard").await?;
        let figures: Value = serde_json::from_str(&figures.text)?;
        assert_eq!(figures["calendar_warnings"][0]["year"], 2027);

        // The notice is added: the warnings go.
        add_notice(dir.path())?;
        reload(&app).await?;
        assert_eq!(readyz(&app).await?["warnings"], json!([]));
        assert!(scrape(&app).await?.contains(&format!("{gauge} 0")));
        let dashboard = Browser::of(&app, &boss)?.get("/dashboard").await?;
        assert!(
            !dashboard.text.contains("calendar-warning"),
            "{}",
            dashboard.text
        );
        Ok(())
    }
);
