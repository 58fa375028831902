//! `lianban render` on the shipped yangcheng definition, driven through the real binary:
//! what a policy officer previews after changing a template.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn render(document: &str, input: &serde_json::Value, extra: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("input.json");
    std::fs::write(&file, input.to_string()).expect("write input");
    Command::new(env!("CARGO_BIN_EXE_lianban"))
        .args([
            "render",
            "--process",
            "yangcheng.retirement",
            "--document",
            document,
        ])
        .arg("--input")
        .arg(&file)
        .args(extra)
        .current_dir(repo_root())
        .output()
        .expect("run render")
}

#[test]
fn the_supplement_notice_lists_what_is_missing_with_a_deadline_date() {
    let form = serde_json::json!({
        "name": "<script>alert(1)</script>",
        "employer": "阳城县某煤业公司",
        "post": "灵活就业",
        "retirement_type": "正常退休",
        "joint_fund": false,
    });
    let out = render("supplement_notice", &form, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = String::from_utf8_lossy(&out.stdout);
    assert!(html.contains("一次性补正材料告知书"));
    assert!(html.contains("第0000号（预览）"), "preview number");
    assert!(
        html.contains("日前）"),
        "a deadline date counted in working days"
    );
    assert!(!html.contains("<script>alert"), "form values are escaped");
    // 灵活就业: no roster; no provident-fund withdrawal: no 汇缴变更清册.
    assert!(!html.contains("花名表"));
    assert!(!html.contains("汇缴变更清册"));
    assert!(html.contains("人事档案"));
}

#[test]
fn the_push_table_takes_many_cases_for_one_department() {
    let rows = serde_json::json!([
        {"form": {"name": "王建国", "gender": "男", "joint_medical": true}, "data": {"retirement_date": "2025-04"}},
        {"name": "李秀英", "gender": "女", "joint_medical": true, "joint_fund": true},
    ]);
    let out = render("push_table", &rows, &["--department", "yibao"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = String::from_utf8_lossy(&out.stdout);
    assert!(html.contains("推送至：阳城县医保局"));
    assert!(html.contains("王建国") && html.contains("李秀英"));
    // Months read as on the paper (1965年1月), never in machine form.
    assert!(html.contains("2025年4月") && !html.contains("2025-04"));

    let unknown = render("push_table", &rows, &["--department", "nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("没有部门 `nope`"));
}

#[test]
fn bad_input_is_refused_clearly() {
    let out = render("notice", &serde_json::json!("一段文字"), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("JSON 对象"));
    let unknown = render("no_such_document", &serde_json::json!({}), &[]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("没有文书"));
}
