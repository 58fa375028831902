//! The evidence commands of the real binary on real SQLite files: `backup` while cases are
//! being written, `restore` (integrity check, refusal to overwrite), `audit verify` (exit
//! status and what it names) and `export` of closed cases with a manifest of hashes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use lianban::app::{App, Settings};
use lianban::runtime::{Actor, CaseId, TaskStatus};
use lianban::store::{CaseQuery, Store, TaskQuery};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn lianban(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lianban"))
        .args(args)
        .output()
        .expect("run lianban")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

fn clerk() -> Actor {
    Actor {
        user: "王芳".into(),
        department: Some("shebao".into()),
        on_behalf_of: None,
    }
}

async fn app(db: &str) -> anyhow::Result<Arc<App>> {
    let fixture = repo().join("tests/fixtures/documents");
    let mut settings = Settings::new(db);
    settings.processes_dir = fixture.clone();
    settings.templates_dir = fixture.join("templates");
    App::build(settings).await
}

async fn start(app: &App) -> anyhow::Result<CaseId> {
    let mut form = Map::new();
    form.insert("name".into(), json!("张三"));
    form.insert("post".into(), json!("管理"));
    Ok(app
        .engine()
        .start_case("fixtures.documents", form, vec!["id_card".into()], &clerk())
        .await?)
}

/// Starts a case, asks for a supplement (issuing a notice) and cancels it.
async fn closed(app: &App) -> anyhow::Result<CaseId> {
    let engine = app.engine();
    let case = start(app).await?;
    let query = TaskQuery {
        case: Some(case),
        statuses: vec![TaskStatus::Open],
        ..TaskQuery::default()
    };
    let task = engine
        .list_tasks(&query)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no open task"))?;
    engine.claim(task.id, &clerk()).await?;
    engine
        .complete(task.id, &clerk(), "supplement", Map::new(), None)
        .await?;
    engine.cancel(case, "申请人撤回", &clerk()).await?;
    Ok(case)
}

async fn count(db: &str) -> anyhow::Result<usize> {
    let store = Store::connect(db).await?;
    Ok(store.reads().cases(&CaseQuery::default()).await?.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_writing_then_restore_and_verify() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let live = url(&dir.path().join("live.db"));
    let app = app(&live).await?;
    for _ in 0..3 {
        closed(&app).await?;
    }
    // Writers keep going while the backup runs.
    let writer = {
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            for _ in 0..20 {
                start(&app).await?;
            }
            anyhow::Ok(())
        })
    };
    let file = dir.path().join("backup.db");
    let file_arg = file.to_str().unwrap_or_default().to_owned();
    let live_arg = live.clone();
    let out = tokio::task::spawn_blocking(move || {
        lianban(&["backup", "--db", &live_arg, "--to", &file_arg])
    })
    .await?;
    assert!(out.status.success(), "{}", text(&out));
    writer.await??;
    assert_eq!(count(&live).await?, 23);

    // A backup never overwrites a file.
    let again = lianban(&[
        "backup",
        "--db",
        &live,
        "--to",
        file.to_str().unwrap_or_default(),
    ]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(text(&again).contains("已存在"), "{}", text(&again));

    // Restore into a new file: a consistent copy whose chains verify.
    let restored = url(&dir.path().join("restored.db"));
    let out = lianban(&[
        "restore",
        "--from",
        file.to_str().unwrap_or_default(),
        "--db",
        &restored,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let cases = count(&restored).await?;
    assert!((3..=23).contains(&cases), "{cases} cases restored");
    let verify = lianban(&["audit", "verify", "--db", &restored]);
    assert!(verify.status.success(), "{}", text(&verify));
    assert!(
        text(&verify).contains(&format!("已校验 {cases} 个办件")),
        "{}",
        text(&verify)
    );

    // A non-empty target needs --force.
    let refused = lianban(&[
        "restore",
        "--from",
        file.to_str().unwrap_or_default(),
        "--db",
        &live,
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused).contains("--force"), "{}", text(&refused));
    assert_eq!(count(&live).await?, 23);
    let forced = dir.path().join("forced.db");
    std::fs::write(&forced, b"old contents")?;
    let out = lianban(&[
        "restore",
        "--from",
        file.to_str().unwrap_or_default(),
        "--db",
        &url(&forced),
        "--force",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(count(&url(&forced)).await?, cases);

    // A damaged backup is refused before the target is touched.
    let damaged = dir.path().join("damaged.db");
    let mut bytes = std::fs::read(&file)?;
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 4096] {
        *b = 0x5a;
    }
    std::fs::write(&damaged, &bytes)?;
    let target = dir.path().join("target.db");
    let out = lianban(&[
        "restore",
        "--from",
        damaged.to_str().unwrap_or_default(),
        "--db",
        &url(&target),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("未通过完整性检查"), "{}", text(&out));
    assert!(!target.exists() || std::fs::metadata(&target)?.len() == 0);
    // So is a file that is no database at all.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "这不是数据库".repeat(100))?;
    let out = lianban(&[
        "restore",
        "--from",
        junk.to_str().unwrap_or_default(),
        "--db",
        &url(&target),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("未通过完整性检查"), "{}", text(&out));
    // PostgreSQL is not backed up this way (and is not touched).
    let pg = lianban(&[
        "backup",
        "--db",
        "postgres://nobody@127.0.0.1:1/none",
        "--to",
        "x.db",
    ]);
    assert_eq!(pg.status.code(), Some(1));
    assert!(text(&pg).contains("pg_dump"), "{}", text(&pg));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_exits_1_naming_the_changed_entry() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = url(&dir.path().join("a.db"));
    let app = app(&db).await?;
    let tampered = closed(&app).await?;
    let intact = closed(&app).await?;
    let ok = lianban(&["audit", "verify", "--db", &db]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        text(&ok).contains("已校验 2 个办件、8 条记录"),
        "{}",
        text(&ok)
    );

    let raw = sea_orm::Database::connect(db.as_str()).await?;
    use sea_orm::ConnectionTrait as _;
    raw.execute_unprepared("DROP TRIGGER history_no_update")
        .await?;
    raw.execute_unprepared(&format!(
        "UPDATE history SET actor = '李四' WHERE case_id = '{tampered}' AND seq = 2"
    ))
    .await?;
    raw.close().await?;
    let bad = lianban(&["audit", "verify", "--db", &db]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    assert!(
        text(&bad).contains(&format!("办件 {tampered}：第 2 条记录已被修改")),
        "{}",
        text(&bad)
    );
    let one = lianban(&[
        "audit",
        "verify",
        "--db",
        &db,
        "--case",
        &intact.to_string(),
    ]);
    assert!(one.status.success(), "{}", text(&one));
    let unknown = lianban(&["audit", "verify", "--db", &db, "--case", "not-a-case"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown).contains("格式不对"), "{}", text(&unknown));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_closed_cases_with_a_manifest_of_hashes() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = url(&dir.path().join("e.db"));
    let app = app(&db).await?;
    let done = closed(&app).await?;
    let open = start(&app).await?;

    let refused_dir = dir.path().join("refused");
    let out = lianban(&[
        "export",
        "--db",
        &db,
        "--case",
        &open.to_string(),
        "--to",
        refused_dir.to_str().unwrap_or_default(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("尚未办结"), "{}", text(&out));
    assert!(!refused_dir.join("manifest.json").exists());

    let archive = dir.path().join("archive");
    let out = lianban(&[
        "export",
        "--db",
        &db,
        "--closed-before",
        "2100-01-01",
        "--to",
        archive.to_str().unwrap_or_default(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(archive.join("manifest.json"))?)?;
    assert_eq!(manifest["cases"], json!([done.to_string()]));
    let files = manifest["files"].as_object().cloned().unwrap_or_default();
    assert_eq!(files.len(), 2, "{manifest}");
    for (name, hash) in &files {
        let bytes = std::fs::read(archive.join(name))?;
        assert_eq!(
            hash.as_str(),
            Some(hex::encode(Sha256::digest(&bytes)).as_str()),
            "{name}"
        );
    }
    let record: Value = serde_json::from_str(&std::fs::read_to_string(
        archive.join(done.to_string()).join("case.json"),
    )?)?;
    assert_eq!(record["case"]["status"], json!("cancelled"));
    let history = record["history"].as_array().cloned().unwrap_or_default();
    assert_eq!(history.len(), 4);
    assert_eq!(record["history_head"]["hash"], history[3]["hash"]);
    let html = files
        .keys()
        .find(|k| k.ends_with(".html"))
        .cloned()
        .unwrap_or_default();
    assert!(
        html.starts_with(&format!("{done}/documents/supplement_notice-")),
        "{html}"
    );
    let stored = std::fs::read_to_string(archive.join(&html))?;
    assert_eq!(
        record["documents"][0]["content_hash"],
        json!(hex::encode(Sha256::digest(stored.as_bytes())))
    );

    // The same directory again is refused rather than mixed.
    let again = lianban(&[
        "export",
        "--db",
        &db,
        "--case",
        &done.to_string(),
        "--to",
        archive.to_str().unwrap_or_default(),
    ]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    Ok(())
}

/// Runs `lianban args…` under a pseudo-terminal (util-linux `script`), as an operator at a
/// console would, and returns everything the terminal showed.
pub(crate) fn on_a_terminal(args: &[&str]) -> Output {
    let quoted: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_lianban"))
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    Command::new("script")
        .args(["-q", "-e", "-c", &quoted.join(" "), "/dev/null"])
        .env("TERM", "xterm-256color")
        .output()
        .expect("run script (util-linux)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_commands_show_progress_on_a_terminal_and_none_on_a_pipe() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = url(&dir.path().join("p.db"));
    let app = app(&db).await?;
    for _ in 0..3 {
        closed(&app).await?;
    }
    drop(app);
    let export = |to: &Path| -> Vec<String> {
        [
            "export",
            "--db",
            &db,
            "--closed-before",
            "2100-01-01",
            "--to",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .chain([to.display().to_string()])
        .collect()
    };
    let args = export(&dir.path().join("tty"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let tty = on_a_terminal(&args);
    let shown = text(&tty);
    assert!(tty.status.success(), "{shown}");
    assert!(
        shown.contains("写入档案") && shown.contains("/3 个"),
        "no bar on a terminal: {shown}"
    );

    // The same export into a pipe prints its own lines only: no bar, no escape codes.
    let args = export(&dir.path().join("pipe"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let piped = lianban(&args);
    let printed = text(&piped);
    assert!(piped.status.success(), "{printed}");
    assert!(
        !printed.contains("写入档案") && !printed.contains('\u{1b}'),
        "a bar on a pipe: {printed:?}"
    );
    Ok(())
}
