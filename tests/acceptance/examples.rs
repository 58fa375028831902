//! The example cases of every definition under `processes/` pass (so `cargo test` covers
//! what policy officers wrote), and the runner reports failures the way `lianban test`
//! prints them.

use std::path::{Path, PathBuf};

use lianban::casebook::run_paths;
use lianban::documents::Templates;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

#[tokio::test]
async fn every_example_under_processes_passes() -> anyhow::Result<()> {
    let templates = Templates::load(&root().join("templates"))?;
    let report = run_paths(&[root().join("processes")], templates)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert!(!report.cases.is_empty(), "no examples under processes/");
    assert_eq!(report.failed(), 0, "\n{report}");
    Ok(())
}

#[tokio::test]
async fn failures_show_expected_and_actual() -> anyhow::Result<()> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/documents");
    let templates = Templates::load(&fixtures.join("templates"))?;
    let report = run_paths(&[fixtures.join("notice.yaml")], templates)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = report.to_string();
    assert_eq!((report.passed(), report.failed()), (2, 3), "{text}");
    for expected in [
        "失败  fixtures.documents「故意写错的期望」",
        "notice.tests.yaml:",
        "材料 roster：期望 需要提交，实际 不需要提交",
        "有错误的字段：期望 [name]，实际 []",
        "办件结果：期望 办结，实际 active",
        "待办任务：期望 [accept]，实际 []",
        "出具的文书：期望 []，实际 [supplement_notice]",
        "办件数据 data.joint_fund：期望 true，实际 （无）",
        "run 第2步（complete accept → accept）：期望 成功，实际 步骤 accept 没有待办任务（当前待办：[]）",
        "「故意不写二次补正理由」",
        "run 第3步（complete accept → supplement）：期望 成功，实际 本次补正要求的材料“住房公积金汇缴变更清册”不在首次一次性补正告知书中，属于二次补正",
    ] {
        assert!(text.contains(expected), "{expected}\n---\n{text}");
    }
    assert!(text.ends_with("2 passed, 3 failed"), "{text}");
    Ok(())
}
