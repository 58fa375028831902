//! Cron schedules and the push tables they issue, on a manual clock: a schedule fires at
//! 17:00 Beijing time on working days of the calendar (a 调休 Saturday too, a holiday or a
//! weekend never), once across engines sharing a database, and after downtime makes up
//! the latest missed firing once (or records it as skipped). `push_tables` issues, per
//! receiving department, the table of the cases whose joint task for it was created since
//! the last firing; the tables are served as print view, XLSX and CSV to that department
//! and to the lead department's supervisors only.

use std::io::Read as _;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use lianban::accounts::Role;
use lianban::app::{App, Settings};
use lianban::runtime::CaseId;
use lianban::scheduler::schedules::Firing;
use lianban::scheduler::{ManualClock, run_due};
use lianban::service::Engine;
use lianban::store::RunStatus;
use lianban_tests::files::copy_dir;
use lianban_tests::retirement::{PROCESS, start_confirmed};
use lianban_tests::web::{TestApp, repo};
use lianban_tests::{TestDb, db_test};
use serde_json::Value;

/// `y-m-d h:mi` Beijing time.
pub(crate) fn beijing(y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    // Beijing time has been UTC+8 all year since 1991.
    chrono::FixedOffset::east_opt(8 * 3600)
        .expect("UTC+8")
        .with_ymd_and_hms(y, m, d, h, mi, 0)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .expect("a valid Beijing time")
}

/// The 阳城 definition, the base it extends and the calendars in a temporary processes
/// directory, the base's text (where the schedule is written) passed through `edit`.
pub(crate) fn processes(edit: impl FnOnce(String) -> String) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    let source = repo().join("processes");
    for sub in ["yangcheng", "shanxi", "calendars"] {
        copy_dir(&source.join(sub), &dir.path().join(sub))?;
    }
    let file = dir.path().join("shanxi/retirement.yaml");
    let text = std::fs::read_to_string(&file)?;
    std::fs::write(&file, edit(text))?;
    Ok(dir)
}

async fn app(db: &TestDb, dir: &Path, clock: Arc<ManualClock>) -> anyhow::Result<Arc<App>> {
    let mut settings = Settings::new(db.url.clone());
    settings.processes_dir = dir.to_path_buf();
    settings.templates_dir = repo().join("templates");
    App::build_with_clock(settings, clock).await
}

/// The firings of the retirement schedule.
pub(crate) async fn fire(engine: &Engine, at: DateTime<Utc>) -> anyhow::Result<Vec<Firing>> {
    Ok(run_due(engine, at)
        .await?
        .into_iter()
        .filter(|f| f.process_id == PROCESS)
        .collect())
}

db_test!(
    fires_at_five_on_working_days_including_a_weekend_working_day,
    |db| {
        let dir = processes(|t| t)?;
        let clock = Arc::new(ManualClock::new(beijing(2026, 9, 30, 9, 0)));
        let app = app(&db, dir.path(), clock).await?;
        let engine = app.engine();

        // Before 17:00 on the first day: nothing (no catch-up for a schedule that never ran).
        assert!(fire(engine, beijing(2026, 9, 30, 16, 59)).await?.is_empty());
        // 17:00 on a working day (Wednesday): fires, once.
        let fired = fire(engine, beijing(2026, 9, 30, 17, 0)).await?;
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].fire_time, beijing(2026, 9, 30, 17, 0));
        assert_eq!(
            (fired[0].status, fired[0].catch_up),
            (RunStatus::Finished, false)
        );
        assert!(fire(engine, beijing(2026, 9, 30, 17, 1)).await?.is_empty());
        // 国庆节 (a Thursday and Friday off) and the weekend: nothing.
        for day in [1, 2, 3, 4] {
            let fired = fire(engine, beijing(2026, 10, day, 17, 0)).await?;
            assert!(fired.is_empty(), "10-{day}: {fired:?}");
        }
        // The Friday after the holidays, then Saturday 10-10, a 调休 working day: both fire.
        let fired = fire(engine, beijing(2026, 10, 9, 17, 0)).await?;
        assert_eq!(fired.len(), 1, "{fired:?}");
        let fired = fire(engine, beijing(2026, 10, 10, 17, 0)).await?;
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].fire_time, beijing(2026, 10, 10, 17, 0));
        assert!(!fired[0].catch_up);
        // Sunday 10-11 is an ordinary day off.
        assert!(fire(engine, beijing(2026, 10, 11, 17, 0)).await?.is_empty());

        let runs = engine
            .store()
            .jobs()
            .schedule_runs(Some(PROCESS), 100)
            .await?;
        let times: Vec<_> = runs.iter().map(|r| r.fire_time).collect();
        assert_eq!(
            times,
            [
                beijing(2026, 10, 10, 17, 0),
                beijing(2026, 10, 9, 17, 0),
                beijing(2026, 9, 30, 17, 0)
            ]
        );
        assert!(runs.iter().all(|r| r.status == RunStatus::Finished));
        Ok(())
    }
);

db_test!(
    a_year_without_calendar_data_is_a_failed_run_not_a_guess,
    |db| {
        let dir = processes(|t| t)?;
        // Without its `provisional:` rule the calendar cannot count 2027 at all.
        let calendar = dir.path().join("calendars/cn-mainland.yaml");
        let text = std::fs::read_to_string(&calendar)?;
        std::fs::write(
            &calendar,
            text.replace("provisional: cn-statutory-2025\n", ""),
        )?;
        let clock = Arc::new(ManualClock::new(beijing(2027, 3, 1, 9, 0)));
        let app = app(&db, dir.path(), clock).await?;
        let fired = fire(app.engine(), beijing(2027, 3, 1, 17, 0)).await?;
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].status, RunStatus::Failed);
        let error = fired[0].error.clone().unwrap_or_default();
        assert!(error.contains("2027"), "{error}");
        // Recorded once; the same firing is not tried again.
        assert!(
            fire(app.engine(), beijing(2027, 3, 1, 17, 1))
                .await?
                .is_empty()
        );
        let runs = app
            .engine()
            .store()
            .jobs()
            .schedule_runs(Some(PROCESS), 10)
            .await?;
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].error.as_deref(), Some(error.as_str()));
        Ok(())
    }
);

db_test!(two_engines_on_one_database_fire_once, |db| {
    let dir = processes(|t| t)?;
    let at = beijing(2026, 11, 30, 17, 0);
    let first = app(&db, dir.path(), Arc::new(ManualClock::new(at))).await?;
    let second = app(&db, dir.path(), Arc::new(ManualClock::new(at))).await?;
    let (a, b) = tokio::join!(fire(first.engine(), at), fire(second.engine(), at));
    let (a, b) = (a?, b?);
    assert_eq!(a.len() + b.len(), 1, "{a:?} {b:?}");
    let runs = first
        .engine()
        .store()
        .jobs()
        .schedule_runs(Some(PROCESS), 10)
        .await?;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Finished);
    Ok(())
});

db_test!(downtime_is_caught_up_once, |db| {
    let dir = processes(|t| t)?;
    let clock = Arc::new(ManualClock::new(beijing(2026, 11, 30, 17, 0)));
    let app = app(&db, dir.path(), clock).await?;
    let engine = app.engine();
    assert_eq!(fire(engine, beijing(2026, 11, 30, 17, 0)).await?.len(), 1);
    // Down from Monday night to Thursday 18:00: Tuesday, Wednesday and Thursday 17:00 were
    // missed; only the latest runs, once, as a catch-up.
    let fired = fire(engine, beijing(2026, 12, 3, 18, 0)).await?;
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].fire_time, beijing(2026, 12, 3, 17, 0));
    assert_eq!(
        (fired[0].status, fired[0].catch_up),
        (RunStatus::Finished, true)
    );
    assert!(fire(engine, beijing(2026, 12, 3, 18, 1)).await?.is_empty());
    let runs = engine
        .store()
        .jobs()
        .schedule_runs(Some(PROCESS), 10)
        .await?;
    assert_eq!(runs.len(), 2);
    Ok(())
});

db_test!(downtime_without_catch_up_is_one_skip, |db| {
    let dir = processes(|t| {
        t.replace(
            "workdays_only: true, catch_up: true",
            "workdays_only: true, catch_up: false",
        )
    })?;
    let clock = Arc::new(ManualClock::new(beijing(2026, 11, 30, 17, 0)));
    let app = app(&db, dir.path(), clock).await?;
    let engine = app.engine();
    assert_eq!(fire(engine, beijing(2026, 11, 30, 17, 0)).await?.len(), 1);
    let fired = fire(engine, beijing(2026, 12, 3, 18, 0)).await?;
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].status, RunStatus::Skipped);
    assert!(fire(engine, beijing(2026, 12, 3, 18, 5)).await?.is_empty());
    let runs = engine
        .store()
        .jobs()
        .schedule_runs(Some(PROCESS), 10)
        .await?;
    let statuses: Vec<_> = runs.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [RunStatus::Skipped, RunStatus::Finished]);
    // The next on-time firing runs as usual.
    let fired = fire(engine, beijing(2026, 12, 4, 17, 0)).await?;
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].status, RunStatus::Finished);
    Ok(())
});

// ---- push tables ----

/// Starts, accepts and confirms a retirement ten minutes after the clock's time.
async fn confirmed(
    engine: &Engine,
    clock: &ManualClock,
    name: &str,
    id: &str,
    medical: bool,
    fund: bool,
) -> anyhow::Result<CaseId> {
    clock.advance(chrono::Duration::minutes(10));
    start_confirmed(engine, name, id, medical, fund).await
}

pub(crate) async fn bytes(
    app: &TestApp,
    session: &str,
    path: &str,
) -> anyhow::Result<(u16, String, Vec<u8>)> {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", app.base))
        .header("cookie", format!("lianban_session={session}"))
        .send()
        .await?;
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok((status, kind, response.bytes().await?.to_vec()))
}

db_test!(push_tables_go_to_each_receiving_department_only, |db| {
    let dir = processes(|t| t)?;
    let clock = Arc::new(ManualClock::new(beijing(2026, 11, 27, 10, 0)));
    let app = TestApp::start_with_clock(
        &db,
        dir.path().to_str().unwrap_or_default(),
        clock.clone(),
        |_| {},
    )
    .await?;
    let engine = app.app.engine();

    // Friday: one case confirmed, pushed in Friday's tables.
    let friday = confirmed(engine, &clock, "赵一", "140522196501151012", true, false).await?;
    let fired = fire(engine, beijing(2026, 11, 27, 17, 0)).await?;
    assert_eq!(fired.len(), 1);
    // Monday: three confirmed for joint items (one asks for both), one for none.
    clock.set(beijing(2026, 11, 30, 9, 30));
    let medical = confirmed(engine, &clock, "钱二", "140522196203041018", true, false).await?;
    let fund = confirmed(engine, &clock, "孙三", "140522196607082035", false, true).await?;
    let both = confirmed(engine, &clock, "李四", "14052219640923101X", true, true).await?;
    confirmed(engine, &clock, "周五", "140522196312120014", false, false).await?;
    let fired = fire(engine, beijing(2026, 11, 30, 17, 0)).await?;
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].status, RunStatus::Finished, "{fired:?}");
    let tables = fired[0]
        .result
        .as_ref()
        .map(|r| r["tables"].clone())
        .unwrap_or_default();
    assert_eq!(tables.as_array().map(Vec::len), Some(2), "{tables}");

    let yibao = app.clerk("yibao1", "yibao", Role::Clerk).await?;
    let gjj = app.clerk("gjj1", "gjj", Role::Clerk).await?;
    let lead = app.clerk("boss", "shebao", Role::Supervisor).await?;
    let shebao_clerk = app.clerk("clerk1", "shebao", Role::Clerk).await?;

    let list = |json: &Value| -> Vec<(String, String, i64)> {
        json.as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                (
                    t["department"].as_str().unwrap_or_default().to_owned(),
                    t["day"].as_str().unwrap_or_default().to_owned(),
                    t["rows"].as_i64().unwrap_or_default(),
                )
            })
            .collect()
    };
    let seen = |c: &lianban_tests::web::Clerk| {
        let c = c.clone();
        let base = app.base.clone();
        async move {
            let response = reqwest::Client::new()
                .get(format!("{base}/api/v1/push-tables"))
                .header("cookie", format!("lianban_session={}", c.session))
                .send()
                .await?;
            anyhow::Ok(response.json::<Value>().await?)
        }
    };
    let yibao_tables = seen(&yibao).await?;
    assert_eq!(
        list(&yibao_tables),
        [
            ("yibao".into(), "2026-11-30".into(), 2),
            ("yibao".into(), "2026-11-27".into(), 1)
        ]
    );
    assert!(
        !yibao_tables.to_string().contains("140522"),
        "lists carry no ID numbers"
    );
    assert_eq!(
        list(&seen(&gjj).await?),
        [("gjj".into(), "2026-11-30".into(), 2)]
    );
    assert_eq!(list(&seen(&lead).await?).len(), 3);
    assert!(list(&seen(&shebao_clerk).await?).is_empty());

    // Monday's yibao table: the two cases that asked for the medical item, ID in full.
    let id = yibao_tables[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(yibao_tables[0]["number"], "阳社推〔2026〕第0002号");
    let (status, _, body) =
        bytes(&app, &yibao.session, &format!("/api/v1/push-tables/{id}")).await?;
    assert_eq!(status, 200);
    let table: Value = serde_json::from_slice(&body)?;
    let cases: Vec<&str> = table["cases"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["case_id"].as_str())
        .collect();
    assert_eq!(cases, [medical.to_string(), both.to_string()]);
    assert!(
        !cases.contains(&friday.to_string().as_str())
            && !cases.contains(&fund.to_string().as_str())
    );
    // Opening the table is a look at each case it lists, on that case's record.
    let history = engine.history(both).await?;
    assert!(
        history
            .iter()
            .any(|h| h.action == "view" && h.actor.user == "yibao1"),
        "{history:?}"
    );
    // Another department's table is not there for them.
    let (status, _, _) = bytes(&app, &gjj.session, &format!("/api/v1/push-tables/{id}")).await?;
    assert_eq!(status, 404);

    // Print view, CSV (BOM, header and two rows, IDs in full), XLSX (a zip with the IDs).
    let (status, kind, html) = bytes(&app, &yibao.session, &format!("/push-tables/{id}")).await?;
    let html = String::from_utf8(html)?;
    assert_eq!((status, kind.as_str()), (200, "text/html; charset=utf-8"));
    assert!(html.contains("推送至：阳城县医保局") && html.contains("阳社推〔2026〕第0002号"));
    let (status, kind, csv) =
        bytes(&app, &yibao.session, &format!("/push-tables/{id}.csv")).await?;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
    assert!(csv.starts_with(&[0xEF, 0xBB, 0xBF]));
    let mut reader = csv::ReaderBuilder::new().from_reader(&csv[3..]);
    let header = reader.headers()?.clone();
    let id_col = header
        .iter()
        .position(|h| h == "身份证号")
        .ok_or_else(|| anyhow::anyhow!("{header:?}"))?;
    let name_col = header
        .iter()
        .position(|h| h == "姓名")
        .ok_or_else(|| anyhow::anyhow!("{header:?}"))?;
    let rows: Vec<(String, String)> = reader
        .records()
        .map(|r| r.map(|r| (r[name_col].to_owned(), r[id_col].to_owned())))
        .collect::<Result<_, _>>()?;
    assert_eq!(
        rows,
        [
            ("钱二".into(), "140522196203041018".into()),
            ("李四".into(), "14052219640923101X".into())
        ]
    );
    let (status, kind, xlsx) =
        bytes(&app, &yibao.session, &format!("/push-tables/{id}.xlsx")).await?;
    assert_eq!(status, 200);
    assert!(kind.starts_with("application/vnd.openxmlformats"), "{kind}");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(xlsx))?;
    let mut strings = String::new();
    zip.by_name("xl/sharedStrings.xml")?
        .read_to_string(&mut strings)?;
    assert!(
        strings.contains("14052219640923101X")
            && strings.contains("李四")
            && strings.contains("身份证号")
    );
    let (status, _, _) = bytes(&app, &gjj.session, &format!("/push-tables/{id}.xlsx")).await?;
    assert_eq!(status, 404);
    let (status, _, page) = bytes(&app, &yibao.session, "/push-tables").await?;
    assert_eq!(status, 200);
    assert!(String::from_utf8(page)?.contains(&format!("/push-tables/{id}.csv")));
    Ok(())
});
