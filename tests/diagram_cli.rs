//! `lianban diagram` drives the real binary: the map of a shipped definition on stdout, a
//! given version, and a clear Chinese error with exit status 1 for an unknown process or
//! version.

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
    let v1 = diagram(&["--process", "yangcheng.retirement", "--version", "1"]);
    assert!(v1.status.success());
    assert_eq!(String::from_utf8_lossy(&v1.stdout), svg);
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
