//! The supervision dashboard (`/dashboard`, `/dashboard.csv`, `/dashboard.xlsx`,
//! `/api/v1/dashboard`) on SQLite and PostgreSQL: a history seeded through the engine on a
//! manual clock, every figure compared with a value computed by hand (the computation is in
//! the comments), county and department scoping, the clerk's 403, the empty database, and
//! the downloads.
//!
//! November 2026 has no public holidays: working days are Monday to Friday. Mondays are
//! the 2nd, 9th, 16th, 23rd and 30th.

use std::io::Read as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, TimeZone, Utc};
use lianban::accounts::Role;
use lianban::runtime::{Actor, CaseId, TaskStatus};
use lianban::scheduler::ManualClock;
use lianban::service::Engine;
use lianban::store::{TaskQuery, TaskRecord};
use lianban_tests::pages::Browser;
use lianban_tests::web::{Clerk, TestApp, repo};
use lianban_tests::{TestDb, db_test};
use serde_json::{Map, Value, json};

fn beijing(m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono::FixedOffset::east_opt(8 * 3600)
        .expect("UTC+8")
        .with_ymd_and_hms(2026, m, d, h, min, 0)
        .single()
        .expect("valid Beijing time")
        .with_timezone(&Utc)
}

/// The fixture as county `alpha` and county `beta`, beside the repository's calendars.
fn processes() -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir(dir.path().join("calendars"))?;
    std::fs::copy(
        repo().join("processes/calendars/cn-mainland.yaml"),
        dir.path().join("calendars/cn-mainland.yaml"),
    )?;
    let flow = std::fs::read_to_string(repo().join("tests/fixtures/dashboard/review.yaml"))?;
    std::fs::write(dir.path().join("alpha.yaml"), &flow)?;
    std::fs::write(
        dir.path().join("beta.yaml"),
        flow.replace("id: alpha.review", "id: beta.review"),
    )?;
    Ok(dir)
}

async fn start_app(db: &TestDb, dir: &Path, clock: Arc<ManualClock>) -> anyhow::Result<TestApp> {
    let templates = repo().join("tests/fixtures/documents/templates");
    TestApp::start_with_clock(db, &dir.display().to_string(), clock, |s| {
        s.templates_dir = templates;
    })
    .await
}

fn shebao() -> Actor {
    Actor {
        user: "shebao_li".into(),
        department: Some("shebao".into()),
        on_behalf_of: None,
    }
}

fn yibao() -> Actor {
    Actor {
        user: "yibao_wang".into(),
        department: Some("yibao".into()),
        on_behalf_of: None,
    }
}

/// Drives the engine at chosen instants.
struct Seed<'a> {
    engine: &'a Engine,
    clock: &'a ManualClock,
}

impl Seed<'_> {
    async fn start(&self, process: &str, at: DateTime<Utc>) -> anyhow::Result<CaseId> {
        self.clock.set(at);
        let mut form = Map::new();
        form.insert("name".into(), json!("张三"));
        form.insert("post".into(), json!("生产"));
        Ok(self
            .engine
            .start_case(process, form, vec!["id_card".into()], &shebao())
            .await?)
    }

    async fn open_task(&self, case: CaseId) -> anyhow::Result<TaskRecord> {
        let mut tasks = self
            .engine
            .list_tasks(&TaskQuery {
                case: Some(case),
                statuses: vec![TaskStatus::Open, TaskStatus::Claimed],
                ..TaskQuery::default()
            })
            .await?;
        anyhow::ensure!(tasks.len() == 1, "expected one open task: {tasks:?}");
        tasks.pop().context("one task")
    }

    async fn claim(&self, case: CaseId, at: DateTime<Utc>) -> anyhow::Result<()> {
        self.clock.set(at);
        let task = self.open_task(case).await?;
        let actor = if task.department == "yibao" {
            yibao()
        } else {
            shebao()
        };
        self.engine.claim(task.id, &actor).await?;
        Ok(())
    }

    /// Claims and completes the case's one open task at `at`.
    async fn complete(
        &self,
        case: CaseId,
        at: DateTime<Utc>,
        outcome: &str,
        data: Map<String, Value>,
        reason: Option<&str>,
    ) -> anyhow::Result<()> {
        self.clock.set(at);
        let task = self.open_task(case).await?;
        let actor = if task.department == "yibao" {
            yibao()
        } else {
            shebao()
        };
        if task.claimed_by.is_none() {
            self.engine.claim(task.id, &actor).await?;
        }
        self.engine
            .complete(task.id, &actor, outcome, data, reason.map(str::to_owned))
            .await?;
        Ok(())
    }

    async fn supplied(
        &self,
        case: CaseId,
        at: DateTime<Utc>,
        materials: &[&str],
    ) -> anyhow::Result<()> {
        self.clock.set(at);
        self.engine
            .deliver(
                case,
                "supplied",
                Map::new(),
                materials.iter().map(|m| (*m).to_owned()).collect(),
                &shebao(),
            )
            .await?;
        Ok(())
    }
}

const REFUSAL: &str = "缴费年限不足，身份证号 140522195811120011 核对不符";

/// The seeded history; the clock ends at Thursday 2026-11-26 10:00 Beijing.
async fn seed(engine: &Engine, clock: &ManualClock) -> anyhow::Result<()> {
    let s = Seed { engine, clock };
    let none = Map::new;
    // A: accepted the next day (1 working day), confirmed by yibao on Monday the 9th
    // (Nov 4, 5, 6, 9: 4 working days); finished on the 9th.
    let a = s.start("alpha.review", beijing(11, 2, 9, 0)).await?;
    s.complete(a, beijing(11, 3, 10, 0), "accept", none(), None)
        .await?;
    s.complete(a, beijing(11, 9, 15, 0), "done", none(), None)
        .await?;
    // H: a first supplement request the same day (0 working days); still waiting.
    let h = s.start("alpha.review", beijing(11, 2, 14, 0)).await?;
    s.complete(h, beijing(11, 2, 15, 0), "supplement", none(), None)
        .await?;
    // B: first supplement request the same day (0); the roster arrives on the 5th and the
    // applicant adds the provident fund, so the request on the 6th is a second one (1);
    // everything arrives on the 9th and shebao accepts on Monday the 23rd (Nov 10–13,
    // 16–20, 23: 10 working days); yibao refuses on the 24th (1) with a reason; finished
    // on the 24th.
    let b = s.start("alpha.review", beijing(11, 4, 9, 0)).await?;
    s.complete(b, beijing(11, 4, 11, 0), "supplement", none(), None)
        .await?;
    s.supplied(b, beijing(11, 5, 9, 0), &["roster"]).await?;
    let mut fund = Map::new();
    fund.insert("joint_fund".into(), json!(true));
    s.complete(
        b,
        beijing(11, 6, 9, 0),
        "supplement",
        fund,
        Some("申请人受理后新增提取住房公积金"),
    )
    .await?;
    s.supplied(b, beijing(11, 9, 9, 0), &["fund_list"]).await?;
    s.complete(b, beijing(11, 23, 10, 0), "accept", none(), None)
        .await?;
    s.complete(b, beijing(11, 24, 10, 0), "refuse", none(), Some(REFUSAL))
        .await?;
    // C: refused at acceptance the next day (1); finished (不予受理) on the 17th.
    let c = s.start("alpha.review", beijing(11, 16, 9, 0)).await?;
    s.complete(
        c,
        beijing(11, 17, 9, 0),
        "reject",
        none(),
        Some("不符合退休条件"),
    )
    .await?;
    // E: claimed; due at the end of Wednesday the 25th, warned from the end of the 24th:
    // overdue (and so in its warning period) at the end.
    let e = s.start("alpha.review", beijing(11, 23, 9, 0)).await?;
    s.claim(e, beijing(11, 23, 9, 30)).await?;
    // D and F: open, not yet warned (D is warned from the end of the 26th).
    s.start("alpha.review", beijing(11, 25, 9, 0)).await?;
    s.start("alpha.review", beijing(11, 26, 9, 30)).await?;
    // G in the other county: accepted, so yibao of beta has an open task.
    let g = s.start("beta.review", beijing(11, 23, 9, 0)).await?;
    s.complete(g, beijing(11, 24, 9, 0), "accept", none(), None)
        .await?;
    clock.set(beijing(11, 26, 10, 0));
    Ok(())
}

async fn login(
    app: &TestApp,
    user: &str,
    dept: &str,
    county: Option<&str>,
    role: Role,
) -> anyhow::Result<Clerk> {
    let password = app.add_user_in(user, dept, county, role).await?;
    app.login(user, &password).await
}

async fn api(app: &TestApp, who: &Clerk, query: &str) -> anyhow::Result<(u16, Value)> {
    let page = Browser::of(app, who)?
        .get(&format!("/api/v1/dashboard?{query}"))
        .await?;
    let body = serde_json::from_str(&page.text).unwrap_or(Value::Null);
    Ok((page.status, body))
}

fn department<'a>(figures: &'a Value, county: &str, key: &str) -> anyhow::Result<&'a Value> {
    figures["departments"]
        .as_array()
        .context("departments")?
        .iter()
        .find(|d| d["county"] == county && d["department"] == key)
        .with_context(|| format!("no {county}/{key} in {figures}"))
}

db_test!(figures_match_a_hand_computed_history, |db| {
    let dir = processes()?;
    let clock = Arc::new(ManualClock::new(beijing(11, 2, 8, 0)));
    let app = start_app(&db, dir.path(), Arc::clone(&clock)).await?;
    seed(app.app.engine(), &clock).await?;

    let boss = login(
        &app,
        "shebao_boss",
        "shebao",
        Some("alpha"),
        Role::Supervisor,
    )
    .await?;
    let (status, figures) = api(&app, &boss, "period=this_month").await?;
    assert_eq!(status, 200, "{figures}");
    assert_eq!(figures["period"]["from"], "2026-11-01");
    assert_eq!(figures["period"]["to"], "2026-11-26");
    assert_eq!(figures["week_from"], "2026-11-23");
    assert_eq!(figures["month_from"], "2026-11-01");
    // A supervisor sees their own department only, and no county-wide figures.
    assert_eq!(figures["departments"].as_array().map(Vec::len), Some(1));
    assert_eq!(figures["counties"], json!([]));
    let shebao = department(&figures, "alpha", "shebao")?;
    // Open: D, F; claimed: E; warned (overdue included): E; overdue: E.
    assert_eq!(
        shebao["tasks"],
        json!({"open": 2, "claimed": 1, "due_soon": 1, "overdue": 1})
    );
    assert_eq!(
        shebao["steps"],
        json!([{"step": "accept", "name": "受理", "cases": 3}])
    );
    // This week (from Monday the 23rd): B. This month: A, C, B.
    assert_eq!(shebao["finished_week"], 1);
    assert_eq!(shebao["finished_month"], 3);
    // 受理 took A 1, H 0, B 0, 1 and 10, C 1 working days: sorted 0 0 1 1 1 10 (n = 6);
    // median at rank ⌈0.5·6⌉ = 3 → 1; 90th percentile at rank ⌈0.9·6⌉ = 6 → 10.
    assert_eq!(
        shebao["handling"],
        json!([{"step": "accept", "name": "受理", "tasks": 6, "median": 1, "p90": 10}])
    );
    // Supplement requests reached H and B; B's second one broke the promise: 1 of 2.
    assert_eq!(
        shebao["supplements"],
        json!({"requested": 2, "second": 1, "share": 50.0})
    );
    assert_eq!(
        shebao["refusals"],
        json!([{"step": "accept", "step_name": "受理", "outcome": "reject", "label": "不予受理", "count": 1}])
    );
    assert_eq!(shebao["refusal_reasons"][0]["reason"], "不符合退休条件");

    let admin = login(&app, "alpha_admin", "shebao", Some("alpha"), Role::Admin).await?;
    let (status, figures) = api(&app, &admin, "period=this_month&department=yibao").await?;
    assert_eq!(status, 200, "{figures}");
    assert_eq!(figures["departments"].as_array().map(Vec::len), Some(1));
    let yibao = department(&figures, "alpha", "yibao")?;
    // G's open 医保认定 is in beta: alpha's yibao has nothing open.
    assert_eq!(
        yibao["tasks"],
        json!({"open": 0, "claimed": 0, "due_soon": 0, "overdue": 0})
    );
    assert_eq!(yibao["steps"], json!([]));
    assert_eq!(yibao["finished_week"], 1);
    assert_eq!(yibao["finished_month"], 2);
    // 医保认定 took A 4 and B 1: sorted 1 4; median rank 1 → 1, p90 rank 2 → 4.
    assert_eq!(
        yibao["handling"],
        json!([{"step": "medical", "name": "医保认定", "tasks": 2, "median": 1, "p90": 4}])
    );
    assert_eq!(
        yibao["supplements"],
        json!({"requested": 0, "second": 0, "share": null})
    );
    assert_eq!(yibao["refusals"][0]["count"], 1);
    // Active in alpha: D, E, F at 受理 and H waiting for its supplement.
    assert_eq!(
        figures["counties"],
        json!([{"county": "alpha", "steps": [
            {"step": "accept", "name": "受理", "cases": 3},
            {"step": "supplement_wait", "name": "等待补正", "cases": 1},
        ]}])
    );
    let reason = yibao["refusal_reasons"][0]["reason"]
        .as_str()
        .context("reason")?;
    assert!(reason.starts_with("缴费年限不足"), "{reason}");
    assert!(!reason.contains("140522195811120011"), "unmasked: {reason}");

    // Last month had nothing; the instant figures stay.
    let (_, last) = api(&app, &boss, "period=last_month").await?;
    let shebao = department(&last, "alpha", "shebao")?;
    assert_eq!(last["period"]["from"], "2026-10-01");
    assert_eq!(last["period"]["to"], "2026-10-31");
    assert_eq!(shebao["handling"], json!([]));
    assert_eq!(shebao["tasks"]["open"], 2);

    // An admin of every county sees both; beta's yibao has G's task open.
    let root = login(&app, "root", "shebao", None, Role::Admin).await?;
    let (_, all) = api(&app, &root, "").await?;
    assert_eq!(all["period"]["key"], "90d");
    assert_eq!(all["departments"].as_array().map(Vec::len), Some(4));
    assert_eq!(department(&all, "beta", "yibao")?["tasks"]["open"], 1);
    assert_eq!(department(&all, "alpha", "yibao")?["tasks"]["open"], 0);
    Ok(())
});

db_test!(the_page_links_charts_and_downloads, |db| {
    let dir = processes()?;
    let clock = Arc::new(ManualClock::new(beijing(11, 2, 8, 0)));
    let app = start_app(&db, dir.path(), Arc::clone(&clock)).await?;
    seed(app.app.engine(), &clock).await?;
    let boss = login(
        &app,
        "shebao_boss",
        "shebao",
        Some("alpha"),
        Role::Supervisor,
    )
    .await?;
    let browser = Browser::of(&app, &boss)?;

    let page = browser.get("/dashboard?period=this_month").await?;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("督办看板"));
    assert!(page.text.contains("<svg"));
    assert!(!page.text.contains("<script"));
    // Each figure opens the list behind it (MiniJinja writes `/` in attributes as `&#x2f;`).
    let text = page.text.replace("&#x2f;", "/");
    assert!(
        text.contains(r#"<a href="/inbox?due=overdue">1</a>"#),
        "{text}"
    );
    assert!(text.contains(r#"<a href="/inbox?status=open">2</a>"#));
    assert!(text.contains(r#"<a href="/inbox?step=accept">"#));
    assert!(page.text.contains("50%（1/2）"));
    assert!(page.text.contains(r#"href="/dashboard"#));

    // An admin's page has the county-wide chart and a department selector, and no links
    // into an inbox they do not have.
    let admin = login(&app, "alpha_admin", "shebao", Some("alpha"), Role::Admin).await?;
    let admin_page = Browser::of(&app, &admin)?
        .get("/dashboard?department=yibao")
        .await?;
    assert_eq!(admin_page.status, 200, "{}", admin_page.text);
    assert!(admin_page.text.contains("在办办件当前环节（alpha）"));
    assert!(admin_page.text.contains("等待补正"));
    assert!(
        admin_page
            .text
            .contains(r#"<option value="yibao" selected>"#)
    );
    assert!(!admin_page.text.contains("inbox?"));

    let inbox = browser.get("/inbox?due=overdue").await?;
    assert_eq!(inbox.status, 200);
    // 本周办结 (B) and 本月办结 (A, B, C) open the case list filtered the same way.
    assert!(text.contains(r#"<a href="/cases?status=completed&amp;ended=week">1</a>"#));
    assert!(text.contains(r#"<a href="/cases?status=completed&amp;ended=month">3</a>"#));
    let rows = |page: &str| page.matches(r#"<a href="/cases/"#).count();
    let week = browser.get("/cases?status=completed&ended=week").await?;
    assert_eq!(rows(&week.text), 1, "{}", week.text);
    let month = browser.get("/cases?status=completed&ended=month").await?;
    assert_eq!(rows(&month.text), 3, "{}", month.text);

    let client = reqwest::Client::new();
    let download = |path: &str| {
        client
            .get(format!("{}{path}", app.base))
            .header("cookie", format!("lianban_session={}", boss.session))
            .send()
    };
    let csv = download("/dashboard.csv?period=this_month").await?;
    assert_eq!(csv.status(), 200);
    let disposition = csv
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        disposition.contains("dashboard-2026-11-01_2026-11-26.csv"),
        "{disposition}"
    );
    let bytes = csv.bytes().await?;
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "no BOM");
    let text = String::from_utf8(bytes[3..].to_vec())?;
    let rows: Vec<Vec<String>> = csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.map(|r| r.iter().map(str::to_owned).collect()))
        .collect::<Result<_, _>>()?;
    let value = |figure: &str, item_starts: &str| {
        rows.iter()
            .find(|r| r[2] == figure && r[3].starts_with(item_starts))
            .map(|r| r[4].clone())
    };
    assert_eq!(value("任务", "已超期").as_deref(), Some("1"));
    assert_eq!(
        value("办理时长中位数（工作日）", "受理").as_deref(),
        Some("1")
    );
    assert_eq!(
        value("办理时长90%分位（工作日）", "受理").as_deref(),
        Some("10")
    );
    assert_eq!(value("二次补正占比（%）", "本月").as_deref(), Some("50"));
    assert_eq!(value("办结办件数", "本月").as_deref(), Some("3"));

    let xlsx = download("/dashboard.xlsx?period=this_month").await?;
    assert_eq!(xlsx.status(), 200);
    let bytes = xlsx.bytes().await?;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec()))?;
    let mut strings = String::new();
    zip.by_name("xl/sharedStrings.xml")?
        .read_to_string(&mut strings)?;
    assert!(strings.contains("办理时长90%分位（工作日）"));
    let mut sheet = String::new();
    zip.by_name("xl/worksheets/sheet1.xml")?
        .read_to_string(&mut sheet)?;
    // The 90th percentile is written as a number, so a report can sum it.
    assert!(sheet.contains("<v>10</v>"), "{sheet}");
    Ok(())
});

db_test!(
    an_empty_database_renders_zeros_and_clerks_are_refused,
    |db| {
        let dir = processes()?;
        let clock = Arc::new(ManualClock::new(beijing(11, 26, 10, 0)));
        let app = start_app(&db, dir.path(), clock).await?;
        let boss = login(&app, "boss", "yibao", None, Role::Supervisor).await?;
        let page = Browser::of(&app, &boss)?.get("/dashboard").await?;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.text.contains("暂无数据"));
        let (status, figures) = api(&app, &boss, "").await?;
        assert_eq!(status, 200);
        for d in figures["departments"].as_array().context("departments")? {
            assert_eq!(d["department"], "yibao");
            assert_eq!(
                d["tasks"],
                json!({"open": 0, "claimed": 0, "due_soon": 0, "overdue": 0})
            );
            assert_eq!(d["finished_month"], 0);
        }

        let clerk = login(&app, "clerk", "shebao", None, Role::Clerk).await?;
        let browser = Browser::of(&app, &clerk)?;
        assert_eq!(browser.get("/dashboard").await?.status, 403);
        assert_eq!(browser.get("/dashboard.csv").await?.status, 403);
        assert_eq!(api(&app, &clerk, "").await?.0, 403);

        // Bad input is a clear 400, never a 500.
        let (status, body) = api(&app, &boss, "period=yesterday").await?;
        assert_eq!(status, 400, "{body}");
        let root = login(&app, "root", "shebao", None, Role::Admin).await?;
        let (status, body) = api(&app, &root, "department=nowhere").await?;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["title"]
                .as_str()
                .unwrap_or_default()
                .contains("nowhere")
        );
        Ok(())
    }
);
