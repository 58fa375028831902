//! `lianban cases migrate` and `lianban check --db` as an operator runs them: the check
//! names the version in force and the open cases each stored version still has, a dry run
//! prints the plan and changes nothing, a refused case is named with why (exit 1), a real
//! run moves every case once and a second run moves nothing.

use std::path::Path;
use std::process::{Command, Output};

use lianban::app::{App, Settings, Workers};
use lianban::runtime::{Actor, TaskStatus};
use serde_json::Map;

const V1: &str = r#"id: test.migrate
version: 1
name: 迁移测试
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
      ok: {label: 受理, to: review}
  - id: review
    name: 复核
    type: task
    role: clerk
    outcomes:
      ok: {label: 复核通过, to: done}
  - {id: done, name: 办结, type: end, result: 办结}
"#;

fn v2() -> String {
    V1.replace("version: 1", "version: 2")
        .replace("to: review}", "to: check}")
        .replace(
            "  - id: review\n    name: 复核",
            "  - id: check\n    name: 审核",
        )
}

fn lianban(dir: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lianban"))
        .args(args)
        .args(["--db", url])
        .arg("--templates")
        .arg(dir.join("templates"))
        .output()
        .expect("run lianban")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Two cases on version 1: one at 受理, one (受理 done) at 复核.
fn start_two_cases(dir: &Path, url: &str) {
    let mut settings = Settings::new(url.to_owned());
    settings.processes_dir = dir.join("processes");
    settings.templates_dir = dir.join("templates");
    settings.workers = Workers::Off;
    let clerk = Actor {
        user: "li".into(),
        department: Some("shebao".into()),
        on_behalf_of: None,
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let app = App::build(settings).await.expect("app");
            let engine = app.engine();
            for _ in 0..2 {
                engine
                    .start_case("test.migrate", Map::new(), vec![], &clerk)
                    .await
                    .expect("a case starts");
            }
            let record = engine
                .store()
                .cases()
                .open_on("test.migrate", 1)
                .await
                .expect("open cases");
            let case = engine
                .get_case(record[1])
                .await
                .expect("read")
                .expect("case");
            let task = case
                .state
                .tasks
                .iter()
                .find(|t| t.status == TaskStatus::Open)
                .expect("受理");
            engine
                .complete(task.id, &clerk, "ok", Map::new(), None)
                .await
                .expect("受理 done");
        });
}

#[test]
fn cases_migrate_plans_refuses_moves_once_and_check_counts_open_cases() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("processes")).expect("processes");
    std::fs::create_dir_all(root.join("templates")).expect("templates");
    std::fs::write(root.join("processes/migrate.yaml"), V1).expect("v1");
    let url = format!("sqlite://{}?mode=rwc", root.join("lianban.db").display());
    start_two_cases(root, &url);
    std::fs::write(root.join("processes/migrate.yaml"), v2()).expect("v2");
    let processes = root.join("processes");
    let processes = processes.to_str().expect("utf-8 path");

    let check = lianban(root, &url, &["check", processes]);
    let out = text(&check.stdout);
    assert!(check.status.success(), "{out}{}", text(&check.stderr));
    assert!(
        out.contains("test.migrate：现行第 2 版；第 1 版 办理中 2 件（共 2 件）"),
        "{out}"
    );
    assert!(
        out.contains(
            "lianban cases migrate --process test.migrate --from-version 1 --to-version 2 --dry-run"
        ),
        "{out}"
    );

    let migrate = |extra: &[&str]| {
        let mut args = vec![
            "cases",
            "migrate",
            "--processes",
            processes,
            "--process",
            "test.migrate",
            "--from-version",
            "1",
            "--to-version",
            "2",
            "--operator",
            "ops",
        ];
        args.extend_from_slice(extra);
        lianban(root, &url, &args)
    };

    // Without a mapping the case at 复核 has nowhere to go: named, exit 1, nothing moved.
    let refused = migrate(&["--dry-run"]);
    let out = text(&refused.stdout);
    assert_eq!(refused.status.code(), Some(1), "{out}");
    assert!(out.contains("不能迁移（step-removed）"), "{out}");
    assert!(out.contains("--map review="), "{out}");
    assert!(text(&refused.stderr).contains("有 1 件办件不能迁移"));

    let planned = migrate(&["--map", "review=check", "--dry-run"]);
    let out = text(&planned.stdout);
    assert!(planned.status.success(), "{out}{}", text(&planned.stderr));
    assert!(out.contains("第 1 版 → 第 2 版；review → check"), "{out}");
    assert!(out.contains("可迁移 2 件，不能迁移 0 件"), "{out}");
    assert!(out.contains("（试运行，未作任何修改）"), "{out}");
    assert!(
        !text(&planned.stderr).contains("迁移办件"),
        "no progress bar on a pipe"
    );
    let check = lianban(root, &url, &["check", processes]);
    assert!(
        text(&check.stdout).contains("第 1 版 办理中 2 件（共 2 件）"),
        "a dry run moved nothing: {}",
        text(&check.stdout)
    );

    // On a terminal, a progress bar counts the cases.
    let templates = root.join("templates");
    let tty = crate::backup::on_a_terminal(&[
        "cases",
        "migrate",
        "--db",
        &url,
        "--templates",
        templates.to_str().expect("utf-8 path"),
        "--processes",
        processes,
        "--process",
        "test.migrate",
        "--from-version",
        "1",
        "--to-version",
        "2",
        "--map",
        "review=check",
        "--dry-run",
    ]);
    let shown = format!("{}{}", text(&tty.stdout), text(&tty.stderr));
    assert!(tty.status.success(), "{shown}");
    assert!(
        shown.contains("迁移办件") && shown.contains("/2 件"),
        "no bar on a terminal: {shown}"
    );

    let moved = migrate(&["--map", "review=check"]);
    let out = text(&moved.stdout);
    assert!(moved.status.success(), "{out}{}", text(&moved.stderr));
    assert!(out.contains("已迁移 2 件，不能迁移 0 件"), "{out}");

    // The move is in each case's hash-chained history like any other change.
    let audit = Command::new(env!("CARGO_BIN_EXE_lianban"))
        .args(["audit", "verify", "--db", &url])
        .output()
        .expect("run lianban audit verify");
    assert!(
        audit.status.success(),
        "{}{}",
        text(&audit.stdout),
        text(&audit.stderr)
    );

    let again = migrate(&["--map", "review=check"]);
    let out = text(&again.stdout);
    assert!(again.status.success(), "{out}");
    assert!(out.contains("已迁移 0 件"), "twice = once: {out}");

    let check = lianban(root, &url, &["check", processes]);
    let out = text(&check.stdout);
    assert!(
        out.contains("test.migrate：现行第 2 版；第 1 版 办理中 0 件（共 0 件），第 2 版 办理中 2 件（共 2 件）"),
        "{out}"
    );
    assert!(!out.contains("可迁移到现行版本"), "{out}");

    let bad = migrate(&["--map", "review"]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "clap refuses a mapping without ="
    );
    assert!(text(&bad.stderr).contains("旧步骤=新步骤"));
}
