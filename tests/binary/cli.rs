//! Acceptance tests that drive the real `lianban` binary: `check`, `migrate` and `serve`
//! (with reload on SIGHUP and through the admin call, the database settings it runs with,
//! and its hint when there is no account yet) on a real SQLite file; bad settings.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lianban"))
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

const MINIMAL: &str = r#"id: cli.minimal
version: 1
name: 最小流程
departments:
  shebao: {name: 社保中心}
roles:
  clerk: {name: 经办人, department: shebao}
steps:
  - id: accept
    name: 受理
    type: task
    role: clerk
    outcomes:
      ok: {label: 办结, to: done}
  - {id: done, name: 办结, type: end, result: 办结}
"#;

#[test]
fn check_accepts_the_shipped_definitions() {
    let out = bin()
        .arg("check")
        .current_dir(repo_root())
        .output()
        .expect("run check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "check failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.lines().any(|l| l.contains("examples.demo")),
        "{stdout}"
    );
}

#[test]
fn check_reports_a_typo_with_position_and_hint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("typo.yaml");
    std::fs::write(&file, MINIMAL.replace("name: 最小流程", "nmae: 最小流程")).expect("write");
    let out = bin()
        .args(["check", file.to_str().expect("utf8 path"), "--templates"])
        .arg(dir.path())
        .output()
        .expect("run check");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!("{}:3:1: error[E-UNKNOWN-KEY]", file.display());
    assert!(
        stderr.contains(&expected),
        "expected {expected} in:\n{stderr}"
    );
    assert!(
        stderr.contains("`name`"),
        "did-you-mean hint missing:\n{stderr}"
    );
}

#[test]
fn check_warns_of_case_data_without_a_label() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("labels.yaml");
    let unlabeled = MINIMAL.replace(
        "ok: {label: 办结, to: done}",
        "ok: {label: 办结, to: done, set: {closed_on: today, checked: 'true'}}",
    );
    std::fs::write(&file, format!("{unlabeled}labels:\n  checked: 已核对\n")).expect("write");
    let out = bin()
        .args(["check", file.to_str().expect("utf8 path"), "--templates"])
        .arg(dir.path())
        .output()
        .expect("run check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // A warning: the check passes, and names the key and where it is written.
    assert!(out.status.success(), "{stdout}");
    let expected = format!(
        "{}:14: warning[W-UNLABELED-DATA]: steps[0].outcomes.ok.set.closed_on 写入的办理数据 `closed_on` 没有中文标签",
        file.display()
    );
    assert!(
        stdout.contains(&expected),
        "expected {expected} in:\n{stdout}"
    );
    assert!(stdout.contains("labels:"), "the hint: {stdout}");
    assert!(
        !stdout.contains("`checked`"),
        "a labelled key is fine: {stdout}"
    );
}

#[test]
fn migrate_falls_back_to_the_environment_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("env.db");
    let out = bin()
        .arg("migrate")
        .env(
            "LIANBAN_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", db.display()),
        )
        .output()
        .expect("run migrate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.exists(), "database file not created");
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn start_server(dir: &Path) -> Server {
    let port = free_port();
    let mut child = bin()
        .arg("serve")
        .arg("--db")
        .arg(format!(
            "sqlite://{}?mode=rwc",
            dir.join("data/lianban.db").display()
        ))
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .arg("--processes")
        .arg(dir.join("processes"))
        .arg("--templates")
        .arg(dir.join("templates"))
        .args(["--admin-token", "s3cret"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    // The server logs "listening" once the socket accepts; read stderr until then.
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "serve did not start");
        match lines.next() {
            Some(Ok(line)) if line.contains("listening") => break,
            Some(Ok(_)) => continue,
            _ => panic!("serve exited before listening: {:?}", child.try_wait()),
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

fn versions(server: &Server) -> Vec<u64> {
    // The list is for callers signed in; the server was started with an admin token.
    let body: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("{}/api/v1/processes", server.base))
        .bearer_auth("s3cret")
        .send()
        .expect("GET processes")
        .json()
        .expect("json");
    body["processes"]
        .as_array()
        .expect("processes array")
        .iter()
        .filter(|p| p["id"] == "cli.minimal")
        .filter_map(|p| p["version"].as_u64())
        .collect()
}

#[test]
fn serve_creates_the_database_and_reloads_safely() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("processes")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("templates")).expect("mkdir");
    let def = dir.path().join("processes/minimal.yaml");
    std::fs::write(&def, MINIMAL).expect("write");
    let server = start_server(dir.path());
    assert!(dir.path().join("data/lianban.db").exists());
    assert_eq!(versions(&server), vec![1]);

    let client = reqwest::blocking::Client::new();
    let reload = format!("{}/api/v1/admin/reload", server.base);
    let anonymous = client.post(&reload).send().expect("POST reload");
    assert_eq!(anonymous.status().as_u16(), 401);

    // A broken edit is refused and the running definition stays.
    std::fs::write(&def, MINIMAL.replace("to: done", "to: dnoe")).expect("write");
    let refused = client
        .post(&reload)
        .bearer_auth("s3cret")
        .send()
        .expect("POST reload");
    assert_eq!(refused.status().as_u16(), 422);
    let problem: serde_json::Value = refused.json().expect("problem json");
    assert_eq!(problem["type"], "validation");
    let diagnostics = problem["diagnostics"].to_string();
    assert!(diagnostics.contains("E-UNKNOWN-STEP"), "{diagnostics}");
    assert_eq!(versions(&server), vec![1]);

    // A new version through SIGHUP.
    let v2 = MINIMAL
        .replace("version: 1", "version: 2")
        .replace("最小流程", "最小流程（二版）");
    std::fs::write(&def, v2).expect("write");
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while versions(&server) != vec![2] {
        assert!(
            Instant::now() < deadline,
            "SIGHUP reload did not take effect"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let ok = client
        .post(&reload)
        .bearer_auth("s3cret")
        .send()
        .expect("POST reload");
    assert_eq!(ok.status().as_u16(), 200);
}

/// Starts `serve` on a fresh SQLite file in `dir` with `env` set, and returns what it
/// logged up to "listening"; the server is stopped afterwards.
fn startup_log(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Vec<String> {
    std::fs::create_dir_all(dir.join("processes")).expect("mkdir");
    std::fs::create_dir_all(dir.join("templates")).expect("mkdir");
    std::fs::write(dir.join("processes/minimal.yaml"), MINIMAL).expect("write");
    let mut command = bin();
    command
        .arg("serve")
        .arg("--db")
        .arg(dir.join("settings.db"))
        .args(["--bind", &format!("127.0.0.1:{}", free_port())])
        .arg("--processes")
        .arg(dir.join("processes"))
        .arg("--templates")
        .arg(dir.join("templates"))
        .args(args)
        .env_remove("LIANBAN_SQLITE_SYNCHRONOUS")
        .env_remove("LIANBAN_DB_MAX_CONNECTIONS")
        .env_remove("LIANBAN_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut server = Server {
        child: command.spawn().expect("spawn serve"),
        base: String::new(),
    };
    let stderr = server.child.stderr.take().expect("stderr");
    let mut log = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("stderr line");
        let listening = line.contains("listening");
        log.push(line);
        if listening {
            return log;
        }
    }
    panic!("serve exited before listening:\n{}", log.join("\n"));
}

/// The line that states the connection settings read back from the database.
fn database_line(log: &[String]) -> &str {
    log.iter()
        .find(|l| l.contains("database opened"))
        .unwrap_or_else(|| panic!("no database line in:\n{}", log.join("\n")))
}

#[test]
fn serve_connects_with_the_database_settings_of_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = startup_log(
        dir.path(),
        &[
            ("LIANBAN_SQLITE_SYNCHRONOUS", "NORMAL"),
            ("LIANBAN_DB_MAX_CONNECTIONS", "3"),
        ],
        &[],
    );
    // Read back from a pooled connection (PRAGMA synchronous) and from the pool itself.
    let line = database_line(&log);
    assert!(line.contains("synchronous=normal"), "{line}");
    assert!(line.contains("max_connections=3"), "{line}");
    assert!(line.contains("backend=sqlite"), "{line}");

    // Without them: the documented defaults.
    let dir = tempfile::tempdir().expect("tempdir");
    let log = startup_log(dir.path(), &[], &[]);
    let line = database_line(&log);
    assert!(line.contains("synchronous=full"), "{line}");
    assert!(line.contains("max_connections=8"), "{line}");
}

#[test]
fn serve_without_accounts_says_how_to_create_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = startup_log(dir.path(), &[], &[]).join("\n");
    assert!(log.contains("no accounts yet"), "{log}");
    assert!(log.contains("lianban user add"), "{log}");
    assert!(log.contains("lianban serve --demo"), "{log}");

    // Once there are accounts (here the demo ones), the hint is gone.
    let log = startup_log(dir.path(), &[], &["--demo"]).join("\n");
    assert!(!log.contains("no accounts yet"), "{log}");
}

#[test]
fn a_bad_setting_stops_the_command_and_names_its_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("never.db");
    for (name, value) in [
        ("LIANBAN_SQLITE_SYNCHRONOUS", "off"),
        ("LIANBAN_DB_MAX_CONNECTIONS", "0"),
        ("LIANBAN_DB_MAX_CONNECTIONS", "many"),
        ("LIANBAN_LOG", "info,sqlx=loud"),
    ] {
        for command in ["serve", "migrate"] {
            let mut run = bin();
            run.arg(command).arg("--db").arg(&db).env(name, value);
            if command == "serve" {
                // Should the setting be accepted, serve fails at once instead of running on.
                run.args(["--bind", "256.0.0.1:1"]);
            }
            let out = run.output().expect("run");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                !out.status.success(),
                "{command} with {name}={value} ran:\n{stderr}"
            );
            assert!(
                stderr.contains(name),
                "{command} with {name}={value}:\n{stderr}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
    assert!(!db.exists(), "a refused setting must not open the database");
}
