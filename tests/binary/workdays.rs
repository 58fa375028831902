//! Acceptance tests of working-day calendars through the real `lianban` binary:
//! `lianban workdays` against the shipped `cn-mainland` calendar, and `lianban check`
//! reporting calendar problems and unknown calendar names with positions.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn workdays(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lianban"))
        .arg("workdays")
        .args(["--calendar", "cn-mainland"])
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run lianban workdays")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn failure(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn adding_working_days_crosses_national_day_and_counts_makeup_weekends() {
    // 2026-10-01…07 off; 10-08 (Thursday) is the first working day back.
    assert_eq!(
        stdout(&workdays(&["--from", "2026-09-30", "--add", "1"])),
        "2026-10-08"
    );
    // 2026-10-10 is a Saturday worked in exchange (调休).
    assert_eq!(
        stdout(&workdays(&["--from", "2026-10-09", "--add", "1"])),
        "2026-10-10"
    );
    // The Friday before the 2025 break: next is the 调休 Sunday 09-28.
    assert_eq!(
        stdout(&workdays(&["--from", "2025-09-26", "--add", "1"])),
        "2025-09-28"
    );
    assert_eq!(
        stdout(&workdays(&["--from", "2026-10-08", "--add", "-1"])),
        "2026-09-30"
    );
}

#[test]
fn between_counts_the_working_days_after_a_up_to_and_including_b() {
    for year in ["2025", "2026"] {
        let (a, b) = (format!("{year}-01-01"), format!("{year}-12-31"));
        assert_eq!(stdout(&workdays(&["--between", &a, &b])), "248", "{year}");
    }
    assert_eq!(
        stdout(&workdays(&["--between", "2026-09-30", "2026-10-08"])),
        "1"
    );
}

/// Before the first notice (2025) and past the provisional rule's horizon (2037) there is
/// nothing to count from.
#[test]
fn a_year_without_calendar_data_fails_naming_the_year() {
    for (args, year) in [
        (&["--from", "2025-01-02", "--add", "-2"][..], "2024 年"),
        (&["--between", "2024-12-01", "2025-01-31"][..], "2024 年"),
        (&["--from", "2037-12-31", "--add", "1"][..], "2038 年"),
    ] {
        let stderr = failure(&workdays(args));
        assert!(stderr.contains(year), "{args:?}: {stderr}");
    }
}

/// 2027 has no notice yet: the answer is counted from the law's holidays, and stderr says
/// it is provisional while stdout keeps the bare value.
#[test]
fn a_year_without_a_notice_is_counted_provisionally_and_says_so() {
    // 2027-01-01 (Friday, 元旦) is off; the next working day is Monday 01-04.
    let out = workdays(&["--from", "2026-12-31", "--add", "1"]);
    assert_eq!(stdout(&out), "2027-01-04");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("暂定：2027 年"), "{stderr}");
    let out = workdays(&["--from", "2026-12-01", "--add", "3"]);
    assert_eq!(stdout(&out), "2026-12-04");
    assert!(out.stderr.is_empty(), "{out:?}");
}

#[test]
fn an_unknown_calendar_or_a_bad_query_fails() {
    let out = Command::new(env!("CARGO_BIN_EXE_lianban"))
        .args([
            "workdays",
            "--calendar",
            "cn-mainlnd",
            "--from",
            "2026-01-05",
            "--add",
            "1",
        ])
        .current_dir(repo_root())
        .output()
        .expect("run");
    let stderr = failure(&out);
    assert!(stderr.contains("cn-mainland"), "{stderr}");
    let out = workdays(&["--from", "2026-13-01", "--add", "1"]);
    assert!(!out.status.success());
}

const MINIMAL: &str = r#"id: cal.minimal
version: 1
name: 最小流程
calendar: CALENDAR
departments:
  shebao: {name: 社保中心}
roles:
  clerk: {name: 经办人, department: shebao}
steps:
  - id: accept
    name: 受理
    type: task
    role: clerk
    due: 1 workday
    outcomes:
      ok: {label: 办结, to: done}
  - {id: done, name: 办结, type: end, result: 办结}
"#;

/// A processes directory holding the shipped calendar and one definition naming `calendar`.
fn processes_dir(calendar: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("calendars")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("county")).expect("mkdir");
    std::fs::copy(
        repo_root().join("processes/calendars/cn-mainland.yaml"),
        dir.path().join("calendars/cn-mainland.yaml"),
    )
    .expect("copy calendar");
    std::fs::write(
        dir.path().join("county/minimal.yaml"),
        MINIMAL.replace("CALENDAR", calendar),
    )
    .expect("write");
    dir
}

fn check(dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lianban"))
        .arg("check")
        .arg(dir)
        .arg("--templates")
        .arg(dir)
        .output()
        .expect("run check")
}

#[test]
fn check_resolves_the_calendar_and_reports_an_unknown_one_with_a_hint() {
    let dir = processes_dir("cn-mainland");
    let out = check(dir.path());
    assert!(stdout(&out).contains("cal.minimal"));

    let dir = processes_dir("cn-mainlnd");
    let stderr = failure(&check(dir.path()));
    let file = dir.path().join("county/minimal.yaml");
    let expected = format!("{}:4:11: error[E-UNKNOWN-CALENDAR]", file.display());
    assert!(stderr.contains(&expected), "{expected} in:\n{stderr}");
    assert!(stderr.contains("是不是想写 `cn-mainland`"), "{stderr}");
}

#[test]
fn check_and_workdays_report_a_bad_calendar_file_with_its_position() {
    let dir = processes_dir("cn-mainland");
    let path = dir.path().join("calendars/cn-mainland.yaml");
    let text = std::fs::read_to_string(&path).expect("read");
    // 2026-10-09 is a Friday: not a weekend day, so it cannot be a 调休 working day.
    let bad = text.replace("      - 2026-10-10", "      - 2026-10-09");
    assert_ne!(bad, text);
    std::fs::write(&path, &bad).expect("write");
    let line = bad
        .lines()
        .position(|l| l.contains("2026-10-09"))
        .expect("line")
        + 1;
    let expected = format!("{}:{line}:9: error[E-CALENDAR]", path.display());
    let stderr = failure(&check(dir.path()));
    assert!(stderr.contains(&expected), "{expected} in:\n{stderr}");
    assert!(stderr.contains("星期五"), "{stderr}");
    assert!(!stderr.contains("E-UNKNOWN-CALENDAR"), "{stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_lianban"))
        .args([
            "workdays",
            "--calendar",
            "cn-mainland",
            "--between",
            "2026-01-01",
            "2026-12-31",
        ])
        .arg("--processes")
        .arg(dir.path())
        .output()
        .expect("run");
    let stderr = failure(&out);
    assert!(stderr.contains(&expected), "{expected} in:\n{stderr}");
}
