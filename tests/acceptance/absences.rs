//! Absences and substitutes (请假与代办) and a supervisor's reassignment (改派), over real
//! HTTP on a clock the test sets: while 李娜 is away, her claimed tasks are in 王强's inbox
//! marked 代办, he completes one and the history and the notice's 经办人 say he did it for
//! her; nobody can hand her new work; everything is hers again when the absence ends (or
//! she comes back early); the substitute of an absent supervisor sees the escalation
//! notices. Every test runs on SQLite and on PostgreSQL.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, TimeZone, Utc};
use lianban::accounts::Role;
use lianban::runtime::Event;
use lianban::scheduler::ManualClock;
use lianban::scheduler::timers::fire_due;
use lianban_tests::db_test;
use lianban_tests::pages::Browser;
use lianban_tests::web::{Clerk, TestApp, repo};
use serde_json::{Value, json};

/// `y-m-d h:00` Beijing time.
fn beijing(m: u32, d: u32, h: u32) -> DateTime<Utc> {
    chrono::FixedOffset::east_opt(8 * 3600)
        .expect("UTC+8")
        .with_ymd_and_hms(2026, m, d, h, 0, 0)
        .single()
        .expect("valid Beijing time")
        .with_timezone(&Utc)
}

fn application(name: &str) -> Value {
    json!({"process": "examples.demo",
           "form": {"name": name, "id_number": "11010519491231002X", "gender": "女",
                    "level": "初级", "insured_months": 24, "pay_to_card": false},
           "materials": []})
}

/// A person of `department` with a real name, signed in.
async fn person(
    app: &TestApp,
    login: &str,
    name: &str,
    department: &str,
    role: Role,
) -> anyhow::Result<Clerk> {
    let password = app.add_user(login, department, role).await?;
    app.app
        .engine()
        .store()
        .accounts()
        .set_name(login, name)
        .await?;
    app.login(login, &password).await
}

/// Starts a case as `clerk` and claims its 受理 task; returns (case, task).
async fn claimed_case(clerk: &Clerk, name: &str) -> anyhow::Result<(String, String)> {
    let case = clerk.start(&application(name)).await?.ok()?;
    let case = case["id"].as_str().unwrap_or_default().to_owned();
    let task = clerk.task_at(&case, "accept").await?;
    clerk.claim(&task).await?.ok()?;
    Ok((case, task))
}

/// `clerk` signed in again (a session ends 12 hours after login, and the clock jumps days).
async fn again(app: &TestApp, clerk: &Clerk) -> anyhow::Result<Clerk> {
    app.login(&clerk.user, &format!("pw-{}-2026", clerk.user))
        .await
}

fn ids(inbox: &Value) -> Vec<String> {
    inbox
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(|t| t["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn row<'a>(inbox: &'a Value, task: &str) -> Option<&'a Value> {
    inbox.as_array()?.iter().find(|t| t["id"] == task)
}

async fn start(db: &lianban_tests::TestDb, clock: &Arc<ManualClock>) -> anyhow::Result<TestApp> {
    TestApp::start_with_clock(db, "processes/examples", Arc::clone(clock) as _, |_| {}).await
}

db_test!(
    a_substitute_works_the_absent_clerks_tasks_on_her_behalf,
    |db| {
        // Friday 2026-12-04: 李娜 plans her leave for the next week.
        let clock = Arc::new(ManualClock::new(beijing(12, 4, 9)));
        let app = start(&db, &clock).await?;
        let lina = person(&app, "lina", "李娜", "jiuye", Role::Clerk).await?;
        let wang = person(&app, "wangqiang", "王强", "jiuye", Role::Clerk).await?;
        let zhao = person(&app, "zhao", "赵六", "jiuye", Role::Clerk).await?;
        let boss = person(&app, "boss", "周科长", "jiuye", Role::Supervisor).await?;
        let (case, task) = claimed_case(&lina, "钱七").await?;
        let (_, kept) = claimed_case(&lina, "孙八").await?;
        let open = lina.start(&application("吴九")).await?.ok()?;
        let open_case = open["id"].as_str().unwrap_or_default().to_owned();
        let open_task = lina.task_at(&open_case, "accept").await?;

        let leave = json!({"substitute": "wangqiang", "from": "2026-12-07", "to": "2026-12-11"});
        let recorded = lina.record_absence(&leave).await?;
        assert_eq!(recorded.status, 201, "{}", recorded.text);
        assert_eq!(recorded.json["substitute_name"], "王强");
        assert_eq!(recorded.json["in_force"], false);
        // Not in force yet: 王强 has nothing of hers and may not complete her task.
        assert!(ids(&wang.inbox("claimed=me").await?.ok()?).is_empty());
        let early = wang.complete(&task, &json!({"outcome": "accept"})).await?;
        assert_eq!((early.status, early.code()), (409, "claimed-by-other"));

        // Tuesday of her leave week.
        clock.set(beijing(12, 8, 10));
        let (wang, zhao, boss) = (
            again(&app, &wang).await?,
            again(&app, &zhao).await?,
            again(&app, &boss).await?,
        );
        let inbox = wang.inbox("claimed=me").await?.ok()?;
        let mut mine = ids(&inbox);
        mine.sort();
        let mut hers = vec![task.clone(), kept.clone()];
        hers.sort();
        assert_eq!(mine, hers, "{inbox}");
        assert_eq!(
            row(&inbox, &task).map(|r| r["on_behalf_of"].clone()),
            Some(json!("lina"))
        );
        // Only the substitute sees them as 代办.
        let others = zhao.inbox("").await?.ok()?;
        assert_eq!(
            row(&others, &task).map(|r| r["on_behalf_of"].clone()),
            Some(Value::Null)
        );
        let page = Browser::of(&app, &wang)?.get("/inbox").await?;
        assert!(page.text.contains("代办"), "{}", page.text);
        assert!(page.text.contains("您正在代办 李娜"), "{}", page.text);

        // No new work for her meanwhile.
        let handed = boss.reassign(&open_task, "lina", "她熟悉该单位").await?;
        assert_eq!(
            (handed.status, handed.code()),
            (422, "assignee-away"),
            "{}",
            handed.text
        );
        assert!(handed.text.contains("代办人"), "{}", handed.text);

        // 王强 completes her task: done by him, on her behalf, in the history and on the paper.
        let done = wang
            .complete(&task, &json!({"outcome": "supplement"}))
            .await?
            .ok()?;
        assert_eq!(done["task"]["completed_by"], "wangqiang");
        let detail = wang.case(&case).await?.ok()?;
        let history = detail["history"].as_array().cloned().unwrap_or_default();
        let entry = history
            .iter()
            .find(|h| h["action"] == "complete")
            .cloned()
            .unwrap_or_default();
        assert_eq!(entry["actor"], "wangqiang", "{entry}");
        assert_eq!(entry["on_behalf_of"], "lina", "{entry}");
        let documents = wang.documents(&case).await?.ok()?;
        let notice = documents
            .as_array()
            .and_then(|d| d.iter().find(|d| d["key"] == "supplement_notice"))
            .and_then(|d| d["id"].as_str())
            .map(str::to_owned)
            .unwrap_or_default();
        let paper = wang.document(&case, &notice).await?;
        assert_eq!(paper.status, 200);
        assert!(paper.text.contains("王强（代李娜）"), "{}", paper.text);
        let timeline = Browser::of(&app, &boss)?
            .get(&format!("/cases/{case}"))
            .await?;
        assert!(
            timeline.text.contains("王强（代李娜）"),
            "{}",
            timeline.text
        );
        // The hash chain covers the new column.
        let report = app
            .app
            .engine()
            .store()
            .admin()
            .verify_history(None)
            .await?;
        assert!(report.broken.is_empty(), "{report:?}");

        // Saturday after: everything is hers again.
        clock.set(beijing(12, 12, 9));
        let (lina, wang, boss) = (
            again(&app, &lina).await?,
            again(&app, &wang).await?,
            again(&app, &boss).await?,
        );
        assert!(ids(&wang.inbox("claimed=me").await?.ok()?).is_empty());
        assert_eq!(
            ids(&lina.inbox("claimed=me").await?.ok()?),
            vec![kept.clone()]
        );
        let after = wang.complete(&kept, &json!({"outcome": "accept"})).await?;
        assert_eq!((after.status, after.code()), (409, "claimed-by-other"));
        boss.reassign(&open_task, "lina", "她熟悉该单位")
            .await?
            .ok()?;
        Ok(())
    }
);

db_test!(absences_are_checked_and_end_early, |db| {
    let clock = Arc::new(ManualClock::new(beijing(12, 7, 9)));
    let app = start(&db, &clock).await?;
    let lina = person(&app, "lina", "李娜", "jiuye", Role::Clerk).await?;
    let wang = person(&app, "wangqiang", "王强", "jiuye", Role::Clerk).await?;
    let boss = person(&app, "boss", "周科长", "jiuye", Role::Supervisor).await?;
    person(&app, "yb", "医保经办", "shebao", Role::Clerk).await?;
    let (_, task) = claimed_case(&lina, "钱七").await?;

    let refused = |days: (&str, &str), substitute: &str| json!({"substitute": substitute, "from": days.0, "to": days.1});
    for (body, status, code) in [
        (
            refused(("2026-12-11", "2026-12-07"), "wangqiang"),
            422,
            "absence-dates",
        ),
        (
            refused(("2026-12-01", "2026-12-04"), "wangqiang"),
            422,
            "absence-dates",
        ),
        (
            refused(("2026-12-07", "2026-12-09"), "yb"),
            422,
            "absence-substitute",
        ),
        (
            refused(("2026-12-07", "2026-12-09"), "lina"),
            422,
            "absence-substitute",
        ),
        (
            refused(("2026-12-07", "2026-12-09"), "nobody"),
            404,
            "unknown-user",
        ),
    ] {
        let reply = lina.record_absence(&body).await?;
        assert_eq!(
            (reply.status, reply.code()),
            (status, code),
            "{body}: {}",
            reply.text
        );
    }
    let bad_day = lina
        .record_absence(&refused(("12/07", "2026-12-09"), "wangqiang"))
        .await?;
    assert_eq!(bad_day.status, 422, "{}", bad_day.text);
    assert!(bad_day.text.contains("YYYY-MM-DD"), "{}", bad_day.text);
    // A colleague may not record it for her; her supervisor may.
    let for_her = json!({"user": "lina", "substitute": "wangqiang",
                         "from": "2026-12-07", "to": "2026-12-09"});
    assert_eq!(wang.record_absence(&for_her).await?.status, 403);
    assert_eq!(boss.record_absence(&for_her).await?.status, 201);
    let twice = lina
        .record_absence(&refused(("2026-12-08", "2026-12-08"), "wangqiang"))
        .await?;
    assert_eq!((twice.status, twice.code()), (422, "absence-overlaps"));
    let listed = boss.get("/api/v1/absences").await?.ok()?;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["in_force"], true);
    assert_eq!(
        ids(&wang.inbox("claimed=me").await?.ok()?),
        vec![task.clone()]
    );

    // She comes back on Tuesday (销假): hers again at once.
    clock.set(beijing(12, 8, 9));
    let (lina, wang, boss) = (
        again(&app, &lina).await?,
        again(&app, &wang).await?,
        again(&app, &boss).await?,
    );
    assert_eq!(wang.end_absence("lina").await?.status, 403);
    let back = lina.end_absence("lina").await?.ok()?;
    assert_eq!(back["ended"], 1);
    assert!(ids(&wang.inbox("claimed=me").await?.ok()?).is_empty());
    let late = wang.complete(&task, &json!({"outcome": "accept"})).await?;
    assert_eq!(late.code(), "claimed-by-other");
    let none = boss.get("/api/v1/absences").await?.ok()?;
    assert_eq!(none.as_array().map(Vec::len), Some(0), "{none}");
    Ok(())
});

db_test!(supervisors_reassign_with_a_reason_in_the_history, |db| {
    let clock = Arc::new(ManualClock::new(beijing(12, 7, 9)));
    let app = start(&db, &clock).await?;
    let lina = person(&app, "lina", "李娜", "jiuye", Role::Clerk).await?;
    let zhao = person(&app, "zhao", "赵六", "jiuye", Role::Clerk).await?;
    let boss = person(&app, "boss", "周科长", "jiuye", Role::Supervisor).await?;
    person(&app, "sb", "社保经办", "shebao", Role::Clerk).await?;
    let (case, task) = claimed_case(&lina, "钱七").await?;

    let clerk = zhao.reassign(&task, "zhao", "我来办").await?;
    assert_eq!(clerk.status, 403, "{}", clerk.text);
    let silent = boss.reassign(&task, "zhao", "  ").await?;
    assert_eq!((silent.status, silent.code()), (422, "reason-required"));
    let outside = boss.reassign(&task, "sb", "调剂").await?;
    assert_eq!((outside.status, outside.code()), (422, "reassign-target"));
    let handed = boss.reassign(&task, "zhao", "李娜外出培训").await?.ok()?;
    assert_eq!(handed["claimed_by"], "zhao");
    assert_eq!(
        ids(&zhao.inbox("claimed=me").await?.ok()?),
        vec![task.clone()]
    );
    let history = app
        .app
        .engine()
        .history(case.parse().map(lianban::runtime::CaseId)?)
        .await?;
    let reassigned = history
        .iter()
        .find(|h| h.action == "reassign")
        .context("a reassign entry")?;
    assert_eq!(reassigned.actor.user, "boss");
    assert!(
        reassigned.events.iter().any(|e| matches!(e,
            Event::TaskReassigned { to: Some(to), reason: Some(r), .. }
                if to == "zhao" && r == "李娜外出培训")),
        "{:?}",
        reassigned.events
    );
    // The task page offers it to the supervisor, and the timeline says why.
    let browser = Browser::of(&app, &boss)?;
    let page = browser.get(&format!("/tasks/{task}")).await?;
    assert!(page.text.contains("改派原因"), "{}", page.text);
    let again = browser
        .post(
            &format!("/tasks/{task}/reassign"),
            &[("to", "lina"), ("reason", "")],
            true,
        )
        .await?;
    assert_eq!(again.status, 422);
    assert!(again.text.contains("改派须填写原因"), "{}", again.text);
    let timeline = browser.get(&format!("/cases/{case}")).await?;
    assert!(
        timeline.text.contains("改派给赵六，原因：李娜外出培训"),
        "{}",
        timeline.text
    );
    Ok(())
});

/// The deadlines fixture (a 受理 task that notifies the supervisors at its warning) beside
/// the repository's calendars.
fn deadlines() -> anyhow::Result<tempfile::TempDir> {
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

async fn start_in(
    db: &lianban_tests::TestDb,
    dir: &Path,
    clock: &Arc<ManualClock>,
) -> anyhow::Result<TestApp> {
    TestApp::start_with_clock(
        db,
        &dir.display().to_string(),
        Arc::clone(clock) as _,
        |_| {},
    )
    .await
}

db_test!(
    escalation_notices_reach_the_substitute_of_an_absent_supervisor,
    |db| {
        let dir = deadlines()?;
        // Monday 2026-12-07: the 受理 task is due at the end of Tuesday, warned at the end of
        // Monday.
        let clock = Arc::new(ManualClock::new(beijing(12, 7, 9)));
        let app = start_in(&db, dir.path(), &clock).await?;
        let clerk = person(&app, "sb_li", "李娜", "shebao", Role::Clerk).await?;
        let boss = person(&app, "sb_boss", "周科长", "shebao", Role::Supervisor).await?;
        let wang = person(&app, "sb_wang", "王强", "shebao", Role::Clerk).await?;
        clerk
            .start(&json!({"process": "test.deadlines", "form": {"name": "张三"}, "materials": []}))
            .await?
            .ok()?;
        let leave = json!({"substitute": "sb_wang", "from": "2026-12-07", "to": "2026-12-09"});
        assert_eq!(boss.record_absence(&leave).await?.status, 201);
        let zhao_page = Browser::of(&app, &clerk)?.get("/overdue").await?;
        assert_eq!(zhao_page.status, 403, "only the substitute stands in");
        // Two working days from Monday morning: due at the end of Wednesday, warned at the end
        // of Tuesday.
        assert_eq!(fire_due(app.app.engine(), beijing(12, 9, 0)).await?, 1);
        let page = Browser::of(&app, &wang)?.get("/overdue").await?;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.text.contains("已进入预警期"), "{}", page.text);
        // Once the supervisor is back, the notices are the supervisor's alone again.
        clock.set(beijing(12, 10, 9));
        let wang = again(&app, &wang).await?;
        assert_eq!(Browser::of(&app, &wang)?.get("/overdue").await?.status, 403);
        Ok(())
    }
);
