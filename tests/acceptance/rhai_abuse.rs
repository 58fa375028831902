//! Rules that try to take the server down or out of its sandbox: endless loops, endless
//! recursion, strings, arrays and maps that grow without end, and calls to what is not
//! exposed (`eval`, files, modules). Each is stopped by an engine limit with a clear Chinese
//! error, and the command that ran it changes nothing: no case is started, the task stays
//! open, the history has no entry for it. Runs on a real SQLite file and on PostgreSQL.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use lianban::definition::{self, Catalog, Process};
use lianban::documents::Templates;
use lianban::rules::{Facts, RuleLibrary};
use lianban::runtime::{Actor, TaskStatus};
use lianban::scheduler::SystemClock;
use lianban::service::{Engine, EngineError};
use lianban::store::{CaseQuery, TaskQuery};
use lianban_tests::{TestDb, db_test};
use serde_json::{Map, Value, json};

const RULES: &str = r#"
// 死循环
fn spin() { let n = 0; loop { n += 1; } }
// 无限递归
fn deep(n) { deep(n + 1) + 1 }
// 越来越长的字符串
fn huge_string() { let s = "长"; loop { s += s; } }
// 越来越大的数组
fn huge_array() { let a = []; loop { a.push(a.len()); } }
// 越来越大的对象
fn huge_map() { let m = #{}; let i = 0; loop { m["k" + i] = i; i += 1; } }
// 经 Fn 指针间接调用，绕过对函数名的检查
fn indirect() { let f = Fn("spin"); f.call() }
fn abuse(mode) {
    if mode == "spin" { spin() }
    else if mode == "deep" { deep(0) > 0 }
    else if mode == "string" { huge_string() }
    else if mode == "array" { huge_array() }
    else if mode == "map" { huge_map() }
    else if mode == "indirect" { indirect() }
    else { false }
}
"#;

const DEFINITION: &str = r#"
id: abuse.rules
version: 1
name: 规则滥用
departments:
  shebao: {name: 社保中心}
roles:
  clerk: {name: 经办人, department: shebao}
rules: [rules/abuse.rhai]
form:
  - {key: name, label: 姓名, type: text, required: true}
  - {key: mode, label: 方式, type: text, required: true}
steps:
  - id: route
    name: 分流
    type: choice
    branches:
      - {to: done, when: 'abuse(form.mode)', label: 不会走到}
    otherwise: accept
  - id: accept
    name: 受理
    type: task
    role: clerk
    outcomes:
      spin: {label: 死循环, to: done, set: {x: 'spin()'}}
      deep: {label: 递归, to: done, set: {x: 'deep(0)'}}
      string: {label: 长字符串, to: done, set: {x: 'huge_string()'}}
      array: {label: 大数组, to: done, set: {x: 'huge_array()'}}
      map: {label: 大对象, to: done, set: {x: 'huge_map()'}}
      fine: {label: 办结, to: done, set: {x: '1'}}
  - {id: done, name: 办结, type: end, result: 办结}
"#;

/// Writes a definition and its rules file into `dir` and loads it.
fn load(dir: &Path, definition: &str, rules: &str) -> Result<Process, definition::LoadError> {
    let write = |path: &Path, text: &str| {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("a temporary directory");
        }
        std::fs::write(path, text).expect("a temporary file");
    };
    write(&dir.join("rules/abuse.rhai"), rules);
    let file = dir.join("abuse.yaml");
    write(&file, definition);
    definition::load_file(&file, &Templates::empty())
}

async fn engine(db: &TestDb, process: Process) -> anyhow::Result<Engine> {
    let store = db.store().await?;
    store.definitions().register(&process).await?;
    Ok(Engine::new(
        store,
        Catalog::new(vec![process]),
        Arc::new(Templates::empty()),
        Arc::new(SystemClock),
    ))
}

fn clerk() -> Actor {
    Actor {
        user: "window".into(),
        department: Some("shebao".into()),
        on_behalf_of: None,
    }
}

fn form(mode: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!("张三"));
    m.insert("mode".into(), json!(mode));
    m
}

/// The rule error's text, or a failure naming what came instead.
fn rule_error(result: Result<impl std::fmt::Debug, EngineError>) -> anyhow::Result<String> {
    match result {
        Err(EngineError::Runtime(e)) => Ok(e.to_string()),
        other => anyhow::bail!("expected a rule error, got {other:?}"),
    }
}

db_test!(
    abusive_rules_at_the_start_are_stopped_and_no_case_is_stored,
    |db| {
        let dir = tempfile::tempdir()?;
        let process = load(dir.path(), DEFINITION, RULES).map_err(|e| anyhow::anyhow!("{e}"))?;
        let engine = engine(&db, process).await?;
        for (mode, words) in [
            ("spin", "运算次数超过上限"),
            ("deep", "函数调用层数超过上限"),
            ("string", "数据超过大小上限"),
            ("array", "数据超过大小上限"),
            ("map", "超过上限"),
            ("indirect", "运算次数超过上限"),
        ] {
            let error = rule_error(
                engine
                    .start_case("abuse.rules", form(mode), vec![], &clerk())
                    .await,
            )?;
            assert!(error.contains(words), "{mode}: {error}");
        }
        let cases = engine.store().reads().cases(&CaseQuery::default()).await?;
        assert!(cases.is_empty(), "cases were stored: {cases:?}");
        // The same definition still works for harmless input.
        engine
            .start_case("abuse.rules", form("none"), vec![], &clerk())
            .await?;
        assert_eq!(
            engine
                .store()
                .reads()
                .cases(&CaseQuery::default())
                .await?
                .len(),
            1
        );
        Ok(())
    }
);

db_test!(
    abusive_rules_on_completion_leave_the_task_and_case_untouched,
    |db| {
        let dir = tempfile::tempdir()?;
        let process = load(dir.path(), DEFINITION, RULES).map_err(|e| anyhow::anyhow!("{e}"))?;
        let engine = engine(&db, process).await?;
        let case = engine
            .start_case("abuse.rules", form("none"), vec![], &clerk())
            .await?;
        let task = engine
            .list_tasks(&TaskQuery::default())
            .await?
            .into_iter()
            .find(|t| t.case_id == case)
            .context("the accept task")?;
        engine.claim(task.id, &clerk()).await?;
        let before = engine.get_case(case).await?.context("the case")?;
        let history_before = engine.history(case).await?.len();
        for (outcome, words) in [
            ("spin", "运算次数超过上限"),
            ("deep", "函数调用层数超过上限"),
            ("string", "数据超过大小上限"),
            ("array", "数据超过大小上限"),
            ("map", "超过上限"),
        ] {
            let error = rule_error(
                engine
                    .complete(task.id, &clerk(), outcome, Map::new(), None)
                    .await,
            )?;
            assert!(error.contains(words), "{outcome}: {error}");
            // The error says where the expression that ran the rule is written.
            assert!(error.contains("abuse.yaml:"), "{outcome}: {error}");
        }
        let after = engine.get_case(case).await?.context("the case")?;
        assert_eq!(format!("{before:?}"), format!("{after:?}"));
        assert_eq!(engine.history(case).await?.len(), history_before);
        let open = engine
            .list_tasks(&TaskQuery::default())
            .await?
            .into_iter()
            .find(|t| t.id == task.id)
            .context("the task")?;
        assert_eq!(open.status, TaskStatus::Claimed);
        // A harmless outcome still completes it.
        engine
            .complete(task.id, &clerk(), "fine", Map::new(), None)
            .await?;
        Ok(())
    }
);

#[test]
fn calls_to_what_is_not_exposed_are_refused_when_the_definition_is_checked() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    // In an expression: not a rule function nor a built-in.
    for call in [
        "eval(\"1 + 1\")",
        "open_file(\"/etc/passwd\")",
        "read_string(\"/etc/passwd\")",
        "system(\"ls\")",
    ] {
        let definition = DEFINITION.replace("'spin()'", &format!("'{call}'"));
        let e = load(dir.path(), &definition, RULES).expect_err(call);
        let text = e.to_string();
        assert!(
            e.diagnostics.iter().any(|d| d.code == "E-RHAI"),
            "{call}: {text}"
        );
        let name = call.split('(').next().unwrap_or_default();
        assert!(text.contains(name), "{call}: {text}");
    }
    // In a rules file: `eval` is switched off, so a file using it does not compile.
    let definition = DEFINITION.replace("'spin()'", "'sneaky()'");
    let rules = format!("{RULES}\nfn sneaky() {{ eval(\"1 + 1\") }}\n");
    let e = load(dir.path(), &definition, &rules).expect_err("eval in a rules file");
    assert!(
        e.diagnostics
            .iter()
            .any(|d| d.code == "E-RULES" && d.file.ends_with("abuse.rhai")),
        "{e}"
    );
}

#[test]
fn rule_functions_reaching_for_files_or_modules_find_nothing_there() {
    // Inside a rule function a call is only resolved when it runs; the sandboxed engine has
    // no file, process or module functions, so these fail with a clear error.
    let library = RuleLibrary::compile([(
        "sneaky.rhai",
        concat!(
            "fn read() { open_file(\"/etc/passwd\") }\n",
            "fn importer() { import \"/etc/passwd\" as p; p::x }\n",
            "fn shell() { system(\"ls\") }\n",
            "fn dynamic() { call(Fn(\"open_file\"), \"/etc/passwd\") }\n",
        ),
    )])
    .map_err(|e| format!("{e:?}"))
    .expect("compiles");
    let empty = Map::new();
    let facts = Facts {
        form: &empty,
        data: &empty,
        params: &empty,
        tables: &empty,
        materials: &[],
        today: chrono::NaiveDate::default(),
    };
    for (call, words) in [
        ("read()", "open_file"),
        ("importer()", "不能导入模块"),
        ("shell()", "system"),
        ("dynamic()", "open_file"),
    ] {
        let expr = library.compile_expr(call).expect("compiles");
        let error = expr.eval(&facts).expect_err(call).to_string();
        assert!(error.contains(words), "{call}: {error}");
    }
}
