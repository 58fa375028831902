//! County scoping over real HTTP on loopback, with every county of `processes/` loaded
//! (examples, qinshui and yangcheng all declare a `shebao`): an account or API key of one
//! county sees and works only that county's tasks and cases, in the JSON API and on the
//! pages, its page header names its own county's department, and `serve --demo` seeds
//! accounts per county; the migration fills the county of tasks and cases stored before it;
//! push tables name the receiving department of their own county, on the page and in the
//! names of their files.
//! (Refusing an ambiguous `user add --department shebao` is tested
//! with the binary in tests/binary/users.rs.) Every test runs on SQLite and on PostgreSQL.

use lianban::accounts::{self, Role};
use lianban::store::NewApiKey;
use lianban_tests::db_test;
use lianban_tests::pages::Browser;
use lianban_tests::web::{Clerk, TestApp};
use serde_json::{Value, json};

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

/// A retirement application both counties' forms accept.
fn application(process: &str, name: &str) -> Value {
    json!({
        "process": process,
        "form": {
            "name": name,
            "gender": "男",
            "id_number": "140522196412150317",
            "birth": "1964-12",
            "post": "生产",
            "employer": "某煤业有限公司",
            "address": "凤城镇",
            "phone": "13935600000",
            "veteran": false,
            "item": "企业职工正常退休信息确认、待遇计发",
            "delivery": "现场自取",
            "retirement_type": "正常退休",
        },
        "materials": [],
    })
}

async fn county_clerk(
    app: &TestApp,
    username: &str,
    county: Option<&str>,
) -> anyhow::Result<Clerk> {
    let password = app
        .add_user_in(username, "shebao", county, Role::Clerk)
        .await?;
    app.login(username, &password).await
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v[key].as_str().map(str::to_owned))
        .collect()
}

db_test!(a_county_clerk_sees_only_that_county, |db| {
    let app = TestApp::start(&db, "processes").await?;
    let yangcheng = county_clerk(&app, "yc_shebao", Some("yangcheng")).await?;
    let qinshui = county_clerk(&app, "qs_shebao", Some("qinshui")).await?;
    let everywhere = county_clerk(&app, "any_shebao", None).await?;

    let yc_case = yangcheng
        .start(&application("yangcheng.retirement", "阳城张三"))
        .await?;
    assert_eq!(yc_case.status, 201, "{}", yc_case.text);
    let yc_case = id(&yc_case.json);
    let qs_case = id(&qinshui
        .start(&application("qinshui.retirement", "沁水李四"))
        .await?
        .ok()?);
    // Another county's process cannot be started either.
    let foreign = yangcheng
        .start(&application("qinshui.retirement", "沁水王五"))
        .await?;
    assert_eq!((foreign.status, foreign.problem()), (403, "forbidden"));

    let yc_inbox = yangcheng.inbox("").await?.ok()?;
    assert_eq!(
        ids(&yc_inbox, "case_id"),
        std::slice::from_ref(&yc_case),
        "{yc_inbox}"
    );
    let qs_inbox = qinshui.inbox("").await?.ok()?;
    assert_eq!(
        ids(&qs_inbox, "case_id"),
        std::slice::from_ref(&qs_case),
        "{qs_inbox}"
    );
    // An account without a county keeps the single-county behaviour: every shebao task.
    assert_eq!(
        everywhere.inbox("").await?.ok()?.as_array().map(Vec::len),
        Some(2)
    );

    // Guessing the other county's ids answers exactly as for another department.
    let qs_task = ids(&qs_inbox, "id").pop().unwrap_or_default();
    let yc_task = ids(&yc_inbox, "id").pop().unwrap_or_default();
    let claim = yangcheng.claim(&qs_task).await?;
    assert_eq!((claim.status, claim.problem()), (404, "not-found"));
    let complete = yangcheng
        .complete(&qs_task, &json!({"outcome": "accept"}))
        .await?;
    assert_eq!(complete.status, 404);
    assert_eq!(yangcheng.case(&qs_case).await?.status, 404);
    assert_eq!(yangcheng.documents(&qs_case).await?.status, 404);
    assert_eq!(
        ids(&yangcheng.cases("").await?.ok()?, "id"),
        std::slice::from_ref(&yc_case)
    );
    assert_eq!(yangcheng.case(&yc_case).await?.status, 200);
    yangcheng.claim(&yc_task).await?.ok()?;

    // The pages ask the same questions.
    let page = Browser::of(&app, &yangcheng)?;
    assert_eq!(page.get(&format!("/tasks/{qs_task}")).await?.status, 404);
    assert_eq!(page.get(&format!("/cases/{qs_case}")).await?.status, 404);
    let refused = page
        .post(
            &format!("/tasks/{qs_task}/claim"),
            &[("back", "/inbox")],
            true,
        )
        .await?;
    assert_eq!(refused.status, 404);
    let inbox = page.get("/inbox").await?;
    assert_eq!(inbox.status, 200);
    assert!(inbox.text.contains("阳城张三"), "{}", inbox.text);
    assert!(!inbox.text.contains("沁水李四"), "{}", inbox.text);
    // The header names the department of the account's own county.
    assert!(
        inbox.text.contains("阳城县社保中心企业保险股"),
        "{}",
        inbox.text
    );
    assert!(!inbox.text.contains("沁水县社会保险中心"));
    let intake = page.get("/intake?process=qinshui.retirement").await?;
    assert_eq!(intake.status, 403);
    assert_eq!(
        page.get("/intake?process=yangcheng.retirement")
            .await?
            .status,
        200
    );
    let search = page.get("/cases").await?;
    assert!(search.text.contains("阳城张三") && !search.text.contains("沁水李四"));
    let qs_page = Browser::of(&app, &qinshui)?.get("/inbox").await?;
    assert!(
        qs_page.text.contains("沁水县社会保险中心"),
        "{}",
        qs_page.text
    );
    Ok(())
});

db_test!(a_county_api_key_sees_only_that_county, |db| {
    let app = TestApp::start(&db, "processes").await?;
    let yangcheng = county_clerk(&app, "yc_shebao", Some("yangcheng")).await?;
    let qinshui = county_clerk(&app, "qs_shebao", Some("qinshui")).await?;
    let yc_case = id(&yangcheng
        .start(&application("yangcheng.retirement", "阳城张三"))
        .await?
        .ok()?);
    let qs_case = id(&qinshui
        .start(&application("qinshui.retirement", "沁水李四"))
        .await?
        .ok()?);
    let key = accounts::new_api_key();
    let new = NewApiKey {
        name: "yangcheng.shebao-system".into(),
        key_hash: accounts::api_key_hash(&key),
        department: "shebao".into(),
        county: Some("yangcheng".into()),
        intake: false,
    };
    let store = app.app.engine().store();
    store
        .accounts()
        .create_api_key(&new, chrono::Utc::now())
        .await?;
    let client = reqwest::Client::new();
    let get = |path: String| {
        client
            .get(format!("{}{path}", app.base))
            .bearer_auth(&key)
            .send()
    };
    let inbox: Value = get("/api/v1/inbox".into()).await?.json().await?;
    assert_eq!(
        ids(&inbox, "case_id"),
        std::slice::from_ref(&yc_case),
        "{inbox}"
    );
    assert_eq!(get(format!("/api/v1/cases/{qs_case}")).await?.status(), 404);
    assert_eq!(get(format!("/api/v1/cases/{yc_case}")).await?.status(), 200);
    Ok(())
});

db_test!(demo_accounts_are_seeded_per_county, |db| {
    let app = TestApp::start(&db, "processes").await?;
    let created = app.app.seed_demo_accounts().await?;
    let find = |name: &str| created.iter().find(|a| a.username == name).cloned();
    let yc = find("yangcheng_shebao_clerk").ok_or_else(|| anyhow::anyhow!("{created:?}"))?;
    assert_eq!(yc.county.as_deref(), Some("yangcheng"));
    assert!(find("qinshui_shebao_clerk").is_some());
    assert!(
        find("qinshui_gongan_clerk").is_some(),
        "qinshui's own departments"
    );
    assert!(find("yangcheng_gongan_clerk").is_none());
    assert!(find("yangcheng_supervisor").is_some_and(|a| a.county.as_deref() == Some("yangcheng")));
    assert!(find("admin").is_some_and(|a| a.county.is_none()));
    assert!(find("shebao_clerk").is_none(), "no clerk of every county");

    let qs = find("qinshui_shebao_clerk").ok_or_else(|| anyhow::anyhow!("{created:?}"))?;
    let qinshui = app.login(&qs.username, &qs.password).await?;
    qinshui
        .start(&application("qinshui.retirement", "沁水李四"))
        .await?
        .ok()?;
    let yangcheng = app.login(&yc.username, &yc.password).await?;
    assert_eq!(yangcheng.inbox("").await?.ok()?, json!([]));
    assert_eq!(
        qinshui.inbox("").await?.ok()?.as_array().map(Vec::len),
        Some(1)
    );
    // Seeding again creates nothing.
    assert!(app.app.seed_demo_accounts().await?.is_empty());
    Ok(())
});

db_test!(the_migration_backfills_counties, |db| {
    use lianban::store::{CaseQuery, TaskQuery};
    use lianban_migrations::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, Database};

    // A database from before counties, with one case and its task.
    let conn = Database::connect(db.url.as_str()).await?;
    Migrator::up(&conn, Some(7)).await?;
    let case = uuid::Uuid::now_v7();
    let task = uuid::Uuid::now_v7();
    let at = "'2026-11-02T09:00:00+00:00'";
    for sql in [
        format!(
            "INSERT INTO definition_versions (process_id, version, content_hash, name, sources, loaded_at) \
             VALUES ('yangcheng.retirement', 1, 'h', '阳城', '[]', {at})"
        ),
        format!(
            "INSERT INTO cases (id, process_id, version, content_hash, status, current_steps, state, revision, started_at, updated_at) \
             VALUES ('{case}', 'yangcheng.retirement', 1, 'h', 'active', 'accept', '{{}}', 1, {at}, {at})"
        ),
        format!(
            "INSERT INTO tasks (id, case_id, step, step_name, role, department, status, created_at) \
             VALUES ('{task}', '{case}', 'accept', '受理', 'shebao_clerk', 'shebao', 'open', {at})"
        ),
    ] {
        conn.execute_unprepared(&sql).await?;
    }
    conn.close().await?;

    let store = db.store().await?;
    let scoped = |county: &str| TaskQuery {
        county: Some(county.to_owned()),
        departments: vec!["shebao".into()],
        ..TaskQuery::default()
    };
    let tasks = store.reads().inbox(&scoped("yangcheng")).await?;
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        (tasks[0].id.0, tasks[0].county.as_str()),
        (task, "yangcheng")
    );
    assert!(store.reads().inbox(&scoped("qinshui")).await?.is_empty());
    let cases = store
        .reads()
        .cases(&CaseQuery {
            county: Some("yangcheng".into()),
            ..CaseQuery::default()
        })
        .await?;
    assert_eq!(cases.len(), 1);
    assert_eq!(
        store.cases().scope(cases[0].id).await?.map(|s| s.county),
        Some("yangcheng".into())
    );
    Ok(())
});

/// The process ids of a `GET /api/v1/processes` answer, and whether any row names a file.
fn listed(reply: &lianban_tests::web::Reply) -> (Vec<String>, bool) {
    let rows = reply.json["processes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ids = rows
        .iter()
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect();
    (ids, rows.iter().any(|p| p.get("file").is_some()))
}

db_test!(definitions_are_read_signed_in_and_per_county, |db| {
    let app = TestApp::start_with(&db, "processes", |s| {
        s.admin_token = Some("admin-token-for-the-test".into());
    })
    .await?;
    // Anonymous: nothing, not even the list.
    assert_eq!(app.get("/api/v1/processes").await?.status, 401);
    assert_eq!(
        app.get("/api/v1/processes/qinshui.retirement")
            .await?
            .status,
        401
    );

    let password = app
        .add_user_in("yc_boss", "shebao", Some("yangcheng"), Role::Supervisor)
        .await?;
    let boss = app.login("yc_boss", &password).await?;
    let own = boss.get("/api/v1/processes/yangcheng.retirement").await?;
    assert_eq!(own.status, 200, "{}", own.text);
    // Another county's definition answers as one that is not loaded.
    let foreign = boss.get("/api/v1/processes/qinshui.retirement").await?;
    let missing = boss.get("/api/v1/processes/qinshui.nothing").await?;
    assert_eq!((foreign.status, foreign.problem()), (404, "not-found"));
    assert_eq!(foreign.status, missing.status);
    assert!(!foreign.text.contains("parameters"), "{}", foreign.text);

    let (ids, files) = listed(&boss.get("/api/v1/processes").await?);
    assert!(
        !ids.is_empty() && ids.iter().all(|id| id.starts_with("yangcheng.")),
        "{ids:?}"
    );
    assert!(!files, "no file paths for a supervisor");

    let clerk = county_clerk(&app, "yc_list", Some("yangcheng")).await?;
    let (clerk_ids, files) = listed(&clerk.get("/api/v1/processes").await?);
    assert_eq!(clerk_ids, ids);
    assert!(!files);

    let key = accounts::new_api_key();
    app.app
        .engine()
        .store()
        .accounts()
        .create_api_key(
            &NewApiKey {
                name: "qinshui.yibao-system".into(),
                key_hash: accounts::api_key_hash(&key),
                department: "yibao".into(),
                county: Some("qinshui".into()),
                intake: false,
            },
            chrono::Utc::now(),
        )
        .await?;
    let client = reqwest::Client::new();
    let by_key = client
        .get(format!("{}/api/v1/processes", app.base))
        .bearer_auth(&key)
        .send()
        .await?;
    assert_eq!(by_key.status(), 200);
    let body: Value = by_key.json().await?;
    let rows = body["processes"].as_array().cloned().unwrap_or_default();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|p| {
        p["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("qinshui."))
            && p.get("file").is_none()
    }));

    // An admin of every county, and the operator's token, see every county and the files.
    let admin = app.clerk("root_admin", "shebao", Role::Admin).await?;
    let (all, files) = listed(&admin.get("/api/v1/processes").await?);
    assert!(all.len() > ids.len() && files, "{all:?}");
    let by_token = client
        .get(format!("{}/api/v1/processes", app.base))
        .bearer_auth("admin-token-for-the-test")
        .send()
        .await?;
    let body: Value = by_token.json().await?;
    assert_eq!(body["processes"].as_array().map(Vec::len), Some(all.len()));
    assert!(body["processes"][0]["file"].is_string());
    Ok(())
});

/// `%XX` escapes of a `filename*=UTF-8''…` value decoded.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// Issue 14: yangcheng's 医保 push table was listed as "推送至 沁水县医疗保障局", and its CSV and
// XLSX file names said 沁水: the department's name was looked up by its key alone. Both
// counties declare `yibao`; each table must carry its own county's name.
db_test!(push_tables_name_the_department_of_their_own_county, |db| {
    use lianban::scheduler::{ManualClock, run_due};
    use lianban_tests::retirement::{application, complete_step, reviewer, window};

    // Monday 30 November 2026, 09:30 Beijing time.
    let morning = chrono::DateTime::parse_from_rfc3339("2026-11-30T09:30:00+08:00")?;
    let clock = std::sync::Arc::new(ManualClock::new(morning.to_utc()));
    let app = TestApp::start_with_clock(&db, "processes", clock.clone(), |_| {}).await?;
    let engine = app.app.engine();
    for (process, name, id) in [
        ("yangcheng.retirement", "阳城张三", "140522196412150317"),
        ("qinshui.retirement", "沁水李四", "140522196203041018"),
    ] {
        let case = engine
            .start_case(
                process,
                application(name, id, true, false),
                Vec::new(),
                &window(),
            )
            .await?;
        complete_step(engine, case, "accept", "accept", json!({}), &window()).await?;
        let confirmation = json!({"retirement_date": "2025-02", "pension_monthly": 3000});
        complete_step(
            engine,
            case,
            "confirm",
            "confirm",
            confirmation,
            &reviewer(),
        )
        .await?;
    }
    // Each county's schedule fires at its time (沁水 16:30, 阳城 17:00).
    let mut fired = Vec::new();
    for at in ["2026-11-30T16:30:00+08:00", "2026-11-30T17:00:00+08:00"] {
        let at = chrono::DateTime::parse_from_rfc3339(at)?.to_utc();
        clock.set(at);
        fired.extend(run_due(engine, at).await?);
    }
    let tables: usize = fired
        .iter()
        .filter_map(|f| f.result.as_ref()?["tables"].as_array().map(Vec::len))
        .sum();
    assert_eq!(tables, 2, "{fired:?}");

    // A 医保 clerk of every county sees both counties' tables.
    let password = app
        .add_user_in("yibao_all", "yibao", None, Role::Clerk)
        .await?;
    let yibao = app.login("yibao_all", &password).await?;
    let page = Browser::of(&app, &yibao)?;
    let list = page.get("/push-tables").await?;
    assert_eq!(list.status, 200);
    let rows: Vec<&str> = list.text.split("<tr>").skip(2).collect();
    assert_eq!(rows.len(), 2, "{}", list.text);
    // 阳城's tables are numbered (阳社推…); 沁水's definition numbers none.
    for (yangcheng, own, other) in [
        (true, "阳城县医保局", "沁水县医疗保障局"),
        (false, "沁水县医疗保障局", "阳城县医保局"),
    ] {
        let row = rows
            .iter()
            .find(|r| r.contains("阳社推") == yangcheng)
            .ok_or_else(|| anyhow::anyhow!("no such row in {}", list.text))?;
        assert!(row.contains(own) && !row.contains(other), "{row}");
    }

    // The files are named after the table's own county's department.
    let tables = yibao.push_tables().await?.ok()?;
    assert_eq!(tables.as_array().map(Vec::len), Some(2), "{tables}");
    for table in tables.as_array().into_iter().flatten() {
        let (own, other) = if table["process"] == "yangcheng.retirement" {
            ("阳城县医保局", "沁水县医疗保障局")
        } else {
            ("沁水县医疗保障局", "阳城县医保局")
        };
        for ext in ["csv", "xlsx"] {
            let file = page
                .get(&format!("/push-tables/{}.{ext}", id(table)))
                .await?;
            assert_eq!(file.status, 200);
            let disposition = file
                .headers
                .get("content-disposition")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let name = percent_decoded(disposition.split("UTF-8''").nth(1).unwrap_or_default());
            assert!(
                name.contains(&format!("-{own}-2026-11-30.{ext}")) && !name.contains(other),
                "{disposition} → {name}"
            );
        }
    }
    Ok(())
});
