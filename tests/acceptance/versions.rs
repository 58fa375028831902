//! Definition versions end to end through `App`: an (id, version) is immutable once a case
//! started on it, a new version takes effect for new cases, and running cases finish on the
//! version they started with — even after its file is gone from disk.

use std::path::Path;

use anyhow::Context as _;
use lianban::app::{App, ReloadError, Settings};
use lianban::runtime::{Actor, CaseStatus, TaskStatus};
use lianban::store::{StoreError, TaskQuery};
use lianban_tests::{TestDb, db_test};
use serde_json::Map;

const V1: &str = r#"id: test.versions
version: 1
name: 版本测试
departments:
  shebao: {name: 社保中心}
roles:
  clerk: {name: 经办人, department: shebao}
steps:
  - id: accept
    name: 受理
    type: task
    role: clerk
    outcomes:
      ok: {label: 受理, to: done}
  - {id: done, name: 办结, type: end, result: 办结}
"#;

fn v2() -> String {
    V1.replace("version: 1", "version: 2").replace("to: done}", "to: review}").replace(
        "  - {id: done,",
        "  - id: review\n    name: 复核\n    type: task\n    role: clerk\n    outcomes:\n      ok: {label: 复核通过, to: done}\n  - {id: done,",
    )
}

fn settings(db: &TestDb, dir: &Path) -> Settings {
    let mut s = Settings::new(db.url.clone());
    s.processes_dir = dir.join("processes");
    s.templates_dir = dir.join("templates");
    s
}

fn clerk() -> Actor {
    Actor {
        user: "clerk1".into(),
        department: Some("shebao".into()),
        on_behalf_of: None,
    }
}

db_test!(versions_are_immutable_once_cases_run, |db| {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("processes"))?;
    std::fs::create_dir_all(dir.path().join("templates"))?;
    let file = dir.path().join("processes/versions.yaml");
    std::fs::write(&file, V1)?;
    let app = App::build(settings(&db, dir.path())).await?;
    let engine = app.engine();
    let old_case = engine
        .start_case("test.versions", Map::new(), vec![], &clerk())
        .await?;

    // Same version, other content: refused, the running definition stays.
    std::fs::write(&file, V1.replace("name: 版本测试", "name: 版本测试（改）"))?;
    let err = app
        .reload()
        .await
        .expect_err("changed content under the same version");
    assert!(
        matches!(err, ReloadError::Store(StoreError::VersionChanged { .. })),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("version 改为 2"),
        "the message says to raise the version: {err}"
    );
    assert_eq!(
        engine
            .catalog()
            .latest("test.versions")
            .context("v1")?
            .version,
        1
    );

    // Starting the service on that database with the changed file is refused too.
    let again = App::build(settings(&db, dir.path())).await;
    assert!(again.is_err(), "build must refuse a changed version");

    // A new version: new cases use it, the running case stays on v1 even with v1's file gone.
    std::fs::write(&file, v2())?;
    app.reload().await?;
    let new_case = engine
        .start_case("test.versions", Map::new(), vec![], &clerk())
        .await?;
    let new_record = engine.get_case(new_case).await?.context("new case")?;
    assert_eq!(new_record.state.version, 2);

    let query = TaskQuery {
        statuses: vec![TaskStatus::Open],
        ..TaskQuery::default()
    };
    let task = engine
        .list_tasks(&query)
        .await?
        .into_iter()
        .find(|t| t.case_id == old_case)
        .context("old case task")?;
    engine
        .complete(task.id, &clerk(), "ok", Map::new(), None)
        .await?;
    let old = engine.get_case(old_case).await?.context("old case")?;
    assert_eq!(old.state.version, 1);
    assert!(
        matches!(old.state.status, CaseStatus::Completed { .. }),
        "v1 has no review step: {:?}",
        old.state.status
    );
    Ok(())
});

db_test!(broken_reload_keeps_old_definitions, |db| {
    let dir = tempfile::tempdir()?;
    std::fs::create_dir_all(dir.path().join("processes"))?;
    std::fs::create_dir_all(dir.path().join("templates"))?;
    let file = dir.path().join("processes/versions.yaml");
    std::fs::write(&file, V1)?;
    let app = App::build(settings(&db, dir.path())).await?;
    std::fs::write(&file, v2().replace("to: review}", "to: reveiw}"))?;
    let err = app.reload().await.expect_err("broken definition");
    let ReloadError::Definitions(load) = err else {
        anyhow::bail!("expected diagnostics")
    };
    assert!(
        load.diagnostics.iter().any(|d| d.code == "E-UNKNOWN-STEP"),
        "{load}"
    );
    assert_eq!(
        app.engine()
            .catalog()
            .latest("test.versions")
            .context("v1")?
            .version,
        1
    );
    app.engine()
        .start_case("test.versions", Map::new(), vec![], &clerk())
        .await?;
    Ok(())
});

// Issue 18: a case page names the version the case runs on and whether a newer one exists.
db_test!(a_case_page_says_when_a_newer_version_is_in_force, |db| {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("versions.yaml");
    std::fs::write(&file, V1)?;
    let processes = dir.path().to_path_buf();
    let app = lianban_tests::web::TestApp::start_with(&db, "processes", move |s| {
        s.processes_dir = processes;
    })
    .await?;
    let clerk = app
        .clerk("shebao_li", "shebao", lianban::accounts::Role::Clerk)
        .await?;
    let started = clerk
        .start(&serde_json::json!({"process": "test.versions", "form": {}}))
        .await?
        .ok()?;
    let case = started["id"].as_str().unwrap_or_default().to_owned();
    let page = clerk.get(&format!("/cases/{case}")).await?;
    assert!(page.text.contains("（第 1 版）"), "{}", page.text);

    std::fs::write(&file, v2())?;
    app.app.reload().await?;
    let page = clerk.get(&format!("/cases/{case}")).await?;
    assert!(
        page.text
            .contains("第 1 版；现行为第 2 版，本办件仍按受理时的第 1 版办理"),
        "{}",
        page.text
    );
    Ok(())
});
