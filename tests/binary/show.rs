//! `lianban show --process ID --resolved`: the merged definition (shanxi base + county
//! overlay), each value with the `file:line` it is written at, so a policy officer sees
//! which values the county writes and which it inherits.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn show(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lianban"))
        .arg("show")
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run lianban show")
}

/// The 1-based line of `file` that starts (after indentation) with `start`.
fn line_of(file: &str, start: &str) -> usize {
    let text = std::fs::read_to_string(repo_root().join(file)).expect("definition file");
    text.lines()
        .position(|l| l.trim_start().starts_with(start))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{file} has no line starting with {start}"))
}

#[test]
fn show_resolved_names_where_each_value_comes_from() {
    let out = show(&["--process", "qinshui.retirement", "--resolved"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.contains("qinshui.retirement")
            && first
                .contains("processes/qinshui/retirement.yaml ← processes/shanxi/retirement.yaml"),
        "the header names the chain: {first}"
    );
    // The county's own name, from its file; the calendar, inherited from the base.
    let name = text
        .lines()
        .find(|l| l.starts_with("name: 沁水县"))
        .expect("the name line");
    let own = format!(
        "# processes/qinshui/retirement.yaml:{}",
        line_of("processes/qinshui/retirement.yaml", "name: 沁水县")
    );
    assert!(name.ends_with(&own), "{name} should end with {own}");
    let calendar = text
        .lines()
        .find(|l| l.starts_with("calendar: "))
        .expect("the calendar line");
    let base = format!(
        "# processes/shanxi/retirement.yaml:{}",
        line_of("processes/shanxi/retirement.yaml", "calendar:")
    );
    assert!(
        calendar.ends_with(&base),
        "{calendar} should end with {base}"
    );
    // Steps the base writes carry the base's lines, nested as YAML.
    assert!(text.contains("\n  - id: accept"), "{text}");
    assert!(
        text.lines().filter(|l| l.contains("# processes/")).count() > 300,
        "every value is placed"
    );

    // Without --resolved: the county's own file, with a pointer to the merged view.
    let plain = show(&["--process", "qinshui.retirement"]);
    let plain = String::from_utf8_lossy(&plain.stdout);
    assert!(plain.starts_with("# processes/qinshui/retirement.yaml：继承 shanxi.retirement"));
    assert!(plain.contains("extends: shanxi.retirement"));

    let unknown = show(&["--process", "nowhere.retirement", "--resolved"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("没有流程 nowhere.retirement"));
}
