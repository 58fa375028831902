//! Acceptance tests that drive the real `lianban` binary: `check`, `migrate` and `serve`
//! (with reload on SIGHUP and through the admin call) on a real SQLite file.

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
    let body: serde_json::Value =
        reqwest::blocking::get(format!("{}/api/v1/processes", server.base))
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
