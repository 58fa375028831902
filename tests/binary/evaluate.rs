//! `lianban evaluate` on the example definition: the real binary for the command's
//! contract (output shape, exit codes, Chinese errors), the library for every example's
//! `expect:` in `processes/examples` (the full example runner is `lianban test`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lianban::definition::{self, Process};
use lianban::documents::Templates;
use serde_json::{Value, json};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `lianban evaluate --process examples.demo --input <file with input>` plus `extra`.
fn evaluate(process: &str, input: &str, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("input.json");
    std::fs::write(&file, input).expect("write input");
    Command::new(env!("CARGO_BIN_EXE_lianban"))
        .args(["evaluate", "--process", process, "--input"])
        .arg(&file)
        .args(extra)
        .current_dir(repo_root())
        .output()
        .expect("run evaluate")
}

fn json_of(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "evaluate failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).expect("stdout is JSON")
}

#[test]
fn a_complete_application_gets_materials_and_the_evaluate_map() {
    let input = json!({
        "name": "王五", "id_number": "11010519491231002X", "gender": "女", "level": "高级",
        "insured_months": 36, "pay_to_card": true, "card_number": "6222021234567890128"
    });
    let out = json_of(&evaluate(
        "examples.demo",
        &input.to_string(),
        &["--at", "2026-03-02"],
    ));
    assert_eq!(
        out,
        json!({
            "errors": [],
            "materials": [
                {"key": "certificate", "name": "职业资格证书（原件及复印件）", "copies": 1,
                 "unit": null, "why": "核验证书等级", "note": null},
                // The note is kept beside the why (issue 17: the notice must not drop it).
                {"key": "bank_card", "name": "本人一类银行卡复印件", "copies": 1, "unit": null,
                 "why": "补贴发放到本人银行卡，需核对户名和卡号", "note": "选择发放到银行卡时提供"}
            ],
            "age": 76, "amount": 2000, "bank": "工商银行", "eligible": true
        })
    );
}

#[test]
fn partial_input_reports_field_errors_and_still_evaluates() {
    let out = json_of(&evaluate(
        "examples.demo",
        r#"{"level": "中级", "gender": "男"}"#,
        &[],
    ));
    let fields: Vec<&str> = out["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["name", "id_number", "insured_months"]);
    assert_eq!(out["errors"][0]["message"], "“姓名”为必填项");
    assert_eq!(
        (out["amount"].clone(), out["eligible"].clone()),
        (json!(1500), json!(false))
    );
    assert!(out.get("evaluate_error").is_none(), "{out}");
}

#[test]
fn bad_input_and_unknown_processes_fail_with_chinese_messages() {
    let out = evaluate("examples.demo", "{\n  \"name\": 张三\n}", &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("输入文件第 2 行第 11 列不是有效的 JSON"),
        "{stderr}"
    );

    let out = evaluate("examples.demo", "[1, 2]", &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("输入应当是 JSON 对象"), "{stderr}");

    let out = evaluate("examples.nope", "{}", &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("没有找到流程 `examples.nope`"), "{stderr}");
    assert!(stderr.contains("examples.demo"), "{stderr}");
}

#[test]
fn a_failing_evaluate_rule_is_reported_in_the_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = repo_root().join("processes/examples");
    std::fs::create_dir_all(dir.path().join("rules")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("data")).expect("mkdir");
    let yaml = std::fs::read_to_string(demo.join("demo.yaml")).expect("read");
    let yaml = yaml.replace(
        "evaluate: evaluate(form, params, tables, today)",
        "evaluate: ym(form.name)",
    );
    std::fs::write(dir.path().join("demo.yaml"), yaml).expect("write");
    for file in ["rules/demo.rhai", "data/bank_bins.yaml"] {
        std::fs::copy(demo.join(file), dir.path().join(file)).expect("copy");
    }
    std::fs::create_dir_all(dir.path().join("calendars")).expect("mkdir");
    std::fs::copy(
        repo_root().join("processes/calendars/cn-mainland.yaml"),
        dir.path().join("calendars/cn-mainland.yaml"),
    )
    .expect("copy calendar");
    let processes = dir.path().to_str().expect("utf8");
    let out = json_of(&evaluate(
        "examples.demo",
        r#"{"name": "张三"}"#,
        &["--processes", processes],
    ));
    let error = out["evaluate_error"].as_str().expect("evaluate_error");
    assert!(error.contains("ym：`张三` 不是年月"), "{error}");
}

/// Every example of the demo whose `expect:` is checked here against [`lianban::evaluate`].
#[test]
fn the_demo_examples_hold() {
    let templates = Templates::load(&repo_root().join("templates")).expect("templates");
    let demo = definition::load_file(
        &repo_root().join("processes/examples/demo.yaml"),
        &templates,
    )
    .expect("demo loads");
    assert_eq!(demo.tests.len(), 6, "inline and demo.tests.yaml");
    assert!(demo.tests[1].file.ends_with("demo.tests.yaml"));
    for example in &demo.tests {
        check_expect(&demo, example);
        check_run(&demo, example);
    }
}

/// Drives the example's `run:` in memory and checks `expect_run:`.
fn check_run(process: &Process, example: &definition::Example) {
    use lianban::runtime::{Actor, CaseId, CaseStatus, Command, Effect, TaskStatus, apply, start};
    let Some(expect) = &example.expect_run else {
        return;
    };
    let name = &example.name;
    let now = chrono::DateTime::parse_from_rfc3339("2026-03-02T09:00:00+08:00")
        .expect("time")
        .to_utc();
    let actor = Actor::system();
    let id = CaseId(uuid::Uuid::nil());
    let started = start(
        process,
        id,
        example.input.clone(),
        example.materials.clone(),
        &actor,
        now,
    )
    .unwrap_or_else(|e| panic!("{name}: start: {e}"));
    let mut state = started.state;
    let mut documents: Vec<String> = Vec::new();
    let mut issued = |effects: &[Effect]| {
        for effect in effects {
            if let Effect::IssueDocument { document, .. } = effect {
                documents.push(document.clone());
            }
        }
    };
    issued(&started.effects);
    for action in &example.run {
        let command = match action {
            definition::RunAction::Complete {
                step,
                outcome,
                data,
                reason,
            } => {
                let task = state
                    .tasks
                    .iter()
                    .find(|t| &t.step == step && t.status == TaskStatus::Open)
                    .unwrap_or_else(|| panic!("{name}: no open task at {step}"));
                Command::Complete {
                    task: task.id,
                    outcome: outcome.clone(),
                    data: data.clone(),
                    reason: reason.clone(),
                }
            }
            definition::RunAction::Deliver {
                event,
                materials,
                data,
            } => Command::Deliver {
                event: event.clone(),
                data: data.clone(),
                materials: materials.clone(),
            },
            definition::RunAction::Cancel { reason } => Command::Cancel {
                reason: reason.clone(),
            },
        };
        let t = apply(process, &state, &actor, command, now)
            .unwrap_or_else(|e| panic!("{name}: {action:?}: {e}"));
        issued(&t.effects);
        state = t.state;
    }
    let result = match &state.status {
        CaseStatus::Active => "active".to_owned(),
        CaseStatus::Completed { result, .. } => result.clone(),
        CaseStatus::Cancelled { .. } => "cancelled".to_owned(),
    };
    if let Some(want) = &expect.result {
        assert_eq!(&result, want, "{name}");
    }
    if let Some(want) = &expect.open_tasks {
        let open: Vec<_> = state
            .tasks
            .iter()
            .filter(|t| matches!(t.status, TaskStatus::Open | TaskStatus::Claimed))
            .map(|t| t.step.clone())
            .collect();
        assert_eq!(&open, want, "{name}");
    }
    if let Some(want) = &expect.documents {
        assert_eq!(&documents, want, "{name}");
    }
    for (key, want) in &expect.data {
        assert_eq!(state.data.get(key), Some(want), "{name}: data.{key}");
    }
}

fn check_expect(process: &Process, example: &definition::Example) {
    let today = example
        .at
        .unwrap_or_else(|| chrono::NaiveDate::from_ymd_opt(2026, 3, 2).expect("date"));
    let out = lianban::evaluate::evaluate(process, &example.input, today).to_json();
    let name = &example.name;
    let keys = |list: &Value, field: &str| -> Vec<String> {
        list.as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i[field].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let materials = keys(&out["materials"], "key");
    for (key, want) in &example.expect {
        let names = || -> Vec<String> {
            want.as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        match key.as_str() {
            "materials_include" => {
                for m in names() {
                    assert!(materials.contains(&m), "{name}: {m} required; {out}");
                }
            }
            "materials_exclude" => {
                for m in names() {
                    assert!(!materials.contains(&m), "{name}: {m} not required; {out}");
                }
            }
            "error_fields" => assert_eq!(keys(&out["errors"], "field"), names(), "{name}: {out}"),
            path => {
                let got = path.split('.').fold(&out, |v, k| &v[k]);
                assert_eq!(got, want, "{name}: {path}; {out}");
            }
        }
    }
}
