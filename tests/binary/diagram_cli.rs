//! `lianban diagram` drives the real binary: the map of a shipped definition on stdout, a
//! given version, and a clear Chinese error with exit status 1 for an unknown process or
//! version, and a version the service stored read back with `--db`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn diagram(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lianban"))
        .arg("diagram")
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run lianban diagram")
}

#[test]
fn diagram_writes_the_map_as_svg() {
    let out = diagram(&["--process", "yangcheng.retirement"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains("<title>阳城县企业职工退休“一件事一次办” 流程图"));
    assert!(svg.contains("退休信息确认、") && svg.trim_end().ends_with("</svg>"));
    let v5 = diagram(&["--process", "yangcheng.retirement", "--version", "5"]);
    assert!(v5.status.success());
    assert_eq!(String::from_utf8_lossy(&v5.stdout), svg);
}

#[test]
fn unknown_process_or_version_is_a_clear_error() {
    let out = diagram(&["--process", "nowhere.retirement"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("没有流程 nowhere.retirement"), "{err}");
    assert!(out.stdout.is_empty());
    let out = diagram(&["--process", "yangcheng.retirement", "--version", "9"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("第 9 版") && err.contains("--db"), "{err}");
}

/// A version the service stored but that is no longer under `processes/` comes from `--db`.
#[test]
fn a_stored_version_is_drawn_from_the_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("lianban.db").display()
    );
    let migrated = Command::new(env!("CARGO_BIN_EXE_lianban"))
        .args(["migrate", "--db", &url])
        .current_dir(repo_root())
        .output()
        .expect("run migrate");
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let templates =
        lianban::documents::Templates::load(&repo_root().join("templates")).expect("templates");
    let mut process = lianban::definition::load_paths(&[repo_root().join("processes")], &templates)
        .expect("load")
        .into_iter()
        .find(|p| p.id == "yangcheng.retirement")
        .expect("shipped");
    // An older version 7 with a step renamed (in the base it extends), as the database
    // would keep it.
    process.version = 7;
    if let Some(main) = process.sources.first_mut() {
        main.text = main.text.replacen("version: 5\n", "version: 7\n", 1);
    }
    if let Some(base) = process
        .sources
        .iter_mut()
        .find(|s| s.path.ends_with("shanxi/retirement.yaml"))
    {
        base.text = base
            .text
            .replacen("name: 办结送达", "name: 办结并送达申请人", 1);
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let store = lianban::store::Store::connect(&url).await.expect("connect");
            store
                .definitions()
                .register(&process)
                .await
                .expect("register");
        });
    let out = diagram(&[
        "--process",
        "yangcheng.retirement",
        "--version",
        "7",
        "--db",
        &url,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = String::from_utf8_lossy(&out.stdout);
    assert!(
        svg.contains("第 7 版") && svg.contains("办结并送达申请人"),
        "{svg}"
    );
    let missing = diagram(&[
        "--process",
        "yangcheng.retirement",
        "--version",
        "8",
        "--db",
        &url,
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .contains("数据库中没有流程 yangcheng.retirement 的第 8 版")
    );
}
