//! Overlays (`extends:`): a county definition is a shared base plus only what differs.
//! Real files in a temporary `processes/` tree, loaded the way `lianban check` and `serve`
//! load them: the merge per section, rules overridden by name, diagnostics placed in the
//! file where the value is written with the chain of files named, the content hash and the
//! stored sources covering the base, and a base that is not in force by itself.

use std::path::{Path, PathBuf};

use lianban::definition::{self, Catalog, Process};
use lianban::documents::Templates;
use serde_json::{Map, json};

const BASE: &str = r#"id: shanxi.flow
version: 1
abstract: true
name: 省级基础流程
departments:
  shebao: {name: 县社保中心, phone: "0351-0000000"}
  yibao: {name: 县医保局}
roles:
  clerk: {name: 经办人, department: shebao}
  medic: {name: 医保经办人, department: yibao}
rules: [rules/national.rhai]
parameters:
  min_years: {value: 15, source: 国务院令}
  days_accept: {value: 1, source: 本地设置, local: true}
form:
  - {key: years, label: 缴费年限, type: number, required: true}
materials:
  - {key: id_card, name: 身份证}
  - {key: roster, name: 花名表}
  - {key: photos, name: 照片}
evaluate: '#{eligible: eligible(form, params), office: office()}'
steps:
  - id: accept
    name: 受理
    type: task
    role: clerk
    due: params.days_accept workdays
    outcomes:
      ok: {label: 受理, to: medical}
  - id: medical
    name: 医保
    type: task
    role: medic
    outcomes:
      ok: {label: 办结, to: done}
  - {id: done, name: 办结, type: end, result: 办结}
"#;

const NATIONAL: &str = r#"
fn eligible(form, params) { form.years >= params.min_years }
fn office() { "省" }
"#;

const BASE_TESTS: &str = r#"- name: 满十五年符合条件
  input: {years: 15}
  expect: {eligible: true}
"#;

const COUNTY: &str = r#"id: county.flow
version: 1
extends: shanxi.flow
name: 某县流程
departments:
  shebao: {phone: "0356-1234567"}
  gongan: {name: 县公安局}
roles:
  police: {name: 户籍民警, department: gongan}
rules: [rules/local.rhai]
parameters:
  days_accept: {value: 2}
materials:
  - {key: roster, remove: true}
  - {key: hukou, name: 户口簿, after: id_card}
steps:
  - id: accept
    outcomes:
      ok: {to: hukou}
  - id: hukou
    after: accept
    name: 户籍确认
    type: task
    role: police
    outcomes:
      ok: {label: 确认, to: medical}
"#;

const LOCAL: &str = r#"fn office() { "县" }
"#;

/// A `processes/` tree with the base, one county overlay and a second, plain overlay.
fn tree() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let processes = dir.path().join("processes");
    write(&processes.join("shanxi/flow.yaml"), BASE);
    write(&processes.join("shanxi/flow.tests.yaml"), BASE_TESTS);
    write(&processes.join("shanxi/rules/national.rhai"), NATIONAL);
    write(&processes.join("county/flow.yaml"), COUNTY);
    write(&processes.join("county/rules/local.rhai"), LOCAL);
    write(
        &processes.join("other/flow.yaml"),
        "id: other.flow\nversion: 1\nextends: shanxi.flow\nname: 另一县流程\n",
    );
    (dir, processes)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn templates() -> Templates {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("root");
    Templates::load(&root.join("templates")).expect("templates load")
}

fn load(processes: &Path) -> Vec<Process> {
    definition::load_paths(&[processes.to_path_buf()], &templates())
        .unwrap_or_else(|e| panic!("the tree loads:\n{e}"))
}

fn find<'a>(all: &'a [Process], id: &str) -> &'a Process {
    all.iter().find(|p| p.id == id).expect(id)
}

fn evaluate(p: &Process, years: i64) -> serde_json::Value {
    let mut input = Map::new();
    input.insert("years".into(), json!(years));
    let today = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).expect("date");
    lianban::evaluate::evaluate(p, &input, today).to_json()
}

#[test]
fn an_overlay_adds_replaces_and_removes_by_key_in_every_section() {
    let (_dir, processes) = tree();
    let all = load(&processes);
    let county = find(&all, "county.flow");
    assert_eq!(county.extends, ["shanxi.flow"]);
    assert!(!county.is_abstract, "abstract is not inherited");
    // Departments: merged per key, one added.
    assert_eq!(county.departments["shebao"].name, "县社保中心");
    assert_eq!(
        county.departments["shebao"].phone.as_deref(),
        Some("0356-1234567")
    );
    assert!(county.departments.contains_key("gongan"));
    // Parameters: the value replaced, the source kept from the base.
    assert_eq!(county.parameters["days_accept"].value, json!(2));
    assert_eq!(county.parameters["days_accept"].source, "本地设置");
    // Materials: one removed, one inserted after `id_card`.
    let materials: Vec<&str> = county.materials.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(materials, ["id_card", "hukou", "photos"]);
    // Steps: one inserted after `accept`, the base's outcome redirected to it.
    let steps: Vec<&str> = county.steps.keys().map(|s| s.0.as_str()).collect();
    assert_eq!(steps, ["accept", "hukou", "medical", "done"]);
    // Rules: the county's file overrides `office` by name; `eligible` stays national.
    assert_eq!(evaluate(county, 15)["office"], "县");
    assert_eq!(evaluate(county, 14)["eligible"], false);
    let other = find(&all, "other.flow");
    assert_eq!(evaluate(other, 15)["office"], "省");
    // Examples: the base's run for every county and name the base's example file.
    assert_eq!(county.tests.len(), 1);
    assert!(county.tests[0].file.ends_with("shanxi/flow.tests.yaml"));
    // Where each value comes from.
    assert!(county.origins["departments.shebao.phone"].ends_with("county/flow.yaml:6"));
    assert!(county.origins["departments.shebao.name"].ends_with("shanxi/flow.yaml:6"));
}

#[test]
fn a_base_is_checked_but_not_in_force() {
    let (_dir, processes) = tree();
    let all = load(&processes);
    let base = find(&all, "shanxi.flow");
    assert!(base.is_abstract);
    let catalog = Catalog::new(all.clone());
    assert!(
        catalog.latest("shanxi.flow").is_none(),
        "no case starts on a base"
    );
    assert!(catalog.latest("county.flow").is_some());

    // A broken base is reported even though it is never started.
    write(
        &processes.join("shanxi/flow.yaml"),
        &BASE.replace("to: done}", "to: nowhere}"),
    );
    let e = definition::load_paths(std::slice::from_ref(&processes), &templates())
        .expect_err("broken base");
    assert!(
        e.diagnostics
            .iter()
            .any(|d| d.code == "E-UNKNOWN-STEP" && d.file.ends_with("shanxi/flow.yaml")),
        "{e}"
    );
}

#[test]
fn diagnostics_point_into_the_file_where_the_value_is_written_and_name_the_chain() {
    let (_dir, processes) = tree();
    // The overlay removes a department a base role still belongs to, and places a material
    // after one that does not exist.
    write(
        &processes.join("county/flow.yaml"),
        &COUNTY
            .replace(
                "  gongan: {name: 县公安局}",
                "  gongan: {name: 县公安局}\n  yibao: ~",
            )
            .replace("after: id_card", "after: id_crad"),
    );
    let e = definition::load_file(&processes.join("county/flow.yaml"), &templates())
        .expect_err("broken overlay");
    let found: Vec<String> = e
        .diagnostics
        .iter()
        .map(|d| {
            let file = d.file.rsplit("processes/").next().unwrap_or_default();
            format!("{file}:{}:{}: {}", d.line, d.column, d.code)
        })
        .collect();
    // The role is written in the base (line 10, its `department` value at column 36)…
    assert!(
        found.contains(&"shanxi/flow.yaml:10:36: E-UNKNOWN-DEPARTMENT".to_owned()),
        "{found:?}"
    );
    // …the misplaced `after` in the overlay.
    assert!(
        found.contains(&"county/flow.yaml:16:36: E-EXTENDS".to_owned()),
        "{found:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains("继承链: ")
            && text.contains("county/flow.yaml → ")
            && text.contains("shanxi/flow.yaml"),
        "{text}"
    );

    // A base that does not exist, and a cycle.
    write(
        &processes.join("county/flow.yaml"),
        &COUNTY.replace("extends: shanxi.flow", "extends: shanxi.nope"),
    );
    let e = definition::load_file(&processes.join("county/flow.yaml"), &templates())
        .expect_err("missing base");
    assert_eq!(e.diagnostics[0].code, "E-EXTENDS");
    assert!(e.diagnostics[0].message.contains("shanxi/nope.yaml"), "{e}");
    write(
        &processes.join("shanxi/flow.yaml"),
        &BASE.replace("abstract: true", "abstract: true\nextends: county.flow"),
    );
    write(&processes.join("county/flow.yaml"), COUNTY);
    let e = definition::load_file(&processes.join("county/flow.yaml"), &templates())
        .expect_err("cycle");
    assert!(
        e.diagnostics
            .iter()
            .any(|d| d.code == "E-EXTENDS" && d.message.contains("成环")),
        "{e}"
    );
}

#[test]
fn the_version_covers_the_base_and_old_versions_rebuild_from_their_sources() {
    let (_dir, processes) = tree();
    let before = load(&processes);
    let county = find(&before, "county.flow").clone();
    let paths: Vec<&str> = county.sources.iter().map(|s| s.path.as_str()).collect();
    assert!(paths[0].ends_with("county/flow.yaml"), "{paths:?}");
    assert!(paths[1].ends_with("shanxi/flow.yaml"), "{paths:?}");
    assert!(
        paths
            .iter()
            .any(|p| p.ends_with("shanxi/rules/national.rhai"))
    );
    assert!(paths.iter().any(|p| p.ends_with("county/rules/local.rhai")));

    // A national change: the base's rule and parameter.
    write(
        &processes.join("shanxi/flow.yaml"),
        &BASE.replace("value: 15, source", "value: 20, source"),
    );
    let after = load(&processes);
    for id in ["county.flow", "other.flow"] {
        assert_ne!(
            find(&before, id).content_hash,
            find(&after, id).content_hash,
            "{id}: a base change is a content change of every definition extending it"
        );
        // Every county follows the national value at once.
        assert_eq!(evaluate(find(&after, id), 15)["eligible"], false, "{id}");
        assert_eq!(evaluate(find(&before, id), 15)["eligible"], true, "{id}");
    }

    // The stored sources still rebuild the old version, base included.
    let old = definition::load_sources(&county.sources, &templates()).expect("old version loads");
    assert_eq!(old.content_hash, county.content_hash);
    assert_eq!(evaluate(&old, 15)["eligible"], true);
}

/// The shipped counties, each an overlay of `processes/shanxi/retirement.yaml`.
const COUNTIES: [&str; 3] = [
    "yangcheng.retirement",
    "qinshui.retirement",
    "zezhou.retirement",
];

/// A man born 1964-12 (retires 2024-12) with 186 months (15½ years) of contributions.
fn applicant() -> Map<String, serde_json::Value> {
    let input = json!({
        "name": "张三", "gender": "男", "id_number": "140522196412150317", "birth": "1964-12",
        "post": "生产", "employer": "某煤业有限公司", "contribution_months": 186,
        "retirement_type": "正常退休"
    });
    input.as_object().cloned().unwrap_or_default()
}

fn evaluate_form(p: &Process) -> serde_json::Value {
    let today = chrono::NaiveDate::from_ymd_opt(2025, 1, 10).expect("date");
    lianban::evaluate::evaluate(p, &applicant(), today).to_json()
}

#[test]
fn a_national_parameter_changed_once_in_the_base_is_followed_by_every_county() {
    let dir = tempfile::tempdir().expect("temp dir");
    let processes = dir.path().join("processes");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("root")
        .join("processes");
    lianban_tests::files::copy_dir(&repo, &processes).expect("copy processes/");
    let before = load(&processes);
    for id in COUNTIES {
        let county = find(&before, id);
        assert_eq!(county.extends, ["shanxi.retirement"], "{id}");
        let answer = evaluate_form(county);
        assert_eq!(
            answer["minimum_contribution"]["years"], 15,
            "{id}: {answer}"
        );
        assert_eq!(answer["eligible"], true, "{id}: {answer}");
    }

    // One edit, in one place: the national minimum years of contributions (a new year's
    // value, as the policy officer's guide describes it).
    let base = processes.join("shanxi/retirement.yaml");
    let text = std::fs::read_to_string(&base).expect("the base");
    let national = "min_contribution_years_until_2029:\n    value: 15\n";
    assert!(text.contains(national), "the base holds the national value");
    write(
        &base,
        &text.replacen(
            national,
            "min_contribution_years_until_2029:\n    value: 16\n",
            1,
        ),
    );
    let after = load(&processes);
    for id in COUNTIES {
        let county = find(&after, id);
        let answer = evaluate_form(county);
        assert_eq!(
            answer["minimum_contribution"]["years"], 16,
            "{id}: {answer}"
        );
        assert_eq!(
            answer["eligible"], false,
            "{id}: 15½ years no longer suffice: {answer}"
        );
        assert_ne!(
            county.content_hash,
            find(&before, id).content_hash,
            "{id}: the change is a content change of every county (each needs a new version)"
        );
    }
    // The county files themselves were not touched.
    for county in ["yangcheng", "qinshui", "zezhou"] {
        let file = format!("{county}/retirement.yaml");
        assert_eq!(
            std::fs::read_to_string(processes.join(&file)).expect("county file"),
            std::fs::read_to_string(repo.join(&file)).expect("shipped county file"),
        );
    }
}

#[test]
fn the_shipped_counties_hold_only_their_own_and_share_the_base() {
    let processes = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("root")
        .join("processes");
    let all = load(&processes);
    let base = find(&all, "shanxi.retirement");
    assert!(base.is_abstract);
    for id in COUNTIES {
        let county = find(&all, id);
        let paths: Vec<&str> = county.sources.iter().map(|s| s.path.as_str()).collect();
        for shared in [
            "shanxi/retirement.yaml",
            "shanxi/rules/national.rhai",
            "shanxi/rules/retirement.rhai",
            "shanxi/data/bank_bins.yaml",
        ] {
            assert!(
                paths.iter().any(|p| p.ends_with(shared)),
                "{id} uses {shared}: {paths:?}"
            );
        }
        // The county's name reaches the rules' wording through its parameter.
        let mut form = applicant();
        form.insert("insured_in_county".into(), json!(false));
        let today = chrono::NaiveDate::from_ymd_opt(2025, 1, 10).expect("date");
        let answer = lianban::evaluate::evaluate(county, &form, today).to_json();
        let name = county.parameters["county_name"]
            .value
            .as_str()
            .unwrap_or_default();
        assert!(
            answer["reasons"]
                .to_string()
                .contains(&format!("未参加{name}企业职工")),
            "{id}: {answer}"
        );
    }
    // 泽州's own rule (a function of the base overridden by name) is shown by its example
    // 本县规则：退役军人档案资料完整的，也发函确认 (processes/zezhou/retirement.tests.yaml).
}

/// The pension estimate a clerk sees (the summary row 养老金测算): no figure while the
/// 计发基数 is not confirmed; once a county confirms it in its own file (amount, year,
/// source, `avg_wage_confirmed: true`), a figure labelled 测算 with that year and source.
#[test]
fn a_pension_figure_is_shown_only_on_a_confirmed_average_wage_and_labelled_an_estimate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let processes = dir.path().join("processes");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("root")
        .join("processes");
    lianban_tests::files::copy_dir(&repo, &processes).expect("copy processes/");
    let mut form = applicant();
    form.insert("average_index".into(), json!(1.0));
    form.insert("account_balance".into(), json!(139_000));
    let today = chrono::NaiveDate::from_ymd_opt(2025, 1, 10).expect("date");
    let row = |p: &Process| -> String {
        let answer = lianban::evaluate::evaluate(p, &form, today).to_json();
        answer["summary"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r[0] == "养老金测算")
            .map(|r| r[1].as_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|| panic!("no 养老金测算 row: {answer}"))
    };
    let before = load(&processes);
    let unconfirmed = row(find(&before, "yangcheng.retirement"));
    assert!(unconfirmed.starts_with("未测算：计发基数"), "{unconfirmed}");
    assert!(!unconfirmed.contains("元/月"), "no figure: {unconfirmed}");

    let county = processes.join("yangcheng/retirement.yaml");
    let text = std::fs::read_to_string(&county).expect("the county");
    let anchor = "parameters:\n";
    assert!(text.contains(anchor));
    write(
        &county,
        &text.replacen(
            anchor,
            "parameters:\n  avg_wage_last_year: {value: 7500}\n  avg_wage_year: {value: 2025}\n  \
             avg_wage_source: {value: 晋人社厅公布的计发基数（测试）}\n  avg_wage_confirmed: {value: true}\n",
            1,
        ),
    );
    let after = load(&processes);
    let confirmed = row(find(&after, "yangcheng.retirement"));
    assert!(confirmed.starts_with("测算：约 "), "{confirmed}");
    assert!(confirmed.contains("元/月"), "{confirmed}");
    assert!(
        confirmed.contains("2025年度计发基数 7500.00 元，晋人社厅公布的计发基数（测试）"),
        "{confirmed}"
    );
    // The other counties still have no confirmed figure.
    assert!(row(find(&after, "zezhou.retirement")).starts_with("未测算"));
}
