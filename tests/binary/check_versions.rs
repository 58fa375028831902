//! `lianban check --db`: the version rule checked before a deployment. A change to the
//! shared base is a content change of every county extending it; the check against a
//! database refuses it for a county whose version cases already run on, names the chain,
//! and passes once that county's version is raised.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lianban::app::{App, Settings};
use lianban::runtime::Actor;
use serde_json::json;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn check(processes: &Path, url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lianban"))
        .arg("check")
        .arg(processes)
        .arg("--templates")
        .arg(repo_root().join("templates"))
        .args(["--db", url])
        .output()
        .expect("run lianban check")
}

/// Starts one 泽州 case, so its version 1 is pinned in the database.
fn start_a_zezhou_case(processes: &Path, url: &str) {
    let mut settings = Settings::new(url.to_owned());
    settings.processes_dir = processes.to_path_buf();
    settings.templates_dir = repo_root().join("templates");
    let form = json!({
        "name": "李四", "gender": "女", "id_number": "140525197003201025", "birth": "1970-03",
        "address": "泽州县南村镇", "post": "灵活就业", "phone": "13800000001", "veteran": false,
        "item": "企业职工正常退休信息确认、待遇计发", "delivery": "现场自取",
        "retirement_type": "正常退休"
    });
    let form = form.as_object().cloned().expect("an object");
    let clerk = Actor {
        user: "zz_li".into(),
        department: Some("shebao".into()),
        on_behalf_of: None,
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let app = App::build(settings).await.expect("app");
            app.engine()
                .start_case("zezhou.retirement", form, vec![], &clerk)
                .await
                .expect("a case starts");
        });
}

#[test]
fn a_base_change_is_refused_for_a_county_with_cases_until_its_version_is_raised() {
    let dir = tempfile::tempdir().expect("temp dir");
    let processes = dir.path().join("processes");
    crate::files::copy_dir(&repo_root().join("processes"), &processes).expect("copy processes/");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("lianban.db").display()
    );
    start_a_zezhou_case(&processes, &url);

    let unchanged = check(&processes, &url);
    assert!(
        unchanged.status.success(),
        "{}",
        String::from_utf8_lossy(&unchanged.stderr)
    );

    // A national value changed once, in the base.
    let base = processes.join("shanxi/retirement.yaml");
    let text = std::fs::read_to_string(&base).expect("base");
    let national = "min_contribution_years_until_2029:\n    value: 15\n";
    assert!(text.contains(national));
    std::fs::write(
        &base,
        text.replacen(
            national,
            "min_contribution_years_until_2029:\n    value: 16\n",
            1,
        ),
    )
    .expect("write base");
    let refused = check(&processes, &url);
    assert_eq!(refused.status.code(), Some(1));
    let out = String::from_utf8_lossy(&refused.stdout);
    assert!(
        out.contains("须各自把 version 加一：qinshui.retirement v5、yangcheng.retirement v5、zezhou.retirement v3"),
        "the base lists what it affects: {out}"
    );
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("zezhou/retirement.yaml: error[E-VERSION]")
            && err.contains("含继承的 shanxi.retirement")
            && err.contains("version 改为 4"),
        "{err}"
    );
    // Counties without cases on their version may still be replaced in place.
    assert!(
        !err.contains("yangcheng") && !err.contains("qinshui"),
        "{err}"
    );

    // Raising 泽州's version is what the rule asks for.
    let county = processes.join("zezhou/retirement.yaml");
    let text = std::fs::read_to_string(&county).expect("county");
    std::fs::write(&county, text.replacen("version: 3\n", "version: 4\n", 1)).expect("write");
    let raised = check(&processes, &url);
    assert!(
        raised.status.success(),
        "{}",
        String::from_utf8_lossy(&raised.stderr)
    );
}

#[test]
fn a_database_never_migrated_is_named_as_such() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("new.db").display());
    let out = check(&repo_root().join("processes"), &url);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("迁移尚未执行") && text.contains("lianban migrate"),
        "{text}"
    );
    assert!(!text.contains("no such table"), "{text}");
}
