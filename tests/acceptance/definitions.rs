//! Definition loading: every broken fixture reports exactly its diagnostics (file, line,
//! column, code), every definition under `processes/` loads clean, and the content hash
//! follows every byte of the definition and its rule files.

use std::path::{Path, PathBuf};

use lianban::definition::{self, Catalog, SourceFile};
use lianban::documents::Templates;

/// The repository root (tests run in the `tests/` package directory).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

fn broken_templates() -> Templates {
    Templates::load(Path::new("fixtures/broken/templates")).expect("fixture templates load")
}

/// `file:line:col: CODE` for each diagnostic of fixture `name`.
fn diagnostics(name: &str) -> Vec<String> {
    let path = PathBuf::from(format!("fixtures/broken/{name}.yaml"));
    let error =
        definition::load_file(&path, &broken_templates()).expect_err("fixture must not load");
    error
        .diagnostics
        .iter()
        .map(|d| format!("{}:{}:{}: {}", d.file, d.line, d.column, d.code))
        .collect()
}

/// Asserts that fixture `name` reports exactly `expected`, given as `line:col: CODE` (or
/// with a file of its own, for problems inside rules files and templates).
fn assert_reports(name: &str, expected: &[&str]) {
    let expected: Vec<String> = expected
        .iter()
        .map(|e| {
            if e.contains(".rhai:") || e.contains(".j2:") || e.starts_with("fixtures/") {
                (*e).to_owned()
            } else {
                format!("fixtures/broken/{name}.yaml:{e}")
            }
        })
        .collect();
    assert_eq!(diagnostics(name), expected, "fixture {name}");
}

#[test]
fn yaml_syntax_error_is_one_diagnostic_at_its_place() {
    assert_reports("yaml_syntax", &["9:3: E-YAML"]);
}

#[test]
fn empty_file_and_list_root_are_diagnostics() {
    assert_reports("empty", &["1:1: E-YAML"]);
    assert_reports("not_a_mapping", &["1:1: E-TYPE"]);
}

#[test]
fn unknown_key_suggests_the_closest_key() {
    assert_reports(
        "unknown_key",
        &["9:5: E-MISSING-KEY", "10:5: E-UNKNOWN-KEY"],
    );
    let path = Path::new("fixtures/broken/unknown_key.yaml");
    let error = definition::load_file(path, &broken_templates()).expect_err("broken");
    assert_eq!(
        error.diagnostics[1].to_string(),
        "fixtures/broken/unknown_key.yaml:10:5: error[E-UNKNOWN-KEY]: 未知的键 `nmae`\n  = 提示: 是不是想写 `name`？"
    );
}

#[test]
fn missing_required_key() {
    assert_reports("missing_key", &["9:5: E-MISSING-KEY"]);
}

#[test]
fn wrong_value_types_are_reported_once_each() {
    assert_reports("wrong_type", &["5:13: E-TYPE", "13:10: E-TYPE"]);
}

#[test]
fn duplicate_step_id() {
    assert_reports("duplicate_id", &["16:10: E-DUPLICATE-ID"]);
}

#[test]
fn unknown_references() {
    assert_reports("unknown_step", &["15:30: E-UNKNOWN-STEP"]);
    assert_reports("unknown_role", &["12:11: E-UNKNOWN-ROLE"]);
    assert_reports("unknown_department", &["7:34: E-UNKNOWN-DEPARTMENT"]);
    assert_reports("unknown_document", &["14:47: E-UNKNOWN-DOCUMENT"]);
    assert_reports("unknown_template", &["9:33: E-UNKNOWN-TEMPLATE"]);
    assert_reports("unknown_parameter", &["11:59: E-UNKNOWN-PARAMETER"]);
}

/// Issue 17: a department that signs a paper says the name it signs with; a 股 does not
/// seal. Only the department that issues something is asked for one.
#[test]
fn a_signing_department_without_an_issuer_is_an_error_at_the_department() {
    assert_reports("no_issuer", &["5:3: E-MISSING-KEY"]);
    let path = Path::new("fixtures/broken/no_issuer.yaml");
    let error = definition::load_file(path, &broken_templates()).expect_err("broken");
    let text = error.diagnostics[0].to_string();
    for expected in [
        "`gu`",
        "某县社保中心企业保险股",
        "`accept`",
        "`refuse`",
        "告知书",
        "notice",
        "`issuer`",
        "股室、窗口不能作为落款单位",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
}

/// `joint_items:` name a department, a yes/no field of the form and the step doing the
/// item (its key when `step` is not written), each checked where it is written.
#[test]
fn joint_items_name_a_department_a_yes_no_field_and_a_step() {
    assert_reports(
        "bad_joint_items",
        &[
            "13:37: E-UNKNOWN-DEPARTMENT",
            "13:48: E-FIELD",
            "13:60: E-UNKNOWN-STEP",
            "14:11: E-UNKNOWN-STEP",
            "14:48: E-FIELD",
            "15:11: E-DUPLICATE-ID",
        ],
    );
}

#[test]
fn not_same_as_names_an_earlier_task_step() {
    // An unknown step (with the nearest id as a hint, as a scalar and in a list), an
    // automatic step, the step itself.
    assert_reports(
        "not_same_as",
        &[
            "20:18: E-UNKNOWN-STEP",
            "27:27: E-NOT-SAME-AS",
            "27:34: E-NOT-SAME-AS",
            "27:43: E-UNKNOWN-STEP",
        ],
    );
    let path = Path::new("fixtures/broken/not_same_as.yaml");
    let error = definition::load_file(path, &broken_templates()).expect_err("broken");
    let text: Vec<String> = error.diagnostics.iter().map(ToString::to_string).collect();
    assert!(
        text[0].contains("`acept`") && text[0].contains("是不是想写 `accept`"),
        "{}",
        text[0]
    );
    assert!(text[1].contains("`check` 不是人工任务步骤"), "{}", text[1]);
    assert!(text[2].contains("不能写它自己"), "{}", text[2]);
}

#[test]
fn template_syntax_error_points_into_the_template() {
    assert_reports(
        "template_syntax",
        &["fixtures/broken/templates/broken.html.j2:2:10: E-TEMPLATE"],
    );
}

#[test]
fn flow_graph_problems() {
    assert_reports("unreachable", &["15:9: E-UNREACHABLE"]);
    assert_reports("no_end", &["16:9: E-NO-END"]);
    assert_reports("join_without_split", &["15:10: E-JOIN-WITHOUT-SPLIT"]);
    assert_reports("split_join", &["20:11: E-SPLIT-JOIN"]);
}

#[test]
fn expression_error_inside_a_block_scalar_maps_to_its_line() {
    assert_reports("rhai_block", &["22:23: E-RHAI"]);
}

#[test]
fn calls_to_functions_that_do_not_exist() {
    assert_reports("unknown_function", &["20:54: E-RHAI"]);
}

#[test]
fn rules_files_missing_or_not_compiling() {
    assert_reports(
        "rules_compile",
        &[
            "8:25: E-RULES",
            "fixtures/broken/rules/bad.rhai:4:1: E-RULES",
        ],
    );
}

#[test]
fn bad_cron_duration_field_and_version() {
    // `push_tables` needs a table document; `report` is no action the engine knows.
    assert_reports(
        "bad_cron",
        &[
            "17:22: E-CRON",
            "17:46: E-UNKNOWN-DOCUMENT",
            "18:24: E-CRON",
            "18:46: E-UNKNOWN-ACTION",
        ],
    );
    assert_reports("bad_duration", &["13:10: E-DURATION"]);
    // A time limit may name a whole-number parameter; a typo or a non-number is reported.
    assert_reports(
        "param_duration",
        &["16:10: E-UNKNOWN-PARAMETER", "23:10: E-DURATION"],
    );
    assert_reports(
        "bad_field",
        &[
            "9:34: E-FIELD",
            "10:28: E-FIELD",
            "11:40: E-FIELD",
            "12:54: E-FIELD",
        ],
    );
    assert_reports("bad_version", &["1:5: E-VERSION", "2:10: E-VERSION"]);
}

#[test]
fn field_limits_that_cannot_apply_are_reported_at_their_place() {
    // `max_length` 0 and beyond Excel's cell; `max_length` on a phone; `min` above `max`;
    // a date bound that is no date; `min` on a choice; `multiline` on an address. The last
    // three fields are well written.
    assert_reports(
        "bad_limits",
        &[
            "9:52: E-FIELD",
            "10:52: E-FIELD",
            "11:42: E-FIELD",
            "12:49: E-FIELD",
            "13:54: E-FIELD",
            "14:56: E-FIELD",
            "15:43: E-FIELD",
        ],
    );
}

#[test]
fn several_errors_are_all_reported_at_once_in_file_order() {
    assert_reports(
        "several",
        &[
            "5:17: E-UNKNOWN-KEY",
            "13:10: E-DURATION",
            "15:31: E-UNKNOWN-STEP",
            "16:39: E-UNKNOWN-KEY",
            "17:9: E-UNREACHABLE",
            "20:5: E-UNKNOWN-KEY",
            "21:30: E-RHAI",
            "25:46: E-UNKNOWN-DOCUMENT",
            "25:59: E-UNKNOWN-KEY",
        ],
    );
}

#[test]
fn every_broken_fixture_is_asserted() {
    // A fixture added without an assertion above would silently test nothing.
    let mut names: Vec<String> = std::fs::read_dir("fixtures/broken")
        .expect("fixtures")
        .filter_map(|e| {
            let path = e.expect("entry").path();
            // `x.tests.yaml` belongs to `x.yaml` and is asserted with it.
            if path.extension()? != "yaml" || path.to_string_lossy().ends_with(".tests.yaml") {
                return None;
            }
            Some(path.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    let source = include_str!("definitions.rs");
    for name in names {
        assert!(
            source.contains(&format!("\"{name}\"")),
            "fixture {name} has no assertion"
        );
    }
}

#[test]
fn every_definition_under_processes_loads_clean() {
    let templates = Templates::load(&root().join("templates")).expect("templates load");
    let processes = definition::load_paths(&[root().join("processes")], &templates)
        .unwrap_or_else(|e| panic!("definitions under processes/ must load clean:\n{e}"));
    assert!(!processes.is_empty());
    let catalog = Catalog::new(processes);
    let demo = catalog
        .latest("examples.demo")
        .expect("the example is in the catalog");
    assert_eq!(demo.version, 3);
    assert!(catalog.get("examples.demo", 3).is_some());
    let paths: Vec<&str> = demo.sources.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths.len(),
        3,
        "definition, its table file and rules file: {paths:?}"
    );
    assert!(paths[0].ends_with("demo.yaml"));
    assert!(paths[1].ends_with("data/bank_bins.yaml"));
    assert!(paths[2].ends_with("rules/demo.rhai"));
    // The example file is loaded, but it is not part of the version.
    assert!(
        demo.tests
            .iter()
            .any(|t| t.file.ends_with("demo.tests.yaml"))
    );
}

#[test]
fn loading_from_sources_matches_loading_from_disk_and_the_hash_follows_every_byte() {
    let templates = Templates::load(&root().join("templates")).expect("templates load");
    let from_disk = definition::load_file(&root().join("processes/examples/demo.yaml"), &templates)
        .expect("loads");
    let again =
        definition::load_sources(&from_disk.sources, &templates).expect("reloads from sources");
    assert_eq!(again.content_hash, from_disk.content_hash);
    assert_eq!(again.steps.len(), from_disk.steps.len());

    let mut changed: Vec<SourceFile> = from_disk.sources.clone();
    changed[0].text = changed[0].text.replacen("name: 受理", "name: 受理 ", 1);
    let yaml_changed = definition::load_sources(&changed, &templates).expect("still loads");
    assert_ne!(yaml_changed.content_hash, from_disk.content_hash);

    for i in [1, 2] {
        // The table file, then the rules file.
        let mut changed = from_disk.sources.clone();
        changed[i].text.push(' ');
        let other_changed = definition::load_sources(&changed, &templates).expect("still loads");
        assert_ne!(other_changed.content_hash, from_disk.content_hash, "{i}");
    }
    // Loaded from sources (an old version), the table data is there; the example file is not.
    assert_eq!(
        again.tables["bank_bins"].data,
        from_disk.tables["bank_bins"].data
    );
    assert!(again.tests.iter().all(|t| !t.file.ends_with(".tests.yaml")));
    assert!(from_disk.tests.len() > again.tests.len());
}

#[test]
fn the_same_id_and_version_twice_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = root().join("processes/examples");
    for copy in ["a", "b"] {
        let target = dir.path().join(copy);
        std::fs::create_dir_all(target.join("rules")).expect("mkdir");
        std::fs::create_dir_all(target.join("data")).expect("mkdir");
        for file in [
            "demo.yaml",
            "rules/demo.rhai",
            "data/bank_bins.yaml",
            "demo.tests.yaml",
        ] {
            std::fs::copy(demo.join(file), target.join(file)).expect("copy");
        }
    }
    // The demo counts in `cn-mainland`, which must sit in a `calendars/` directory above it.
    std::fs::create_dir_all(dir.path().join("calendars")).expect("mkdir");
    std::fs::copy(
        root().join("processes/calendars/cn-mainland.yaml"),
        dir.path().join("calendars/cn-mainland.yaml"),
    )
    .expect("copy calendar");
    let templates = Templates::load(&root().join("templates")).expect("templates load");
    let error =
        definition::load_paths(&[dir.path().to_path_buf()], &templates).expect_err("duplicate");
    let codes: Vec<_> = error.diagnostics.iter().map(|d| (d.code, d.line)).collect();
    assert_eq!(codes, [("E-VERSION", 4)]);
}

#[test]
fn odd_inputs_never_panic() {
    let templates = Templates::empty();
    for text in [
        "",
        "42",
        "[1, 2]",
        "id: [\n",
        "steps: 3",
        "steps: [1, 'a', {}]",
        "? [a]\n: b",
        "id: &a x\nname: *a",
        "\t",
    ] {
        let sources = [SourceFile {
            path: "odd.yaml".into(),
            text: text.into(),
        }];
        assert!(
            definition::load_sources(&sources, &templates).is_err(),
            "{text:?}"
        );
    }
}

#[test]
fn rule_functions_are_callable_from_the_definitions_expressions() {
    use lianban::definition::StepKind;
    use lianban::rules::Facts;
    let templates = Templates::load(&root().join("templates")).expect("templates load");
    let demo = definition::load_file(&root().join("processes/examples/demo.yaml"), &templates)
        .expect("loads");
    let Some(StepKind::Auto(check)) = demo.step(&"check".into()).map(|s| &s.kind) else {
        panic!("the demo has an auto step `check`");
    };
    let params: serde_json::Map<_, _> = demo
        .parameters
        .iter()
        .map(|(k, p)| (k.clone(), p.value.clone()))
        .collect();
    let form = serde_json::json!({"level": "中级", "insured_months": 24});
    let facts = Facts {
        form: form.as_object().expect("object"),
        data: &serde_json::Map::new(),
        params: &params,
        tables: &serde_json::Map::new(),
        materials: &[],
        today: chrono::NaiveDate::default(),
    };
    let values: Vec<_> = check
        .set
        .iter()
        .map(|a| (a.key.as_str(), a.expr.eval(&facts).expect("evaluates")))
        .collect();
    assert_eq!(
        values,
        [
            ("eligible", serde_json::json!(true)),
            ("amount", serde_json::json!(1500))
        ]
    );
}

#[test]
fn mutated_definitions_never_panic() {
    // Deterministic byte edits of a real definition: every result must be Ok or diagnostics.
    let templates = Templates::load(&root().join("templates")).expect("templates load");
    let demo = definition::load_file(&root().join("processes/examples/demo.yaml"), &templates)
        .expect("loads");
    let original = demo.sources[0].text.as_bytes().to_vec();
    let mut seed: u64 = 0x5eed;
    let mut next = move |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % n
    };
    let alphabet = b" :-[]{}'\"|>#&*!\n\tabc019";
    for _ in 0..300 {
        let mut bytes = original.clone();
        for _ in 0..1 + next(4) {
            let at = next(bytes.len());
            match next(3) {
                0 => bytes[at] = alphabet[next(alphabet.len())],
                1 => bytes.insert(at, alphabet[next(alphabet.len())]),
                _ => {
                    bytes.remove(at);
                }
            }
        }
        let mut sources = demo.sources.clone();
        sources[0].text = String::from_utf8_lossy(&bytes).into_owned();
        let _ = definition::load_sources(&sources, &templates);
    }
}

/// Every diagnostic of fixture `name`, in full.
fn messages(name: &str) -> Vec<String> {
    let path = PathBuf::from(format!("fixtures/broken/{name}.yaml"));
    let error = definition::load_file(&path, &broken_templates()).expect_err("broken");
    error.diagnostics.iter().map(ToString::to_string).collect()
}

#[test]
fn tables_checks_and_evaluate_are_checked_at_load_time() {
    assert_reports("unknown_table", &["11:62: E-UNKNOWN-TABLE"]);
    assert_eq!(
        messages("unknown_table")[0],
        "fixtures/broken/unknown_table.yaml:11:62: error[E-UNKNOWN-TABLE]: 表达式引用了不存在的表 `tables.bank_binz`\n  = 提示: 是不是想写 `bank_bins`？"
    );
    assert_reports(
        "bad_table",
        &[
            "9:9: E-TABLE",
            "10:12: E-TABLE",
            "11:31: E-TABLE",
            "13:14: E-MISSING-KEY",
            "fixtures/broken/data/broken.yaml:3:2: E-TABLE",
        ],
    );
    assert_reports("bad_check", &["10:87: E-RHAI", "11:12: E-RHAI"]);
    assert!(messages("bad_check")[1].contains("表达式调用了不存在的函数 `retirement`"));
}

#[test]
fn examples_are_checked_against_the_process() {
    assert_reports(
        "bad_example",
        &[
            "26:9: E-EXAMPLE",
            "27:19: E-FIELD",
            "28:34: E-EXAMPLE",
            "30:20: E-UNKNOWN-STEP",
            "31:37: E-EXAMPLE",
            "32:19: E-EXAMPLE",
            "33:9: E-EXAMPLE",
            "34:38: E-EXAMPLE",
            "35:26: E-EXAMPLE",
            "35:44: E-UNKNOWN-STEP",
            "35:63: E-UNKNOWN-DOCUMENT",
        ],
    );
    let m = messages("bad_example");
    assert!(
        m[3].contains("示例引用了不存在的任务步骤 `acept`"),
        "{}",
        m[3]
    );
    assert!(m[3].contains("是不是想写 `accept`？"), "{}", m[3]);
    assert!(m[4].contains("可以引用的办理结果：done、wait"), "{}", m[4]);
    assert!(
        m[7].contains("`outcome` 不适用于 `deliver` 操作"),
        "{}",
        m[7]
    );
}

#[test]
fn a_sibling_tests_file_is_checked_with_its_own_positions() {
    assert_reports(
        "bad_tests_file",
        &[
            "fixtures/broken/bad_tests_file.tests.yaml:7:3: E-UNKNOWN-KEY",
            "fixtures/broken/bad_tests_file.tests.yaml:9:18: E-UNKNOWN-STEP",
        ],
    );
}

#[test]
fn odd_example_files_and_tables_never_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let definition = std::fs::read_to_string("fixtures/broken/bad_tests_file.yaml").expect("read");
    let definition = format!("{definition}tables:\n  t: {{source: 测试, file: data/t.yaml}}\n");
    std::fs::create_dir_all(dir.path().join("data")).expect("mkdir");
    let path = dir.path().join("p.yaml");
    std::fs::write(&path, definition).expect("write");
    for text in [
        "",
        "42",
        "{a: 1}",
        "- 1\n- [x]",
        "- name: a\n  run: 3",
        "- name: a\n  run: [{}]",
        "- name: a\n  at: [1]\n  expect: {materials_include: 3, error_fields: [1]}",
        "- name: a\n  run: [{complete: done, outcome: x}, {cancel: [1]}]",
        "- name: a\n  expect_run: {open_tasks: 3, documents: [[]], data: 1}",
        "- {name: 例, input: {name: 张三}, run: [{deliver: x, materials: [y], outcome: z}]}",
        "- name: a\n  input: [1]\n",
    ] {
        std::fs::write(dir.path().join("p.tests.yaml"), text).expect("write");
        for table in ["", ": [", "{1: 2, [a]: b}", "!!binary aGk=", "~"] {
            std::fs::write(dir.path().join("data/t.yaml"), table).expect("write");
            let _ = definition::load_file(&path, &Templates::empty());
        }
    }
}

#[test]
fn a_failing_rule_names_where_the_definition_writes_it() {
    let yaml = "id: t.rule\nversion: 1\nname: 测试\ndepartments:\n  d: {name: 部门}\nroles:\n  r: {name: 经办, department: d}\nsteps:\n  - id: calc\n    name: 计算\n    type: auto\n    set: {x: '1 / 0'}\n    next: done\n  - {id: done, name: 办结, type: end, result: 办结}\n";
    let sources = [SourceFile {
        path: "t/rule.yaml".into(),
        text: yaml.into(),
    }];
    let process = definition::load_sources(&sources, &Templates::empty()).expect("loads");
    let step = process.steps.values().next().expect("a step");
    let definition::StepKind::Auto(auto) = &step.kind else {
        panic!("auto step")
    };
    let expr = &auto.set[0].expr;
    assert_eq!(expr.origin(), Some("t/rule.yaml:12:15"));
    let empty = serde_json::Map::new();
    let facts = lianban::rules::Facts {
        form: &empty,
        data: &empty,
        params: &empty,
        tables: &empty,
        materials: &[],
        today: chrono::NaiveDate::from_ymd_opt(2026, 1, 5).expect("date"),
    };
    let err = expr.eval(&facts).expect_err("division by zero");
    assert!(
        err.to_string().contains("`1 / 0`（t/rule.yaml:12:15）"),
        "{err}"
    );
}

#[test]
fn department_systems_and_schedule_actions_are_checked() {
    // A URL that is not http(s), an environment variable name that is not one, a system
    // without its secret's variable; a table document that does not exist and a weekday
    // field that the calendar cannot honour under `workdays_only`.
    let got = diagnostics("bad_system");
    let codes: Vec<&str> = got
        .iter()
        .map(|d| d.rsplit(": ").next().unwrap_or_default())
        .collect();
    assert_eq!(
        codes,
        [
            "E-SYSTEM",
            "E-SYSTEM",
            "E-MISSING-KEY",
            "E-CRON",
            "E-UNKNOWN-DOCUMENT"
        ],
        "{got:?}"
    );
    assert!(got[0].contains(":6:31:"), "{got:?}");
}

/// `outcomes:` on a decision field names outcomes of its own step; the application form
/// cannot use it.
#[test]
fn field_outcomes_must_be_outcomes_of_the_step() {
    let text = r#"id: test.outcomes
version: 1
name: 结果专属字段
departments: {shebao: {name: 社保}}
roles: {clerk: {name: 经办, department: shebao}}
form:
  - {key: name, label: 姓名, type: text, outcomes: [ok]}
steps:
  - id: a
    name: 确认
    type: task
    role: clerk
    form:
      - {key: date, label: 退休时间, type: year_month, required: true, outcomes: [confirm]}
      - {key: note, label: 说明, type: text, outcomes: [refuse, confrim]}
    outcomes:
      confirm: {label: 确认, to: end}
      refuse: {label: 不予办理, to: end, reason: true}
  - {id: end, name: 办结, type: end}
"#;
    let templates = Templates::load(&root().join("templates")).expect("templates");
    let source = SourceFile {
        path: "bad/outcomes.yaml".into(),
        text: text.into(),
    };
    let error = definition::load_sources(&[source], &templates).expect_err("refused");
    let found: Vec<(usize, &str, &str)> = error
        .diagnostics
        .iter()
        .map(|d| (d.line, d.code, d.path.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (7, "E-FIELD", "form[0].outcomes"),
            (15, "E-FIELD", "steps[0].form[1].outcomes[1]"),
        ],
        "{error}"
    );
    assert!(error.to_string().contains("confirm"), "{error}");
}
