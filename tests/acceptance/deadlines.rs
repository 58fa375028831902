//! Deadlines end to end, on SQLite and PostgreSQL, on a manual clock (never sleeping):
//! warning and overdue timers fire at their instants (across a weekend and National Day),
//! each escalation kind lands in the history as `system`, a supplement wait stops the case
//! clock and moves its limits by the working days it lasted, timers survive a restart and
//! fire exactly once with two instances on one database, and the inbox shows the working
//! days left with the warning/overdue colours.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, TimeZone, Utc};
use lianban::accounts::Role;
use lianban::app::{App, Settings};
use lianban::definition::{EscalateOn, SourceFile, load_sources};
use lianban::documents::Templates;
use lianban::runtime::{Actor, CaseId, CaseLimit, Event, TaskStatus};
use lianban::scheduler::ManualClock;
use lianban::scheduler::timers::fire_due;
use lianban::service::Engine;
use lianban::store::{TaskQuery, TaskRecord};
use lianban_tests::pages::Browser;
use lianban_tests::web::{TestApp, repo};
use lianban_tests::{TestDb, db_test};
use serde_json::{Map, json};

const PROCESS: &str = "test.deadlines";

fn beijing(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    chrono_tz_offset()
        .with_ymd_and_hms(y, m, d, h, min, s)
        .single()
        .expect("valid Beijing time")
        .with_timezone(&Utc)
}

fn chrono_tz_offset() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8")
}

/// The fixture definition in a fresh directory beside a copy of the repository's calendars.
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

async fn build(db: &TestDb, dir: &Path, clock: Arc<ManualClock>) -> anyhow::Result<Arc<App>> {
    let mut settings = Settings::new(db.url.clone());
    settings.processes_dir = dir.to_path_buf();
    settings.templates_dir = repo().join("templates");
    settings.login_slowdown = 0.0;
    App::build_with_clock(settings, clock).await
}

fn clerk() -> Actor {
    Actor {
        user: "shebao_li".into(),
        department: Some("shebao".into()),
        on_behalf_of: None,
    }
}

async fn start(engine: &Engine, name: &str) -> anyhow::Result<CaseId> {
    let mut form = Map::new();
    form.insert("name".into(), json!(name));
    Ok(engine
        .start_case(PROCESS, form, Vec::new(), &clerk())
        .await?)
}

async fn open_tasks(engine: &Engine, case: CaseId) -> anyhow::Result<Vec<TaskRecord>> {
    Ok(engine
        .list_tasks(&TaskQuery {
            case: Some(case),
            statuses: vec![TaskStatus::Open, TaskStatus::Claimed],
            ..TaskQuery::default()
        })
        .await?)
}

async fn only_task(engine: &Engine, case: CaseId) -> anyhow::Result<TaskRecord> {
    let mut tasks = open_tasks(engine, case).await?;
    anyhow::ensure!(tasks.len() == 1, "expected one open task: {tasks:?}");
    tasks.pop().context("one task")
}

/// The deadline events of a case's history, with the actor of their row.
async fn deadline_events(engine: &Engine, case: CaseId) -> anyhow::Result<Vec<(String, Event)>> {
    Ok(engine
        .history(case)
        .await?
        .into_iter()
        .flat_map(|h| {
            let actor = h.actor.user.clone();
            h.events.into_iter().map(move |e| (actor.clone(), e))
        })
        .filter(|(_, e)| {
            matches!(
                e,
                Event::DeadlineReached { .. }
                    | Event::CaseLimitReached { .. }
                    | Event::SupervisorNotified { .. }
                    | Event::TaskEscalated { .. }
                    | Event::ClockPaused { .. }
                    | Event::ClockResumed { .. }
                    | Event::TaskCompleted { .. }
            )
        })
        .collect())
}

db_test!(
    warning_and_overdue_fire_at_their_instants_across_a_weekend,
    |db| {
        let dir = processes()?;
        // Friday 2026-03-06 10:00: two working days → due at the end of Tuesday 03-10; the
        // warning (1 working day before) at the end of Monday 03-09.
        let clock = Arc::new(ManualClock::new(beijing(2026, 3, 6, 10, 0, 0)));
        let app = build(&db, dir.path(), Arc::clone(&clock)).await?;
        let engine = app.engine();
        let case = start(engine, "张三").await?;
        let task = only_task(engine, case).await?;
        assert_eq!(task.due_at, Some(beijing(2026, 3, 10, 23, 59, 59)));
        assert_eq!(task.warn_at, Some(beijing(2026, 3, 9, 23, 59, 59)));
        engine.claim(task.id, &clerk()).await?;

        // Nothing over the weekend, nothing a second before the warning.
        assert_eq!(fire_due(engine, beijing(2026, 3, 8, 12, 0, 0)).await?, 0);
        assert_eq!(fire_due(engine, beijing(2026, 3, 9, 23, 59, 58)).await?, 0);
        assert_eq!(fire_due(engine, beijing(2026, 3, 9, 23, 59, 59)).await?, 1);
        assert_eq!(fire_due(engine, beijing(2026, 3, 10, 12, 0, 0)).await?, 0);
        let events = deadline_events(engine, case).await?;
        match events.as_slice() {
            [
                (
                    a,
                    Event::DeadlineReached {
                        on: EscalateOn::Warning,
                        task: t,
                        ..
                    },
                ),
                (
                    b,
                    Event::SupervisorNotified {
                        department,
                        message,
                        ..
                    },
                ),
            ] => {
                assert_eq!((a.as_str(), b.as_str(), *t), ("system", "system", task.id));
                assert_eq!(department, "shebao");
                assert!(
                    message.contains("受理") && message.contains("预警"),
                    "{message}"
                );
            }
            other => panic!("after the warning: {other:?}"),
        }
        let notices = engine
            .store()
            .jobs()
            .notices(&["shebao".into()], None, 10)
            .await?;
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].kind, "warning");
        assert!(
            engine
                .store()
                .jobs()
                .notices(&["yibao".into()], None, 10)
                .await?
                .is_empty()
        );

        // Overdue at the due instant: a notice, and the task goes (unclaimed) to the reviewers.
        assert_eq!(fire_due(engine, beijing(2026, 3, 10, 23, 59, 58)).await?, 0);
        assert_eq!(fire_due(engine, beijing(2026, 3, 10, 23, 59, 59)).await?, 1);
        let moved = only_task(engine, case).await?;
        assert_eq!(moved.id, task.id);
        assert_eq!(moved.role, "shebao_reviewer");
        assert_eq!(moved.claimed_by, None);
        assert_eq!(moved.status, TaskStatus::Open);
        let reviewers = engine
            .list_tasks(&TaskQuery {
                roles: vec!["shebao_reviewer".into()],
                ..TaskQuery::default()
            })
            .await?;
        assert_eq!(
            reviewers.iter().map(|t| t.id).collect::<Vec<_>>(),
            [task.id]
        );
        let clerks = engine
            .list_tasks(&TaskQuery {
                roles: vec!["shebao_clerk".into()],
                ..TaskQuery::default()
            })
            .await?;
        assert!(clerks.is_empty());
        let events = deadline_events(engine, case).await?;
        let kinds: Vec<String> = events[2..]
            .iter()
            .map(|(actor, e)| {
                assert_eq!(actor, "system");
                match e {
                    Event::DeadlineReached { on, .. } => format!("reached {}", on.as_str()),
                    Event::SupervisorNotified { .. } => "notified".into(),
                    Event::TaskEscalated { role, .. } => format!("escalated {role}"),
                    other => format!("{other:?}"),
                }
            })
            .collect();
        assert_eq!(
            kinds,
            ["reached overdue", "notified", "escalated shebao_reviewer"]
        );
        // Each moment fires once, however often the worker looks.
        assert_eq!(fire_due(engine, beijing(2026, 3, 11, 9, 0, 0)).await?, 0);
        assert_eq!(deadline_events(engine, case).await?.len(), 5);
        Ok(())
    }
);

db_test!(a_task_created_before_national_day_warns_after_it, |db| {
    let dir = processes()?;
    // Wednesday 2026-09-30 16:00, the eve of 国庆: 10-01..10-07 are off, so two working days
    // end on Friday 10-09 and the warning starts at the end of Thursday 10-08.
    let clock = Arc::new(ManualClock::new(beijing(2026, 9, 30, 16, 0, 0)));
    let app = build(&db, dir.path(), Arc::clone(&clock)).await?;
    let engine = app.engine();
    let case = start(engine, "李四").await?;
    let task = only_task(engine, case).await?;
    assert_eq!(task.due_at, Some(beijing(2026, 10, 9, 23, 59, 59)));
    assert_eq!(task.warn_at, Some(beijing(2026, 10, 8, 23, 59, 59)));
    // A naive "24 hours before" would have warned during the holiday.
    assert_eq!(fire_due(engine, beijing(2026, 10, 7, 23, 0, 0)).await?, 0);
    assert_eq!(fire_due(engine, beijing(2026, 10, 8, 23, 59, 59)).await?, 1);
    assert_eq!(fire_due(engine, beijing(2026, 10, 9, 23, 59, 59)).await?, 1);
    let events = deadline_events(engine, case).await?;
    let reached: Vec<EscalateOn> = events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::DeadlineReached { on, .. } => Some(*on),
            _ => None,
        })
        .collect();
    assert_eq!(reached, [EscalateOn::Warning, EscalateOn::Overdue]);
    Ok(())
});

db_test!(a_default_outcome_advances_the_case_as_the_system, |db| {
    let dir = processes()?;
    let clock = Arc::new(ManualClock::new(beijing(2026, 3, 2, 9, 0, 0)));
    let app = build(&db, dir.path(), Arc::clone(&clock)).await?;
    let engine = app.engine();
    let case = start(engine, "王五").await?;
    let accept = only_task(engine, case).await?;
    engine
        .complete(accept.id, &clerk(), "accept", Map::new(), None)
        .await?;
    // Review: due at the end of Tuesday 03-03, warning 4 hours before.
    let review = only_task(engine, case).await?;
    assert_eq!(review.due_at, Some(beijing(2026, 3, 3, 23, 59, 59)));
    assert_eq!(review.warn_at, Some(beijing(2026, 3, 3, 19, 59, 59)));
    // The warning has no escalation of its own: recorded, nothing else.
    assert_eq!(fire_due(engine, beijing(2026, 3, 3, 20, 0, 0)).await?, 1);
    assert_eq!(open_tasks(engine, case).await?.len(), 1);
    assert_eq!(fire_due(engine, beijing(2026, 3, 4, 0, 0, 0)).await?, 1);
    assert!(open_tasks(engine, case).await?.is_empty());
    let record = engine.get_case(case).await?.context("case")?;
    let state = &record.state;
    assert!(
        matches!(&state.status, lianban::runtime::CaseStatus::Completed { result, .. } if result == "不予办理"),
        "{:?}",
        state.status
    );
    let task = state
        .tasks
        .iter()
        .find(|t| t.id == review.id)
        .context("review task")?;
    assert_eq!(task.outcome.as_deref(), Some("refuse"));
    assert_eq!(task.completed_by.as_deref(), Some("system"));
    assert_eq!(task.reason.as_deref(), Some("逾期未审核，按本地规定退回"));
    let last = engine.history(case).await?.pop().context("history")?;
    assert_eq!(
        (
            last.actor.user.as_str(),
            last.action.as_str(),
            last.to_status.as_str()
        ),
        ("system", "timer", "completed")
    );
    // The case ended: its legal and promised timers are gone, nothing fires later.
    let pending: Vec<_> = engine
        .store()
        .jobs()
        .case_timers(case)
        .await?
        .into_iter()
        .filter(|(_, _, fired)| fired.is_none())
        .collect();
    assert!(pending.is_empty(), "{pending:?}");
    assert_eq!(fire_due(engine, beijing(2026, 12, 31, 0, 0, 0)).await?, 0);
    Ok(())
});

db_test!(
    a_supplement_wait_of_three_working_days_moves_the_limits_by_three,
    |db| {
        let dir = processes()?;
        // Monday 2026-03-02: 20 working days → Monday 03-30; 15 → Monday 03-23.
        let clock = Arc::new(ManualClock::new(beijing(2026, 3, 2, 9, 0, 0)));
        let app = build(&db, dir.path(), Arc::clone(&clock)).await?;
        let engine = app.engine();
        let case = start(engine, "赵六").await?;
        let clock_of = |record: Option<lianban::store::CaseRecord>| {
            record.map(|r| r.state.clock).unwrap_or_default()
        };
        let before = clock_of(engine.get_case(case).await?);
        assert_eq!(before.legal_due, Some(beijing(2026, 3, 30, 23, 59, 59)));
        assert_eq!(before.promised_due, Some(beijing(2026, 3, 23, 23, 59, 59)));

        clock.set(beijing(2026, 3, 2, 10, 0, 0));
        let accept = only_task(engine, case).await?;
        engine
            .complete(accept.id, &clerk(), "supplement", Map::new(), None)
            .await?;
        let paused = clock_of(engine.get_case(case).await?);
        assert_eq!(paused.paused_since, Some(beijing(2026, 3, 2, 10, 0, 0)));
        // While the clock stands the case limits have no timers.
        let case_timers = |timers: Vec<(String, DateTime<Utc>, Option<DateTime<Utc>>)>| {
            timers
                .into_iter()
                .filter(|(kind, _, fired)| {
                    fired.is_none() && (kind == "legal" || kind == "promised")
                })
                .map(|(kind, at, _)| (kind, at))
                .collect::<Vec<_>>()
        };
        assert!(case_timers(engine.store().jobs().case_timers(case).await?).is_empty());
        // Past the original promised limit while paused: nothing fires.
        assert_eq!(fire_due(engine, beijing(2026, 3, 5, 9, 0, 0)).await?, 0);

        // Thursday: the applicant supplies; Tue, Wed, Thu were spent waiting.
        clock.set(beijing(2026, 3, 5, 10, 0, 0));
        engine
            .deliver(case, "supplied", Map::new(), Vec::new(), &clerk())
            .await?;
        let after = clock_of(engine.get_case(case).await?);
        assert_eq!(after.paused_since, None);
        assert_eq!(after.paused_workdays, 3);
        assert_eq!(after.legal_due, Some(beijing(2026, 4, 2, 23, 59, 59)));
        assert_eq!(after.promised_due, Some(beijing(2026, 3, 26, 23, 59, 59)));
        let mut timers = case_timers(engine.store().jobs().case_timers(case).await?);
        timers.sort();
        assert_eq!(
            timers,
            [
                ("legal".to_owned(), beijing(2026, 4, 2, 23, 59, 59)),
                ("promised".to_owned(), beijing(2026, 3, 26, 23, 59, 59)),
            ]
        );
        let events = deadline_events(engine, case).await?;
        let pause = events
        .iter()
        .filter(|(_, e)| matches!(e, Event::ClockPaused { step } if step.as_str() == "supplement_wait"))
        .count();
        let resume: Vec<i64> = events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::ClockResumed { workdays, .. } => Some(*workdays),
                _ => None,
            })
            .collect();
        assert_eq!((pause, resume), (1, vec![3]));

        // The moved promised limit fires at its new instant, once, to the department's
        // supervisors (the task is back at 受理 with the clerks, so its timers fire too).
        let fired = fire_due(engine, beijing(2026, 3, 26, 23, 59, 59)).await?;
        assert!(fired >= 1);
        let limits: Vec<CaseLimit> = deadline_events(engine, case)
            .await?
            .iter()
            .filter_map(|(_, e)| match e {
                Event::CaseLimitReached { limit, .. } => Some(*limit),
                _ => None,
            })
            .collect();
        assert_eq!(limits, [CaseLimit::Promised]);

        // The case page shows the limits; the timeline says the clock stopped and ran again.
        let web = TestApp::start_with_clock(
            &db,
            dir.path().to_str().context("path")?,
            clock.clone(),
            |_| {},
        )
        .await?;
        let password = web.add_user("shebao_li", "shebao", Role::Clerk).await?;
        let li = web.login("shebao_li", &password).await?;
        let page = Browser::of(&web, &li)?
            .get(&format!("/cases/{case}"))
            .await?;
        for text in [
            "法定时限",
            "2026-04-02 23:59",
            "承诺时限",
            "办件计时暂停",
            "办件恢复计时",
            "时限顺延 3 个工作日",
        ] {
            assert!(
                page.text.contains(text),
                "{text} not on the case page:\n{}",
                page.text
            );
        }
        Ok(())
    }
);

db_test!(an_expired_supplement_wait_only_notifies, |db| {
    let dir = processes()?;
    let clock = Arc::new(ManualClock::new(beijing(2026, 3, 2, 9, 0, 0)));
    let app = build(&db, dir.path(), Arc::clone(&clock)).await?;
    let engine = app.engine();
    let case = start(engine, "钱九").await?;
    let accept = only_task(engine, case).await?;
    engine
        .complete(accept.id, &clerk(), "supplement", Map::new(), None)
        .await?;
    // Five working days from Monday 03-02: the end of Monday 03-09.
    assert_eq!(fire_due(engine, beijing(2026, 3, 9, 23, 59, 58)).await?, 0);
    assert_eq!(fire_due(engine, beijing(2026, 3, 9, 23, 59, 59)).await?, 1);
    let events = deadline_events(engine, case).await?;
    assert!(
        matches!(
            events.last(),
            Some((actor, Event::SupervisorNotified { department, task: None, message }))
                if actor == "system" && department == "shebao" && message.contains("等待补正")
        ),
        "{events:?}"
    );
    // Still waiting, clock still stopped: a person decides what happens next.
    let record = engine.get_case(case).await?.context("case")?;
    assert_eq!(record.state.tokens.len(), 1);
    assert_eq!(record.state.tokens[0].step.as_str(), "supplement_wait");
    assert!(record.state.clock.paused_since.is_some());
    let notices = engine.store().jobs().notices(&[], None, 10).await?;
    assert_eq!(
        notices.iter().map(|n| n.kind.as_str()).collect::<Vec<_>>(),
        ["wait"]
    );
    assert_eq!(fire_due(engine, beijing(2026, 3, 20, 0, 0, 0)).await?, 0);
    Ok(())
});

db_test!(timers_survive_a_restart_and_fire_once, |db| {
    let dir = processes()?;
    let clock = Arc::new(ManualClock::new(beijing(2026, 3, 6, 10, 0, 0)));
    let case = {
        let app = build(&db, dir.path(), Arc::clone(&clock)).await?;
        start(app.engine(), "孙七").await?
        // The app (and its pool) is dropped here, before any timer fired.
    };
    let app = build(&db, dir.path(), Arc::clone(&clock)).await?;
    let engine = app.engine();
    // Monday noon after the warning instant and before the due one.
    let now = beijing(2026, 3, 10, 12, 0, 0);
    assert_eq!(fire_due(engine, now).await?, 1);
    let again = build(&db, dir.path(), Arc::clone(&clock)).await?;
    assert_eq!(fire_due(again.engine(), now).await?, 0);
    let warnings = deadline_events(engine, case)
        .await?
        .iter()
        .filter(|(_, e)| matches!(e, Event::DeadlineReached { .. }))
        .count();
    assert_eq!(warnings, 1);
    Ok(())
});

db_test!(two_instances_fire_each_timer_exactly_once, |db| {
    let dir = processes()?;
    let clock = Arc::new(ManualClock::new(beijing(2026, 3, 2, 9, 0, 0)));
    let one = build(&db, dir.path(), Arc::clone(&clock)).await?;
    let two = build(&db, dir.path(), Arc::clone(&clock)).await?;
    let mut cases = Vec::new();
    for i in 0..12 {
        cases.push(start(one.engine(), &format!("申请人{i}")).await?);
    }
    // Past every task and case moment: per case a warning and an overdue (the task then
    // goes to the reviewers, keeping its due time), a promised and a legal limit.
    let now = beijing(2026, 6, 30, 12, 0, 0);
    let (a, b) = (Arc::clone(&one), Arc::clone(&two));
    let first = tokio::spawn(async move { fire_due(a.engine(), now).await });
    let second = tokio::spawn(async move { fire_due(b.engine(), now).await });
    let (first, second) = (first.await??, second.await??);
    assert_eq!(first + second, cases.len() * 4, "{first} + {second}");
    for case in cases {
        let moments: Vec<String> = deadline_events(one.engine(), case)
            .await?
            .iter()
            .filter_map(|(_, e)| match e {
                Event::DeadlineReached { on, .. } => Some(on.as_str().to_owned()),
                Event::CaseLimitReached { limit, .. } => Some(limit.as_str().to_owned()),
                _ => None,
            })
            .collect();
        let mut sorted = moments.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            ["legal", "overdue", "promised", "warning"],
            "{moments:?}"
        );
    }
    assert_eq!(fire_due(two.engine(), now).await?, 0);
    Ok(())
});

db_test!(the_inbox_shows_working_days_left_and_colours, |db| {
    let dir = processes()?;
    let clock = Arc::new(ManualClock::new(beijing(2026, 3, 6, 10, 0, 0)));
    let path = dir.path().to_str().context("path")?.to_owned();
    let app = TestApp::start_with_clock(&db, &path, clock.clone(), |_| {}).await?;
    let password = app.add_user("shebao_li", "shebao", Role::Clerk).await?;
    let boss_password = app
        .add_user("shebao_boss", "shebao", Role::Supervisor)
        .await?;
    let li = app.login("shebao_li", &password).await?;
    let engine = app.app.engine();
    let case = start(engine, "周八").await?;
    let browser = Browser::of(&app, &li)?;

    // Friday: due Tuesday, two working days left, no colour yet.
    let inbox = browser.get("/inbox").await?;
    assert!(inbox.text.contains("还剩 2 个工作日"), "{}", inbox.text);
    assert!(!inbox.text.contains("class=\"warning\""), "{}", inbox.text);
    let rows = li.inbox("").await?.ok()?;
    assert_eq!(rows[0]["overdue"], false);
    assert_eq!(rows[0]["warn_at"], json!(beijing(2026, 3, 9, 23, 59, 59)));
    // The "soon" filter is the warning period, which has not started.
    assert!(!browser.get("/inbox?due=soon").await?.text.contains("还剩"));

    // Tuesday: the due day, in its warning period. (Sessions expire on the same clock, so
    // the clerk signs in again each day.)
    clock.set(beijing(2026, 3, 10, 9, 0, 0));
    let li = app.login("shebao_li", &password).await?;
    let browser = Browser::of(&app, &li)?;
    let inbox = browser.get("/inbox?due=soon").await?;
    assert!(inbox.text.contains("今天到期"), "{}", inbox.text);
    assert!(
        inbox.text.contains("<tr class=\"warning\">"),
        "{}",
        inbox.text
    );

    // Thursday: two working days late (Wednesday and Thursday).
    clock.set(beijing(2026, 3, 12, 9, 0, 0));
    let li = app.login("shebao_li", &password).await?;
    let browser = Browser::of(&app, &li)?;
    let inbox = browser.get("/inbox?due=overdue").await?;
    assert!(inbox.text.contains("已超期 2 个工作日"), "{}", inbox.text);
    assert!(
        inbox.text.contains("<tr class=\"overdue\">"),
        "{}",
        inbox.text
    );
    assert_eq!(li.inbox("").await?.ok()?[0]["overdue"], true);

    // The supervisor's overdue page lists it with the notices the timers left; a clerk
    // may not see the page.
    assert_eq!(fire_due(engine, clock_now(&app)).await?, 2);
    let boss = app.login("shebao_boss", &boss_password).await?;
    let page = Browser::of(&app, &boss)?.get("/overdue").await?;
    assert_eq!(page.status, 200);
    for text in [
        "超期督办",
        "受理",
        "已超期",
        "已进入预警期",
        case.to_string().as_str(),
    ] {
        assert!(
            page.text.contains(text),
            "{text} not on /overdue:\n{}",
            page.text
        );
    }
    assert_eq!(browser.get("/overdue").await?.status, 403);
    assert!(
        !browser
            .get("/inbox")
            .await?
            .text
            .contains("href=\"/overdue\"")
    );
    Ok(())
});

fn clock_now(app: &TestApp) -> DateTime<Utc> {
    app.app.engine().now()
}

#[test]
fn escalations_are_checked_with_positions_and_hints() {
    let text = r#"id: test.bad
version: 1
name: 坏的升级
departments: {shebao: {name: 社保}}
roles: {clerk: {name: 经办, department: shebao}}
time_limits: {legal: params.nope workdays, warn: 2 weeks}
steps:
  - id: a
    name: 受理
    type: task
    role: clerk
    due: 2 workdays
    escalate:
      - {on: late, notify: supervisor}
      - {on: overdue, notify: boss}
      - {on: overdue, reassign: reviewer}
      - {on: overdue, outcome: nope}
      - {on: overdue, outcome: refuse}
      - {on: warning, notify: supervisor, reassign: clerk}
    outcomes:
      ok: {label: 通过, to: b}
      refuse: {label: 不予办理, to: end, reason: true}
  - id: b
    name: 无时限
    type: task
    role: clerk
    warn: 1 workday
    outcomes: {ok: {label: 通过, to: w}}
  - id: w
    name: 等待
    type: wait
    on: {back: end}
    due: 3 workdays
    escalate: [{on: overdue, reassign: clerk}]
  - {id: end, name: 办结, type: end}
"#;
    let templates = Templates::load(&repo().join("templates")).expect("templates");
    let source = SourceFile {
        path: "bad/flow.yaml".into(),
        text: text.into(),
    };
    let error = load_sources(&[source], &templates).expect_err("refused");
    let found: Vec<(usize, &str, &str)> = error
        .diagnostics
        .iter()
        .map(|d| (d.line, d.code, d.path.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (6, "E-UNKNOWN-PARAMETER", "time_limits.legal"),
            (6, "E-DURATION", "time_limits.warn"),
            (14, "E-ESCALATION", "steps[0].escalate[0].on"),
            (15, "E-ESCALATION", "steps[0].escalate[1].notify"),
            (16, "E-UNKNOWN-ROLE", "steps[0].escalate[2].reassign"),
            (17, "E-ESCALATION", "steps[0].escalate[3].outcome"),
            (18, "E-ESCALATION", "steps[0].escalate[4]"),
            (19, "E-ESCALATION", "steps[0].escalate[5]"),
            (27, "E-DURATION", "steps[1].warn"),
            (34, "E-ESCALATION", "steps[2].escalate"),
        ],
        "{error}"
    );
    let text = error.to_string();
    assert!(text.contains("需要书面理由"), "{text}");
    assert!(text.contains("notify: supervisor"), "{text}");
}

#[test]
fn due_and_due_date_together_are_refused() {
    let text = r#"id: test.dated
version: 1
name: 按规则算到期日期
departments: {shebao: {name: 社保}}
roles: {clerk: {name: 经办, department: shebao}}
steps:
  - id: a
    name: 受理
    type: task
    role: clerk
    due: 2 workdays
    due_date: '"2026-03-20"'
    outcomes: {ok: {label: 通过, to: end}}
  - {id: end, name: 办结, type: end}
"#;
    let templates = Templates::load(&repo().join("templates")).expect("templates");
    let source = SourceFile {
        path: "dated/flow.yaml".into(),
        text: text.into(),
    };
    let error = load_sources(&[source], &templates).expect_err("refused");
    let found: Vec<(usize, &str, &str)> = error
        .diagnostics
        .iter()
        .map(|d| (d.line, d.code, d.path.as_str()))
        .collect();
    assert_eq!(found, [(12, "E-DURATION", "steps[0].due_date")], "{error}");
    // Alone, `due_date` loads.
    let fine = SourceFile {
        path: "dated/flow.yaml".into(),
        text: text.replace("    due: 2 workdays\n", ""),
    };
    let process = load_sources(&[fine], &templates).expect("loads");
    assert!(matches!(
        &process.steps[0].kind,
        lianban::definition::StepKind::Task(t) if t.due_date.is_some() && t.due.is_none()
    ));
}
