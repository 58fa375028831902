//! Acceptance tests of `lianban user …` and `lianban apikey …` on a real SQLite file: the
//! password comes from standard input, weak passwords are refused, `list` shows a disabled
//! account, a department is checked against the definitions (several counties declaring it
//! need `--county`), and an API key is printed once, works on a server and stops working
//! when revoked; `user away` / `back` / `absences` record, refuse and end an absence.

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

    // The name printed as 经办人 is editable.
    let out = user(&db, &["rename", "yibao_wang", "--name", "王丽"], "");
    assert!(out.status.success(), "{}", text(&out));
    let listed = text(&user(&db, &["list"], ""));
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("yibao_wang") && l.contains("王丽")),
        "{listed}"
    );
    assert_eq!(
        user(&db, &["rename", "nobody", "--name", "某人"], "")
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        user(&db, &["rename", "yibao_wang", "--name", "  "], "")
            .status
            .code(),
        Some(1)
    );

    let out = user(&db, &["passwd", "yibao_wang"], "short\n");
    assert_eq!(out.status.code(), Some(1));
    let out = user(&db, &["passwd", "yibao_wang"], "新的医保密码-2027\n");
    assert!(out.status.success(), "{}", text(&out));
}

/// `serve --demo` seeds one clerk per department of the loaded definitions, a supervisor
/// and an admin, prints each password once, and a printed password signs in.
#[test]
fn serve_demo_prints_working_passwords_once() {
    use std::io::{BufRead as _, BufReader};

    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("d.db").display());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let serve = |demo: bool| {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_lianban"));
        command
            .args(["serve", "--db", &db, "--bind", &format!("127.0.0.1:{port}")])
            .arg("--processes")
            .arg(root.join("processes/examples"))
            .arg("--templates")
            .arg(root.join("templates"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if demo {
            command.arg("--demo");
        }
        let mut child = command.spawn().expect("spawn serve");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("listening") => break,
                Some(Ok(_)) => continue,
                _ => panic!("serve exited before listening: {:?}", child.try_wait()),
            }
        }
        std::thread::spawn(move || for _ in lines {});
        (child, format!("http://127.0.0.1:{port}"))
    };
    let stop = |mut child: std::process::Child| {
        let _ = child.kill();
        let out = child.wait_with_output().expect("wait");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    let (child, _) = serve(false);
    let plain = stop(child);
    assert!(
        !plain.contains("密码"),
        "no demo accounts by default: {plain}"
    );

    let (child, base) = serve(true);
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = client
        .get(format!("{base}/login"))
        .send()
        .expect("login page");
    let csrf = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("lianban_login_csrf="))
        .and_then(|v| v.split(';').next())
        .expect("csrf cookie")
        .to_owned();
    let printed = stop(child);
    for user in [
        "jiuye_clerk",
        "shebao_clerk",
        "caizheng_clerk",
        "supervisor",
        "admin",
    ] {
        assert!(
            printed.lines().any(|l| l.trim_start().starts_with(user)),
            "{user} missing: {printed}"
        );
    }
    let line = printed
        .lines()
        .find(|l| l.trim_start().starts_with("shebao_clerk"))
        .unwrap_or_default();
    let password = line
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(password.len(), 16, "{line}");

    // The printed password signs in (on a fresh server over the same database).
    let (child, base) = serve(true);
    let reply = client
        .post(format!("{base}/login"))
        .header("accept", "application/json")
        .header("cookie", format!("lianban_login_csrf={csrf}"))
        .form(&[
            ("username", "shebao_clerk"),
            ("password", &password),
            ("csrf", &csrf),
        ])
        .send()
        .expect("login");
    let status = reply.status().as_u16();
    let again = stop(child);
    assert_eq!(status, 200);
    assert!(
        again.contains("均已存在"),
        "passwords are shown only once: {again}"
    );
    assert!(!again.contains(&password));
}

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn lianban(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lianban"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lianban");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

/// `user add` checks the department against the definitions: one that several counties
/// declare needs `--county`, and the account keeps its county.
#[test]
fn user_add_checks_department_and_county() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
    let processes = repo().join("processes");
    let templates = repo().join("templates");
    let add = |username: &str, department: &str, county: Option<&str>| {
        let mut args = vec![
            "user",
            "add",
            "--db",
            &db,
            "--username",
            username,
            "--department",
            department,
            "--role",
            "clerk",
            "--processes",
            processes.to_str().unwrap_or_default(),
            "--templates",
            templates.to_str().unwrap_or_default(),
        ];
        if let Some(county) = county {
            args.extend(["--county", county]);
        }
        lianban(&args, "阳城社保窗口-2026\n")
    };

    let out = add("shebao_wang", "shebao", None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("多个县区")
            && text(&out).contains("examples、qinshui、yangcheng、zezhou"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("--county"), "{}", text(&out));
    let out = add("gongan_wang", "gongan", Some("yangcheng"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("qinshui"), "{}", text(&out));
    let out = add("nobody_wang", "renshe", None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("没有任何流程定义"), "{}", text(&out));

    let out = add("yc_shebao_wang", "shebao", Some("yangcheng"));
    assert!(out.status.success(), "{}", text(&out));
    // A department only one county declares needs no county.
    let out = add("qs_gongan_li", "gongan", None);
    assert!(out.status.success(), "{}", text(&out));
    let listed = text(&user(&db, &["list"], ""));
    let line = listed
        .lines()
        .find(|l| l.starts_with("yc_shebao_wang"))
        .unwrap_or_default();
    assert!(line.contains("yangcheng"), "{listed}");
    let line = listed
        .lines()
        .find(|l| l.starts_with("qs_gongan_li"))
        .unwrap_or_default();
    assert!(line.contains("全部"), "{listed}");

    let out = lianban(
        &[
            "user",
            "add",
            "--db",
            &db,
            "--username",
            "x_wang",
            "--department",
            "shebao",
            "--role",
            "clerk",
            "--processes",
            "/nonexistent/processes",
        ],
        "阳城社保窗口-2026\n",
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("无法加载流程定义"), "{}", text(&out));
}

/// `apikey create` prints only the key; the key works on a server over the same database
/// until `apikey revoke`; `apikey list` never shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apikey_create_list_use_and_revoke() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("k.db").display());
    let processes = repo().join("processes/examples");
    let templates = repo().join("templates");
    let create = |name: &str, department: &str| {
        lianban(
            &[
                "apikey",
                "create",
                "--db",
                &db,
                "--department",
                department,
                "--name",
                name,
                "--processes",
                processes.to_str().unwrap_or_default(),
                "--templates",
                templates.to_str().unwrap_or_default(),
            ],
            "",
        )
    };
    let out = create("jiuye-system", "jiuye");
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let key = stdout.trim().to_owned();
    assert_eq!(
        stdout.lines().count(),
        1,
        "only the key on stdout: {stdout}"
    );
    assert!(key.starts_with("lbk_") && key.len() == 68, "{key}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("只显示这一次"));
    let again = create("jiuye-system", "jiuye");
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again).contains("已被使用"), "{}", text(&again));
    let unknown = create("renshe-system", "renshe");
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown).contains("没有任何流程定义"),
        "{}",
        text(&unknown)
    );
    let bad_name = create("医保 系统", "jiuye");
    assert_eq!(bad_name.status.code(), Some(1));

    let list = || text(&lianban(&["apikey", "list", "--db", &db], ""));
    let listed = list();
    let line = listed
        .lines()
        .find(|l| l.starts_with("jiuye-system"))
        .unwrap_or_default();
    assert!(
        line.contains("jiuye") && line.contains("从未") && line.contains("有效"),
        "{listed}"
    );
    assert!(!listed.contains(&key[4..20]), "key leaked: {listed}");

    // A server over the same database takes the key.
    let mut settings = lianban::app::Settings::new(db.clone());
    settings.processes_dir = processes.clone();
    settings.templates_dir = templates.clone();
    let app = lianban::app::App::build(settings).await.expect("app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let router = lianban::web::router(app);
    let server = tokio::spawn(async move {
        let _ = lianban::web::serve(listener, router, std::future::pending()).await;
    });
    let client = reqwest::Client::new();
    let inbox = || {
        client
            .get(format!("{base}/api/v1/inbox"))
            .bearer_auth(&key)
            .send()
    };
    assert_eq!(inbox().await.expect("inbox").status(), 200);
    assert!(
        list()
            .lines()
            .any(|l| l.starts_with("jiuye-system") && !l.contains("从未")),
        "last use noted"
    );

    let out = lianban(
        &["apikey", "revoke", "--db", &db, "--name", "jiuye-system"],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(inbox().await.expect("inbox").status(), 401);
    assert!(list().contains("已吊销"));
    let out = lianban(
        &["apikey", "revoke", "--db", &db, "--name", "jiuye-system"],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    server.abort();
}

/// `apikey create --intake --county C --name 一网通办` makes an intake key: a county is
/// required and checked, `--department` is refused beside it, a Chinese name is fine, and
/// on a server the key reads its county's start forms but has no inbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apikey_create_intake() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("i.db").display());
    let processes = repo().join("processes/examples");
    let templates = repo().join("templates");
    let create = |extra: &[&str]| {
        let mut args = vec![
            "apikey",
            "create",
            "--db",
            &db,
            "--processes",
            processes.to_str().unwrap_or_default(),
            "--templates",
            templates.to_str().unwrap_or_default(),
        ];
        args.extend_from_slice(extra);
        lianban(&args, "")
    };
    let no_county = create(&["--intake", "--name", "一网通办"]);
    assert_eq!(no_county.status.code(), Some(1));
    assert!(
        text(&no_county).contains("--county"),
        "{}",
        text(&no_county)
    );
    let unknown = create(&["--intake", "--county", "nowhere", "--name", "一网通办"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown).contains("examples"), "{}", text(&unknown));
    let both = create(&["--intake", "--department", "jiuye", "--county", "examples"]);
    assert_eq!(both.status.code(), Some(2), "{}", text(&both));
    let out = create(&["--intake", "--county", "examples", "--name", "一网通办"]);
    assert!(out.status.success(), "{}", text(&out));
    let key = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(key.starts_with("lbk_"), "{key}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("收件密钥"),
        "{}",
        text(&out)
    );
    let listed = text(&lianban(&["apikey", "list", "--db", &db], ""));
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("一网通办") && l.contains("收件")),
        "{listed}"
    );

    let mut settings = lianban::app::Settings::new(db.clone());
    settings.processes_dir = processes.clone();
    settings.templates_dir = templates.clone();
    let app = lianban::app::App::build(settings).await.expect("app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let router = lianban::web::router(app);
    let server = tokio::spawn(async move {
        let _ = lianban::web::serve(listener, router, std::future::pending()).await;
    });
    let client = reqwest::Client::new();
    let inbox = client
        .get(format!("{base}/api/v1/inbox"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("inbox");
    assert_eq!(inbox.status(), 403);
    let form = client
        .get(format!("{base}/api/v1/processes/examples.demo/form"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("form");
    assert_eq!(form.status(), 200);
    server.abort();
}

#[test]
fn away_and_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    for (login, department) in [("lina", "yibao"), ("wangqiang", "yibao"), ("chen", "gjj")] {
        let out = user(
            &db,
            &[
                "add",
                "--username",
                login,
                "--department",
                department,
                "--role",
                "clerk",
            ],
            "医保窗口-2026\n",
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    let away = |substitute: &str, from: &str| {
        user(
            &db,
            &[
                "away",
                "lina",
                "--from",
                from,
                "--to",
                "2099-01-09",
                "--substitute",
                substitute,
            ],
            "",
        )
    };
    let out = away("wangqiang", "2099-01-05");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("由 wangqiang 代办"), "{}", text(&out));
    let out = away("wangqiang", "2099/01/05");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("YYYY-MM-DD"), "{}", text(&out));
    let out = away("chen", "2099-01-02");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("不在同一部门"), "{}", text(&out));
    let out = away("wangqiang", "2099-01-07");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("已登记请假"), "{}", text(&out));

    let listed = text(&user(&db, &["absences"], ""));
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("lina") && l.contains("wangqiang") && l.contains("未开始")),
        "{listed}"
    );
    let out = user(&db, &["back", "lina"], "");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("销假"), "{}", text(&out));
    let listed = text(&user(&db, &["absences"], ""));
    assert!(!listed.lines().any(|l| l.starts_with("lina")), "{listed}");
    assert_eq!(user(&db, &["back", "nobody"], "").status.code(), Some(1));
}
