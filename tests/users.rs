//! Acceptance tests of `lianban user …` on a real SQLite file: the password comes from
//! standard input, weak passwords are refused, and `list` shows a disabled account.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

fn user(db: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lianban"))
        .arg("user")
        .args(args)
        .args(["--db", db])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lianban user");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write password");
    child.wait_with_output().expect("wait")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn add_list_disable_and_passwd() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("u.db").display());
    let add = |username: &str, role: &str, password: &str| {
        user(
            &db,
            &[
                "add",
                "--username",
                username,
                "--department",
                "yibao",
                "--role",
                role,
                "--name",
                "王医保",
            ],
            password,
        )
    };

    let out = add("yibao_wang", "clerk", "医保窗口-2026\n");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !text(&out).contains("医保窗口-2026"),
        "password echoed: {}",
        text(&out)
    );

    for (weak, why) in [("\n", "至少需要 8 个字符"), ("12345678\n", "过于简单")] {
        let out = add("yibao_li", "clerk", weak);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains(why), "{}", text(&out));
    }
    let out = add("yibao_wang", "clerk", "another-pass-1\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("已被使用"), "{}", text(&out));
    let out = add("yibao_zhao", "boss", "another-pass-1\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("未知角色"), "{}", text(&out));

    let list = user(&db, &["list"], "");
    let listed = text(&list);
    assert!(list.status.success(), "{listed}");
    let line = listed
        .lines()
        .find(|l| l.starts_with("yibao_wang"))
        .unwrap_or_else(|| panic!("account missing: {listed}"));
    assert!(line.contains("王医保") && line.contains("yibao") && line.contains("clerk"));
    assert!(line.contains("正常"), "{line}");
    assert!(!listed.contains("argon2"), "hash leaked: {listed}");

    let out = user(&db, &["disable", "yibao_wang"], "");
    assert!(out.status.success(), "{}", text(&out));
    let listed = text(&user(&db, &["list"], ""));
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("yibao_wang") && l.contains("已停用")),
        "{listed}"
    );
    let out = user(&db, &["disable", "nobody"], "");
    assert_eq!(out.status.code(), Some(1));

    let out = user(&db, &["passwd", "yibao_wang"], "short\n");
    assert_eq!(out.status.code(), Some(1));
    let out = user(&db, &["passwd", "yibao_wang"], "新的医保密码-2027\n");
    assert!(out.status.success(), "{}", text(&out));
}
